"""The FHIR R4 route: ``POST /fhir/Claim/$check`` reads a ``Claim`` (application/fhir+json), decides
the encounter it describes like ``/v1/check``, and answers a ``ClaimResponse``; anything wrong is an
``OperationOutcome`` whose issues carry FHIRPath locations (docs/fhir.md). Every answer under
``/fhir/`` is FHIR: a problem any route may give (401, 404, 413, 500...) is sent as an
OperationOutcome with the same status."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from flask import Flask, Response, request

from supportable.engine import BASE, InputError

from .. import wire
from ..problems import PROBLEM_JSON
from ..wire import fhir
from .common import ProblemError, State, json_document, policy_for
from .x12 import payer_table

PREFIX = "/fhir/"


def outcome_response(status: int, issues: list[fhir.Issue]) -> Response:
    return Response(json.dumps(fhir.operation_outcome(issues)), status=status, mimetype=fhir.FHIR_JSON)


def install(app: Flask, state: State) -> None:
    settings = state.settings

    @app.post("/fhir/Claim/$check")
    def fhir_claim_check():
        request.max_content_length = settings.max_body_bytes
        if request.mimetype not in (fhir.FHIR_JSON, "application/json"):
            raise ProblemError("unsupported-media-type", 415, f"send the Claim as {fhir.FHIR_JSON}, not "
                               f"`{request.mimetype or 'no content type'}`")
        document = json_document()
        chosen = request.args.get("payer") or None
        try:
            claim = fhir.read_claim(document, chosen, None if chosen else payer_table(settings).payer_for)
        except fhir.ClaimError as exc:
            return outcome_response(422, exc.issues)
        payer = claim.payer or BASE
        try:
            policy = policy_for(state, payer, "payer")
        except ProblemError as exc:
            where = "Claim.insurer" if claim.payer and not chosen else ""   # else the query, or the default
            problems = [{**p, "path": ""} if "path" in p else p for p in exc.problems or []] or \
                [{"code": exc.kind.replace("-", "_"), "message": exc.detail}]
            issues = fhir.from_problems(problems, lambda _path: where)
            return outcome_response(exc.status, issues)
        try:
            encounter = policy.read_encounter(claim.encounter)
        except InputError as exc:
            return outcome_response(422, fhir.from_problems(wire.problem_items(exc.problems),
                                                            lambda path: fhir.fhirpath_of(claim.paths, path)))
        decided_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = {"decision_id": uuid.uuid4().hex, "decided_at": decided_at,
                **wire.decision(policy.decide(encounter, "summary"), "summary")}
        state.metrics.decided(policy.payer, body["lines"])
        state.decision_log.append(body, claim.encounter, decided_at)
        answer = fhir.claim_response(body, claim.claim, claim.sequences, decided_at)
        return Response(json.dumps(answer), status=200, mimetype=fhir.FHIR_JSON)

    @app.after_request
    def as_operation_outcome(response: Response) -> Response:
        """Under /fhir/, a problem document (from any handler) becomes an OperationOutcome."""
        if request.path.startswith(PREFIX) and response.mimetype == PROBLEM_JSON:
            try:
                body = json.loads(response.get_data())
            except ValueError:
                body = {"status": response.status_code, "detail": "the request failed"}
            response.set_data(json.dumps(fhir.from_problem_document(body)))
            response.mimetype = fhir.FHIR_JSON
        return response
