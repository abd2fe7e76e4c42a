"""Evaluate a compiled program on one encounter's facts, with nothing leaking between encounters.

pyDatalog keeps its state per thread, and copies of a ``Logic`` share their fact stores, so each
(thread, program) pair gets an engine of its own, built once from the compiled clause specs and
then reused. Per encounter: the encounter's facts are asserted through the engine API, every
derived predicate is asked once (with variables only), and the facts are retracted in a
``finally`` block whatever happens. The result is a :class:`Model`: every fact that holds.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from pyDatalog import pyEngine
from pyDatalog.Logic import Logic

from .compiler import CompiledProgram, LitSpec


@dataclass(frozen=True)
class Model:
    """All facts that hold for one encounter: predicate name -> set of argument tuples; and, for facts
    taken from a table (the edit tables), the row each came from: (name, args) -> row."""
    facts: dict[str, frozenset[tuple]]
    provenance: dict = field(default_factory=dict)

    def holds(self, pred: str, args: tuple) -> bool:
        return args in self.facts.get(pred, ())

    def rows(self, pred: str) -> frozenset[tuple]:
        return self.facts.get(pred, frozenset())


class _ThreadEngine:
    """One pyDatalog engine holding one program, owned by one thread."""

    def __init__(self, program: CompiledProgram):
        pyEngine.Python_resolvers.update(program.resolvers)
        self.logic = object.__new__(Logic)
        Logic.tl.logic = self.logic
        pyEngine.clear()
        self.preds: dict[tuple[str, int], pyEngine.Pred] = {}
        for head, body in program.clauses:
            pyEngine.assert_(pyEngine.Clause(self._literal(head), [self._literal(b) for b in body]))
        for name, args in program.static_facts:
            pyEngine.assert_(self.fact(name, args))
        # In dependency order, so what an aggregate counts is solved before the rule that counts it.
        self.queries = [(name, pyEngine.Literal(self._pred(name, arity),
                                                [pyEngine.Var(f"Q{i}_") for i in range(arity)]))
                        for name, arity in dependency_order(program)]

    def _pred(self, name: str, arity: int):
        key = (name, arity)
        pred = self.preds.get(key)
        if pred is None:
            # Creating the literal by name sets up negation and primitives the way pyDatalog expects.
            pred = pyEngine.Literal(name, [pyEngine.Var("X")] * arity).pred
            if name.startswith("~"):
                # `not p(X)` needs p itself registered: with no fact of p asserted yet on this
                # thread's engine (an encounter with no one-on-one line), pyDatalog would fail
                # on it instead of finding nothing.
                self._pred(name[1:], arity)
            elif not pred.prim:
                # Registered even with no facts, so asking it finds nothing instead of failing.
                pyEngine.insert(pred)
            self.preds[key] = pred
        return pred

    def _literal(self, spec: LitSpec):
        name, terms = spec
        made = [pyEngine.Var(v) if kind == "v" else pyEngine.Const(v) for kind, v in terms]
        return pyEngine.Literal(self._pred(name, len(made)), made)

    def fact(self, name: str, args: tuple):
        return pyEngine.Clause(pyEngine.Literal(self._pred(name, len(args)),
                                                [pyEngine.Const(a) for a in args]), [])


def dependency_order(program: CompiledProgram) -> list[tuple[str, int]]:
    """The derived predicates, each after every predicate its clauses read (an aggregate's value
    predicate reads the aggregate's body predicate); ties in name order."""
    derived = dict(program.derived)
    reads: dict[str, set[str]] = {name: set() for name in derived}
    for (head, _), body in program.clauses:
        if head not in reads:
            continue
        for name, _terms in body:
            name = name.lstrip("~")
            if "_aggv" in name:
                name = name.replace("_aggv", "_agg", 1)
            if name in derived and name != head:
                reads[head].add(name)
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str) -> None:
        if state.get(name):
            return                          # done, or on the current path (positive recursion)
        state[name] = 1
        for dep in sorted(reads[name]):
            visit(dep)
        state[name] = 2
        order.append(name)

    for name in sorted(derived):
        visit(name)
    return [(name, derived[name]) for name in order]


