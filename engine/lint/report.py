"""What a lint run found: its problems, sorted by location, and which payers it covered (the command
line, cli.lint, renders it as text or JSON)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Problem


@dataclass
class LintReport:
    problems: list[Problem]
    payers: list[str] = field(default_factory=list)        # every payer linted
    failed: list[str] = field(default_factory=list)        # payers that do not load

    def count(self, level: str) -> int:
        return sum(1 for p in self.problems if p.level == level)

    @property
    def errors(self) -> int:
        return self.count("error")

    @property
    def warnings(self) -> int:
        return self.count("warning")
