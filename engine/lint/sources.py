"""``missing_source`` / ``unknown_source``: what a rule, parameter, table row, disable entry, edit
row or remittance entry cites, against the guidance folder."""
from __future__ import annotations

import yaml

from ..errors import Location, Problem, Problems
from ..suggest import did_you_mean
from .index import IndexedFile, get
from .scope import Scope, show_dir


def edit_entries(loaded) -> list:
    """Edit rows and changes written in YAML (base tables, overlays' `edits:`), each once."""
    seen: dict[Location, object] = {}
    for policy in loaded:
        if policy.edits is None:
            continue
        for layer in [policy.edits.base, *policy.edits.overlays]:
            for entry in [*layer.rows, *layer.changes]:
                seen.setdefault(entry.location, entry)
    return list(seen.values())


def remittance_entries(loaded) -> list:
    """The remittance table's codes and entries (the base files', overlays' sections), each once."""
    seen: dict[Location, object] = {}
    for policy in loaded:
        table = getattr(policy, "remittance", None)
        if table is None:
            continue
        for entry in [*table.codes.values(), *table.by_kind.values(), *table.by_rule.values()]:
            seen.setdefault(entry.location, entry)
    return list(seen.values())


def check_sources(scope: Scope, out: Problems) -> None:
    """A rule (or parameter, table row, disable entry, edit row) citing an empty source, or a file that
    is not in the guidance folder (default ``shared/guidance`` beside the repository). Without the
    folder the check is skipped with one ``info`` note (``guidance_not_found``)."""
    guidance, root, index = scope.guidance, scope.root, scope.index
    if not guidance.is_dir():
        out.items.append(Problem("guidance_not_found", f"the guidance folder `{show_dir(guidance, root)}` does not "
                                 "exist, so sources are not checked against it (use --guidance DIR)", None, "info"))
        guidance = None
    known = sorted(p.name for p in guidance.iterdir() if p.is_file()) if guidance else []
    valid: dict[str, bool] = {}

    def is_valid(name: str) -> bool:
        if name not in valid:
            path = (guidance / name).resolve()
            valid[name] = path.is_file() and guidance.resolve() in path.parents
        return valid[name]

    def check(what: str, source: str, f: IndexedFile | None, holder: yaml.Node | None, fallback: Location) -> None:
        found = get(holder, "source") if holder is not None else None
        if not source.strip():
            # No `source` at all, or a mapping without `file`, is already the loader's error.
            if found and isinstance(found[1], yaml.ScalarNode):
                out.warning("missing_source", f"{what} cites an empty `source`; name the guidance file it rests on",
                            f.loc(found[0]))
            return
        if guidance is None or is_valid(source.strip()):
            return
        loc = fallback
        if found:
            value = found[1]
            file_node = get(value, "file")
            loc = f.loc(file_node[1] if file_node else value)
        out.warning("unknown_source", f"{what} cites `{source.strip()}`, which is not a file in the guidance "
                    f"folder {show_dir(guidance, root)}{did_you_mean(source.strip(), known)}", loc)

    for rule in scope.layers.rules:
        f, entry = index.entry(rule.location)
        check(f"rule `{rule.id}`", rule.source, f, entry, rule.location)
    for d in scope.layers.disables:
        if d.source:
            f, entry = index.entry(d.location)
            check(f"disabling `{d.id}`", d.source, f, entry, d.location)
    for p in scope.layers.parameters:
        f, spec = index.param(p)
        check(f"parameter `{p.name}`", p.source, f, spec, p.location)
        table = get(spec, "table") if spec is not None else None
        for key, (file, _section) in p.row_sources:
            row = None
            if table and isinstance(table[1], yaml.MappingNode):
                row = next((v for k, v in table[1].value if str(k.value) == str(key)), None)
            check(f"row `{key}` of parameter `{p.name}`", file, f, row, p.value_location or p.location)
    for e in edit_entries(scope.loaded):
        f, node = index.mapping(e.location)
        what = f"{e.table.upper()} edit {'/'.join(e.codes if hasattr(e, 'codes') else e.key)}"
        if hasattr(e, "action"):
            what = f"{e.action} of the {what}"
        check(what, e.source, f, node, e.location)
    for r in remittance_entries(scope.loaded):
        f, node = index.mapping(r.location)
        what = f"remittance {r.kind.upper()} {r.code}" if hasattr(r, "code") else f"the remittance entry `{r.key}`"
        check(what, r.source, f, node, r.location)
