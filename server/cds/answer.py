"""The answer to a hook: for each draft order or appointment and each CPT code on it, what the payer
will require (``prospective_requirements``), as a card for the user and as the Da Vinci CRD
coverage-information extension on the resource (a system action updating it).

How our answers map onto the extension (docs/cds-hooks.md has the table):

- ``covered``: ``not-covered`` when a payer exclusion applies to what the order says (an exclusion of
  maintenance care and an order for maintenance; a provider type the payer does not pay for the
  service, from ``performerType``) or the visit limit is already reached in the history given; ``conditional`` (with ``info-needed: detail-code``) when the order carries no CPT code;
  ``indeterminate`` (with a reason) when the payer or the code is not one this service has policies
  for; else ``covered``;
- ``pa-needed``: ``auth-needed`` when a payer rule requires a recorded prior authorization;
  ``conditional`` (with ``info-needed: OTH`` and the reason) when the payer's policy only says the plan
  may require one; else ``no-auth`` (absent when not covered, as CRD requires);
- ``doc-needed``: ``clinical`` when the payer requires documentation elements of every such line, with
  ``doc-purpose: retain-doc`` (the record must show them); the elements are in the card and a detail;
- ``billingCode``: the CPT code; ``reason``: one per rule, coded with our rule id (system
  ``urn:supportable:rule``) and its text; ``detail``: modifiers and documentation as instructions, the
  visit limit as ``allowed-quantity`` (the visits left, when the history was given).
"""
from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import date

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.servicerequest import ServiceRequest

from supportable.engine import InputError, PolicySet, prospective_requirements, services_in_window

from ..wire.cds import COVERAGE_INFORMATION
from ..wire.cds import card as _card, code_member as _code, coverage_information as _extension, \
    detail_member as _detail, reason_member as _reason, said as _said
from .reading import CPT, HookRequest, Order

EMITTED = {"ServiceRequest": ServiceRequest, "Appointment": Appointment}


_CACHE: dict = {}          # (payer, policy version, code, date) -> ProspectiveRequirements (read-only)
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4096


def _requirements(payer: "Payer", code: str, on: date, provider_type: str | None):
    """``prospective_requirements`` once per payer's policy version, code, date and provider type (a
    few ms each)."""
    key = (payer.id, payer.policy.version, code, on, provider_type)
    found = _CACHE.get(key)
    if found is None:
        found = prospective_requirements(payer.policy, code, on, provider_type)
        with _CACHE_LOCK:
            if len(_CACHE) >= _CACHE_SIZE:
                _CACHE.clear()
            _CACHE[key] = found
    return found


@dataclass
class Payer:
    id: str | None             # the overlay, or None when the Coverage's payer is not one we serve
    name: str
    policy: PolicySet | None


def answer(request: HookRequest, payer: Payer, today: date) -> dict:
    cards, actions = [], []
    for order in request.orders:
        extensions = []
        for code in order.codes or [None]:
            extension, card = _assess(request, order, code, payer, today)
            extensions.append(extension)
            if card is not None:
                cards.append(card)
        kept = [e for e in order.resource.get("extension") or [] if e.get("url") != COVERAGE_INFORMATION]
        updated = {**order.resource, "extension": kept + extensions}
        actions.append({"type": "update", "description": f"Record {payer.name}'s coverage requirements on "
                        f"{order.reference}", "resource": updated})
    return {"cards": cards, "systemActions": actions}


def provider_type_problems(request: HookRequest, payer: "Payer") -> list[dict]:
    """A provider type named with our system must be one of the vocabulary's (else every eligibility
    rule would deny it): a problem for each that is not."""
    if payer.policy is None:
        return []
    known = payer.policy.vocabulary.entries.get("provider_type", {})
    return [{"path": o.provider_path, "code": "unknown_provider_type", "message": f"unknown provider type "
             f"`{o.provider_type}`"} for o in request.orders if o.provider_type is not None and o.provider_type not in known]


