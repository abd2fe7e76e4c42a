"""What a payer will require for a code before the service is given (the CDS Hooks coverage service).

Before a visit there are no minutes and no notes, so no verdict can be given on the service; what can
be said is what the payer's merged policy will ask of the line once it is billed. This module reads
that from :func:`explain_code` (every decision rule that can apply to a line billing the code) and
sorts each ``deny`` rule by what would satisfy it:

- ``prior_authorization``: the rule asks for a recorded prior authorization (the documentation element
  ``prior_authorization``);
- ``documentation``: the rule asks for documentation elements (``not documented(L, Element)``), each
  element listed (an element named by a policy fact, ``procedure_requirement(Element)``, is read from
  the payer's static facts);
- ``modifier``: the rule asks for a modifier (``not has_modifier(L, M)``, or through a helper such as
  ``discipline_modifier``), with the modifiers that would do and, for assistants, whose service needs it;
- ``limit``: a limit rule (``kind: limit``), with the cap and window parameters it reads;
- ``exclusion``: a coverage rule that applies when the patient's condition has a status
  (``condition_status(plateau)``: maintenance care);
- ``ineligible``: with the provider type given, an eligibility rule that denies every line that
  provider would bill (who may furnish the service);
- ``condition``: any other condition the line will have to meet (diagnoses, who may furnish it, code
  choice), listed as its rule's text.

A rule is left out when the payer's parameters or the date of service rule it out (a switch set to
``not_required``, a rule not in force on the date), judged from the rule's static premises and
comparisons only. Unit rules are left out: units come from minutes not yet spent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from .decision import _DOC_PREDS
from .explain import Explainer
from .policyset import PolicySet
from .requirements import CodeRequirements, RuleUse, _Relevance, _params_read, explain_code
from .syntax import Compare, Const, Negative, Positive, Rule, Var
from .templates import fill

PRIOR_AUTHORIZATION = "prior_authorization"
# Premises that only name the line being billed and its code.
_LINE_IDENTITY = ("line", "line_code", "line_position")
KINDS = ("prior_authorization", "documentation", "modifier", "limit", "exclusion", "ineligible", "condition",
         "prior_authorization_possible", "advised_documentation")


@dataclass
class Requirement:
    """One thing the payer will require of a line billing the code."""
    kind: str                                   # one of KINDS
    use: RuleUse                                # the rule and its `because` for the code
    elements: list[str] = field(default_factory=list)    # documentation elements, or modifiers (any one will do)
    texts: list[str] = field(default_factory=list)       # the `because` filled in for each way the rule applies
    when: list[str] = field(default_factory=list)        # the statuses an exclusion applies at (``plateau``)
    parameters: dict = field(default_factory=dict)       # the parameters the rule reads, by name
    always: bool = True                         # applies to every line billing the code (else: in the
                                                # circumstances its text names: a group the same day…)
    any_of: bool = False                        # the elements are alternatives (one of them will do)
    cap: int | None = None                      # a limit: services allowed in the window
    window_days: int | None = None              # a limit: the window, in days before the date of service


@dataclass
class ProspectiveRequirements:
    """What a payer's merged policy will require for a code on a date (or any date)."""
    code: CodeRequirements
    on: date | None
    requirements: list[Requirement]

    def of(self, kind: str) -> list[Requirement]:
        return [r for r in self.requirements if r.kind == kind]

    @property
    def documentation(self) -> list[str]:
        """Every documentation element every line billing the code must show (prior authorization apart;
        alternatives and circumstantial rules apart), in rule order."""
        seen: dict[str, None] = {}
        for r in self.of("documentation"):
            if not r.always or r.any_of:
                continue
            seen.update(dict.fromkeys(r.elements))
        return list(seen)


def prospective_requirements(policy: PolicySet, code: str, on: date | None = None,
                             provider_type: str | None = None) -> ProspectiveRequirements:
    """What ``policy`` will require of a line billing ``code`` on ``on`` (any date if None), furnished
    by a provider of ``provider_type`` (a vocabulary id; any provider if None): with a provider type,
    the rules reading the line's provider are judged for it (Medicare's CQ for a physical therapist
    assistant; who may furnish the service). Raises InputError for an unknown code (as
    :func:`explain_code`)."""
    described = explain_code(policy, code)
    relevance = _Relevance(policy, code)
    reader = _Reader(policy, relevance, code, on, provider_type)
    found = []
    for use in described.requirements:
        if use.rule.clause.head.pred != "deny" or not _in_force(use.rule, on):
            continue
        requirement = reader.read(use)
        if requirement is not None:
            found.append(requirement)
    for compiled in policy.program.by_head.get("advise", []):
        rule = policy.rule_index[compiled.id]
        if compiled.id in policy.program.live and _in_force(rule, on) and relevance.applies(rule, code):
            advice = reader.advice(RuleUse(rule, rule.because))
            if advice is not None:
                found.append(advice)
    return ProspectiveRequirements(described, on, found)


