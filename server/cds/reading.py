"""A CDS Hooks request read and validated: the envelope (hook, hookInstance, fhirServer,
fhirAuthorization, context, prefetch), then every FHIR resource the service reads, with
``fhir.resources.R4B`` (CRD is written for FHIR R4; R4B's resources used here are R4's).

Every problem is a :class:`CdsInputError` naming where it is (``context.draftOrders.entry[1].resource.subject``):
400, or 412 when the prefetch the service needs is missing (the service does not query the client's
FHIR server; CDS Hooks answers 412 when the data cannot be had).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.patient import Patient
from pydantic import ValidationError

from ..taxonomy import provider_type

CPT = "http://www.ama-assn.org/go/cpt"
BILLING_OPTIONS = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-billing-options"
ORDER_DETAIL = "urn:supportable:order-detail"
PROVIDER_TYPE = "urn:supportable:provider-type"
NUCC = "http://nucc.org/provider-taxonomy"
# NUCC Health Care Provider Taxonomy codes of the provider types the policies name (the vocabulary's
# provider_types.yaml); others are given with PROVIDER_TYPE and the vocabulary id.
_WORD_MAINTENANCE = re.compile(r"\bmaintenance\b", re.IGNORECASE)


class CdsInputError(Exception):
    def __init__(self, status: int, detail: str, problems: list[dict]):
        super().__init__(detail)
        self.status, self.detail, self.problems = status, detail, problems


def _problem(path: str, message: str, code: str = "invalid") -> dict:
    return {"path": path, "code": code, "message": message}


@dataclass
class Order:
    """One draft ServiceRequest or proposed Appointment."""
    resource: dict
    path: str                        # where it is in the request
    codes: list[str]                 # CPT codes ordered or booked (billing options included)
    other_codes: list[str]           # codings of other systems (`system|code`)
    on: date                         # the date of service looked ahead to (today when none is given)
    maintenance: bool                # the order says the care is maintenance
    provider_type: str | None = None     # who will furnish it (vocabulary id), from performerType
    provider_path: str = ""

    @property
    def reference(self) -> str:
        return f"{self.resource['resourceType']}/{self.resource.get('id', '')}"


@dataclass
class HookRequest:
    hook: str
    hook_instance: str
    orders: list[Order]
    coverage: dict
    coverage_reference: str
    history: list[tuple[date, str]] = field(default_factory=list)
    history_given: bool = False


def read_request(doc, hook: str, today: date | None = None) -> HookRequest:
    today = today or datetime.now(timezone.utc).date()
    if not isinstance(doc, dict):
        raise CdsInputError(400, "the body must be a JSON object (a CDS Hooks request)", [_problem("", "not an object")])
    problems = []
    for name in ("hook", "hookInstance"):
        if not isinstance(doc.get(name), str) or not doc.get(name):
            problems.append(_problem(name, f"`{name}` is required and must be a string", "required"))
    if not isinstance(doc.get("context"), dict):
        problems.append(_problem("context", "`context` is required and must be an object", "required"))
    if "prefetch" in doc and not isinstance(doc["prefetch"], (dict, type(None))):
        problems.append(_problem("prefetch", "`prefetch` must be an object"))
    if doc.get("fhirAuthorization") is not None and not isinstance(doc.get("fhirServer"), str):
        problems.append(_problem("fhirServer", "`fhirServer` is required when `fhirAuthorization` is given", "required"))
    if problems:
        raise CdsInputError(400, "the CDS Hooks request is not valid", problems)
    if doc["hook"] != hook:
        raise CdsInputError(400, f"this service answers the `{hook}` hook, not `{doc['hook']}`",
                            [_problem("hook", f"expected `{hook}`", "wrong_hook")])
    context, prefetch = doc["context"], doc.get("prefetch") or {}
    for name in ("userId", "patientId"):
        if not isinstance(context.get(name), str):
            problems.append(_problem(f"context.{name}", f"`{name}` is required and must be a string", "required"))
    key = "draftOrders" if hook == "order-sign" else "appointments"
    if not isinstance(context.get(key), dict):
        problems.append(_problem(f"context.{key}", f"`{key}` is required: a FHIR Bundle", "required"))
    if problems:
        raise CdsInputError(400, "the CDS Hooks request is not valid", problems)
    _validate(Bundle, context[key], f"context.{key}")
    if "patient" in prefetch and prefetch["patient"] is not None:
        _validate(Patient, prefetch["patient"], "prefetch.patient")
    coverage, coverage_ref = _coverage(prefetch)
    based_on = {}
    if prefetch.get("serviceRequests") is not None:
        _validate(Bundle, prefetch["serviceRequests"], "prefetch.serviceRequests")
        based_on = {e["resource"].get("id"): e["resource"] for e in prefetch["serviceRequests"].get("entry") or []
                    if (e.get("resource") or {}).get("resourceType") == "ServiceRequest"}
    orders = []
    for i, entry in enumerate(context[key].get("entry") or []):
        resource = entry.get("resource") or {}
        path = f"context.{key}.entry[{i}].resource"
        kind = resource.get("resourceType")
        if kind not in ("ServiceRequest", "Appointment"):
            continue
        if not resource.get("id"):
            raise CdsInputError(400, f"{path}: a draft {kind} needs an id for the system action to update it",
                                [_problem(f"{path}.id", "required to update the resource", "required")])
        orders.append(_order(resource, path, based_on, today))
    history, given = _history(prefetch)
    return HookRequest(doc["hook"], doc["hookInstance"], orders, coverage, coverage_ref, history, given)


def _validate(model, data, path: str):
    if not isinstance(data, dict):
        raise CdsInputError(400, f"{path} must be a FHIR resource (a JSON object)", [_problem(path, "not an object")])
    unknown = list(_resource_types(data, path))
    if unknown:
        raise CdsInputError(400, f"{unknown[0]['path']}: {unknown[0]['message']}", unknown[:20])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(_joined(path, err["loc"]), err["msg"], err["type"]) for err in exc.errors()[:20]]
        raise CdsInputError(400, f"{path} is not a valid FHIR R4 {model.__name__}: {problems[0]['path']}: "
                                 f"{problems[0]['message']}", problems) from None
    except Exception as exc:     # fhir_core raises others than ValidationError on some bad input
        raise CdsInputError(400, f"{path} is not a valid FHIR R4 {model.__name__}: {type(exc).__name__}: {exc}",
                            [_problem(path, str(exc))]) from None


def _resource_types(node, path: str, resource: bool = True):
    """Problems with the resource types in a resource: every resource (this one, a Bundle entry's, a
    contained one) names a FHIR R4 resource type (fhir.resources fails on an unknown one without
    saying where)."""
    if not isinstance(node, dict):
        return
    if resource:
        kind = node.get("resourceType")
        if not isinstance(kind, str):
            yield _problem(f"{path}.resourceType", "a resource needs its `resourceType`", "required")
        else:
            try:
                get_fhir_model_class(kind)
            except (ValueError, KeyError):
                yield _problem(f"{path}.resourceType", f"`{kind}` is not a FHIR R4 resource type", "unknown_type")
    for key, value in node.items():
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for i, item in items:
            inner = f"{path}.{key}" + (f"[{i}]" if i is not None else "")
            yield from _resource_types(item, inner, resource=key in ("resource", "contained"))


def _joined(prefix: str, loc) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ".resourceType" if part == "resource_type" else f".{part}"
    return out


def _coverage(prefetch: dict) -> tuple[dict, str]:
    data = prefetch.get("coverage")
    if data is None:
        raise CdsInputError(412, "the Coverage was not prefetched: send `prefetch.coverage` (the service does not "
                                 "query the FHIR server)", [_problem("prefetch.coverage", "missing", "required")])
    if isinstance(data, dict) and data.get("resourceType") == "Coverage":
        _validate(Coverage, data, "prefetch.coverage")
        entries = [{"resource": data}]
    else:
        _validate(Bundle, data, "prefetch.coverage")
        entries = [e for e in data.get("entry") or [] if (e.get("resource") or {}).get("resourceType") == "Coverage"]
    active = [e for e in entries if e["resource"].get("status") == "active"] or entries
    if not active:
        raise CdsInputError(412, "the prefetched Coverage bundle holds no Coverage",
                            [_problem("prefetch.coverage.entry", "no Coverage", "required")])
    chosen = active[0]
    resource = chosen["resource"]
    reference = chosen.get("fullUrl") or (f"Coverage/{resource['id']}" if resource.get("id") else None)
    if reference is None:
        raise CdsInputError(400, "prefetch.coverage: the Coverage has neither an id nor a fullUrl to refer to",
                            [_problem("prefetch.coverage.id", "required to refer to the Coverage", "required")])
    return resource, reference


def _codings(concept: dict | None) -> list[dict]:
    if not isinstance(concept, dict):
        return []
    found = list(concept.get("coding") or [])
    for ext in concept.get("extension") or []:
        if ext.get("url") == BILLING_OPTIONS:
            found += (ext.get("valueCodeableConcept") or {}).get("coding") or []
    return found


def _order(resource: dict, path: str, based_on: dict, today: date) -> Order:
    performers = []
    if resource["resourceType"] == "ServiceRequest":
        performers.append((f"{path}.performerType", resource.get("performerType")))
        concepts = [resource.get("code")]
        texts = [*(resource.get("category") or []), *(resource.get("orderDetail") or []),
                 *(resource.get("reasonCode") or [])]
        when = resource.get("occurrenceDateTime") or (resource.get("occurrencePeriod") or {}).get("start")
    else:
        concepts = list(resource.get("serviceType") or [])
        texts = [*(resource.get("serviceCategory") or []), *(resource.get("reasonCode") or []),
                 *([resource["appointmentType"]] if resource.get("appointmentType") else [])]
        for ref in resource.get("basedOn") or []:    # the orders the appointment is booked for
            target = based_on.get(str(ref.get("reference", "")).rsplit("/", 1)[-1])
            if target is not None:
                concepts.append(target.get("code"))
                performers.append((f"prefetch.serviceRequests ServiceRequest/{target.get('id')}.performerType",
                                   target.get("performerType")))
                texts += [*(target.get("category") or []), *(target.get("orderDetail") or [])]
        when = resource.get("start") or (resource.get("requestedPeriod") or {}).get("start")
    codings = [c for concept in concepts for c in _codings(concept)]
    codes = list(dict.fromkeys(str(c.get("code")) for c in codings if c.get("system") == CPT and c.get("code")))
    others = list(dict.fromkeys(f"{c.get('system')}|{c.get('code')}" for c in codings if c.get("system") != CPT))
    provider, where = next(((p, w) for w, concept in performers for p in [_provider_type(concept)] if p), (None, ""))
    return Order(resource, path, codes, others, _date(when) or today, _maintenance(texts), provider, where)


def _provider_type(concept) -> str | None:
    for coding in _codings(concept):
        if coding.get("system") == PROVIDER_TYPE and coding.get("code"):
            return str(coding["code"])
        if coding.get("system") == NUCC and provider_type(str(coding.get("code") or "")) is not None:
            return provider_type(str(coding["code"]))
    return None


def _date(value) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _maintenance(concepts: list) -> bool:
    for concept in concepts:
        if not isinstance(concept, dict):
            continue
        if _WORD_MAINTENANCE.search(str(concept.get("text") or "")):
            return True
        for coding in concept.get("coding") or []:
            if coding.get("system") == ORDER_DETAIL and coding.get("code") == "maintenance":
                return True
            if _WORD_MAINTENANCE.search(str(coding.get("display") or "")):
                return True
    return False


def _history(prefetch: dict) -> tuple[list[tuple[date, str]], bool]:
    data = prefetch.get("history")
    if data is None:
        return [], False
    _validate(Bundle, data, "prefetch.history")
    found = []
    for entry in data.get("entry") or []:
        resource = entry.get("resource") or {}
        if resource.get("resourceType") != "Procedure" or resource.get("status") != "completed":
            continue
        when = _date(resource.get("performedDateTime") or (resource.get("performedPeriod") or {}).get("start"))
        for coding in _codings(resource.get("code")):
            if coding.get("system") == CPT and when is not None:
                found.append((when, str(coding.get("code"))))
    return found, True
