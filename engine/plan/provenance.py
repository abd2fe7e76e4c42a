"""Provenance recorded while deriving: which clause derived a fact, and with which bindings.

While it evaluates, the plan keeps for each derived fact the clause number and a copy of the
clause's slot array at the moment the head was emitted (no names, no premises: cheap). A
:class:`Derivations` object turns them into :class:`Derivation` values on demand: the rule id, the
bindings by variable name, the premise facts of the positive literals (the rows matched), the
absences the negative literals relied on, and the aggregates' groups.

``first`` is the first derivation in the plan's canonical order (engine.plan.plan); ``all`` lists
every distinct derivation (clause and bindings) in the order met, when the evaluation recorded
them all (``record="all"``; with ``record="first"`` it lists the first only). Facts the rules
derive from catalog facts and parameters alone were derived when the plan was built: their
derivations are the plan's, shared by every evaluation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from .strata import value_to_aux


@dataclass(frozen=True)
class Derivation:
    pred: str
    args: tuple
    rule_id: str | None          # the rule the clause was compiled from (for an aggregate body: its rule)
    clause: int                  # position in CompiledProgram.clauses
    bindings: tuple[tuple[str, object], ...]   # every variable of the clause, by name (``Anon_n_``:
                                               # an anonymous argument, ``EffectiveDate_``: the date)
    premises: tuple[tuple[str, tuple], ...]    # the facts matched by positive literals, in body order
    absent: tuple[tuple[str, tuple], ...]      # negated literals (None where an argument was open)
    aggregates: tuple[tuple[str, tuple], ...]  # (aggregate body predicate, group) folded

    def named(self) -> dict[str, object]:
        """The bindings of the rule's own variables (what a proof shows)."""
        return {k: v for k, v in self.bindings if not k.endswith("_")}


class Derivations:
    """The derivations one evaluation recorded (over the plan's static ones)."""

    def __init__(self, plan, recorded: dict[tuple[str, tuple], list], static: "Derivations | None", mode: str):
        self._plan = plan
        self._recorded = recorded
        self._static = static
        self.mode = mode

    def _key(self, pred: str, args: tuple) -> tuple[str, tuple]:
        if not args and pred in self._plan.padded:
            return pred, (1,)          # a 0-place predicate, compiled with one constant
        return pred, tuple(args)

    def _raw(self, pred: str, args: tuple) -> list:
        key = self._key(pred, args)
        found = self._recorded.get(key)
        if found is None and self._static is not None:
            return self._static._raw(*key)
        return found or []

    def __contains__(self, fact: tuple[str, tuple]) -> bool:
        return bool(self._raw(*fact))

    def __len__(self) -> int:
        return len(self._recorded)

    def facts(self) -> Iterator[tuple[str, tuple]]:
        """The facts derived in this evaluation (not the static ones), in the order derived."""
        return iter(self._recorded)

    def first(self, pred: str, args: tuple) -> Derivation | None:
        raw = self._raw(pred, args)
        return self._make(pred, args, *raw[0]) if raw else None

    def all(self, pred: str, args: tuple) -> list[Derivation]:
        return [self._make(pred, args, clause, env) for clause, env in self._raw(pred, args)]

    def rule_bindings(self, pred: str, args: tuple) -> list[tuple[str | None, dict[str, object]]]:
        """(rule id, bindings without the anonymous variables) of each derivation: what a proof search
        needs, without building :class:`Derivation` values."""
        out = []
        for number, env in self._raw(pred, args):
            clause = self._plan.clauses[number]
            out.append((clause.rule_id, {name: env[i] for i, name in enumerate(clause.slots)
                                         if not name.startswith("Anon_")}))
        return out

    def _make(self, pred: str, args: tuple, number: int, env: tuple) -> Derivation:
        clause = self._plan.clauses[number]
        slots = {name: i for i, name in enumerate(clause.slots)}

        def ground(terms) -> tuple:
            return tuple((env[slots[v]] if v in slots else None) if k == "v" else v for k, v in terms)

        premises, absent, aggregates = [], [], []
        for step in clause.steps:
            name, terms = clause.body[step.literal]
            if step.kind == "pos":
                premises.append((step.pred, ground(terms)))
            elif step.kind == "neg":
                absent.append((step.pred, ground(terms)))
            elif step.kind == "agg":
                aggregates.append((value_to_aux(name), ground(terms[:-1])))
        bindings = tuple(sorted(((name, env[i]) for name, i in slots.items()), key=lambda kv: kv[0]))
        return Derivation(pred, tuple(args), clause.rule_id, number, bindings, tuple(premises), tuple(absent),
                          tuple(aggregates))
