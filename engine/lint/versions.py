"""``overlapping_versions``: two versions of one rule in force together under one payer."""
from __future__ import annotations

import re

from ..dateranges import SPAN, overlap
from ..errors import Problems
from ..syntax import Arith, Atom, Call, Clause, Compare, Negative, Positive, Rule, Var
from .scope import Scope, ident, names

_VERSION_SUFFIX = re.compile(r"^(.*[a-z0-9])_(v\d+|(?:19|20)\d\d)$")


def canonical(clause: Clause) -> str:
    """The clause with its variables renamed in order of appearance (anonymous ones as `_`)."""
    renamed: dict[str, str] = {}

    def term(t) -> str:
        if isinstance(t, Var):
            if t.anonymous:
                return "_"
            return renamed.setdefault(t.name, f"V{len(renamed)}")
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


def check_versions(scope: Scope, out: Problems) -> None:
    """Two rules held together by one payer that are versions of one rule, and whose effective ranges
    overlap (within that payer's own range), so both fire on some dates. Versions are (a) the same
    clause up to the names of its variables (head and body in written order; the effective range is not
    part of the clause), or (b) ids that differ only by a version suffix on the last part,
    ``_v<digits>`` or a year ``_19xx``/``_20xx`` (``x.cap``, ``x.cap_v2``, ``x.cap_2026``), with the
    same head predicate. It is reported at the newer version (the later ``from``)."""
    pairs: dict[frozenset, dict] = {}
    for policy in scope.loaded:
        groups: dict[tuple, list[tuple[Rule, str]]] = {}
        for rule in policy.rules:
            groups.setdefault(("clause", canonical(rule.clause)), []).append((rule, ""))
            m = _VERSION_SUFFIX.match(rule.id)
            base_id = m.group(1) if m else rule.id
            groups.setdefault(("id", rule.clause.head.key, base_id), []).append((rule, m.group(2) if m else ""))
        for key, members in groups.items():
            if len(members) < 2 or (key[0] == "id" and not any(suffix for _, suffix in members)):
                continue
            for i, (a, sa) in enumerate(members):
                for b, sb in members[i + 1:]:
                    common = overlap([(a.effective_from, a.effective_to), (b.effective_from, b.effective_to)])
                    if common is None or overlap([common, (policy.effective_from, policy.effective_to)]) is None:
                        continue
                    why = ("the same clause apart from the effective range" if key[0] == "clause" else
                           f"ids that differ only by the version suffix `_{sb or sa}`")
                    entry = pairs.setdefault(frozenset((ident(a), ident(b))),
                                             {"rules": (a, b), "why": why, "range": common, "payers": []})
                    if policy.payer not in entry["payers"]:
                        entry["payers"].append(policy.payer)
    for entry in pairs.values():
        a, b = sorted(entry["rules"], key=lambda r: (r.effective_from or "", r.location))
        out.warning("overlapping_versions", f"rules `{b.id}` and `{a.id}` ({a.location}) look like versions of one "
                    f"rule ({entry['why']}), but their effective ranges overlap ({SPAN.text(*entry['range'])}), so "
                    f"both fire on those dates under {names(entry['payers'])}; end one where the other begins",
                    b.location)
