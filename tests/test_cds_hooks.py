"""The CDS Hooks coverage service (docs/cds-hooks.md) through the real gunicorn server: discovery,
appointment-book and order-sign answered with cards and system actions checked against the CDS Hooks
2.0 response shape and the Da Vinci CRD coverage-information extension (its cardinalities and
invariants), every resource sent validated with fhir.resources R4B, bad requests answered 4xx with
their location, and the signed JWT checked (valid, expired, wrong aud, bad signature, replay).

Fixtures are the specifications' published examples, or derived from them (tests/data/cds/README).
The JWT keys are the CDS Hooks specification's example ES384 key pair."""
from __future__ import annotations

import copy
import http.client
import json
import time
import uuid
from pathlib import Path

import jwt as pyjwt
import pytest

from cds_shapes import check_response, members, rule_ids, value
from conftest import payers_with
from serving import running_server

DATA = Path(__file__).resolve().parent / "data" / "cds"
BASE = "https://cds.example.org"
KEYS = json.loads((DATA / "jwks-spec-example.json").read_text())
PRIVATE = pyjwt.PyJWK.from_dict(KEYS["private"], algorithm="ES384")
ISS = "https://fhir-ehr.example.com/"
PA_OVERLAY = """id: aetna_medicare_pa
name: Aetna Medicare Advantage (a plan requiring prior authorization)
extends: aetna_medicare
description: the example plan with its prior-authorization switch on, for the CDS Hooks tests
parameters:
  prior_authorization:
    value: required
    description: "this plan requires prior authorization for therapy treatment"
    source: {file: domain-notes.md, section: "3.2 General medical-necessity rules; T2 [PPS-AETNA-2025] (B)"}
"""


