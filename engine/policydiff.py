"""How two payers' merged rule sets differ (``supportable diff base aetna``).

Rules are compared by id over the whole ``extends`` chain of each side: rules only the second
has (added), rules only the first has (disabled by the second, with the reason, or simply not in
it), rules both have in different versions (replaced: which layer wrote each), and parameters
whose values differ. The edit tables differ by what the overlays of one chain and not the other
add, override and disable (both sides share the base and any imported table).
"""
from __future__ import annotations

from .policyset import PolicySet
from .requirements import rule_entry
from .syntax import Rule


def _same(a: Rule, b: Rule) -> bool:
    return (str(a.clause), a.because, a.source, a.section, a.effective_from, a.effective_to, a.kind, a.layer) == \
           (str(b.clause), b.because, b.source, b.section, b.effective_from, b.effective_to, b.kind, b.layer)


def _param_value(p):
    return p.table if p.is_table else p.value


def diff_policies(old: PolicySet, new: PolicySet) -> dict:
    before, after = old.rule_index, new.rule_index
    disabled = {d.id: d for d in new.disabled}
    added = [rule_entry(after[i]) for i in after if i not in before]
    removed = []
    for rid in before:
        if rid in after:
            continue
        entry = {"rule": rule_entry(before[rid])}
        if rid in disabled:
            entry.update(change="disabled", by=disabled[rid].to_dict())
        else:
            entry.update(change="not_in_" + new.payer)
        removed.append(entry)
    replaced = [{"id": rid, "before": rule_entry(before[rid]), "after": rule_entry(after[rid])}
                for rid in after if rid in before and not _same(before[rid], after[rid])]
    edits = _edit_changes(old, new, "to") + _edit_changes(new, old, "from")
    params = []
    for name in sorted(set(old.parameters) | set(new.parameters)):
        a, b = old.parameters.get(name), new.parameters.get(name)
        if a is not None and b is not None and _param_value(a) == _param_value(b):
            continue
        params.append({"name": name, "before": a.to_dict() if a else None, "after": b.to_dict() if b else None})
    return {"from": {"payer": old.payer, "chain": old.chain, "policy_version": old.version},
            "to": {"payer": new.payer, "chain": new.chain, "policy_version": new.version},
            "summary": {"added": len(added), "replaced": len(replaced), "removed": len(removed),
                        "parameters": len(params), "edits": len(edits)},
            "added": added, "replaced": replaced, "removed": removed, "parameters": params, "edits": edits}


def _edit_changes(one: PolicySet, other: PolicySet, side: str) -> list[dict]:
    """Edit rows and changes of the overlays in ``other``'s chain and not in ``one``'s: ``side`` says
    which payer of the diff has them."""
    if other.edits is None:
        return []
    out = []
    for layer in other.edits.overlays:
        if layer.name in one.chain:
            continue
        out += [{"side": side, "action": "add", **row.to_dict()} for row in layer.rows]
        out += [{"side": side, **change.to_dict()} for change in layer.changes]
    return out
