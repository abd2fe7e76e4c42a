"""A case's ``expect:`` block: line id -> the expected verdict, units, rules, documentation, codes,
fixes and advice, each value checked against the payer's rules and vocabulary."""
from __future__ import annotations

from ..verdicts import VERDICTS
from ..errors import Problem
from ..policyset import PolicySet
from ..yamlsource import Node
from .model import LineExpectation
from .nodes import entries, entry, plain
from ..suggest import did_you_mean as suggest

EXPECT_KEYS = ("verdict", "units", "reasons", "not_reasons", "missing_documentation", "suggested_codes",
               "overbilled", "fixes", "advice", "not_advice", "remittance")
FIX_ACTIONS = ("add_documentation", "add_modifier", "remove_modifier", "bill_instead", "reduce_units")


def read_expectations(node: Node, policy: PolicySet | None, problems: list[Problem]) -> list[LineExpectation]:
    expect = entry(node, "expect")
    if expect is None or not expect.is_mapping or not entries(expect):
        problems.append(Problem("test_format", "`expect` is a mapping from line id to what the line's decision "
                                "must be", expect.location if expect is not None else node.location))
        return []
    out = []
    for line_id, loc, spec in entries(expect):
        exp = LineExpectation(line_id, loc, {})
        out.append(exp)
        if not spec.is_mapping or not entries(spec):
            problems.append(Problem("test_format", f"the expectation for line `{line_id}` is a mapping with any of "
                                    f"{', '.join(f'`{k}`' for k in EXPECT_KEYS)}", spec.location))
            continue
        for key, kloc, value in entries(spec):
            if key not in EXPECT_KEYS:
                problems.append(Problem("test_format", f"unknown key `{key}` in the expectation for line "
                                        f"`{line_id}`; use {', '.join(f'`{k}`' for k in EXPECT_KEYS)}"
                                        f"{suggest(key, EXPECT_KEYS)}", kloc))
                continue
            checked = expected_value(key, value, policy, problems)
            if checked is not None:
                exp.fields[key] = checked
                exp.locations[key] = value.location
    return out

def expected_value(key: str, node: Node, policy: PolicySet | None, problems: list[Problem]):
    value = node.value()
    if key == "verdict":
        if value not in VERDICTS:
            problems.append(Problem("test_format", f"verdict `{value}` is not one of {', '.join(VERDICTS)}"
                                    f"{suggest(value, VERDICTS)}", node.location))
            return None
        return value
    if key == "overbilled":
        if not isinstance(value, bool):
            problems.append(Problem("test_format", f"overbilled `{value}` is true or false", node.location))
            return None
        return value
    if key == "fixes":
        items = node.children() if node.is_sequence else [node]
        fixes = []
        for item in items:
            text = str(plain(item.value())).strip()
            action = text.split(" ", 1)[0]
            if action not in FIX_ACTIONS or " " not in text:
                problems.append(Problem("test_format", f"fix `{text}` is an action ({', '.join(FIX_ACTIONS)}) and "
                                        "a value, like `add_modifier 59|XS`", item.location))
                continue
            fixes.append(fix_text(action, text.split(" ", 1)[1].strip().split("|")))
        return fixes
    if key == "remittance":
        return _remittance(node, policy, problems)
    if key == "units":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            problems.append(Problem("test_format", f"units `{value}` is not a whole number of units",
                                    node.location))
            return None
        return value
    items = node.children() if node.is_sequence else [node]
    values = []
    for item in items:
        v = plain(item.value())
        if not isinstance(v, (str, int)) or isinstance(v, bool):
            problems.append(Problem("test_format", f"`{key}` lists {'rule ids' if _rule_key(key) else 'values'}, "
                                    f"and `{v}` is not one", item.location))
            continue
        v = str(v)
        if policy is not None:
            known, what = _known(key, policy)
            if v not in known:
                problems.append(Problem(f"unknown_{'rule' if _rule_key(key) else 'value'}",
                                        f"`{v}` in `{key}` is not {what}{suggest(v, known)}", item.location))
                continue
        values.append(v)
    return values

def remittance_text(carc, rarc) -> str:
    """A reason's codes as a policy test writes them: ``16/N706``, or ``236`` without a remark."""
    return f"{carc}/{rarc}" if rarc else str(carc)


def _remittance(node: Node, policy: PolicySet | None, problems: list[Problem]) -> list[str] | None:
    """``remittance: [16/N706, "236"]``: the codes the line's reasons carry, each in the payer's table."""
    table = getattr(policy, "remittance", None)
    values = []
    for item in (node.children() if node.is_sequence else [node]):
        text = str(plain(item.value())).strip()
        carc, _, rarc = text.partition("/")
        if not carc:
            problems.append(Problem("test_format", f"`{text}` is a CARC, or a CARC and a RARC as `16/N706`",
                                    item.location))
            continue
        if table is not None and (("carc", carc) not in table.codes or (rarc and ("rarc", rarc) not in table.codes)):
            problems.append(Problem("unknown_value", f"`{text}` in `remittance` names a code that is not in "
                                    f"payer `{policy.payer}`'s remittance table", item.location))
            continue
        values.append(remittance_text(carc, rarc))
    return values


def _known(key: str, policy: PolicySet) -> tuple[set[str], str]:
    if _rule_key(key):
        return (set(policy.rule_index) | {d.id for d in policy.disabled},
                f"a rule of payer `{policy.payer}` (nor one it disables)")
    if key == "missing_documentation":
        return policy.vocabulary.ids("documentation"), "a documentation element"
    return policy.vocabulary.ids("code"), "a code"


def _rule_key(key: str) -> bool:
    """An expectation that lists rule ids (the others list documentation elements or codes)."""
    return key in ("reasons", "not_reasons", "advice", "not_advice")


def fix_text(action: str, values: list) -> str:
    return f"{action} {'|'.join(map(str, values))}"
