"""Code-pair (NCCI PTP) and unit (MUE) edits as data, layered like the rules.

Edits are table rows, not rules: a few generic rules in ``policies/base/ncci.yaml`` read them as
``ptp_edit/3``, ``ptp_evidence/3`` and ``mue_edit/3`` facts. The rows come from three places,
applied in this order:

1. the **base** tables, ``policies/edits/*.yaml``: rows the guidance supports, each with its
   source and confidence; rows of C-grade confidence ship with ``status: unverified`` and are not
   applied;
2. an **imported** CMS table (``supportable edits import``, :mod:`engine.edits_store`): CMS's own
   rows replace the base rows of the same pair or code (keeping the base row's ``distinct_by``,
   which CMS's files do not carry);
3. each payer overlay's ``edits:`` block, root first: rows it adds, rows whose indicator, units,
   evidence or status it overrides, rows it disables.

Nothing here goes into the Datalog engine's fact store: per encounter, :meth:`EditTables.facts_for`
picks the rows for the codes on the claim that are in force on its date of service, with their
provenance for the proofs.
"""
from __future__ import annotations

import datetime as _dt
import difflib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .edits_store import ImportedTable, StoreError, StoredRow, load_imported
from .errors import Location, Problems
from .loader import _check_keys, _date, _source, _text, shown_path
from .vocabulary import DISTINCT_GROUNDS, Vocabulary
from .yamlsource import Node, load_yaml

CODE = re.compile(r"^[0-9A-Z]{5}$")
BASE_LAYER, IMPORT_LAYER = "base", "cms_import"
CONFIDENCE = ("A", "B", "C")
STATUSES = ("active", "unverified")
PTP_INDICATORS = {0: "not allowed: no modifier lets the column-2 code be paid with the column-1 code",
                  1: "allowed: a distinct-service modifier lets both be paid when the services were distinct",
                  9: "not applicable: the edit does not apply (deleted)"}
MUE_ADJUDICATION = {1: "line edit: the units of each claim line are compared with the value",
                    2: "date of service edit (policy): the units of all lines for the code on the date are added",
                    3: "date of service edit (clinical): the units of all lines for the code on the date are added"}
# What an imported row (CMS gives no ground) accepts as evidence of distinct services.
IMPORTED_GROUNDS = ("separate_structure", "separate_time_block")
PTP_KEYS = ("column1", "column2", "modifier_indicator", "distinct_by", "effective", "confidence", "status",
            "rationale", "source")
MUE_KEYS = ("code", "units", "adjudication", "effective", "confidence", "status", "rationale", "source")
CHANGE_KEYS = {"ptp": {"override": ("column1", "column2", "modifier_indicator", "distinct_by", "status", "confidence",
                                    "reason", "source", "when"),
                       "disable": ("column1", "column2", "reason", "source", "when")},
               "mue": {"override": ("code", "units", "adjudication", "status", "confidence", "reason", "source", "when"),
                       "disable": ("code", "reason", "source", "when")}}
OVERRIDE_FIELDS = {"ptp": ("modifier_indicator", "distinct_by", "status"), "mue": ("units", "adjudication", "status")}


