"""Replaying a decision log: the inputs it kept, decided again under the policy in force (or a
candidate set of policy folders), and every line whose decision would change.

A log entry (server/decision_log.py) holds an encounter only when the operator opted in
(``SUPPORTABLE_LOG_INPUTS``: the inputs are patient data). Each entry is decided again under the
payer it was logged with and compared line by line with what the log says was decided: its
verdict, supportable units and reasons (rule id, kind, CARC, RARC; entries written before the log
kept reasons are compared on verdict and units only). The change types are impact's
(``old->new`` verdicts, ``units_up``, ``units_down``, ``now_refused``; ``classify``) and
``reasons_changed`` for the same verdict and units on other reasons or codes. An entry that cannot
be replayed is counted by reason and listed, never dropped: ``no_input``, ``unreadable_entry`` (not
a JSON object with an id, a payer and lines), ``unknown_payer`` (no such payer in the policies
replayed), ``payer_not_loaded`` (its policies do not load), ``line_mismatch`` (the decision's lines
are not the logged ones).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..errors import InputError, PolicyError
from ..verdicts import VERDICTS
from .model import NOW_REFUSED, classify

REASONS_CHANGED = "reasons_changed"
REPLAY_TYPES = tuple(f"{a}->{b}" for a in VERDICTS for b in VERDICTS if a != b) + \
    ("units_up", "units_down", REASONS_CHANGED, NOW_REFUSED)
NOT_REPLAYABLE = ("no_input", "unreadable_entry", "unknown_payer", "payer_not_loaded", "line_mismatch")


@dataclass
class ReplayChange:
    type: str
    decision_id: str
    entry: int
    encounter: str | None
    payer: str
    line: str | None = None
    code: str | None = None
    logged: dict | None = None
    now: dict | None = None
    problem: str | None = None


@dataclass
class NotReplayed:
    entry: int
    decision_id: str | None
    reason: str
    message: str


@dataclass
class Replay:
    log: str
    policies: str
    payers: str
    entries: int = 0
    selected: int = 0
    replayed: int = 0
    unchanged: int = 0
    not_replayable: dict = field(default_factory=lambda: dict.fromkeys(NOT_REPLAYABLE, 0))
    by_type: dict = field(default_factory=lambda: dict.fromkeys(REPLAY_TYPES, 0))
    versions: dict = field(default_factory=dict)     # payer -> {"logged": set of versions, "now": version}
    changes: list[ReplayChange] = field(default_factory=list)
    not_replayed: list[NotReplayed] = field(default_factory=list)

    def skip(self, entry: int, decision_id, reason: str, message: str) -> None:
        self.not_replayable[reason] += 1
        self.not_replayed.append(NotReplayed(entry, decision_id if isinstance(decision_id, str) else None,
                                             reason, message))

    def change(self, c: ReplayChange) -> None:
        self.by_type[c.type] += 1
        self.changes.append(c)


def _reasons(items) -> list[dict]:
    return [{"id": r["id"], "kind": r["kind"], "carc": r.get("carc"), "rarc": r.get("rarc")} for r in items]


def _key(reasons: list[dict]) -> list[tuple]:
    return sorted((r["id"], r["kind"], r["carc"] or "", r["rarc"] or "") for r in reasons)


def _logged_side(line: dict) -> dict:
    return {"verdict": line["verdict"], "units": line["units"],
            "reasons": _reasons(line["reasons"]) if "reasons" in line else None}


def _now_side(line) -> dict:
    return {"verdict": line.verdict, "units": line.supportable_units,
            "reasons": [{"id": r.rule.id, "kind": r.kind, "carc": r.carc, "rarc": r.rarc} for r in line.reasons]}


def _well_formed(entry) -> bool:
    return (isinstance(entry, dict) and isinstance(entry.get("id"), str) and isinstance(entry.get("payer"), str)
            and isinstance(entry.get("lines"), list)
            and all(isinstance(l, dict) and {"line", "code", "verdict", "units"} <= set(l) for l in entry["lines"]))


def replay(log: Path, policy_for: Callable[[str], object], payer_ids: list[str], only_payer: str | None = None,
           policies: str = "", payers: str = "") -> Replay:
    """Replay every entry of ``log`` (of ``only_payer``, if given). ``policy_for(payer)`` gives a
    payer's PolicySet (or raises PolicyError); ``payer_ids`` are the payers the policies have."""
    report = Replay(str(log), policies, payers)
    with open(log, "rb") as f:
        replay_lines(report, enumerate(f, start=1), policy_for, payer_ids, only_payer)
    return report


