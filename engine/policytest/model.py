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


@dataclass
class LineResult:
    line: str
    code: str
    expected: dict
    actual: dict
    fired: list[str]
    mismatches: list[Mismatch] = field(default_factory=list)


@dataclass
class CaseResult:
    case: Case
    status: str
    lines: list[LineResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass
class RunError:
    """A problem outside any one case (a file, a payer, a path), with any details (e.g. the
    problems of a payer whose policies do not load)."""
    problem: Problem
    details: list[Problem] = field(default_factory=list)


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
