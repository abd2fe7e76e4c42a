"""The OpenAPI document, generated: schemas from the pydantic models the server validates and
answers with (``engine.encounter.Encounter``, ``server.api_models`` and the wire types of
``server.wire`` they are made of), assembled with apispec.

OpenAPI 3.0.3, so the bundled Swagger UI (4.x) renders it: pydantic writes JSON Schema 2020-12,
and the few constructs 3.0 lacks are translated (``anyOf`` with null -> ``nullable``, ``const``
-> ``enum``).
"""
from __future__ import annotations

from apispec import APISpec
from pydantic import TypeAdapter

from supportable.engine import Encounter

from . import api_models as m

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _to_openapi30(node):
    if isinstance(node, dict):
        node = {k: _to_openapi30(v) for k, v in node.items()}
        any_of = node.get("anyOf")
        if isinstance(any_of, list) and {"type": "null"} in any_of:
            rest = [s for s in any_of if s != {"type": "null"}]
            node.pop("anyOf")
            if len(rest) == 1:
                inner = rest[0]
                if "$ref" in inner:
                    node["allOf"] = [inner]
                else:
                    node.update(inner)
            else:
                node["anyOf"] = rest
            node["nullable"] = True
        if "const" in node:
            node["enum"] = [node.pop("const")]
        return node
    if isinstance(node, list):
        return [_to_openapi30(v) for v in node]
    return node


