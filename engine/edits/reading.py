"""Reading edit rows and changes from YAML: the base tables (``policies/edits/*.yaml``) and an
overlay's ``edits:`` block, each checked as it is read (see the package docstring)."""
from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

from ..errors import Location, Problems
from ..loader import _check_keys, _source, _text, effective_range, shown_path
from ..vocabulary import DISTINCT_GROUNDS, Vocabulary
from ..sources import SourceFile
from ..yamlsource import Node
from .model import (BASE_LAYER, CHANGE_KEYS, CODE, CONFIDENCE, MUE_KEYS, OVERRIDE_FIELDS, PTP_KEYS, STATUSES, Edit,
                    EditChange, EditLayer)

def _int(node: Node | None, what: str, allowed, problems: Problems) -> int | None:
    if node is None:
        problems.error("edit_format", f"{what} is missing", None)
        return None
    try:
        value = node.value()
    except ValueError:
        value = node.scalar_text()
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        shown = ", ".join(map(str, allowed)) if len(allowed) < 10 else "a whole number of 0 or more"
        problems.error("edit_format", f"{what} is `{value}`; use {shown}", node.location)
        return None
    return value


def _code(node: Node | None, what: str, problems: Problems, at: Location) -> str | None:
    text = _text(node)
    if not text:
        problems.error("edit_format", f"{what} is missing", node.location if node is not None else at)
        return None
    if not CODE.match(text):
        problems.error("edit_format", f"{what} `{text}` is not a CPT/HCPCS code (five letters or digits, quoted)",
                       node.location)
        return None
    return text


def check_codes(layer: EditLayer, vocabulary: Vocabulary, problems: Problems) -> None:
    """Rows and changes written by hand name codes of the vocabulary (an imported CMS table is not
    checked: it covers every code)."""
    known = vocabulary.ids("code")
    for what, codes, loc in [("row", r.codes, r.location) for r in layer.rows] + \
                            [(c.action, c.key, c.location) for c in layer.changes]:
        for code in codes:
            if code not in known:
                problems.error("unknown_constant", f"`{code}` is not a known code (in an edit {what})", loc)


def _grounds(node: Node | None, problems: Problems) -> tuple[str, ...] | None:
    if node is None:
        return None
    values = [_text(c) for c in node.children()] if node.is_sequence else []
    if not values or any(v not in DISTINCT_GROUNDS for v in values):
        problems.error("edit_format", f"`distinct_by` is a list among {', '.join(DISTINCT_GROUNDS)}", node.location)
        return None
    return tuple(dict.fromkeys(values))


def _choice(node: Node | None, what: str, allowed, default, problems: Problems):
    if node is None:
        return default
    value = _text(node)
    if value not in allowed:
        problems.error("edit_format", f"{what} is `{value}`; use one of {', '.join(allowed)}", node.location)
        return None
    return value


def _effective(item: Node, problems: Problems) -> tuple[str | None, str | None]:
    return effective_range(item, "edit_format", "the edit", problems)


def parse_row(item: Node, table: str, layer: str, problems: Problems) -> Edit | None:
    """One row of a PTP or MUE table written in YAML."""
    if not item.is_mapping:
        problems.error("edit_format", f"each {table.upper()} row is a mapping", item.location)
        return None
    _check_keys(item, PTP_KEYS if table == "ptp" else MUE_KEYS, f"a {table.upper()} row", problems)
    found = len(problems.errors)
    if table == "ptp":
        codes = (_code(item.get("column1"), "`column1`", problems, item.location),
                 _code(item.get("column2"), "`column2`", problems, item.location))
        if codes[0] and codes[0] == codes[1]:
            problems.error("edit_format", f"column 1 and column 2 are the same code `{codes[0]}`", item.location)
        value = _int(item.get("modifier_indicator"), "`modifier_indicator`", (0, 1, 9), problems)
        grounds = _grounds(item.get("distinct_by"), problems)
        if value == 1 and item.get("distinct_by") is None:
            problems.error("edit_format", "a row with modifier indicator 1 says what can show the services distinct "
                           f"(`distinct_by`: {', '.join(DISTINCT_GROUNDS)})", item.location)
        adjudication = 0
    else:
        codes = (_code(item.get("code"), "`code`", problems, item.location),)
        value = _int(item.get("units"), "`units`", range(0, 10_000), problems)
        adjudication = _int(item.get("adjudication"), "`adjudication`", (1, 2, 3), problems)
        grounds = ()
    start, end = _effective(item, problems)
    confidence = _choice(item.get("confidence"), "`confidence`", CONFIDENCE, None, problems)
    if item.get("confidence") is None:
        problems.error("edit_format", "a row states the `confidence` of its source (A, B or C)", item.location)
    status = _choice(item.get("status"), "`status`", STATUSES, "active", problems)
    if item.get("source") is None:
        problems.error("missing_source", f"a {table.upper()} row does not cite a `source`", item.location)
    source, section = _source(item.get("source"), f"a {table.upper()} row", problems, required=False)
    if len(problems.errors) > found:
        return None
    return Edit(table, codes, value, layer, item.location, source, section, grounds or (), adjudication, start, end,
                confidence, status, _text(item.get("rationale")) or "")