def fixture(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def token(aud: str, *, exp_in: int = 60, key=None, kid: str = "example-kid", alg: str = "ES384", **claims) -> str:
    now = int(time.time())
    payload = {"iss": ISS, "aud": aud, "exp": now + exp_in, "iat": now, "jti": uuid.uuid4().hex, **claims}
    return pyjwt.encode(payload, key if key is not None else PRIVATE.key, algorithm=alg,
                        headers={"kid": kid, "typ": "JWT"})


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cds")
    (tmp / "ehr-jwks.json").write_text(json.dumps({"keys": [KEYS["public"]]}))
    (tmp / "issuers.json").write_text(json.dumps({"issuers": [{"iss": ISS, "jwks_file": "ehr-jwks.json"}]}))
    payers = payers_with(tmp, {"aetna_medicare_pa": PA_OVERLAY})
    env = {"SUPPORTABLE_CDS_ISSUERS": str(tmp / "issuers.json"), "SUPPORTABLE_CDS_BASE_URL": BASE,
           "SUPPORTABLE_PAYERS": str(payers), "SUPPORTABLE_SNAPSHOT": ""}
    with running_server(tmp, env=env) as (port, _):
        yield port


def call(port: int, method: str, path: str, body=None, auth: str | None = "sign", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent = {"Content-Type": "application/json", **(headers or {})}
    if auth == "sign":
        sent["Authorization"] = "Bearer " + token(BASE + path)
    elif auth is not None:
        sent["Authorization"] = auth
    try:
        conn.request(method, path, json.dumps(body).encode() if isinstance(body, dict) else body, sent)
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, json.loads(raw) if raw else None
    finally:
        conn.close()


# -- discovery -------------------------------------------------------------------------------------

def test_discovery_lists_a_service_for_each_hook(server):
    status, _, body = call(server, "GET", "/cds-services")
    assert status == 200
    hooks = {s["hook"]: s for s in body["services"]}
    assert set(hooks) == {"appointment-book", "order-sign"}
    for service in body["services"]:
        assert set(service) <= {"hook", "title", "description", "id", "prefetch", "usageRequirements"}
        assert all(isinstance(service[k], str) and service[k] for k in ("hook", "description", "id"))
        assert service["prefetch"]["coverage"] == "Coverage?patient={{context.patientId}}&status=active"
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    assert "serviceRequests" in hooks["appointment-book"]["prefetch"]


# -- answers ---------------------------------------------------------------------------------------

def test_order_sign_aetna_97112_documentation_and_visits_left(server):
    status, _, body = call(server, "POST", "/cds-services/coverage-order-sign", fixture("order-sign-aetna-97112"))
    assert status == 200, body
    [m] = check_response(body, "ServiceRequest")
    assert m["covered"][0]["valueCode"] == "covered" and m["pa-needed"][0]["valueCode"] == "no-auth"
    assert m["doc-needed"][0]["valueCode"] == "clinical"
    assert m["billingCode"][0]["valueCoding"] == {"system": "http://www.ama-assn.org/go/cpt", "code": "97112"}
    assert "base.documentation.nmr_needs_neuro_deficit" in rule_ids(m)
    assert m["coverage"][0]["valueReference"]["reference"] == "http://example.org/someEHR/fhir/Coverage/COV1"
    [limit] = [d for d in m["detail"] if members(d)["code"][0]["valueCodeableConcept"]["coding"][0]["code"]
               == "allowed-quantity"]
    assert members(limit)["value"][0]["valueQuantity"]["value"] == 1          # 18 allowed, 17 in the history
    [card] = body["cards"]
    assert card["summary"].startswith("97112 under Aetna") and card["indicator"] == "info"
    assert "neuro_deficit" in card["detail"] and "time_recorded" in card["detail"]
    assert card["extension"]["davinci-crd.associated-resource"] == [{"reference": "ServiceRequest/1357"}]


def test_order_sign_at_the_visit_cap_is_not_covered_with_a_suggestion_to_remove(server):
    request = fixture("order-sign-aetna-97112")
    request["prefetch"]["history"]["entry"].append(copy.deepcopy(request["prefetch"]["history"]["entry"][0]))
    request["prefetch"]["history"]["entry"][-1]["resource"]["performedDateTime"] = "2025-06-01"
    status, _, body = call(server, "POST", "/cds-services/coverage-order-sign", request)
    assert status == 200, body
    [m] = check_response(body, "ServiceRequest")
    assert m["covered"][0]["valueCode"] == "not-covered" and "pa-needed" not in m
    assert rule_ids(m)[0] == "aetna.nmr.visit_cap"
    [card] = body["cards"]
    assert card["indicator"] == "warning"
    assert card["suggestions"][0]["actions"] == [{"type": "delete", "description": card["suggestions"][0]["actions"][0]
                                                  ["description"], "resourceId": "ServiceRequest/1357"}]


def test_aetna_excludes_maintenance_only_when_the_order_says_maintenance(server):
    request = fixture("order-sign-aetna-97110-maintenance")
    status, _, body = call(server, "POST", "/cds-services/coverage-order-sign", request)
    [m] = check_response(body, "ServiceRequest")
    assert m["covered"][0]["valueCode"] == "not-covered" and rule_ids(m)[0] == "aetna.necessity.plateau"
    del request["context"]["draftOrders"]["entry"][0]["resource"]["orderDetail"]
    status, _, body = call(server, "POST", "/cds-services/coverage-order-sign", request)
    [m] = check_response(body, "ServiceRequest")
    assert m["covered"][0]["valueCode"] == "covered" and "aetna.necessity.plateau" not in rule_ids(m)


def test_medicare_asks_for_a_therapy_discipline_modifier(server):
    status, _, body = call(server, "POST", "/cds-services/coverage-order-sign", fixture("order-sign-medicare-97110"))
    [m] = check_response(body, "ServiceRequest")
    assert "medicare.modifiers.discipline_required" in rule_ids(m)
    instructions = [value(members(d)["value"][0]) for d in m["detail"]]
    assert any("GN or GO or GP" in text for text in instructions), instructions
    assert "modifier GN/GO/GP" in body["cards"][0]["summary"]


def test_prior_authorization_where_the_payer_requires_it(server):
    request = fixture("order-sign-medicare-97110")
    payor = request["prefetch"]["coverage"]["entry"][0]["resource"]["payor"][0]
    payor["identifier"]["value"] = "aetna_medicare_pa"
    status, _, body = call(server, "POST", "/cds-services/coverage-order-sign", request)
    [m] = check_response(body, "ServiceRequest")
    assert m["pa-needed"][0]["valueCode"] == "auth-needed"
    assert "aetna_medicare.authorization.required" in rule_ids(m)
    assert body["cards"][0]["indicator"] == "warning" and "prior authorization" in body["cards"][0]["summary"]
    request["prefetch"]["coverage"]["entry"][0]["resource"]["payor"][0]["identifier"]["value"] = "aetna_medicare"
    status, _, body = call(server, "POST", "/cds-services/coverage-order-sign", request)
    [m] = check_response(body, "ServiceRequest")
    # the switch is off in the shipped overlay: the plan only may require one (advice), so conditional
    assert m["pa-needed"][0]["valueCode"] == "conditional" and m["info-needed"][0]["valueCode"] == "OTH"
    assert "aetna_medicare.authorization.may_be_required" in rule_ids(m)
    assert "aetna_medicare.authorization.required" not in rule_ids(m)
    assert "may be needed" in body["cards"][0]["summary"] and body["cards"][0]["indicator"] == "info"


def test_appointment_book_updates_the_appointment(server):
    status, _, body = call(server, "POST", "/cds-services/coverage-appointment-book",
                           fixture("appointment-book-medicare-97530"))
    assert status == 200, body
    [m] = check_response(body, "Appointment")
    assert m["billingCode"][0]["valueCoding"]["code"] == "97530" and m["covered"][0]["valueCode"] == "covered"
    assert body["systemActions"][0]["resource"]["id"] == "example"


def test_the_crd_specifications_own_order_sign_example(server):
    """Its payer (Acme) and codes (mammography, oxygen) are none of ours: indeterminate with a reason,
    and the order with no CPT code conditional, asking for a more detailed code."""
    status, _, body = call(server, "POST", "/cds-services/coverage-order-sign", fixture("CRDServiceRequest"))
    assert status == 200, body
    found = check_response(body, "ServiceRequest")
    assert [m["covered"][0]["valueCode"] for m in found] == ["indeterminate"] * 4 + ["conditional"]
    assert found[-1]["info-needed"][0]["valueCode"] == "detail-code"
    assert "Acme Health Plan" in found[0]["reason"][0]["valueCodeableConcept"]["text"]
    assert body["cards"] == []


# -- bad requests ------------------------------------------------------------------------------------

def test_the_specifications_appointment_example_without_coverage_is_412(server):
    status, headers, body = call(server, "POST", "/cds-services/coverage-appointment-book", fixture("CRDServiceRequest4"))
    assert status == 412 and headers["content-type"] == "application/problem+json"
    assert body["problems"][0]["path"] == "prefetch.coverage"


def test_an_invalid_fhir_resource_is_400_naming_its_location(server):
    request = fixture("order-sign-medicare-97110")
    del request["context"]["draftOrders"]["entry"][0]["resource"]["subject"]
    request["context"]["draftOrders"]["entry"][0]["resource"]["intent"] = 7
    status, headers, body = call(server, "POST", "/cds-services/coverage-order-sign", request)
    assert status == 400 and headers["content-type"] == "application/problem+json"
    paths = {p["path"] for p in body["problems"]}
    assert paths == {"context.draftOrders.entry[0].resource.subject", "context.draftOrders.entry[0].resource.intent"}


@pytest.mark.parametrize("change, status, path", [
    (lambda r: r.update(hook="order-select"), 400, "hook"),
    (lambda r: r.pop("hookInstance"), 400, "hookInstance"),
    (lambda r: r["context"].pop("draftOrders"), 400, "context.draftOrders"),
    (lambda r: r["prefetch"].update(coverage={"resourceType": "Coverage", "status": 5}), 400, "prefetch.coverage.status"),
    (lambda r: r["prefetch"].update(patient={"resourceType": "Patient", "gender": ["x"]}), 400, "prefetch.patient.gender"),
    (lambda r: r["context"]["draftOrders"]["entry"].append({"resource": {"resourceType": "Nonsense"}}), 400,
     "context.draftOrders.entry[1].resource.resourceType"),
    (lambda r: r["context"]["draftOrders"]["entry"][0]["resource"].pop("resourceType"), 400,
     "context.draftOrders.entry[0].resource.resourceType"),
    (lambda r: r["context"].update(draftOrders=r["context"]["draftOrders"]["entry"][0]["resource"]), 400,
     "context.draftOrders.resourceType"),
    (lambda r: r["context"]["draftOrders"]["entry"][0]["resource"].pop("id"), 400,
     "context.draftOrders.entry[0].resource.id"),
    (lambda r: r["prefetch"].update(coverage={"resourceType": "Bundle", "type": "searchset"}), 412, "prefetch.coverage.entry"),
    (lambda r: r["prefetch"].update(history={"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {
        "resourceType": "Procedure", "status": "completed", "subject": {"reference": "Patient/1"},
        "performedDateTime": "June"}}]}), 400, "prefetch.history.entry[0].resource.performedDateTime"),
    (lambda r: r["context"].update(userId=5), 400, "context.userId"),
])
def test_bad_requests_are_4xx_with_the_location(server, change, status, path):
    request = fixture("order-sign-medicare-97110")
    change(request)
    got, headers, body = call(server, "POST", "/cds-services/coverage-order-sign", request)
    assert got == status and headers["content-type"] == "application/problem+json", body
    assert path in [p["path"] for p in body["problems"]], body


