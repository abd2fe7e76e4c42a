"""The HTTP service: a Flask app over the engine (``create_app``).

Endpoints are listed in the OpenAPI document (``/openapi.json``, browsable at ``/docs``). Every
error is an RFC 7807 problem (``server.problems``); nothing ever answers with a traceback. Every
decision gets an id, is counted in the metrics and appended to the decision log.
"""
from __future__ import annotations

import gc
import hmac
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import Flask, Response, g, has_request_context, jsonify, request, send_from_directory, stream_with_context
from gunicorn.http.errors import ParseException as BodyFramingError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from supportable.engine.decision import EXPLAIN_LEVELS
from supportable.engine.errors import InputError
from supportable.engine.overlay import BASE
from supportable.engine.policyset import PolicySet
from supportable.engine.requirements import explain_code

from .auth import Gate
from .batches import LARGE_BATCH, json_results, ndjson_results, release_memory
from .decision_log import DecisionLog
from .observability import Metrics, log_request
from .openapi import build_spec
from .problems import PROBLEM_JSON, problem, problem_response
from .registry import Registry
from .reload import PolicyStore
from .settings import Settings

LOG = logging.getLogger("supportable")
VERSION = "0.4.0"
NDJSON = "application/x-ndjson"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_VOCABULARY_NAMES = {"code": "codes", "documentation": "documentation", "outcome": "outcomes",
                     "provider_type": "provider_types", "region": "regions", "modifier": "modifiers",
                     "diagnosis": "diagnoses"}


class ProblemError(Exception):
    """An error to answer with a problem document."""

    def __init__(self, kind: str, status: int, detail: str, problems: list[dict] | None = None):
        super().__init__(detail)
        self.kind, self.status, self.detail, self.problems = kind, status, detail, problems

    def body(self) -> dict:
        return problem(self.kind, self.status, self.detail, self.problems)


@dataclass
class State:
    settings: Settings
    store: PolicyStore
    metrics: Metrics
    decision_log: DecisionLog
    spec: dict

    @property
    def registry(self) -> Registry:
        """The policies this request is served with: read once when it starts (a reload during the
        request does not change them), or the current ones outside a request."""
        if has_request_context() and "registry" in g:
            return g.registry
        return self.store.current()


def create_app(settings: Settings | None = None, registry: Registry | None = None) -> Flask:
    settings = settings or Settings.from_env()
    metrics = Metrics()
    on_outcome = lambda outcome: metrics.reloaded(outcome.outcome)  # noqa: E731
    if registry is None:   # the files on disk, or the last good set if they would be refused
        store = PolicyStore.open(settings.policies, settings.payers, settings.edits, settings.snapshot,
                                 settings.reload_timeout, on_outcome=on_outcome)
        registry = store.current()
    else:
        store = PolicyStore(registry, settings.policies, settings.payers, on_outcome=on_outcome,
                            edits=settings.edits, snapshot=settings.snapshot, reload_timeout=settings.reload_timeout)
    _log_loaded(settings, registry)
    if settings.tune_gc:
        # Loaded policies live as long as the process: keep the collector from scanning them, and
        # collect less often (measured with bench/bench_engine.py: p99 down by about 60%).
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 50, 50)
    app = Flask("supportable")
    app.json.sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = settings.max_batch_bytes
    state = State(settings, store, metrics, DecisionLog(settings.decision_log, metrics,
                                                               log_inputs=settings.log_inputs), build_spec(VERSION))
    app.extensions["supportable"] = state
    store.start_watching(settings.reload_interval)
    _install_hooks(app, state)
    _install_routes(app, state)
    return app


def _log_loaded(settings: Settings, registry: Registry) -> None:
    LOG.info(json.dumps({"event": "policies_loaded", "policies": str(settings.policies),
                         "payers_dir": str(settings.payers) if settings.payers else None,
                         "edits_dir": str(settings.edits) if settings.edits else None,
                         "loaded": {p: {"rules": len(ps.rules), "policy_version": ps.version, "chain": ps.chain}
                                    for p, ps in registry.policies.items()},
                         "failed": {p: [str(x) for x in problems] for p, problems in registry.failed.items()}}))
    for payer, problems in registry.failed.items():
        LOG.error(json.dumps({"event": "payer_not_loaded", "payer": payer, "problems": [str(p) for p in problems]}))


# -- request plumbing -----------------------------------------------------------------------------

