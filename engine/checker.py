"""Load-time checks of a rule set; every problem is collected with its file:line:column.

Checks: duplicate rule ids; unknown predicates and wrong arity; unknown builtins and wrong
builtin arity; rules that try to define an input predicate; unsafe variables (a variable of the
head, of a negation, of a comparison or of a builtin input that no positive literal binds);
recursion through negation or aggregation; constants outside their vocabulary; `because`
templates naming variables the rule does not have; the shape of the decision predicates;
parameters a rule reads that no layer sets (or reads as a value when it is a table, and the
reverse); ICD-10-CM groups a rule names that the code set does not have.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .builtins import BUILTINS
from .errors import Problems
from . import icd10
from .facts import CATALOG_PREDICATES, EDIT_PREDICATES, INPUT_PREDICATES, PARAMETER_PREDICATES
from .graphs import strongly_connected
from .suggest import did_you_mean
from .syntax import (Aggregate, Arith, Atom, Call, Compare, Const, Literal, Negative, Parameter, Positive, Rule, Var,
                     clause_vars, literal_vars, term_vars)
from .templates import TEMPLATE_VAR
from .vocabulary import Vocabulary

# Predicates the decision stage reads, with their arity.
DECISION_PREDICATES = {
    "deny": 1,               # deny(Line): the line is not supportable as billed; the rule id is the reason
    "deny_units": 1,         # deny_units(Line): the line earns no unit (read after the units are allocated)
    "suggest": 2,            # suggest(Line, Code): the documented intent calls for another code
    "supportable_units": 2,  # supportable_units(Line, Units)
    "unit_method": 1,        # unit_method(Method): how this policy set counts timed units
    "advise": 2,             # advise(Line, Topic): information for the line that denies nothing
}

class Unschedulable(Exception):
    def __init__(self, literal: Literal, unbound: set[str]):
        self.literal, self.unbound = literal, unbound


def needs_and_binds(lit: Literal, bound: set[str], outer: set[str]) -> tuple[set[str], set[str]]:
    """Variables a literal needs bound before it can run, and those it binds."""
    if isinstance(lit, Positive):
        return set(), lit.atom.vars()
    if isinstance(lit, Negative):
        return lit.atom.vars(), set()
    if isinstance(lit, Compare):
        lv, rv = term_vars(lit.left), term_vars(lit.right)
        if lit.op == "==":
            if lv <= bound or isinstance(lit.left, Const):
                return lv, rv
            if rv <= bound or isinstance(lit.right, Const):
                return rv, lv
            return lv | rv, set()
        return lv | rv, set()
    if isinstance(lit, Arith):
        return term_vars(lit.left, lit.right), term_vars(lit.result)
    if isinstance(lit, Call):
        spec = BUILTINS.get(lit.name)
        if spec is None or spec.arity != len(lit.args):
            return set(), term_vars(*lit.args)
        return (term_vars(*(lit.args[i] for i in spec.inputs)),
                term_vars(*(lit.args[i] for i in spec.outputs)))
    if isinstance(lit, Aggregate):
        return lit.inner_vars() & outer, term_vars(lit.result)
    raise TypeError(lit)


def vars_outside(lit: Literal, literals, head: Atom | None) -> set[str]:
    """Variables of the head and of every literal other than ``lit``."""
    out = set(head.vars()) if head else set()
    for other in literals:
        if other is not lit:
            out |= literal_vars(other)
    return out


def aggregate_groups(lit: Aggregate, clause_literals, head: Atom) -> list[str]:
    """Variables of an aggregate's body that also occur outside it (they group the aggregate)."""
    return sorted(lit.inner_vars() & vars_outside(lit, clause_literals, head))


def _schedule(body, head: Atom | None, initially) -> tuple[list[Literal], set[str]]:
    bound = set(initially)
    pending = list(body)
    ordered: list[Literal] = []
    while pending:
        for i, lit in enumerate(pending):
            needs, binds = needs_and_binds(lit, bound, vars_outside(lit, body, head))
            if needs <= bound:
                ordered.append(pending.pop(i))
                bound |= binds
                break
        else:
            lit = pending[0]
            needs, _ = needs_and_binds(lit, bound, vars_outside(lit, body, head))
            raise Unschedulable(lit, needs - bound)
    return ordered, bound


def schedule_body(body: tuple[Literal, ...], head: Atom | None, initially: set[str] = frozenset()) -> list[Literal]:
    """Order a body so each literal runs once what it needs is bound (pyDatalog evaluates left to
    right). Positive atoms keep their written order; tests move as early as they can."""
    return _schedule(body, head, initially)[0]


@dataclass
class ProgramInfo:
    derived: dict[str, list[Rule]] = field(default_factory=dict)   # pred key -> rules defining it
    arities: dict[str, int] = field(default_factory=dict)          # pred name -> arity


