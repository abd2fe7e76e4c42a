"""The operations routes: ``/healthz``, ``/readyz`` (ready, degraded or not ready, and why),
``POST /admin/reload``, ``/metrics`` (Prometheus), ``/openapi.json`` and ``/docs`` (Swagger UI)."""
from __future__ import annotations

import hmac

from flask import Flask, Response, jsonify, request, send_from_directory

from .common import ProblemError, State


def install(app: Flask, state: State) -> None:
    settings = state.settings

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz():
        # ready: every payer serves from the files on disk and decisions are logged; degraded (still
        # 200, so traffic keeps coming): some payer does not load, the files on disk are refused and
        # the last good set serves, or the decision log is failing; not_ready (503): nothing serves.
        registry = state.registry
        payers = {p: {"loaded": True, "policy_version": ps.version, "engine": ps.engine}
                  for p, ps in registry.policies.items()}
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


_SWAGGER_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Supportable API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>
"""
