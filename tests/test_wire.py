"""Wire types apart from engine types: the engine renders nothing to JSON itself, and every response
the server and the command line send validates against the model declared for it (extra members
forbidden), so the OpenAPI document describes exactly what is sent."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import TypeAdapter

from conftest import make_encounter
from supportable.cli import main
from supportable.server import api_models as m
from supportable.server import wire
from supportable.server.app import create_app
from supportable.server.registry import Registry
from supportable.server.settings import Settings
from supportable.server.wire import tools

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "encounters"


def test_no_engine_object_renders_itself():
    found = [f"{path.relative_to(ROOT)}:{number}" for path in sorted((ROOT / "engine").rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if re.search(r"def (to_dict|as_dict)\b", line)]
    assert found == []


@pytest.fixture(scope="module")
def client():
    settings = Settings.from_env({}, tune_gc=False, reload_interval=0, decision_log="", snapshot="")
    return create_app(settings, Registry.load(settings.policies)).test_client()


def _declared(spec: dict, path: str, method: str, status: int):
    """The model the OpenAPI document declares for this answer (by its schema's name)."""
    responses = spec["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} answers {status}, which it does not declare"
    content = responses[str(status)]["content"]
    media = next(iter(content.values()))
    name = media["schema"]["$ref"].rsplit("/", 1)[1]
    return getattr(m, name)


BODY = make_encounter([{"code": "97110", "minutes": 38, "units": 3}, {"code": "97112", "minutes": 15, "units": 1}])
CASES = [  # (method, path as declared, URL, body, expected status)
    ("post", "/v1/check", "/v1/check?explain=full", BODY, 200),
    ("post", "/v1/check", "/v1/check?explain=summary&payer=aetna", BODY, 200),
    ("post", "/v1/check", "/v1/check?explain=none", BODY, 200),
    ("post", "/v1/check", "/v1/check?payer=nobody", BODY, 422),
    ("post", "/v1/check", "/v1/check?explain=lots", BODY, 422),
    ("post", "/v1/check", "/v1/check", {"lines": "no"}, 422),
    ("post", "/v1/check", "/v1/check", b"{not json", 400),
    ("post", "/v1/check", "/v1/check", "text", 415),
    ("post", "/v1/check/batch", "/v1/check/batch?explain=full", [BODY, {"lines": []}], 200),
    ("post", "/v1/check/batch", "/v1/check/batch?payer=nobody", [BODY], 422),
    ("get", "/v1/payers", "/v1/payers", None, 200),
    ("get", "/v1/payers/{payer}", "/v1/payers/aetna", None, 200),
    ("get", "/v1/payers/{payer}", "/v1/payers/medicare", None, 200),
    ("get", "/v1/payers/{payer}", "/v1/payers/nobody", None, 404),
    ("get", "/v1/payers/{payer}/codes/{code}", "/v1/payers/aetna/codes/97112", None, 200),
    ("get", "/v1/payers/{payer}/codes/{code}", "/v1/payers/commercial/codes/97140", None, 200),
    ("get", "/v1/payers/{payer}/codes/{code}", "/v1/payers/base/codes/99999", None, 404),
    ("get", "/v1/vocabulary", "/v1/vocabulary", None, 200),
    ("get", "/v1/decisions/{decision_id}", "/v1/decisions/0123abcd", None, 404),   # this client keeps no log
    ("get", "/healthz", "/healthz", None, 200),
    ("get", "/readyz", "/readyz", None, 200),
    ("post", "/admin/reload", "/admin/reload", None, 404),
]


@pytest.mark.parametrize("method, path, url, body, status", CASES, ids=[f"{c[0]} {c[2]} {c[4]}" for c in CASES])
def test_every_answer_validates_against_the_model_declared_for_it(client, method, path, url, body, status):
    spec = client.get("/openapi.json").get_json()
    if isinstance(body, bytes):
        answer = client.post(url, data=body, content_type="application/json")
    elif isinstance(body, str):
        answer = client.post(url, data=body, content_type="text/plain")
    else:
        answer = getattr(client, method)(url, json=body) if body is not None else getattr(client, method)(url)
    assert answer.status_code == status, answer.get_data(as_text=True)[:500]
    model = _declared(spec, path, method, status)
    TypeAdapter(model).validate_python(json.loads(answer.get_data()))


def test_every_payer_and_code_answer_validates(client):
    """Every payer's description, and what it requires for every code, against the declared models."""
    payers = [p["id"] for p in client.get("/v1/payers").get_json()["payers"]]
    codes = [c["id"] if "id" in c else c["code"] for c in client.get("/v1/vocabulary").get_json()["codes"]]
    for payer in payers:
        m.PayerDetail.model_validate(client.get(f"/v1/payers/{payer}").get_json())
        for code in codes[::4]:
            m.validate(m.CodeRequirements, client.get(f"/v1/payers/{payer}/codes/{code}").get_json())


def test_a_stray_member_fails_validation():
    sent = {"kind": "fact", "statement": "x(1)", "origin": "encounter"}
    TypeAdapter(wire.ProofNode).validate_python(sent)
    with pytest.raises(Exception):
        TypeAdapter(wire.ProofNode).validate_python({**sent, "premises": [{**sent, "stack": "..."}]})


@pytest.mark.parametrize("args, model", [
    (["check", str(EXAMPLES / "mixed_visit.json"), "--explain"], wire.DecisionBody),
    (["check", str(EXAMPLES / "mixed_visit.json")], wire.DecisionBody),
    (["explain-code", "97140", "--payer", "commercial"], wire.CodeRequirements),
    (["diff", "commercial", "aetna"], wire.PolicyDiff),
    (["diff", "base", "medicare"], wire.PolicyDiff),
    (["lint"], tools.LintReport),
    (["test", str(ROOT / "policies" / "tests"), "--coverage"], tools.PolicyTestRun),
])
def test_the_command_lines_json_validates_against_the_wire_types(args, model):
    result = CliRunner().invoke(main, [*args, "--format", "json"])
    TypeAdapter(model).validate_python(json.loads(result.output))


def test_payers_json_rows_are_payer_descriptions():
    rows = json.loads(CliRunner().invoke(main, ["payers", "--format", "json"]).output)["payers"]
    for row in rows:
        TypeAdapter(wire.PayerNotLoaded if "error" in row else wire.PayerDescription).validate_python(row)


def test_the_text_of_a_decision_reads_a_validated_document():
    from supportable.engine import load_policy_set
    policy = load_policy_set(ROOT / "policies", "aetna")
    for path in sorted(EXAMPLES.glob("*.json"))[:6]:
        document = json.loads(path.read_text())
        for explain in ("summary", "full"):
            view = wire.decision_text(policy.decide(policy.parse(document), explain))
            TypeAdapter(wire.DecisionText).validate_python(view)