def test_not_json_and_unknown_service(server):
    status, _, body = call(server, "POST", "/cds-services/coverage-order-sign", b"{not json")
    assert status == 400 and body["type"] == "/problems/invalid-json"
    status, _, body = call(server, "POST", "/cds-services/no-such-service", fixture("order-sign-medicare-97110"))
    assert status == 404


# -- the JWT -------------------------------------------------------------------------------------

PATH = "/cds-services/coverage-order-sign"


@pytest.mark.parametrize("auth, said", [
    (None, "Authorization: Bearer"),
    ("Bearer " + "x.y.z", "not a JWT"),
    (lambda: "Bearer " + token(BASE + PATH, exp_in=-120), "expired"),
    (lambda: "Bearer " + token(BASE + "/cds-services/coverage-appointment-book"), "aud"),
    (lambda: "Bearer " + token(BASE + PATH, iss="https://stranger.example"), "not a trusted"),
    (lambda: "Bearer " + token(BASE + PATH, key="a-shared-secret-of-at-least-32-bytes!!", alg="HS256"), "alg"),
    (lambda: "Bearer " + token(BASE + PATH, kid="other-kid"), "no key"),
])
def test_refused_tokens(server, auth, said):
    status, headers, body = call(server, "POST", PATH, fixture("order-sign-medicare-97110"),
                                 auth=auth() if callable(auth) else auth)
    assert status == 401 and headers["content-type"] == "application/problem+json"
    assert said in body["detail"], body["detail"]
    assert headers["www-authenticate"].startswith("Bearer")


