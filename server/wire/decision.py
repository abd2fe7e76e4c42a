"""A decision on the wire: every line's verdict, units, reasons, fixes and advice, and its proof at
the explain level asked for (``none``, ``summary`` or ``full``: derivations as proof trees and why
no denial applied). The HTTP API (with the decision's id and time) and ``supportable check
--format json`` send this document; docs/decisions.md describes it."""
from __future__ import annotations

from typing import Any, Optional, Union

from typing_extensions import NotRequired, TypedDict

from supportable.engine import VERDICTS

from .common import RuleMembers, RuleRef, Scalar, Source, Verdict, rule_ref, source, wire
from .policy import EditRow, RuleEntry, edit_row, rule_entry


@wire
class EditRef(TypedDict):
    """An edit-table row a denial rests on."""
    table: str
    layer: str
    location: str
    confidence: str
    source: Source


@wire
class ParameterRef(TypedDict):
    """A parameter a proof read: the layer that set it and the source it cites (for a table entry,
    the entry's own source when it has one)."""
    name: str
    layer: str
    location: str
    description: Optional[str]
    source: Source


@wire
class ProofNode(TypedDict):
    """One step of a proof. ``kind``: rule, fact, absent, comparison, builtin or aggregate; the other
    members are those of its kind."""
    kind: str
    statement: str
    rule: NotRequired[RuleRef]                      # rule
    because: NotRequired[str]
    bindings: NotRequired[dict[str, Any]]
    origin: NotRequired[str]                        # fact: encounter, catalog, policy, parameter, edit_table
    explanation: NotRequired[str]                   # absent
    builtin: NotRequired[str]                       # builtin
    inputs: NotRequired[dict[str, Any]]
    outputs: NotRequired[dict[str, Any]]
    description: NotRequired[str]
    function: NotRequired[str]                      # aggregate
    over: NotRequired[str]
    matches: NotRequired[list[dict[str, Any]]]
    result: NotRequired[Any]
    edit: NotRequired[EditRow]                      # an edit-table fact: the row
    parameter: NotRequired[ParameterRef]            # a parameter fact
    premises: NotRequired[list["ProofNode"]]


@wire
class Attempt(TypedDict):
    """A rule that could have denied the line, and the first premise that failed."""
    rule: RuleRef
    bindings: dict[str, Any]
    failed_premise: str
    reason: str                                     # missing, present, false, no_result, holds
    because_not: NotRequired[list["Attempt"]]


@wire
class Fix(TypedDict):
    """A change that would satisfy a rule: the member named for the action holds its value."""
    action: str          # add_documentation, add_modifier, remove_modifier, bill_instead, reduce_units
    element: NotRequired[str]
    modifier: NotRequired[str]
    one_of: NotRequired[list[str]]
    code: NotRequired[str]
    units: NotRequired[int]
    line: NotRequired[str]   # add_documentation on another line, which this line's units rest on (its minutes)
    satisfies: str


@wire
class Reason(RuleMembers):
    """Why a line is denied (or billed above its units): the rule and its message for this line."""
    kind: str
    message: str
    carc: Optional[str]             # the claim adjustment reason code a payer would use (policies/remittance)
    rarc: Optional[str]             # the remark code, where one fits
    edits: NotRequired[list[EditRef]]               # the edit-table rows the denial rests on (absent when none)


@wire
class Advice(RuleMembers):
    """Information that denies nothing, from the rule (``id``) that gave it."""
    topic: str
    kind: str
    message: str


@wire
class Units(TypedDict):
    billed: int
    supportable: int
    method: Optional[str]
    minutes_recorded: NotRequired[bool]   # present (false) only when the record does not show the line's minutes


@wire
class SuggestedCode(TypedDict):
    code: str
    rule: str
    message: str


@wire
class FullProof(TypedDict):
    verdict: Verdict
    derivations: list[ProofNode]
    why_not_denied: list[Attempt]


@wire
class SummaryProof(TypedDict):
    verdict: Verdict
    rules: list[str]


@wire
class LineDecision(TypedDict):
    line: str
    code: str
    verdict: Verdict
    overbilled: bool
    units: Units
    reasons: list[Reason]
    missing_documentation: list[str]
    suggested_codes: list[SuggestedCode]
    fixes: list[Fix]
    advice: list[Advice]
    proof: NotRequired[Union[FullProof, SummaryProof]]   # absent with explain=none


@wire
class Summary(TypedDict):
    supportable: int
    needs_documentation: int
    not_supportable: int
    overbilled: int


@wire
class DecisionBody(TypedDict):
    encounter: str
    payer: str
    policy_version: str
    date_of_service: str
    summary: Summary
    lines: list[LineDecision]


# -- engine -> wire -------------------------------------------------------------------------------
_FIX_MEMBER = {"add_documentation": "element", "add_modifier": "modifier", "remove_modifier": "modifier",
               "bill_instead": "code", "reduce_units": "units"}
_LEVELS = ("none", "summary", "full")


def bindings(pairs) -> dict[str, Scalar]:
    return {k: v for k, v in pairs if not k.endswith("_")}


def fix(f) -> Fix:
    if f.action == "add_modifier" and isinstance(f.value, list):
        return {"action": f.action, "one_of": f.value, "satisfies": f.rule.id}
    out: Fix = {"action": f.action, _FIX_MEMBER[f.action]: f.value, "satisfies": f.rule.id}
    if f.line is not None:
        out["line"] = f.line
    return out