def check_rules(rules: list[Rule], vocab: Vocabulary, problems: Problems,
                parameters: dict[str, Parameter] | None = None) -> ProgramInfo:
    info = ProgramInfo()
    known_inputs = {**INPUT_PREDICATES, **EDIT_PREDICATES, **CATALOG_PREDICATES, **PARAMETER_PREDICATES}
    input_names = {p.name: p for p in known_inputs.values()}

    seen: dict[str, Rule] = {}
    for rule in rules:
        if rule.id in seen:
            problems.error("duplicate_rule_id", f"rule id `{rule.id}` is already used at {seen[rule.id].location}",
                           rule.location)
        else:
            seen[rule.id] = rule

    # Heads: what the policy derives.
    for rule in rules:
        head = rule.clause.head
        if head.pred in input_names:
            problems.error("defines_input_predicate", f"`{head.pred}` is an input predicate; rules cannot define it",
                           head.loc)
            continue
        if head.pred in DECISION_PREDICATES and DECISION_PREDICATES[head.pred] != len(head.args):
            problems.error("wrong_arity", f"`{head.pred}` takes {DECISION_PREDICATES[head.pred]} argument(s), "
                           f"not {len(head.args)}", head.loc)
            continue
        if head.pred in info.arities and info.arities[head.pred] != len(head.args):
            problems.error("wrong_arity", f"`{head.pred}` is defined with {info.arities[head.pred]} argument(s) "
                           f"elsewhere, here with {len(head.args)}", head.loc)
            continue
        info.arities[head.pred] = len(head.args)
        info.derived.setdefault(head.key, []).append(rule)

    graph: dict[str, set[tuple[str, bool]]] = {}
    for rule in rules:
        _check_rule(rule, info, input_names, vocab, problems, graph)
        _check_parameters(rule, parameters or {}, problems)
    _check_stratification(graph, info, problems)
    _check_builtin_constants(rules, info, problems, parameters or {})
    return info


def _check_parameters(rule: Rule, parameters: dict[str, Parameter], problems: Problems) -> None:
    for atom, _, _ in _atoms(rule.clause.body):
        if atom.pred not in ("param", "param_entry") or not atom.args:
            continue
        name = atom.args[0]
        if not isinstance(name, Const):
            problems.error("parameter_name_not_constant", f"`{atom}`: name the parameter (a constant), so it "
                           "can be checked against the layers that set it", atom.loc)
            continue
        param = parameters.get(str(name.value))
        if param is None:
            hint = did_you_mean(name.value, parameters)
            problems.error("unknown_parameter", f"rule `{rule.id}` reads parameter `{name.value}` but no layer "
                           f"sets it{hint}", atom.loc)
        elif atom.pred == "param" and param.is_table:
            problems.error("parameter_kind", f"parameter `{param.name}` is a table (set at {param.location}); "
                           f"read it with `param_entry({param.name}, Key, Value)`", atom.loc)
        elif atom.pred == "param_entry" and not param.is_table:
            problems.error("parameter_kind", f"parameter `{param.name}` is a single value (set at "
                           f"{param.location}); read it with `param({param.name}, Value)`", atom.loc)


_CONSTANT_CHECKS = {"icd10": (icd10.is_known, "an ICD-10-CM chapter range, block, category or code")}


def _check_builtin_constants(rules: list[Rule], info: ProgramInfo, problems: Problems,
                             parameters: dict[str, Parameter]) -> None:
    """Builtin arguments that must name something real (an ICD-10-CM group), written in the rule or
    in the facts of a predicate that feeds the argument."""
    for rule in rules:
        for lit in _all_literals(rule.clause.body):
            if not isinstance(lit, Call) or lit.name not in BUILTINS:
                continue
            spec = BUILTINS[lit.name]
            for pos, kind in spec.constants:
                if pos >= len(lit.args):
                    continue
                check, what = _CONSTANT_CHECKS[kind]
                arg = lit.args[pos]
                if isinstance(arg, Const):
                    if not check(str(arg.value)):
                        problems.error("unknown_constant", f"`{arg.value}` is not {what}", lit.loc)
                    continue
                for where, value in _facts_feeding(arg, rule, info, parameters):
                    if not check(str(value)):
                        problems.error("unknown_constant", f"`{value}` is not {what} (it is passed to "
                                       f"`@{lit.name}` by rule `{rule.id}`)", where)


def _facts_feeding(var: Var, rule: Rule, info: ProgramInfo, parameters: dict[str, Parameter]):
    """(located thing, value) for the values that can reach ``var``: facts of body predicates defined
    by facts only, and parameter values (``param``/``param_entry``)."""
    for lit in rule.clause.body:
        if not isinstance(lit, Positive):
            continue
        for pos, arg in enumerate(lit.atom.args):
            if not (isinstance(arg, Var) and arg.name == var.name):
                continue
            if lit.atom.pred in ("param", "param_entry") and isinstance(lit.atom.args[0], Const):
                param = parameters.get(str(lit.atom.args[0].value))
                if param is None or pos == 0:
                    continue
                if param.table is None:
                    yield param.value_location or param.location, param.value
                else:
                    for key, value in param.table.items():
                        yield param.value_location or param.location, key if pos == 1 else value
                continue
            defining = info.derived.get(lit.atom.key, [])
            if not defining or any(r.clause.body for r in defining):
                continue
            for fact_rule in defining:
                value = fact_rule.clause.head.args[pos]
                if isinstance(value, Const):
                    yield fact_rule.clause.head.loc, value.value