def services_in_window(history: list[tuple[date, str]], code: str, on: date, window_days: int) -> int:
    """How many of the services in ``history`` (date, code) billed ``code`` within ``window_days`` days
    before ``on`` (the date itself excluded: that is the service being asked about)."""
    start = on - timedelta(days=window_days)
    return sum(1 for when, billed in history if billed == code and start <= when < on)


def _in_force(rule: Rule, on: date | None) -> bool:
    if on is None:
        return True
    day = on.isoformat()
    return not ((rule.effective_from and day < rule.effective_from) or (rule.effective_to and day >= rule.effective_to))


class _Reader:
    def __init__(self, policy: PolicySet, relevance: _Relevance, code: str, on: date | None,
                 provider_type: str | None = None):
        self.policy, self.relevance, self.code, self.on = policy, relevance, code, on
        self.provider_type = provider_type
        self.explainer: Explainer = relevance.explainer

    def read(self, use: RuleUse) -> Requirement | None:
        rule = use.rule
        solutions = self._solutions(rule)
        if not solutions:
            return None          # the payer's parameters or the date rule it out
        params = {n: self.policy.parameters[n].value for n in sorted(_params_read(rule, self.policy.program.by_head))
                  if n in self.policy.parameters}
        texts = list(dict.fromkeys(fill(rule.because, s).replace("{", "<").replace("}", ">") for s in solutions))
        elements, modifiers, alternatives = self._negated(rule, solutions)
        always = self._always(rule)
        if PRIOR_AUTHORIZATION in elements:
            return Requirement("prior_authorization", use, [PRIOR_AUTHORIZATION], texts, parameters=params, always=always)
        if elements:
            return Requirement("documentation", use, elements, texts, parameters=params, always=always,
                               any_of=alternatives)
        if modifiers:
            return Requirement("modifier", use, modifiers, texts, parameters=params, always=always, any_of=True)
        if rule.kind == "limit":
            cap = next((v for n, v in params.items() if n.endswith("_cap") and isinstance(v, int)), None)
            window = next((v for n, v in params.items() if n.endswith("_window_days") and isinstance(v, int)), None)
            return Requirement("limit", use, [], texts, parameters=params, cap=cap, window_days=window, always=False)
        statuses = [lit.atom.args[0].value for lit in rule.clause.body if isinstance(lit, Positive)
                    and lit.atom.pred == "condition_status" and isinstance(lit.atom.args[0], Const)]
        if rule.kind == "coverage" and statuses:
            return Requirement("exclusion", use, [], texts, when=statuses, parameters=params, always=False)
        if rule.kind == "eligibility" and always and self.provider_type is not None:
            return Requirement("ineligible", use, [], texts, parameters=params)
        return Requirement("condition", use, [], texts, parameters=params, always=always)

    def _always(self, rule: Rule) -> bool:
        """Whether the rule's premises hold for every line billing the code, absent what it asks for:
        its only premises about the encounter name the line and its code (``line_code``, or a helper
        such as ``therapy_line`` built from the code's static facts) and the date; anything else
        (another line, the provider, the plan of care, the history) makes it depend on circumstances."""
        for lit in rule.clause.body:
            if isinstance(lit, Positive):
                pred = lit.atom.pred
                if pred in self.relevance.static or pred in _LINE_IDENTITY or pred in ("date_of_service",):
                    continue
                if pred == "line_provider" and self.provider_type is not None:
                    continue
                if not self._identity_helper(pred):
                    return False
            elif isinstance(lit, Negative):
                if lit.atom.pred in _DOC_PREDS or lit.atom.pred == "has_modifier" or lit.atom.pred in self.relevance.static:
                    continue
                if lit.atom.pred in self.policy.program.by_head and lit.atom.args and \
                        any(self._negated_helper_is_modifier(r) for r in self.policy.program.by_head[lit.atom.pred]):
                    continue
                return False
        return True

    def _identity_helper(self, pred: str) -> bool:
        rules = self.policy.program.by_head.get(pred, [])
        return bool(rules) and all(all(isinstance(l, Positive) and (l.atom.pred in _LINE_IDENTITY or l.atom.pred
                                                                    in self.relevance.static) for l in r.clause.body)
                                   for r in rules)

    @staticmethod
    def _negated_helper_is_modifier(rule: Rule) -> bool:
        return any(isinstance(l, Positive) and l.atom.pred == "has_modifier" for l in rule.clause.body)

    def advice(self, use: RuleUse) -> Requirement | None:
        """An ``advise`` rule (it denies nothing): a prior authorization the plan may ask for
        (``prior_authorization_possible``), or documentation the guidance advises
        (``advised_documentation``); other advice (a review, a code set) is no requirement."""
        rule = use.rule
        solutions = self._solutions(rule)
        topic = rule.clause.head.args[1] if len(rule.clause.head.args) > 1 else None
        if not solutions or not isinstance(topic, Const):
            return None
        texts = list(dict.fromkeys(fill(rule.because, s).replace("{", "<").replace("}", ">") for s in solutions))
        params = {n: self.policy.parameters[n].value for n in sorted(_params_read(rule, self.policy.program.by_head))
                  if n in self.policy.parameters}
        if topic.value == PRIOR_AUTHORIZATION:
            return Requirement("prior_authorization_possible", use, [PRIOR_AUTHORIZATION], texts, parameters=params,
                               always=self._always(rule))
        elements, _, _ = self._negated(rule, solutions)
        if elements:
            return Requirement("advised_documentation", use, elements, texts, parameters=params,
                               always=self._always(rule))
        return None

    def _solutions(self, rule: Rule) -> list[dict]:
        """The bindings under which the rule's static premises and the comparisons among their values
        (and the date of service) hold; [] when they cannot."""
        bound = {v: self.code for v in self.relevance.code_vars(rule)}
        body = rule.clause.body
        if self.on is not None:
            for lit in body:
                if isinstance(lit, Positive) and lit.atom.pred == "date_of_service" and isinstance(lit.atom.args[0], Var):
                    bound[lit.atom.args[0].name] = self.on.isoformat()
        if self.provider_type is not None:
            for lit in body:
                if isinstance(lit, Positive) and lit.atom.pred == "line_provider" and len(lit.atom.args) == 2 \
                        and isinstance(lit.atom.args[1], Var):
                    bound[lit.atom.args[1].name] = self.provider_type
        static = [lit for lit in body if isinstance(lit, Positive) and lit.atom.pred in self.relevance.static]
        known = set(bound) | {v for lit in static for v in lit.atom.vars()}
        compares = [lit for lit in body if isinstance(lit, Compare)
                    and all(not isinstance(t, Var) or t.name in known for t in (lit.left, lit.right))]
        # a static fact that must not hold, once its values are known (`not may_furnish(Service, Type)`)
        absent = [lit for lit in body if isinstance(lit, Negative) and lit.atom.pred in self.relevance.static
                  and lit.atom.vars() <= known] if self.provider_type is not None else []
        out = []
        for solution, _ in self.explainer._solve(rule, static + compares + absent, dict(bound), False):
            out.append(solution)
            if len(out) >= 64:
                break
        return out

    def _negated(self, rule: Rule, solutions: list[dict]) -> tuple[list[str], list[str], bool]:
        """The documentation elements and the modifiers the rule's negated premises ask for, and whether
        the elements are alternatives (two negated premises: either one documented will do)."""
        elements: dict[str, None] = {}
        modifiers: dict[str, None] = {}
        negated_docs = 0
        for lit in rule.clause.body:
            if not isinstance(lit, Negative) or len(lit.atom.args) < 2:
                continue
            atom = lit.atom
            if atom.pred in _DOC_PREDS:
                negated_docs += 1
                elements.update(dict.fromkeys(_values(atom.args[1], solutions)))
            elif atom.pred == "has_modifier":
                modifiers.update(dict.fromkeys(_values(atom.args[1], solutions)))
            elif atom.pred in self.policy.program.by_head:
                modifiers.update(dict.fromkeys(self._modifiers_through(atom.pred)))
        return [str(e) for e in elements], [str(m) for m in modifiers], negated_docs > 1

    def _modifiers_through(self, pred: str) -> list[str]:
        """The modifiers that would derive a helper such as ``discipline_modifier(L, M)``: those its
        rules' static premises allow for ``has_modifier(L, M)``."""
        found: list[str] = []
        for helper in self.policy.program.by_head.get(pred, []):
            body = helper.clause.body
            wanted = [lit.atom.args[1].name for lit in body if isinstance(lit, Positive)
                      and lit.atom.pred == "has_modifier" and len(lit.atom.args) == 2 and isinstance(lit.atom.args[1], Var)]
            if not wanted:
                continue
            static = [lit for lit in body if isinstance(lit, Positive) and lit.atom.pred in self.relevance.static]
            if not static:
                continue
            for solution, _ in self.explainer._solve(helper, static, {}, False):
                found += [str(solution[w]) for w in wanted if w in solution and str(solution[w]) not in found]
        return sorted(found)


def _values(term, solutions: list[dict]) -> list:
    if isinstance(term, Const):
        return [term.value]
    if isinstance(term, Var) and not term.anonymous:
        return list(dict.fromkeys(s[term.name] for s in solutions if term.name in s))
    return []