def edit_ref(row) -> EditRef:
    return {"table": row.table, "layer": row.layer, "location": str(row.location), "confidence": row.confidence,
            "source": source(row.source, row.section)}


def reason(r) -> Reason:
    rule = r.rule
    out: Reason = {"id": rule.id, "kind": r.kind, "message": r.message, "layer": rule.layer,
                   "location": str(rule.location), "source": source(rule.source, rule.section),
                   "carc": r.carc, "rarc": r.rarc}
    if r.edits:
        out["edits"] = [edit_ref(row) for row in r.edits]
    return out


def advice(a) -> Advice:
    rule = a.rule
    return {"id": rule.id, "topic": a.topic, "kind": rule.kind or "advice", "message": a.message,
            "layer": rule.layer, "location": str(rule.location), "source": source(rule.source, rule.section)}


def parameter_ref(fact) -> ParameterRef:
    p = fact.parameter
    return {"name": p.name, "layer": p.layer, "location": str(p.location), "description": p.description,
            "source": source(fact.file, fact.section)}


def proof_node(node) -> ProofNode:
    out: dict = {"kind": node.kind, "statement": node.statement}
    if node.rule is not None:
        out["rule"] = rule_ref(node.rule)
        out["because"] = node.message
        out["bindings"] = {k: v for k, v in node.bindings if not k.endswith("_")}
    if node.origin:
        out["origin"] = node.origin
    detail = node.detail
    if detail:
        if "edit" in detail:
            out["edit"] = edit_row(detail["edit"])
        elif "parameter" in detail:
            out["parameter"] = parameter_ref(detail["parameter"])
        else:
            out.update(detail)
    if node.premises:
        out["premises"] = [proof_node(p) for p in node.premises]
    return out


def attempt(a) -> Attempt:
    out: Attempt = {"rule": rule_ref(a.rule), "bindings": bindings(a.bindings), "failed_premise": a.failed_statement,
                    "reason": a.reason}
    if a.nested:
        out["because_not"] = [attempt(n) for n in a.nested]
    return out


def line_decision(line, method: str | None, explain: str = "full") -> LineDecision:
    units: Units = {"billed": line.billed_units, "supportable": line.supportable_units, "method": method}
    if not line.minutes_recorded:
        units["minutes_recorded"] = False
    out: LineDecision = {
        "line": line.line, "code": line.code, "verdict": line.verdict, "overbilled": line.overbilled,
        "units": units,
        "reasons": [reason(r) for r in line.reasons],
        "missing_documentation": line.missing_documentation,
        "suggested_codes": [{"code": c, "rule": p.rule.id, "message": p.message} for c, p in line.suggestions],
        "fixes": [fix(f) for f in line.fixes],
        "advice": [advice(a) for a in line.advice]}
    if explain == "full":
        out["proof"] = {"verdict": line.verdict, "derivations": [proof_node(p) for p in line.proofs],
                        "why_not_denied": [attempt(a) for a in line.why_not]}
    elif explain == "summary":
        out["proof"] = {"verdict": line.verdict, "rules": [p.rule.id for p in line.proofs]}
    return out


def decision(d, explain: str | None = None) -> DecisionBody:
    """The decision as sent; ``explain`` is none, summary or full (default: as it was decided)."""
    explain = explain or d.explain
    if explain == "full" and d.explain != "full":
        raise ValueError("this decision was made without full explanations; decide with explain='full'")
    return _document(d, explain)


def _document(d, explain: str) -> DecisionBody:
    summary = {v: sum(1 for l in d.lines if l.verdict == v) for v in VERDICTS}
    summary["overbilled"] = sum(1 for l in d.lines if l.overbilled)
    return {"encounter": d.encounter_id, "payer": d.payer, "policy_version": d.policy_version,
            "date_of_service": d.date_of_service, "summary": summary,
            "lines": [line_decision(l, d.method, explain) for l in d.lines]}


# -- what the text rendering reads ------------------------------------------------------------------
@wire
class DecisionText(TypedDict):
    """A decision as ``supportable check`` renders it in text: the document with every proof it was
    decided with (why-nots only when decided in full), its unit method, and every rule it cites, by
    id, as a rule entry (the text cites a rule's kind, layer, source and the layer it replaced)."""
    decision: DecisionBody
    method: Optional[str]
    rules: dict[str, RuleEntry]


def _cited(d) -> dict[str, RuleEntry]:
    found: dict = {}

    def node(n) -> None:
        if n.rule is not None:
            found.setdefault(n.rule.id, n.rule)
        for p in n.premises:
            node(p)

    def tried(a) -> None:
        found.setdefault(a.rule.id, a.rule)
        for n in a.nested:
            tried(n)

    for line in d.lines:
        for r in line.reasons:
            found.setdefault(r.rule.id, r.rule)
        for _, proof in line.suggestions:
            node(proof)
        for a in line.advice:
            found.setdefault(a.rule.id, a.rule)
        for p in line.proofs:
            node(p)
        for a in line.why_not:
            tried(a)
    return {rid: rule_entry(rule) for rid, rule in found.items()}


def decision_text(d) -> DecisionText:
    return {"decision": _document(d, "full"), "method": d.method, "rules": _cited(d)}
