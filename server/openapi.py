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
              (m.BatchResult, "serialization"), (m.X12Result, "serialization"), (m.PayerList, "serialization"), (m.PayerDetail, "serialization"),
              (m.CodeRequirements, "serialization"), (m.Vocabulary, "serialization"), (m.Health, "serialization"),
              (m.Readiness, "serialization"), (m.ReloadOutcome, "serialization"), (m.CdsDiscovery, "serialization"),
              (m.CdsResponse, "serialization"), (m.LoggedDecision, "serialization")]
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
    spec.path(path="/v1/x12/837/check", operations={"post": {
        "summary": "Decide every encounter of an X12 837P (005010X222A1)",
        "description": "The body is the interchange (`application/edi-x12` or `text/plain`), or `application/json` "
                       "`{\"x12\": \"<the 837>\", \"sidecar\": {...}}` with a sidecar giving what an 837 does not carry "
                       "(minutes, documentation, intended outcomes; docs/x12.md). Each claim and date of service "
                       "is an encounter, decided under the payer its payer identifier (NM1*PR NM109) maps to in "
                       "the payer table (`payer` decides them all under one payer). A claim that cannot be checked "
                       "is a result with an `error`, located at its segments; the others are decided.",
        "operationId": "checkX12", "parameters": [
            {"name": "payer", "in": "query", "schema": {"type": "string"},
             "description": "decide every claim under this payer instead of the payer table's"}, explain_q],
        "requestBody": {"required": True, "content": {
            "application/edi-x12": {"schema": {"type": "string", "description": "the 837P interchange"}},
            "text/plain": {"schema": {"type": "string", "description": "the 837P interchange"}},
            "application/json": {"schema": {"type": "object", "required": ["x12"], "properties": {
                "x12": {"type": "string"}, "sidecar": {"type": "object"}}}}}},
        "responses": {"200": _json("X12Result", "one result per encounter (claim and date of service)"),
                      "400": _problem("the body is not a readable 837P: every problem with its segment position "
                                      "(`segment`, `segment_id`, `element`)"),
                      "413": common["413"], "408": common["408"],
                      "415": _problem("the body is not application/edi-x12, text/plain or application/json"),
                      "422": _problem("the sidecar does not fit the 837, or a parameter is not valid"),
                      "503": _problem("the payer-identifier table does not load"), **failed}}})
    _fhir_paths(spec, failed)
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
    _cds_paths(spec, failed)
    return _with_api_keys(spec.to_dict())


FHIR_JSON = "application/fhir+json"


