"""Proofs read from the recorded derivations: the explainer's proof nodes, built without a search.

Under the plan every derivation of a fact is recorded while deriving (``record="all"``): the clause
and its slot array. A proof node of the explainer (engine.explain) is one distinct binding of a
rule's variables, with one premise node per body literal in the rule's explain order; the explainer
finds them by matching the body against the model, in that order, rows sorted. Here the same nodes
are read from the derivations instead:

- the rows the positive literals matched are the clause's slots, anonymous arguments included;
- the derivations of one rule are put in the order the explainer's search meets them (at each
  positive literal the matched row's ``repr``, at a builtin the position of its answer among the
  builtin's answers), and the first of each distinct binding of the named variables is kept;
- absences, comparisons, builtins and aggregates are shown by the explainer's own step, given the
  bindings known before that literal, so their nodes are its nodes.

:class:`Reader` gives, per plan clause, the recipe for that (built once per plan, shared by every
thread). A derivation that does not fit its recipe (it cannot happen when the plan and the explainer
agree on the model) makes the caller fall back to the search, never a different proof.
"""
from __future__ import annotations

from ..checker import schedule_body
from ..syntax import Aggregate, Arith, Call, Compare, Negative, Positive, Rule, Var

POS, CALL, OTHER = "pos", "call", "other"


def _named(term) -> list[str]:
    return [term.name] if isinstance(term, Var) and not term.anonymous else []


def _binds(lit) -> list[str]:
    """The variables the explainer has bound once ``lit`` has been matched."""
    if isinstance(lit, Positive):
        return sorted(lit.atom.vars())
    if isinstance(lit, Compare):
        return _named(lit.left) + _named(lit.right)
    if isinstance(lit, Call):
        return [n for a in lit.args for n in _named(a)]
    if isinstance(lit, Arith):
        return _named(lit.result) + _named(lit.left) + _named(lit.right)
    if isinstance(lit, Aggregate):
        return _named(lit.result)
    return []                                          # a negation binds nothing


class Recipe:
    """How one plan clause's derivations read as proof nodes of its rule."""

    __slots__ = ("named", "steps")

    def __init__(self, rule: Rule, clause, explain_order: list):
        slots = {name: i for i, name in enumerate(clause.slots)}
        self.named = tuple((name, i) for name, i in slots.items() if not name.startswith("Anon_"))
        in_clause = {id(lit): i for i, lit in enumerate(schedule_body(rule.clause.body, rule.clause.head))}
        bound = set(rule.clause.head.vars())
        steps = []
        for lit in explain_order:
            before = frozenset(bound)
            if isinstance(lit, Positive):
                _, terms = clause.body[in_clause[id(lit)]]
                getters = () if not lit.atom.args else tuple(
                    (True, slots[v]) if kind == "v" else (False, v) for kind, v in terms)
                steps.append((POS, lit, getters, before))
            else:
                steps.append((CALL if isinstance(lit, Call) else OTHER, lit, _named_slots(lit, slots), before))
            bound.update(_binds(lit))
        self.steps = tuple(steps)


def _named_slots(lit, slots: dict[str, int]) -> tuple[tuple[str, int], ...]:
    names = _binds(lit) if not isinstance(lit, Negative) else []
    return tuple((n, slots[n]) for n in names if n in slots)


class Reader:
    """The recipes of one plan, built on first use (the same recipe under a race: harmless)."""

    def __init__(self, plan):
        self.plan = plan
        self._recipes: dict[int, Recipe] = {}

    def recipe(self, rule: Rule, number: int, explain_order: list) -> Recipe:
        found = self._recipes.get(number)
        if found is None:
            found = self._recipes[number] = Recipe(rule, self.plan.clauses[number], explain_order)
        return found


def reader_of(plan) -> Reader:
    found = plan.__dict__.get("_reader")
    if found is None:
        found = plan.__dict__["_reader"] = Reader(plan)
    return found
