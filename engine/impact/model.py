"""What an impact run reports: the kinds of change, each change, invalid encounters, the whole report,
and the error that stops a comparison."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Problem
from ..verdicts import VERDICTS
UNITS_UP, UNITS_DOWN, RULES_CHANGED = "units_up", "units_down", "rules_changed"
NOW_REFUSED, NOW_ACCEPTED = "now_refused", "now_accepted"
# Every kind of change, in the order reports list them. A verdict change is named old->new; units
# up/down are changes of supportable units under the same verdict; rules_changed keeps verdict and
# units but rests on other rules; now_refused / now_accepted are whole encounters that only one
# of the two policies accepts (a changed effective range).
CHANGE_TYPES = tuple(f"{a}->{b}" for a in VERDICTS for b in VERDICTS if a != b) + \
    (UNITS_UP, UNITS_DOWN, RULES_CHANGED, NOW_REFUSED, NOW_ACCEPTED)
DECISION_CHANGES = tuple(t for t in CHANGE_TYPES if t != RULES_CHANGED)


class ImpactError(Exception):
    """The comparison cannot be made. ``kind`` says why: ``unknown_payer``, ``unreadable_candidate``,
    ``current_does_not_load``, ``candidate_does_not_load``, ``unreadable_corpus``."""

    def __init__(self, kind: str, message: str, problems: list[Problem] | None = None):
        self.kind, self.message, self.problems = kind, message, list(problems or [])
        super().__init__(message)


@dataclass
class InvalidEncounter:
    location: str
    encounter: str | None      # its id, when it has one
    code: str
    problem: str

    def to_dict(self) -> dict:
        return {"location": self.location, "encounter": self.encounter, "code": self.code,
                "problem": self.problem}


@dataclass
class Change:
    type: str
    encounter: str
    location: str
    line: str | None = None
    code: str | None = None
    current: dict | None = None
    candidate: dict | None = None
    problem: str | None = None      # for now_refused / now_accepted: why the other side refuses it

    @property
    def responsible(self) -> dict:
        """The rules behind the change on each side: denials only one side has, else the units rules."""
        a, b = self.current or {}, self.candidate or {}
        gone = [r for r in a.get("denied_by", []) if r not in b.get("denied_by", [])]
        came = [r for r in b.get("denied_by", []) if r not in a.get("denied_by", [])]
        if self.type in (UNITS_UP, UNITS_DOWN) or (not gone and not came):
            return {"current": a.get("rules", []), "candidate": b.get("rules", [])}
        return {"current": gone or a.get("rules", []), "candidate": came or b.get("rules", [])}

    def to_dict(self) -> dict:
        out = {"type": self.type, "encounter": self.encounter, "location": self.location}
        if self.line is not None:
            out.update(line=self.line, code=self.code, current=self.current, candidate=self.candidate,
                       responsible=self.responsible)
        if self.problem is not None:
            out["problem"] = self.problem
        return out


@dataclass
class SideTiming:
    seconds: float = 0.0
    encounters: int = 0

    def to_dict(self) -> dict:
        return {"seconds": round(self.seconds, 4), "encounters": self.encounters,
                "encounters_per_s": round(self.encounters / self.seconds, 1) if self.seconds else None}


@dataclass
class Impact:
    payer: str
    current_version: str
    candidate_version: str
    decided: int = 0                 # encounters both policies accepted and decided
    lines: int = 0
    changes: list[Change] = field(default_factory=list)
    invalid: list[InvalidEncounter] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)      # engine failures (reported, never raised)
    verdicts: dict = field(default_factory=lambda: {"current": dict.fromkeys(VERDICTS, 0),
                                                     "candidate": dict.fromkeys(VERDICTS, 0)})
    timing: dict = field(default_factory=lambda: {"current": SideTiming(), "candidate": SideTiming()})
    wall_seconds: float = 0.0

    def counts(self) -> dict:
        out = dict.fromkeys(CHANGE_TYPES, 0)
        for c in self.changes:
            out[c.type] += 1
        return out

    def decision_changes(self) -> list[Change]:
        return [c for c in self.changes if c.type != RULES_CHANGED]

    def summary(self) -> dict:
        changed = self.decision_changes()
        return {"encounters_decided": self.decided, "lines_decided": self.lines,
                "lines_changed": sum(1 for c in changed if c.line is not None),
                "encounters_changed": len({c.location for c in changed if c.line is not None}),
                "encounters_refused_or_accepted": sum(1 for c in changed if c.line is None),
                "lines_same_decision_other_rules": sum(1 for c in self.changes if c.type == RULES_CHANGED),
                "by_type": {k: v for k, v in self.counts().items()},
                "verdicts": self.verdicts}

    def timing_dict(self) -> dict:
        both = self.timing["current"].seconds + self.timing["candidate"].seconds
        return {"current": self.timing["current"].to_dict(), "candidate": self.timing["candidate"].to_dict(),
                "wall_seconds": round(self.wall_seconds, 4),
                "encounters_per_s": round(self.decided / self.wall_seconds, 1) if self.wall_seconds else None,
                "decide_seconds_both": round(both, 4)}

    def to_dict(self) -> dict:
        return {"payer": self.payer, "current_version": self.current_version,
                "candidate_version": self.candidate_version, "summary": self.summary(),
                "changes": [c.to_dict() for c in self.changes],
                "invalid": [i.to_dict() for i in self.invalid], "errors": self.errors,
                "timing": self.timing_dict()}