def log_lines(log: Path, size: int) -> Iterator[list[tuple[int, bytes]]]:
    """The log's lines, numbered from 1, in consecutive lists of at most ``size`` (a partition each)."""
    batch: list[tuple[int, bytes]] = []
    with open(log, "rb") as f:
        for numbered in enumerate(f, start=1):
            batch.append(numbered)
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


def replay_lines(report: Replay, lines: Iterable[tuple[int, bytes]], policy_for: Callable[[str], object],
                 payer_ids: list[str], only_payer: str | None = None) -> Replay:
    """Replay the numbered log lines into ``report`` (the whole log, or one partition of it)."""
    for number, raw in lines:
        if not raw.strip():
            continue
        report.entries += 1
        try:
            entry = json.loads(raw)
        except ValueError as exc:
            report.skip(number, None, "unreadable_entry", f"not JSON: {exc}")
            continue
        if not _well_formed(entry):
            report.skip(number, entry.get("id") if isinstance(entry, dict) else None, "unreadable_entry",
                        "not a decision-log entry (an object with id, payer and lines)")
            continue
        if only_payer is not None and entry["payer"] != only_payer:
            continue
        report.selected += 1
        _replay_entry(report, number, entry, policy_for, payer_ids)
    return report


def merge_replays(parts: list[Replay], log: str, policies: str, payers: str) -> Replay:
    """The report of the whole log from its partitions' reports, given in log order: the counts
    summed, the changes and the entries not replayed in log order, the versions met joined."""
    out = Replay(log, policies, payers)
    for part in parts:
        for name in ("entries", "selected", "replayed", "unchanged"):
            setattr(out, name, getattr(out, name) + getattr(part, name))
        for reason, n in part.not_replayable.items():
            out.not_replayable[reason] += n
        for kind, n in part.by_type.items():
            out.by_type[kind] += n
        for payer, seen in part.versions.items():
            mine = out.versions.setdefault(payer, {"logged": set(), "now": seen["now"]})
            mine["logged"] |= seen["logged"]
        out.changes += part.changes
        out.not_replayed += part.not_replayed
    return out


def _replay_entry(report: Replay, number: int, entry: dict, policy_for, payer_ids: list[str]) -> None:
    payer, did = entry["payer"], entry["id"]
    if "input" not in entry:
        report.skip(number, did, "no_input", "logged without its input (SUPPORTABLE_LOG_INPUTS was off)")
        return
    if payer not in payer_ids:
        report.skip(number, did, "unknown_payer", f"payer `{payer}` is not in the policies replayed")
        return
    try:
        policy = policy_for(payer)
    except PolicyError as exc:
        report.skip(number, did, "payer_not_loaded", f"payer `{payer}`'s policies do not load: "
                    f"{exc.problems[0] if exc.problems else exc}")
        return
    versions = report.versions.setdefault(payer, {"logged": set(), "now": policy.version})
    versions["logged"].add(str(entry.get("policy_version")))
    encounter_id = entry.get("encounter")
    try:
        decision = policy.decide(policy.read_encounter(entry["input"]), "none")
    except InputError as exc:
        report.replayed += 1
        first = str(exc.problems[0]) if exc.problems else str(exc)
        report.change(ReplayChange(NOW_REFUSED, did, number, encounter_id, payer, problem=first))
        return
    now = {l.line: l for l in decision.lines}
    if sorted(now) != sorted(l["line"] for l in entry["lines"]):
        report.skip(number, did, "line_mismatch", "the input's lines are not the logged decision's lines")
        return
    report.replayed += 1
    changed = False
    for logged in entry["lines"]:
        old, new = _logged_side(logged), _now_side(now[logged["line"]])
        kind = classify(old["verdict"], old["units"], new["verdict"], new["units"])
        if kind is None and old["reasons"] is not None and _key(old["reasons"]) != _key(new["reasons"]):
            kind = REASONS_CHANGED
        if kind is not None:
            changed = True
            report.change(ReplayChange(kind, did, number, encounter_id, payer, logged["line"], logged["code"],
                                       old, new))
    if not changed:
        report.unchanged += 1
