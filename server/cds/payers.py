"""Which payer overlay serves a Coverage: its payor's identifier looked up in a small table.

A Coverage names its payer in ``payor`` (a reference to an Organization, usually with an
``identifier``: the payer id of the X12 transactions, or a plan's own id) and perhaps a ``display``.
An identifier whose system is ``urn:supportable:payer`` names the overlay directly; any other
identifier is looked up in the payer-identifier table every front door reads (server/payer_ids.py,
the one the 837 and FHIR Claim front doors use); failing those, a few exact display names below.
"""
from __future__ import annotations

OVERLAY_SYSTEM = "urn:supportable:payer"

# Display names, for a Coverage whose payor carries no identifier the table knows (CMS's Medicare
# Administrative Contractors take the beneficiary's Medicare number instead, so Medicare is found by name).
BY_NAME = {"aetna": "aetna", "medicare": "medicare", "aetna medicare": "aetna_medicare",
           "aetna medicare advantage": "aetna_medicare"}


def overlay_for(payor: dict, known: list[str], payer_ids=None) -> str | None:
    """The overlay id for one ``Coverage.payor`` reference (a dict), or None. ``payer_ids``: the
    payer-identifier table's lookup (identifier -> overlay id or None)."""
    identifier = payor.get("identifier") or {}
    value = str(identifier.get("value") or "")
    if identifier.get("system") == OVERLAY_SYSTEM and value in known:
        return value
    found = payer_ids(value) if payer_ids is not None and value else None
    if found:
        return found
    name = str(payor.get("display") or "").strip().lower()
    return BY_NAME.get(name)
