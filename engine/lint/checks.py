"""Every lint check, in one table the runner walks: its name, the level and codes of what it
reports, and its function ``(scope, problems) -> None``, whose docstring says what it checks.

The cross-payer checks (never fires, shadowed, parameter unused) need every payer that holds a
layer: for the layers of a payer that does not load they skip the rule (the runner adds one
``info`` note). Overlapping versions are looked for in the payers that load; ``because`` and
sources in every rule that parses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import Problems
from .across_payers import check_never_fires, check_shadowed, check_unused_parameters
from .because import check_because
from .scope import Scope
from .sources import check_sources
from .versions import check_versions


@dataclass(frozen=True)
class Check:
    name: str
    level: str                  # of what it reports
    codes: tuple[str, ...]      # what it reports
    run: Callable[[Scope, Problems], None]

    @property
    def checks(self) -> str:
        """What it checks: the first paragraph of its function's docstring."""
        return " ".join((self.run.__doc__ or "").split("\n\n")[0].split())


CHECKS: tuple[Check, ...] = (
    Check("never_fires", "warning", ("rule_never_fires",), check_never_fires),
    Check("shadowed", "warning", ("rule_shadowed",), check_shadowed),
    Check("unused_parameters", "warning", ("parameter_unused",), check_unused_parameters),
    Check("sources", "warning", ("missing_source", "unknown_source"), check_sources),
    Check("because", "warning", ("because_unbound_variable",), check_because),
    Check("versions", "warning", ("overlapping_versions",), check_versions),
)

# The codes of the warnings, in the order of the table.
WARNING_CODES = tuple(code for check in CHECKS if check.level == "warning" for code in check.codes)
