"""Did you mean: the closest known name, as a suffix for a problem's message."""
from __future__ import annotations

import difflib


def suggest(name: str, known) -> str:
    close = difflib.get_close_matches(str(name), sorted(map(str, known)), n=1)
    return f"; did you mean `{close[0]}`?" if close else ""