def parse_rows(node: Node | None, table: str, layer: str, problems: Problems) -> list[Edit]:
    if node is None:
        return []
    if not node.is_sequence:
        problems.error("edit_format", f"`{table}` is a list of rows", node.location)
        return []
    return [row for row in (parse_row(item, table, layer, problems) for item in node.children()) if row]


def load_base_tables(folder: Path, problems: Problems, root: Path | None = None) -> EditLayer:
    """Every ``*.yaml`` under ``policies/edits/`` (a path wrapper of :func:`parse_base_tables`)."""
    return parse_base_tables([SourceFile.read(path, shown_path(path, root))
                              for path in sorted(Path(folder).glob("*.yaml"))], problems)


def parse_base_tables(files: list[SourceFile], problems: Problems, docs: dict[str, Node] | None = None) -> EditLayer:
    """The base edit tables of ``files`` (none is fine: no edits); ``docs`` as in ``parse_rule_files``."""
    layer = EditLayer(BASE_LAYER)
    for source in files:
        doc = source.compose_into(problems, docs)
        if doc is None:
            continue
        if not doc.is_mapping:
            problems.error("edit_format", "an edit table file is a mapping with `ptp:` and/or `mue:` lists",
                           doc.location)
            continue
        _check_keys(doc, ("description", "ptp", "mue"), "an edit table file", problems)
        for table in ("ptp", "mue"):
            layer.rows += parse_rows(doc.get(table), table, BASE_LAYER, problems)
    _check_versions(layer, problems)
    return layer


def parse_overlay_edits(node: Node | None, layer_name: str, problems: Problems) -> EditLayer:
    """An overlay's ``edits:`` block: ``ptp:``/``mue:``, each with ``add``, ``override``, ``disable``."""
    layer = EditLayer(layer_name)
    if node is None:
        return layer
    if not node.is_mapping:
        problems.error("edit_format", "`edits` is a mapping with `ptp` and/or `mue`", node.location)
        return layer
    _check_keys(node, ("ptp", "mue"), "edits", problems)
    for table in ("ptp", "mue"):
        block = node.get(table)
        if block is None:
            continue
        if not block.is_mapping:
            problems.error("edit_format", f"`edits.{table}` is a mapping with `add`, `override` and/or `disable`",
                           block.location)
            continue
        _check_keys(block, ("add", "override", "disable"), f"edits.{table}", problems)
        layer.rows += parse_rows(block.get("add"), table, layer_name, problems)
        for action in ("override", "disable"):
            seq = block.get(action)
            if seq is None:
                continue
            for item in seq.list_items(problems, "edit_format", f"`edits.{table}.{action}` is a list"):
                change = _parse_change(item, table, action, layer_name, problems)
                if change is not None:
                    layer.changes.append(change)
    _check_versions(layer, problems)
    # One change (override or disable) per pair in a layer. Adding rows for a pair is fine with
    # a disable of it (the layer's new dated rows replace the old ones), not with an override.
    changed: dict[tuple, EditChange] = {}
    for change in layer.changes:
        key = (change.table, change.key)
        if key in changed:
            problems.error("conflicting_change", f"the {change.table.upper()} edit {'/'.join(change.key)} is changed "
                           f"twice in payer `{layer_name}` (first at {changed[key].location})", change.location)
        changed.setdefault(key, change)
    for row in layer.rows:
        first = changed.get((row.table, row.key))
        if first is not None and first.action == "override":
            problems.error("conflicting_change", f"the {row.table.upper()} edit {'/'.join(row.key)} is overridden at "
                           f"{first.location} and added here in payer `{layer_name}`: disable it to add new rows",
                           row.location)
    return layer


