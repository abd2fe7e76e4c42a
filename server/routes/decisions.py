"""The decision routes: ``POST /v1/check`` (one encounter) and ``POST /v1/check/batch`` (a JSON array
or NDJSON stream of them). Every decision gets an id, is counted in the metrics and appended to the
decision log; ``GET /v1/decisions/{id}`` gives a logged decision back (through the log's index,
server/decision_index.py)."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

from flask import Flask, Response, jsonify, request, stream_with_context
from werkzeug.exceptions import RequestEntityTooLarge

from supportable.engine import BASE, InputError

from .. import wire
from ..wire import logged as wire_logged
from ..batches import LARGE_BATCH, json_results, ndjson_results, release_memory
from .common import ProblemError, State, explain_level, json_document, policy_for

NDJSON = "application/x-ndjson"
DECISION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def install(app: Flask, state: State) -> None:
    settings = state.settings

    @app.post("/v1/check")
    def check():
        request.max_content_length = settings.max_body_bytes
        document = json_document()
        explain = explain_level()
        return jsonify(_decide(state, document, request.args.get("payer"), explain))

    @app.get("/v1/decisions/<decision_id>")
    def logged_decision(decision_id: str):
        log = state.decision_log
        if log.path is None:
            raise ProblemError("unknown-decision", 404, f"no decision `{decision_id}`: this server keeps no "
                               "decision log (SUPPORTABLE_DECISION_LOG is empty)")
        entry = log.find(decision_id) if DECISION_ID.match(decision_id) else None
        if entry is None:
            raise ProblemError("unknown-decision", 404, f"no decision `{decision_id}` in the decision log")
        return jsonify(wire_logged.logged_decision(entry))

    @app.post("/v1/check/batch")
    def check_batch():
        request.max_content_length = settings.max_batch_bytes
        explain = explain_level()
        payer = request.args.get("payer")
        if payer:
            policy_for(state, payer, "payer")

        def decide(index: int, document) -> dict:
            return _batch_item(state, index, document, payer, explain)

        if request.mimetype == NDJSON:
            if request.content_length is not None and request.content_length > settings.max_batch_bytes:
                raise RequestEntityTooLarge()  # known up front: refuse before any result is sent
            response = Response(stream_with_context(ndjson_results(decide, settings.max_batch_bytes)), mimetype=NDJSON)
            response.call_on_close(release_memory)
            return response
        documents = json_document()
        if not isinstance(documents, list):
            raise ProblemError("invalid-encounter", 422, "a batch is a JSON array of encounters (or NDJSON)",
                               [{"path": "", "code": "invalid_type", "message": "expected an array"}])
        if len(documents) > settings.max_batch_items:
            raise ProblemError("body-too-large", 413, f"{len(documents)} encounters; a JSON batch holds at most "
                               f"{settings.max_batch_items} (stream larger ones as NDJSON; large corpora belong "
                               "to batch audits)")
        response = Response(stream_with_context(json_results(documents, decide)), mimetype="application/json")
        if len(documents) >= LARGE_BATCH:
            response.call_on_close(release_memory)
        return response


def _decide(state: State, document, payer_param: str | None, explain: str) -> dict:
    """Validate and decide one encounter document; ProblemError for anything wrong with it."""
    if payer_param:
        payer, where = payer_param, "payer"
    elif isinstance(document, dict) and isinstance(document.get("payer"), str) and document["payer"]:
        payer, where = document["payer"], "payer"
    else:
        payer, where = BASE, "payer"
    policy = policy_for(state, payer, where)
    try:
        encounter = policy.read_encounter(document)
    except InputError as exc:
        raise ProblemError("invalid-encounter", 422, f"the encounter is not valid: {len(exc.problems)} problem(s)",
                           wire.problem_items(exc.problems)) from None
    return record_decision(state, wire.decision(policy.decide(encounter, explain), explain), document)


def record_decision(state: State, decision: dict, document) -> dict:
    """A decision document with its id and time, counted in the metrics and written to the decision log
    with the input it answers: every decision the server gives (``POST /v1/check``, the pages, a day's
    claims decided on the audit's path) goes through here."""
    decided_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {"decision_id": uuid.uuid4().hex, "decided_at": decided_at, **decision}
    state.metrics.decided(body["payer"], body["lines"])
    state.decision_log.append(body, document, decided_at)
    return body


decide_document = _decide     # the web pages decide through the same function (server/web)


def _batch_item(state: State, index: int, document, payer: str | None, explain: str) -> dict:
    try:
        return {"index": index, "decision": _decide(state, document, payer, explain)}
    except ProblemError as exc:
        return {"index": index, "error": exc.body()}
