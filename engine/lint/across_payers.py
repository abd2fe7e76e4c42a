"""The checks that need every payer holding a layer: rules that never fire, rules every extending
payer switches off, parameters no rule reads. Layers of a payer that does not load are skipped."""
from __future__ import annotations

from ..dateranges import SPAN
from ..errors import Problems
from ..liveness import STATIC_PREDICATES, Liveness, in_force, in_range
from ..policyset import PolicySet
from ..syntax import Atom, Const, Rule, body_atoms
from .scope import Scope, holders, names


def _dead_reason(rule: Rule, policy: PolicySet, liveness: Liveness) -> str:
    """Why a dead rule never holds under this payer."""
    if not in_range(rule, policy):
        return (f"its effective range ({SPAN.text(rule.effective_from, rule.effective_to)}) lies outside the "
                f"dates `{policy.payer}` is in force ({policy.effective_text()})")
    blocker = liveness.blocker(rule.id)
    if blocker is None:
        return "it depends on rules that cannot fire"
    if blocker.kind == "never_holds":
        return f"`{blocker.literal}` never holds{_actual(blocker.literal.atom, policy)}"
    return f"it needs `{blocker.literal.atom.key}`, which no rule that can fire derives"


def _actual(atom: Atom, policy: PolicySet) -> str:
    if atom.pred == "param" and atom.args:
        param = policy.parameters.get(str(atom.args[0].value))
        if param is not None and param.table is None:
            return f" (`{param.name}` is `{param.value}`, set by `{param.layer}`)"
    return ""


def check_never_fires(scope: Scope, out: Problems) -> None:
    """Under every payer whose merged rule set holds the rule, it is dead: a premise about the catalog
    or the parameters never holds (:mod:`engine.liveness` with that payer's static facts), it needs a
    predicate that only such dead rules derive, or its effective range lies outside the dates the payer
    is in force (a rule out of range also kills what depends on it only)."""
    liveness: dict[str, Liveness] = {}
    for rule in scope.layers.rules:
        if rule.layer in scope.unsafe:
            continue
        having = holders(rule, scope.loaded)
        if not having:
            continue
        for p in having:
            if p.payer not in liveness:
                liveness[p.payer] = in_force(p)
        if any(rule.id in liveness[p.payer].live for p in having):
            continue
        by_reason: dict[str, list[str]] = {}
        for p in having:
            by_reason.setdefault(_dead_reason(rule, p, liveness[p.payer]), []).append(p.payer)
        why = "; ".join(f"under {names(payers)}, {reason}" for reason, payers in by_reason.items())
        out.warning("rule_never_fires", f"rule `{rule.id}` can never fire in any payer that has it: {why}",
                    rule.location)


def check_shadowed(scope: Scope, out: Problems) -> None:
    """Every payer that extends the rule's layer disables or replaces it, so it applies only under that
    layer alone; the message names who disables or replaces it."""
    for rule in scope.layers.rules:
        if rule.layer in scope.unsafe:
            continue
        extending = [p for p in scope.loaded if rule.layer in p.chain and p.payer != rule.layer]
        if not extending or holders(rule, extending):
            continue
        causes: dict[tuple, None] = {}
        for p in extending:
            below = p.overlays[p.chain.index(rule.layer):]     # the overlays after the rule's layer
            for overlay in below:
                d = next((d for d in overlay.disable if d.id == rule.id), None)
                r = next((r for r in overlay.replace if r.id == rule.id), None)
                if d is not None:
                    causes[("disabled", overlay.id, str(d.location))] = None
                    break
                if r is not None:
                    causes[("replaced", overlay.id, str(r.location))] = None
                    break
        who = ", ".join(f"{action} by `{layer}` at {loc}" for action, layer, loc in causes)
        out.warning("rule_shadowed", f"rule `{rule.id}` of layer `{rule.layer}` applies only under `{rule.layer}` "
                    f"itself: every payer that extends it ({names(p.payer for p in extending)}) switches it off "
                    f"({who})", rule.location)


def _read_parameters(policy: PolicySet) -> set[str]:
    """The parameters the payer's rules read, and those that switch an edit change (`when`)."""
    read = {str(a.args[0].value) for r in policy.rules for a in body_atoms(r.clause.body)
            if a.pred in STATIC_PREDICATES and a.args and isinstance(a.args[0], Const)}
    return read | (policy.edits.switch_parameters() if policy.edits is not None else set())


def check_unused_parameters(scope: Scope, out: Problems) -> None:
    """A parameter set in a layer that no rule of any payer whose chain holds that layer reads
    (``param``/``param_entry`` with the parameter's name), and that switches no edit change (``when``),
    at the parameter's name."""
    read = {p.payer: _read_parameters(p) for p in scope.loaded}
    for param in scope.layers.parameters:
        if param.layer in scope.unsafe:
            continue
        having = [p for p in scope.loaded if param.layer in p.chain]
        if having and not any(param.name in read[p.payer] for p in having):
            out.warning("parameter_unused", f"parameter `{param.name}` set by `{param.layer}` is read by no rule of "
                        f"any payer that includes `{param.layer}` ({names(p.payer for p in having)}): no "
                        f"`param({param.name}, ...)` or `param_entry({param.name}, ...)`, and no edit change's `when`",
                        param.location)