def _json(ref: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def _problem(description: str) -> dict:
    return {"description": description, "content": PROBLEM}


def build_spec(version: str) -> dict:
    spec = APISpec(title="Supportable", version=version, openapi_version="3.0.3", info={
        "description": "Is each billed physical-medicine code supportable for a payer, for how many units, and "
                       "why: decisions with proof traces, payer policies and vocabularies. Errors are RFC 7807 "
                       "problem details (application/problem+json)."})
    models = [(Encounter, "validation"), (m.Problem, "serialization"), (m.Decision, "serialization"),
              (m.BatchResult, "serialization"), (m.PayerList, "serialization"), (m.PayerDetail, "serialization"),
              (m.CodeRequirements, "serialization"), (m.Vocabulary, "serialization"), (m.Health, "serialization"),
              (m.Readiness, "serialization"), (m.ReloadOutcome, "serialization"), (m.LoggedDecision, "serialization")]
    _, top = TypeAdapter.json_schemas([(model, mode, TypeAdapter(model)) for model, mode in models],
                                      ref_template="#/components/schemas/{model}")
    for name, schema in sorted(top.get("$defs", {}).items()):
        spec.components.schema(name, _to_openapi30(schema))
    payer_q = {"name": "payer", "in": "query", "schema": {"type": "string"},
               "description": "payer id (GET /v1/payers); default: the encounter's `payer`, else `base`"}
    explain_q = {"name": "explain", "in": "query", "schema": {"type": "string", "enum": ["none", "summary", "full"],
                                                               "default": "summary"},
                 "description": "how much proof to return"}
    common = {"400": _problem("the body is not JSON, or its chunked framing is broken"),
              "413": _problem("the body is too large"),
              "415": _problem("the body is not JSON (or NDJSON for a batch)"),
              "408": _problem("the request did not arrive in time"),
              "422": _problem("the encounter or a parameter is not valid, or the payer is unknown; every problem "
                              "with its path"),
              "503": _problem("the payer's policies did not load")}
    failed = {"500": _problem("the server failed; the failure is logged with the request id")}
    spec.path(path="/v1/check", operations={"post": {
        "summary": "Decide one encounter", "operationId": "check", "parameters": [payer_q, explain_q],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Encounter"}}}},
        "responses": {"200": _json("Decision", "the decision, line by line"), **common, **failed}}})
    spec.path(path="/v1/check/batch", operations={"post": {
        "summary": "Decide many encounters",
        "description": "A JSON array of encounters gives one JSON document with a result per encounter. NDJSON "
                       "(`application/x-ndjson`, one encounter per line) streams one result line per input line. "
                       "A problem with one encounter is reported in its place; the batch goes on.",
        "operationId": "checkBatch", "parameters": [payer_q, explain_q],
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Encounter"}}},
            "application/x-ndjson": {"schema": {"type": "string", "description": "one encounter per line"}}}},
        "responses": {"200": {"description": "one result per encounter", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/BatchResult"}},
            "application/x-ndjson": {"schema": {"type": "string",
                                                "description": "one BatchItem per line, in input order"}}}},
            **common, **failed}}})
    spec.path(path="/v1/decisions/{decision_id}", operations={"get": {
        "summary": "A logged decision, by the `decision_id` a check answered",
        "description": "The decision log's entry: payer, policy version, input hash and, per line, verdict, "
                       "supportable units and reasons (rule id, kind, CARC, RARC). The encounter itself is never "
                       "sent back (`replayable` says whether the log kept it). Found through the log's index, "
                       "whichever worker wrote it.",
        "operationId": "getDecision",
        "parameters": [{"name": "decision_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": _json("LoggedDecision", "the logged decision"),
                      "404": _problem("no such decision in the log (or no decision log)"), **failed}}})
    spec.path(path="/v1/payers", operations={"get": {
        "summary": "List the payers", "operationId": "listPayers",
        "responses": {"200": _json("PayerList", "every payer, loaded or not"), **failed}}})
    spec.path(path="/v1/payers/{payer}", operations={"get": {
        "summary": "One payer: chain, parameters, effective range, policy version", "operationId": "getPayer",
        "parameters": [{"name": "payer", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": _json("PayerDetail", "the payer"), "404": _problem("unknown payer"),
                      "503": _problem("the payer's policies did not load"), **failed}}})
    spec.path(path="/v1/payers/{payer}/codes/{code}", operations={"get": {
        "summary": "What a payer requires for a code, over all its layers, with sources",
        "operationId": "explainCode",
        "parameters": [{"name": "payer", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": _json("CodeRequirements", "the payer's requirements for the code"),
                      "404": _problem("unknown payer or code"), "503": _problem("the payer did not load"),
                      **failed}}})
    spec.path(path="/v1/vocabulary", operations={"get": {
        "summary": "Codes, documentation elements, outcomes, provider types, regions, modifiers",
        "operationId": "vocabulary", "responses": {"200": _json("Vocabulary", "the controlled vocabularies"),
                                                   "503": _problem("no payer's policies are loaded"), **failed}}})
    spec.path(path="/healthz", operations={"get": {"summary": "The process is alive", "operationId": "health",
                                                   "responses": {"200": _json("Health", "alive")}}})
    spec.path(path="/readyz", operations={"get": {
        "summary": "Policies loaded", "operationId": "ready",
        "responses": {"200": _json("Readiness", "every payer loaded (or some did: `degraded`)"),
                      "503": _json("Readiness", "no payer loaded")}}})
    spec.path(path="/admin/reload", operations={"post": {
        "summary": "Reload the policies now (hot reload)",
        "description": "Loads the policy files off to the side and swaps them in only if every payer that loads "
                       "now still loads; otherwise the server keeps the last good set. Needs "
                       "`Authorization: Bearer <SUPPORTABLE_ADMIN_TOKEN>`; off (404) without a token. `force=1` "
                       "reloads even if the files did not change. Each worker process also watches the files.",
        "operationId": "reload",
        "parameters": [{"name": "force", "in": "query", "schema": {"type": "string", "enum": ["1"]}}],
        "responses": {"200": _json("ReloadOutcome", "applied, or unchanged"),
                      "409": _json("ReloadOutcome", "refused: the new files do not load; the old set serves"),
                      "401": _problem("missing or wrong token"), "404": _problem("reload by request is off")}}})
    spec.path(path="/metrics", operations={"get": {
        "summary": "Prometheus metrics", "operationId": "metrics",
        "responses": {"200": {"description": "Prometheus text format",
                              "content": {"text/plain": {"schema": {"type": "string"}}}}}}})
    return _with_api_keys(spec.to_dict())


def _with_api_keys(doc: dict) -> dict:
    """`/v1` takes an API key when the server requires one (server/auth.py; docs/operations.md)."""
    doc.setdefault("components", {})["securitySchemes"] = {
        "bearerKey": {"type": "http", "scheme": "bearer",
                      "description": "an API key as `Authorization: Bearer <key>`"},
        "headerKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}
    for path, operations in doc.get("paths", {}).items():
        if path.startswith("/v1/"):
            for operation in operations.values():
                # {} too: on loopback, by default, no key is needed
                operation["security"] = [{"bearerKey": []}, {"headerKey": []}, {}]
                operation["responses"].setdefault("401", _problem(
                    "no valid API key, where one is required (off loopback, or SUPPORTABLE_AUTH=required)"))
    return doc