def validate_emitted(body: dict) -> None:
    """Every resource sent validates as FHIR R4 with fhir.resources (a failure is our bug: it raises)."""
    for action in body["systemActions"]:
        resource = action["resource"]
        EMITTED[resource["resourceType"]].model_validate(resource)


def _assess(request: HookRequest, order: Order, code: str | None, payer: Payer, today: date):
    trace = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{request.hook_instance}/{order.reference}/{code}"))
    head = [{"url": "coverage", "valueReference": {"reference": request.coverage_reference}}]
    tail = [{"url": "date", "valueDate": today.isoformat()}, {"url": "coverage-assertion-id", "valueString": trace}]
    billing = [{"url": "billingCode", "valueCoding": {"system": CPT, "code": code}}] if code else []
    if code is None:
        why = ("the order carries no CPT code, so the payer's requirements cannot be told; codes seen: "
               + (", ".join(order.other_codes) or "none"))
        return _extension(head + [_code("covered", "conditional"), _code("info-needed", "detail-code"),
                                  _reason(None, why)] + tail), None
    if payer.policy is None:
        why = f"the Coverage's payer ({payer.name}) is not one this service has policies for"
        return _extension(head + [_code("covered", "indeterminate")] + billing + [_reason(None, why)] + tail), None
    try:
        found = _requirements(payer, code, order.on, order.provider_type)
    except InputError:
        why = f"{code} is not among the physical-medicine codes of {payer.name}'s policies"
        return _extension(head + [_code("covered", "indeterminate")] + billing + [_reason(None, why)] + tail), None
    excluded = [r for r in found.of("exclusion") if order.maintenance and "plateau" in r.when] + found.of("ineligible")
    limits = []
    for r in found.of("limit"):
        used = services_in_window(request.history, code, order.on, r.window_days) \
            if request.history_given and r.cap is not None and r.window_days is not None else None
        limits.append((r, used, None if used is None else max(r.cap - used, 0)))
    reached = [r for r, _, left in limits if left == 0]
    authorization = found.of("prior_authorization")
    possible = [] if authorization else found.of("prior_authorization_possible")
    documentation = found.documentation
    modifiers = [r for r in found.of("modifier") if r.always]
    covered = "not-covered" if excluded or reached else "covered"
    members = head + [_code("covered", covered)]
    if covered != "not-covered":
        members.append(_code("pa-needed", "auth-needed" if authorization else "conditional" if possible else "no-auth"))
    if documentation:
        members += [_code("doc-needed", "clinical"), _code("doc-purpose", "retain-doc")]
    if possible and covered != "not-covered":
        members.append(_code("info-needed", "OTH"))     # what the member's plan says about prior authorization
    members += billing
    shown = excluded + reached + authorization + (possible if covered != "not-covered" else []) + [r for r in found.of("documentation") if r.always and not r.any_of] \
        + modifiers
    members += [_reason(r.use.rule.id, _said(r)) for r in shown]
    if not shown:
        members.append(_reason(None, f"no requirement of {payer.name}'s policies applies to every {code} line"))
    for r in modifiers:
        members.append(_detail("cat-other", "instructions", {"valueString": f"bill {code} with "
                               f"{' or '.join(r.elements)} ({r.use.rule.id})"}))
    if documentation:
        members.append(_detail("cat-other", "instructions", {"valueString": "the record must document: "
                               + ", ".join(documentation)}))
    for r, used, left in limits:
        if r.cap is None:
            continue
        qualification = (f"{r.cap} visits within {r.window_days} days ({r.use.rule.id}); {used} in the history given"
                         if used is not None else f"{r.cap} visits within {r.window_days} days ({r.use.rule.id}); "
                         "no history was given, so the visits left are not known")
        members.append(_detail("cat-limitation", "allowed-quantity",
                               {"valueQuantity": {"value": left if left is not None else r.cap, "unit": "visits"}},
                               qualification))
    card = _card(order, code, payer, found, covered, excluded, reached, authorization + possible,
                 documentation, modifiers, limits, trace)
    return _extension(members + tail), card
