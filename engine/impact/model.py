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


def classify(old_verdict: str, old_units: int, new_verdict: str, new_units: int) -> str | None:
    """The change of one line's decision: ``old->new`` for a verdict, ``units_up``/``units_down`` for
    the supportable units under the same verdict, None when both are the same (impact and replay)."""
    if old_verdict != new_verdict:
        return f"{old_verdict}->{new_verdict}"
    if old_units != new_units:
        return UNITS_UP if new_units > old_units else UNITS_DOWN
    return None


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


@dataclass
class SideTiming:
    seconds: float = 0.0
    encounters: int = 0


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
