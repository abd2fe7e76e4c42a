"""`supportable lint`: every problem the loader finds, for every payer at once, plus warnings
about policies that load but cannot mean what their author intended.

Errors are the :class:`~engine.errors.PolicyError` problems of loading each payer (``base`` and
every overlay in the payers folder) with :func:`engine.policyset.load_policy_set`, reported once
however many payers hit them (same level, code and location: the fullest payer's message is
kept), plus a ``base.yaml`` among the overlays (never loaded).

Warnings (``Problem`` with ``level="warning"``), each with a stable code and a ``file:line:col``:

``rule_never_fires``
    under every payer whose merged rule set holds the rule, it is dead: a premise about the
    catalog or the parameters never holds (:func:`engine.compiler.live_rules` with that payer's
    static facts), it needs a predicate that only such dead rules derive, or its effective range
    lies outside the dates the payer is in force (a rule out of range also kills what depends on
    it only).
``rule_shadowed``
    every payer that extends the rule's layer disables or replaces it, so it applies only under
    that layer alone; the message names who disables or replaces it.
``parameter_unused``
    a parameter set in a layer that no rule of any payer whose chain holds that layer reads
    (``param``/``param_entry`` with the parameter's name), and that switches no edit change
    (``when``), at the parameter's name.
``missing_source`` / ``unknown_source``
    a rule (or parameter, table row, disable entry) citing an empty source, or a file that is not
    in the guidance folder (default ``shared/guidance`` beside the repository). Without the folder
    the check is skipped with one ``info`` note.
``because_unbound_variable``
    ``because`` names ``{Var}`` where ``Var`` has no value when the rule fires: it occurs only
    inside negations or inside an aggregate's braces, so the explainer prints ``{Var}`` as is.
    (A name the rule does not have at all, ``_``-placeholders included, is already the loader's
    ``unknown_template_variable`` error.)
``overlapping_versions``
    two rules held together by one payer that are versions of one rule, and whose effective
    ranges overlap (within that payer's own range), so both fire on some dates. Versions are
    (a) the same clause up to the names of its variables (head and body in written order; the
    effective range is not part of the clause), or (b) ids that differ only by a version suffix
    on the last part, ``_v<digits>`` or a year ``_19xx``/``_20xx`` (``x.cap``, ``x.cap_v2``,
    ``x.cap_2026``), with the same head predicate. It is reported at the newer version (the later
    ``from``).

The cross-payer checks (never fires, shadowed, parameter unused) need every payer that holds a
layer: for the layers of a payer that does not load they are skipped, with an ``info`` note.
Overlapping versions are looked for in the payers that load; ``because`` and sources in every
rule that parses.
"""
from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from .compiler import live_rules
from .errors import Location, PolicyError, Problem, Problems
from .loader import load_rule_files, shown_path
from .overlay import BASE, Disable, Overlay, discover, misplaced_base, parse_overlay
from .policyset import ParsedSources, PolicySet, default_payers_dir, load_policy_set
from .syntax import (body_atoms, Aggregate, Arith, Atom, Call, Clause, Compare, Const, Negative, Parameter, Positive, Rule,
                     Var, clause_vars, literal_vars)
from .yamlsource import compose, read_text

WARNING_CODES = ("rule_never_fires", "rule_shadowed", "parameter_unused", "missing_source", "unknown_source",
                 "because_unbound_variable", "overlapping_versions")
_TEMPLATE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_VERSION_SUFFIX = re.compile(r"^(.*[a-z0-9])_(v\d+|(?:19|20)\d\d)$")
_STATIC = ("param", "param_entry")


def default_guidance_dir(policies_dir: Path) -> Path:
    """``shared/guidance`` beside the repository that holds ``policies/``."""
    return Path(policies_dir).resolve().parent.parent / "shared" / "guidance"


