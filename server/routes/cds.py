"""The CDS Hooks coverage service (docs/cds-hooks.md): ``GET /cds-services`` (discovery) and
``POST /cds-services/<id>`` (a hook call answered with cards and system actions carrying the Da Vinci
CRD coverage-information extension). Every call needs a CDS client's signed JWT when the settings say
so (``server.cds.tokens``); errors are problem documents like the rest of the API."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from flask import Flask, g, jsonify, request

from ..auth import AuthError, Principal, is_loopback
from ..cds.answer import Payer, answer, provider_type_problems, validate_emitted
from ..cds.payers import overlay_for
from .x12 import payer_table
from ..cds.reading import CdsInputError, read_request
from ..cds.services import HOOK_OF, SERVICES
from ..cds.tokens import IssuerFileError, JwtError, Verifier, read_issuers
from ..settings import ENV_PREFIX, Settings
from .common import ProblemError, State, answer_problem, json_document

LOG = logging.getLogger("supportable")


class CdsGate:
    """Whether hook calls need a JWT, and the verifier of the trusted issuers."""

    def __init__(self, required: bool, verifier: Verifier | None):
        self.required, self.verifier = required, verifier

    @classmethod
    def from_settings(cls, settings: Settings) -> "CdsGate":
        try:
            issuers = read_issuers(settings.cds_issuers) if settings.cds_issuers is not None else {}
        except IssuerFileError as exc:
            raise AuthError(str(exc)) from None
        required = settings.cds_auth == "required" or (settings.cds_auth == "auto" and (
            bool(issuers) or not is_loopback(settings.host)))
        if required and not issuers:
            why = (f"{ENV_PREFIX}CDS_AUTH=required" if settings.cds_auth == "required"
                   else f"the server is bound to {settings.host}, which is not loopback")
            raise AuthError(f"CDS Hooks calls need a signed JWT ({why}) but no trusted issuers are set: set "
                            f"{ENV_PREFIX}CDS_ISSUERS, or {ENV_PREFIX}CDS_AUTH=off to accept calls without one")
        return cls(required, Verifier(issuers) if issuers else None)

    def refuse(self, settings: Settings):
        """None when the call may go on, else the 401 answer."""
        if not self.required:
            return None
        base = (settings.cds_base_url or request.host_url).rstrip("/")
        try:
            claims = self.verifier.verify(request.headers.get("Authorization", ""), base + request.path)
        except JwtError as exc:
            return answer_problem("unauthorized", 401, str(exc),
                                  headers={"WWW-Authenticate": 'Bearer realm="cds-services"'})
        g.principal = Principal(f"jwt:{claims['iss']}", "jwt", claims)
        return None


def install(app: Flask, state: State) -> None:
    gate = CdsGate.from_settings(state.settings)

    @app.get("/cds-services")
    def cds_discovery():
        refused = gate.refuse(state.settings)
        return refused or jsonify({"services": SERVICES})

    @app.post("/cds-services/<service_id>")
    def cds_call(service_id: str):
        if service_id not in HOOK_OF:
            raise ProblemError("not-found", 404, f"no CDS service `{service_id}`; GET /cds-services lists them")
        refused = gate.refuse(state.settings)
        if refused is not None:
            return refused
        document = json_document("the CDS Hooks request")
        today = datetime.now(timezone.utc).date()
        try:
            hook_request = read_request(document, HOOK_OF[service_id], today)
        except CdsInputError as exc:
            kind = "precondition-failed" if exc.status == 412 else "invalid-cds-request"
            raise ProblemError(kind, exc.status, exc.detail, exc.problems) from None
        payer = _payer(state, hook_request.coverage)
        bad = provider_type_problems(hook_request, payer)
        if bad:
            raise ProblemError("invalid-cds-request", 400, bad[0]["message"] + "; GET /v1/vocabulary lists them", bad)
        body = answer(hook_request, payer, today)
        validate_emitted(body)
        _log_call(service_id, hook_request.hook_instance, payer.id, body)
        return jsonify(body)


def _payer(state: State, coverage: dict) -> Payer:
    registry = state.registry
    for i, payor in enumerate(coverage.get("payor") or []):
        overlay = overlay_for(payor, list(registry.known), payer_table(state.settings).payer_for)
        if overlay is None:
            continue
        if overlay in registry.failed:
            raise ProblemError("payer-unavailable", 503, f"payer `{overlay}`'s policies did not load; other payers "
                               "are served")
        policy = registry.policies.get(overlay)
        if policy is not None:
            return Payer(overlay, policy.name, policy)
    shown = [p.get("display") or (p.get("identifier") or {}).get("value") or p.get("reference")
             for p in coverage.get("payor") or []]
    return Payer(None, ", ".join(str(s) for s in shown if s) or "unnamed payer", None)


def _log_call(service_id: str, hook_instance: str, payer: str | None, body: dict) -> None:
    """One line per call with what was asserted (CRD asks servers to keep their answers for disputes):
    each resource, code, coverage, prior authorization and assertion id; no patient data."""
    said = []
    for action in body["systemActions"]:
        resource = action["resource"]
        for ext in resource.get("extension") or []:
            values = {m["url"]: m.get("valueCode") or m.get("valueString") or (m.get("valueCoding") or {}).get("code")
                      for m in ext.get("extension") or [] if m["url"] in ("covered", "pa-needed", "doc-needed",
                                                                          "billingCode", "coverage-assertion-id")}
            said.append({"resource": f"{resource['resourceType']}/{resource.get('id')}", **values})
    LOG.info(json.dumps({"event": "cds_call", "request_id": getattr(g, "request_id", None), "service": service_id,
                         "hook_instance": hook_instance, "payer": payer, "assertions": said}))
