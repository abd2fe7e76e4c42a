"""Verdicts, units, reasons and fixes for each line, computed from the model and its proofs.

A line's verdict follows from the proofs of ``deny(Line)``:
- no derivation: ``supportable``;
- every derivation can be defeated by documenting more (it rests on the absence of a
  documentation fact): ``needs_documentation``;
- otherwise ``not_supportable``.

Fixes are computed, not written by hand: for each derivation of ``deny``, the premises about the
line that a person could change — an absent documentation element or modifier (add it), a
present modifier (remove it), the billed code where a better one is suggested (bill that one) —
and, for a supportable line billed above its supportable units, reducing the units.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .encounter import Encounter
from .evaluator import Model
from .explain import Attempt, Explainer, ProofNode
from .facts import INPUT_PREDICATES
from .syntax import Compare, Const, Negative, Positive, Rule, Var
from .verdicts import NEEDS_DOCUMENTATION, NOT_SUPPORTABLE, SUPPORTABLE

_DOC_PREDS = {p.name for p in INPUT_PREDICATES.values() if p.documentation_fact}


@dataclass
class Fix:
    action: str                # add_documentation, add_modifier, remove_modifier, bill_instead, reduce_units
    value: object              # element, modifier(s), code or units
    rule: Rule
    line: str | None = None    # add_documentation on another line (its minutes, which this line's units rest on)


@dataclass
class Reason:
    rule: Rule
    kind: str
    message: str
    edits: list = field(default_factory=list)   # the edit-table rows (engine.edits.Edit) the denial rests on
    carc: str | None = None     # the remittance codes a payer would use (engine.remittance; set by decide)
    rarc: str | None = None


def _edit_rows(proof: ProofNode) -> list:
    """The edit-table rows a proof rests on, each once, in the order met."""
    found: dict[str, object] = {}
    stack = [proof]
    while stack:
        node = stack.pop(0)
        if node.origin == "edit_table" and "edit" in node.detail:
            found.setdefault(str(node.detail["edit"].location), node.detail["edit"])
        stack[:0] = list(node.premises)
    return list(found.values())


@dataclass
class Advice:
    """Information about a line that denies nothing (a review threshold, a prior authorization a
    plan may ask for, an element the guidance advises documenting): one per derivation of
    ``advise(Line, Topic)``."""
    rule: Rule
    topic: str
    message: str
    proof: ProofNode


@dataclass
class LineDecision:
    line: str
    code: str
    verdict: str
    billed_units: int
    supportable_units: int
    minutes_recorded: bool = True     # False: the record does not show the line's minutes
    reasons: list[Reason] = field(default_factory=list)
    missing_documentation: list[str] = field(default_factory=list)
    suggestions: list[tuple[str, ProofNode]] = field(default_factory=list)
    fixes: list[Fix] = field(default_factory=list)
    proofs: list[ProofNode] = field(default_factory=list)      # deny derivations, units derivation
    why_not: list[Attempt] = field(default_factory=list)       # why deny(L) failed (supportable lines)
    advice: list[Advice] = field(default_factory=list)         # information that denies nothing

    @property
    def overbilled(self) -> bool:
        """Supportable, but for fewer units than were billed (the verdict stays `supportable`)."""
        return self.verdict == SUPPORTABLE and self.supportable_units < self.billed_units


def _kind(rule: Rule, fixes: list[Fix]) -> str:
    if rule.kind:
        return rule.kind
    if fixes:
        return {"add_documentation": "documentation", "add_modifier": "modifier", "remove_modifier": "modifier",
                "bill_instead": "coding", "reduce_units": "units"}[fixes[0].action]
    return "denial"


class Decider:
    def __init__(self, explainer: Explainer, model: Model, why_not: bool = True):
        self.ex = explainer
        self.model = model
        self.with_why_not = why_not  # only the full explanation shows why no denial applied

    def _fixes_for(self, line: str, proof: ProofNode) -> list[Fix]:
        """Changeable premises of one derivation of deny(line)."""
        rule, b = proof.rule, dict(proof.bindings)
        fixes: list[Fix] = []
        for lit in self.ex.body_order(rule):
            if not isinstance(lit, (Positive, Negative)):
                continue
            atom = lit.atom
            args = [a.value if isinstance(a, Const) else b.get(a.name) for a in atom.args]
            if not args:
                continue
            if args[0] != line:
                # an element another line lacks, which this line's units rest on (that line's minutes)
                if isinstance(lit, Negative) and atom.pred in _DOC_PREDS and args[0] is not None \
                        and len(args) > 1 and args[1] is not None:
                    fixes.append(Fix("add_documentation", args[1], rule, line=args[0]))
                continue
            if isinstance(lit, Negative):
                if atom.pred in _DOC_PREDS and args[1] is not None:
                    fixes.append(Fix("add_documentation", args[1], rule))
                elif atom.pred == "has_modifier" and args[1] is not None:
                    fixes.append(Fix("add_modifier", [args[1]], rule))
                elif atom.pred in self.ex.by_head:
                    fixes += self._fixes_through(line, atom.pred, tuple(args), rule)
            else:
                if atom.pred == "line_code":
                    for (l, better) in sorted(self.model.rows("suggest")):
                        if l == line and better != args[1]:
                            fixes.append(Fix("bill_instead", better, rule))
                elif atom.pred == "has_modifier" and args[1] is not None:
                    fixes.append(Fix("remove_modifier", args[1], rule))
                elif atom.pred == "billed_units" and isinstance(atom.args[1], Var):
                    units = self._units_limit(rule, atom.args[1].name, b)
                    if units is not None and units >= 1:
                        fixes.append(Fix("reduce_units", units, rule))
        return fixes

    def _units_limit(self, rule: Rule, var: str, b: dict) -> int | None:
        """The most units a comparison of the billed units allows (``Billed > Max`` -> Max)."""
        for lit in self.ex.body_order(rule):
            if not isinstance(lit, Compare) or not isinstance(lit.left, Var) or lit.left.name != var:
                continue
            bound = lit.right.value if isinstance(lit.right, Const) else b.get(lit.right.name)
            if isinstance(bound, int) and lit.op in (">", ">="):
                return bound if lit.op == ">" else bound - 1
        return None

    def _fixes_through(self, line: str, pred: str, args: tuple, deny_rule: Rule) -> list[Fix]:
        """An absent derived premise (e.g. fitting_modifier): what would derive it."""
        fixes = []
        for attempt in self.ex.why_not(pred, args, depth=0):
            lit = attempt.failed
            if not isinstance(lit, Positive):
                continue
            b = dict(attempt.bindings)
            atom = lit.atom
            if atom.pred in ("has_modifier",) + tuple(_DOC_PREDS) and len(atom.args) == 2:
                val = atom.args[1]
                if isinstance(val, Const):
                    options = [val.value]
                elif val.name in b:
                    # bound by an earlier premise: every value those premises allow would do
                    options = self._prefix_values(attempt, args, val.name) or [b[val.name]]
                else:
                    options = self._candidates(attempt, val.name)
                action = "add_modifier" if atom.pred == "has_modifier" else "add_documentation"
                if options:
                    fixes.append(Fix(action, options if action == "add_modifier" else options[0], deny_rule))
        return fixes

    def _prefix_values(self, attempt: Attempt, args: tuple, var: str) -> list:
        """Values of ``var`` under which the premises before the failed one hold."""
        rule = attempt.rule
        start = self.ex._unify_head(rule.clause.head, args)
        body = self.ex.body_order(rule)
        index = next((i for i, l in enumerate(body) if l is attempt.failed), None)
        if start is None or index is None:
            return []
        values = {fb[var] for fb, _ in self.ex._solve(rule, body[:index], start, False) if var in fb}
        return sorted(values, key=repr)

    def _candidates(self, attempt: Attempt, var: str) -> list:
        """Values of ``var`` that satisfy the rest of the failed rule's body (catalog lookups)."""
        rest = [l for l in self.ex.body_order(attempt.rule) if l is not attempt.failed and isinstance(l, Positive) and
                any(isinstance(a, Var) and a.name == var for a in l.atom.args)]
        values = None
        for lit in rest:
            found = {nb[var] for nb in self.ex.matches(lit.atom, dict(attempt.bindings)) if var in nb}
            values = found if values is None else values & found
        return sorted(values or [])

    def _advice(self, lid: str) -> list[Advice]:
        out = []
        for (l, topic) in sorted(self.model.rows("advise"), key=repr):
            if l == lid:
                out += [Advice(p.rule, str(topic), p.message, p) for p in self.ex.derivations("advise", (lid, topic))]
        return out

    def decide_line(self, line) -> LineDecision:
        lid = line.id
        units_rows = sorted(u for (l, u) in self.model.rows("supportable_units") if l == lid)
        computed = min(units_rows) if units_rows else None
        # Denials on any ground, then those of the units (read after the units are allocated).
        denials = self.ex.derivations("deny", (lid,)) + self.ex.derivations("deny_units", (lid,))
        suggestions = []
        for (l, code) in sorted(self.model.rows("suggest")):
            if l == lid:
                proof = self.ex.prove("suggest", (lid, code))
                if proof is not None:
                    suggestions.append((code, proof))
        decision = LineDecision(lid, line.code, SUPPORTABLE, line.units, 0, line.minutes is not None,
                                suggestions=suggestions,
                                advice=self._advice(lid))
        per_derivation = []
        for proof in denials:
            fixes = self._fixes_for(lid, proof)
            per_derivation.append((proof, fixes))
            decision.reasons.append(Reason(proof.rule, _kind(proof.rule, fixes), proof.message, _edit_rows(proof)))
            for fix in fixes:
                if fix.action == "add_documentation" and fix.line is None \
                        and fix.value not in decision.missing_documentation:
                    decision.missing_documentation.append(fix.value)
        decision.proofs = denials
        if not denials:
            decision.supportable_units = computed or 0
            if self.with_why_not:
                decision.why_not = self.ex.why_not("deny", (lid,)) + self.ex.why_not("deny_units", (lid,))
            unit_proof = self.ex.prove("supportable_units", (lid, computed)) if computed is not None else None
            if unit_proof is not None:
                decision.proofs = [unit_proof]
                if line.units > (computed or 0):
                    decision.reasons.append(Reason(unit_proof.rule, "units",
                                                   f"{line.units} unit(s) billed but only {computed} supportable: "
                                                   f"{unit_proof.message}"))
                    decision.fixes.append(Fix("reduce_units", computed, unit_proof.rule))
            return decision
        if all(any(f.action == "add_documentation" for f in fixes) for _, fixes in per_derivation):
            decision.verdict = NEEDS_DOCUMENTATION
            chosen = [next(f for f in fixes if f.action == "add_documentation") for _, fixes in per_derivation]
        else:
            decision.verdict = NOT_SUPPORTABLE
            preference = ["bill_instead", "add_modifier", "remove_modifier", "reduce_units", "add_documentation"]
            chosen = []
            for _, fixes in per_derivation:
                if fixes:
                    chosen.append(min(fixes, key=lambda f: preference.index(f.action)))
        seen = set()
        for fix in chosen:
            key = (fix.action, repr(fix.value), fix.line)
            if key not in seen:
                seen.add(key)
                decision.fixes.append(fix)
        return decision