@dataclass
class LintReport:
    problems: list[Problem]
    payers: list[str] = field(default_factory=list)        # every payer linted
    failed: list[str] = field(default_factory=list)        # payers that do not load

    def count(self, level: str) -> int:
        return sum(1 for p in self.problems if p.level == level)

    @property
    def errors(self) -> int:
        return self.count("error")

    @property
    def warnings(self) -> int:
        return self.count("warning")

    def to_dict(self) -> dict:
        return {"problems": [p.to_dict() for p in self.problems],
                "summary": {"errors": self.errors, "warnings": self.warnings}}

    def text_lines(self) -> list[str]:
        return [str(p) for p in self.problems]


# --- the YAML files again, for the locations the loaded rules do not keep --------------------------

@dataclass
class _File:
    name: str                                   # as locations show it
    text: str
    root: yaml.Node | None
    entries: dict[tuple[int, int], yaml.MappingNode] = field(default_factory=dict)   # `id` value -> its mapping
    params: dict[tuple[int, int], yaml.Node] = field(default_factory=dict)           # name key -> spec
    mappings: dict[tuple[int, int], yaml.MappingNode] = field(default_factory=dict)  # every mapping by its start

    def loc(self, node: yaml.Node) -> Location:
        return Location(self.name, node.start_mark.line + 1, node.start_mark.column + 1)

    def at_index(self, index: int) -> Location:
        line = self.text.count("\n", 0, index) + 1
        return Location(self.name, line, index - (self.text.rfind("\n", 0, index) + 1) + 1)


