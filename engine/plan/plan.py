"""The evaluation plan of one compiled program: built once, then shared by every thread.

Building (``Plan(program)``):
1. each clause of ``CompiledProgram.clauses`` is matched with the rule it came from (aggregate
   bodies with the rule holding the aggregate) and compiled into steps (engine.plan.steps);
2. the clauses whose heads depend on catalog facts and parameters alone
   (``program.static_derived``) are stratified and evaluated once, here; their facts join the
   static facts in a :class:`StaticStore`, indexed on every bound-position pattern the per-encounter
   clauses look them up by;
3. the other clauses are stratified (engine.plan.strata): per stratum the clauses defining it,
   in program order.

Evaluating (``Plan.run(facts)``): a fresh :class:`State`; the encounter's facts are added; each
stratum in order is evaluated in one pass, or semi-naively to a fixpoint if it recurses. The
result is the same :class:`engine.evaluator.Model` the pyDatalog evaluator returns, and optionally
the derivations recorded on the way (engine.plan.provenance).

The canonical order of derivations: when recording, base facts are enumerated in sorted order
(by ``repr`` of their arguments, per predicate), strata in dependency order, a stratum's clauses
in program order, a clause's body in its scheduled order, and index rows in the order they were
added. The *first* derivation of a fact is the first met in that enumeration: a function of the
program and of the set of facts, whatever order they were given in.
"""
from __future__ import annotations

from ..compiler import CompiledProgram
from ..evaluator import Model
from .provenance import Derivations
from .state import State, StaticStore
from .steps import FULL, ClausePlan, compile_clause
from .strata import dependency_graph, stratify

NONE, FIRST, ALL = "none", "first", "all"
RECORDING = (NONE, FIRST, ALL)


def clause_rules(program: CompiledProgram) -> list[str | None]:
    """The rule id of each clause of ``program.clauses``. The compiler appends, per live rule, the
    clauses of its aggregates' bodies and then the rule's own clause; dead rules add none."""
    aux_rule = {spec.aux_pred: rule_id for rule_id, specs in program.aggregates.items() for spec in specs.values()}
    live = iter([r for r in program.rules if r.id in program.live])
    out: list[str | None] = []
    for (head, _), _body in program.clauses:
        if head in aux_rule:
            out.append(aux_rule[head])
            continue
        rule = next(live, None)
        if rule is None or rule.clause.head.pred != head:
            return [None] * len(program.clauses)       # not the compiler's shape (a hand-made program)
        out.append(rule.id)
    return out


class Stratum:
    __slots__ = ("preds", "recursive", "clauses")

    def __init__(self, preds: tuple[str, ...], recursive: bool, clauses: tuple[ClausePlan, ...]):
        self.preds = preds
        self.recursive = recursive
        self.clauses = clauses


