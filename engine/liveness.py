"""Which rules can ever hold, and why the others cannot: one fixpoint, used by the compiler (it leaves
dead rules out of the program), by lint (``rule_never_fires`` says why) and by policy-test coverage.

A rule is dead if a ground premise about the facts that are the same for every encounter (catalog
and parameters) is false (a rule for the total-time unit method under a payer that counts per code),
or if it needs a predicate that only dead rules derive. :func:`in_force` adds a payer's dates in
force: a rule whose effective range lies outside them is dead too, and so is what needs it only.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .dateranges import overlap
from .syntax import Atom, Clause, Const, Literal, Negative, Positive, Rule

if TYPE_CHECKING:
    from .policyset import PolicySet

STATIC_PREDICATES = ("param", "param_entry")     # the parameters, as the rules read them


@dataclass(frozen=True)
class Blocker:
    """The first premise of a dead rule that rules it out: ``never_holds`` (a premise about the
    catalog or the parameters is false) or ``needs_dead`` (only dead rules derive its predicate)."""
    literal: Literal
    kind: str


class Liveness:
    def __init__(self, rules: list[Rule], static_facts: list[tuple[str, tuple]]):
        self.rules = rules
        self.static: dict[str, set[tuple]] = {}
        for name, args in static_facts:
            self.static.setdefault(name, set()).add(args)
        self._static_names = set(self.static) | set(STATIC_PREDICATES)
        self._heads = {r.clause.head.pred for r in rules}
        live = {r.id for r in rules}
        changed = True
        while changed:
            changed = False
            alive_heads = self._alive_heads(live)
            for rule in rules:
                if rule.id in live and self._blocker(rule, alive_heads) is not None:
                    live.discard(rule.id)
                    changed = True
        self.live: set[str] = live
        self._final_heads = self._alive_heads(live)

    def _alive_heads(self, live: set[str]) -> set[str]:
        return {r.clause.head.pred for r in self.rules if r.id in live}

    def _blocker(self, rule: Rule, alive_heads: set[str]) -> Blocker | None:
        for lit in rule.clause.body:
            if not isinstance(lit, (Positive, Negative)):
                continue
            atom = lit.atom
            if atom.pred in self._static_names and atom.pred not in self._heads and \
                    all(isinstance(a, Const) for a in atom.args):
                holds = tuple(a.value for a in atom.args) in self.static.get(atom.pred, ())
                if holds != isinstance(lit, Positive):
                    return Blocker(lit, "never_holds")
            elif isinstance(lit, Positive) and atom.pred in self._heads and atom.pred not in alive_heads:
                return Blocker(lit, "needs_dead")
        return None

    def blocker(self, rule_id: str) -> Blocker | None:
        """Why the rule of that id is dead (None when it is live, or not one of these rules)."""
        rule = next((r for r in self.rules if r.id == rule_id), None)
        if rule is None or rule_id in self.live:
            return None
        return self._blocker(rule, self._final_heads)


# What an out-of-range rule is given, so that the fixpoint finds it dead (no parameter has this name).
_OUT_OF_RANGE = Positive(Atom("param", (Const("(outside the payer's effective range)"), Const(0))))


def in_range(rule: Rule, policy: "PolicySet") -> bool:
    """Whether the rule's effective range meets the dates the payer is in force."""
    return overlap([(rule.effective_from, rule.effective_to),
                    (policy.effective_from, policy.effective_to)]) is not None


def in_force(policy: "PolicySet") -> Liveness:
    """The liveness of the payer's program on the dates the payer is in force."""
    rules = [r if in_range(r, policy) else replace(r, clause=Clause(r.clause.head, (_OUT_OF_RANGE,) + r.clause.body))
             for r in policy.program.rules]
    return Liveness(rules, policy.program.static_facts)
