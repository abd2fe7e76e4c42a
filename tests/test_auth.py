"""Who may call /v1 (issue 11, item 9): API keys, when they are required, the open paths, the 401
problem, the principal in the request log, and patient data kept out of the logs."""
import json
import logging

import pytest

from conftest import make_encounter
from supportable.server.app import create_app
from supportable.server.auth import ApiKeyAuthenticator, AuthError, Gate, Principal, is_loopback, keys_required, read_keys
from supportable.server.registry import Registry
from supportable.server.settings import Settings

KEY, OTHER = "k-3f9a1c0d7e2b4a68", "k-second-key-5501"


@pytest.fixture(scope="module")
def registry():
    return Registry.load(Settings.from_env({}).policies, None, None)


def make_client(tmp_path, registry, **settings):
    settings = Settings.from_env({}, tune_gc=False, reload_interval=0, decision_log=tmp_path / "d.jsonl", **settings)
    return create_app(settings, registry).test_client()


@pytest.fixture
def client(tmp_path, registry):
    return make_client(tmp_path, registry, auth="required", api_keys=f"{KEY}, {OTHER}")


# -- when keys are required -----------------------------------------------------------------------

@pytest.mark.parametrize("host,auth,required", [
    ("127.0.0.1", "auto", False), ("::1", "auto", False), ("localhost", "auto", False), ("127.0.0.2", "auto", False),
    ("0.0.0.0", "auto", True), ("::", "auto", True), ("10.1.2.3", "auto", True), ("api.example.org", "auto", True),
    ("127.0.0.1", "required", True), ("0.0.0.0", "off", False)])
def test_keys_are_required_off_loopback_unless_said_otherwise(host, auth, required):
    assert keys_required(Settings.from_env({}, host=host, auth=auth)) is required
    assert is_loopback(host) is (host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"))


def test_required_without_keys_refuses_to_start(tmp_path, registry):
    with pytest.raises(AuthError, match="SUPPORTABLE_API_KEYS"):
        Gate.from_settings(Settings.from_env({"SUPPORTABLE_HOST": "0.0.0.0"}))
    with pytest.raises(AuthError, match="SUPPORTABLE_AUTH=required"):
        make_client(tmp_path, registry, auth="required")
    assert Gate.from_settings(Settings.from_env({"SUPPORTABLE_HOST": "0.0.0.0", "SUPPORTABLE_AUTH": "off"})).required \
        is False


def test_keys_come_from_the_variable_and_the_file(tmp_path):
    keys_file = tmp_path / "keys"
    keys_file.write_text(f"# one key a line\n\n  {OTHER}  \n")
    settings = Settings.from_env({"SUPPORTABLE_API_KEYS": f" {KEY} ,, ", "SUPPORTABLE_API_KEYS_FILE": str(keys_file)})
    assert read_keys(settings) == [KEY, OTHER]


def test_the_authenticator_keeps_digests_only():
    authenticator = ApiKeyAuthenticator([KEY])
    assert KEY not in repr(vars(authenticator)) and len(authenticator) == 1


# -- the gate on /v1 ------------------------------------------------------------------------------

def test_v1_without_a_key_is_a_401_problem_with_a_challenge(client):
    response = client.post("/v1/check", json=make_encounter([("97110", 15, 1)]))
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="supportable"'
    body = response.get_json()
    assert body["type"] == "/problems/unauthorized" and "X-API-Key" in body["detail"]
    assert body["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize("headers", [{"Authorization": "Bearer nope"}, {"X-API-Key": "nope"},
                                     {"Authorization": f"Basic {KEY}"}, {"Authorization": f"Bearer {KEY}x"},
                                     {"Authorization": "Bearer "}])
def test_a_wrong_key_is_refused(client, headers):
    assert client.get("/v1/payers", headers=headers).status_code == 401


@pytest.mark.parametrize("headers", [{"Authorization": f"Bearer {KEY}"}, {"authorization": f"bearer {OTHER}"},
                                     {"X-API-Key": KEY}])
