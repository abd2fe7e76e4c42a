"""Policy files -> located rules and parameters.

A policy file is YAML with a ``rules:`` list and optionally ``parameters:``. Each rule has an
``id``, ``because`` (a one-sentence explanation that may name the rule's variables as ``{Var}``),
``source`` (a guidance file and section), an optional ``effective`` range and ``kind``, and
``rule``: one Datalog clause, parsed with the grammar in ``rules.lark``. Payer overlays
(:mod:`engine.overlay`) use the same rule entries and parameters.

A parameter is a named value rules read with ``param(Name, Value)``, or a table read with
``param_entry(Name, Key, Value)``; values are strings or whole numbers (money in cents, dates as
ISO strings).
"""
from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

from .errors import Problems
from .parser import ParseFailure, TextOrigin, parse_clause
from .syntax import Parameter, Rule
from .sources import SourceFile, shown_path  # noqa: F401  (shown_path: its old home)
from .yamlsource import Node

RULE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
RULE_KEYS = {"id", "because", "source", "effective", "rule", "kind"}
RULE_KINDS = {"documentation", "coding", "modifier", "units", "eligibility", "limit", "coverage",
              "checklist"}   # checklist: an advise rule naming an element the guidance advises documenting


def load_rule_files(paths: list[Path], layer: str, problems: Problems, root: Path | None = None
                    ) -> tuple[list[Rule], dict[str, Parameter]]:
    """The rules and parameters of the files at ``paths`` (a path wrapper of :func:`parse_rule_files`)."""
    return parse_rule_files([SourceFile.read(path, shown_path(path, root)) for path in paths], layer, problems)


def parse_rule_files(files: list[SourceFile], layer: str, problems: Problems,
                     docs: dict[str, Node] | None = None) -> tuple[list[Rule], dict[str, Parameter]]:
    """The rules and parameters of policy files (text and shown name each); ``docs``, if given,
    receives each file's composed YAML by shown name (lint reads locations from it)."""
    rules: list[Rule] = []
    parameters: dict[str, Parameter] = {}
    for source in files:
        doc = source.compose_into(problems, docs)
        if doc is None:
            continue
        if not doc.is_mapping:
            problems.error("policy_format", "a policy file is a mapping with a `rules:` list", doc.location)
            continue
        for key, node in doc.items():
            if key not in ("rules", "description", "parameters"):
                problems.error("policy_format", f"unknown top-level key `{key}`", node.location)
        for name, param in load_parameters(doc.get("parameters"), layer, problems).items():
            if name in parameters:
                problems.error("duplicate_parameter", f"parameter `{name}` is already set at "
                               f"{parameters[name].location}", param.location)
            else:
                parameters[name] = param
        seq = doc.get("rules")
        if seq is None and doc.get("parameters") is not None:
            continue
        if seq is None or not seq.is_sequence:
            problems.error("policy_format", "expected a list under `rules:`", doc.location)
            continue
        rules += load_rule_list(seq, layer, problems)
    return rules, parameters


def load_rule_list(seq: Node, layer: str, problems: Problems) -> list[Rule]:
    rules = []
    for item in seq.children():
        rule = load_rule(item, layer, problems)
        if rule is not None:
            rules.append(rule)
    return rules


PARAMETER_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
PARAMETER_KEYS = {"value", "table", "description", "source", "one_of"}


def _check_keys(node: Node, allowed: tuple[str, ...], what: str, problems: Problems) -> None:
    """A misspelt key (`until:` for `to:`) would otherwise be ignored without a word."""
    for key, sub in node.items():
        if key not in allowed:
            problems.error("policy_format", f"unknown key `{key}` in `{what}`; use "
                           f"{' or '.join(f'`{a}`' for a in allowed)}", sub.location)


def _source(node: Node | None, what: str, problems: Problems, required: bool = True) -> tuple[str, str]:
    if node is None:
        if required:
            problems.error("missing_source", f"{what} does not cite a `source`", None)
        return "", ""
    if node.is_mapping:
        _check_keys(node, ("file", "section"), "source", problems)
        source = _text(node.get("file")) or ""
        if not source:
            problems.error("missing_source", f"{what}: source has no `file`", node.location)
        return source, _text(node.get("section")) or ""
    return _text(node) or "", ""


def _constant(node: Node, what: str, problems: Problems):
    """A parameter value: a string or a whole number (dates become ISO strings)."""
    try:
        value = node.value()
    except ValueError:
        value = node.scalar_text()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        problems.error("invalid_parameter", f"{what} must be a string or a whole number (money in cents), "
                       f"not `{value}`", node.location)
        return None
    return value