@dataclass(frozen=True)
class Edit:
    """One row of the PTP table (``codes`` = column 1, column 2; ``value`` = modifier indicator) or
    of the MUE table (``codes`` = the code; ``value`` = units, ``adjudication``)."""
    table: str                      # ptp or mue
    codes: tuple[str, ...]
    value: int
    layer: str
    location: Location
    source: str
    section: str = ""
    grounds: tuple[str, ...] = ()   # ptp: what in the record can show the services distinct
    adjudication: int = 0           # mue
    effective_from: str | None = None
    effective_to: str | None = None  # exclusive
    confidence: str = "A"
    status: str = "active"
    rationale: str = ""
    overrides: "Edit | None" = field(default=None, compare=False)   # the row an overlay changed
    reason: str = ""                # why an overlay changed it

    @property
    def key(self) -> tuple[str, ...]:
        return self.codes

    def in_force(self, day: str) -> bool:
        return self.status == "active" and (self.effective_from is None or self.effective_from <= day) and \
            (self.effective_to is None or day < self.effective_to)

    def to_dict(self) -> dict:
        out: dict = {"table": self.table}
        if self.table == "ptp":
            out.update(column1=self.codes[0], column2=self.codes[1], modifier_indicator=self.value,
                       meaning=PTP_INDICATORS[self.value], distinct_by=list(self.grounds))
        else:
            out.update(code=self.codes[0], units=self.value, adjudication=self.adjudication,
                       meaning=MUE_ADJUDICATION[self.adjudication])
        out.update(effective={"from": self.effective_from, "to": self.effective_to}, confidence=self.confidence,
                   status=self.status, layer=self.layer, location=str(self.location),
                   source={"file": self.source, "section": self.section})
        if self.rationale:
            out["rationale"] = self.rationale
        if self.overrides is not None:
            out["overrides"] = {"layer": self.overrides.layer, "location": str(self.overrides.location),
                                "reason": self.reason}
        return out


@dataclass(frozen=True)
class EditChange:
    """An overlay's override or disable of every row of one pair (or code)."""
    action: str                     # override or disable
    table: str
    key: tuple[str, ...]
    changes: tuple[tuple[str, object], ...]   # override: (field, value) pairs
    reason: str
    source: str
    section: str
    layer: str
    location: Location
    # (parameter, value): the change applies only to payers whose parameter has that value
    when: tuple[str, object] | None = None
    when_location: Location | None = field(default=None, compare=False)

    def to_dict(self) -> dict:
        out = {"action": self.action, "table": self.table, "key": list(self.key), "changes": dict(self.changes),
               "reason": self.reason, "layer": self.layer, "location": str(self.location),
               "source": {"file": self.source, "section": self.section}}
        if self.when is not None:
            out["when"] = {"parameter": self.when[0], "value": self.when[1]}
        return out

    def applies(self, parameters: dict) -> bool:
        """Whether the payer's parameters switch this change on (a change without `when` always is)."""
        if self.when is None:
            return True
        param = parameters.get(self.when[0])
        return param is not None and not param.is_table and param.value == self.when[1]


@dataclass
class EditLayer:
    """The rows one layer adds and the changes it makes."""
    name: str
    rows: list[Edit] = field(default_factory=list)
    changes: list[EditChange] = field(default_factory=list)

    def signature(self) -> list[str]:
        """A stable text of everything in the layer (for the policy version)."""
        out = [repr(sorted((k, repr(v)) for k, v in e.to_dict().items() if k != "location")) for e in self.rows]
        out += [repr(sorted((k, repr(v)) for k, v in c.to_dict().items() if k != "location")) for c in self.changes]
        return sorted(out)


# -- reading YAML ----------------------------------------------------------------------------------

def _int(node: Node | None, what: str, allowed, problems: Problems) -> int | None:
    if node is None:
        problems.error("edit_format", f"{what} is missing", None)
        return None
    try:
        value = node.value()
    except ValueError:
        value = node.scalar_text()
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        shown = ", ".join(map(str, allowed)) if len(allowed) < 10 else "a whole number of 0 or more"
        problems.error("edit_format", f"{what} is `{value}`; use {shown}", node.location)
        return None
    return value


def _code(node: Node | None, what: str, problems: Problems, at: Location) -> str | None:
    text = _text(node)
    if not text:
        problems.error("edit_format", f"{what} is missing", node.location if node is not None else at)
        return None
    if not CODE.match(text):
        problems.error("edit_format", f"{what} `{text}` is not a CPT/HCPCS code (five letters or digits, quoted)",
                       node.location)
        return None
    return text


