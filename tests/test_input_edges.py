"""Encounter inputs at the edges (issue 11, item 7): dates that are not `YYYY-MM-DD` strings, control
and bidirectional characters in ids and codes, a BOM and non-UTF-8 bytes in the CLI, and request ids."""
import copy
import json

import pytest
from click.testing import CliRunner

from conftest import ROOT, make_encounter
from supportable.engine.errors import InputError
from supportable.server.app import create_app
from supportable.cli import main as cli_main
from supportable.server.registry import Registry
from supportable.server.settings import Settings
from supportable.server import wire

DATE_FIELDS = [("date_of_service",), ("plan_of_care", "certified_on"), ("plan_of_care", "start_of_care"),
               ("plan_of_care", "recertified_on"), ("plan_of_care", "last_progress_report_on"),
               ("patient", "history", 0, "date")]


def _encounter() -> dict:
    data = make_encounter([("97110", 15, 1)])
    data["patient"]["history"] = [{"date": "2025-05-26", "codes": ["97110"]}]
    return data


def _set(data: dict, path: tuple, value) -> dict:
    data = copy.deepcopy(data)
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return data


def _dotted(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + part
    return out


def _problems(policy, data) -> list[dict]:
    with pytest.raises(InputError) as caught:
        policy.parse(data)
    return wire.problem_items(caught.value.problems)


def test_the_clean_encounter_parses(base_policy):
    assert base_policy.parse(_encounter()).date_of_service.isoformat() == "2025-06-02"


@pytest.mark.parametrize("path", DATE_FIELDS, ids=_dotted)
@pytest.mark.parametrize("value", [0, 20250602, 1.7e9, True, ["2025-06-02"], {"y": 2025}, "2025-06-02T00:00:00",
                                   "20250602", "0", "2025-6-2"], ids=repr)
def test_a_date_is_a_yyyy_mm_dd_string(base_policy, path, value):
    problems = _problems(base_policy, _set(_encounter(), path, value))
    assert [p["path"] for p in problems] == [_dotted(path)], problems
    assert "YYYY-MM-DD" in problems[0]["message"]
    assert not problems[0]["message"].startswith("value error")


def test_an_impossible_date_is_still_refused(base_policy):
    problems = _problems(base_policy, _set(_encounter(), ("date_of_service",), "2025-02-30"))
    assert [p["path"] for p in problems] == ["date_of_service"]


STRING_FIELDS = [("id",), ("patient", "id"), ("lines", 0, "id"), ("lines", 0, "code"), ("provider", "type"),
                 ("provider", "npi"), ("diagnoses", 0), ("lines", 0, "modifiers", 0), ("lines", 0, "time_block"),
                 ("payer",)]
CONTROLS = ["\x00", "\x01", "\t", "\n", "\x1b", "\x7f", "\x85", "\u061c", "\u200e", "\u200f", "\u202a", "\u202e",
            "\u2066", "\u2069"]


@pytest.mark.parametrize("path", STRING_FIELDS, ids=_dotted)
@pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_control_and_bidi_characters_are_refused_with_their_path(base_policy, path, char):
    data = _encounter()
    value = data
    for part in path:
        value = value[part] if not (isinstance(value, dict) and part not in value) else "x"
    value = value if isinstance(value, str) else "x"
    problems = _problems(base_policy, _set(data, path, value[:1] + char + value[1:]))
    assert problems == [{"path": _dotted(path), "code": "control_character", "level": "error",
                         "message": f"contains the control character U+{ord(char):04X} at position 1; ids and "
                                    "codes are printable text"}]


def test_every_bad_string_is_reported_at_once(base_policy):
    data = _set(_set(_encounter(), ("id",), "a\x00b"), ("lines", 0, "code"), "97110\u202e")
    data = _set(data, ("date_of_service",), 0)
    problems = {p["path"]: p["code"] for p in _problems(base_policy, data)}
    assert problems == {"id": "control_character", "lines[0].code": "control_character",
                        "date_of_service": "invalid_value"}


def test_ordinary_unicode_text_is_accepted(base_policy):
    data = _set(_encounter(), ("id",), "visite-é-ü-日本")
    assert base_policy.parse(data).id == "visite-é-ü-日本"


# -- through HTTP (the app's test client) ---------------------------------------------------------

@pytest.fixture(scope="module")
def client(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("edges")
    settings = Settings.from_env({}, tune_gc=False, reload_interval=0, decision_log=tmp / "d.jsonl")
    app = create_app(settings, Registry.load(settings.policies, None, None))
    return app.test_client()


@pytest.mark.parametrize("change,path,code", [
    ({"date_of_service": 0}, "date_of_service", "invalid_value"),
    ({"id": "enc\x00"}, "id", "control_character"),
    ({"patient": {"id": "p\u202e1"}}, "patient.id", "control_character"),
])
def test_http_answers_a_field_path_problem(client, change, path, code):
    data = _encounter()
    for key, value in change.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) else value
    response = client.post("/v1/check", json=data)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == "/problems/invalid-encounter"
    assert [(p["path"], p["code"]) for p in body["problems"]] == [(path, code)]


@pytest.mark.parametrize("where", ["encounter", "line"])
@pytest.mark.parametrize("element", [{"x": 1}, ["x"], 1, None])
def test_a_documentation_element_that_is_not_text_is_a_field_problem(client, where, element):
    # found by fuzzing: an object or a list as an element once failed with a 500 (unhashable)
    data = _encounter()
    target = data if where == "encounter" else data["lines"][0]
    target["documentation"] = [element]
    response = client.post("/v1/check", json=data)
    assert response.status_code == 422
    path = "documentation[0]" if where == "encounter" else "lines[0].documentation[0]"
    assert [p["path"] for p in response.get_json()["problems"]] == [path]


def test_http_replaces_a_request_id_with_control_characters(client):
    response = client.get("/healthz", headers={"X-Request-ID": "abc\u202edef"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] != "abc\u202edef" and len(response.headers["X-Request-ID"]) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "req-42"}).headers["X-Request-ID"] == "req-42"


# -- the CLI reads what HTTP reads ----------------------------------------------------------------

def test_cli_accepts_a_bom_as_http_does(tmp_path, client):
    raw = json.dumps(_encounter()).encode()
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + raw)
    result = CliRunner().invoke(cli_main, ["check", str(tmp_path / "bom.json"), "--format", "json",
                                           "--policies", str(ROOT / "policies")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["encounter"] == "enc-test"
    over_http = client.post("/v1/check", data=b"\xef\xbb\xbf" + raw, content_type="application/json")
    assert over_http.status_code == 200


def test_cli_refuses_non_utf8_bytes_without_a_traceback(tmp_path):
    (tmp_path / "latin1.json").write_bytes(json.dumps(_encounter()).encode().replace(b"enc-test", b"enc-t\xe9st"))
    result = CliRunner().invoke(cli_main, ["check", str(tmp_path / "latin1.json"), "--format", "json",
                                           "--policies", str(ROOT / "policies")])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    body = json.loads(result.output)
    assert body["error"] == "not_utf8" and "not UTF-8" in body["message"] and "0xE9" in body["message"]
    assert "latin1.json:1:" in body["message"]      # located: file, line and column of the byte
