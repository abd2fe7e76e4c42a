"""``because_unbound_variable``: a ``because`` naming a variable that has no value when the rule fires."""
from __future__ import annotations

from ..errors import Problems
from ..syntax import Aggregate, Arith, Call, Clause, Compare, Negative, Positive, Rule, clause_vars, literal_vars
from ..templates import TEMPLATE_VAR
from .index import get
from .scope import Scope


def check_because(scope: Scope, out: Problems) -> None:
    """``because`` names ``{Var}`` where ``Var`` has no value when the rule fires: it occurs only inside
    negations or inside an aggregate's braces, so the explainer prints ``{Var}`` as is. (A name the rule
    does not have at all, ``_``-placeholders included, is already the loader's
    ``unknown_template_variable`` error.)"""
    for rule in scope.layers.rules:
        _check_rule(rule, scope, out)


def _bound_when_fired(clause: Clause) -> set[str]:
    """Variables the explainer has a value for when the rule fires: the head's and those a top-level
    positive atom, equality, arithmetic, builtin or aggregate result gives a value."""
    bound = set(clause.head.vars())
    for lit in clause.body:
        if isinstance(lit, (Positive, Arith, Call)) or (isinstance(lit, Compare) and lit.op == "=="):
            bound |= literal_vars(lit)
        elif isinstance(lit, Aggregate) and not lit.result.anonymous:
            bound.add(lit.result.name)
    return bound


def _where_only(name: str, clause: Clause) -> str:
    in_neg = any(isinstance(lit, Negative) and name in lit.atom.vars() for lit in clause.body)
    in_agg = any(isinstance(lit, Aggregate) and name in lit.inner_vars() for lit in clause.body)
    if in_neg and in_agg:
        return "only inside negations and an aggregate's braces"
    if in_neg:
        return "only inside a negation (`not ...` binds nothing)"
    return "only inside an aggregate's braces (it has no single value there)"


def _check_rule(rule: Rule, scope: Scope, out: Problems) -> None:
    names = clause_vars(rule.clause)
    bound = _bound_when_fired(rule.clause)
    reported = set()
    for match in TEMPLATE_VAR.finditer(rule.because):
        name = match.group(1)
        if name not in names or name in bound or name in reported:
            continue   # a name the rule lacks is the loader's unknown_template_variable error
        reported.add(name)
        f, entry = scope.index.entry(rule.location)
        loc = rule.location
        found = get(entry, "because") if entry is not None else None
        if found:
            value = found[1]
            raw = f.text[value.start_mark.index:value.end_mark.index]
            at = raw.find("{" + name + "}")
            loc = f.at_index(value.start_mark.index + at) if at >= 0 else f.loc(value)
        out.warning("because_unbound_variable", f"`because` of rule `{rule.id}` names `{{{name}}}`, but `{name}` "
                    f"occurs {_where_only(name, rule.clause)}, so it has no value when the rule fires and the "
                    f"explanation would show `{{{name}}}` as written", loc)