class Plan:
    """Immutable after ``__init__``; :meth:`run` keeps all its state in a local :class:`State`."""

    def __init__(self, program: CompiledProgram):
        self.program = program
        values = {}
        for specs in program.aggregates.values():
            for spec in specs.values():
                head, _, n = spec.aux_pred.rpartition("_agg")
                values[f"{head}_aggv{n}"] = spec
        self.padded = program.padded
        rules = clause_rules(program)
        static_heads = program.static_derived
        static_clauses = [(i, c) for i, c in enumerate(program.clauses) if c[0][0] in static_heads]
        dynamic_clauses = [(i, c) for i, c in enumerate(program.clauses) if c[0][0] not in static_heads]
        self.clauses: dict[int, ClausePlan] = {}

        def strata_of(numbered) -> list[Stratum]:
            graph = dependency_graph([c for _, c in numbered], set(values))
            out = []
            for preds, recursive in stratify(graph):
                members = frozenset(preds) if recursive else frozenset()
                plans = []
                for i, (head, body) in numbered:
                    if head[0] in preds:
                        plans.append(compile_clause(i, rules[i], head, body, values, members))
                        self.clauses[i] = plans[-1]
                out.append(Stratum(preds, recursive, tuple(plans)))
            return out

        # The static part: catalog facts and parameters, and what the rules derive from them alone.
        base: dict[str, list] = {}
        for name, args in program.static_facts:
            base.setdefault(name, []).append(args)
        start = StaticStore({p: tuple(sorted(dict.fromkeys(rows), key=repr)) for p, rows in base.items()}, set())
        state = State(start, record_all=True)
        for pred in start.rows:
            state.relation(pred)
        _evaluate(strata_of(static_clauses), state)
        solved = {p: tuple(rel) for p, rel in state.rows.items() if rel}
        self.static_derivations = Derivations(self, state.derived, None, ALL)
        self.strata = tuple(strata_of(dynamic_clauses))
        lookups = set()
        for plan in self.clauses.values():
            for step in plan.steps:
                if step.kind in ("pos", "neg") and step.args[0] and len(step.args[0]) < step.args[4]:
                    lookups.add((step.pred, step.args[0]))
                elif step.kind == "agg" and step.args[1]:
                    lookups.add((step.pred, tuple(range(len(step.args[1])))))
        self.static = StaticStore(solved, lookups)
        self.arity = {head[0]: len(head[1]) for _, (head, _) in dynamic_clauses}
        for plan in self.clauses.values():
            for name, terms in plan.body:
                self.arity.setdefault(name.lstrip("~"), len(terms))
        self.derived = tuple(name for name, _ in program.derived if name not in static_heads)
        # The model's static part, as the pyDatalog evaluator gives it (0-place predicates unpadded).
        self._static_model = {name: frozenset([()] if name in self.padded else rows)
                              for name, rows in solved.items()}

    def run(self, facts: list[tuple[str, tuple]], provenance: dict | None = None,
            record: str = NONE) -> tuple[Model, Derivations | None]:
        """The model of ``facts`` under the program, and the derivations when ``record`` is
        ``first`` (the first derivation of each derived fact) or ``all`` (every one)."""
        if record not in RECORDING:
            raise ValueError(f"record must be one of {', '.join(RECORDING)}, not `{record}`")
        state = State(self.static, record != NONE, record == ALL)
        out: dict[str, set] = {}
        for name, args in facts:
            rows = out.get(name)
            if rows is None:
                rows = out[name] = set()
            rows.add(args)
        arity = self.arity
        inputs = sorted(out.items()) if record == NONE else \
            [(name, sorted(rows, key=repr)) for name, rows in sorted(out.items())]
        for name, rows in inputs:
            if name in arity:
                rel = state.relation(name)
                n = arity[name]
                for args in rows:
                    if len(args) == n:          # another arity is another predicate to pyDatalog
                        rel[args] = None
        _evaluate(self.strata, state)
        padded = self.padded
        for name in self.derived:
            rel = state.rows.get(name)
            if rel:
                rows = out.get(name)
                if rows is None:
                    rows = out[name] = set()
                rows.update([()] if name in padded else rel)
        model = Model({**self._static_model, **{k: frozenset(v) for k, v in out.items()}}, provenance or {})
        derivations = Derivations(self, state.derived, self.static_derivations, record) if record != NONE else None
        return model, derivations


def _evaluate(strata, state: State) -> None:
    for stratum in strata:
        for pred in stratum.preds:
            state.relation(pred)
        if not stratum.recursive:
            for clause in stratum.clauses:
                clause.chains[FULL]([None] * len(clause.slots), state)
            continue
        # Semi-naive: a first round of every clause on what holds so far, then rounds in which each
        # clause runs once per recursive literal, that literal reading only the previous round's new
        # facts (the others read everything), until a round finds nothing new.
        state.recursive = True
        state.pending = {pred: {} for pred in stratum.preds}
        for clause in stratum.clauses:
            clause.chains[FULL]([None] * len(clause.slots), state)
        while state.end_round(stratum.preds):
            for clause in stratum.clauses:
                for i in clause.recursive_literals:
                    clause.chains[i]([None] * len(clause.slots), state)
        state.recursive = False
        state.pending = {}
        state.delta = {}
        state.delta_indexes = {}