def test_a_known_key_is_let_in(client, headers):
    assert client.get("/v1/payers", headers=headers).status_code == 200
    assert client.post("/v1/check", json=make_encounter([("97110", 15, 1)]), headers=headers).status_code == 200


def test_unknown_v1_paths_do_not_tell_what_exists_without_a_key(client):
    assert client.get("/v1/no-such-thing").status_code == 401
    assert client.get("/v1/no-such-thing", headers={"X-API-Key": KEY}).status_code == 404


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"])
def test_probes_metrics_and_the_api_description_stay_open(client, path):
    assert client.get(path).status_code == 200


def test_on_loopback_by_default_no_key_is_needed(tmp_path, registry):
    client = make_client(tmp_path, registry)
    assert client.post("/v1/check", json=make_encounter([("97110", 15, 1)])).status_code == 200


def test_the_gate_takes_any_authenticator():
    class Header:                     # what a session login or a CDS Hooks JWT verifier would plug in as
        scheme = "Session"

        def authenticate(self, request):
            return Principal("user:ana", "session") if request.headers.get("X-Session") == "ok" else None

    class Request:
        def __init__(self, headers):
            self.headers = headers

    gate = Gate(True, [ApiKeyAuthenticator([KEY]), Header()])
    assert gate.identify(Request({"X-Session": "ok"})) == Principal("user:ana", "session")
    assert gate.identify(Request({"X-API-Key": KEY})).kind == "api_key"
    assert gate.identify(Request({})) is None
    assert gate.challenge() == 'Bearer realm="supportable", Session realm="supportable"'
    assert gate.protects("/v1/check") and gate.protects("/v1") and not gate.protects("/v10") \
        and not gate.protects("/healthz")


# -- what the logs hold ---------------------------------------------------------------------------

def test_the_request_log_names_the_principal_never_the_key(client, caplog):
    caplog.set_level(logging.INFO, logger="supportable.request")
    client.post("/v1/check?payer=base", json=make_encounter([("97110", 15, 1)]), headers={"X-API-Key": KEY})
    entries = [json.loads(r.getMessage()) for r in caplog.records if r.name == "supportable.request"]
    assert entries and entries[-1]["principal"].startswith("key:") and entries[-1]["status"] == 200
    text = caplog.text
    assert KEY not in text and "pt-1" not in text and "M54.50" not in text and "payer=base" not in text


def test_the_decision_log_holds_no_patient_data_by_default(tmp_path, registry):
    client = make_client(tmp_path, registry)
    encounter = make_encounter([("97110", 15, 1)], patient={"id": "patient-7781", "history": []},
                               diagnoses=["M54.50"])
    assert client.post("/v1/check", json=encounter).status_code == 200
    text = (tmp_path / "d.jsonl").read_text()
    entry = json.loads(text)
    assert "patient-7781" not in text and "M54.50" not in text and "input" not in entry
    assert entry["encounter"] == "enc-test" and entry["input_hash"].startswith("sha256:")


def test_log_inputs_opts_in_to_whole_inputs(tmp_path, registry):
    client = make_client(tmp_path, registry, log_inputs=True)
    encounter = make_encounter([("97110", 15, 1)], patient={"id": "patient-7781", "history": []})
    assert client.post("/v1/check", json=encounter).status_code == 200
    entry = json.loads((tmp_path / "d.jsonl").read_text())
    assert entry["input"] == encounter
    assert Settings.from_env({"SUPPORTABLE_LOG_INPUTS": "1"}).log_inputs is True


def test_the_openapi_document_describes_the_keys(client):
    spec = client.get("/openapi.json").get_json()
    assert set(spec["components"]["securitySchemes"]) == {"bearerKey", "headerKey"}
    check = spec["paths"]["/v1/check"]["post"]
    assert {"bearerKey": []} in check["security"] and "401" in check["responses"]
    assert "security" not in spec["paths"]["/healthz"]["get"]
