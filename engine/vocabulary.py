"""The controlled vocabularies under ``policies/vocabulary/``: codes, documentation elements,
intended outcomes, provider types, regions, modifiers, diagnoses.

Each entry has an id and a description. Encounters are checked against them (an unknown value is
an error, never ignored), rule constants are checked against them, and the catalog they describe
becomes facts every rule can read (``code_kind("97110", procedure)``, ``timed_code("97110")``…).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import Problems
from .yamlsource import load_yaml

CODE_KINDS = ("procedure", "modality", "evaluation", "other")
CONDITION_STATUSES = ("improving", "plateau", "regressing")
YTD_CATEGORIES = ("pt_slp", "ot")

# file name -> (top-level key, id field, vocabulary name)
_FILES = {
    "codes.yaml": ("codes", "code", "code"),
    "documentation.yaml": ("elements", "id", "documentation"),
    "outcomes.yaml": ("outcomes", "id", "outcome"),
    "provider_types.yaml": ("provider_types", "id", "provider_type"),
    "regions.yaml": ("regions", "id", "region"),
    "modifiers.yaml": ("modifiers", "id", "modifier"),
    "diagnoses.yaml": ("diagnoses", "code", "diagnosis"),
}


@dataclass
class Vocabulary:
    """Entries by vocabulary name, then by id (each entry a dict from the YAML file)."""
    entries: dict[str, dict[str, dict]] = field(default_factory=dict)

    def ids(self, name: str) -> set[str]:
        if name == "code_kind":
            return set(CODE_KINDS)
        if name == "condition_status":
            return set(CONDITION_STATUSES)
        if name == "ytd_category":
            return set(YTD_CATEGORIES)
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
        for ident, e in self.entries.get("provider_type", {}).items():
            if e.get("therapist"):
                facts.append(("therapist_type", (ident,)))
            if e.get("assistant"):
                facts.append(("assistant_type", (ident,)))
        for ident, e in self.entries.get("region", {}).items():
            if e.get("spinal"):
                facts.append(("spinal_region", (ident,)))
        for ident, e in self.entries.get("modifier", {}).items():
            facts.append(("modifier_category", (ident, e.get("category", "other"))))
        return facts

    def to_dict(self) -> dict:
        return {name: [dict(e) for e in items.values()] for name, items in self.entries.items()}


def load_vocabulary(folder: Path, problems: Problems) -> Vocabulary:
    vocab = Vocabulary()
    for filename, (key, id_field, name) in _FILES.items():
        path = folder / filename
        shown = str(path)
        root, found = load_yaml(path, shown)
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
    return vocab