def _install_hooks(app: Flask, state: State) -> None:
    gate = Gate.from_settings(state.settings)   # AuthError (no keys where they are required) stops start-up

    @app.before_request
    def start():
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        g.started = time.perf_counter()
        g.principal = gate.identify(request) if gate.authenticators else None
        if g.principal is None and gate.protects(request.path):
            return _problem("unauthorized", 401, "send an API key as `Authorization: Bearer <key>` or "
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
    def on_problem(exc: ProblemError):
        return _problem(exc.kind, exc.status, exc.detail, exc.problems)

    @app.errorhandler(RequestEntityTooLarge)
    def on_too_large(exc):
        limit = request.max_content_length
        return _problem("body-too-large", 413, f"the body is larger than the limit of {limit} bytes for "
                        f"{request.path}")

    @app.errorhandler(HTTPException)
    def on_http(exc: HTTPException):
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.code or 500, "bad-request")
        detail = {404: f"no resource at {request.path}; see /openapi.json",
                  405: f"{request.method} is not allowed on {request.path}"}.get(exc.code or 500,
                                                                                  exc.description or "")
        headers = {"Allow": ", ".join(exc.valid_methods)} if getattr(exc, "valid_methods", None) else None
        return _problem(kind, exc.code or 500, detail, headers=headers)

    @app.errorhandler(Exception)
    def on_error(exc: Exception):
        LOG.exception("unhandled error in request %s", getattr(g, "request_id", ""))
        return _problem("internal-error", 500, "the server failed to answer this request; the failure is logged "
                        f"with request id {getattr(g, 'request_id', '')}")


def _problem(kind: str, status: int, detail: str, problems: list[dict] | None = None, headers=None) -> Response:
    return problem_response(kind, status, detail, problems, headers=headers, request_id=getattr(g, "request_id", None))


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def _read_body() -> bytes:
    """The whole body, at most ``request.max_content_length`` bytes whether its length is announced or it
    comes chunked (413 past it), read within the worker's deadlines (408 if it does not arrive)."""
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    if request.content_length is None and not request.environ.get("wsgi.input_terminated"):
        return b""                             # as werkzeug does: no length, and a server that does not end it
    stream = request.environ["wsgi.input"]     # gunicorn's: ends at the body's end, chunked or not
    parts, total = [], 0
    try:
        while True:
            chunk = stream.read(1 << 20 if limit is None else min(1 << 20, limit + 1 - total))
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)
            total += len(chunk)
            if limit is not None and total > limit:
                raise RequestEntityTooLarge()
    except OSError:  # the worker's read timeout or deadline (server.worker), or the client went away
        raise ProblemError("request-timeout", 408, "the body did not arrive in time; send it again") from None
    except BodyFramingError as exc:  # gunicorn's: a malformed chunk of a chunked body
        raise ProblemError("bad-request", 400, f"the body's chunked framing is broken: {exc}") from None


