"""The controlled vocabularies under ``policies/vocabulary/``: codes, documentation elements,
intended outcomes, provider types, regions, modifiers, diagnoses.

Each entry has an id and a description. Encounters are checked against them (an unknown value is
an error, never ignored), rule constants are checked against them, and the catalog they describe
becomes facts every rule can read (``code_kind("97110", procedure)``, ``timed_code("97110")``…).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import Location, Problem, Problems

CODE_KINDS = ("procedure", "modality", "evaluation", "other")
CONDITION_STATUSES = ("improving", "plateau", "regressing")
YTD_CATEGORIES = ("pt_slp", "ot")
# How a code's units are counted (codes.yaml `unit_basis`); the unit rules branch on these.
UNIT_BASES = ("per_15_minutes", "per_session", "initial_15_minutes", "each_additional_15_minutes",
              "initial_2_hours", "each_additional_hour")
ADD_ON_BASES = ("each_additional_15_minutes", "each_additional_hour")
REGION_KINDS = ("spinal", "extraspinal")
# Which kind of service a code is, for who may furnish it (codes.yaml `service`; procedures,
# modalities and evaluations are therapy unless they say otherwise).
SERVICES = ("therapy", "chiropractic", "acupuncture")
# Grounds on which an NCCI distinct-service modifier says two services were distinct (modifiers.yaml).
DISTINCT_GROUNDS = ("separate_encounter", "separate_structure", "separate_practitioner", "separate_time_block")
_FIXED = {"code_kind": CODE_KINDS, "condition_status": CONDITION_STATUSES, "ytd_category": YTD_CATEGORIES,
          "unit_basis": UNIT_BASES, "region_kind": REGION_KINDS, "distinct_ground": DISTINCT_GROUNDS,
          "service": SERVICES}

# file name -> (top-level key, id field, vocabulary name)
_FILES = {
    "codes.yaml": ("codes", "code", "code"),
    "documentation.yaml": ("elements", "id", "documentation"),
    "outcomes.yaml": ("outcomes", "id", "outcome"),
    "provider_types.yaml": ("provider_types", "id", "provider_type"),
    "credentials.yaml": ("credentials", "id", "credential"),
    "regions.yaml": ("regions", "id", "region"),
    "modifiers.yaml": ("modifiers", "id", "modifier"),
    "diagnoses.yaml": ("diagnoses", "code", "diagnosis"),
    "diagnosis_changes.yaml": ("changes", "code", "diagnosis_change"),
}
VOCABULARY_FILES = tuple(_FILES)     # the files of policies/vocabulary/ the loader reads


@dataclass
class Vocabulary:
    """Entries by vocabulary name, then by id (each entry a dict from the YAML file)."""
    entries: dict[str, dict[str, dict]] = field(default_factory=dict)
    # where each entry and each of its fields is written: (vocabulary name, id) -> field -> location
    locations: dict[tuple[str, str], dict[str, Location]] = field(default_factory=dict, compare=False, repr=False)

    def ids(self, name: str) -> set[str]:
        if name in _FIXED:
            return set(_FIXED[name])
        return set(self.entries.get(name, {}))

    def describe(self, name: str, ident: str) -> str:
        return str(self.entries.get(name, {}).get(ident, {}).get("description", ""))

    def catalog_facts(self) -> list[tuple[str, tuple]]:
        """Facts every policy can read, derived from the vocabulary."""
        facts: list[tuple[str, tuple]] = []
        for code, e in self.entries.get("code", {}).items():
            facts.append(("code_kind", (code, e["kind"])))
            if e.get("timed"):
                facts.append(("timed_code", (code,)))
            if e.get("one_on_one"):
                facts.append(("one_on_one_code", (code,)))
            if e.get("unit_basis"):
                facts.append(("unit_basis", (code, e["unit_basis"])))
            for primary in e.get("add_on_to") or ():
                facts.append(("add_on_to", (code, primary)))
            regions = e.get("regions")
            if isinstance(regions, dict):
                facts.append(("code_regions", (code, regions["kind"], regions["min"], regions["max"])))
            if e.get("group"):
                facts.append(("group_code", (code,)))
            service = code_service(e)
            if service:
                facts.append(("code_service", (code, service)))
        for ident, e in self.entries.get("provider_type", {}).items():
            if e.get("therapist"):
                facts.append(("therapist_type", (ident,)))
            if e.get("assistant"):
                facts.append(("assistant_type", (ident,)))
        for ident, e in self.entries.get("region", {}).items():
            if e.get("spinal"):
                facts.append(("spinal_region", (ident,)))
                facts.append(("cmt_region", (ident, "spinal")))
            if e.get("extraspinal"):
                facts.append(("cmt_region", (ident, "extraspinal")))
        for code, e in self.entries.get("diagnosis_change", {}).items():
            facts.append(("diagnosis_billable_between", (code, str(e.get("billable_from") or "0001-01-01"),
                                                         str(e.get("billable_until") or "9999-12-31"))))
        for ident, e in self.entries.get("modifier", {}).items():
            facts.append(("modifier_category", (ident, e.get("category", "other"))))
            for ground in e.get("attests") or ():
                facts.append(("modifier_attests", (ident, ground)))
        return facts


def code_service(entry: dict) -> str | None:
    """The kind of service a code is (codes.yaml `service`, else therapy for a procedure, modality or
    evaluation)."""
    return entry.get("service") or ("therapy" if entry.get("kind") in ("procedure", "modality", "evaluation")
                                    else None)


def load_vocabulary(folder: Path, problems: Problems) -> Vocabulary:
    """The vocabulary of the files in ``folder`` (a path wrapper of :func:`parse_vocabulary`)."""
    from .sources import SourceFile
    return parse_vocabulary({filename: SourceFile.read(Path(folder) / filename) for filename in _FILES}, problems)


def parse_vocabulary(files: dict, problems: Problems) -> Vocabulary:
    """The vocabulary of ``files`` (file name, ``codes.yaml``…, -> :class:`~engine.sources.SourceFile`;
    a file missing from it is reported as unreadable)."""
    vocab = Vocabulary()
    for filename, (key, id_field, name) in _FILES.items():
        source = files.get(filename)
        if source is None:
            root, found = None, [Problem("unreadable_file", "cannot read file: it does not exist (removed or "
                                         "renamed while being read?)", Location(filename, 1, 1))]
        else:
            root, found = source.compose()
        problems.items.extend(found)
        vocab.entries[name] = {}
        if root is None:
            continue
        seq = root.get(key)
        if seq is None or not seq.is_sequence:
            problems.error("vocabulary_format", f"expected a list under `{key}`", root.location)
            continue
        for item in seq.children():
            try:
                entry = item.value()
            except ValueError as exc:
                problems.error("vocabulary_format", f"invalid value: {exc}", item.location)
                continue
            if not isinstance(entry, dict) or id_field not in entry:
                problems.error("vocabulary_format", f"each entry needs `{id_field}`", item.location)
                continue
            ident = str(entry[id_field])
            if not entry.get("description"):
                problems.error("vocabulary_format", f"`{ident}` has no description", item.location)
            if ident in vocab.entries[name]:
                problems.error("duplicate_vocabulary_id", f"`{ident}` is listed twice", item.location)
            if name == "code" and entry.get("kind") not in CODE_KINDS:
                problems.error("vocabulary_format",
                               f"code `{ident}` needs a kind among {', '.join(CODE_KINDS)}",
                               item.location)
                continue
            entry[id_field] = ident
            vocab.entries[name][ident] = entry
            vocab.locations[(name, ident)] = {"": item.location, **{k: n.location for k, n in item.items()}}
    _check_fields(vocab, problems)
    return vocab


def _check_fields(vocab: Vocabulary, problems: Problems) -> None:
    """The fields the catalog facts are made of: each value of the right shape and vocabulary, so a
    rule never reads a half-described code."""
    def bad(name: str, message: str, ident: str = "", key: str = "") -> None:
        where = vocab.locations.get((name, ident), {})
        problems.error("vocabulary_format", message, where.get(key) or where.get(""))

    codes = vocab.entries.get("code", {})
    for code, e in codes.items():
        basis = e.get("unit_basis")
        if basis not in UNIT_BASES:
            bad("code", f"code `{code}` needs a `unit_basis` among {', '.join(UNIT_BASES)}", code, "unit_basis")
        elif (basis == "per_session") == bool(e.get("timed")):
            bad("code", f"code `{code}`: `timed: {str(bool(e.get('timed'))).lower()}` does not agree with "
                f"`unit_basis: {basis}` (only per_session codes are untimed)", code, "timed")
        add_on_to = e.get("add_on_to")
        if add_on_to is not None:
            if basis not in ADD_ON_BASES or not isinstance(add_on_to, list) or not add_on_to:
                bad("code", f"code `{code}`: `add_on_to` is a list of primary codes, for a code whose unit_basis is "
                    f"one of {', '.join(ADD_ON_BASES)}", code, "add_on_to")
            else:
                for primary in add_on_to:
                    if str(primary) not in codes:
                        bad("code", f"code `{code}` is an add-on to `{primary}`, which is not a known code", code, "add_on_to")
        elif basis in ADD_ON_BASES:
            bad("code", f"code `{code}` is an add-on (`unit_basis: {basis}`) and needs `add_on_to`", code, "unit_basis")
        if e.get("service") is not None and e.get("service") not in SERVICES:
            bad("code", f"code `{code}`: `service` is one of {', '.join(SERVICES)}", code, "service")
        elif code_service(e) is None:
            bad("code", f"code `{code}` is of kind `{e.get('kind')}` and needs a `service` among "
                f"{', '.join(SERVICES)} (who may furnish it reads it)", code, "service")
        regions = e.get("regions")
        if regions is not None:
            ok = isinstance(regions, dict) and set(regions) == {"kind", "min", "max"} and \
                regions["kind"] in REGION_KINDS and all(isinstance(regions[k], int) and not isinstance(regions[k], bool)
                                                        for k in ("min", "max")) and 1 <= regions["min"] <= regions["max"]
            if not ok:
                bad("code", f"code `{code}`: `regions` is `{{kind: spinal|extraspinal, min: N, max: N}}` with "
                    "1 <= min <= max", code, "regions")
    for ident, e in vocab.entries.get("modifier", {}).items():
        attests = e.get("attests")
        distinct = e.get("category") == "ncci_distinct"
        if distinct and (not isinstance(attests, list) or not attests or
                         any(g not in DISTINCT_GROUNDS for g in attests)):
            bad("modifier", f"modifier `{ident}` is ncci_distinct and needs `attests`: a list among "
                f"{', '.join(DISTINCT_GROUNDS)}", ident, "attests")
        elif not distinct and attests is not None:
            bad("modifier", f"modifier `{ident}` has `attests` but is not an ncci_distinct modifier", ident, "attests")
