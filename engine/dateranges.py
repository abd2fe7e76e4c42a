"""Effective ranges: ``[from, to)`` as ISO dates, either end ``None`` for unbounded. How two meet,
and how a range reads in a message, in each of the wordings the outputs use."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

Range = tuple[str | None, str | None]


def overlap(ranges: Iterable[Range]) -> Range | None:
    """The common part of ``[from, to)`` ranges, or None if they do not meet."""
    ranges = list(ranges)
    lo = max((f for f, _ in ranges if f), default=None)
    hi = min((t for _, t in ranges if t), default=None)
    if lo and hi and lo >= hi:
        return None
    return lo, hi


@dataclass(frozen=True)
class RangeWording:
    """How a range reads, for each of its four shapes (``{lo}`` and ``{hi}`` are the dates)."""
    bounded: str
    from_only: str
    to_only: str
    unbounded: str

    def text(self, lo: str | None, hi: str | None) -> str:
        if lo and hi:
            return self.bounded.format(lo=lo, hi=hi)
        if lo:
            return self.from_only.format(lo=lo)
        if hi:
            return self.to_only.format(hi=hi)
        return self.unbounded


# lint's warnings: "their effective ranges overlap (from 2026-01-01 on)"
SPAN = RangeWording("from {lo} until {hi}", "from {lo} on", "until {hi}", "on every date")
# a payer's dates in force, where the end's exclusion matters (input problems, lint)
IN_FORCE = RangeWording("from {lo} until (not including) {hi}", "from {lo}", "until (not including) {hi}",
                        "on every date")
# the note after a rule in the text rendering: " (in force from 2026-01-01)", nothing when unbounded
RULE_NOTE = RangeWording(" (in force {lo} to {hi})", " (in force from {lo})", " (in force until {hi})", "")
