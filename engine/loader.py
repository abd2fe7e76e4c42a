"""Policy files -> located rules.

A policy file is YAML with a ``rules:`` list. Each entry has an ``id``, ``because`` (a one-sentence
explanation that may name the rule's variables as ``{Var}``), ``source`` (a guidance file and
section), an optional ``effective`` range and ``kind``, and ``rule``: one Datalog clause, parsed
with the grammar in ``rules.lark``.
"""
from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

from .errors import Problems
from .parser import ParseFailure, TextOrigin, parse_clause
from .syntax import Rule
from .yamlsource import Node, load_yaml

RULE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
RULE_KEYS = {"id", "because", "source", "effective", "rule", "kind"}
RULE_KINDS = {"documentation", "coding", "modifier", "units", "eligibility", "limit", "coverage"}


def load_rule_files(paths: list[Path], layer: str, problems: Problems, root: Path | None = None) -> list[Rule]:
    rules: list[Rule] = []
    for path in paths:
        shown = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
        doc, found = load_yaml(path, shown)
        problems.items.extend(found)
        if doc is None:
            continue
        if not doc.is_mapping:
            problems.error("policy_format", "a policy file is a mapping with a `rules:` list", doc.location)
            continue
        for key, node in doc.items():
            if key not in ("rules", "description"):
                problems.error("policy_format", f"unknown top-level key `{key}`", node.location)
        seq = doc.get("rules")
        if seq is None or not seq.is_sequence:
            problems.error("policy_format", "expected a list under `rules:`", doc.location)
            continue
        for item in seq.children():
            rule = _load_rule(item, layer, problems)
            if rule is not None:
                rules.append(rule)
    return rules


def _text(node: Node | None) -> str | None:
    if node is None or not node.is_scalar:
        return None
    return node.scalar_text()


def _date(node: Node | None, what: str, problems: Problems) -> str | None:
    if node is None:
        return None
    try:
        value = node.value()
    except ValueError:  # YAML saw a date shape but the day does not exist (2025-02-30)
        value = node.scalar_text()
    if isinstance(value, _dt.date):
        return value.isoformat()
    try:
        return _dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        problems.error("invalid_date", f"`{value}` is not an ISO date for `{what}`", node.location)
        return None


def _load_rule(item: Node, layer: str, problems: Problems) -> Rule | None:
    if not item.is_mapping:
        problems.error("policy_format", "each rule is a mapping", item.location)
        return None
    for key, node in item.items():
        if key not in RULE_KEYS:
            problems.error("policy_format", f"unknown rule key `{key}`", node.location)
    rid = _text(item.get("id"))
    if not rid:
        problems.error("missing_rule_id", "rule has no `id`", item.location)
        return None
    if not RULE_ID.match(rid):
        problems.error("invalid_rule_id", f"rule id `{rid}` should be dotted lowercase, like `base.group.only_97150`",
                       item.get("id").location)
    because = _text(item.get("because"))
    if not because:
        problems.error("missing_because", f"rule `{rid}` has no `because` explanation", item.location)
    source_node = item.get("source")
    source, section = "", ""
    if source_node is None:
        problems.error("missing_source", f"rule `{rid}` does not cite a `source`", item.location)
    elif source_node.is_mapping:
        source = _text(source_node.get("file")) or ""
        section = _text(source_node.get("section")) or ""
        if not source:
            problems.error("missing_source", f"rule `{rid}` source has no `file`", source_node.location)
    else:
        source = _text(source_node) or ""
    kind = _text(item.get("kind"))
    if kind is not None and kind not in RULE_KINDS:
        problems.error("invalid_kind", f"unknown rule kind `{kind}`; use one of {', '.join(sorted(RULE_KINDS))}",
                       item.get("kind").location)
    eff_from = eff_to = None
    eff = item.get("effective")
    if eff is not None:
        if not eff.is_mapping:
            problems.error("policy_format", "`effective` is a mapping with `from` and/or `to`", eff.location)
        else:
            eff_from = _date(eff.get("from"), "effective.from", problems)
            eff_to = _date(eff.get("to"), "effective.to", problems)
            if eff_from and eff_to and eff_from >= eff_to:
                problems.error("invalid_effective_range", f"rule `{rid}` is effective from {eff_from} to "
                               f"{eff_to}: the end must come after the start", eff.location)
    rule_node = item.get("rule")
    if rule_node is None or not rule_node.is_scalar:
        problems.error("missing_rule", f"rule `{rid}` has no `rule` clause", item.location)
        return None
    text, start = rule_node.source_span()
    try:
        clause = parse_clause(text, TextOrigin(start.file, start.line, start.column))
    except ParseFailure as failure:
        problems.items.append(failure.problem)
        return None
    return Rule(id=rid, clause=clause, because=because or "", source=source, section=section,
                layer=layer, location=item.get("id").location, effective_from=eff_from,
                effective_to=eff_to, kind=kind)