def test_a_bad_signature_is_refused(server):
    from cryptography.hazmat.primitives.asymmetric import ec
    other = ec.generate_private_key(ec.SECP384R1())
    status, _, body = call(server, "POST", PATH, fixture("order-sign-medicare-97110"),
                           auth="Bearer " + token(BASE + PATH, key=other))
    assert status == 401 and "signature" in body["detail"]


def test_a_token_is_good_once(server):
    signed = "Bearer " + token(BASE + PATH)
    assert call(server, "POST", PATH, fixture("order-sign-medicare-97110"), auth=signed)[0] == 200
    status, _, body = call(server, "POST", PATH, fixture("order-sign-medicare-97110"), auth=signed)
    assert status == 401 and "replay" in body["detail"]


def test_discovery_needs_a_token_too(server):
    status, _, _ = call(server, "GET", "/cds-services", auth=None)
    assert status == 401


# -- the published contract -------------------------------------------------------------------------

def test_responses_validate_against_the_published_wire_types(server):
    from supportable.server import api_models as m
    status, _, body = call(server, "GET", "/cds-services")
    m.validate(m.CdsDiscovery, body)
    status, _, body = call(server, "POST", "/cds-services/coverage-order-sign", fixture("order-sign-aetna-97110-maintenance"))
    m.validate(m.CdsResponse, body)
    with pytest.raises(Exception):
        m.validate(m.CdsResponse, {**body, "cards": [{**body["cards"][0], "indicator": "urgent"}]})