def check_codes(layer: EditLayer, vocabulary: Vocabulary, problems: Problems) -> None:
    """Rows and changes written by hand name codes of the vocabulary (an imported CMS table is not
    checked: it covers every code)."""
    known = vocabulary.ids("code")
    for what, codes, loc in [("row", r.codes, r.location) for r in layer.rows] + \
                            [(c.action, c.key, c.location) for c in layer.changes]:
        for code in codes:
            if code not in known:
                problems.error("unknown_constant", f"`{code}` is not a known code (in an edit {what})", loc)


def _grounds(node: Node | None, problems: Problems) -> tuple[str, ...] | None:
    if node is None:
        return None
    values = [_text(c) for c in node.children()] if node.is_sequence else []
    if not values or any(v not in DISTINCT_GROUNDS for v in values):
        problems.error("edit_format", f"`distinct_by` is a list among {', '.join(DISTINCT_GROUNDS)}", node.location)
        return None
    return tuple(dict.fromkeys(values))


def _choice(node: Node | None, what: str, allowed, default, problems: Problems):
    if node is None:
        return default
    value = _text(node)
    if value not in allowed:
        problems.error("edit_format", f"{what} is `{value}`; use one of {', '.join(allowed)}", node.location)
        return None
    return value


def _effective(item: Node, problems: Problems) -> tuple[str | None, str | None]:
    eff = item.get("effective")
    if eff is None:
        return None, None
    if not eff.is_mapping:
        problems.error("edit_format", "`effective` is a mapping with `from` and/or `to`", eff.location)
        return None, None
    _check_keys(eff, ("from", "to"), "effective", problems)
    start, end = _date(eff.get("from"), "effective.from", problems), _date(eff.get("to"), "effective.to", problems)
    if start and end and start >= end:
        problems.error("invalid_effective_range", f"the edit is effective from {start} to {end}: the end must come "
                       "after the start", eff.location)
    return start, end


def parse_row(item: Node, table: str, layer: str, problems: Problems) -> Edit | None:
    """One row of a PTP or MUE table written in YAML."""
    if not item.is_mapping:
        problems.error("edit_format", f"each {table.upper()} row is a mapping", item.location)
        return None
    _check_keys(item, PTP_KEYS if table == "ptp" else MUE_KEYS, f"a {table.upper()} row", problems)
    found = len(problems.errors)
    if table == "ptp":
        codes = (_code(item.get("column1"), "`column1`", problems, item.location),
                 _code(item.get("column2"), "`column2`", problems, item.location))
        if codes[0] and codes[0] == codes[1]:
            problems.error("edit_format", f"column 1 and column 2 are the same code `{codes[0]}`", item.location)
        value = _int(item.get("modifier_indicator"), "`modifier_indicator`", (0, 1, 9), problems)
        grounds = _grounds(item.get("distinct_by"), problems)
        if value == 1 and item.get("distinct_by") is None:
            problems.error("edit_format", "a row with modifier indicator 1 says what can show the services distinct "
                           f"(`distinct_by`: {', '.join(DISTINCT_GROUNDS)})", item.location)
        adjudication = 0
    else:
        codes = (_code(item.get("code"), "`code`", problems, item.location),)
        value = _int(item.get("units"), "`units`", range(0, 10_000), problems)
        adjudication = _int(item.get("adjudication"), "`adjudication`", (1, 2, 3), problems)
        grounds = ()
    start, end = _effective(item, problems)
    confidence = _choice(item.get("confidence"), "`confidence`", CONFIDENCE, None, problems)
    if item.get("confidence") is None:
        problems.error("edit_format", "a row states the `confidence` of its source (A, B or C)", item.location)
    status = _choice(item.get("status"), "`status`", STATUSES, "active", problems)
    if item.get("source") is None:
        problems.error("missing_source", f"a {table.upper()} row does not cite a `source`", item.location)
    source, section = _source(item.get("source"), f"a {table.upper()} row", problems, required=False)
    if len(problems.errors) > found:
        return None
    return Edit(table, codes, value, layer, item.location, source, section, grounds or (), adjudication, start, end,
                confidence, status, _text(item.get("rationale")) or "")


