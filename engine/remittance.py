"""Remittance codes: the claim adjustment reason code (CARC) and remark code (RARC) a payer would
put on an 835 remittance for each reason a decision gives, from a cited table.

The table is ``policies/remittance/*.yaml`` (the base layer) and a payer overlay's ``remittance:``
section (payers use different codes for the same denial). A table has

- ``codes``: the codes it may name, ``carc:`` and ``rarc:`` each a mapping of code -> ``{meaning,
  source}``, the meaning a short paraphrase (the X12 lists are copyrighted: never their text);
- ``by_kind``: reason kind (``documentation``, ``coding``, ...) -> ``{carc, rarc, source}``;
- ``by_rule``: rule id -> ``{carc, rarc, source}``, which wins over the rule's kind.

An overlay's ``remittance:`` has ``by_kind`` and ``by_rule`` (not ``codes``), and its entries win
over its parents'. A reason's codes: its rule's entry in the nearest layer that has one, else its
kind's entry in the nearest layer that has one. Checks when a payer is built: an unknown rule id, an
unknown kind, a code missing from ``codes`` are errors at the entry's file:line:col.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import Location, Problems
from .loader import RULE_KINDS, _source, _text, check_mapping
from .yamlsource import Node

CODE_KINDS = ("carc", "rarc")
CARC = re.compile(r"^[A-Z]?[0-9]{1,3}$")          # 16, 236, B7
RARC = re.compile(r"^[A-Z]{1,2}[0-9]{1,3}$")       # N115, M15, MA130
DENIAL = "denial"            # the kind of a reason whose rule has none and no fix (engine.decision)
REASON_KINDS = tuple(sorted((RULE_KINDS - {"checklist"}) | {DENIAL}))   # checklist rules only advise
TABLE_KEYS = ("description", "source", "codes", "by_kind", "by_rule")
OVERLAY_KEYS = ("by_kind", "by_rule")
ENTRY_KEYS = ("carc", "rarc", "source")


@dataclass(frozen=True)
class RemittanceCode:
    kind: str                   # carc or rarc
    code: str
    meaning: str                # a paraphrase
    source: str
    section: str
    location: Location


@dataclass(frozen=True)
class Mapping:
    """One entry: the codes for a rule (``match`` ``rule``) or a reason kind (``kind``)."""
    match: str
    key: str
    carc: str
    rarc: str | None
    source: str
    section: str
    layer: str
    location: Location


@dataclass
class RemittanceLayer:
    """One layer's table as written (the base's ``codes`` and entries, or an overlay's entries)."""
    layer: str
    codes: dict[tuple[str, str], RemittanceCode] = field(default_factory=dict)
    by_kind: dict[str, Mapping] = field(default_factory=dict)
    by_rule: dict[str, Mapping] = field(default_factory=dict)


@dataclass
class RemittanceTable:
    """The layered table of one payer: what ``lookup`` answers."""
    codes: dict[tuple[str, str], RemittanceCode]
    by_kind: dict[str, Mapping]
    by_rule: dict[str, Mapping]

    def lookup(self, rule_id: str, kind: str) -> Mapping | None:
        return self.by_rule.get(rule_id) or self.by_kind.get(kind)

    def signature(self) -> list[str]:
        """One line per code and entry, for the policy version."""
        out = [f"code|{c.kind}|{c.code}|{c.meaning}|{c.source}|{c.section}" for _, c in sorted(self.codes.items())]
        for table in (self.by_kind, self.by_rule):
            out += [f"map|{m.match}|{m.key}|{m.carc}|{m.rarc}|{m.layer}|{m.source}|{m.section}"
                    for _, m in sorted(table.items())]
        return out


