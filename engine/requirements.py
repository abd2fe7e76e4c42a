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

from dataclasses import dataclass, field

from .checker import DECISION_PREDICATES
from .comparison import compare
from .edits import Edit, EditChange
from .errors import InputError, FieldProblem
from .explain import Explainer, fill
from .facts import CATALOG_PREDICATES, EDIT_PREDICATES, INPUT_PREDICATES, PARAMETER_PREDICATES
from .overlay import Disable
from .policyset import PolicySet
from .syntax import Atom, Compare, Const, Negative, Positive, Parameter, Rule, Var

_INPUTS = {p.name for p in INPUT_PREDICATES.values()}
_EDIT_NAMES = {p.name for p in EDIT_PREDICATES.values()}
_STATIC_INPUTS = {p.name for p in {**CATALOG_PREDICATES, **PARAMETER_PREDICATES}.values()}
# Heads whose first argument is the line, and the one the units rules key by the code (a code's
# units, before they are shared among its lines).
_SECTIONS = (("deny", "requirements"), ("deny_units", "requirements"), ("code_units", "units"),
             ("supportable_units", "units"), ("suggest", "suggestions"))
_CODE_KEYED = ("code_units",)
_UNIT_BASIS = {"per_15_minutes": "timed, in 15-minute units (8 minutes or more past each full 15 earn a unit)",
               "per_session": "one unit per session, whatever the minutes",
               "initial_15_minutes": "the initial 15 minutes of the day's service: one unit, once per day",
               "each_additional_15_minutes": "an add-on for each further 15 minutes",
               "initial_2_hours": "the first two hours of the day's program: one unit, once per day",
               "each_additional_hour": "an add-on for each further hour"}


class _Relevance:
    def __init__(self, policy: PolicySet, code: str):
        self.policy = policy
        self.by_head = policy.program.by_head
        # Predicates whose facts do not depend on the encounter (the compiler works them out), and
        # the edit tables' rows for this code (any date), which decide whether the edit rules apply.
        self.static = set(_STATIC_INPUTS) | set(policy.program.static_derived) | _EDIT_NAMES
        # Facts that hold whatever the encounter says: catalog, parameters, policy facts, edit rows.
        self.model = policy.evaluator.evaluate(_edit_facts(policy, code))
        self.explainer = Explainer(policy.program, self.model)

    def applies(self, rule: Rule, code: str) -> bool:
        head = rule.clause.head
        first = head.args[0] if head.args and isinstance(head.args[0], Var) else None
        if head.pred in _CODE_KEYED:
            return self._body_allows(rule, set(), {first.name} if first else set(), code, depth=3)
        return self._body_allows(rule, {first.name} if first else set(), set(), code, depth=3)

    def code_vars(self, rule: Rule, depth: int = 3) -> set[str]:
        """The variables a rule binds to the line's code: ``Code`` in ``line_code(L, Code)`` with L the
        head's line, and in a helper that passes the code on (``initial_line(L, Code, _)``)."""
        head = rule.clause.head
        line = head.args[0].name if head.args and isinstance(head.args[0], Var) else None
        out: set[str] = set()
        if head.pred in _CODE_KEYED:
            return {line} if line else set()
        for lit in rule.clause.body:
            atom = lit.atom if isinstance(lit, Positive) else None
            if atom is None or not atom.args or not (isinstance(atom.args[0], Var) and atom.args[0].name == line):
                continue
            positions = {1} if atom.pred == "line_code" else self._code_positions(atom.pred, depth)
            out |= {atom.args[i].name for i in positions if i < len(atom.args) and isinstance(atom.args[i], Var)}
        return out

    def _code_positions(self, pred: str, depth: int) -> set[int]:
        """Argument positions of a derived predicate (line first) that every rule for it fills with the code."""
        rules = self.by_head.get(pred, [])
        if depth <= 0 or not rules:
            return set()
        found = None
        for r in rules:
            inner = self.code_vars(r, depth - 1)
            positions = {i for i, a in enumerate(r.clause.head.args) if isinstance(a, Var) and a.name in inner}
            found = positions if found is None else found & positions
        return found or set()

    def _body_allows(self, rule: Rule, line_vars: set[str], code_vars: set[str], code: str, depth: int) -> bool:
        body = rule.clause.body
        code_vars = set(code_vars)
        for lit in body:
            if not (isinstance(lit, Positive) and lit.atom.args and _is_var_in(lit.atom.args[0], line_vars)):
                continue
            positions = {1} if lit.atom.pred == "line_code" else self._code_positions(lit.atom.pred, depth)
            for i in positions:
                arg = lit.atom.args[i] if i < len(lit.atom.args) else None
                if isinstance(arg, Const):
                    if arg.value != code:
                        return False
                elif isinstance(arg, Var) and not arg.anonymous:
                    code_vars.add(arg.name)
        bound = {v: code for v in code_vars}
        # The static premises must hold together (a unit basis that is also an initial basis…).
        static = [lit for lit in body if isinstance(lit, Positive) and lit.atom.pred in self.static]
        if static and next(self.explainer._solve(rule, static, dict(bound), False), None) is None:
            return False
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
                        and atom.pred not in self.static and atom.args \
                        and (_is_var_in(atom.args[0], line_vars) or any(_is_var_in(a, code_vars) for a in atom.args)):
                    if not any(self._unfold(atom, r, code_vars, line_vars, code, depth)
                               for r in self.by_head[atom.pred]):
                        return False
        return True

    def _unfold(self, atom: Atom, rule: Rule, code_vars: set[str], outer_line_vars: set[str], code: str,
                depth: int) -> bool:
        head = rule.clause.head
        line_vars, inner_code_vars = set(), set()
        for i, (outer, inner) in enumerate(zip(atom.args, head.args)):
            if isinstance(inner, Var) and not inner.anonymous:
                if i == 0 and _is_var_in(outer, outer_line_vars):
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