def _get(node: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    return None


def _index_file(path: Path, name: str) -> _File | None:
    """The file's nodes by location, read as the loader reads it (the loader reports its problems)."""
    text, _ = read_text(path, name)
    root = compose(text, name)[0] if text is not None else None
    if root is None:
        return None
    f = _File(name, text, root)
    stack = [root]
    visited: set[int] = set()       # no aliases in policy files, but never walk a node twice
    while stack:
        node = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            f.mappings[(node.start_mark.line + 1, node.start_mark.column + 1)] = node
            found = _get(node, "id")
            if found and isinstance(found[1], yaml.ScalarNode):
                mark = found[1].start_mark
                f.entries[(mark.line + 1, mark.column + 1)] = node
            params = _get(node, "parameters")
            if params and isinstance(params[1], yaml.MappingNode):
                for k, v in params[1].value:
                    f.params[(k.start_mark.line + 1, k.start_mark.column + 1)] = v
            stack.extend(v for _, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return f


class _Index:
    def __init__(self, files: dict[str, _File], overlays: dict[str, _File]):
        self.files = files          # by the name locations show
        self.overlays = overlays    # by payer id (file stem)

    def entry(self, loc: Location | None) -> tuple[_File, yaml.MappingNode] | tuple[None, None]:
        f = self.files.get(loc.file) if loc else None
        node = f.entries.get((loc.line, loc.column)) if f else None
        return (f, node) if node is not None else (None, None)

    def mapping(self, loc: Location) -> tuple[_File, yaml.MappingNode] | tuple[None, None]:
        f = self.files.get(loc.file)
        node = f.mappings.get((loc.line, loc.column)) if f else None
        return (f, node) if node is not None else (None, None)

    def param(self, p: Parameter) -> tuple[_File, yaml.Node] | tuple[None, None]:
        f = self.files.get(p.location.file)
        node = f.params.get((p.location.line, p.location.column)) if f else None
        return (f, node) if node is not None else (None, None)

    def extends(self, payer: str) -> str | None:
        found = _get(self.overlays[payer].root, "extends") if payer in self.overlays else None
        return found[1].value if found and isinstance(found[1], yaml.ScalarNode) else None


# --- the report ---------------------------------------------------------------------------------

def lint(policies_dir: Path, payers_dir: Path | None = None, guidance_dir: Path | None = None,
         files: list[str | Path] | tuple = ()) -> LintReport:
    """Lint every payer of ``policies_dir`` (and ``payers_dir``); restrict to ``files`` if given."""
    policies_dir = Path(policies_dir)
    payers_dir = default_payers_dir(policies_dir) if payers_dir is None else Path(payers_dir)
    root = policies_dir.resolve().parent
    guidance = default_guidance_dir(policies_dir) if guidance_dir is None else Path(guidance_dir)
    overlay_paths = discover(payers_dir)
    payers = [BASE, *overlay_paths]
    base_paths = sorted((policies_dir / BASE).glob("*.yaml"))
    edit_paths = sorted((policies_dir / "edits").glob("*.yaml"))

    found: list[list[Problem]] = []         # per payer
    sets: dict[str, PolicySet] = {}
    failed: dict[str, list[Problem]] = {}
    sources = ParsedSources()
    for payer in payers:
        try:
            sets[payer] = load_policy_set(policies_dir, payer, payers_dir, sources)
            found.append(sets[payer].warnings)
        except PolicyError as exc:
            failed[payer] = exc.problems
            found.append(exc.problems)
    misplaced = misplaced_base(payers_dir)
    if misplaced is not None:
        found.append([Problem("invalid_payer_id", f"`{BASE}` is the base CPT guidance in policies/{BASE}/; this "
                             "overlay file is never loaded: give it another id and file name",
                             Location(shown_path(misplaced, root), 1, 1))])

    indexed = {path: _index_file(path, shown_path(path, root))
               for path in [*base_paths, *edit_paths, *overlay_paths.values()]}
    index = _Index({f.name: f for f in indexed.values() if f is not None},
                   {payer: indexed[path] for payer, path in overlay_paths.items() if indexed[path] is not None})
    layers = _definitions(root, sets, overlay_paths, base_paths)
    out = Problems()
    for rule in layers.rules:
        _check_because(rule, index, out)
    _check_sources(layers, index, guidance, root, out, _edit_entries(sets.values()))

    unsafe: set[str] = set()
    for payer in failed:
        unsafe |= _raw_chain(payer, index)
    if failed:
        out.items.append(Problem(
            "lint_checks_skipped", f"{_names(sorted(failed))} {'does' if len(failed) == 1 else 'do'} not load, so "
            f"rule_never_fires, rule_shadowed and parameter_unused are not checked for layer(s) "
            f"{_names(sorted(unsafe))}; fix the errors first", None, "info"))
    loaded = [sets[p] for p in payers if p in sets]
    _check_never_fires(layers.rules, loaded, unsafe, out)
    _check_shadowed(layers.rules, loaded, unsafe, out)
    _check_unused_parameters(layers.parameters, loaded, unsafe, out)
    _check_versions(loaded, out)

    problems = _merge(found) + out.items
    if files:
        problems = _only_files(problems, files, root, [*base_paths, *edit_paths, *overlay_paths.values(), misplaced,
                                                       *sorted((policies_dir / "vocabulary").glob("*.yaml"))])
    problems.sort(key=lambda p: (p.location or Location(""), p.code, p.message))
    return LintReport(problems, payers, sorted(failed))


def _names(items) -> str:
    items = [f"`{i}`" for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _merge(per_payer: list[list[Problem]]) -> list[Problem]:
    """One report of the problems several payers share. Problems with the same level, code and location
    are one problem seen by several payers (a message may differ by payer, as a did-you-mean hint drawn
    from that payer's parameters): the most informative payer's version is kept (the most problems at
    that place, then the longest messages). Within one payer every distinct problem is kept."""
    def key(p: Problem) -> tuple:
        return (p.level, p.code, p.location) if p.location else (p.level, p.code, p.message)
    best: dict[tuple, list[Problem]] = {}
    for problems in per_payer:
        mine: dict[tuple, list[Problem]] = {}
        for p in problems:
            if p not in mine.setdefault(key(p), []):
                mine[key(p)].append(p)
        for k, group in mine.items():
            rank = (len(group), sum(len(p.message) for p in group))
            old = best.get(k)
            if old is None or rank > (len(old), sum(len(p.message) for p in old)):
                best[k] = group
    return [p for group in best.values() for p in group]


def _only_files(problems: list[Problem], files, root: Path, known: list[Path | None]) -> list[Problem]:
    """Problems located in ``files`` (paths relative to the working directory or the repository root,
    or absolute), plus those that have no file at all (they concern every file)."""
    def candidates(name: str) -> set[Path]:
        p = Path(name)
        if p.is_absolute():
            return {p.resolve()}
        return {(Path.cwd() / p).resolve(), (root / p).resolve()}
    wanted: dict[str, set[Path]] = {str(f): candidates(str(f)) for f in files}
    every = set().union(*wanted.values())
    keep = [p for p in problems if p.location is None or candidates(p.location.file) & every]
    known_paths = {k.resolve() for k in known if k is not None}
    for name, paths in wanted.items():
        if not paths & known_paths:
            keep.append(Problem("not_a_policy_file", f"`{name}` is not a rule, overlay or vocabulary file that "
                                "the policies load; nothing is reported for it", Location(name), "info"))
    return keep


# --- what each layer defines ----------------------------------------------------------------------

@dataclass
class _Layers:
    rules: list[Rule] = field(default_factory=list)                     # every rule written, in any layer
    parameters: list[Parameter] = field(default_factory=list)           # every parameter set, in any layer
    disables: list[Disable] = field(default_factory=list)


def _definitions(root: Path, sets: dict[str, PolicySet], overlay_paths: dict[str, Path],
                 base_paths: list[Path]) -> _Layers:
    """Every rule, parameter and disable entry as written, from the loaded payers; a layer whose own
    payer does not load is parsed on its own (what parses of it)."""
    out = _Layers()
    if BASE in sets:
        out.rules += list(sets[BASE].rules)
        out.parameters += list(sets[BASE].parameters.values())
    else:
        rules, params = load_rule_files(base_paths, BASE, Problems(), root=root)
        out.rules += rules
        out.parameters += list(params.values())
    for payer, path in overlay_paths.items():
        overlay: Overlay | None
        if payer in sets:
            overlay = sets[payer].overlays[-1]
        else:
            overlay = parse_overlay(path, Problems(), root)
        if overlay is None:
            continue
        out.rules += [*overlay.add, *overlay.replace]
        out.parameters += list(overlay.parameters.values())
        out.disables += overlay.disable
    return out


def _raw_chain(payer: str, index: _Index) -> set[str]:
    """The layers a payer's overlay file names along its `extends` chain (read from the YAML alone)."""
    chain, current = {BASE}, payer
    while current and current != BASE and current not in chain:
        chain.add(current)
        current = index.extends(current)
    return chain


def _ident(rule: Rule) -> tuple:
    return (rule.layer, rule.id, rule.location)


# --- because ------------------------------------------------------------------------------------------

def _bound_when_fired(clause: Clause) -> set[str]:
    """Variables the explainer has a value for when the rule fires: the head's and those a top-level
    positive atom, equality, arithmetic, builtin or aggregate result gives a value."""
    bound = set(clause.head.vars())
    for lit in clause.body:
        if isinstance(lit, (Positive, Arith, Call)) or (isinstance(lit, Compare) and lit.op == "=="):
            bound |= literal_vars(lit)
        elif isinstance(lit, Aggregate) and not lit.result.anonymous:
            bound.add(lit.result.name)
    return bound


def _where_only(name: str, clause: Clause) -> str:
    in_neg = any(isinstance(lit, Negative) and name in lit.atom.vars() for lit in clause.body)
    in_agg = any(isinstance(lit, Aggregate) and name in lit.inner_vars() for lit in clause.body)
    if in_neg and in_agg:
        return "only inside negations and an aggregate's braces"
    if in_neg:
        return "only inside a negation (`not ...` binds nothing)"
    return "only inside an aggregate's braces (it has no single value there)"


def _check_because(rule: Rule, index: _Index, out: Problems) -> None:
    names = clause_vars(rule.clause)
    bound = _bound_when_fired(rule.clause)
    reported = set()
    for match in _TEMPLATE.finditer(rule.because):
        name = match.group(1)
        if name not in names or name in bound or name in reported:
            continue   # a name the rule lacks is the loader's unknown_template_variable error
        reported.add(name)
        f, entry = index.entry(rule.location)
        loc = rule.location
        found = _get(entry, "because") if entry is not None else None
        if found:
            value = found[1]
            raw = f.text[value.start_mark.index:value.end_mark.index]
            at = raw.find("{" + name + "}")
            loc = f.at_index(value.start_mark.index + at) if at >= 0 else f.loc(value)
        out.warning("because_unbound_variable", f"`because` of rule `{rule.id}` names `{{{name}}}`, but `{name}` "
                    f"occurs {_where_only(name, rule.clause)}, so it has no value when the rule fires and the "
                    f"explanation would show `{{{name}}}` as written", loc)


# --- sources --------------------------------------------------------------------------------------------

def _edit_entries(loaded) -> list:
    """Edit rows and changes written in YAML (base tables, overlays' `edits:`), each once."""
    seen: dict[Location, object] = {}
    for policy in loaded:
        if policy.edits is None:
            continue
        for layer in [policy.edits.base, *policy.edits.overlays]:
            for entry in [*layer.rows, *layer.changes]:
                seen.setdefault(entry.location, entry)
    return list(seen.values())


def _check_sources(layers: _Layers, index: _Index, guidance: Path, root: Path, out: Problems,
                   edits: list = ()) -> None:
    if not guidance.is_dir():
        out.items.append(Problem("guidance_not_found", f"the guidance folder `{_show_dir(guidance, root)}` does not "
                                 "exist, so sources are not checked against it (use --guidance DIR)", None, "info"))
        guidance = None
    known = sorted(p.name for p in guidance.iterdir() if p.is_file()) if guidance else []
    valid: dict[str, bool] = {}

    def is_valid(name: str) -> bool:
        if name not in valid:
            path = (guidance / name).resolve()
            valid[name] = path.is_file() and guidance.resolve() in path.parents
        return valid[name]

    def check(what: str, source: str, f: _File | None, holder: yaml.Node | None, fallback: Location) -> None:
        found = _get(holder, "source") if holder is not None else None
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
            file_node = _get(value, "file")
            loc = f.loc(file_node[1] if file_node else value)
        close = difflib.get_close_matches(source.strip(), known, n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        out.warning("unknown_source", f"{what} cites `{source.strip()}`, which is not a file in the guidance "
                    f"folder {_show_dir(guidance, root)}{hint}", loc)

    for rule in layers.rules:
        f, entry = index.entry(rule.location)
        check(f"rule `{rule.id}`", rule.source, f, entry, rule.location)
    for d in layers.disables:
        if d.source:
            f, entry = index.entry(d.location)
            check(f"disabling `{d.id}`", d.source, f, entry, d.location)
    for p in layers.parameters:
        f, spec = index.param(p)
        check(f"parameter `{p.name}`", p.source, f, spec, p.location)
        table = _get(spec, "table") if spec is not None else None
        for key, (file, _section) in p.row_sources:
            row = None
            if table and isinstance(table[1], yaml.MappingNode):
                row = next((v for k, v in table[1].value if str(k.value) == str(key)), None)
            check(f"row `{key}` of parameter `{p.name}`", file, f, row, p.value_location or p.location)
    for e in edits:
        f, node = index.mapping(e.location)
        what = f"{e.table.upper()} edit {'/'.join(e.codes if hasattr(e, 'codes') else e.key)}"
        if hasattr(e, "action"):
            what = f"{e.action} of the {what}"
        check(what, e.source, f, node, e.location)


def _show_dir(path: Path, root: Path) -> str:
    try:
        return os.path.relpath(Path(path).resolve(), root)
    except ValueError:
        return str(path)


# --- rules that never fire ----------------------------------------------------------------------------

_NEVER = Positive(Atom("param", (Const("(outside the payer's effective range)"), Const(0))))


def _in_range(rule: Rule, policy: PolicySet) -> bool:
    return _overlap([(rule.effective_from, rule.effective_to),
                     (policy.effective_from, policy.effective_to)]) is not None


def _overlap(ranges) -> tuple[str | None, str | None] | None:
    """The common part of [from, to) ranges (None: unbounded), or None if they do not meet."""
    lo = max((f for f, _ in ranges if f), default=None)
    hi = min((t for _, t in ranges if t), default=None)
    if lo and hi and lo >= hi:
        return None
    return lo, hi


def _range_text(lo: str | None, hi: str | None) -> str:
    if lo and hi:
        return f"from {lo} until {hi}"
    if lo:
        return f"from {lo} on"
    if hi:
        return f"until {hi}"
    return "on every date"


@dataclass
class _Liveness:
    policy: PolicySet
    rules: list[Rule]                 # the program's rules, out-of-range ones made dead
    live: set[str]
    static: dict[str, set[tuple]]

    def reason(self, rule: Rule) -> str:
        """Why a dead rule never holds under this payer."""
        p = self.policy
        if not _in_range(rule, p):
            return (f"its effective range ({_range_text(rule.effective_from, rule.effective_to)}) lies outside the "
                    f"dates `{p.payer}` is in force ({p.effective_text()})")
        heads = {r.clause.head.pred for r in self.rules}
        alive = {r.clause.head.pred for r in self.rules if r.id in self.live}
        program_rule = next((r for r in self.rules if r.id == rule.id), rule)
        for lit in program_rule.clause.body:
            if not isinstance(lit, (Positive, Negative)):
                continue
            atom = lit.atom
            if (atom.pred in self.static or atom.pred in _STATIC) and atom.pred not in heads and \
                    all(isinstance(a, Const) for a in atom.args):
                holds = tuple(a.value for a in atom.args) in self.static.get(atom.pred, ())
                if holds != isinstance(lit, Positive):
                    return f"`{lit}` never holds{self._actual(atom)}"
            elif isinstance(lit, Positive) and atom.pred in heads and atom.pred not in alive:
                return f"it needs `{atom.key}`, which no rule that can fire derives"
        return "it depends on rules that cannot fire"

    def _actual(self, atom: Atom) -> str:
        if atom.pred == "param" and atom.args:
            param = self.policy.parameters.get(str(atom.args[0].value))
            if param is not None and param.table is None:
                return f" (`{param.name}` is `{param.value}`, set by `{param.layer}`)"
        return ""


def _liveness(policy: PolicySet) -> _Liveness:
    rules = [r if _in_range(r, policy) else replace(r, clause=Clause(r.clause.head, (_NEVER,) + r.clause.body))
             for r in policy.program.rules]
    static: dict[str, set[tuple]] = {}
    for name, args in policy.program.static_facts:
        static.setdefault(name, set()).add(args)
    return _Liveness(policy, rules, live_rules(rules, policy.program.static_facts), static)


def _holders(rule: Rule, loaded: list[PolicySet]) -> list[PolicySet]:
    key = _ident(rule)
    return [p for p in loaded if (r := p.rule_index.get(rule.id)) is not None and _ident(r) == key]


def _check_never_fires(rules: list[Rule], loaded: list[PolicySet], unsafe: set[str], out: Problems) -> None:
    liveness: dict[str, _Liveness] = {}
    for rule in rules:
        if rule.layer in unsafe:
            continue
        holders = _holders(rule, loaded)
        if not holders:
            continue
        for p in holders:
            if p.payer not in liveness:
                liveness[p.payer] = _liveness(p)
        if any(rule.id in liveness[p.payer].live for p in holders):
            continue
        by_reason: dict[str, list[str]] = {}
        for p in holders:
            by_reason.setdefault(liveness[p.payer].reason(rule), []).append(p.payer)
        why = "; ".join(f"under {_names(payers)}, {reason}" for reason, payers in by_reason.items())
        out.warning("rule_never_fires", f"rule `{rule.id}` can never fire in any payer that has it: {why}",
                    rule.location)


# --- rules every extending payer switches off ----------------------------------------------------------

def _check_shadowed(rules: list[Rule], loaded: list[PolicySet], unsafe: set[str], out: Problems) -> None:
    for rule in rules:
        if rule.layer in unsafe:
            continue
        extending = [p for p in loaded if rule.layer in p.chain and p.payer != rule.layer]
        if not extending or _holders(rule, extending):
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
                    f"itself: every payer that extends it ({_names(p.payer for p in extending)}) switches it off "
                    f"({who})", rule.location)


# --- parameters no rule reads ------------------------------------------------------------------------

def _read_parameters(policy: PolicySet) -> set[str]:
    """The parameters the payer's rules read, and those that switch an edit change (`when`)."""
    read = {str(a.args[0].value) for r in policy.rules for a in body_atoms(r.clause.body)
            if a.pred in _STATIC and a.args and isinstance(a.args[0], Const)}
    return read | (policy.edits.switch_parameters() if policy.edits is not None else set())


def _check_unused_parameters(parameters: list[Parameter], loaded: list[PolicySet], unsafe: set[str],
                             out: Problems) -> None:
    read = {p.payer: _read_parameters(p) for p in loaded}
    for param in parameters:
        if param.layer in unsafe:
            continue
        holders = [p for p in loaded if param.layer in p.chain]
        if holders and not any(param.name in read[p.payer] for p in holders):
            out.warning("parameter_unused", f"parameter `{param.name}` set by `{param.layer}` is read by no rule of "
                        f"any payer that includes `{param.layer}` ({_names(p.payer for p in holders)}): no "
                        f"`param({param.name}, ...)` or `param_entry({param.name}, ...)`, and no edit change's `when`",
                        param.location)


# --- versions of one rule in force together ---------------------------------------------------------------

def _canonical(clause: Clause) -> str:
    """The clause with its variables renamed in order of appearance (anonymous ones as `_`)."""
    names: dict[str, str] = {}

    def term(t) -> str:
        if isinstance(t, Var):
            if t.anonymous:
                return "_"
            return names.setdefault(t.name, f"V{len(names)}")
        return repr(t.value)

    def atom(a: Atom) -> str:
        return f"{a.pred}({','.join(term(x) for x in a.args)})"

    def lit(x) -> str:
        if isinstance(x, Positive):
            return atom(x.atom)
        if isinstance(x, Negative):
            return "not " + atom(x.atom)
        if isinstance(x, Compare):
            return f"{term(x.left)}{x.op}{term(x.right)}"
        if isinstance(x, Arith):
            return f"{term(x.result)}={term(x.left)}{x.op}{term(x.right)}"
        if isinstance(x, Call):
            return f"@{x.name}({','.join(term(a) for a in x.args)})"
        target = term(x.target) if x.target else ""
        return f"{term(x.result)}={x.func} {target}:{{{';'.join(lit(b) for b in x.body)}}}"

    return atom(clause.head) + ":-" + ";".join(lit(x) for x in clause.body)


def _check_versions(loaded: list[PolicySet], out: Problems) -> None:
    pairs: dict[frozenset, dict] = {}
    for policy in loaded:
        groups: dict[tuple, list[tuple[Rule, str]]] = {}
        for rule in policy.rules:
            groups.setdefault(("clause", _canonical(rule.clause)), []).append((rule, ""))
            m = _VERSION_SUFFIX.match(rule.id)
            base_id = m.group(1) if m else rule.id
            groups.setdefault(("id", rule.clause.head.key, base_id), []).append((rule, m.group(2) if m else ""))
        for key, members in groups.items():
            if len(members) < 2 or (key[0] == "id" and not any(suffix for _, suffix in members)):
                continue
            for i, (a, sa) in enumerate(members):
                for b, sb in members[i + 1:]:
                    common = _overlap([(a.effective_from, a.effective_to), (b.effective_from, b.effective_to)])
                    if common is None or _overlap([common, (policy.effective_from, policy.effective_to)]) is None:
                        continue
                    why = ("the same clause apart from the effective range" if key[0] == "clause" else
                           f"ids that differ only by the version suffix `_{sb or sa}`")
                    entry = pairs.setdefault(frozenset((_ident(a), _ident(b))),
                                             {"rules": (a, b), "why": why, "range": common, "payers": []})
                    if policy.payer not in entry["payers"]:
                        entry["payers"].append(policy.payer)
    for entry in pairs.values():
        a, b = sorted(entry["rules"], key=lambda r: (r.effective_from or "", r.location))
        out.warning("overlapping_versions", f"rules `{b.id}` and `{a.id}` ({a.location}) look like versions of one "
                    f"rule ({entry['why']}), but their effective ranges overlap ({_range_text(*entry['range'])}), so "
                    f"both fire on those dates under {_names(entry['payers'])}; end one where the other begins",
                    b.location)
