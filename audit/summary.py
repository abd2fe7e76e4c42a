"""An audit's summary: counts by verdict, payer, code and reason, units billed and supportable, the
money at risk where lines carry a ``charge``, invalid encounters by problem, and the slowest
encounters.

Each partition is tallied on the worker that decided it (:class:`Tally`, from the result documents
and each line's charge); the client merges the tallies (``merge``) and writes
:meth:`Tally.document`. Money at risk on a line is its charge in proportion to the billed units the
line does not support: ``charge * (billed - supportable) / billed`` (a line denied outright puts its
whole charge at risk). Lines without a charge add nothing; ``money.lines_with_charge`` says how many
had one.
"""
from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field

SLOWEST = 10
UNREAD = "(not read)"     # the payer of an encounter that is not JSON, when no --payer names one


def _cents(amount: float) -> int:
    return round(amount * 100)


@dataclass
class Tally:
    encounters: int = 0
    decided: int = 0
    invalid: int = 0
    lines: int = 0
    by_verdict: Counter = field(default_factory=Counter)
    by_payer: dict = field(default_factory=dict)          # payer -> {"encounters", "invalid", "lines", verdict...}
    by_code: dict = field(default_factory=dict)           # code -> Counter of verdicts (+ "lines")
    by_reason: Counter = field(default_factory=Counter)   # reason id -> lines
    by_problem: Counter = field(default_factory=Counter)  # invalid encounters: problem type / field code
    units_billed: int = 0
    units_supportable: int = 0
    lines_with_charge: int = 0
    charge_cents: int = 0
    at_risk_cents: int = 0
    at_risk_by_payer: Counter = field(default_factory=Counter)
    slowest: list = field(default_factory=list)           # heap of (ms, index, source, encounter id)

    def add(self, result: dict, payer: str | None, elapsed_ms: float, charges: dict[str, float] | None = None) -> None:
        """Count one result document (``{"index", "source", "decision"|"error"}``)."""
        self.encounters += 1
        per_payer = self.by_payer.setdefault(payer or UNREAD, Counter())
        per_payer["encounters"] += 1
        decision = result.get("decision")
        entry = (round(elapsed_ms, 3), result["index"], result["source"],
                 decision["encounter"] if decision else None)
        if len(self.slowest) < SLOWEST:
            heapq.heappush(self.slowest, entry)
        else:
            heapq.heappushpop(self.slowest, entry)
        if decision is None:
            self.invalid += 1
            per_payer["invalid"] += 1
            error = result["error"]
            codes = [p.get("code") for p in error.get("problems") or []] or [error["type"].rsplit("/", 1)[-1]]
            self.by_problem.update(set(codes))
            return
        self.decided += 1
        for line in decision["lines"]:
            verdict, code = line["verdict"], line["code"]
            billed, supportable = line["units"]["billed"], line["units"]["supportable"]
            self.lines += 1
            self.by_verdict[verdict] += 1
            per_payer["lines"] += 1
            per_payer[verdict] += 1
            per_code = self.by_code.setdefault(code, Counter())
            per_code["lines"] += 1
            per_code[verdict] += 1
            self.by_reason.update({r["id"] for r in line["reasons"]})
            self.units_billed += billed
            self.units_supportable += min(supportable, billed)
            charge = (charges or {}).get(line["line"])
            if charge is not None:
                self.lines_with_charge += 1
                self.charge_cents += _cents(charge)
                if billed > supportable:
                    risk = _cents(charge * (billed - max(supportable, 0)) / billed)
                    self.at_risk_cents += risk
                    self.at_risk_by_payer[payer or UNREAD] += risk

    def merge(self, other: "Tally") -> "Tally":
        for name in ("encounters", "decided", "invalid", "lines", "units_billed", "units_supportable",
                     "lines_with_charge", "charge_cents", "at_risk_cents"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("by_verdict", "by_reason", "by_problem", "at_risk_by_payer"):
            getattr(self, name).update(getattr(other, name))
        for name in ("by_payer", "by_code"):
            mine = getattr(self, name)
            for key, counts in getattr(other, name).items():
                mine.setdefault(key, Counter()).update(counts)
        for entry in other.slowest:
            if len(self.slowest) < SLOWEST:
                heapq.heappush(self.slowest, entry)
            else:
                heapq.heappushpop(self.slowest, entry)
        return self

    def document(self, top: int = 20) -> dict:
        """The summary's counts as JSON (the run's facts, such as workers and timing, are added by the caller)."""
        return {
            "encounters": self.encounters, "decided": self.decided, "invalid": self.invalid, "lines": self.lines,
            "by_verdict": dict(sorted(self.by_verdict.items())),
            "by_payer": {p: dict(sorted(c.items())) for p, c in sorted(self.by_payer.items())},
            "by_code": {code: dict(sorted(c.items())) for code, c in sorted(self.by_code.items())},
            "by_reason": dict(sorted(self.by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
            "top_reasons": [{"id": r, "lines": n} for r, n in
                            sorted(self.by_reason.items(), key=lambda kv: (-kv[1], kv[0]))[:top]],
            "invalid_by_problem": dict(sorted(self.by_problem.items(), key=lambda kv: (-kv[1], kv[0]))),
            "units": {"billed": self.units_billed, "supportable": self.units_supportable,
                      "not_supportable": self.units_billed - self.units_supportable},
            "money": {"lines_with_charge": self.lines_with_charge, "charged": self.charge_cents / 100,
                      "at_risk": self.at_risk_cents / 100,
                      "at_risk_by_payer": {p: c / 100 for p, c in sorted(self.at_risk_by_payer.items())}},
            "slowest": [{"index": i, "source": s, "encounter": e, "ms": ms}
                        for ms, i, s, e in sorted(self.slowest, key=lambda t: (-t[0], t[1]))],
        }