def _parse_change(item: Node, table: str, action: str, layer: str, problems: Problems) -> EditChange | None:
    if not item.is_mapping:
        problems.error("edit_format", f"each `{action}` entry is a mapping", item.location)
        return None
    _check_keys(item, CHANGE_KEYS[table][action], f"an edit `{action}`", problems)
    found = len(problems.errors)
    if table == "ptp":
        key = (_code(item.get("column1"), "`column1`", problems, item.location),
               _code(item.get("column2"), "`column2`", problems, item.location))
    else:
        key = (_code(item.get("code"), "`code`", problems, item.location),)
    changes: list[tuple[str, object]] = []
    if action == "override":
        specs = (("modifier_indicator", lambda n: _int(n, "`modifier_indicator`", (0, 1, 9), problems)),
                 ("distinct_by", lambda n: _grounds(n, problems))) if table == "ptp" else \
                (("units", lambda n: _int(n, "`units`", range(0, 10_000), problems)),
                 ("adjudication", lambda n: _int(n, "`adjudication`", (1, 2, 3), problems)))
        for name, read in (*specs, ("status", lambda n: _choice(n, "`status`", STATUSES, None, problems))):
            if item.get(name) is not None:
                changes.append((name, read(item.get(name))))
        if not changes:
            problems.error("edit_format", "an `override` changes at least one of " +
                           ", ".join(f"`{k}`" for k in OVERRIDE_FIELDS[table]), item.location)
        if item.get("confidence") is not None:   # the strength of the override's own source
            changes.append(("confidence", _choice(item.get("confidence"), "`confidence`", CONFIDENCE, None, problems)))
    reason = _text(item.get("reason"))
    if not reason:
        problems.error("missing_reason", f"an edit `{action}` needs a `reason`", item.location)
    if item.get("source") is None:
        problems.error("missing_source", f"an edit `{action}` does not cite a `source`", item.location)
    source, section = _source(item.get("source"), f"an edit `{action}`", problems, required=False)
    when = _when(item.get("when"), action, problems)
    if len(problems.errors) > found:
        return None
    when_node = item.get("when")
    return EditChange(action, table, key, tuple(changes), reason or "", source, section, layer, item.location,
                      when, when_node.location if when_node is not None else None)


PARAMETER_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _when(node: Node | None, action: str, problems: Problems) -> tuple[str, object] | None:
    """``when: {parameter: NAME, value: VALUE}``: the change applies only while the payer's
    parameter has that value (checked against the payer's parameters in ``apply_overlays``)."""
    if node is None:
        return None
    if not node.is_mapping:
        problems.error("edit_format", f"`when` of an edit `{action}` is a mapping with `parameter` and `value`",
                       node.location)
        return None
    _check_keys(node, ("parameter", "value"), "when", problems)
    name, value_node = _text(node.get("parameter")), node.get("value")
    if not name or not PARAMETER_NAME.match(name) or value_node is None or not value_node.is_scalar:
        problems.error("edit_format", f"`when` of an edit `{action}` names a `parameter` (lowercase with "
                       "underscores) and the `value` that switches the change on", node.location)
        return None
    try:
        value = value_node.value()
    except ValueError:
        value = value_node.scalar_text()
    if isinstance(value, _dt.date):
        value = value.isoformat()
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        problems.error("edit_format", f"the `value` of `when` is a string or a whole number, not `{value}`",
                       value_node.location)
        return None
    return name, value


def _check_versions(layer: EditLayer, problems: Problems) -> None:
    """Two rows of one pair (or code) in one layer must not be in force on the same day."""
    by_key: dict[tuple, list[Edit]] = {}
    for row in layer.rows:
        by_key.setdefault((row.table, row.key), []).append(row)
    for (table, key), rows in by_key.items():
        rows.sort(key=lambda r: r.effective_from or "")
        for a, b in zip(rows, rows[1:]):
            if a.effective_to is None or (b.effective_from or "") < a.effective_to:
                problems.error("overlapping_edits", f"the {table.upper()} edit {'/'.join(key)} at {a.location} is "
                               f"still in force when this version starts", b.location)
