"""Deciding every encounter of a corpus under both policies and collecting the changes."""
from __future__ import annotations

import time

from ..decision import SUPPORTABLE, Decision, LineDecision
from ..errors import InputError
from ..policyset import PolicySet
from .corpus import Corpus, decode_item
from .model import NOW_ACCEPTED, NOW_REFUSED, RULES_CHANGED, Change, Impact, InvalidEncounter, classify


def _deny_rules(line: LineDecision) -> list[str]:
    if line.verdict == SUPPORTABLE:
        return []
    return sorted({r.rule.id for r in line.reasons})     # a denied line's reasons are its denials


def _units_rule(line: LineDecision) -> str | None:
    if line.verdict != SUPPORTABLE:
        return None
    return line.proofs[0].rule.id if line.proofs else None


def _side(line: LineDecision) -> dict:
    deny = _deny_rules(line)
    units_rule = _units_rule(line)
    out = {"verdict": line.verdict, "billed_units": line.billed_units, "supportable_units": line.supportable_units,
           "rules": deny if line.verdict != SUPPORTABLE else ([units_rule] if units_rule else []),
           "denied_by": deny, "units_rule": units_rule}
    if line.missing_documentation:
        out["missing_documentation"] = list(line.missing_documentation)
    return out


def _first_problem(exc: InputError) -> tuple[str, str]:
    if not exc.problems:
        return "invalid_encounter", str(exc)
    p = exc.problems[0]
    return p.code, str(p)


def _enc_id(data: object) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        return data["id"]
    return None


def compare(current: PolicySet, candidate: PolicySet, corpus: Corpus, progress=None) -> Impact:
    """Decide every encounter of ``corpus`` under both policies and collect the changes."""
    impact = Impact(current.payer, current.version, candidate.version, invalid=list(corpus.invalid))
    clock = time.perf_counter
    started = clock()
    sides = (("current", current), ("candidate", candidate))
    for n, item in enumerate(corpus.items, start=1):
        data, bad = decode_item(item)
        if bad is not None:
            impact.invalid.append(bad)
            continue
        enc_id = _enc_id(data)
        parsed, refused, decisions = {}, {}, {}
        for name, ps in sides:
            t = clock()
            try:
                parsed[name] = ps.read_encounter(data)
            except InputError as exc:
                refused[name] = _first_problem(exc)
            except RecursionError:
                refused[name] = ("invalid_encounter", "(document): nested too deeply")
            impact.timing[name].seconds += clock() - t
        if len(refused) == 2:
            code, problem = refused["current"]
            impact.invalid.append(InvalidEncounter(item.location, enc_id, code, problem))
            continue
        if refused:
            name = next(iter(refused))
            impact.changes.append(Change(NOW_REFUSED if name == "candidate" else NOW_ACCEPTED,
                                         enc_id or "", item.location, problem=refused[name][1]))
            continue
        failed = False
        for name, ps in sides:
            t = clock()
            try:
                decisions[name] = ps.decide(parsed[name], "none")
            except Exception as exc:  # an engine fault: reported with the encounter, never raised
                impact.errors.append({"location": item.location, "encounter": enc_id, "policy": name,
                                      "error": f"{type(exc).__name__}: {exc}"})
                failed = True
            impact.timing[name].seconds += clock() - t
            impact.timing[name].encounters += 1
        if failed:
            continue
        impact.decided += 1
        _compare_decisions(decisions["current"], decisions["candidate"], item.location, impact)
        if progress is not None and n % 500 == 0:
            progress(n, len(corpus.items))
    impact.wall_seconds = clock() - started
    return impact


def _compare_decisions(old: Decision, new: Decision, location: str, impact: Impact) -> None:
    for a, b in zip(old.lines, new.lines):
        impact.lines += 1
        impact.verdicts["current"][a.verdict] += 1
        impact.verdicts["candidate"][b.verdict] += 1
        kind = classify(a.verdict, a.supportable_units, b.verdict, b.supportable_units)
        if kind is None:
            sa, sb = _side(a), _side(b)
            if sa["rules"] == sb["rules"]:
                continue
            kind = RULES_CHANGED
        impact.changes.append(Change(kind, old.encounter_id, location, a.line, a.code, _side(a), _side(b)))
