"""Problems found in policy files and inputs, as values.

Every problem carries a stable snake_case ``code``, a one-sentence message (lowercase start, user
input in backticks) and, where it comes from a file, a 1-based ``file:line:col`` location. Checks
collect every problem they find rather than stopping at the first one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable


@dataclass(frozen=True, order=True)
class Location:
    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column}"
        return self.file

    def shifted(self, line_offset: int, column: int) -> "Location":
        """A position inside a rule string, mapped back onto the YAML file."""
        return Location(self.file, self.line + line_offset, column)


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    location: Location | None = None
    level: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.level}: {self.message} [{self.code}]"


class PolicyError(Exception):
    """Raised when a policy set cannot be loaded; carries every problem found."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.location or Location(""), p.code))
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class FieldProblem:
    """A problem with one field of an input document, located by its path (``lines[2].code``)."""
    path: str
    message: str
    code: str = "invalid_value"

    def __str__(self) -> str:
        return f"{self.path or '(document)'}: {self.message}"


class InputError(Exception):
    """Raised when an encounter is malformed or uses unknown vocabulary; carries every problem."""

    def __init__(self, problems: Iterable[FieldProblem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class Problems:
    """A collector used by the loading and checking stages."""
    items: list[Problem] = field(default_factory=list)

    def error(self, code: str, message: str, location: Location | None = None) -> None:
        self.items.append(Problem(code, message, location, "error"))

    def warning(self, code: str, message: str, location: Location | None = None) -> None:
        self.items.append(Problem(code, message, location, "warning"))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.level == "error"]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise PolicyError(self.items)