def parse_rows(node: Node | None, table: str, layer: str, problems: Problems) -> list[Edit]:
    if node is None:
        return []
    if not node.is_sequence:
        problems.error("edit_format", f"`{table}` is a list of rows", node.location)
        return []
    return [row for row in (parse_row(item, table, layer, problems) for item in node.children()) if row]


def load_base_tables(folder: Path, problems: Problems, root: Path | None = None) -> EditLayer:
    """Every ``*.yaml`` under ``policies/edits/`` (none is fine: no edits)."""
    layer = EditLayer(BASE_LAYER)
    for path in sorted(Path(folder).glob("*.yaml")):
        doc, found = load_yaml(path, shown_path(path, root))
        problems.items.extend(found)
        if doc is None:
            continue
        if not doc.is_mapping:
            problems.error("edit_format", "an edit table file is a mapping with `ptp:` and/or `mue:` lists",
                           doc.location)
            continue
        _check_keys(doc, ("description", "ptp", "mue"), "an edit table file", problems)
        for table in ("ptp", "mue"):
            layer.rows += parse_rows(doc.get(table), table, BASE_LAYER, problems)
    _check_versions(layer, problems)
    return layer


def parse_overlay_edits(node: Node | None, layer_name: str, problems: Problems) -> EditLayer:
    """An overlay's ``edits:`` block: ``ptp:``/``mue:``, each with ``add``, ``override``, ``disable``."""
    layer = EditLayer(layer_name)
    if node is None:
        return layer
    if not node.is_mapping:
        problems.error("edit_format", "`edits` is a mapping with `ptp` and/or `mue`", node.location)
        return layer
    _check_keys(node, ("ptp", "mue"), "edits", problems)
    for table in ("ptp", "mue"):
        block = node.get(table)
        if block is None:
            continue
        if not block.is_mapping:
            problems.error("edit_format", f"`edits.{table}` is a mapping with `add`, `override` and/or `disable`",
                           block.location)
            continue
        _check_keys(block, ("add", "override", "disable"), f"edits.{table}", problems)
        layer.rows += parse_rows(block.get("add"), table, layer_name, problems)
        for action in ("override", "disable"):
            seq = block.get(action)
            if seq is None:
                continue
            if not seq.is_sequence:
                problems.error("edit_format", f"`edits.{table}.{action}` is a list", seq.location)
                continue
            for item in seq.children():
                change = _parse_change(item, table, action, layer_name, problems)
                if change is not None:
                    layer.changes.append(change)
    _check_versions(layer, problems)
    # One change (override or disable) per pair in a layer. Adding rows for a pair is fine with
    # a disable of it (the layer's new dated rows replace the old ones), not with an override.
    changed: dict[tuple, EditChange] = {}
    for change in layer.changes:
        key = (change.table, change.key)
        if key in changed:
            problems.error("conflicting_change", f"the {change.table.upper()} edit {'/'.join(change.key)} is changed "
                           f"twice in payer `{layer_name}` (first at {changed[key].location})", change.location)
        changed.setdefault(key, change)
    for row in layer.rows:
        first = changed.get((row.table, row.key))
        if first is not None and first.action == "override":
            problems.error("conflicting_change", f"the {row.table.upper()} edit {'/'.join(row.key)} is overridden at "
                           f"{first.location} and added here in payer `{layer_name}`: disable it to add new rows",
                           row.location)
    return layer


