"""What a loaded policy says, on the wire: rules as entries, parameters, switched-off rules, edit
rows and changes; what a payer requires for a code (``explain-code``), what a payer is
(``GET /v1/payers/<payer>``, ``supportable payers``) and how two payers differ (``diff``)."""
from __future__ import annotations

from typing import Any, Optional

from typing_extensions import NotRequired, TypedDict

from .common import Replaced, RuleMembers, Scalar, Source, replaced, source, wire

# the dates a rule, row or payer is in force (`from` inclusive, `to` exclusive; null: open)
Effective = wire(TypedDict("Effective", {"from": Optional[str], "to": Optional[str]}))


def effective(start, end) -> Effective:
    return {"from": start, "to": end}


@wire
class RuleEntry(RuleMembers):
    """A rule as a policy states it: its kind, `because` (filled in for a code where one is asked
    about), range, text and the version it replaced."""
    kind: Optional[str]
    because: str
    because_template: str
    effective: Effective
    rule: str
    replaces: NotRequired[Replaced]


def rule_entry(rule, because: str | None = None) -> RuleEntry:
    out: RuleEntry = {"id": rule.id, "kind": rule.kind, "layer": rule.layer, "location": str(rule.location),
                      "because": rule.because if because is None else because, "because_template": rule.because,
                      "source": source(rule.source, rule.section),
                      "effective": effective(rule.effective_from, rule.effective_to), "rule": str(rule.clause)}
    if rule.replaces is not None:
        out["replaces"] = replaced(rule.replaces, with_text=True)
    return out


@wire
class TableEntry(TypedDict):
    key: Scalar
    value: Any
    source: NotRequired[Source]      # an entry citing its own source


@wire
class Parameter(TypedDict):
    name: str
    description: Optional[str]
    layer: str
    source: Source
    location: str
    value: NotRequired[Any]          # a single value ...
    one_of: NotRequired[list[Any]]   # ... and the values any layer may set, when restricted
    table: NotRequired[list[TableEntry]]   # or a table


def parameter(p) -> Parameter:
    out: Parameter = {"name": p.name, "description": p.description, "layer": p.layer,
                      "source": source(p.source, p.section), "location": str(p.location)}
    if p.table is None:
        out["value"] = p.value
        if p.allowed:
            out["one_of"] = list(p.allowed)
    else:
        own = dict(p.row_sources)
        out["table"] = [{"key": k, "value": v, **({"source": source(*p.source_of(k))} if own.get(k) else {})}
                        for k, v in p.table.items()]
    return out


@wire
class Was(TypedDict):
    layer: str
    location: str


@wire
class Disabled(TypedDict):
    """A parent rule an overlay switched off, and why."""
    id: str
    reason: str
    layer: str
    location: str
    source: Source
    was: NotRequired[Was]            # the rule it switched off
    rule: NotRequired[str]           # its text (what a payer requires for a code)


def disabled(d, with_text: bool = False) -> Disabled:
    out: Disabled = {"id": d.id, "reason": d.reason, "layer": d.layer, "location": str(d.location),
                     "source": source(d.source, d.section)}
    if d.rule is not None:
        out["was"] = {"layer": d.rule.layer, "location": str(d.rule.location)}
    if with_text:
        out["rule"] = str(d.rule.clause)
    return out


@wire
class Overrides(TypedDict):
    layer: str
    location: str
    reason: str


@wire
class EditRow(TypedDict):
    """A row of the PTP table (column1, column2, modifier_indicator, distinct_by) or of the MUE table
    (code, units, adjudication), with its meaning, range, confidence, status, layer and source."""
    table: str
    column1: NotRequired[str]
    column2: NotRequired[str]
    modifier_indicator: NotRequired[int]
    code: NotRequired[str]
    units: NotRequired[int]
    adjudication: NotRequired[int]
    meaning: str
    distinct_by: NotRequired[list[str]]
    effective: Effective
    confidence: str
    status: str
    layer: str
    location: str
    source: Source
    rationale: NotRequired[str]
    overrides: NotRequired[Overrides]   # the row an overlay changed, and why


def edit_row(e) -> EditRow:
    out: dict = {"table": e.table}
    if e.table == "ptp":
        out.update(column1=e.codes[0], column2=e.codes[1], modifier_indicator=e.value, meaning=e.meaning,
                   distinct_by=list(e.grounds))
    else:
        out.update(code=e.codes[0], units=e.value, adjudication=e.adjudication, meaning=e.meaning)
    out.update(effective=effective(e.effective_from, e.effective_to), confidence=e.confidence, status=e.status,
               layer=e.layer, location=str(e.location), source=source(e.source, e.section))
    if e.rationale:
        out["rationale"] = e.rationale
    if e.overrides is not None:
        out["overrides"] = {"layer": e.overrides.layer, "location": str(e.overrides.location), "reason": e.reason}
    return out


@wire
class When(TypedDict):
    parameter: str
    value: Any


@wire
class EditChange(TypedDict):
    """An overlay's override or disable of every row of one pair (or code)."""
    action: str                      # override or disable
    table: str
    key: list[str]
    changes: dict[str, Any]
    reason: str
    layer: str
    location: str
    source: Source
    when: NotRequired[When]          # only for payers whose parameter has that value


def edit_change(c) -> EditChange:
    out: EditChange = {"action": c.action, "table": c.table, "key": list(c.key), "changes": dict(c.changes),
                       "reason": c.reason, "layer": c.layer, "location": str(c.location),
                       "source": source(c.source, c.section)}
    if c.when is not None:
        out["when"] = {"parameter": c.when[0], "value": c.when[1]}
    return out