def test_each_call_is_logged_with_its_assertions(server, tmp_path_factory):
    status, headers, body = call(server, "POST", "/cds-services/coverage-order-sign",
                                 fixture("order-sign-aetna-97110-maintenance"), headers={"X-Request-ID": "cds-log-1"})
    assert status == 200
    log = next(tmp_path_factory.getbasetemp().glob("cds*/server.log")).read_text()
    [line] = [json.loads(x[x.index("{"):]) for x in log.splitlines() if '"cds_call"' in x and "cds-log-1" in x]
    assert line["payer"] == "aetna" and line["service"] == "coverage-order-sign"
    [said] = line["assertions"]
    assert said["covered"] == "not-covered" and said["billingCode"] == "97110" and said["resource"] == "ServiceRequest/1357"
    assert said["coverage-assertion-id"] == body["systemActions"][0]["resource"]["extension"][0]["extension"][-1]["valueString"]


@pytest.mark.parametrize("coding, covered, modifiers, rule", [
    ({"system": "http://nucc.org/provider-taxonomy", "code": "225200000X"}, "covered", "GN/GO/GP + CQ",
     "medicare.modifiers.assistant_required"),
    ({"system": "http://nucc.org/provider-taxonomy", "code": "225100000X"}, "covered", "GN/GO/GP", None),
    ({"system": "urn:supportable:provider-type", "code": "chiropractor"}, "not-covered", None,
     "base.eligibility.provider_not_eligible"),
])
def test_the_ordered_performer_type(server, coding, covered, modifiers, rule):
    request = fixture("order-sign-medicare-97110")
    request["context"]["draftOrders"]["entry"][0]["resource"]["performerType"] = {"coding": [coding]}
    status, _, body = call(server, "POST", "/cds-services/coverage-order-sign", request)
    assert status == 200, body
    [m] = check_response(body, "ServiceRequest")
    assert m["covered"][0]["valueCode"] == covered
    if modifiers:
        assert f"modifier {modifiers};" in body["cards"][0]["summary"] or body["cards"][0]["summary"].endswith(
            f"modifier {modifiers}")
    if rule:
        assert rule in rule_ids(m)
    else:
        assert "medicare.modifiers.assistant_required" not in rule_ids(m)


def test_an_unknown_provider_type_is_400(server):
    request = fixture("order-sign-medicare-97110")
    request["context"]["draftOrders"]["entry"][0]["resource"]["performerType"] = {
        "coding": [{"system": "urn:supportable:provider-type", "code": "wizard"}]}
    status, _, body = call(server, "POST", "/cds-services/coverage-order-sign", request)
    assert status == 400 and body["problems"][0]["path"] == "context.draftOrders.entry[0].resource.performerType"


def test_an_appointment_booked_for_an_order_reads_the_orders_codes_and_performer(server):
    request = fixture("appointment-book-medicare-97530")
    appointment = request["context"]["appointments"]["entry"][0]["resource"]
    del appointment["serviceType"]
    appointment["basedOn"] = [{"reference": "ServiceRequest/1357"}]
    order = fixture("order-sign-medicare-97110")["context"]["draftOrders"]["entry"][0]["resource"]
    order["performerType"] = {"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": "225200000X"}]}
    request["prefetch"]["serviceRequests"] = {"resourceType": "Bundle", "type": "searchset",
                                              "entry": [{"resource": order}]}
    status, _, body = call(server, "POST", "/cds-services/coverage-appointment-book", request)
    assert status == 200, body
    [m] = check_response(body, "Appointment")
    assert m["billingCode"][0]["valueCoding"]["code"] == "97110"
    assert "medicare.modifiers.assistant_required" in rule_ids(m)
    assert body["systemActions"][0]["resource"]["basedOn"] == [{"reference": "ServiceRequest/1357"}]
