"""The result model of a policy-test run: the cases read from a file, each line's expectation and
result, the errors outside any case, and the run with its summary."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..encounter import Encounter
from ..errors import Location, Problem
from ..policyset import PolicySet

if TYPE_CHECKING:
    from .coverage import Coverage

PASSED, FAILED, ERROR = "passed", "failed", "error"


@dataclass
class LineExpectation:
    line: str
    location: Location
    fields: dict[str, object]                       # field -> expected value, in file order
    locations: dict[str, Location] = field(default_factory=dict)


@dataclass
class Case:
    file: str
    location: Location
    name: str
    payer: str
    source: str = ""                              # the guidance the case rests on, as written
    policy: PolicySet | None = None               # the payer with the file's own edit rows, if it has any
    expect: list[LineExpectation] = field(default_factory=list)
    data: dict | None = None                      # the encounter document, after the change
    encounter: Encounter | None = None            # validated
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Mismatch:
    field: str
    expected: object
    actual: object
    message: str

    def to_dict(self) -> dict:
        return {"field": self.field, "expected": self.expected, "actual": self.actual, "message": self.message}


@dataclass
class LineResult:
    line: str
    code: str
    expected: dict
    actual: dict
    fired: list[str]
    mismatches: list[Mismatch] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"line": self.line, "code": self.code, "passed": not self.mismatches, "expected": self.expected,
                "actual": self.actual, "fired": self.fired, "mismatches": [m.to_dict() for m in self.mismatches]}


@dataclass
class CaseResult:
    case: Case
    status: str
    lines: list[LineResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"file": self.case.file, "line": self.case.location.line, "name": self.case.name,
                "source": self.case.source, "payer": self.case.payer, "status": self.status, "lines": [l.to_dict() for l in self.lines],
                "problems": [p.to_dict() for p in self.problems]}


@dataclass
class RunError:
    """A problem outside any one case (a file, a payer, a path), with any details (e.g. the
    problems of a payer whose policies do not load)."""
    problem: Problem
    details: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = self.problem.to_dict()
        if self.details:
            out["details"] = [p.to_dict() for p in self.details]
        return out


@dataclass
class PolicyTestRun:
    __test__ = False   # not a pytest test class
    files: list[str]
    results: list[CaseResult]
    errors: list[RunError]
    coverage: "Coverage | None" = None

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.status == PASSED)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.status == FAILED)

    @property
    def error_count(self) -> int:
        return sum(1 for r in self.results if r.status == ERROR) + len(self.errors)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.error_count == 0

    def summary(self) -> str:
        text = f"{self.passed} passed, {self.failed} failed"
        if self.error_count:
            text += f", {self.error_count} error{'s' if self.error_count != 1 else ''}"
        return text

    def to_dict(self) -> dict:
        out = {"summary": {"passed": self.passed, "failed": self.failed, "errors": self.error_count,
                           "text": self.summary()},
               "files": self.files, "cases": [r.to_dict() for r in self.results],
               "errors": [e.to_dict() for e in self.errors]}
        if self.coverage is not None:
            out["coverage"] = self.coverage.to_dict()
        return out