def unit_method(model: Model) -> str | None:
    rows = sorted(model.rows("unit_method"))
    return rows[0][0] if rows else None


@dataclass
class Decision:
    encounter_id: str
    payer: str
    policy_version: str
    date_of_service: str
    method: str | None
    lines: list[LineDecision]
    explain: str = "full"   # the most detail this decision was built with

EXPLAIN_LEVELS = ("none", "summary", "full")


def decide(encounter: Encounter, model: Model, explainer: Explainer, payer: str, version: str,
           explain: str = "full", remittance=None) -> Decision:
    """``remittance``: the payer's table (engine.remittance.RemittanceTable) giving each reason its
    CARC and RARC; without one the reasons carry none."""
    if explain not in EXPLAIN_LEVELS:
        raise ValueError(f"explain must be one of {', '.join(EXPLAIN_LEVELS)}, not `{explain}`")
    decider = Decider(explainer, model, why_not=explain == "full")
    lines = [decider.decide_line(line) for line in encounter.lines]
    if remittance is not None:
        for line in lines:
            for reason in line.reasons:
                found = remittance.lookup(reason.rule.id, reason.kind)
                if found is not None:
                    reason.carc, reason.rarc = found.carc, found.rarc
    return Decision(encounter.id, payer, version, encounter.date_of_service.isoformat(), unit_method(model),
                    lines, explain)