def _ask_all(queries) -> list[tuple[str, list[tuple]]]:
    """Ask every query with one subgoal table shared across them.

    ``Literal.ask`` starts each query with an empty table, so a predicate used by several others
    is derived again for each of them. Within one encounter the facts do not change between
    queries, and every subgoal is complete when a query returns (the programs are stratified), so
    the table can be kept for the whole encounter: each subgoal is solved once. This follows
    ``pyEngine.Literal.ask`` step for step, except that it keeps the table.
    """
    ts = Logic.tl.logic
    saved = ts.Tasks, ts.Recursive_Tasks, ts.Recursive, ts.Subgoals, ts.Goal
    ts.Subgoals = {}
    ts.supportable_shared = True      # aggregates may read what this table has solved (compiler.completed_rows)
    results = []
    try:
        for name, literal in queries:
            known = ts.Subgoals.get(literal.get_tag())
            if known is not None and not known.tasks and not known.clauses:
                goal = known
            else:
                ts.Tasks, ts.Recursive_Tasks = pyEngine.TaskList(), pyEngine.TaskDeque()
                ts.Goal = goal = pyEngine.Subgoal(literal)
                ts.gc_uncollected, ts.Recursive = True, False
                todo, arg = pyEngine.SEARCH, (goal,)
                while todo is not None:
                    res = todo(*arg)
                    if res is None:
                        break
                    todo, arg = res
                # The search does not table the goal it started from: table it, complete, so later
                # queries and aggregates (compiler.completed_rows) read it instead of solving it again.
                ts.Subgoals.setdefault(literal.get_tag(), goal)
            facts = goal.facts
            rows = [tuple(t.id for t in lit.terms) for lit in facts.values()] if isinstance(facts, dict) else []
            results.append((name, rows))
    finally:
        ts.Tasks, ts.Recursive_Tasks, ts.Recursive, ts.Subgoals, ts.Goal = saved
        ts.supportable_shared = False
    return results


def solve_static(program: CompiledProgram) -> CompiledProgram:
    """The program with its encounter-independent predicates solved once and given to pyDatalog as
    facts: per encounter pyDatalog then neither re-derives nor materialises them. This is the build's
    ``solve_static`` stage (engine.build): its output is what the :class:`Evaluator` runs, while the
    program it was given stays the policy set's ``program``, whose rules the explainer proves those
    facts from (from the catalog, as before)."""
    if not program.static_derived:
        return program
    saved = getattr(Logic.tl, "logic", None)
    try:
        engine = _ThreadEngine(program)
        wanted = [(name, query) for name, query in engine.queries if name in program.static_derived]
        solved = [(name, row) for name, rows in _ask_all(wanted) for row in rows]
    finally:
        if saved is not None:
            Logic.tl.logic = saved
        elif hasattr(Logic.tl, "logic"):
            del Logic.tl.logic  # do not keep the throwaway engine alive through the thread-local
    return replace(program,
                   clauses=[c for c in program.clauses if c[0][0] not in program.static_derived],
                   static_facts=list(program.static_facts) + solved,
                   derived=[d for d in program.derived if d[0] not in program.static_derived])


_with_static_part_solved = solve_static     # its old name


class Evaluator:
    """Evaluates one compiled program, as given (give it ``solve_static(program)`` to have the static
    part solved once); safe to share between threads."""

    engine = "pydatalog"        # its name among the engines (engine.engine_names)

    def __init__(self, program: CompiledProgram):
        self.program = program
        self._local = threading.local()
        # Catalog facts, parameters and what the rules derive from them alone are the same for
        # every encounter: their part of the model is built once.
        static: dict[str, set] = {}
        padded = self.program.padded
        for name, args in self.program.static_facts:
            static.setdefault(name, set()).add(() if name in padded else args)
        self._static = {name: frozenset(rows) for name, rows in static.items()}

    def _engine(self) -> _ThreadEngine:
        engine = getattr(self._local, "engine", None)
        if engine is None:
            engine = _ThreadEngine(self.program)
            self._local.engine = engine
        Logic.tl.logic = engine.logic
        return engine

    def evaluate(self, facts: list[tuple[str, tuple]], provenance: dict | None = None) -> Model:
        engine = self._engine()
        clauses = [engine.fact(name, args) for name, args in facts]
        for clause in clauses:
            pyEngine.assert_(clause)
        try:
            out: dict[str, set] = {}
            for name, args in facts:
                out.setdefault(name, set()).add(args)
            padded = self.program.padded
            for name, rows in _ask_all(engine.queries):
                if rows:
                    out.setdefault(name, set()).update([()] if name in padded else rows)
            return Model({**self._static, **{k: frozenset(v) for k, v in out.items()}}, provenance or {})
        finally:
            for clause in clauses:
                pyEngine.retract(clause)
