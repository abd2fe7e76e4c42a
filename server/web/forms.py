"""The "Check a claim" form as an encounter document (docs/encounter.md), and what arrives pasted or
uploaded instead. The form's field names are documented in docs/web.md.

``intake`` is the seam for other claim formats: each reader turns the text a person pasted or
uploaded into an encounter document (or raises :class:`FormError`): encounter JSON, and a FHIR R4
Claim read as ``POST /fhir/Claim/$check`` reads it (docs/fhir.md; its payer through the payer-identifier
table). An X12 837 holds many claims: it belongs on the day's-claims page, not here.
"""
from __future__ import annotations

import json
import re
from typing import Callable

MAX_LINES = 20
SPLIT = re.compile(r"[\s,;]+")


class FormError(ValueError):
    """What is wrong with a form or a pasted document: problem items (path, code, message)."""

    def __init__(self, problems: list[dict]):
        super().__init__("; ".join(p["message"] for p in problems))
        self.problems = problems


def _problem(path: str, message: str, code: str = "invalid_value") -> dict:
    return {"path": path, "code": code, "level": "error", "message": message}


def _number(form, name: str, path: str, problems: list, default: int | None = None) -> int | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        if default is None:
            problems.append(_problem(path, "is required: enter a whole number", "missing_field"))
        return default
    if not raw.isdigit():
        problems.append(_problem(path, f"`{raw}` is not a whole number"))
        return default
    return int(raw)


def encounter_from_form(form) -> dict:
    """The encounter the form describes; FormError lists every field it cannot read."""
    problems: list[dict] = []
    text = lambda name: (form.get(name) or "").strip()    # noqa: E731
    doc: dict = {"id": text("id") or "web-claim", "date_of_service": text("date_of_service"),
                 "provider": {"type": text("provider_type")},
                 "diagnoses": [d.strip().upper() for d in form.getlist("diagnosis") if d.strip()],
                 "documentation": [d for d in form.getlist("documentation") if d],
                 "patient": {"id": text("patient_id") or "patient-1"}}
    if text("payer"):
        doc["payer"] = text("payer")
    if text("condition_status"):
        doc["patient"]["condition_status"] = text("condition_status")
    if text("certified_by"):
        plan = {"certified_by": text("certified_by"), "start_of_care": text("start_of_care")}
        if text("certified_on"):
            plan["certified_on"] = text("certified_on")
        doc["plan_of_care"] = plan
    lines = []
    for i in range(MAX_LINES):
        prefix = f"line-{i}-"
        code = text(prefix + "code")
        if not code:
            continue
        path = f"lines[{len(lines)}]"
        line: dict = {"id": str(len(lines) + 1), "code": code,
                      "minutes": _number(form, prefix + "minutes", path + ".minutes", problems),
                      "units": _number(form, prefix + "units", path + ".units", problems),
                      "modifiers": [m.upper() for m in SPLIT.split(text(prefix + "modifiers")) if m]}
        patients = _number(form, prefix + "patients", path + ".patients_in_session", problems, default=1)
        if patients != 1:
            line["patients_in_session"] = patients
        if text(prefix + "outcome"):
            line["intended_outcomes"] = [text(prefix + "outcome")]
        if text(prefix + "block"):
            line["time_block"] = text(prefix + "block")
        lines.append(line)
    if not lines:
        problems.append(_problem("lines", "enter at least one line with a code", "missing_field"))
    doc["lines"] = lines
    if problems:
        raise FormError(problems)
    return doc


def read_encounter_json(text: str, payer_ids=None) -> dict | list:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormError([_problem("", f"this is not JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}",
                                  "invalid_json")]) from None
    except (ValueError, RecursionError) as exc:
        raise FormError([_problem("", f"this is not JSON: {exc or 'nested too deeply'}", "invalid_json")]) from None


def read_fhir_claim(text: str, payer_ids=None) -> dict:
    """The encounter a FHIR R4 Claim describes, with the payer its insurer's identifier names (when the
    form does not choose one); the Claim's problems located by FHIRPath."""
    from ..wire import fhir
    document = read_encounter_json(text)
    try:
        claim = fhir.read_claim(document, None, payer_ids.payer_for if payer_ids is not None else None)
    except fhir.ClaimError as exc:
        raise FormError([_problem(issue.expression or "Claim", issue.message, issue.problem)
                         for issue in exc.issues]) from None
    encounter = dict(claim.encounter)
    if claim.payer and not encounter.get("payer"):
        encounter["payer"] = claim.payer
    return encounter


def read_x12_claim(text: str, payer_ids=None) -> dict:
    """The one encounter of an X12 837P holding one claim and date of service, read as ``POST
    /v1/x12/837/check`` reads it (docs/x12.md), its payer through the payer-identifier table; an 837 of
    several is sent to the day's-claims page, which checks them all."""
    from .claims_file import read_837
    try:
        items = read_837("this", text, payer_ids)
    except ValueError as exc:
        raise FormError([_problem("", str(exc), "invalid_x12")]) from None
    if len(items) != 1:
        claims = ", ".join(where.split(" (")[0] + (f" on {doc['date_of_service']}" if isinstance(doc, dict) else "")
                           for where, doc in items[:5]) + (", …" if len(items) > 5 else "")
        raise FormError([_problem("", f"this 837 holds {len(items)} encounters ({claims}); check them together on "
                                      "the “A day's claims” page", "several_claims")])
    where, document = items[0]
    if isinstance(document, list):
        raise FormError([{**p, "message": f"{where}: {p['message']}"} for p in document])
    return document


# name -> (label shown on the page, reader(text, payer_ids: the payer-identifier table)).
READERS: dict[str, tuple[str, Callable[..., dict | list]]] = {
    "encounter": ("Encounter JSON (docs/encounter.md)", read_encounter_json),
    "fhir": ("FHIR R4 Claim (docs/fhir.md)", read_fhir_claim),
    "x12": ("X12 837P holding one claim (docs/x12.md)", read_x12_claim),
}


def intake(kind: str, text: str, payer_ids=None) -> dict:
    """One encounter document from pasted or uploaded text of the given kind (``payer_ids``: the
    payer-identifier table, server/payer_ids.py, for formats that name their payer by identifier)."""
    if kind not in READERS:
        raise FormError([_problem("format", f"unknown format `{kind}`; choose one of {', '.join(READERS)}")])
    if not text.strip():
        raise FormError([_problem("", "nothing was pasted or uploaded", "missing_field")])
    document = READERS[kind][1](text, payer_ids)
    if not isinstance(document, dict):
        raise FormError([_problem("", "an encounter is one JSON object ({...}); a day's claims go on the "
                                      "“A day's claims” page", "invalid_type")])
    return document
