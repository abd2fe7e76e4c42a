"""The evaluators' names, apart from the evaluators (importing this loads neither pyDatalog nor the
plan): what the command line's ``--engine`` and the server's ``SUPPORTABLE_ENGINE`` accept.

- ``plan``: the bottom-up evaluation plan (engine.plan), proofs read from the derivations it
  records; the default (``make engines-check``: identical decisions to pyDatalog's on the whole
  corpus under every payer, several times faster; README, "The engine").
- ``pydatalog``: the reference, the same compiled program run by pyDatalog.
"""
from __future__ import annotations

PYDATALOG, PLAN = "pydatalog", "plan"
ENGINES = (PLAN, PYDATALOG)
DEFAULT_ENGINE = PLAN


def check_engine(name: str | None) -> str:
    """``name``, or the default engine for None; ValueError naming the engines for any other name."""
    if name is None:
        return DEFAULT_ENGINE
    if name not in ENGINES:
        raise ValueError(f"unknown engine `{name}`: expected one of {', '.join(ENGINES)}")
    return name
