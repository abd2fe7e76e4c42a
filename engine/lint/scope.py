"""What the checks look at: every rule, parameter and disable entry as written in any layer, the
payers that load, the layers whose checks across payers are unsafe, and the files' index."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..overlay import BASE, Disable, Overlay
from ..parsed import ParsedPolicies
from ..policyset import PolicySet
from ..syntax import Parameter, Rule
from .index import Index


@dataclass
class Layers:
    rules: list[Rule] = field(default_factory=list)                     # every rule written, in any layer
    parameters: list[Parameter] = field(default_factory=list)           # every parameter set, in any layer
    disables: list[Disable] = field(default_factory=list)


@dataclass
class Scope:
    index: Index
    layers: Layers
    loaded: list[PolicySet]     # the payers that load, base first
    unsafe: set[str]            # layers of a payer that does not load: no checks across payers for them
    guidance: Path              # the folder rule sources name a file of
    root: Path                  # the repository: what shown paths are relative to


def definitions(parsed: ParsedPolicies, sets: dict[str, PolicySet]) -> Layers:
    """Every rule, parameter and disable entry as written, from the loaded payers; a layer whose own
    payer does not load is taken from its parse alone (what parses of it)."""
    out = Layers()
    if BASE in sets:
        out.rules += list(sets[BASE].rules)
        out.parameters += list(sets[BASE].parameters.values())
    else:
        rules, params = parsed.base()
        out.rules += rules
        out.parameters += list(params.values())
    for payer in parsed.sources.overlays():
        overlay: Overlay | None
        if payer in sets:
            overlay = sets[payer].overlays[-1]
        else:
            overlay = parsed.overlay(payer)
        if overlay is None:
            continue
        out.rules += [*overlay.add, *overlay.replace]
        out.parameters += list(overlay.parameters.values())
        out.disables += overlay.disable
    return out


def raw_chain(payer: str, index: Index) -> set[str]:
    """The layers a payer's overlay file names along its `extends` chain (read from the YAML alone)."""
    chain, current = {BASE}, payer
    while current and current != BASE and current not in chain:
        chain.add(current)
        current = index.extends(current)
    return chain


def ident(rule: Rule) -> tuple:
    """One rule as written (a payer that replaces it holds another rule of the same id)."""
    return (rule.layer, rule.id, rule.location)


def holders(rule: Rule, loaded: list[PolicySet]) -> list[PolicySet]:
    """The payers whose merged rule set holds this very rule."""
    key = ident(rule)
    return [p for p in loaded if (r := p.rule_index.get(rule.id)) is not None and ident(r) == key]


def names(items) -> str:
    """`a`, `b` and `c`."""
    items = [f"`{i}`" for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def show_dir(path: Path, root: Path) -> str:
    try:
        return os.path.relpath(Path(path).resolve(), root)
    except ValueError:
        return str(path)
