""""Check a claim": the form (``/``), its answer (``POST /check``), the link that reproduces an answer
(``/result?payer=P&e=...``: the encounter compressed into the address, so nothing is stored) and
the diagnosis search the form's search-as-you-type uses (``/ui/diagnoses?q=``)."""
from __future__ import annotations

import base64
import bisect
import binascii
import json
import zlib

from flask import Blueprint, jsonify, redirect, request, url_for

from supportable.engine import icd10

from ..routes.common import ProblemError, State
from ..routes.decisions import decide_document
from . import labels
from ..routes.x12 import payer_table
from .forms import MAX_LINES, READERS, FormError, encounter_from_form, intake
from .pages import page, payer_ids, vocabulary

LINK_LIMIT = 3500          # characters of encoded encounter a link carries (a request line holds 4,094 bytes)
FORM_LINES = 4             # line rows shown at first; "Add a line" shows more, up to forms.MAX_LINES
SEARCH_RESULTS = 20


def encode(document: dict) -> str:
    raw = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


def decode(token: str) -> dict:
    try:
        raw = zlib.decompressobj().decompress(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)), 1 << 20)
        document = json.loads(raw)
    except (binascii.Error, zlib.error, ValueError, RecursionError):
        raise FormError([{"path": "", "code": "invalid_link", "level": "error",
                          "message": "this link does not hold a readable claim (was it cut short when copied?)"}])
    if not isinstance(document, dict):
        raise FormError([{"path": "", "code": "invalid_link", "level": "error", "message": "this link holds no claim"}])
    return document


def install(bp: Blueprint, state: State) -> None:

    def form_page(values=None, errors=None, status=200, pasted: str = ""):
        vocab = vocabulary(state)
        return page("check.html", "Check a claim", vocab=vocab, payers=payer_ids(state), values=values or {},
                    errors=errors or [], readers=READERS, form_lines=FORM_LINES, max_lines=MAX_LINES,
                    pasted=pasted), status

    def result_page(document: dict, payer: str | None):
        try:
            decision = decide_document(state, document, payer or None, "full")
        except ProblemError as exc:
            raise FormError(exc.problems or [{"path": "", "code": exc.kind, "level": "error", "message": exc.detail}]) \
                from None
        token = encode({"payer": payer or "", "encounter": document})
        link = url_for("web.result", e=token) if len(token) <= LINK_LIMIT else None
        return page("result.html", "What the payer will accept", decision=decision, vocab=vocabulary(state),
                    labels=labels, link=link, document=json.dumps(document, indent=2))

    @bp.get("/")
    def check_form():
        return form_page()

    @bp.post("/check")
    def check_claim():
        request.max_content_length = state.settings.max_body_bytes
        form = request.form
        pasted = ""
        try:
            if form.get("source") == "paste":
                upload = request.files.get("encounter_file")
                pasted = form.get("encounter_text", "")
                text = upload.read().decode("utf-8-sig") if upload and upload.filename else pasted
                document = intake(form.get("format", "encounter"), text, payer_table(state.settings))
                payer = form.get("payer") or None
            else:
                document = encounter_from_form(form)
                payer = None
            return result_page(document, payer)
        except UnicodeDecodeError:
            return form_page(form, ["The uploaded file is not UTF-8 text."], 422, pasted)
        except FormError as exc:
            return form_page(form, labels.problems_text(exc.problems), 422, pasted)

    @bp.get("/check")
    def check_again():          # a bookmark or a reload of the answer's address: back to the form
        return redirect(url_for("web.check_form"), code=303)

    @bp.get("/result")
    def result():
        try:
            saved = decode(request.args.get("e", ""))
            return result_page(saved.get("encounter") or {}, saved.get("payer") or None)
        except FormError as exc:
            return form_page({}, labels.problems_text(exc.problems), 422)

    @bp.get("/ui/diagnoses")
    def diagnoses():
        return jsonify({"release": icd10.release(), "matches": search_diagnoses(request.args.get("q", ""))})


def search_diagnoses(query: str, limit: int = SEARCH_RESULTS) -> list[dict]:
    """ICD-10-CM codes (billable ones) whose code starts with ``query`` or whose title holds every word
    of it, codes first."""
    query = query.strip()
    if len(query) < 2:
        return []
    upper, words = query.upper(), query.lower().split()
    titles = _billable_titles()
    found = []
    at = bisect.bisect_left(titles, (upper,))
    while at < len(titles) and len(found) < limit and titles[at][0].startswith(upper):   # codes, in order
        found.append({"code": titles[at][0], "title": titles[at][1]})
        at += 1
    first, rest = words[0], words[1:]
    for code, title, lowered in titles:                                                   # then titles
        if len(found) >= limit:
            break
        if first in lowered and all(w in lowered for w in rest) and not code.startswith(upper):
            found.append({"code": code, "title": title})
    return found


_TITLES: list[tuple[str, str, str]] = []


def _billable_titles() -> list[tuple[str, str, str]]:
    """(code, title, lower-case title) of every billable code, in code order; built once a process."""
    if not _TITLES:
        billable = icd10.code_list().billable
        _TITLES.extend(sorted((code, title, title.lower()) for code, title in icd10.code_set().title.items()
                              if code.replace(".", "") in billable))
    return _TITLES
