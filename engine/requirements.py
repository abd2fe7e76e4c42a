"""What a payer requires for one code, merged over all its layers (``supportable explain-code``).

A billing manager asks "what does Aetna need for 97112?". The answer is every decision rule of the
payer's merged rule set that can apply to a line billing that code: the denials (each a
requirement: what must be true, or must not be, for the line to pass), the unit rules and the
code suggestions, each with its layer, source, effective range and conditions, plus the parent
rules this payer switched off and the parameters the rules read.

A rule applies to a code unless its conditions rule the code out: a ``line_code`` of another code,
or a fact about the code that the catalog and policy facts contradict (``timed_code``,
``code_kind``, ``cmt_code``…). Conditions reached through helper predicates (``therapy_line``) are
unfolded into the rules that define them.
"""
from __future__ import annotations

import operator

from .errors import InputError, FieldProblem
from .explain import Explainer
from .facts import CATALOG_PREDICATES, INPUT_PREDICATES, PARAMETER_PREDICATES
from .policyset import PolicySet
from .syntax import Atom, Compare, Const, Negative, Positive, Rule, Var

_INPUTS = {p.name for p in INPUT_PREDICATES.values()}
_STATIC_INPUTS = {p.name for p in {**CATALOG_PREDICATES, **PARAMETER_PREDICATES}.values()}
_SECTIONS = (("deny", "requirements"), ("supportable_units", "units"), ("suggest", "suggestions"))


class _Relevance:
    def __init__(self, policy: PolicySet):
        self.policy = policy
        self.by_head = policy.program.by_head
        # Predicates whose facts do not depend on the encounter (the compiler works them out).
        self.static = set(_STATIC_INPUTS) | set(policy.program.static_derived)
        # Facts that hold whatever the encounter says: catalog, parameters, policy facts.
        self.model = policy.evaluator.evaluate([])
        self.explainer = Explainer(policy.program, self.model)

    def applies(self, rule: Rule, code: str) -> bool:
        head = rule.clause.head
        line = head.args[0] if head.args and isinstance(head.args[0], Var) else None
        return self._body_allows(rule, {line.name} if line else set(), set(), code, depth=3)

    def _body_allows(self, rule: Rule, line_vars: set[str], code_vars: set[str], code: str, depth: int) -> bool:
        body = rule.clause.body
        code_vars = set(code_vars)
        for lit in body:
            if isinstance(lit, Positive) and lit.atom.pred == "line_code" and _is_var_in(lit.atom.args[0], line_vars):
                arg = lit.atom.args[1]
                if isinstance(arg, Const):
                    if arg.value != code:
                        return False
                elif not arg.anonymous:
                    code_vars.add(arg.name)
        bound = {v: code for v in code_vars}
        for lit in body:
            if isinstance(lit, Compare):
                left, right = _val(lit.left, bound), _val(lit.right, bound)
                if left is not None and right is not None and not _compare(left, lit.op, right):
                    return False
            elif isinstance(lit, (Positive, Negative)):
                atom = lit.atom
                if atom.pred in self.static:
                    if not atom.vars() <= code_vars:
                        if isinstance(lit, Positive) and next(self.explainer.matches(atom, bound), None) is None:
                            return False
                        continue
                    holds = next(self.explainer.matches(atom, bound), None) is not None
                    if holds != isinstance(lit, Positive):
                        return False
                elif isinstance(lit, Positive) and depth > 0 and atom.pred in self.by_head \
                        and atom.pred not in self.static and atom.args and _is_var_in(atom.args[0], line_vars):
                    if not any(self._unfold(atom, r, code_vars, code, depth) for r in self.by_head[atom.pred]):
                        return False
        return True

    def _unfold(self, atom: Atom, rule: Rule, code_vars: set[str], code: str, depth: int) -> bool:
        head = rule.clause.head
        line_vars, inner_code_vars = set(), set()
        for i, (outer, inner) in enumerate(zip(atom.args, head.args)):
            if isinstance(inner, Var) and not inner.anonymous:
                if i == 0:
                    line_vars.add(inner.name)
                if isinstance(outer, Var) and outer.name in code_vars:
                    inner_code_vars.add(inner.name)
            elif isinstance(inner, Const) and isinstance(outer, Var) and outer.name in code_vars:
                if inner.value != code:
                    return False
        return self._body_allows(rule, line_vars, inner_code_vars, code, depth - 1)


