"""The analyst's tools on the wire (their ``--format json``): lint, a policy-test run with its
coverage, and the parts of an impact report that come from the engine's results."""
from __future__ import annotations

from typing import Any, Optional

from typing_extensions import NotRequired, TypedDict

from .common import ProblemItem, problem_item, problem_items, wire


@wire
class LintSummary(TypedDict):
    errors: int
    warnings: int


@wire
class LintReport(TypedDict):
    problems: list[ProblemItem]
    summary: LintSummary


def lint_report(report) -> LintReport:
    return {"problems": problem_items(report.problems),
            "summary": {"errors": report.errors, "warnings": report.warnings}}


# -- policy tests ---------------------------------------------------------------------------------
@wire
class Mismatch(TypedDict):
    field: str
    expected: Any
    actual: Any
    message: str


@wire
class LineResult(TypedDict):
    line: str
    code: str
    passed: bool
    expected: dict[str, Any]
    actual: dict[str, Any]
    fired: list[str]
    mismatches: list[Mismatch]


@wire
class CaseResult(TypedDict):
    file: str
    line: int
    name: str
    source: str
    payer: str
    status: str                      # passed, failed, error
    lines: list[LineResult]
    problems: list[ProblemItem]


@wire
class RuleCoverage(TypedDict):
    id: str
    location: str
    layer: str
    payers: list[str]
    exercised: bool
    exercised_by: dict[str, list[str]]


@wire
class RuleNotExercised(TypedDict):
    id: str
    location: str
    payers: NotRequired[list[str]]   # per file: the tested payers whose chain has it


@wire
class PayerCoverage(TypedDict):
    chain: list[str]
    cases: int
    rules: int
    exercised: int
    never_apply: list[str]           # rules that cannot hold under the payer's parameters and dates
    not_exercised: list[RuleNotExercised]


@wire
class FileCoverage(TypedDict):
    file: str
    rules: int
    exercised: int
    not_exercised: list[RuleNotExercised]
    never_apply: list[str]
    detail: list[RuleCoverage]


@wire
class CoverageTotal(TypedDict):
    rules: int
    exercised: int
    percent: float


@wire
class Coverage(TypedDict):
    payers: dict[str, PayerCoverage]
    files: list[FileCoverage]
    total: CoverageTotal


@wire
class TestSummary(TypedDict):
    passed: int
    failed: int
    errors: int
    text: str


@wire
class PolicyTestRun(TypedDict):
    summary: TestSummary
    files: list[str]
    cases: list[CaseResult]
    errors: list[ProblemItem]
    coverage: NotRequired[Coverage]


def run_error(e) -> ProblemItem:
    out = problem_item(e.problem)
    if e.details:
        out["details"] = problem_items(e.details)
    return out


def line_result(r) -> LineResult:
    return {"line": r.line, "code": r.code, "passed": not r.mismatches, "expected": r.expected, "actual": r.actual,
            "fired": r.fired, "mismatches": [{"field": m.field, "expected": m.expected, "actual": m.actual,
                                              "message": m.message} for m in r.mismatches]}


def case_result(r) -> CaseResult:
    c = r.case
    return {"file": c.file, "line": c.location.line, "name": c.name, "source": c.source, "payer": c.payer,
            "status": r.status, "lines": [line_result(l) for l in r.lines], "problems": problem_items(r.problems)}


def rule_coverage(r) -> RuleCoverage:
    return {"id": r.id, "location": r.location, "layer": r.layer, "payers": sorted(r.payers),
            "exercised": r.exercised, "exercised_by": {p: sorted(h) for p, h in sorted(r.exercised_by.items())}}


def coverage(cov) -> Coverage:
    files = [{**f, "detail": [rule_coverage(r) for r in f["detail"]]} for f in cov.files()]
    total = sum(f["rules"] for f in files)
    done = sum(f["exercised"] for f in files)
    return {"payers": cov.payer_figures(), "files": files,
            "total": {"rules": total, "exercised": done, "percent": round(100 * done / total, 1) if total else 100.0}}


def policy_test_run(run) -> PolicyTestRun:
    out: PolicyTestRun = {"summary": {"passed": run.passed, "failed": run.failed, "errors": run.error_count,
                                      "text": run.summary()},
                          "files": run.files, "cases": [case_result(r) for r in run.results],
                          "errors": [run_error(e) for e in run.errors]}
    if run.coverage is not None:
        out["coverage"] = coverage(run.coverage)
    return out


# -- impact -------------------------------------------------------------------------------------------
@wire
class InvalidEncounter(TypedDict):
    location: str
    encounter: Optional[str]
    code: str
    problem: str


@wire
class Change(TypedDict):
    type: str
    encounter: str
    location: str
    line: NotRequired[str]
    code: NotRequired[Optional[str]]
    current: NotRequired[Optional[dict[str, Any]]]
    candidate: NotRequired[Optional[dict[str, Any]]]
    responsible: NotRequired[dict[str, list[str]]]
    problem: NotRequired[str]


@wire
class Dependent(TypedDict):
    payer: str
    chain: list[str]
    current_version: Optional[str]
    candidate_version: Optional[str]
    policy_changes: bool
    loads_with_candidate: bool
    problems_with_candidate: list[ProblemItem]
    current_problems: list[ProblemItem]
    impact: NotRequired[dict[str, Any]]


def invalid_encounter(i) -> InvalidEncounter:
    return {"location": i.location, "encounter": i.encounter, "code": i.code, "problem": i.problem}


def change(c) -> Change:
    out: Change = {"type": c.type, "encounter": c.encounter, "location": c.location}
    if c.line is not None:
        out.update(line=c.line, code=c.code, current=c.current, candidate=c.candidate, responsible=c.responsible)
    if c.problem is not None:
        out["problem"] = c.problem
    return out


def dependent(d) -> Dependent:
    return {"payer": d.payer, "chain": d.chain, "current_version": d.current_version,
            "candidate_version": d.candidate_version, "policy_changes": d.changes, "loads_with_candidate": d.loads,
            "problems_with_candidate": problem_items(d.candidate_problems),
            "current_problems": problem_items(d.current_problems)}


def side_timing(t) -> dict[str, Any]:
    return {"seconds": round(t.seconds, 4), "encounters": t.encounters,
            "encounters_per_s": round(t.encounters / t.seconds, 1) if t.seconds else None}


def impact_timing(result) -> dict[str, Any]:
    both = result.timing["current"].seconds + result.timing["candidate"].seconds
    return {"current": side_timing(result.timing["current"]), "candidate": side_timing(result.timing["candidate"]),
            "wall_seconds": round(result.wall_seconds, 4),
            "encounters_per_s": round(result.decided / result.wall_seconds, 1) if result.wall_seconds else None,
            "decide_seconds_both": round(both, 4)}
