"""Payer overlays: one YAML file per payer under ``payers/``, layered on the base CPT guidance.

An overlay names the layer it ``extends`` (``base`` or another payer) and changes it:
``disable`` (switch a parent rule off, with a reason), ``replace`` (a parent rule by id, with a
new body), ``add`` (new rules) and ``parameters`` (named values rules read; a child's value
replaces its parent's). Layers apply root first: base, then each overlay down the ``extends``
chain, and within one layer disable, then replace, then add, then parameters. The result is one
flat rule set in which every rule remembers the layer it came from (and the rule it replaced), so
proofs can say "denied by Aetna's same-day rule" rather than "denied".

See docs/overlays.md for the file format and the semantics in full.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .edits import EditLayer, parse_overlay_edits
from .errors import Location, Problems
from .loader import check_mapping, effective_range, _source, _text, load_parameters, load_rule, shown_path
from .remittance import RemittanceLayer, parse_table
from .suggest import did_you_mean
from .syntax import Parameter, Rule, body_atoms
from .sources import SourceFile, overlay_paths
from .yamlsource import Node

BASE = "base"
PAYER_ID = re.compile(r"^[a-z][a-z0-9_]*$")
OVERLAY_KEYS = {"id", "name", "extends", "effective", "description", "parameters", "add", "replace", "disable",
                "edits", "remittance"}
DISABLE_KEYS = {"id", "reason", "source"}


@dataclass(frozen=True)
class Disable:
    """A parent rule switched off by an overlay, and why."""
    id: str
    reason: str
    source: str
    section: str
    layer: str
    location: Location
    rule: Rule | None = None      # the rule it switched off (filled when layers are applied)


@dataclass
class Overlay:
    """One payer file, parsed and located (not yet applied)."""
    id: str
    name: str
    extends: str
    path: str
    location: Location                       # of the file's `id`
    extends_location: Location
    effective_from: str | None = None
    effective_to: str | None = None
    description: str = ""
    parameters: dict[str, Parameter] = field(default_factory=dict)
    add: list[Rule] = field(default_factory=list)
    replace: list[Rule] = field(default_factory=list)
    disable: list[Disable] = field(default_factory=list)
    edits: EditLayer | None = None          # rows of the edit tables it adds, overrides or disables
    remittance: RemittanceLayer | None = None   # its remittance codes by kind and rule (engine.remittance)


@dataclass
class LayeredRules:
    """The rule set of one payer after applying its chain of layers."""
    payer: str
    chain: list[str]                              # root first: ["base", "medicare", "aetna_medicare"]
    rules: list[Rule]
    parameters: dict[str, Parameter]
    disabled: list[Disable]
    overlays: list[Overlay]                       # the overlays of the chain, root first
    effective_from: str | None = None
    effective_to: str | None = None


def discover(payers_dir: Path | None) -> dict[str, Path]:
    """Payer ids (file stems) -> overlay file, for every ``*.yaml`` directly under ``payers_dir``."""
    if payers_dir is None or not Path(payers_dir).is_dir():
        return {}
    return {p.stem: p for p in overlay_paths(payers_dir) if p.stem != BASE}


def misplaced_base(payers_dir: Path | None) -> Path | None:
    """A ``base.yaml`` among the overlays: never loaded (the base layer is ``policies/base/``)."""
    if payers_dir is None:
        return None
    path = Path(payers_dir) / f"{BASE}.yaml"
    return path if path.is_file() else None


def parse_overlay(path: Path, problems: Problems, root: Path | None = None) -> Overlay | None:
    """The overlay file at ``path`` (a path wrapper of :func:`read_overlay`)."""
    return read_overlay(SourceFile.read(path, shown_path(path, root)), problems)


def read_overlay(source: SourceFile, problems: Problems, docs: dict[str, Node] | None = None) -> Overlay | None:
    """One payer overlay file (its text and shown name), parsed and checked on its own; ``docs`` as in
    ``loader.parse_rule_files``."""
    shown = source.shown
    doc = source.compose_into(problems, docs)
    if doc is None:
        return None
    if not doc.is_mapping:
        problems.error("overlay_format", "a payer overlay is a mapping with `id`, `name`, `extends`…", doc.location)
        return None
    for key, node in doc.items():
        if key not in OVERLAY_KEYS:
            problems.error("overlay_format", f"unknown top-level key `{key}`; use one of "
                           f"{', '.join(sorted(OVERLAY_KEYS))}", node.location)
    stem = source.stem
    payer_id = _text(doc.get("id"))
    if not payer_id:
        problems.error("overlay_format", "the overlay has no `id`", doc.location)
        return None
    id_loc = doc.get("id").location
    if not PAYER_ID.match(payer_id) or payer_id == BASE:
        problems.error("invalid_payer_id", f"payer id `{payer_id}` should be lowercase with underscores and "
                       f"not `{BASE}`", id_loc)
    if payer_id != stem:
        problems.error("payer_id_mismatch", f"payer id `{payer_id}` does not match its file name `{stem}.yaml`",
                       id_loc)
    name = _text(doc.get("name")) or ""
    if not name:
        problems.error("overlay_format", f"payer `{payer_id}` has no `name`", doc.location)
    extends_node = doc.get("extends")
    extends = _text(extends_node)
    if not extends:
        problems.error("missing_extends", f"payer `{payer_id}` does not say what it `extends` (`{BASE}` or "
                       "another payer)", doc.location)
        extends, extends_loc = BASE, doc.location
    else:
        extends_loc = extends_node.location
    overlay = Overlay(id=payer_id, name=name, extends=extends, path=shown, location=id_loc,
                      extends_location=extends_loc, description=_text(doc.get("description")) or "")
    overlay.effective_from, overlay.effective_to = effective_range(doc, "overlay_format", f"payer `{payer_id}`",
                                                                   problems)
    overlay.parameters = load_parameters(doc.get("parameters"), payer_id, problems)
    for section in ("add", "replace"):
        node = doc.get(section)
        if node is None:
            continue
        for item in node.list_items(problems, "overlay_format", f"`{section}` is a list of rules"):
            rule = load_rule(item, payer_id, problems)
            if rule is not None:
                getattr(overlay, section).append(rule)
    node = doc.get("disable")
    if node is not None:
        if not node.is_sequence:
            problems.error("overlay_format", "`disable` is a list of `{id, reason, source}`", node.location)
        else:
            for item in node.children():
                entry = _load_disable(item, payer_id, problems)
                if entry is not None:
                    overlay.disable.append(entry)
    overlay.edits = parse_overlay_edits(doc.get("edits"), payer_id, problems)
    if doc.get("remittance") is not None:
        overlay.remittance = parse_table(doc.get("remittance"), payer_id, problems, overlay=True)
    _check_within_layer(overlay, problems)
    return overlay


def _load_disable(item: Node, layer: str, problems: Problems) -> Disable | None:
    if not check_mapping(item, DISABLE_KEYS, "overlay_format", "each `disable` entry is a mapping with `id` and "
                         "`reason`", "unknown key `{key}` in a `disable` entry", problems):
        return None
    rid = _text(item.get("id"))
    if not rid:
        problems.error("missing_rule_id", "`disable` entry has no `id`", item.location)
        return None
    reason = _text(item.get("reason"))
    if not reason:
        problems.error("missing_reason", f"disabling `{rid}` needs a `reason`", item.location)
    source, section = _source(item.get("source"), f"disabling `{rid}`", problems, required=False)
    return Disable(rid, reason or "", source, section, layer, item.get("id").location)


def _check_within_layer(overlay: Overlay, problems: Problems) -> None:
    """One change per rule id within a layer."""
    seen: dict[str, tuple[str, Location]] = {}
    changes = [("add", r.id, r.location) for r in overlay.add] + \
              [("replace", r.id, r.location) for r in overlay.replace] + \
              [("disable", d.id, d.location) for d in overlay.disable]
    for action, rid, loc in changes:
        if rid in seen:
            other_action, other_loc = seen[rid]
            problems.error("conflicting_change", f"rule `{rid}` is changed twice in payer `{overlay.id}`: "
                           f"{other_action} at {other_loc} and {action} here", loc)
        else:
            seen[rid] = (action, loc)


def _parse_file(item, problems: Problems, root: Path | None = None) -> Overlay | None:
    return read_overlay(item, problems) if isinstance(item, SourceFile) else parse_overlay(item, problems, root)


def resolve_chain(payer: str, payers: dict, problems: Problems, root: Path | None = None,
                  parse=_parse_file) -> list[Overlay]:
    """Parse ``payer`` and its ancestors (``payers``: id -> source file or path; ``parse`` may reuse
    earlier parses); root first. Reports unknown parents and cycles."""
    chain: list[Overlay] = []
    seen: list[str] = []
    current = payer
    while current != BASE:
        if current in seen:
            cycle = " -> ".join(seen[seen.index(current):] + [current])
            problems.error("extends_cycle", f"payers extend each other in a cycle: {cycle}",
                           chain[-1].extends_location)
            return []
        seen.append(current)
        path = payers.get(current)
        if path is None:
            known = [BASE, *payers]
            if chain:
                problems.error("unknown_parent", f"payer `{chain[-1].id}` extends `{current}`, which is neither "
                               f"`{BASE}` nor a payer in the payers folder{did_you_mean(current, known)}",
                               chain[-1].extends_location)
            else:
                problems.error("unknown_payer", f"no payer `{current}`; known: {', '.join(known)}", None)
            return []
        overlay = parse(path, problems, root)
        if overlay is None:
            return []
        chain.append(overlay)
        current = overlay.extends
    chain.reverse()
    return chain


def apply_layers(payer: str, base_rules: list[Rule], base_parameters: dict[str, Parameter],
                 overlays: list[Overlay], problems: Problems) -> LayeredRules:
    """Apply the overlays, root first, to the base rules and parameters."""
    rules: dict[str, Rule] = {}
    order: list[str] = []
    repeated: list[Rule] = []  # duplicate base ids, kept so the checker reports them with the rest
    for rule in base_rules:
        if rule.id in rules:
            repeated.append(rule)
            continue
        rules[rule.id] = rule
        order.append(rule.id)
    parameters = dict(base_parameters)
    disabled: list[Disable] = []
    gone: dict[str, Disable] = {}
    for overlay in overlays:
        for entry in overlay.disable:
            if entry.id not in rules:
                problems.error("unknown_rule_id", _missing(entry.id, "disable", overlay, rules, gone),
                               entry.location)
                continue
            done = replace(entry, rule=rules.pop(entry.id))
            order.remove(entry.id)
            disabled.append(done)
            gone[entry.id] = done
        for new in overlay.replace:
            old = rules.get(new.id)
            if old is None:
                problems.error("unknown_rule_id", _missing(new.id, "replace", overlay, rules, gone), new.location)
                continue
            rules[new.id] = replace(new, kind=new.kind or old.kind, replaces=old)
        for new in overlay.add:
            if new.id in gone:
                problems.error("disabled_rule_id", f"rule id `{new.id}` was disabled by payer `{gone[new.id].layer}` at "
                               f"{gone[new.id].location}; give the new rule an id of its own", new.location)
                continue
            if new.id in rules:
                old = rules[new.id]
                problems.error("duplicate_rule_id", f"rule `{new.id}` already exists in layer `{old.layer}` at "
                               f"{old.location}; use `replace` to change it", new.location)
                continue
            rules[new.id] = new
            order.append(new.id)
        for entry in overlay.disable:
            if entry.id in gone and gone[entry.id].layer == overlay.id:
                _check_still_defined(gone[entry.id], rules, problems)
        for name, new in overlay.parameters.items():
            old = parameters.get(name)
            if old is not None and old.is_table != new.is_table:
                problems.error("parameter_kind", f"parameter `{name}` is a {'table' if old.is_table else 'single value'}"
                               f" in layer `{old.layer}` ({old.location}); a layer that overrides it must set the "
                               "same kind", new.location)
                continue
            if old is not None and old.kind() != new.kind() and not old.is_table:
                problems.error("parameter_kind", f"parameter `{name}` holds a {old.kind()} in layer `{old.layer}` "
                               f"({old.location}); here it is a {new.kind()}, which rules comparing it would not "
                               "match", new.value_location or new.location)
                continue
            if old is not None and old.is_table and new.is_table and old.table and new.table and \
                    {type(k) for k in old.table} != {type(k) for k in new.table}:
                problems.error("parameter_kind", f"the keys of table `{name}` are "
                               f"{'/'.join(sorted({type(k).__name__ for k in old.table}))} in layer `{old.layer}` "
                               f"({old.location}) but {'/'.join(sorted({type(k).__name__ for k in new.table}))} "
                               "here", new.value_location or new.location)
                continue
            if old is not None and old.allowed:
                # A parent's `one_of` binds every layer below it; a child may narrow it, not widen it.
                wider = [v for v in new.allowed if v not in old.allowed]
                if wider:
                    problems.error("invalid_parameter", f"`one_of` of parameter `{name}` adds "
                                   f"{', '.join(f'`{v}`' for v in wider)}, which layer `{old.allowed_layer}` does not allow "
                                   f"({', '.join(map(str, old.allowed))}); a layer may narrow `one_of`, not widen it",
                                   new.location)
                    continue
                if new.value not in old.allowed:
                    problems.error("invalid_parameter", f"parameter `{name}` is `{new.value}`, not one of "
                                   f"{', '.join(map(str, old.allowed))} (allowed by layer `{old.allowed_layer}`)",
                                   new.value_location or new.location)
                    continue
                if not new.allowed:
                    new = replace(new, allowed=old.allowed, allowed_layer=old.allowed_layer)
            parameters[name] = new
    eff_from = max((o.effective_from for o in overlays if o.effective_from), default=None)
    eff_to = min((o.effective_to for o in overlays if o.effective_to), default=None)
    if eff_from and eff_to and eff_from >= eff_to and overlays:
        problems.error("empty_effective_range", f"payer `{payer}` would be in force from {eff_from} until {eff_to}: "
                       "the ranges of its chain do not overlap, so no date of service could be decided",
                       overlays[-1].location)
    return LayeredRules(payer=payer, chain=[BASE] + [o.id for o in overlays], rules=[rules[i] for i in order] + repeated,
                        parameters=parameters, disabled=disabled, overlays=list(overlays),
                        effective_from=eff_from, effective_to=eff_to)


def _check_still_defined(entry: Disable, rules: dict[str, Rule], problems: Problems) -> None:
    """Disabling the last rule that derives a predicate other rules read leaves them reading nothing."""
    head = entry.rule.clause.head
    if any(r.clause.head.key == head.key for r in rules.values()):
        return
    readers = sorted(r.id for r in rules.values() if _reads(r, head.pred))
    if readers:
        shown = ", ".join(f"`{r}`" for r in readers[:3]) + (" and others" if len(readers) > 3 else "")
        problems.error("disabled_rule_needed", f"disabling `{entry.id}` leaves nothing to derive "
                       f"`{head.key}`, which {shown} still read; disable those too, or `replace` this rule instead",
                       entry.location)


def _reads(rule: Rule, pred: str) -> bool:
    return any(a.pred == pred for a in body_atoms(rule.clause.body))


def _missing(rid: str, action: str, overlay: Overlay, rules: dict[str, Rule], gone: dict[str, Disable]) -> str:
    if rid in gone:
        return (f"cannot {action} `{rid}`: it was already disabled by payer `{gone[rid].layer}` at "
                f"{gone[rid].location}")
    return (f"cannot {action} `{rid}`: payer `{overlay.id}` extends `{overlay.extends}`, whose rules have no such "
            f"id{did_you_mean(rid, rules)}")
