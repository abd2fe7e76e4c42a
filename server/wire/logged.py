"""Logged decisions on the wire: an entry of the decision log as ``GET /v1/decisions/{id}`` sends it,
and what ``supportable replay`` reports when it decides logged inputs again."""
from __future__ import annotations

from typing import Literal, Optional

from typing_extensions import NotRequired, TypedDict

from .common import Verdict, wire


@wire
class LoggedReason(TypedDict):
    """A reason as the log keeps it: the rule, its kind and its remittance codes."""
    id: str
    kind: str
    carc: Optional[str]
    rarc: Optional[str]


@wire
class LoggedLine(TypedDict):
    line: str
    code: str
    verdict: Verdict
    units: int                                  # the supportable units
    reasons: NotRequired[list[LoggedReason]]    # absent from entries written before the log kept reasons


@wire
class LoggedDecision(TypedDict):
    """A decision as the decision log holds it, without the encounter itself: ``replayable`` says
    whether the log kept the input (``SUPPORTABLE_LOG_INPUTS``), which is never sent back here."""
    id: str
    time: str
    payer: str
    policy_version: str
    encounter: Optional[str]
    input_hash: str
    lines: list[LoggedLine]
    replayable: bool


def logged_decision(entry: dict) -> LoggedDecision:
    lines = []
    for l in entry.get("lines", []):
        line: LoggedLine = {"line": l["line"], "code": l["code"], "verdict": l["verdict"], "units": l["units"]}
        if "reasons" in l:
            line["reasons"] = [{"id": r["id"], "kind": r["kind"], "carc": r.get("carc"), "rarc": r.get("rarc")}
                               for r in l["reasons"]]
        lines.append(line)
    return {"id": entry["id"], "time": entry["time"], "payer": entry["payer"],
            "policy_version": entry["policy_version"], "encounter": entry.get("encounter"),
            "input_hash": entry["input_hash"], "lines": lines, "replayable": "input" in entry}


# -- supportable replay ----------------------------------------------------------------------------
@wire
class ReplaySide(TypedDict):
    verdict: Verdict
    units: int
    reasons: Optional[list[LoggedReason]]       # null: the entry was logged without reasons


@wire
class ReplayChange(TypedDict):
    """One line (or, for now_refused, one entry) whose decision would change."""
    type: str                   # old->new verdict, units_up, units_down, reasons_changed, now_refused
    decision_id: str
    entry: int                  # the entry's line number in the log
    encounter: Optional[str]
    payer: str
    line: Optional[str]
    code: Optional[str]
    logged: Optional[ReplaySide]
    now: Optional[ReplaySide]
    problem: NotRequired[str]   # now_refused: why the policy refuses the encounter now


@wire
class NotReplayed(TypedDict):
    entry: int
    decision_id: Optional[str]
    reason: Literal["no_input", "unreadable_entry", "unknown_payer", "payer_not_loaded", "line_mismatch"]
    message: str


@wire
class ReplayReport(TypedDict):
    log: str
    policies: str
    payers: str
    entries: int                                # lines of the log read (blank lines aside)
    selected: int                               # entries of --payer (all entries without it)
    replayed: int
    unchanged: int                              # replayed entries with no change on any line
    not_replayable: dict[str, int]              # by reason, every reason listed
    by_type: dict[str, int]
    versions: dict[str, dict[str, object]]      # by payer: {"logged": [versions], "now": version}
    changes: list[ReplayChange]
    not_replayed: list[NotReplayed]


def replay_report(report) -> ReplayReport:
    """``report``: an engine ``Replay`` (engine.impact.replay)."""
    return {"log": report.log, "policies": report.policies, "payers": report.payers, "entries": report.entries,
            "selected": report.selected, "replayed": report.replayed, "unchanged": report.unchanged,
            "not_replayable": dict(report.not_replayable), "by_type": dict(report.by_type),
            "versions": {p: {"logged": sorted(v["logged"]), "now": v["now"]} for p, v in sorted(report.versions.items())},
            "changes": [_change(c) for c in report.changes],
            "not_replayed": [{"entry": n.entry, "decision_id": n.decision_id, "reason": n.reason, "message": n.message}
                             for n in report.not_replayed]}


def _change(c) -> ReplayChange:
    out: ReplayChange = {"type": c.type, "decision_id": c.decision_id, "entry": c.entry, "encounter": c.encounter,
                         "payer": c.payer, "line": c.line, "code": c.code, "logged": c.logged, "now": c.now}
    if c.problem is not None:
        out["problem"] = c.problem
    return out
