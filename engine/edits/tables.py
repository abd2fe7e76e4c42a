"""The edit rows one payer applies: the base rows, an imported CMS table over them, then its
overlays' blocks, root first (see the package docstring)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..edits_store import ImportedTable, StoreError, StoredRow, load_imported
from ..errors import Location, Problems
from ..suggest import did_you_mean
from ..vocabulary import DISTINCT_GROUNDS
from .model import IMPORT_LAYER, IMPORTED_GROUNDS, Edit, EditChange, EditLayer


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
        hint = did_you_mean(name, parameters)
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
