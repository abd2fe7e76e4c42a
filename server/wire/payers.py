"""A payer on the wire: what it is (``supportable payers``, ``GET /v1/payers/<payer>``), what it
requires for a code (``explain-code``, ``GET /v1/payers/<payer>/codes/<code>``), how it differs from
another (``diff``), and the controlled vocabularies (``GET /v1/vocabulary``)."""
from __future__ import annotations

from typing import Any, Optional, Union

from typing_extensions import NotRequired, TypedDict

from .common import ProblemItem, wire
from .policy import (Disabled, EditChange, EditRow, Effective, Parameter, RuleEntry, disabled, edit_change, edit_row,
                     effective, parameter, rule_entry)


@wire
class PayerDescription(TypedDict):
    """What a loaded payer is: its chain, effective range, version, parameters, switched-off rules
    and the edit-table changes its overlays make."""
    id: str
    name: str
    extends: Optional[str]
    chain: list[str]
    effective: Effective
    policy_version: str
    rules: int
    parameters: dict[str, Parameter]
    disabled: list[Disabled]
    edit_changes: list[EditChange]
    edits_imported: Optional[str]    # digest of the imported CMS edit table, if any


def payer_description(policy) -> PayerDescription:
    edits = policy.edits
    return {"id": policy.payer, "name": policy.name, "extends": policy.extends, "chain": policy.chain,
            "effective": effective(policy.effective_from, policy.effective_to),
            "policy_version": policy.version, "rules": len(policy.rules),
            "parameters": {name: parameter(p) for name, p in sorted(policy.parameters.items())},
            "disabled": [disabled(d) for d in policy.disabled],
            "edit_changes": [edit_change(c) for layer in (edits.overlays if edits else []) for c in layer.changes],
            "edits_imported": edits.imported.digest if edits and edits.imported else None}


@wire
class PayerNotLoaded(TypedDict):
    """A payer whose policies do not load (``supportable payers``)."""
    id: str
    error: str
    problems: list[ProblemItem]


@wire
class Regions(TypedDict, total=False):
    min: int
    max: int
    kind: str


@wire
class CodeInfo(TypedDict):
    code: str
    name: str
    description: str
    kind: Optional[str]
    timed: bool
    one_on_one: bool
    unit_basis: Optional[str]
    unit_basis_meaning: str
    add_on_to: list[str]
    add_ons: list[str]
    regions: Optional[Regions]
    group: bool


@wire
class CodeEdits(TypedDict):
    column1_of: list[EditRow]
    column2_of: list[EditRow]
    mue: list[EditRow]
    disabled: list[EditChange]


@wire
class CodeRequirements(TypedDict):
    """What a payer requires for a code, merged over its layers, with sources."""
    payer: str
    name: str
    chain: list[str]
    policy_version: str
    code: CodeInfo
    unit_method: Optional[Parameter]
    edits: CodeEdits
    requirements: list[RuleEntry]
    units: list[RuleEntry]
    suggestions: list[RuleEntry]
    disabled: list[Disabled]
    parameters: list[Parameter]


def code_requirements(r) -> CodeRequirements:
    c, e = r.code, r.edits
    return {"payer": r.payer, "name": r.name, "chain": r.chain, "policy_version": r.policy_version,
            "code": {"code": c.code, "name": c.name, "description": c.description, "kind": c.kind, "timed": c.timed,
                     "one_on_one": c.one_on_one, "unit_basis": c.unit_basis,
                     "unit_basis_meaning": c.unit_basis_meaning, "add_on_to": c.add_on_to, "add_ons": c.add_ons,
                     "regions": c.regions, "group": c.group},
            "unit_method": parameter(r.unit_method) if r.unit_method else None,
            "edits": {"column1_of": [edit_row(x) for x in e.column1_of], "column2_of": [edit_row(x) for x in e.column2_of],
                      "mue": [edit_row(x) for x in e.mue], "disabled": [edit_change(x) for x in e.disabled]},
            "requirements": [rule_entry(u.rule, u.because) for u in r.requirements],
            "units": [rule_entry(u.rule, u.because) for u in r.units],
            "suggestions": [rule_entry(u.rule, u.because) for u in r.suggestions],
            "disabled": [disabled(d, with_text=True) for d in r.disabled],
            "parameters": [parameter(p) for p in r.parameters]}


# -- diff ---------------------------------------------------------------------------------------------
@wire
class DiffSide(TypedDict):
    payer: str
    chain: list[str]
    policy_version: str


@wire
class DiffSummary(TypedDict):
    added: int
    replaced: int
    removed: int
    parameters: int
    edits: int


@wire
class ReplacedRule(TypedDict):
    id: str
    before: RuleEntry
    after: RuleEntry


@wire
class RemovedRule(TypedDict):
    rule: RuleEntry
    change: str                      # disabled, or not_in_<payer>
    by: NotRequired[Disabled]


@wire
class ParameterChange(TypedDict):
    name: str
    before: Optional[Parameter]
    after: Optional[Parameter]


@wire
class EditRowAdded(EditRow):
    side: str
    action: str                      # add


@wire
class EditChangeMade(EditChange):
    side: str                        # to or from: which payer of the diff has it


PolicyDiff = wire(TypedDict("PolicyDiff", {
    "from": DiffSide, "to": DiffSide, "summary": DiffSummary, "added": list[RuleEntry],
    "replaced": list[ReplacedRule], "removed": list[RemovedRule], "parameters": list[ParameterChange],
    "edits": list[Union[EditRowAdded, EditChangeMade]]}))


def policy_diff(d) -> PolicyDiff:
    def side(p) -> DiffSide:
        return {"payer": p.payer, "chain": p.chain, "policy_version": p.version}

    added = [rule_entry(r) for r in d.added]
    replaced = [{"id": r.id, "before": rule_entry(r.before), "after": rule_entry(r.after)} for r in d.replaced]
    removed = []
    for r in d.removed:
        entry = {"rule": rule_entry(r.rule), "change": r.change}
        if r.by is not None:
            entry["by"] = disabled(r.by)
        removed.append(entry)
    params = [{"name": p.name, "before": parameter(p.before) if p.before else None,
               "after": parameter(p.after) if p.after else None} for p in d.parameters]
    edits = [{"side": e.side, "action": "add", **edit_row(e.row)} if e.row is not None
             else {"side": e.side, **edit_change(e.change)} for e in d.edits]
    return {"from": side(d.before), "to": side(d.after),
            "summary": {"added": len(added), "replaced": len(replaced), "removed": len(removed),
                        "parameters": len(params), "edits": len(edits)},
            "added": added, "replaced": replaced, "removed": removed, "parameters": params, "edits": edits}


Vocabulary = dict[str, list[dict[str, Any]]]     # entries as policies/vocabulary/*.yaml state them


def vocabulary(v) -> Vocabulary:
    return {name: [dict(e) for e in items.values()] for name, items in v.entries.items()}
