"""Which rules took part in a decision: its derivations, recursively (with the facts an aggregate
counted), and the rules its why-nots show were really tried on a line. Policy-test coverage counts
these."""
from __future__ import annotations

from ..compiler import EFFECTIVE_VAR
from ..decision import Decision
from ..explain import Attempt, Explainer, ProofNode
from ..syntax import Aggregate, Compare, Const, Negative, Positive, Var


def _is_effective_premise(lit) -> bool:
    """The premises the compiler adds for a rule's effective range (not written by its author)."""
    if isinstance(lit, Positive):
        return lit.atom.pred == "date_of_service" and lit.atom.args == (Var(EFFECTIVE_VAR),)
    return isinstance(lit, Compare) and lit.left == Var(EFFECTIVE_VAR)


class Collector:
    """Collects the rules behind proof nodes and why-not attempts: rule id -> how it took part."""

    def __init__(self, explainer: Explainer):
        self.ex = explainer
        self.found: dict[str, set[str]] = {}
        self._seen_nodes: set[int] = set()

    def mark(self, rule_id: str, how: str) -> None:
        self.found.setdefault(rule_id, set()).add(how)

    def node(self, node: ProofNode | None, how: str = "derivation") -> None:
        if node is None or id(node) in self._seen_nodes:
            return
        self._seen_nodes.add(id(node))
        if node.rule is not None:
            self.mark(node.rule.id, how)
            order = self.ex.body_order(node.rule)
            if len(order) == len(node.premises):
                for lit, premise in zip(order, node.premises):
                    if isinstance(lit, Aggregate):
                        self._aggregate(node, lit, premise, how)
        for premise in node.premises:
            self.node(premise, how)

    def _aggregate(self, node: ProofNode, lit: Aggregate, premise: ProofNode, how: str) -> None:
        """The rules behind each fact an aggregate counted (its proof node lists only bindings)."""
        spec = self.ex.program.aggregates.get(node.rule.id, {}).get(lit)
        if spec is None:
            return
        bound = dict(node.bindings)
        for match in premise.detail.get("matches", []):
            b = {g: bound.get(g) for g in spec.groups}
            b.update(match)
            for inner in lit.body:
                if isinstance(inner, Positive) and inner.atom.pred in self.ex.by_head:
                    self.node(self.ex.prove(inner.atom.pred, self._ground(inner.atom, b)), how)

    def attempt(self, attempt: Attempt) -> bool:
        """A why-not. The rule counts when it was really tried on the line: at least one of its own
        premises held before one failed, or the premise that failed is a derived fact whose own
        rules were tried. Then the proofs of the derived premises that held count too, and so does
        the proof of the derived fact whose presence defeated a ``not p(...)`` premise."""
        if attempt.failed is None:
            self.mark(attempt.rule.id, "why_not")
            return True
        order = self.ex.body_order(attempt.rule)
        index = next((i for i, lit in enumerate(order) if lit is attempt.failed), None)
        if index is None:
            index = next((i for i, lit in enumerate(order) if lit == attempt.failed), 0)
        nested = [self.attempt(a) for a in attempt.nested]
        if not (any(nested) or any(not _is_effective_premise(lit) for lit in order[:index])):
            return False
        self.mark(attempt.rule.id, "why_not")
        b = dict(attempt.bindings)
        for lit in order[:index]:
            if isinstance(lit, Positive) and lit.atom.pred in self.ex.by_head:
                self.node(self.ex.prove(lit.atom.pred, self._ground(lit.atom, b)), "why_not")
        lit = attempt.failed
        if isinstance(lit, Negative) and lit.atom.pred in self.ex.by_head:
            for _, row in self.ex.matching_rows(lit.atom, b):
                self.node(self.ex.prove(lit.atom.pred, row), "why_not")
                break
        return True

    @staticmethod
    def _ground(atom, b: dict) -> tuple:
        return tuple(a.value if isinstance(a, Const) else (None if a.anonymous else b.get(a.name)) for a in atom.args)


def exercised_rules(decision: Decision, explainer: Explainer) -> dict[str, set[str]]:
    """Rule id -> how it took part in the decision (``derivation``, ``why_not``).

    Derivations: each line's deny or units proof, its units proof also when it is denied, its
    suggested codes' proofs and the unit method's proof, recursively through every premise,
    including the facts an aggregate counted. Why-nots: for every line, each deny and deny_units rule that did not
    apply to it (and the helper rules its why-not looks into), when it was really tried: at least
    one of its own premises held before one failed, or the failed premise is a derived fact whose
    rules were tried. A rule that fails at its very first premise (another code's rule, a rule for
    the other unit method) was not tried on the line. The premises that held, and a derived fact
    whose presence defeated a ``not p(...)`` premise, bring in their proofs.
    """
    c = Collector(explainer)
    model = explainer.model
    for (method,) in sorted(model.rows("unit_method"), key=repr):
        c.node(explainer.prove("unit_method", (method,)))
    for line in decision.lines:
        for proof in line.proofs:
            c.node(proof)
        for _, proof in line.suggestions:
            c.node(proof)
        for advice in line.advice:
            c.node(advice.proof)
        for (lid, units) in sorted(model.rows("supportable_units"), key=repr):
            if lid == line.line:
                c.node(explainer.prove("supportable_units", (lid, units)))
        for head in ("deny", "deny_units"):          # the why-nots a full decision shows (engine/decision.py)
            for attempt in explainer.why_not(head, (line.line,)):
                c.attempt(attempt)
    return c.found
