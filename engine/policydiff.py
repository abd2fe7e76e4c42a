"""How two payers' merged rule sets differ (``supportable diff base aetna``).

Rules are compared by id over the whole ``extends`` chain of each side: rules only the second
has (added), rules only the first has (disabled by the second, with the reason, or simply not in
it), rules both have in different versions (replaced: which layer wrote each), and parameters
whose values differ. The edit tables differ by what the overlays of one chain and not the other
add, override and disable (both sides share the base and any imported table).
"""
from __future__ import annotations

from dataclasses import dataclass

from .edits import Edit, EditChange
from .overlay import Disable
from .policyset import PolicySet
from .syntax import Parameter, Rule


@dataclass
class Removed:
    """A rule the first payer has and the second does not: disabled by it (``by``), or simply not in it."""
    rule: Rule
    change: str                      # disabled, or not_in_<payer>
    by: Disable | None = None


@dataclass
class Replaced:
    id: str
    before: Rule
    after: Rule


@dataclass
class ParameterChange:
    name: str
    before: Parameter | None
    after: Parameter | None


@dataclass
class EditDifference:
    """An edit row (``row``) or change (``change``) one side's overlays make; ``side`` says which."""
    side: str                        # to (the second payer has it) or from (the first)
    row: Edit | None = None
    change: EditChange | None = None


@dataclass
class PolicyDiff:
    before: PolicySet
    after: PolicySet
    added: list[Rule]
    replaced: list[Replaced]
    removed: list[Removed]
    parameters: list[ParameterChange]
    edits: list[EditDifference]


def _same(a: Rule, b: Rule) -> bool:
    return (str(a.clause), a.because, a.source, a.section, a.effective_from, a.effective_to, a.kind, a.layer) == \
           (str(b.clause), b.because, b.source, b.section, b.effective_from, b.effective_to, b.kind, b.layer)


def _param_value(p):
    return p.table if p.is_table else p.value


def diff_policies(old: PolicySet, new: PolicySet) -> PolicyDiff:
    before, after = old.rule_index, new.rule_index
    disabled = {d.id: d for d in new.disabled}
    added = [after[i] for i in after if i not in before]
    removed = [Removed(before[rid], "disabled", disabled[rid]) if rid in disabled
               else Removed(before[rid], "not_in_" + new.payer) for rid in before if rid not in after]
    replaced = [Replaced(rid, before[rid], after[rid])
                for rid in after if rid in before and not _same(before[rid], after[rid])]
    edits = _edit_changes(old, new, "to") + _edit_changes(new, old, "from")
    params = []
    for name in sorted(set(old.parameters) | set(new.parameters)):
        a, b = old.parameters.get(name), new.parameters.get(name)
        if a is not None and b is not None and _param_value(a) == _param_value(b):
            continue
        params.append(ParameterChange(name, a, b))
    return PolicyDiff(old, new, added, replaced, removed, params, edits)


def _edit_changes(one: PolicySet, other: PolicySet, side: str) -> list[EditDifference]:
    """Edit rows and changes of the overlays in ``other``'s chain and not in ``one``'s: ``side`` says
    which payer of the diff has them."""
    if other.edits is None:
        return []
    out = []
    for layer in other.edits.overlays:
        if layer.name in one.chain:
            continue
        out += [EditDifference(side, row=row) for row in layer.rows]
        out += [EditDifference(side, change=change) for change in layer.changes]
    return out