def _compare(left, op, right) -> bool:
    """Whether the comparison can hold; a string compared with a number by order is undecided (True)."""
    return compare(left, op, right) is not False


def _params_read(rule: Rule, by_head: dict, seen: set[str] | None = None) -> set[str]:
    """Parameters a rule reads, directly or through the helper predicates it uses (not through another
    decision: a line left out of the units because it is denied does not make every denial's
    parameters this rule's)."""
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
        if atom.pred in DECISION_PREDICATES:
            continue
        for helper in by_head.get(atom.pred, []):
            names |= _params_read(helper, by_head, seen)
    return names


def _for_code(template: str, variables: set[str], code: str) -> str:
    """The `because` text with the code filled in and the values only an encounter gives shown as
    `<Name>` (`{Element}` -> `<Element>`)."""
    filled = fill(template, {v: code for v in variables})
    return filled.replace("{", "<").replace("}", ">")


@dataclass
class RuleUse:
    """A rule that can apply to a line billing the code, with its `because` for that code (the values
    only an encounter gives shown as `<Name>`)."""
    rule: Rule
    because: str


@dataclass
class CodeInfo:
    """What the vocabulary says about a code."""
    code: str
    name: str
    description: str
    kind: str | None
    timed: bool
    one_on_one: bool
    unit_basis: str | None
    unit_basis_meaning: str
    add_on_to: list[str]
    add_ons: list[str]
    regions: dict | None
    group: bool


@dataclass
class CodeEdits:
    """The PTP rows pairing the code with another (as column 1 and as column 2), its MUE rows, and the
    overlays' changes to them, every version and status, as the payer applies them."""
    column1_of: list[Edit] = field(default_factory=list)
    column2_of: list[Edit] = field(default_factory=list)
    mue: list[Edit] = field(default_factory=list)
    disabled: list[EditChange] = field(default_factory=list)


@dataclass
class CodeRequirements:
    """Everything a payer's merged policy says about a line billing one code."""
    payer: str
    name: str
    chain: list[str]
    policy_version: str
    code: CodeInfo
    unit_method: Parameter | None
    edits: CodeEdits
    requirements: list[RuleUse]
    units: list[RuleUse]
    suggestions: list[RuleUse]
    disabled: list[Disable]          # parent rules this payer switched off that could apply to the code
    parameters: list[Parameter]      # the parameters those rules read


def explain_code(policy: PolicySet, code: str) -> CodeRequirements:
    """Everything ``policy`` says about a line billing ``code`` (raises InputError for an unknown code)."""
    entry = policy.vocabulary.entries.get("code", {}).get(code)
    if entry is None:
        raise InputError([FieldProblem("code", f"unknown code `{code}`", "unknown_code")])
    relevance = _Relevance(policy, code)
    basis = entry.get("unit_basis")
    info = CodeInfo(code, entry.get("name", ""), entry.get("description", ""), entry.get("kind"),
                    bool(entry.get("timed")), bool(entry.get("one_on_one")), basis, _UNIT_BASIS.get(basis, ""),
                    list(entry.get("add_on_to") or []),
                    sorted(c for c, e in policy.vocabulary.entries["code"].items() if code in (e.get("add_on_to") or [])),
                    entry.get("regions"), bool(entry.get("group")))
    sections: dict[str, list[RuleUse]] = {s: [] for _, s in _SECTIONS}
    params: set[str] = set()
    for pred, section in _SECTIONS:
        chosen = [_original(policy, r) for r in policy.program.by_head.get(pred, [])
                  if r.id in policy.program.live and relevance.applies(_original(policy, r), code)]
        sections[section] += [RuleUse(r, _for_code(r.because, relevance.code_vars(r), code)) for r in chosen]
        for r in chosen:
            params.update(_params_read(r, policy.program.by_head))
    disabled = [d for d in policy.disabled if d.rule is not None and d.rule.clause.head.pred in dict(_SECTIONS)
                and relevance.applies(d.rule, code)]
    return CodeRequirements(policy.payer, policy.name, policy.chain, policy.version, info,
                            policy.parameters.get("unit_method"), _edits(policy, code), sections["requirements"],
                            sections["units"], sections["suggestions"], disabled,
                            [policy.parameters[name] for name in sorted(params) if name in policy.parameters])


def _edit_facts(policy: PolicySet, code: str) -> list[tuple[str, tuple]]:
    """Edit facts for every active row naming ``code``, whatever its dates."""
    if policy.edits is None:
        return []
    found = policy.edits.involving(code)
    facts = []
    for row in found["ptp"]:
        if row.status == "active" and row.value != 9:
            facts.append(("ptp_edit", (*row.codes, row.value)))
            facts += [("ptp_evidence", (*row.codes, g)) for g in row.grounds]
    facts += [("mue_edit", (code, r.value, r.adjudication)) for r in found["mue"] if r.status == "active"]
    return list(dict.fromkeys(facts))


def _edits(policy: PolicySet, code: str) -> CodeEdits:
    """The PTP edits pairing ``code`` with another code (as column 1 and as column 2) and its MUE,
    every version and status, as this payer applies them."""
    if policy.edits is None:
        return CodeEdits()
    found = policy.edits.involving(code)
    return CodeEdits([r for r in found["ptp"] if r.codes[0] == code], [r for r in found["ptp"] if r.codes[1] == code],
                     list(found["mue"]), list(found["disabled"]))


def _original(policy: PolicySet, compiled: Rule) -> Rule:
    """The rule as written (the compiled copy carries effective-date premises)."""
    return policy.rule_index[compiled.id]
