"""The rows of the code-pair (PTP) and unit (MUE) edit tables, an overlay's changes to them, and
one layer's rows and changes, with the constants that say what each value means."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import Location

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

    @property
    def meaning(self) -> str:
        """What the modifier indicator (PTP) or the adjudication indicator (MUE) means."""
        return PTP_INDICATORS[self.value] if self.table == "ptp" else MUE_ADJUDICATION[self.adjudication]


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
        out = [repr(sorted((k, repr(v)) for k, v in _row_fields(e).items())) for e in self.rows]
        out += [repr(sorted((k, repr(v)) for k, v in _change_fields(c).items())) for c in self.changes]
        return sorted(out)


# The members the policy version hashes, per row and per change. Frozen: they once were each row's
# JSON without its location, and changing them changes every payer's policy version.
def _row_fields(e: Edit) -> dict:
    own = (dict(zip(("column1", "column2", "modifier_indicator", "distinct_by"), (*e.codes, e.value, list(e.grounds))))
           if e.table == "ptp" else {"code": e.codes[0], "units": e.value, "adjudication": e.adjudication})
    extra = {"rationale": e.rationale} if e.rationale else {}
    if e.overrides is not None:
        extra["overrides"] = {"layer": e.overrides.layer, "location": str(e.overrides.location), "reason": e.reason}
    return {"table": e.table, "meaning": e.meaning, **own, "confidence": e.confidence, "status": e.status,
            "effective": {"from": e.effective_from, "to": e.effective_to}, "layer": e.layer,
            "source": {"file": e.source, "section": e.section}, **extra}


def _change_fields(c: EditChange) -> dict:
    out = {"action": c.action, "table": c.table, "key": list(c.key), "changes": dict(c.changes),
           "reason": c.reason, "layer": c.layer, "source": {"file": c.source, "section": c.section}}
    if c.when is not None:
        out["when"] = {"parameter": c.when[0], "value": c.when[1]}
    return out