def _parse_change(item: Node, table: str, action: str, layer: str, problems: Problems) -> EditChange | None:
    if not item.is_mapping:
        problems.error("edit_format", f"each `{action}` entry is a mapping", item.location)
        return None
    _check_keys(item, CHANGE_KEYS[table][action], f"an edit `{action}`", problems)
    found = len(problems.errors)
    if table == "ptp":
        key = (_code(item.get("column1"), "`column1`", problems, item.location),
               _code(item.get("column2"), "`column2`", problems, item.location))
    else:
        key = (_code(item.get("code"), "`code`", problems, item.location),)
    changes: list[tuple[str, object]] = []
    if action == "override":
        specs = (("modifier_indicator", lambda n: _int(n, "`modifier_indicator`", (0, 1, 9), problems)),
                 ("distinct_by", lambda n: _grounds(n, problems))) if table == "ptp" else \
                (("units", lambda n: _int(n, "`units`", range(0, 10_000), problems)),
                 ("adjudication", lambda n: _int(n, "`adjudication`", (1, 2, 3), problems)))
        for name, read in (*specs, ("status", lambda n: _choice(n, "`status`", STATUSES, None, problems))):
            if item.get(name) is not None:
                changes.append((name, read(item.get(name))))
        if not changes:
            problems.error("edit_format", "an `override` changes at least one of " +
                           ", ".join(f"`{k}`" for k in OVERRIDE_FIELDS[table]), item.location)
        if item.get("confidence") is not None:   # the strength of the override's own source
            changes.append(("confidence", _choice(item.get("confidence"), "`confidence`", CONFIDENCE, None, problems)))
    reason = _text(item.get("reason"))
    if not reason:
        problems.error("missing_reason", f"an edit `{action}` needs a `reason`", item.location)
    if item.get("source") is None:
        problems.error("missing_source", f"an edit `{action}` does not cite a `source`", item.location)
    source, section = _source(item.get("source"), f"an edit `{action}`", problems, required=False)
    when = _when(item.get("when"), action, problems)
    if len(problems.errors) > found:
        return None
    when_node = item.get("when")
    return EditChange(action, table, key, tuple(changes), reason or "", source, section, layer, item.location,
                      when, when_node.location if when_node is not None else None)


PARAMETER_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _when(node: Node | None, action: str, problems: Problems) -> tuple[str, object] | None:
    """``when: {parameter: NAME, value: VALUE}``: the change applies only while the payer's
    parameter has that value (checked against the payer's parameters in ``apply_overlays``)."""
    if node is None:
        return None
    if not node.is_mapping:
        problems.error("edit_format", f"`when` of an edit `{action}` is a mapping with `parameter` and `value`",
                       node.location)
        return None
    _check_keys(node, ("parameter", "value"), "when", problems)
    name, value_node = _text(node.get("parameter")), node.get("value")
    if not name or not PARAMETER_NAME.match(name) or value_node is None or not value_node.is_scalar:
        problems.error("edit_format", f"`when` of an edit `{action}` names a `parameter` (lowercase with "
                       "underscores) and the `value` that switches the change on", node.location)
        return None
    try:
        value = value_node.value()
    except ValueError:
        value = value_node.scalar_text()
    if isinstance(value, _dt.date):
        value = value.isoformat()
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        problems.error("edit_format", f"the `value` of `when` is a string or a whole number, not `{value}`",
                       value_node.location)
        return None
    return name, value


def _check_versions(layer: EditLayer, problems: Problems) -> None:
    """Two rows of one pair (or code) in one layer must not be in force on the same day."""
    by_key: dict[tuple, list[Edit]] = {}
    for row in layer.rows:
        by_key.setdefault((row.table, row.key), []).append(row)
    for (table, key), rows in by_key.items():
        rows.sort(key=lambda r: r.effective_from or "")
        for a, b in zip(rows, rows[1:]):
            if a.effective_to is None or (b.effective_from or "") < a.effective_to:
                problems.error("overlapping_edits", f"the {table.upper()} edit {'/'.join(key)} at {a.location} is "
                               f"still in force when this version starts", b.location)


# -- the layered tables of one payer ---------------------------------------------------------------

def _from_store(row: StoredRow, folder: str, grounds: tuple[str, ...]) -> Edit:
    return Edit(row.kind, row.codes, row.value, IMPORT_LAYER, Location(row.source_file, row.source_line, 1),
                row.source_file, f"line {row.source_line} (imported into {folder})", grounds if row.kind == "ptp" else (),
                row.adjudication, row.effective_from, row.effective_to, "A", "active", row.rationale)