def _atoms(body: tuple[Literal, ...]):
    """(atom, negated, inside_aggregate) for every atom of a body, aggregates included."""
    for lit in body:
        if isinstance(lit, Positive):
            yield lit.atom, False, False
        elif isinstance(lit, Negative):
            yield lit.atom, True, False
        elif isinstance(lit, Aggregate):
            for atom, neg, _ in _atoms(lit.body):
                yield atom, neg, True


def _check_rule(rule, info, input_names, vocab, problems, graph) -> None:
    clause = rule.clause
    edges = graph.setdefault(clause.head.pred, set())
    for atom, negated, in_agg in _atoms(clause.body):
        if atom.pred in input_names:
            spec = input_names[atom.pred]
            if len(spec.params) != len(atom.args):
                problems.error("wrong_arity", f"`{atom.pred}` takes {len(spec.params)} argument(s) "
                               f"({', '.join(spec.params)}), not {len(atom.args)}", atom.loc)
                continue
            for arg, typ in zip(atom.args, spec.types):
                if isinstance(arg, Const) and typ and str(arg.value) not in vocab.ids(typ):
                    problems.error("unknown_constant", f"`{arg.value}` is not a known {typ.replace('_', ' ')}",
                                   atom.loc)
        elif atom.pred in info.arities:
            if info.arities[atom.pred] != len(atom.args):
                problems.error("wrong_arity", f"`{atom.pred}` is defined with {info.arities[atom.pred]} "
                               f"argument(s), not {len(atom.args)}", atom.loc)
                continue
            edges.add((atom.pred, negated or in_agg))
        elif atom.pred in DECISION_PREDICATES:
            continue  # read but never derived: simply empty
        else:
            problems.error("unknown_predicate", f"unknown predicate `{atom.pred}/{len(atom.args)}`: no rule "
                           f"defines it and the encounter does not provide it", atom.loc)
    for lit in _all_literals(clause.body):
        if isinstance(lit, Call):
            spec = BUILTINS.get(lit.name)
            if spec is None:
                problems.error("unknown_builtin", f"unknown builtin `@{lit.name}`; known: "
                               f"{', '.join('@' + n for n in sorted(BUILTINS))}", lit.loc)
            elif spec.arity != len(lit.args):
                problems.error("wrong_arity", f"`@{lit.name}` takes {spec.arity} argument(s) "
                               f"({', '.join(spec.params)}), not {len(lit.args)}", lit.loc)
    _check_safety(rule, problems)
    names = clause_vars(clause)
    for name in TEMPLATE_VAR.findall(rule.because):
        if name not in names:
            problems.error("unknown_template_variable", f"`because` names `{{{name}}}` but rule `{rule.id}` "
                           f"has no variable `{name}`", rule.location)


def _all_literals(body):
    for lit in body:
        yield lit
        if isinstance(lit, Aggregate):
            yield from _all_literals(lit.body)


def _check_safety(rule: Rule, problems: Problems) -> None:
    clause = rule.clause
    try:
        _, bound = _schedule(clause.body, clause.head, ())
    except Unschedulable as exc:
        names = ", ".join(f"`{v}`" for v in sorted(exc.unbound))
        problems.error("unsafe_variable", f"{names} in `{exc.literal}` is not bound by a positive literal "
                       f"of rule `{rule.id}`", exc.literal.loc or rule.location)
        return
    missing = clause.head.vars() - bound
    if missing:
        names = ", ".join(f"`{v}`" for v in sorted(missing))
        problems.error("unsafe_variable", f"head variable {names} of rule `{rule.id}` is not bound by its body",
                       clause.head.loc)
    for lit in clause.body:
        if isinstance(lit, Aggregate):
            if lit.func != "count" and lit.target is None:
                problems.error("aggregate_target", f"`{lit.func}` needs a variable to aggregate", lit.loc)
            try:
                schedule_body(lit.body, None)
            except Unschedulable as exc:
                names = ", ".join(f"`{v}`" for v in sorted(exc.unbound))
                problems.error("unsafe_variable", f"{names} in `{exc.literal}` is not bound inside the aggregate",
                               exc.literal.loc or lit.loc)
            if lit.target is not None and lit.target.name not in lit.inner_vars():
                problems.error("aggregate_target", f"`{lit.target}` does not occur in the aggregate's body", lit.loc)


def _check_stratification(graph: dict[str, set[tuple[str, bool]]], info: ProgramInfo, problems: Problems) -> None:
    """A negative (or aggregate) edge inside one strongly connected component is recursion through
    negation."""
    sccs = strongly_connected({v: [w for w, _ in edges] for v, edges in graph.items()})
    for comp in sccs:
        for v in comp:
            for w, negative in graph.get(v, ()):
                if negative and w in comp:
                    rules = info.derived.get(f"{v}/{info.arities.get(v, 0)}", [])
                    loc = rules[0].location if rules else None
                    problems.error("negation_cycle", f"`{v}` depends on `{w}` through negation or an aggregate "
                                   f"while `{w}` depends on `{v}`: the rules have no stratified meaning", loc)