def _fhir(ref: str, description: str) -> dict:
    return {"description": description, "content": {FHIR_JSON: {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def _fhir_paths(spec: APISpec, failed: dict) -> None:
    """``/fhir/Claim/$check`` (docs/fhir.md). The FHIR resources are HL7's; their schemas here name the
    resource and point at its definition (fhir.resources' R4B models validate them in the tests)."""
    for name, resource in (("FhirClaim", "Claim"), ("FhirClaimResponse", "ClaimResponse")):
        spec.components.schema(name, {
            "type": "object", "required": ["resourceType"], "additionalProperties": True,
            "description": f"a FHIR R4 {resource} (http://hl7.org/fhir/R4/{resource.lower()}.html); docs/fhir.md "
                           "maps its elements",
            "properties": {"resourceType": {"type": "string", "enum": [resource]}}})
    spec.components.schema("FhirOperationOutcome", {
        "type": "object", "required": ["resourceType", "issue"], "additionalProperties": False,
        "description": "a FHIR R4 OperationOutcome (http://hl7.org/fhir/R4/operationoutcome.html): every issue, "
                       "located by a FHIRPath expression in the Claim where it has a place",
        "properties": {"resourceType": {"type": "string", "enum": ["OperationOutcome"]},
                       "issue": {"type": "array", "items": {
                           "type": "object", "required": ["severity", "code"], "additionalProperties": False,
                           "properties": {"severity": {"type": "string", "enum": ["fatal", "error", "warning"]},
                                          "code": {"type": "string"},
                                          "details": {"type": "object"},
                                          "diagnostics": {"type": "string"},
                                          "expression": {"type": "array", "items": {"type": "string"}}}}}}})
    outcome = "#/components/schemas/FhirOperationOutcome"
    spec.path(path="/fhir/Claim/$check", operations={"post": {
        "summary": "Check a FHIR R4 Claim: a ClaimResponse with each item's verdict, units and reasons",
        "description": "The Claim (use `claim` or `preauthorization`) is read into an encounter as docs/fhir.md "
                       "lays out and decided as by /v1/check; the ClaimResponse's item adjudications carry the "
                       "verdict, the supportable units and every reason with its rule id, source and (when the "
                       "reason has them) claim adjustment reason and remark codes. Every error under /fhir is an "
                       "OperationOutcome with the status given.",
        "operationId": "fhirClaimCheck",
        "parameters": [{"name": "payer", "in": "query", "schema": {"type": "string"},
                        "description": "payer id (GET /v1/payers); default: the insurer's identifier mapped to an "
                                       "overlay (docs/fhir.md), else `base`"}],
        "requestBody": {"required": True, "content": {
            FHIR_JSON: {"schema": {"$ref": "#/components/schemas/FhirClaim"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/FhirClaim"}}}},
        "responses": {"200": _fhir("FhirClaimResponse", "the ClaimResponse"),
                      **{code: {"description": text, "content": {FHIR_JSON: {"schema": {"$ref": outcome}}}}
                         for code, text in (
                             ("400", "the body is not JSON or not UTF-8"),
                             ("408", "the request did not arrive in time"),
                             ("413", "the body is too large"),
                             ("415", "the body is not application/fhir+json (or application/json)"),
                             ("422", "the Claim cannot be checked: every issue with its FHIRPath"),
                             ("503", "the payer's policies did not load"),
                             ("500", "the server failed; the failure is logged with the request id"))}}}})
def _cds_paths(spec: APISpec, failed: dict) -> None:
    """The CDS Hooks coverage service (docs/cds-hooks.md): its own JWT, not the API keys of /v1."""
    unauthorized = {"401": _problem("no valid signed JWT from a trusted CDS client, where one is required "
                                    "(SUPPORTABLE_CDS_AUTH; docs/operations.md)")}
    security = [{"cdsJwt": []}, {}]
    spec.components.security_scheme("cdsJwt", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                               "description": "the CDS client's signed JWT (CDS Hooks 2.0): iss, "
                                                              "aud = this endpoint's URL, exp, iat, jti; kid"})
    spec.path(path="/cds-services", operations={"get": {
        "summary": "CDS Hooks discovery: the coverage services (appointment-book, order-sign)",
        "operationId": "cdsDiscovery", "security": security,
        "responses": {"200": _json("CdsDiscovery", "the services"), **unauthorized, **failed}}})
    spec.path(path="/cds-services/{id}", operations={"post": {
        "summary": "Call a CDS Hooks coverage service (Da Vinci CRD)",
        "description": "A CDS Hooks request (hook, hookInstance, context, prefetch with the Coverage). The answer "
                       "says, before the visit, what the patient's payer will require for each CPT code ordered or "
                       "booked: cards, and system actions updating each draft ServiceRequest or Appointment with "
                       "the CRD coverage-information extension.",
        "operationId": "cdsCall", "security": security,
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {
            "type": "string", "enum": ["coverage-appointment-book", "coverage-order-sign"]}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["hook", "hookInstance", "context"],
            "properties": {"hook": {"type": "string"}, "hookInstance": {"type": "string"},
                           "fhirServer": {"type": "string"}, "fhirAuthorization": {"type": "object"},
                           "context": {"type": "object"}, "prefetch": {"type": "object"}}}}}},
        "responses": {"200": _json("CdsResponse", "cards and system actions"),
                      "400": _problem("the request or a FHIR resource in it is not valid (each problem with its "
                                      "location), or the body is not JSON"),
                      "404": _problem("no such service"), "408": _problem("the request did not arrive in time"),
                      "412": _problem("the Coverage was not prefetched"), "413": _problem("the body is too large"),
                      "415": _problem("the body is not JSON"), "503": _problem("the payer's policies did not load"),
                      **unauthorized, **failed}}})


def _with_api_keys(doc: dict) -> dict:
    """`/v1` takes an API key when the server requires one (server/auth.py; docs/operations.md)."""
    doc.setdefault("components", {})["securitySchemes"] = {
        "bearerKey": {"type": "http", "scheme": "bearer",
                      "description": "an API key as `Authorization: Bearer <key>`"},
        "headerKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}
    for path, operations in doc.get("paths", {}).items():
        if path.startswith(("/v1/", "/fhir/")):
            for operation in operations.values():
                # {} too: on loopback, by default, no key is needed
                operation["security"] = [{"bearerKey": []}, {"headerKey": []}, {}]
                operation["responses"].setdefault("401", _problem(
                    "no valid API key, where one is required (off loopback, or SUPPORTABLE_AUTH=required)")
                    if path.startswith("/v1/") else {
                    "description": "no valid API key, where one is required (an OperationOutcome)",
                    "content": {FHIR_JSON: {"schema": {"$ref": "#/components/schemas/FhirOperationOutcome"}}}})
    return doc