@dataclass
class EditTables:
    """The edit rows one payer applies: base rows, an imported CMS table, then its overlays' blocks."""
    base: EditLayer
    imported: ImportedTable | None = None
    overlays: list[EditLayer] = field(default_factory=list)
    _base_index: dict[tuple, list[Edit]] = field(default_factory=dict, repr=False)
    _touched: dict[tuple, list[Edit]] = field(default_factory=dict, repr=False)   # final rows of keys overlays change
    disabled: list[EditChange] = field(default_factory=list)

    def __post_init__(self):
        for row in self.base.rows:
            self._base_index.setdefault((row.table, row.key), []).append(row)

    def _below(self, table: str, key: tuple[str, ...]) -> list[Edit]:
        """The rows of a pair or code before any overlay: imported rows replace base ones."""
        base = self._base_index.get((table, key), [])
        if self.imported is not None:
            stored = self.imported.ptp_pair(*key) if table == "ptp" else self.imported.mue(key[0])
            if stored:
                grounds = next((r.grounds for r in base if r.grounds), IMPORTED_GROUNDS)
                return [_from_store(r, self.imported.folder, grounds) for r in stored]
        return base

    def apply_overlays(self, problems: Problems, parameters: dict | None = None) -> None:
        """Fold the overlays' blocks in, root first, reporting changes to rows that do not exist.
        ``parameters`` are the payer's (merged) parameters: a change with `when` is checked against
        them and applied only while its parameter has the value it names."""
        parameters = parameters or {}
        for layer in self.overlays:
            for change in layer.changes:
                if change.when is not None and (not _when_valid(change, parameters, problems)
                                                or not change.applies(parameters)):
                    continue
                key = (change.table, change.key)
                rows = self.rows(*key)
                if not rows:
                    gone = next((d for d in self.disabled if (d.table, d.key) == key), None)
                    why = f"it was disabled by payer `{gone.layer}` at {gone.location}" if gone else \
                        "no layer below has a row for it"
                    problems.error("unknown_edit", f"cannot {change.action} the {change.table.upper()} edit "
                                   f"{'/'.join(change.key)}: {why}", change.location)
                    continue
                if change.action == "disable":
                    self._touched[key] = []
                    self.disabled.append(change)
                else:
                    fields = dict(change.changes)
                    new = {"value": fields.get("modifier_indicator", fields.get("units"))}
                    if change.table == "ptp" and new["value"] == 1 and not fields.get("distinct_by") and \
                            any(not r.grounds for r in rows):
                        problems.error("edit_format", f"the PTP edit {'/'.join(change.key)} has no `distinct_by` below "
                                       "this layer, so modifier indicator 1 leaves nothing that could show the "
                                       f"services distinct: add `distinct_by` ({', '.join(DISTINCT_GROUNDS)})",
                                       change.location)
                        continue
                    self._touched[key] = [replace(r, layer=change.layer, location=change.location,
                                                  value=r.value if new["value"] is None else new["value"],
                                                  grounds=fields.get("distinct_by", r.grounds),
                                                  adjudication=fields.get("adjudication", r.adjudication),
                                                  status=fields.get("status", r.status),
                                                  confidence=fields.get("confidence", r.confidence), source=change.source,
                                                  section=change.section, reason=change.reason, overrides=r)
                                          for r in rows]
            added: dict[tuple, list[Edit]] = {}
            for row in layer.rows:
                key = (row.table, row.key)
                existing = self.rows(*key)
                if existing:
                    problems.error("duplicate_edit", f"the {row.table.upper()} edit {'/'.join(row.key)} already exists "
                                   f"in layer `{existing[0].layer}` at {existing[0].location}; use `override` to change "
                                   "it", row.location)
                    continue
                added.setdefault(key, []).append(row)   # several dated versions of a new row may be added
            self._touched.update(added)

    def switch_parameters(self) -> set[str]:
        """The parameters that switch an overlay's edit change on or off (`when`)."""
        return {c.when[0] for layer in self.overlays for c in layer.changes if c.when is not None}

    def rows(self, table: str, key: tuple[str, ...]) -> list[Edit]:
        """Every version of a pair's (or code's) row this payer applies, whatever its dates and status."""
        if (table, key) in self._touched:
            return self._touched[(table, key)]
        return self._below(table, key)

    def in_force(self, table: str, key: tuple[str, ...], day: str) -> Edit | None:
        found = [r for r in self.rows(table, key) if r.in_force(day)]
        return max(found, key=lambda r: r.effective_from or "") if found else None

    def facts_for(self, codes: list[str], day: str) -> tuple[list[tuple[str, tuple]], dict[tuple, Edit]]:
        """The edit facts for the codes on one claim on one date, and the row behind each fact."""
        facts: list[tuple[str, tuple]] = []
        provenance: dict[tuple, Edit] = {}
        distinct = list(dict.fromkeys(codes))
        for first in distinct:
            for second in distinct:
                if first == second:
                    continue
                row = self.in_force("ptp", (first, second), day)
                if row is None or row.value == 9:
                    continue
                fact = ("ptp_edit", (first, second, row.value))
                facts.append(fact)
                provenance[fact] = row
                for ground in row.grounds:
                    fact = ("ptp_evidence", (first, second, ground))
                    facts.append(fact)
                    provenance[fact] = row
            row = self.in_force("mue", (first,), day)
            if row is not None:
                fact = ("mue_edit", (first, row.value, row.adjudication))
                facts.append(fact)
                provenance[fact] = row
        return facts, provenance

    def involving(self, code: str) -> dict:
        """Every row naming ``code`` (any date, any status): its pair partners and its MUE."""
        keys = {k for (t, k) in [*self._base_index, *self._touched] if t == "ptp" and code in k}
        if self.imported is not None:
            keys |= {r.codes for r in self.imported.ptp_involving(code)}
        ptp = [r for key in sorted(keys) for r in self.rows("ptp", key)]
        disabled = [c for c in self.disabled if code in c.key]
        return {"ptp": ptp, "mue": self.rows("mue", (code,)), "disabled": disabled}

    def signature(self) -> list[str]:
        """Everything the tables rest on, for the policy version."""
        out = ["base:" + s for s in self.base.signature()]
        if self.imported is not None:
            out.append(f"imported:{self.imported.digest}")
        for layer in self.overlays:
            out += [f"{layer.name}:" + s for s in layer.signature()]
        return out


