"""Provider taxonomy codes (the NUCC Health Care Provider Taxonomy code set: an 837's PRV03, a FHIR
Claim's careTeam qualification, a CDS Hooks order's performer) to the encounter's provider types
(policies/vocabulary/provider_types.yaml): the one table every front door reads.

A code is looked up whole first, then by its prefix (``2251...`` are physical therapist
specialties, ``20...`` the allopathic and osteopathic physicians). A code with no row is not
guessed: the claim needs ``provider.type`` from the sidecar (docs/x12.md).
"""
from __future__ import annotations

CODES = {
    "225100000X": "physical_therapist",
    "225200000X": "physical_therapist_assistant",
    "225X00000X": "occupational_therapist",
    "224Z00000X": "occupational_therapy_assistant",
    "111N00000X": "chiropractor",
    "171100000X": "acupuncturist",
    "2255A2300X": "athletic_trainer",
    "363L00000X": "nurse_practitioner",
    "363A00000X": "physician_assistant",
    "364S00000X": "clinical_nurse_specialist",
    "225700000X": "other",          # massage therapist
    "208D00000X": "physician",      # general practice (and every other 20... code, by its prefix)
    "207Q00000X": "physician",      # family medicine
    "207R00000X": "physician",      # internal medicine
    "208100000X": "physician",      # physical medicine & rehabilitation
}
# specialties under a classification (first characters of the code), longest first
PREFIXES = [("2251", "physical_therapist"), ("225X", "occupational_therapist"),
            ("224Z", "occupational_therapy_assistant"), ("111N", "chiropractor"), ("363L", "nurse_practitioner"),
            ("363A", "physician_assistant"), ("364S", "clinical_nurse_specialist"), ("20", "physician")]


def provider_type(taxonomy: str | None) -> str | None:
    """The provider type of a taxonomy code, or None when the table does not know it."""
    if not taxonomy:
        return None
    code = taxonomy.strip().upper()
    if code in CODES:
        return CODES[code]
    return next((kind for prefix, kind in PREFIXES if code.startswith(prefix)), None)