def parse_table(doc: Node, layer: str, problems: Problems, overlay: bool = False) -> RemittanceLayer:
    """A table's YAML (a base table file, or an overlay's ``remittance:`` value)."""
    out = RemittanceLayer(layer)
    keys = OVERLAY_KEYS if overlay else TABLE_KEYS
    if not check_mapping(doc, keys, "remittance_format", "a remittance table is a mapping with "
                         f"{', '.join(f'`{k}`' for k in keys)}",
                         "unknown key `{key}` in a remittance table; use one of " + ", ".join(keys), problems):
        return out
    default_source = _source(doc.get("source"), "the remittance table", problems, required=False)
    codes = doc.get("codes")
    if codes is not None and _is_mapping(codes, "`codes` is a mapping with `carc` and `rarc`", problems):
        for kind, node in codes.items():
            if kind not in CODE_KINDS:
                problems.error("remittance_format", f"unknown code list `{kind}`; use carc or rarc", node.location)
                continue
            if not _is_mapping(node, f"`codes.{kind}` maps each code to `{{meaning, source}}`", problems):
                continue
            for code, item in node.items():
                found = _code(kind, code, item, default_source, problems)
                if found is not None:
                    out.codes[(kind, code)] = found
    for section, match in (("by_kind", "kind"), ("by_rule", "rule")):
        node = doc.get(section)
        if node is None or not _is_mapping(node, f"`{section}` maps each {match} to `{{carc, rarc, source}}`",
                                           problems):
            continue
        for key, item in node.items():
            entry = _entry(match, key, item, layer, problems)
            if entry is not None:
                getattr(out, section)[key] = entry
    return out


def _is_mapping(node: Node, message: str, problems: Problems) -> bool:
    if not node.is_mapping:
        problems.error("remittance_format", message, node.location)
        return False
    return True


def _code(kind: str, code: str, item: Node, default_source, problems: Problems) -> RemittanceCode | None:
    pattern = CARC if kind == "carc" else RARC
    if not pattern.match(code):
        problems.error("remittance_format", f"`{code}` is not the shape of a {kind.upper()}", item.location)
        return None
    if not check_mapping(item, ("meaning", "source"), "remittance_format", f"code `{code}` is a mapping with "
                         "`meaning` (a paraphrase) and `source`", "unknown key `{key}` for a code; use meaning, "
                         "source", problems):
        return None
    meaning = _text(item.get("meaning"))
    if not meaning:
        problems.error("remittance_format", f"code `{code}` has no `meaning`", item.location)
        return None
    file, section = _source(item.get("source"), f"code `{code}`", problems, required=False)
    if not file:
        file, section = default_source
        if not file:
            problems.error("missing_source", f"code `{code}` does not cite a `source` (nor does its table)",
                           item.location)
    return RemittanceCode(kind, code, meaning, file, section, item.location)


def _entry(match: str, key: str, item: Node, layer: str, problems: Problems) -> Mapping | None:
    if not check_mapping(item, ENTRY_KEYS, "remittance_format", f"`{key}` maps to `{{carc, rarc, source}}`",
                         "unknown key `{key}` in a remittance entry; use carc, rarc, source", problems):
        return None
    carc = _text(item.get("carc"))
    if not carc:
        problems.error("remittance_format", f"`{key}` has no `carc`", item.location)
        return None
    file, section = _source(item.get("source"), f"the remittance entry `{key}`", problems, required=False)
    if not file:
        problems.error("missing_source", f"the remittance entry `{key}` does not cite a `source`", item.location)
    return Mapping(match, key, carc, _text(item.get("rarc")) or None, file, section, layer, item.location)


def layer_tables(base: list[RemittanceLayer], overlays: list[RemittanceLayer]) -> RemittanceTable:
    """The payer's table: the base files' codes and entries, each overlay's entries over them."""
    table = RemittanceTable({}, {}, {})
    for part in [*base, *overlays]:
        table.codes.update(part.codes)
        table.by_kind.update(part.by_kind)
        table.by_rule.update(part.by_rule)
    return table


def check_table(parts: list[RemittanceLayer], codes: dict, known_rules: list[set[str]], problems: Problems) -> None:
    """Each layer's entries against the rules its layer can see (``known_rules[i]`` for ``parts[i]``),
    the reason kinds, and the codes of the layered table."""
    for part, rules in zip(parts, known_rules):
        for entry in [*part.by_kind.values(), *part.by_rule.values()]:
            if entry.match == "kind" and entry.key not in REASON_KINDS:
                problems.error("unknown_reason_kind", f"`{entry.key}` is not a reason kind; use one of "
                               f"{', '.join(REASON_KINDS)}", entry.location)
            if entry.match == "rule" and entry.key not in rules:
                problems.error("unknown_rule_id", f"the remittance table names rule `{entry.key}`, which layer "
                               f"`{part.layer}` does not define or inherit", entry.location)
            for kind, code in (("carc", entry.carc), ("rarc", entry.rarc)):
                if code is not None and (kind, code) not in codes:
                    problems.error("unknown_remittance_code", f"{kind.upper()} `{code}` of `{entry.key}` is not "
                                   f"in the table's `codes.{kind}`", entry.location)