def _when_valid(change: EditChange, parameters: dict, problems: Problems) -> bool:
    """A `when` names a single-value parameter the payer has, and a value it can take."""
    name, value = change.when
    what = f"the edit {change.action} of {change.table.upper()} {'/'.join(change.key)}"
    at = change.when_location or change.location
    param = parameters.get(name)
    if param is None:
        close = difflib.get_close_matches(name, sorted(parameters), n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        problems.error("unknown_parameter", f"{what} is switched by parameter `{name}`, which no layer of this "
                       f"payer sets{hint}", at)
        return False
    if param.is_table:
        problems.error("parameter_kind", f"{what} is switched by parameter `{name}`, a table (set at "
                       f"{param.location}); `when` names a single-value parameter", at)
        return False
    if param.allowed and value not in param.allowed:
        problems.error("invalid_parameter", f"{what} is switched on by `{name}` = `{value}`, which is not one of "
                       f"{', '.join(map(str, param.allowed))}: the change could never apply", at)
        return False
    if type(value) is not type(param.value):
        kinds = {int: "a whole number", str: "a string"}
        problems.error("parameter_kind", f"{what} is switched on by `{name}` = `{value}`, {kinds[type(value)]}, "
                       f"but `{name}` holds {kinds.get(type(param.value), 'another kind of value')} (set at "
                       f"{param.location}): the change could never apply", at)
        return False
    return True


def load_import(folder: Path | None, problems: Problems) -> ImportedTable | None:
    if folder is None:
        return None
    try:
        return load_imported(Path(folder))
    except StoreError as exc:
        problems.items.extend(exc.problems)
        return None
