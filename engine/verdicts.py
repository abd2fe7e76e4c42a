"""A line's verdict: the three values, in the order reports list them."""
from __future__ import annotations

SUPPORTABLE, NEEDS_DOCUMENTATION, NOT_SUPPORTABLE = "supportable", "needs_documentation", "not_supportable"
VERDICTS = (SUPPORTABLE, NEEDS_DOCUMENTATION, NOT_SUPPORTABLE)