def _is_var_in(term, names: set[str]) -> bool:
    return isinstance(term, Var) and term.name in names


def _val(term, bound: dict):
    if isinstance(term, Const):
        return term.value
    return bound.get(term.name)


_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
        ">=": operator.ge}


def _compare(left, op, right) -> bool:
    """Whether the comparison can hold; a string compared with a number by order is undecided (True)."""
    try:
        return bool(_OPS[op](left, right))
    except TypeError:
        return True


def _params_read(rule: Rule, by_head: dict, seen: set[str] | None = None) -> set[str]:
    """Parameters a rule reads, directly or through the helper predicates it uses."""
    seen = set() if seen is None else seen
    if rule.id in seen:
        return set()
    seen.add(rule.id)
    names: set[str] = set()
    for lit in rule.clause.body:
        if not isinstance(lit, (Positive, Negative)):
            continue
        atom = lit.atom
        if atom.pred in ("param", "param_entry") and isinstance(atom.args[0], Const):
            names.add(str(atom.args[0].value))
        for helper in by_head.get(atom.pred, []):
            names |= _params_read(helper, by_head, seen)
    return names


def rule_entry(rule: Rule) -> dict:
    out = {"id": rule.id, "kind": rule.kind, "layer": rule.layer, "location": str(rule.location),
           "because": rule.because, "source": {"file": rule.source, "section": rule.section},
           "effective": {"from": rule.effective_from, "to": rule.effective_to},
           "rule": str(rule.clause)}
    if rule.replaces is not None:
        out["replaces"] = {"layer": rule.replaces.layer, "location": str(rule.replaces.location),
                           "rule": str(rule.replaces.clause)}
    return out


def explain_code(policy: PolicySet, code: str) -> dict:
    """Everything ``policy`` says about a line billing ``code`` (raises InputError for an unknown code)."""
    entry = policy.vocabulary.entries.get("code", {}).get(code)
    if entry is None:
        raise InputError([FieldProblem("code", f"unknown code `{code}`", "unknown_code")])
    relevance = _Relevance(policy)
    out: dict = {"payer": policy.payer, "name": policy.name, "chain": policy.chain,
                 "policy_version": policy.version,
                 "code": {"code": code, "name": entry.get("name", ""), "description": entry.get("description", ""),
                          "kind": entry.get("kind"), "timed": bool(entry.get("timed")),
                          "one_on_one": bool(entry.get("one_on_one"))}}
    method = policy.parameters.get("unit_method")
    out["unit_method"] = method.to_dict() if method else None
    params: set[str] = set()
    for pred, section in _SECTIONS:
        chosen = [r for r in policy.program.by_head.get(pred, []) if relevance.applies(_original(policy, r), code)]
        out[section] = [rule_entry(_original(policy, r)) for r in chosen]
        for r in chosen:
            params.update(_params_read(_original(policy, r), policy.program.by_head))
    out["disabled"] = [d.to_dict() | {"rule": str(d.rule.clause)} for d in policy.disabled
                       if d.rule is not None and d.rule.clause.head.pred in dict(_SECTIONS)
                       and relevance.applies(d.rule, code)]
    out["parameters"] = [policy.parameters[name].to_dict() for name in sorted(params) if name in policy.parameters]
    return out


def _original(policy: PolicySet, compiled: Rule) -> Rule:
    """The rule as written (the compiled copy carries effective-date premises)."""
    return policy.rule_index[compiled.id]
