"""The comparison operators of the rule language, evaluated on constants outside the engine (the
explainer's proofs and why-nots, explain-code's check of what a code can satisfy)."""
from __future__ import annotations

import operator

OPERATORS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
             ">=": operator.ge}


def compare(left, op: str, right) -> bool | None:
    """Whether ``left op right`` holds; None when it cannot be decided: a side has no value, or the
    values are of kinds that have no order (a string and a number under ``<``).

    Callers say what undecided means for their question: the explainer asks whether the comparison
    held (``is True``: it did not), explain-code whether it can hold for some claim (``is not False``:
    it is kept, not ruled out)."""
    if left is None or right is None:
        return None
    try:
        return bool(OPERATORS[op](left, right))
    except TypeError:
        return None
