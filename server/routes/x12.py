"""``POST /v1/x12/837/check``: an X12 837P (005010X222A1) in, the decision of every encounter out
(docs/x12.md). The body is the interchange itself (``application/edi-x12`` or ``text/plain``), or
``application/json`` ``{"x12": "<the interchange>", "sidecar": {...}}`` to send a sidecar with it.

The answer is a batch's (``{"results": [...], "summary": {...}}``), each result naming its claim
(CLM01), the CLM segment's position and the date of service; each decision is logged and counted
as ``/v1/check``'s are. An interchange that cannot be read is a 400 problem whose items give the
segment position, segment id and element of each problem; a sidecar that does not fit it, a 422.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from flask import Flask, jsonify, request

from supportable.engine import default_payers_dir

from .. import wire
from ..payer_ids import PayerIdTable, PayerIdTableError, default_path, load_payer_ids
from ..x12 import DecisionFailed, SidecarError, X12Error, check_837, x12_problem_items
from .common import ProblemError, State, explain_level, json_document, policy_for, read_body
from .decisions import _decide

EDI_TYPES = ("application/edi-x12", "text/plain")
_TABLES: dict[str, tuple[tuple[int, int], PayerIdTable]] = {}
_LOCK = threading.Lock()


def payer_table_path(settings) -> Path:
    if settings.payer_ids is not None:
        return Path(settings.payer_ids)
    return default_path(settings.payers or default_payers_dir(Path(settings.policies)))


def payer_table(settings) -> PayerIdTable:
    """The payer-identifier table, read again only when its file changes; a table that does not load
    is a 503 naming each problem at its file:line:col."""
    path = payer_table_path(settings)
    try:
        stat = os.stat(path)
        key = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = (0, 0)
    with _LOCK:
        cached = _TABLES.get(str(path))
        if cached is not None and cached[0] == key:
            return cached[1]
    try:
        table = load_payer_ids(path)
    except PayerIdTableError as exc:
        raise ProblemError("payer-table-unavailable", 503, f"the payer-identifier table `{path}` does not load",
                           wire.problem_items(exc.problems)) from None
    with _LOCK:
        _TABLES[str(path)] = (key, table)
    return table


def install(app: Flask, state: State) -> None:
    settings = state.settings

    @app.post("/v1/x12/837/check")
    def x12_check():
        request.max_content_length = settings.max_batch_bytes
        explain = explain_level()
        payer = request.args.get("payer") or None
        if payer:
            policy_for(state, payer, "payer")
        text, sidecar = _body()
        table = payer_table(settings)

        def decide(claim_payer: str, document: dict) -> dict:
            try:
                return _decide(state, document, claim_payer, explain)
            except ProblemError as exc:
                raise DecisionFailed(exc.body()) from None

        try:
            return jsonify(check_837(text, table, decide, sidecar, payer))
        except X12Error as exc:
            items = x12_problem_items(exc.problems)
            raise ProblemError("invalid-x12", 400, f"the body is not a readable 837P (005010X222A1): {len(items)} "
                               "problem(s)", items) from None
        except SidecarError as exc:
            raise ProblemError("invalid-sidecar", 422, "the sidecar does not fit the 837", exc.items) from None


def _body() -> tuple[str, dict | None]:
    if request.mimetype in EDI_TYPES:
        raw = read_body()
        try:
            return raw.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            raise ProblemError("invalid-x12", 400, f"the body is not text: byte {exc.start} is not UTF-8",
                               [{"path": f"byte {exc.start}", "code": "not_utf8", "level": "error",
                                 "message": "an 837 is ASCII text"}]) from None
    if request.mimetype == "application/json":
        document = json_document()
        if not isinstance(document, dict) or not isinstance(document.get("x12"), str) \
                or set(document) - {"x12", "sidecar"}:
            raise ProblemError("invalid-x12", 400, "a JSON body is {\"x12\": \"<the 837>\", \"sidecar\": {...}}",
                               [{"path": "x12", "code": "invalid_type", "level": "error",
                                 "message": "`x12` holds the interchange as a string; `sidecar` is optional"}])
        return document["x12"], document.get("sidecar")
    raise ProblemError("unsupported-media-type", 415, f"send the 837 as {' or '.join(EDI_TYPES)} (or "
                       f"application/json with `x12` and `sidecar`), not `{request.mimetype or 'no content type'}`")
