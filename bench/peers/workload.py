"""The peers' small claim policy: the workload generator, the plain-Python reference, and the mapping
of a claim onto Supportable's encounter format (../shared/bench/anchors-policy.md).

A claim is a plain dict::

    {"id": "c17", "payer": "aetna" | "other", "day": 20123,          # dates are integer day numbers
     "visits": [20071, 20090, ...],                                   # distinct prior visit dates
     "lines": [{"id": "1", "code": "97112", "day": 20123, "minutes": 23,
                "documented": ["functional_goals", ...]}, ...]}

and every engine's answer is ``{line id: (supportable, sorted reasons)}``, a reason being
``missing:<element>``, ``same_day_conflict`` or ``visit_cap_exceeded``.

Claim ``i`` depends only on the seed and ``i`` (its own ``random.Random``), so any prefix of the
workload, or any one claim, can be regenerated alone.
"""
from __future__ import annotations

import datetime as _dt
import random

REQUIRES = {
    "97116": ("gait_impairment", "functional_goals", "skilled_contact", "time_documented"),
    "97110": ("single_parameter_goal", "functional_goals", "skilled_contact", "time_documented"),
    "97112": ("neuro_deficit", "functional_goals", "skilled_contact", "time_documented"),
    "97530": ("multi_parameter_goal", "functional_goals", "skilled_contact", "time_documented"),
}
CODES = tuple(sorted(REQUIRES))
ELEMENTS = tuple(sorted({e for els in REQUIRES.values() for e in els}))
MINUTES = (8, 15, 23, 30, 38, 45, 53, 60)
NMR, NMR_CONFLICTS = "97112", ("97110", "97530")
CAP_VISITS, CAP_WINDOW = 18, 42
AETNA = "aetna"
DEFAULT_SEED, DEFAULT_COUNT = 13, 2000
FIRST_DAY = 20000                          # day numbers of claims' first days start about here


# ------------------------------------------------------------------------------------------------
# The workload
# ------------------------------------------------------------------------------------------------

def claim(seed: int, i: int) -> dict:
    """Claim ``i`` of the workload of ``seed`` (anchors-policy.md, "Workload")."""
    rng = random.Random(f"anchors/{seed}/{i}")
    day = FIRST_DAY + rng.randrange(365)
    lines = []
    for n in range(1, rng.randint(1, 6) + 1):
        code = rng.choice(CODES)
        required = REQUIRES[code]
        if rng.random() < 0.5:
            documented = set(required)
        else:
            documented = {e for e in required if rng.random() < 0.75}
        documented |= {e for e in ELEMENTS if e not in required and rng.random() < 0.15}
        lines.append({"id": str(n), "code": code, "day": day + rng.randint(0, 1),
                      "minutes": rng.choice(MINUTES), "documented": sorted(documented)})
    visits = sorted(rng.sample(range(day - 60, day), rng.randint(0, 30)))
    payer = AETNA if rng.random() < 0.6 else "other"
    return {"id": f"c{i}", "payer": payer, "day": day, "visits": visits, "lines": lines}


def workload(seed: int, count: int, start: int = 0) -> list[dict]:
    return [claim(seed, i) for i in range(start, start + count)]


# ------------------------------------------------------------------------------------------------
# The plain-Python reference
# ------------------------------------------------------------------------------------------------

def reference(c: dict) -> dict:
    """Each line's (supportable, sorted reasons), straight from the policy's wording."""
    out = {}
    aetna = c["payer"] == AETNA
    for line in c["lines"]:
        documented = set(line["documented"])
        reasons = [f"missing:{e}" for e in REQUIRES[line["code"]] if e not in documented]
        if aetna:
            same_day = {other["code"] for other in c["lines"] if other["day"] == line["day"]}
            if (line["code"] == NMR and same_day & set(NMR_CONFLICTS)) or \
                    (line["code"] in NMR_CONFLICTS and NMR in same_day):
                reasons.append("same_day_conflict")
            if line["code"] == NMR:
                d = line["day"]
                if sum(1 for h in c["visits"] if d - CAP_WINDOW <= h < d) > CAP_VISITS:
                    reasons.append("visit_cap_exceeded")
        out[line["id"]] = (not reasons, tuple(sorted(reasons)))
    return out


def totals(answers: list[dict]) -> dict:
    """The workload's figures anchors-policy.md quotes (supportable lines, reasons by kind)."""
    t = {"claims": len(answers), "lines": 0, "supportable": 0, "missing": 0, "same_day_conflict": 0,
         "visit_cap_exceeded": 0}
    for answer in answers:
        for ok, reasons in answer.values():
            t["lines"] += 1
            t["supportable"] += ok
            for r in reasons:
                t["missing" if r.startswith("missing:") else r] += 1
    return t


# ------------------------------------------------------------------------------------------------
# A claim as a Supportable encounter
# ------------------------------------------------------------------------------------------------
# The encounter format has one date of service per encounter and no per-line date. A claim maps to
# one encounter whose date of service is the claim's first day; each line's date becomes its time
# block, `day0` or `day1` (the policy reads the offset from it, bench/peers/policy); the prior visit
# dates become `patient.history` (the policy reads `prior_visit(Date, DaysBefore)`); the payer picks
# the policy set: `aetna` (the overlay in bench/peers/policy/payers) or `base` for any other payer.
# Codes and minutes are carried as they are; every line bills one unit, which the policy accepts.

_EPOCH = _dt.date(1970, 1, 1)


def iso(day: int) -> str:
    return (_EPOCH + _dt.timedelta(days=day)).isoformat()


def policy_payer(c: dict) -> str:
    return AETNA if c["payer"] == AETNA else "base"


def encounter(c: dict) -> dict:
    day = c["day"]
    for line in c["lines"]:
        if line["day"] - day not in (0, 1):
            raise ValueError(f"claim {c['id']} line {line['id']}: only the first day and the next map to a time block")
    return {
        "id": c["id"],
        "date_of_service": iso(day),
        "provider": {"type": "physical_therapist"},
        "patient": {"id": f"patient-{c['id']}", "history": [{"date": iso(h), "codes": []} for h in c["visits"]]},
        "lines": [{"id": line["id"], "code": line["code"], "minutes": line["minutes"], "units": 1,
                   "time_block": f"day{line['day'] - day}", "documentation": list(line["documented"])}
                  for line in c["lines"]],
    }


REASON_OF_RULE = {"aetna.anchors.same_day_conflict": "same_day_conflict",
                  "aetna.anchors.visit_cap_exceeded": "visit_cap_exceeded"}
MISSING_RULE = "anchors.missing_element"


def from_decision(doc: dict) -> dict:
    """A decision document (``wire.decision``) as each line's (supportable, sorted reasons): a
    missing-element reason per element of ``missing_documentation``, the others by rule id."""
    out = {}
    for line in doc["lines"]:
        reasons = [f"missing:{e}" for e in line["missing_documentation"]]
        n_missing = 0
        for r in line["reasons"]:
            if r["id"] == MISSING_RULE:
                n_missing += 1
            else:
                reasons.append(REASON_OF_RULE.get(r["id"], f"unexpected:{r['id']}"))
        if n_missing != len(line["missing_documentation"]):
            reasons.append(f"unexpected:{n_missing} missing-element reasons for {line['missing_documentation']}")
        out[line["line"]] = (line["verdict"] == "supportable", tuple(sorted(reasons)))
    return out
