"""Proofs read from the recorded derivations: the explainer's own proofs, without searching.

:class:`ProvenanceExplainer` is engine.explain's Explainer with one change: the proof of a fact the
plan derived is read from the derivations it recorded while deriving (every one, ``record="all"``;
engine.plan.readproofs has the recipe), not found by matching rule bodies against the model. The
nodes are the explainer's (rules in load order, derivations in its search order, the first of each
distinct binding), so the decisions made from them are the same as the plain explainer's
(tests/engines_check.py compares the decision JSON, tests/test_plan_provenance.py every proof). A
fact that does not hold has no derivation; an input fact, a pattern with open arguments and a
derivation that cannot be read (never, when the plan and the explainer agree on the model) are
searched as before. Why-not is the explainer's: it explains conclusions that were not derived.
"""
from __future__ import annotations

from ..decision import Decision, decide
from ..explain import Bindings, Explainer, ProofNode
from .plan import ALL
from .provenance import Derivations
from .readproofs import CALL, POS, Recipe, reader_of


class ProvenanceExplainer(Explainer):
    def __init__(self, program, model, derivations: Derivations):
        super().__init__(program, model)
        self._derivations = derivations

    def derivations(self, pred: str, args: tuple, limit: int | None = None) -> list[ProofNode]:
        if None not in args:
            if self._derivations.mode == ALL:
                read = self._read(pred, args, limit)
                if read is not None:
                    return read
            if not self.model.holds(pred, args):
                return []        # a fact that does not hold has no derivation: nothing to search
        return super().derivations(pred, args, limit)

    def _read(self, pred: str, args: tuple, limit: int | None) -> list[ProofNode] | None:
        """The proof nodes of ``pred(args)`` read from its recorded derivations (engine.plan.readproofs),
        or None to search instead (nothing recorded: an input fact; or a derivation that does not fit)."""
        derivations = self._derivations
        raw = derivations._raw(pred, args)
        if not raw:
            return None
        clauses = derivations._plan.clauses
        reader = reader_of(derivations._plan)
        statement = f"{pred}({', '.join(map(repr, args))})"
        out: list[ProofNode] = []
        for rule in self.by_head.get(pred, []):
            entries = [(number, env) for number, env in raw if clauses[number].rule_id == rule.id]
            if not entries:
                continue
            if self._unify_head(rule.clause.head, args) is None:
                return None
            order = self.body_order(rule)
            found = []
            for number, env in entries:
                recipe = reader.recipe(rule, number, order)
                fb = {name: env[i] for name, i in recipe.named}
                key: list = []
                rows: list[tuple] = []
                for kind, lit, getters, before in recipe.steps:
                    if kind == POS:
                        row = tuple(env[x] if is_slot else x for is_slot, x in getters)
                        rows.append(row)
                        key.append(repr(row))
                    elif kind == CALL:
                        index = self._answer_index(rule, lit, getters, before, fb)
                        if index is None:
                            return None
                        key.append(index)
                found.append((key, fb, rows, recipe))
            found.sort(key=lambda f: f[0])
            seen = set()
            for _, fb, rows, recipe in found:
                distinct = tuple(sorted((k, repr(v)) for k, v in fb.items()))
                if distinct in seen:
                    continue
                seen.add(distinct)
                premises = self._read_premises(rule, recipe, fb, rows)
                if premises is None:
                    return None
                out.append(ProofNode("rule", statement, rule=rule, bindings=tuple(sorted(fb.items())),
                                     premises=tuple(premises)))
                if limit and len(out) >= limit:
                    return out
        return out

    def _answer_index(self, rule, lit, getters, before, fb: Bindings) -> int | None:
        """Where the derivation's answer of a builtin stands among the builtin's answers (search order)."""
        b = {k: v for k, v in fb.items() if k in before}
        for i, (nb, _) in enumerate(self._step(rule, lit, b, False)):
            if all(nb.get(name) == fb.get(name) for name, _ in getters):
                return i
        return None

    def _read_premises(self, rule, recipe: Recipe, fb: Bindings, rows: list[tuple]) -> list[ProofNode] | None:
        nodes = []
        matched = iter(rows)
        for kind, lit, getters, before in recipe.steps:
            if kind == POS:
                nodes.append(self._premise(lit.atom, fb, next(matched)))
                continue
            b = {k: v for k, v in fb.items() if k in before}
            node = next((n for nb, n in self._step(rule, lit, b, True)
                         if all(nb.get(name) == fb.get(name) for name, _ in getters)), None)
            if node is None:
                return None
            nodes.append(node)
        return nodes


def decide_with_provenance(policy, encounter, explain: str = "full") -> Decision:
    """``PolicySet.decide`` with the plan's evaluation and proofs read from its derivations (what
    ``PolicySet.decide`` does when the plan is the policy set's engine, whatever its engine is)."""
    from .engines import derive
    model, derivations = derive(policy, encounter, "all")
    explainer = ProvenanceExplainer(policy.program, model, derivations)
    return decide(encounter, model, explainer, policy.payer, policy.version, explain)