def load_parameters(node: Node | None, layer: str, problems: Problems) -> dict[str, Parameter]:
    out: dict[str, Parameter] = {}
    if node is None:
        return out
    if not node.is_mapping:
        problems.error("policy_format", "`parameters` is a mapping from parameter name to its definition",
                       node.location)
        return out
    for key_node, raw_spec in node.raw.value:
        name = str(key_node.value)
        spec = Node(raw_spec, node.file, node.text)
        key_loc = Node(key_node, node.file, node.text).location   # the parameter's name
        if not PARAMETER_NAME.match(name):
            problems.error("invalid_parameter", f"parameter name `{name}` should be lowercase with underscores",
                           key_loc)
            continue
        if not spec.is_mapping:
            problems.error("invalid_parameter", f"parameter `{name}` is a mapping with `value` or `table`, "
                           "`description` and `source`", key_loc)
            continue
        for key, sub in spec.items():
            if key not in PARAMETER_KEYS:
                problems.error("policy_format", f"unknown parameter key `{key}`", sub.location)
        description = _text(spec.get("description")) or ""
        if not description:
            problems.error("missing_description", f"parameter `{name}` has no `description`", key_loc)
        if spec.get("source") is None:
            problems.error("missing_source", f"parameter `{name}` does not cite a `source`", key_loc)
        source, section = _source(spec.get("source"), f"parameter `{name}`", problems, required=False)
        value_node, table_node = spec.get("value"), spec.get("table")
        if (value_node is None) == (table_node is None):
            problems.error("invalid_parameter", f"parameter `{name}` needs exactly one of `value` or `table`", key_loc)
            continue
        value, table, row_sources = None, None, {}
        if value_node is not None:
            value = _constant(value_node, f"parameter `{name}`", problems)
            if value is None:
                continue
        else:
            if not table_node.is_mapping:
                problems.error("invalid_parameter", f"the `table` of parameter `{name}` maps keys to values",
                               table_node.location)
                continue
            table = {}
            for row_key_node, row_node in zip((k for k, _ in table_node.raw.value), table_node.children_values()):
                key = _constant(Node(row_key_node, table_node.file, table_node.text), f"a key of `{name}`", problems)
                if row_node.is_mapping:
                    _check_keys(row_node, ("value", "source"), f"row `{key}` of `{name}`", problems)
                    row_value_node = row_node.get("value")
                    if row_value_node is None:
                        problems.error("invalid_parameter", f"row `{key}` of `{name}` has no `value`", row_node.location)
                        continue
                    row_value = _constant(row_value_node, f"row `{key}` of `{name}`", problems)
                    if row_node.get("source") is not None:
                        row_sources[key] = _source(row_node.get("source"), f"row `{key}` of `{name}`", problems)
                else:
                    row_value = _constant(row_node, f"row `{key}` of `{name}`", problems)
                if key is None or row_value is None:
                    continue
                table[key] = row_value
            if len({type(k) for k in table}) > 1:
                problems.error("invalid_parameter", f"the keys of table `{name}` mix numbers and strings; a "
                               "rule matches keys by value and type, so `2025` and `\"2025\"` are different keys",
                               table_node.location)
        allowed: tuple = ()
        one_of = spec.get("one_of")
        if one_of is not None:
            if not one_of.is_sequence or table is not None:
                problems.error("invalid_parameter", f"`one_of` of parameter `{name}` is a list of the values a "
                               "layer may set", one_of.location)
            else:
                allowed = tuple(v for v in (_constant(c, f"a `one_of` value of `{name}`", problems)
                                            for c in one_of.children()) if v is not None)
                if value is not None and value not in allowed:
                    problems.error("invalid_parameter", f"parameter `{name}` is `{value}`, not one of "
                                   f"{', '.join(map(str, allowed))}", value_node.location)
        out[name] = Parameter(name=name, value=value, table=table, description=description, source=source,
                              section=section, layer=layer, location=key_loc,
                              value_location=(value_node or table_node).location,
                              row_sources=tuple(sorted(row_sources.items(), key=repr)), allowed=allowed,
                              allowed_layer=layer if allowed else None)
    return out


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


def check_mapping(item: Node, keys, code: str, not_mapping: str, unknown_key: str, problems: Problems) -> bool:
    """Whether ``item`` is a mapping (``not_mapping`` says what it should be); each key outside
    ``keys`` is reported with ``unknown_key`` (``{key}`` names it)."""
    if not item.is_mapping:
        problems.error(code, not_mapping, item.location)
        return False
    for key, node in item.items():
        if key not in keys:
            problems.error(code, unknown_key.format(key=key), node.location)
    return True


def effective_range(item: Node, code: str, what: str, problems: Problems) -> tuple[str | None, str | None]:
    """``item``'s ``effective: {from, to}`` as ISO dates (None where open); ``code`` is the format
    problem's code for a value that is not a mapping, ``what`` names the item in the range's problem."""
    eff = item.get("effective")
    if eff is None:
        return None, None
    if not eff.is_mapping:
        problems.error(code, "`effective` is a mapping with `from` and/or `to`", eff.location)
        return None, None
    _check_keys(eff, ("from", "to"), "effective", problems)
    start, end = _date(eff.get("from"), "effective.from", problems), _date(eff.get("to"), "effective.to", problems)
    if start and end and start >= end:
        problems.error("invalid_effective_range", f"{what} is effective from {start} to {end}: the end must come "
                       "after the start", eff.location)
    return start, end


def load_rule(item: Node, layer: str, problems: Problems) -> Rule | None:
    if not check_mapping(item, RULE_KEYS, "policy_format", "each rule is a mapping", "unknown rule key `{key}`",
                         problems):
        return None
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
        _check_keys(source_node, ("file", "section"), "source", problems)
        if not source:
            problems.error("missing_source", f"rule `{rid}` source has no `file`", source_node.location)
    else:
        source = _text(source_node) or ""
    kind = _text(item.get("kind"))
    if kind is not None and kind not in RULE_KINDS:
        problems.error("invalid_kind", f"unknown rule kind `{kind}`; use one of {', '.join(sorted(RULE_KINDS))}",
                       item.get("kind").location)
    eff_from, eff_to = effective_range(item, "policy_format", f"rule `{rid}`", problems)
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
