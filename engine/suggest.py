"""The "did you mean" hint every problem about an unknown name ends with."""
from __future__ import annotations

import difflib
from typing import Iterable


def did_you_mean(name: object, known: Iterable) -> str:
    """``; did you mean `x`?`` for the known name closest to ``name``, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(name), sorted(map(str, known)), n=1)
    return f"; did you mean `{close[0]}`?" if close else ""