def _json_document():
    if not _is_json(request.mimetype):
        raise ProblemError("unsupported-media-type", 415, f"send the encounter as application/json, not "
                           f"`{request.mimetype or 'no content type'}`")
    raw = _read_body()
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise ProblemError("invalid-json", 400, "the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ProblemError("invalid-json", 400, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") \
            from None
    except RecursionError:
        raise ProblemError("invalid-json", 400, "the JSON is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer longer than Python converts
        raise ProblemError("invalid-json", 400, f"invalid JSON: {exc}") from None


def _explain_level() -> str:
    explain = request.args.get("explain", "summary")
    if explain not in EXPLAIN_LEVELS:
        raise ProblemError("invalid-parameter", 422, f"`explain` must be one of {', '.join(EXPLAIN_LEVELS)}",
                           [{"path": "explain", "code": "invalid_value", "message": f"`{explain}` is not one of "
                             f"{', '.join(EXPLAIN_LEVELS)}"}])
    return explain


def _policy(state: State, payer: str, path: str) -> PolicySet:
    policy = state.registry.policies.get(payer)
    if policy is not None:
        return policy
    if payer in state.registry.failed:
        raise ProblemError("payer-unavailable", 503, f"payer `{payer}`'s policies did not load; other payers are "
                           "served", [p.to_dict() for p in state.registry.failed[payer]])
    known = ", ".join(state.registry.known)
    raise ProblemError("unknown-payer", 422 if path else 404, f"unknown payer `{payer}`; known: {known}",
                       [{"path": path, "code": "unknown_payer", "message": f"unknown payer `{payer}`"}] if path else None)


def _decide(state: State, document, payer_param: str | None, explain: str) -> dict:
    """Validate and decide one encounter document; ProblemError for anything wrong with it."""
    if payer_param:
        payer, where = payer_param, "payer"
    elif isinstance(document, dict) and isinstance(document.get("payer"), str) and document["payer"]:
        payer, where = document["payer"], "payer"
    else:
        payer, where = BASE, "payer"
    policy = _policy(state, payer, where)
    try:
        encounter = policy.parse(document)
    except InputError as exc:
        raise ProblemError("invalid-encounter", 422, f"the encounter is not valid: {len(exc.problems)} problem(s)",
                           [p.to_dict() for p in exc.problems]) from None
    decided_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {"decision_id": uuid.uuid4().hex, "decided_at": decided_at,
            **policy.decide(encounter, explain).to_dict(explain)}
    state.metrics.decided(policy.payer, body["lines"])
    state.decision_log.append(body, document, decided_at)
    return body


# -- routes ---------------------------------------------------------------------------------------

def _install_routes(app: Flask, state: State) -> None:
    settings = state.settings

    @app.post("/v1/check")
    def check():
        request.max_content_length = settings.max_body_bytes
        document = _json_document()
        explain = _explain_level()
        return jsonify(_decide(state, document, request.args.get("payer"), explain))

    @app.post("/v1/check/batch")
    def check_batch():
        request.max_content_length = settings.max_batch_bytes
        explain = _explain_level()
        payer = request.args.get("payer")
        if payer:
            _policy(state, payer, "payer")

        def decide(index: int, document) -> dict:
            return _batch_item(state, index, document, payer, explain)

        if request.mimetype == NDJSON:
            if request.content_length is not None and request.content_length > settings.max_batch_bytes:
                raise RequestEntityTooLarge()  # known up front: refuse before any result is sent
            response = Response(stream_with_context(ndjson_results(decide, settings.max_batch_bytes)), mimetype=NDJSON)
            response.call_on_close(release_memory)
            return response
        documents = _json_document()
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

    @app.get("/v1/payers")
    def payers():
        rows = [_payer_summary(state, p) for p in state.registry.known]
        return jsonify({"payers": rows})

    @app.get("/v1/payers/<payer>")
    def payer(payer: str):
        policy = _policy(state, payer, "")
        return jsonify({**_payer_summary(state, payer), **{k: v for k, v in policy.describe().items()
                                                           if k in ("parameters", "disabled", "edit_changes",
                                                                    "edits_imported")}})

    @app.get("/v1/payers/<payer>/codes/<code>")
    def payer_code(payer: str, code: str):
        policy = _policy(state, payer, "")
        try:
            return jsonify(explain_code(policy, code))
        except InputError:
            raise ProblemError("unknown-code", 404, f"unknown code `{code}`; GET /v1/vocabulary lists the codes") \
                from None

    @app.get("/v1/vocabulary")
    def vocabulary():
        policy = next(iter(state.registry.policies.values()), None)
        if policy is None:
            raise ProblemError("payer-unavailable", 503, "no policies are loaded")
        entries = policy.vocabulary.to_dict()
        return jsonify({_VOCABULARY_NAMES.get(name, name): items for name, items in entries.items()})

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz():
        # ready: every payer serves from the files on disk and decisions are logged; degraded (still
        # 200, so traffic keeps coming): some payer does not load, the files on disk are refused and
        # the last good set serves, or the decision log is failing; not_ready (503): nothing serves.
        registry = state.registry
        payers = {p: {"loaded": True, "policy_version": ps.version} for p, ps in registry.policies.items()}
        payers.update({p: {"loaded": False, "problems": len(problems)} for p, problems in registry.failed.items()})
        decision_log = state.decision_log.status()
        degraded = registry.failed or state.store.refused is not None or decision_log["status"] == "failing"
        body = {"status": "degraded" if degraded else "ready", "payers": payers}
        if state.store.last is not None:
            body["last_reload"] = state.store.last.to_dict()
        if state.store.refused is not None:
            refused = state.store.refused
            body["refused"] = {"at": refused.at, "reason": refused.reason, "problems": refused.problems,
                               "serving": "the last good policy set (the files on disk differ from it)"}
        body["decision_log"] = decision_log
        body["snapshot"] = state.store.snapshot_state
        if not registry.policies:
            body["status"] = "not_ready"
            return jsonify(body), 503
        return jsonify(body)

    @app.post("/admin/reload")
    def admin_reload():
        token = settings.admin_token
        if not token:
            raise ProblemError("not-found", 404, "hot reload by request is off: set SUPPORTABLE_ADMIN_TOKEN "
                               "(file changes are still picked up)")
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise ProblemError("unauthorized", 401, "send the admin token as `Authorization: Bearer <token>`")
        outcome = state.store.reload("admin request", force=request.args.get("force") == "1")
        return jsonify(outcome.to_dict()), 409 if outcome.outcome == "refused" else 200

    @app.get("/metrics")
    def metrics():
        return Response(state.metrics.exposition(), content_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/openapi.json")
    def openapi():
        return jsonify(state.spec)

    @app.get("/docs")
    def docs():
        return Response(_SWAGGER_PAGE, mimetype="text/html")

    @app.get("/docs/static/<path:name>")
    def docs_static(name: str):
        import swagger_ui_bundle
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, name)


def _batch_item(state: State, index: int, document, payer: str | None, explain: str) -> dict:
    try:
        return {"index": index, "decision": _decide(state, document, payer, explain)}
    except ProblemError as exc:
        return {"index": index, "error": exc.body()}


def _payer_summary(state: State, payer: str) -> dict:
    policy = state.registry.policies.get(payer)
    if policy is None:
        return {"id": payer, "loaded": False, "problems": [p.to_dict() for p in state.registry.failed.get(payer, [])]}
    described = policy.describe()
    return {"id": payer, "name": described["name"], "extends": described["extends"], "chain": described["chain"],
            "effective": described["effective"], "policy_version": described["policy_version"],
            "rules": described["rules"], "loaded": True}


_SWAGGER_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Supportable API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>
"""
