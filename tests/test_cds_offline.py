"""The CDS Hooks coverage service without a server: the shape checkers against the CRD
specification's own example, start-up settings, the documented examples, the OpenAPI document and
the command line (tests/test_cds_hooks.py has the service through gunicorn)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_shapes import check_coverage_information, check_response, rule_ids

DATA = Path(__file__).resolve().parent / "data" / "cds"


def fixture(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def test_the_checker_accepts_the_crd_specifications_own_response_example():
    example = fixture("CRDServiceResponse")
    extension = example["systemActions"][0]["resource"]["extension"][0]
    m = check_coverage_information(extension)
    assert m["covered"][0]["valueCode"] == "covered"
    ServiceRequest.model_validate(example["systemActions"][0]["resource"])
    broken = copy.deepcopy(extension)
    broken["extension"] = [x for x in broken["extension"] if x["url"] != "satisfied-pa-id"]
    with pytest.raises(AssertionError):
        check_coverage_information(broken)      # q5: satisfied without its id


def test_every_route_is_in_the_openapi_document():
    from supportable.server.app import create_app
    from supportable.server.settings import Settings
    app = create_app(Settings.from_env({}, tune_gc=False, reload_interval=0, decision_log="", snapshot=""))
    spec = app.test_client().get("/openapi.json").get_json()
    routes = {r.rule.replace("<", "{").replace(">", "}").replace("{path:", "{").replace("{service_id}", "{id}")
              for r in app.url_map.iter_rules() if not r.rule.startswith(("/static", "/docs", "/openapi.json"))
              and not r.endpoint.startswith("web.")}      # the web pages are HTML for people, not API (docs/web.md)
    assert routes - set(spec["paths"]) == set()
    assert spec["paths"]["/cds-services/{id}"]["post"]["responses"]["200"]["content"]["application/json"]["schema"] \
        == {"$ref": "#/components/schemas/CdsResponse"}


# -- start-up settings ---------------------------------------------------------------------------------

def _app(tmp_path, **settings):
    from supportable.server.app import create_app
    from supportable.server.settings import Settings
    return create_app(Settings.from_env({}, tune_gc=False, reload_interval=0, decision_log="", snapshot="",
                                        **settings))


def test_without_issuers_loopback_serves_openly_and_elsewhere_refuses_to_start(tmp_path):
    from supportable.server.auth import AuthError
    client = _app(tmp_path).test_client()
    assert client.post("/cds-services/coverage-order-sign", json=fixture("order-sign-medicare-97110")).status_code == 200
    with pytest.raises(AuthError, match="SUPPORTABLE_CDS_ISSUERS"):
        _app(tmp_path, host="0.0.0.0", auth="off")
    with pytest.raises(AuthError, match="CDS_AUTH=required"):
        _app(tmp_path, cds_auth="required")
    client = _app(tmp_path, host="0.0.0.0", auth="off", cds_auth="off").test_client()
    assert client.get("/cds-services").status_code == 200


def test_a_broken_issuers_file_stops_start_up(tmp_path):
    from supportable.server.auth import AuthError
    (tmp_path / "issuers.json").write_text('{"issuers": [{"iss": "https://x.example"}]}')
    with pytest.raises(AuthError, match="jwks_file"):
        _app(tmp_path, cds_issuers=tmp_path / "issuers.json")


def test_the_documented_examples_are_answered(tmp_path):
    examples = Path(__file__).resolve().parent.parent / "examples" / "cds-hooks"
    client = _app(tmp_path).test_client()
    script = (examples / "calls.sh").read_text()
    names = sorted(p.stem for p in examples.glob("*.json"))
    assert len(names) == 4
    for name in names:
        assert f"{name}" in script
        body = json.loads((examples / f"{name}.json").read_text())
        service = "coverage-appointment-book" if body["hook"] == "appointment-book" else "coverage-order-sign"
        answer = client.post(f"/cds-services/{service}", json=body)
        assert answer.status_code == 200, answer.get_json()
        check_response(answer.get_json(), "Appointment" if "appointment" in name else "ServiceRequest")
        assert body == fixture(name)          # the examples are the tested fixtures


# -- the command line ------------------------------------------------------------------------------

def test_the_command_line_answers_as_the_service_does():
    from click.testing import CliRunner
    from supportable.cli import main
    run = CliRunner().invoke(main, ["cds", str(DATA / "order-sign-aetna-97110-maintenance.json"), "--today",
                                    "2026-01-05"])
    assert run.exit_code == 0, run.output
    body = json.loads(run.output)
    [m] = check_response(body, "ServiceRequest")
    assert m["covered"][0]["valueCode"] == "not-covered" and rule_ids(m)[0] == "aetna.necessity.plateau"
    assert m["date"][0]["valueDate"] == "2026-01-05"
    run = CliRunner().invoke(main, ["cds", str(DATA / "CRDServiceRequest4.json")])
    assert run.exit_code == 1
    problem = json.loads(run.output)
    assert problem["type"] == "/problems/precondition-failed" and problem["problems"][0]["path"] == "prefetch.coverage"
    request = fixture("order-sign-medicare-97110")
    del request["context"]["draftOrders"]["entry"][0]["resource"]["subject"]
    run = CliRunner().invoke(main, ["cds", "-"], input=json.dumps(request))
    assert run.exit_code == 1
    assert json.loads(run.output)["problems"][0]["path"] == "context.draftOrders.entry[0].resource.subject"


def test_the_crd_specifications_other_examples_fit_the_published_shapes():
    from supportable.server import api_models as m
    minimal = fixture("CRDServiceResponse3")["systemActions"][0]["resource"]["extension"][0]
    assert check_coverage_information(minimal)["pa-needed"][0]["valueCode"] == "no-auth"
    discovery = fixture("CRDServices")
    services = [{k: v for k, v in s.items() if k != "extension"} for s in discovery["services"]]
    m.validate(m.CdsDiscovery, {"services": services})       # CRD's own discovery, its extensions aside
    with pytest.raises(Exception):
        m.validate(m.CdsDiscovery, {"services": [{**services[0], "hook": 5}]})
