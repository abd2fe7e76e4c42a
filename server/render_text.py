"""The human-readable form of a decision: reads like an auditor's note, not a data dump."""
from __future__ import annotations

from engine.decision import Decision, LineDecision
from engine.explain import Attempt, ProofNode

_VERDICT = {"supportable": "SUPPORTABLE", "needs_documentation": "NEEDS DOCUMENTATION",
            "not_supportable": "NOT SUPPORTABLE"}
_METHOD = {"cpt_per_code": "timed units counted per code (CPT midpoint rule)",
           "medicare_total_time": "timed units from the visit's total timed minutes (Medicare 8-minute rule)"}


def _cite(rule) -> str:
    where = f", {rule.section}" if rule.section else ""
    return f"[{rule.id}; {rule.source}{where}]"


def render_decision(decision: Decision, explain: bool = False) -> str:
    out = [f"Encounter {decision.encounter_id}, date of service {decision.date_of_service}, payer {decision.payer}",
           f"Policy version {decision.policy_version}; {_METHOD.get(decision.method or '', decision.method or 'no unit method')}.",
           ""]
    for line in decision.lines:
        out += _render_line(line, explain)
        out.append("")
    counts = ", ".join(f"{sum(1 for l in decision.lines if l.verdict == v)} {v.replace('_', ' ')}"
                       for v in _VERDICT)
    out.append(f"Summary: {counts}.")
    return "\n".join(out)


def _render_line(line: LineDecision, explain: bool) -> list[str]:
    units = f"{line.supportable_units} of {line.billed_units} billed unit(s) supportable"
    out = [f"Line {line.line}: {line.code} — {_VERDICT[line.verdict]} ({units})"]
    if line.reasons:
        out.append("  Why:")
        for r in line.reasons:
            out.append(f"    - {r.message} {_cite(r.rule)}")
    elif line.verdict == "supportable":
        out.append("  No rule denies this line.")
        for p in line.proofs[:1]:
            out.append(f"    - {p.message} {_cite(p.rule)}")
    for code, proof in line.suggestions:
        out.append(f"  Suggested code: {code} — {proof.message} {_cite(proof.rule)}")
    if line.missing_documentation:
        out.append(f"  Missing documentation: {', '.join(line.missing_documentation)}")
    if line.fixes:
        out.append("  To make it supportable:")
        for f in line.fixes:
            out.append(f"    - {f.text()} (satisfies {f.rule.id})")
    if explain:
        out.append("  Proof:")
        for p in line.proofs:
            out += _tree(p, 2)
        if line.why_not:
            out.append("  No denial applies:")
            for a in line.why_not:
                out += _attempt(a, 2)
    return out


def _tree(node: ProofNode, depth: int) -> list[str]:
    pad = "  " * depth
    if node.kind == "rule":
        lines = [f"{pad}{node.statement}  by {node.rule.id} ({node.rule.layer}): {node.message}"]
    elif node.kind == "fact":
        lines = [f"{pad}{node.statement}  ({node.origin} fact)"]
    elif node.kind == "builtin":
        lines = [f"{pad}{node.statement}  ({node.detail.get('description', '')})"]
    else:
        lines = [f"{pad}{node.statement}  ({node.kind})"]
    for p in node.premises:
        lines += _tree(p, depth + 1)
    return lines


def _attempt(a: Attempt, depth: int) -> list[str]:
    pad = "  " * depth
    what = {"missing": "does not hold", "present": "holds, so its negation fails", "false": "is false",
            "no_result": "gives no result", "holds": "holds"}[a.reason]
    lines = [f"{pad}{a.rule.id}: {a.failed_statement} {what}"]
    for n in a.nested:
        lines += _attempt(n, depth + 1)
    return lines
