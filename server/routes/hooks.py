"""What every request goes through: its id (``X-Request-ID``, kept when the client sends a sane one),
the API key where one is required, the policies it is served with, its metrics and access-log
line, and a problem document for every error (never a traceback)."""
from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..auth import Gate
from ..observability import log_request
from .common import ProblemError, State, answer_problem

LOG = logging.getLogger("supportable")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def install(app: Flask, state: State) -> None:
    gate = Gate.from_settings(state.settings)   # AuthError (no keys where they are required) stops start-up

    @app.before_request
    def start():
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        g.started = time.perf_counter()
        g.principal = gate.identify(request) if gate.authenticators else None
        if g.principal is None and gate.protects(request.path):
            return answer_problem("unauthorized", 401, "send an API key as `Authorization: Bearer <key>` or "
                            "`X-API-Key: <key>`", headers={"WWW-Authenticate": gate.challenge()})
        g.registry = state.store.current()
        return None

    @app.after_request
    def finish(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        started = getattr(g, "started", time.perf_counter())
        state.metrics.observe(route, request.method, response.status_code, time.perf_counter() - started)
        response.headers["X-Request-ID"] = getattr(g, "request_id", "")
        principal = getattr(g, "principal", None)
        log_request(getattr(g, "request_id", ""), request.method, route, request.path, response.status_code, started,
                    principal=principal.id if principal is not None else None)
        return response

    @app.errorhandler(ProblemError)
    def onanswer_problem(exc: ProblemError):
        return answer_problem(exc.kind, exc.status, exc.detail, exc.problems)

    @app.errorhandler(RequestEntityTooLarge)
    def on_too_large(exc):
        limit = request.max_content_length
        return answer_problem("body-too-large", 413, f"the body is larger than the limit of {limit} bytes for "
                        f"{request.path}")

    @app.errorhandler(HTTPException)
    def on_http(exc: HTTPException):
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.code or 500, "bad-request")
        detail = {404: f"no resource at {request.path}; see /openapi.json",
                  405: f"{request.method} is not allowed on {request.path}"}.get(exc.code or 500,
                                                                                  exc.description or "")
        headers = {"Allow": ", ".join(exc.valid_methods)} if getattr(exc, "valid_methods", None) else None
        return answer_problem(kind, exc.code or 500, detail, headers=headers)

    @app.errorhandler(Exception)
    def on_error(exc: Exception):
        LOG.exception("unhandled error in request %s", getattr(g, "request_id", ""))
        return answer_problem("internal-error", 500, "the server failed to answer this request; the failure is logged "
                        f"with request id {getattr(g, 'request_id', '')}")
