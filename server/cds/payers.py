"""Which payer overlay serves a Coverage: its payor's identifier looked up in a small table.

A Coverage names its payer in ``payor`` (a reference to an Organization, usually with an
``identifier``: the payer id of the X12 transactions, or a plan's own id) and perhaps a ``display``.
The table maps identifier values (and, failing those, exact display names) to overlay ids. It is the
service's own small table for now; the payer-id table shared with the X12 front door replaces it.
An identifier whose system is ``urn:supportable:payer`` names the overlay directly.
"""
from __future__ import annotations

OVERLAY_SYSTEM = "urn:supportable:payer"

# identifier value -> overlay. The payer ids are the ones clearinghouses publish for these payers
# (60054: Aetna's commercial plans; CMS's Medicare Administrative Contractors take the beneficiary's
# Medicare number instead, so Medicare is found by name).
BY_IDENTIFIER = {"60054": "aetna"}
BY_NAME = {"aetna": "aetna", "medicare": "medicare", "aetna medicare": "aetna_medicare",
           "aetna medicare advantage": "aetna_medicare"}


def overlay_for(payor: dict, known: list[str]) -> str | None:
    """The overlay id for one ``Coverage.payor`` reference (a dict), or None."""
    identifier = payor.get("identifier") or {}
    value = str(identifier.get("value") or "")
    if identifier.get("system") == OVERLAY_SYSTEM and value in known:
        return value
    if value in BY_IDENTIFIER:
        return BY_IDENTIFIER[value]
    name = str(payor.get("display") or "").strip().lower()
    return BY_NAME.get(name)
