"""Proofs steered by the recorded derivations: the explainer's own proofs, found without searching
the rules that did not derive a fact.

:class:`ProvenanceExplainer` is engine.explain's Explainer with one change: to prove a fact the
plan derived, it tries only the rules that derived it (every derivation recorded, ``record="all"``),
and in each rule only the body rows consistent with one of that rule's recorded bindings. The search
is otherwise the explainer's, in its order (rules in load order, bodies in explain order, rows
sorted), so the proof nodes, and the decisions made from them, are the same as the plain explainer's
(tests/engines_check.py compares the decision JSON). A fact that does not hold has no derivation; one
the plan did not derive (an input fact) and a pattern with open arguments fall back to the plain
search; why-not is unchanged.

This is the first step of proofs read from provenance; the explainer itself is not rewritten yet.
"""
from __future__ import annotations

from typing import Iterator

from ..decision import Decision, decide
from ..explain import Bindings, Explainer, ProofNode
from ..syntax import Atom, Negative, Var
from .provenance import Derivations


class ProvenanceExplainer(Explainer):
    def __init__(self, program, model, derivations: Derivations):
        super().__init__(program, model)
        self._derivations = derivations
        self._targets: list[Bindings] | None = None     # the bindings the current rule search may reach

    def _recorded(self, pred: str, args: tuple) -> dict[str, list[Bindings]] | None:
        """rule id -> the bindings (anonymous variables left out) of each recorded derivation."""
        if None in args:
            return None                                  # asked with an open argument: search
        found = self._derivations.rule_bindings(pred, args)
        if not found:
            return None
        by_rule: dict[str, list[Bindings]] = {}
        for rule_id, bindings in found:
            by_rule.setdefault(rule_id, []).append(bindings)
        return by_rule

    def matching_rows(self, atom: Atom, b: Bindings) -> Iterator[tuple[Bindings, tuple]]:
        targets = self._targets
        if targets is None:                 # not steered (why-not, an absence, an open pattern)
            return super().matching_rows(atom, b)
        return self._steered_rows(atom, b, targets)

    def _steered_rows(self, atom: Atom, b: Bindings, targets: list[Bindings]) -> Iterator[tuple[Bindings, tuple]]:
        names = [a.name for a in atom.args if isinstance(a, Var) and not a.anonymous]
        for nb, row in super().matching_rows(atom, b):
            if any(all(t.get(n, nb[n]) == nb[n] for n in names) for t in targets):
                yield nb, row

    def _step(self, rule, lit, b, proofs):
        if self._targets is None or not isinstance(lit, Negative):
            return super()._step(rule, lit, b, proofs)      # no extra generator layer (why-not walks here)
        # an absence is checked against every row, not only those on a recorded derivation's path
        saved, self._targets = self._targets, None
        try:
            return iter(list(super()._step(rule, lit, b, proofs)))
        finally:
            self._targets = saved

    def derivations(self, pred: str, args: tuple, limit: int | None = None) -> list[ProofNode]:
        recorded = self._recorded(pred, args)
        if recorded is None and None not in args and not self.model.holds(pred, args):
            return []        # a fact that does not hold has no derivation: nothing to search
        if recorded is None:
            saved, self._targets = self._targets, None
            try:
                return super().derivations(pred, args, limit)
            finally:
                self._targets = saved
        out: list[ProofNode] = []
        for rule in self.by_head.get(pred, []):
            targets = recorded.get(rule.id)
            if not targets:
                continue
            b = self._unify_head(rule.clause.head, args)
            if b is None:
                continue
            saved = self._targets
            self._targets = targets
            try:
                solutions = self._steered(self._solve(rule, self.body_order(rule), b, True), targets)
                for node in self._instances(pred, args, rule, solutions):
                    out.append(node)
                    if limit and len(out) >= limit:
                        return out
            finally:
                self._targets = saved
        return out

    def _steered(self, solutions, targets):
        """``solutions``, each searched with ``targets`` in force (a premise's proof, searched in
        between, sets its own)."""
        while True:
            self._targets = targets
            try:
                solution = next(solutions)
            except StopIteration:
                return
            yield solution

    def why_not(self, pred: str, args: tuple, depth: int = 1):
        saved, self._targets = self._targets, None
        try:
            return super().why_not(pred, args, depth)
        finally:
            self._targets = saved


def decide_with_provenance(policy, encounter, explain: str = "full") -> Decision:
    """``PolicySet.decide`` with the plan's evaluation and proofs steered by its derivations (what
    ``PolicySet.decide`` does when the plan is the policy set's engine, whatever its engine is)."""
    from .engines import derive
    model, derivations = derive(policy, encounter, "all")
    explainer = ProvenanceExplainer(policy.program, model, derivations)
    return decide(encounter, model, explainer, policy.payer, policy.version, explain, policy.remittance)
