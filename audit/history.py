"""A patient's history read from the corpus (``supportable audit --history-from-corpus``).

An encounter carries its patient's earlier visits (``patient.history``: date and codes, which visit
limits such as Aetna's NMR visit norm count) and the year's therapy amounts before it
(``patient.year_to_date``: ``pt_slp`` and ``ot``, which Medicare's KX threshold adds the claim's
lines to). A corpus of claims often holds those earlier visits itself; this module derives both
fields from them, for every encounter whose patient (``patient.id``) has at least one earlier
encounter in the corpus (an earlier ``date_of_service``; visits on the same day are not earlier):

- ``history``: one item per earlier encounter, its date and the codes of its lines, in date order;
- ``year_to_date``: over the earlier encounters in the same calendar year, the ``allowed_amount`` of
  each line with a discipline modifier: GP or GN count toward ``pt_slp``, GO toward ``ot`` (as the KX
  rules sort a claim's own lines); a line without an allowed amount adds nothing.

These replace the encounter's own two fields (nothing else of it); an encounter whose patient has no
earlier visit in the corpus keeps its own. The summary says how many took which. A document that is
not a JSON object with a patient id and a date is left alone (it is reported where it is decided).
"""
from __future__ import annotations

import json
from collections import defaultdict
from typing import Iterable

CATEGORY = {"GP": "pt_slp", "GN": "pt_slp", "GO": "ot"}


def _visit(document) -> tuple[str, str, list[str], dict[str, float]] | None:
    """(patient id, date, codes, amounts by category) of one encounter document, or None."""
    if not isinstance(document, dict):
        return None
    patient, date = document.get("patient"), document.get("date_of_service")
    lines = document.get("lines")
    if not isinstance(patient, dict) or not isinstance(patient.get("id"), str) or not isinstance(date, str) \
            or not isinstance(lines, list):
        return None
    codes: list[str] = []
    amounts = {"pt_slp": 0.0, "ot": 0.0}
    for line in lines:
        if not isinstance(line, dict) or not isinstance(line.get("code"), str):
            continue
        if line["code"] not in codes:
            codes.append(line["code"])
        amount = line.get("allowed_amount")
        modifiers = line.get("modifiers") if isinstance(line.get("modifiers"), list) else []
        category = next((CATEGORY[m] for m in modifiers if m in CATEGORY), None)
        if category and isinstance(amount, (int, float)) and not isinstance(amount, bool) and amount >= 0:
            amounts[category] += amount
    return patient["id"], date, codes, amounts


def derive(items: Iterable) -> tuple[dict[int, dict], str]:
    """The replacement patient fields by encounter index, and a sentence for the summary."""
    visits: dict[str, list[tuple[str, int, list[str], dict]]] = defaultdict(list)
    total = 0
    for item in items:
        total += 1
        if item.unreadable:
            continue
        try:
            found = _visit(json.loads(item.text))
        except (ValueError, RecursionError):
            continue
        if found is not None:
            pid, date, codes, amounts = found
            visits[pid].append((date, item.index, codes, amounts))
    patients: dict[int, dict] = {}
    for pid, seen in visits.items():
        seen.sort()
        for date, index, _, _ in seen:
            earlier = [v for v in seen if v[0] < date]
            if not earlier:
                continue
            year = date[:4]
            ytd = {"pt_slp": 0.0, "ot": 0.0}
            for d, _, _, amounts in earlier:
                if d[:4] == year:
                    ytd = {k: ytd[k] + amounts[k] for k in ytd}
            patients[index] = {"history": [{"date": d, "codes": codes} for d, _, codes, _ in earlier if codes],
                               "year_to_date": {k: round(v, 2) for k, v in ytd.items()}}
    note = (f"derived from the corpus for {len(patients)} encounter(s) whose patient has earlier visits in it "
            f"(their patient.history and patient.year_to_date replaced); the other {total - len(patients)} kept "
            "their own")
    return patients, note
