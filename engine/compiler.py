"""Checked rules -> a pyDatalog program, built clause by clause through the engine's own API.

Nothing is loaded from text: each rule becomes ``pyEngine.Clause`` objects whose literals are made
from the syntax tree. Compilation happens once per policy set; instantiating the program in a
thread (pyDatalog's state is per thread) replays the compiled clause specs into a fresh engine.

Lowering:
- a rule's ``effective`` range becomes premises on ``date_of_service``;
- the body is ordered so each literal runs once what it needs is bound;
- ``not p(X)`` becomes pyDatalog's ``~p(X)``; comparisons its ``==``, ``<``…;
- ``@builtin(...)`` and arithmetic become Python resolvers;
- ``N = count : { body }`` becomes an auxiliary predicate for the body plus a resolver that asks
  it with the group bound and folds the answers (no pyDatalog thread pool involved).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

from pyDatalog import pyEngine

from .builtins import ARITHMETIC, BUILTINS, Builtin
from .checker import aggregate_groups, schedule_body
from .liveness import Liveness
from .syntax import (Aggregate, Arith, Atom, Call, Clause, Compare, Const, Literal, Negative, Parameter, Positive,
                     Rule, Var)

EFFECTIVE_VAR = "EffectiveDate_"
_program_ids = itertools.count(1)


def with_effective_premises(rule: Rule) -> Rule:
    """The rule with its effective range written as premises, so the proof shows them too."""
    if not (rule.effective_from or rule.effective_to):
        return rule
    dos = Var(EFFECTIVE_VAR)
    extra: list[Literal] = [Positive(Atom("date_of_service", (dos,), rule.clause.head.loc))]
    if rule.effective_from:
        extra.append(Compare(dos, ">=", Const(rule.effective_from), rule.clause.head.loc))
    if rule.effective_to:
        extra.append(Compare(dos, "<", Const(rule.effective_to), rule.clause.head.loc))
    return replace(rule, clause=Clause(rule.clause.head, tuple(extra) + rule.clause.body))


# A term spec is ("v", name) or ("c", value); a literal spec is (pyDatalog predicate name, terms).
TermSpec = tuple[str, object]
LitSpec = tuple[str, tuple[TermSpec, ...]]


@dataclass
class AggregateSpec:
    aux_pred: str                 # auxiliary predicate holding the aggregate body's bindings
    groups: tuple[str, ...]       # group variables (first arguments of aux_pred)
    locals_: tuple[str, ...]      # local variables (remaining arguments)
    func: str
    target: str | None


@dataclass
class CompiledProgram:
    rules: list[Rule]                                    # with effective premises, in load order
    clauses: list[tuple[LitSpec, tuple[LitSpec, ...]]]   # rule clauses and policy facts
    static_facts: list[tuple[str, tuple]]                # catalog facts from the vocabulary
    derived: list[tuple[str, int]]                       # predicates to materialise per encounter
    aggregates: dict[str, dict[Aggregate, AggregateSpec]] = field(default_factory=dict)  # by rule id
    resolvers: dict[str, object] = field(default_factory=dict)  # resolver key -> function
    prefix: str = ""
    by_head: dict[str, list[Rule]] = field(default_factory=dict)          # head predicate -> rules
    explain_order: dict[str, list[Literal]] = field(default_factory=dict)  # rule id -> body order
    parameters: dict[str, Parameter] = field(default_factory=dict)        # name -> where it was set
    static_derived: frozenset[str] = frozenset()   # derived predicates that do not depend on the encounter
    live: frozenset[str] = frozenset()             # ids of the rules that can hold under these parameters
    padded: frozenset[str] = frozenset()           # 0-place predicates, given to pyDatalog with one constant


def _term(t) -> TermSpec:
    if isinstance(t, Var):
        return ("v", t.name)
    return ("c", t.value)


class _Fresh:
    def __init__(self):
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"Anon_{self.n}_"


# pyDatalog mishandles 0-place predicates once they are tabled (a ground subgoal searched again
# from a negation fails inside pyEngine), so `flag()` is compiled as `flag(1)`; the model gives the
# rows back without the constant (Evaluator), and rules, proofs and explanations never see it.
PAD: TermSpec = ("c", 1)


def _terms(args, fresh: _Fresh) -> tuple[TermSpec, ...]:
    if not args:
        return (PAD,)
    return tuple(("v", fresh()) if isinstance(a, Var) and a.anonymous else _term(a) for a in args)


def _builtin_resolver(spec: Builtin):
    def resolve(*terms):
        args = tuple(t.id if t.is_const() else None for t in terms)
        if any(args[i] is None for i in spec.inputs):
            return
        for full in spec.solve(args):
            yield full
    return resolve


# Builtins and arithmetic are the same for every program: one resolver each, made once.
BUILTIN_RESOLVERS = {f"_b_{spec.name}/{spec.arity}": _builtin_resolver(spec)
                     for spec in [*BUILTINS.values(), *ARITHMETIC.values()]}


def compile_program(rules: list[Rule], static_facts: list[tuple[str, tuple]],
                    parameters: dict[str, Parameter] | None = None) -> CompiledProgram:
    prefix = f"_p{next(_program_ids)}"
    parameters = dict(parameters or {})
    static_facts = list(static_facts) + [f for p in parameters.values() for f in p.facts()]
    program = CompiledProgram(rules=[with_effective_premises(r) for r in rules], clauses=[],
                              static_facts=static_facts, derived=[], prefix=prefix,
                              resolvers=dict(BUILTIN_RESOLVERS), parameters=parameters)
    derived: dict[str, int] = {}
    agg_counter = itertools.count(1)
    live = live_rules(program.rules, static_facts)
    for rule in program.rules:
        clause = rule.clause
        fresh = _Fresh()
        first_clause = len(program.clauses)
        rule_derived: dict[str, int] = {clause.head.pred: len(clause.head.args) or 1}
        head = (clause.head.pred, _terms(clause.head.args, fresh))
        body = _compile_body(clause.body, clause.head, rule.id, program, agg_counter, fresh, rule_derived)
        program.clauses.append((head, body))
        if rule.id in live:
            derived.update(rule_derived)
        else:
            # Never holds with this payer's parameters: kept for explanations (its why-not shows
            # the parameter that rules it out), but neither given to pyDatalog nor materialised.
            del program.clauses[first_clause:]
        program.by_head.setdefault(clause.head.pred, []).append(rule)
        # The explainer matches bodies with the head already bound: order them for that once.
        program.explain_order[rule.id] = schedule_body(clause.body, clause.head, clause.head.vars())
    program.derived = sorted(derived.items())
    program.static_derived = static_predicates([r for r in program.rules if r.id in live], static_facts)
    program.live = frozenset(live)
    program.padded = frozenset(r.clause.head.pred for r in program.rules if not r.clause.head.args)
    return program


def static_predicates(rules: list[Rule], static_facts: list[tuple[str, tuple]]) -> frozenset[str]:
    """Derived predicates whose facts are the same for every encounter: every rule defining them
    reads only catalog facts, parameters and other such predicates (``therapy_code``,
    ``cmt_code``…). The evaluator computes them once instead of once per encounter."""
    static = {name for name, _ in static_facts} | {"param", "param_entry"}
    by_head: dict[str, list[Rule]] = {}
    for rule in rules:
        by_head.setdefault(rule.clause.head.pred, []).append(rule)
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for pred, defining in by_head.items():
            if pred in found:
                continue
            if all(all((isinstance(lit, (Positive, Negative)) and (lit.atom.pred in static or lit.atom.pred in found))
                       or isinstance(lit, Compare) for lit in r.clause.body) for r in defining):
                found.add(pred)
                changed = True
    return frozenset(found)


def live_rules(rules: list[Rule], static_facts: list[tuple[str, tuple]]) -> set[str]:
    """Ids of the rules that can ever hold, given the facts that are the same for every encounter
    (catalog and parameters); see :mod:`engine.liveness`. Dead rules cost evaluation time on every
    encounter (pyDatalog's cost grows with the program) while never contributing a fact."""
    return Liveness(rules, static_facts).live


def _compile_body(body, head, rule_id, program, agg_counter, fresh, derived) -> tuple[LitSpec, ...]:
    out: list[LitSpec] = []
    for lit in schedule_body(body, head):
        if isinstance(lit, Positive):
            out.append((lit.atom.pred, _terms(lit.atom.args, fresh)))
        elif isinstance(lit, Negative):
            out.append(("~" + lit.atom.pred, _terms(lit.atom.args, fresh)))
        elif isinstance(lit, Compare):
            out.append((lit.op, (_term(lit.left), _term(lit.right))))
        elif isinstance(lit, Arith):
            spec = ARITHMETIC[lit.op]
            out.append((f"_b_{spec.name}", (_term(lit.left), _term(lit.right), _term(lit.result))))
        elif isinstance(lit, Call):
            out.append((f"_b_{lit.name}", _terms(lit.args, fresh)))
        elif isinstance(lit, Aggregate):
            out.append(_compile_aggregate(lit, body, head, rule_id, program, agg_counter, derived))
        else:
            raise TypeError(lit)
    return tuple(out)


def _compile_aggregate(lit: Aggregate, body, head, rule_id, program, agg_counter, derived) -> LitSpec:
    n = next(agg_counter)
    groups = tuple(aggregate_groups(lit, list(body), head))
    locals_ = tuple(sorted(lit.inner_vars() - set(groups)))
    aux = f"{program.prefix}_agg{n}"
    aux_head = Atom(aux, tuple(Var(v) for v in groups + locals_) + (Const(1),))
    fresh = _Fresh()
    aux_body = _compile_body(lit.body, aux_head, rule_id, program, agg_counter, fresh, derived)
    program.clauses.append(((aux, _terms(aux_head.args, fresh)), aux_body))
    derived[aux] = len(aux_head.args)
    spec = AggregateSpec(aux, groups, locals_, lit.func, lit.target.name if lit.target else None)
    program.aggregates.setdefault(rule_id, {})[lit] = spec
    value_pred = f"{program.prefix}_aggv{n}"
    program.resolvers[f"{value_pred}/{len(groups) + 1}"] = _aggregate_resolver(spec)
    return (value_pred, tuple(("v", g) for g in groups) + (_term(lit.result),))


def fold(func: str, values: list) -> object:
    if func == "count":
        return len(values)
    if func == "sum":
        return sum(values)
    if not values:
        return None
    return min(values) if func == "min" else max(values)


def aggregate_rows(spec: AggregateSpec, rows) -> object:
    """Fold the distinct bindings of an aggregate's body (rows of its auxiliary predicate)."""
    if spec.target is None:
        return fold(spec.func, list(rows))
    pos = len(spec.groups) + spec.locals_.index(spec.target)
    return fold(spec.func, [row[pos] for row in rows])


def completed_rows(pred: str, arity: int):
    """The facts of ``pred`` when the evaluator has already solved it, with every argument open, in the
    subgoal table it shares across one encounter's queries (see engine.evaluator._ask_all): the
    complete extension, since the program is stratified. None when it has not been solved yet."""
    from pyDatalog.Logic import Logic
    ts = getattr(Logic.tl, "logic", None)
    shared = getattr(ts, "supportable_shared", None) if ts is not None else None
    if not shared:
        return None
    known = ts.Subgoals.get((f"{pred}/{arity}",) + tuple(("v", i) for i in range(arity)))
    if known is None or known.tasks or known.clauses or not isinstance(known.facts, dict):
        return None
    return known.facts.values()


def _aggregate_resolver(spec: AggregateSpec):
    arity = len(spec.groups) + len(spec.locals_) + 1

    def resolve(*terms):
        group_terms, result = terms[:-1], terms[-1]
        if not all(t.is_const() for t in group_terms):
            return
        solved = completed_rows(spec.aux_pred, arity)
        if solved is not None:
            # Solved already in this encounter's shared table: filter it, rather than deriving the
            # aggregate's dependencies again in a fresh table, as ask() would.
            key = tuple(t.id for t in group_terms)
            n = len(key)
            rows = [row for row in (tuple(t.id for t in lit.terms) for lit in solved) if row[:n] == key]
        else:
            query = pyEngine.Literal(spec.aux_pred, list(group_terms) +
                                     [pyEngine.Var(f"L{i}_") for i in range(len(spec.locals_) + 1)])
            rows = query.ask() or []
        value = aggregate_rows(spec, rows)
        if value is None:
            return
        yield tuple(t.id for t in group_terms) + (value,)
    return resolve
