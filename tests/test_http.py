"""The HTTP service (server/app.py): decisions, errors as RFC 7807 problems, batches, discovery
endpoints, published schemas, metrics, decision and request logs, concurrency, and the real
gunicorn server.

The policies are loaded once per module (``app``); apps that need their own settings, metrics or
decision log share that registry, so each costs no reload. Every request made through the test
clients is checked for the two things no response may ever do: answer 500, or show a traceback.
"""
from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import typing
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder, run_wsgi_app
from prometheus_client.parser import text_string_to_metric_families

from conftest import EXAMPLES, ROOT, make_encounter
from supportable.engine.encounter import Encounter
from supportable.engine.requirements import explain_code
from supportable.server import api_models as m
from supportable.server.app import create_app
from supportable.cli import main as cli_main
from supportable.server.settings import Settings
from supportable.server import wire

PROBLEM_JSON = "application/problem+json"
NDJSON = "application/x-ndjson"
PAYERS = ["aetna", "aetna_medicare", "base", "commercial", "medicare"]
VOLATILE = ("decision_id", "decided_at")


# -- clients and apps -----------------------------------------------------------------------------

class CheckedClient(FlaskClient):
    """A test client that fails the test on any 500 or any traceback in a response body."""

    def open(self, *args, **kwargs):
        try:
            response = super().open(*args, **kwargs)
        except Exception as exc:  # e.g. an exception escaping a streamed body
            pytest.fail(f"the request raised instead of answering: {type(exc).__name__}: {exc}")
        text = response.get_data(as_text=True)
        assert "Traceback" not in text, text[:2000]
        assert response.status_code != 500, text[:2000]
        return response


def build_app(tmp: Path, registry=None, **settings):
    settings.setdefault("decision_log", tmp / "decisions.jsonl")
    app = create_app(Settings.from_env({}, tune_gc=False, **settings), registry)
    app.test_client_class = CheckedClient
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return build_app(tmp_path_factory.mktemp("http"))


@pytest.fixture(scope="module")
def registry(app):
    return app.extensions["supportable"].registry


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def fresh_app(tmp_path, registry):
    """An app of its own (its own metrics and decision log) over the already loaded policies."""
    return build_app(tmp_path, registry)


@pytest.fixture(scope="module")
def small_app(tmp_path_factory, registry):
    return build_app(tmp_path_factory.mktemp("small"), registry, max_body_bytes=400, max_batch_bytes=4000,
                     max_batch_items=2)


BROKEN = """id: broken
name: A payer whose overlay does not load
extends: base
add:
  - id: broken.rule
    because: x
    source: f.md
    rule: deny(L) :- nonsense_predicate(L, X
"""


@pytest.fixture(scope="module")
def broken_app(tmp_path_factory):
    """Real payers plus `broken`, whose overlay does not parse, and `child`, which extends it."""
    tmp = tmp_path_factory.mktemp("broken")
    payers = tmp / "payers"
    shutil.copytree(ROOT / "payers", payers)
    (payers / "broken.yaml").write_text(BROKEN, encoding="utf-8")
    (payers / "child.yaml").write_text("id: child\nname: Child\nextends: broken\n", encoding="utf-8")
    return build_app(tmp, payers=payers)


# -- helpers --------------------------------------------------------------------------------------

def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def stable(body: dict) -> dict:
    """A decision without what differs from call to call."""
    return {k: v for k, v in body.items() if k not in VOLATILE}


def decision(response, status=200) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "application/json"
    body = response.get_json()
    m.validate(m.Decision, body)
    return body


def problem_of(response, status: int, kind: str | None = None) -> dict:
    """The problem document of an error response, checked against the published Problem schema."""
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.mimetype == PROBLEM_JSON
    body = json.loads(response.get_data(as_text=True))
    m.Problem.model_validate(body)
    assert body["status"] == status
    assert body["type"].startswith("/problems/") and body["title"] and body["detail"]
    if kind is not None:
        assert body["type"] == f"/problems/{kind}"
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def paths(body: dict) -> set[tuple[str, str]]:
    return {(p["path"], p["code"]) for p in body["problems"]}


def units(body: dict) -> list[int]:
    return [line["units"]["supportable"] for line in body["lines"]]


def verdicts(body: dict) -> list[str]:
    return [line["verdict"] for line in body["lines"]]


def cli_check(path: Path, *args: str) -> dict:
    result = CliRunner(env={"SUPPORTABLE_POLICIES": None, "SUPPORTABLE_PAYERS": None}).invoke(
        cli_main, ["check", str(path), "--format", "json", "--policies", str(ROOT / "policies"), *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def input_hash_of(document) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def metric_samples(text: str) -> dict[str, list]:
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, []).append(s)
    return samples


# -- 1. POST /v1/check ----------------------------------------------------------------------------

def test_check_uses_the_documents_payer_and_the_query_overrides_it(client):
    doc = example("medicare_8_minute_rule")
    medicare = decision(client.post("/v1/check", json=doc))
    assert medicare["payer"] == "medicare" and medicare["encounter"] == "enc-medicare-0001"
    assert units(medicare) == [2, 1] and verdicts(medicare) == ["supportable", "supportable"]
    assert {line["units"]["method"] for line in medicare["lines"]} == {"total_time"}
    assert [line["units"]["billed"] for line in medicare["lines"]] == [2, 1]
    assert medicare["summary"] == {"supportable": 2, "needs_documentation": 0, "not_supportable": 0, "overbilled": 0}
    assert [line["overbilled"] for line in medicare["lines"]] == [False, False]

    commercial = decision(client.post("/v1/check?payer=commercial", json=doc))
    assert commercial["payer"] == "commercial"
    assert units(commercial) == [1, 1]
    assert {line["units"]["method"] for line in commercial["lines"]} == {"cpt_per_code"}
    # two units billed on 97116 where CPT supports one: the fix says so
    assert commercial["lines"][0]["fixes"] == [{"action": "reduce_units", "units": 1,
                                                "satisfies": commercial["lines"][0]["fixes"][0]["satisfies"]}]
    assert commercial["lines"][0]["overbilled"] is True and commercial["summary"]["overbilled"] == 1
    assert medicare["lines"][0]["fixes"] == []


def test_explain_levels(client):
    doc = example("medicare_8_minute_rule")
    none = decision(client.post("/v1/check?explain=none", json=doc))
    assert all("proof" not in line for line in none["lines"])
    summary = decision(client.post("/v1/check?explain=summary", json=doc))
    assert decision(client.post("/v1/check", json=doc))["lines"] == summary["lines"]  # summary is the default
    assert [line["proof"] for line in summary["lines"]] == [
        {"verdict": "supportable", "rules": ["base.units.line.only_line"]},
        {"verdict": "supportable", "rules": ["base.units.line.only_line"]}]
    # the levels differ in the proof only
    assert [{k: v for k, v in l.items() if k != "proof"} for l in summary["lines"]] == none["lines"]

    full = decision(client.post("/v1/check?explain=full", json=example("aetna_same_day")))
    assert full["payer"] == "aetna"
    kept, line = full["lines"]              # NMR and exercise, equal minutes: the line billed first is kept
    assert kept["verdict"] == "supportable" and set(kept["proof"]) == {"verdict", "derivations", "why_not_denied"}
    assert line["verdict"] == "not_supportable"
    assert [(r["id"], r["layer"]) for r in line["reasons"]] == [("aetna.same_day.not_together", "aetna")]
    assert line["reasons"][0]["location"].startswith("payers/aetna.yaml:")
    proof = line["proof"]
    assert set(proof) == {"verdict", "derivations", "why_not_denied"}
    rule = proof["derivations"][0]["rule"]
    assert (rule["id"], rule["layer"]) == ("aetna.same_day.not_together", "aetna")


@pytest.mark.parametrize("name, cli_args, query", [
    ("medicare_8_minute_rule", [], ""),
    ("medicare_8_minute_rule", ["--payer", "commercial"], "?payer=commercial"),
    ("aetna_same_day", [], ""),
    ("group_billed_as_97110", [], "?explain=summary"),
    ("mixed_visit", ["--explain"], "?explain=full"),
])
def test_check_answers_what_the_cli_answers(client, name, cli_args, query):
    http = decision(client.post(f"/v1/check{query}", json=example(name)))
    assert stable(http) == cli_check(EXAMPLES / f"{name}.json", *cli_args)


# -- 2. what every response carries ---------------------------------------------------------------

def test_every_decision_names_payer_version_and_a_unique_id(client):
    versions = {p["id"]: p["policy_version"] for p in client.get("/v1/payers").get_json()["payers"]}
    doc = make_encounter([("97110", 15, 1)], date_of_service="2025-06-02")
    ids = set()
    for payer in PAYERS:
        for _ in range(2):
            body = decision(client.post(f"/v1/check?payer={payer}", json=doc))
            assert body["payer"] == payer
            assert body["policy_version"] == versions[payer]
            assert body["policy_version"] == client.get(f"/v1/payers/{payer}").get_json()["policy_version"]
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", body["decided_at"])
            ids.add(body["decision_id"])
    assert len(ids) == 2 * len(PAYERS)
    assert len(set(versions.values())) == len(PAYERS)


def test_request_id_is_echoed_or_made(client):
    given = client.post("/v1/check", json=example("aetna_same_day"), headers={"X-Request-ID": "req-42.a:b"})
    assert given.headers["X-Request-ID"] == "req-42.a:b"
    made = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    assert made.headers["X-Request-ID"] != client.get("/healthz").headers["X-Request-ID"]
    # an unusable id (spaces, too long) is replaced, never reflected
    for bad in ("has spaces", "x" * 200, "<script>"):
        rid = client.get("/v1/payers", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", rid)
    # errors carry it too, in the header and the problem
    error = client.post("/v1/check?explain=nope", json={}, headers={"X-Request-ID": "err-1"})
    assert problem_of(error, 422)["request_id"] == "err-1"


# -- 3. errors ------------------------------------------------------------------------------------

def test_malformed_json_is_located(client):
    text = '{"id": "x",\n  "lines": [}'
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
    body = problem_of(client.post("/v1/check", data=text, content_type="application/json"), 400, "invalid-json")
    assert where == "line 2, column 13" and where in body["detail"]
    body = problem_of(client.post("/v1/check", data=b'{"id": "\xff"}', content_type="application/json"), 400,
                      "invalid-json")
    assert "UTF-8" in body["detail"]
    for raw in ("", "   ", '{"a": 1}{"b": 2}'):
        problem_of(client.post("/v1/check", data=raw, content_type="application/json"), 400, "invalid-json")


def test_wrong_or_missing_content_type_is_415(client):
    text = json.dumps(example("medicare_8_minute_rule"))
    for ctype, named in (("text/plain", "text/plain"), (NDJSON, NDJSON), (None, "no content type")):
        kwargs = {"content_type": ctype} if ctype else {}
        body = problem_of(client.post("/v1/check", data=text, **kwargs), 415, "unsupported-media-type")
        assert named in body["detail"]
    problem_of(client.post("/v1/check/batch", data="[]", content_type="text/plain"), 415, "unsupported-media-type")
    # +json types are JSON
    vendor = client.post("/v1/check", data=text, content_type="application/vnd.acme+json; charset=utf-8")
    assert units(decision(vendor)) == [2, 1]


def test_oversized_body_is_413_with_the_route_limit(small_app):
    client = small_app.test_client()
    doc = make_encounter([("97110", 15, 1)])
    assert len(json.dumps(doc)) > 400
    body = problem_of(client.post("/v1/check", json=doc), 413, "body-too-large")
    assert "400 bytes" in body["detail"]
    # the batch route has its own, larger limit: the same encounter is decided there
    batch = client.post("/v1/check/batch", json=[doc])
    assert batch.status_code == 200 and batch.get_json()["summary"]["decided"] == 1


def test_unknown_payer_in_the_query_or_the_document_is_422(client):
    doc = example("medicare_8_minute_rule")
    body = problem_of(client.post("/v1/check?payer=acme", json=doc), 422, "unknown-payer")
    assert paths(body) == {("payer", "unknown_payer")}
    assert "acme" in body["detail"] and "medicare" in body["detail"]
    body = problem_of(client.post("/v1/check", json={**doc, "payer": "acme"}), 422, "unknown-payer")
    assert paths(body) == {("payer", "unknown_payer")}
    body = problem_of(client.post("/v1/check", json={**doc, "payer": 5}), 422, "invalid-encounter")
    assert paths(body) == {("payer", "invalid_value")}


def test_a_payer_that_did_not_load_is_503_and_the_others_serve(broken_app):
    client = broken_app.test_client()
    doc = example("medicare_8_minute_rule")
    for request in (lambda: client.post("/v1/check?payer=broken", json=doc),
                    lambda: client.post("/v1/check", json={**doc, "payer": "broken"}),
                    lambda: client.post("/v1/check?payer=child", json=doc),
                    lambda: client.post("/v1/check/batch?payer=broken", json=[doc]),
                    lambda: client.get("/v1/payers/broken"),
                    lambda: client.get("/v1/payers/broken/codes/97110")):
        body = problem_of(request(), 503, "payer-unavailable")
        assert body["problems"] and all(p["level"] == "error" for p in body["problems"])
    body = problem_of(client.post("/v1/check?payer=broken", json=doc), 503)
    assert any(p.get("file", "").endswith("broken.yaml") and p.get("line") for p in body["problems"])
    # the others are unaffected
    assert units(decision(client.post("/v1/check", json=doc))) == [2, 1]

    ready = client.get("/readyz")
    assert ready.status_code == 200
    ready = m.Readiness.model_validate(ready.get_json())
    assert ready.status == "degraded"
    assert ready.payers["broken"]["loaded"] is False and ready.payers["broken"]["problems"] >= 1
    assert ready.payers["child"]["loaded"] is False
    assert all(ready.payers[p]["loaded"] for p in PAYERS)

    listed = m.PayerList.model_validate(client.get("/v1/payers").get_json())
    by_id = {p.id: p for p in listed.payers}
    assert sorted(by_id) == sorted(PAYERS + ["broken", "child"])
    assert by_id["broken"].loaded is False and by_id["broken"].problems
    assert by_id["broken"].policy_version is None
    assert all(by_id[p].loaded and not by_id[p].problems for p in PAYERS)


def test_invalid_encounter_lists_every_problem_with_its_path(client):
    body = problem_of(client.post("/v1/check", json=example("invalid/bad_fields")), 422, "invalid-encounter")
    assert paths(body) == {("date_of_service", "invalid_value"), ("lines[0].minutes", "invalid_value"),
                           ("lines[2].code", "missing_field"), ("lines[3].code", "missing_field"),
                           ("documentation[1]", "unknown_documentation"), ("lines[1].code", "unknown_code")}
    assert "6 problem" in body["detail"]
    doc = make_encounter([("97110", 15, 1), {"code": "97999", "minutes": 10, "units": 1},
                          {"minutes": 3, "units": 1, "modifiers": ["ZZ"]}], provider={"type": "wizard"})
    body = problem_of(client.post("/v1/check", json=doc), 422, "invalid-encounter")
    assert paths(body) == {("lines[1].code", "unknown_code"), ("lines[2].code", "missing_field"),
                           ("lines[2].modifiers[0]", "unknown_modifier"), ("provider.type", "unknown_provider_type")}


def test_invalid_explain_is_422(client):
    body = problem_of(client.post("/v1/check?explain=everything", json=example("aetna_same_day")), 422,
                      "invalid-parameter")
    assert paths(body) == {("explain", "invalid_value")}
    problem_of(client.post("/v1/check/batch?explain=x", json=[]), 422, "invalid-parameter")


def test_routes_methods_payers_and_codes_that_do_not_exist(client):
    problem_of(client.get("/v1/nothing"), 404, "not-found")
    problem_of(client.post("/v1/checks", json={}), 404, "not-found")
    wrong = problem_of(client.get("/v1/check"), 405, "method-not-allowed")
    assert "GET" in wrong["detail"]
    allow = client.get("/v1/check").headers["Allow"]
    assert "POST" in allow and "GET" not in allow
    assert "GET" in client.delete("/v1/payers").headers["Allow"]
    problem_of(client.delete("/v1/payers"), 405, "method-not-allowed")
    body = problem_of(client.get("/v1/payers/acme"), 404, "unknown-payer")
    assert "acme" in body["detail"] and "problems" not in body
    problem_of(client.get("/v1/payers/acme/codes/97110"), 404, "unknown-payer")
    body = problem_of(client.get("/v1/payers/medicare/codes/99999"), 404, "unknown-code")
    assert "99999" in body["detail"]
    problem_of(client.get("/docs/static/no-such-file.js"), 404, "not-found")
    problem_of(client.get("/docs/static/../../../../etc/passwd"), 404, "not-found")


@pytest.mark.parametrize("dos, status", [("2018-12-31", 422), ("2019-01-01", 200), ("2026-12-31", 200),
                                         ("2027-01-01", 422)])
def test_date_of_service_outside_the_payers_effective_range(client, dos, status):
    doc = {**example("medicare_8_minute_rule"), "date_of_service": dos}
    response = client.post("/v1/check", json=doc)
    if status == 200:
        assert decision(response)["date_of_service"] == dos
        return
    body = problem_of(response, 422, "invalid-encounter")
    assert paths(body) == {("date_of_service", "outside_effective_range")}
    assert "2019-01-01" in body["problems"][0]["message"] and "2027-01-01" in body["problems"][0]["message"]
    # base has no range: the same date is decided there
    assert decision(client.post("/v1/check?payer=base", json=doc))["payer"] == "base"


JUNK = {
    "array": "[]",
    "array_of_encounter": json.dumps([make_encounter([("97110", 15, 1)])]),
    "string": '"an encounter"',
    "null": "null",
    "number": "5",
    "true": "true",
    "nested_junk": json.dumps({"lines": [[[{"a": [None, {"b": [1.5e308, -1, ""]}]}]]], "id": {"x": []},
                               "patient": [[]], "provider": "pt", "date_of_service": 20250602}),
    "nested_in_fields": json.dumps({**make_encounter([("97110", 15, 1)]),
                                    "diagnoses": [[[[["M54.50"]]]]], "documentation": {"a": {"b": {}}}}),
    "nan": json.dumps({**make_encounter([{"code": "97110", "minutes": float("nan"), "units": 1}])}),
    "deep_array_500": "[" * 500 + "]" * 500,
    "deep_array_100k": "[" * 100_000 + "]" * 100_000,
    "deep_object_100k": '{"a":' * 100_000 + "1" + "}" * 100_000,
}


@pytest.mark.parametrize("name", list(JUNK))
def test_junk_is_never_a_500(client, name):
    response = client.post("/v1/check", data=JUNK[name], content_type="application/json")
    assert 400 <= response.status_code < 500
    body = problem_of(response, response.status_code)
    assert body["type"] in ("/problems/invalid-json", "/problems/invalid-encounter")


@pytest.mark.parametrize("name", ["deep_array_100k", "deep_object_100k"])
def test_deeply_nested_json_batch_is_never_a_500(client, name):
    response = client.post("/v1/check/batch", data=f"[{JUNK[name]}]", content_type="application/json")
    problem_of(response, 400, "invalid-json")


@pytest.mark.parametrize("name", ["deep_array_100k", "deep_object_100k"])
def test_deeply_nested_ndjson_line_is_reported_in_place(client, name):
    good = json.dumps(example("medicare_8_minute_rule"))
    response = client.post("/v1/check/batch", data=f"{JUNK[name]}\n{good}\n", content_type=NDJSON)
    assert response.status_code == 200
    items = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [i["index"] for i in items] == [0, 1]
    assert items[0]["error"]["type"] == "/problems/invalid-json" and "line 1" in items[0]["error"]["detail"]
    assert units(items[1]["decision"]) == [2, 1]


# -- 4. batches -----------------------------------------------------------------------------------

def test_json_batch_answers_in_order_with_decisions_and_errors_in_place(client):
    docs = [example("medicare_8_minute_rule"), example("invalid/bad_fields"), 5, "x",
            example("aetna_same_day"), {**example("aetna_same_day"), "payer": "acme"}]
    response = client.post("/v1/check/batch?explain=none", json=docs)
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    m.BatchResult.model_validate(body)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(6))
    assert [("decision" in r, "error" in r) for r in results] == [(True, False), (False, True), (False, True),
                                                                    (False, True), (True, False), (False, True)]
    assert body["summary"] == {"encounters": 6, "decided": 2, "failed": 4}
    assert units(results[0]["decision"]) == [2, 1] and results[0]["decision"]["payer"] == "medicare"
    assert verdicts(results[4]["decision"]) == ["supportable", "not_supportable"]
    assert all("proof" not in line for r in results if "decision" in r for line in r["decision"]["lines"])
    assert ("lines[2].code", "missing_field") in paths(results[1]["error"])
    assert results[1]["error"]["status"] == 422
    assert paths(results[2]["error"]) == {("", "invalid_type")}
    assert results[5]["error"]["type"] == "/problems/unknown-payer"
    ids = [r["decision"]["decision_id"] for r in results if "decision" in r]
    assert len(set(ids)) == 2
    # the query's payer applies to every item
    commercial = client.post("/v1/check/batch?payer=commercial", json=docs[:1]).get_json()
    assert units(commercial["results"][0]["decision"]) == [1, 1]


def test_json_batch_limits(client, small_app):
    body = problem_of(client.post("/v1/check/batch", json={"encounters": []}), 422, "invalid-encounter")
    assert paths(body) == {("", "invalid_type")}
    problem_of(client.post("/v1/check/batch", data="[1,", content_type="application/json"), 400, "invalid-json")
    problem_of(client.post("/v1/check/batch?payer=acme", json=[]), 422, "unknown-payer")
    empty = client.post("/v1/check/batch", json=[]).get_json()
    assert empty == {"results": [], "summary": {"encounters": 0, "decided": 0, "failed": 0}}
    small = small_app.test_client()
    body = problem_of(small.post("/v1/check/batch", json=[1, 2, 3]), 413, "body-too-large")
    assert "3 encounters" in body["detail"] and "at most 2" in body["detail"]
    assert small.post("/v1/check/batch", json=[1, 2]).get_json()["summary"] == {"encounters": 2, "decided": 0,
                                                                                "failed": 2}


def test_ndjson_batch_streams_one_line_per_input_line(client):
    good, other = example("medicare_8_minute_rule"), example("aetna_same_day")
    text = "\n".join([json.dumps(good), "", '{"id": broken', json.dumps(other), "   ", "5",
                      json.dumps(example("invalid/bad_fields")), json.dumps(good)])  # no final newline
    response = client.post("/v1/check/batch?explain=none", data=text, content_type=NDJSON)
    assert response.status_code == 200 and response.mimetype == NDJSON
    out = response.get_data(as_text=True)
    assert out.endswith("\n")
    items = [json.loads(line) for line in out.splitlines()]
    for item in items:
        m.BatchItem.model_validate(item)
    assert len(items) == 6 and [i["index"] for i in items] == list(range(6))
    assert units(items[0]["decision"]) == [2, 1]
    assert items[1]["error"]["type"] == "/problems/invalid-json"
    assert "line 3" in items[1]["error"]["detail"]
    assert items[2]["decision"]["payer"] == "aetna"
    assert verdicts(items[2]["decision"]) == ["supportable", "not_supportable"]
    assert paths(items[3]["error"]) == {("", "invalid_type")}
    assert ("lines[1].code", "unknown_code") in paths(items[4]["error"])
    assert units(items[5]["decision"]) == [2, 1]
    assert all("proof" not in l for i in items if "decision" in i for l in i["decision"]["lines"])
    # query parameters are checked before streaming starts
    problem_of(client.post("/v1/check/batch?payer=acme", data=text, content_type=NDJSON), 422, "unknown-payer")
    empty = client.post("/v1/check/batch", data="\n\n", content_type=NDJSON)
    assert empty.status_code == 200 and empty.get_data() == b""


def test_ndjson_batch_over_the_byte_limit_is_refused_up_front(small_app):
    """A body whose declared length is over the limit is refused before anything is decided."""
    doc = json.dumps(make_encounter([("97110", 15, 1)]))
    text = "\n".join([doc] * 10)
    assert len(text) > 4000
    response = small_app.test_client().post("/v1/check/batch", data=text, content_type=NDJSON)
    problem_of(response, 413, "body-too-large")


def test_ndjson_stream_of_unknown_length_stops_at_the_byte_limit(small_app):
    """A chunked stream (no Content-Length) is decided until the limit, then one error line says so."""
    line = json.dumps(make_encounter([("97110", 15, 1)]))
    text = "\n".join([line] * 10).encode()

    class Chunked(io.RawIOBase):
        def __init__(self, data):
            self.data = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk = self.data.read(min(len(buffer), 128))
            buffer[:len(chunk)] = chunk
            return len(chunk)

    environ = EnvironBuilder(path="/v1/check/batch", method="POST", content_type=NDJSON).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": Chunked(text), "wsgi.input_terminated": True})
    body, status, _ = run_wsgi_app(small_app, environ, buffered=True)
    assert status.startswith("200")
    items = [json.loads(x) for x in b"".join(body).decode().splitlines()]
    fitting = 4000 // (len(line) + 1)                     # whole lines within the 4000-byte limit
    assert [i["index"] for i in items] == list(range(fitting + 1))
    assert all("decision" in i for i in items[:fitting])
    assert items[-1]["error"]["type"] == "/problems/body-too-large" and "4000 bytes" in items[-1]["error"]["detail"]


# -- 5. discovery endpoints -----------------------------------------------------------------------

def test_payer_list(client, registry):
    body = client.get("/v1/payers").get_json()
    listed = m.PayerList.model_validate(body)
    assert [p.id for p in listed.payers] == PAYERS
    assert all(p.loaded for p in listed.payers)
    by_id = {p["id"]: p for p in body["payers"]}
    assert by_id["aetna"]["extends"] == "commercial" and by_id["aetna"]["chain"] == ["base", "commercial", "aetna"]
    assert by_id["base"]["extends"] is None and by_id["base"]["chain"] == ["base"]
    assert by_id["medicare"]["effective"] == {"from": "2019-01-01", "to": "2027-01-01"}
    assert all(by_id[p]["policy_version"] == registry.policies[p].version for p in PAYERS)
    assert all(by_id[p]["rules"] == len(registry.policies[p].rules) for p in PAYERS)


@pytest.mark.parametrize("payer, extends, chain, method, effective", [
    ("medicare", "base", ["base", "medicare"], ("total_time", "medicare"), {"from": "2019-01-01", "to": "2027-01-01"}),
    ("aetna", "commercial", ["base", "commercial", "aetna"], ("cpt_per_code", "commercial"), {"from": None, "to": None}),
    ("aetna_medicare", "medicare", ["base", "medicare", "aetna_medicare"], ("total_time", "medicare"),
     {"from": "2019-01-01", "to": "2027-01-01"}),
])
def test_payer_detail(client, payer, extends, chain, method, effective):
    response = client.get(f"/v1/payers/{payer}")
    assert response.status_code == 200
    body = response.get_json()
    m.PayerDetail.model_validate(body)
    assert (body["id"], body["extends"], body["chain"], body["effective"]) == (payer, extends, chain, effective)
    unit_method = body["parameters"]["unit_method"]
    assert (unit_method["value"], unit_method["layer"]) == method
    assert unit_method["location"].startswith(f"payers/{method[1]}.yaml:")
    assert isinstance(body["disabled"], list)
    assert body["loaded"] is True


@pytest.mark.parametrize("payer, code", [("medicare", "97110"), ("aetna", "97112"), ("base", "97150")])
def test_code_requirements_are_the_engines(client, registry, payer, code):
    response = client.get(f"/v1/payers/{payer}/codes/{code}")
    assert response.status_code == 200
    body = response.get_json()
    m.validate(m.CodeRequirements, body)
    assert body == json.loads(json.dumps(wire.code_requirements(explain_code(registry.policies[payer], code))))
    assert body["payer"] == payer and body["code"]["code"] == code


def test_code_requirements_show_the_edits_and_the_code_filled_in(client):
    body = client.get("/v1/payers/base/codes/97140").get_json()
    assert body["code"]["unit_basis"] == "per_15_minutes"
    partners = {(e["column1"], e["status"]) for e in body["edits"]["column2_of"]}
    assert ("98941", "active") in partners and ("97161", "active") in partners
    assert all("{Code}" not in r["because"] for r in body["requirements"])     # filled in for 97140


def test_an_imported_edit_table_is_served(tmp_path):
    from supportable.engine.ncci_import import import_files
    data = Path(__file__).parent / "data" / "ncci"
    assert import_files([data / "ccipra-test-f1.txt"], [data / "MCR_MUE_PractitionerServices_Eff_01-01-2026.csv"],
                        tmp_path / "table").ok
    client = build_app(tmp_path, edits=tmp_path / "table").test_client()
    visit = make_encounter([{"code": "97140", "minutes": 45, "units": 3}], date_of_service="2026-03-02")
    body = client.post("/v1/check?payer=commercial", json=visit).get_json()
    assert [r["id"] for r in body["lines"][0]["reasons"]] == ["base.mue.line_edit"]
    detail = client.get("/v1/payers/commercial").get_json()
    assert detail["edits_imported"] and detail["edits_imported"].startswith("sha256:")


def test_vocabulary(client, registry):
    body = client.get("/v1/vocabulary").get_json()
    m.Vocabulary.model_validate(body)
    assert {"codes", "documentation", "outcomes", "provider_types", "regions", "modifiers"} <= set(body)
    codes = {c["code"]: c for c in body["codes"]}
    assert codes["97110"]["name"] == "Therapeutic exercise" and codes["97110"]["description"]
    assert codes["97110"]["timed"] is True
    assert len(codes) == len(body["codes"]) == len(wire.vocabulary(registry.policies["base"].vocabulary)["code"])

    def ids(items):
        return {next(iter(i.values())) for i in items}
    assert "physical_therapist" in ids(body["provider_types"])
    assert {"neuro_deficit", "gait_impairment", "time_recorded"} <= ids(body["documentation"])
    assert "GP" in ids(body["modifiers"])


def test_health_and_readiness(client, registry):
    assert m.Health.model_validate(client.get("/healthz").get_json()).status == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = m.Readiness.model_validate(ready.get_json())
    assert body.status == "ready"
    assert body.payers == {p: {"loaded": True, "policy_version": registry.policies[p].version, "engine": "plan"}
                           for p in PAYERS}


def test_openapi_and_docs(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"] == "3.0.3"
    assert {"/v1/check", "/v1/check/batch", "/v1/payers", "/v1/payers/{payer}", "/v1/payers/{payer}/codes/{code}",
            "/v1/vocabulary", "/healthz", "/readyz", "/metrics"} <= set(spec["paths"])
    assert {"Encounter", "Decision", "Problem", "BatchResult", "PayerList", "PayerDetail", "CodeRequirements",
            "Vocabulary", "Health", "Readiness"} <= set(spec["components"]["schemas"])
    check = spec["paths"]["/v1/check"]["post"]
    assert check["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Encounter"}
    assert check["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Decision"}
    assert check["responses"]["422"]["content"][PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert {p["name"] for p in check["parameters"]} == {"payer", "explain"}
    # every $ref resolves, and nothing OpenAPI 3.0 lacks is left (null types, const)
    text = json.dumps(spec)
    for ref in set(re.findall(r'"#/components/schemas/([^"]+)"', text)):
        assert ref in spec["components"]["schemas"], ref
    assert '{"type": "null"}' not in text and '"const"' not in text

    docs = client.get("/docs")
    assert docs.status_code == 200 and docs.mimetype == "text/html"
    page = docs.get_data(as_text=True)
    assert '"/openapi.json"' in page
    scripts = re.findall(r'(?:src|href)="(/docs/static/[^"]+)"', page)
    assert "/docs/static/swagger-ui-bundle.js" in scripts and "/docs/static/swagger-ui.css" in scripts
    for asset in scripts:
        response = client.get(asset)
        assert response.status_code == 200 and len(response.data) > 10_000, asset
    assert client.get("/docs/static/swagger-ui-bundle.js").mimetype in ("text/javascript", "application/javascript")


# -- 6. published schemas -------------------------------------------------------------------------

@pytest.mark.parametrize("model", [Encounter, m.Decision, m.LineDecision, m.Reason, m.Units, m.Problem,
                                   m.ProblemItem, m.BatchResult, m.BatchItem, m.PayerList, m.PayerSummary,
                                   m.PayerDetail, m.CodeRequirements, m.Vocabulary, m.Health, m.Readiness])
def test_openapi_components_are_generated_from_the_models(client, model):
    schema = client.get("/openapi.json").get_json()["components"]["schemas"][model.__name__]
    if not hasattr(model, "model_fields"):     # a wire type (a TypedDict; server/wire)
        assert set(schema["properties"]) == set(model.__annotations__)
        hints = typing.get_type_hints(model, include_extras=True)
        assert set(schema.get("required", [])) == {k for k, t in hints.items()
                                                   if typing.get_origin(t) is not typing.NotRequired}
        assert schema.get("additionalProperties") is False
        return
    fields = {f.alias or name: f for name, f in model.model_fields.items()}
    assert set(schema["properties"]) == set(fields)
    assert set(schema.get("required", [])) == {name for name, f in fields.items() if f.is_required()}
    extra = model.model_config.get("extra")
    if extra == "forbid":
        assert schema.get("additionalProperties") is False
    elif extra == "allow":
        assert schema.get("additionalProperties") is not False


def test_problem_model_rejects_what_it_does_not_publish():
    """The responses are validated with extra="forbid" models: a stray field would be caught."""
    ok = {"type": "/problems/x", "title": "X", "status": 400, "detail": "d"}
    m.Problem.model_validate(ok)
    with pytest.raises(Exception):
        m.Problem.model_validate({**ok, "stack": "..."})
    with pytest.raises(Exception):
        m.validate(m.Decision, {"decision_id": "x"})


# -- 7. metrics -----------------------------------------------------------------------------------

def test_metrics_count_requests_latency_and_decided_lines(fresh_app):
    client = fresh_app.test_client()
    expected: dict[tuple[str, str], int] = {}

    def count(body):
        for line in body["lines"]:
            key = (body["payer"], line["verdict"])
            expected[key] = expected.get(key, 0) + 1

    for doc, query in ((example("medicare_8_minute_rule"), ""), (example("medicare_8_minute_rule"), "?payer=base"),
                       (example("aetna_same_day"), ""), (example("nmr_without_deficit"), "?explain=full")):
        count(decision(client.post(f"/v1/check{query}", json=doc)))
    problem_of(client.post("/v1/check", json=example("invalid/bad_fields")), 422)
    problem_of(client.get("/nowhere"), 404)
    batch = client.post("/v1/check/batch", json=[example("group_billed_as_97110"), 7]).get_json()
    count(batch["results"][0]["decision"])
    nd = client.post("/v1/check/batch", data=json.dumps(example("mixed_visit")) + "\n", content_type=NDJSON)
    count(json.loads(nd.get_data(as_text=True))["decision"])
    assert expected[("medicare", "supportable")] == 2 and expected[("aetna", "not_supportable")] == 1

    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    samples = metric_samples(response.get_data(as_text=True))

    requests = {(s.labels["endpoint"], s.labels["method"], s.labels["status"]): s.value
                for s in samples["supportable_http_requests_total"]}
    assert requests == {("/v1/check", "POST", "200"): 4, ("/v1/check", "POST", "422"): 1,
                        ("unmatched", "GET", "404"): 1, ("/v1/check/batch", "POST", "200"): 2}

    buckets = [s for s in samples["supportable_http_request_duration_seconds_bucket"]
               if s.labels["endpoint"] == "/v1/check"]
    assert len(buckets) == 14 and buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == 5
    assert [b.value for b in buckets] == sorted(b.value for b in buckets)
    observed = samples["supportable_http_request_duration_seconds_count"]   # how many requests were timed
    assert {s.labels["endpoint"]: s.value for s in observed} == {"/v1/check": 5, "unmatched": 1, "/v1/check/batch": 2}

    lines = {(s.labels["payer"], s.labels["verdict"]): s.value for s in samples["supportable_decision_lines_total"]}
    assert lines == expected


def test_metrics_content_type_is_prometheus_text(client):
    content_type = client.get("/metrics").content_type
    assert content_type.startswith("text/plain") and "version=0.0.4" in content_type
    assert content_type.count("charset") == 1, content_type   # one charset parameter, not two


# -- 8. decision log ------------------------------------------------------------------------------

def test_decision_log_has_one_entry_per_decision(fresh_app, tmp_path):
    log = tmp_path / "decisions.jsonl"
    client = fresh_app.test_client()
    doc = example("medicare_8_minute_rule")
    reordered = dict(reversed(list(doc.items())))
    changed = copy.deepcopy(doc)
    changed["lines"][0]["minutes"] = 23

    answers = [decision(client.post("/v1/check", json=d)) for d in (doc, doc, reordered, changed)]
    problem_of(client.post("/v1/check", json=example("invalid/bad_fields")), 422)
    problem_of(client.post("/v1/check?payer=acme", json=doc), 422)
    problem_of(client.post("/v1/check", data="{", content_type="application/json"), 400)
    assert len(read_log(log)) == 4                       # errors are not logged
    batch = client.post("/v1/check/batch", json=[5, example("aetna_same_day")]).get_json()
    answers.append(batch["results"][1]["decision"])
    nd = client.post("/v1/check/batch", data="{\n" + json.dumps(changed) + "\n", content_type=NDJSON)
    answers.append(json.loads(nd.get_data(as_text=True).splitlines()[1])["decision"])
    inputs = [doc, doc, reordered, changed, example("aetna_same_day"), changed]

    entries = read_log(log)
    assert len(entries) == 6
    for entry, answer, document in zip(entries, answers, inputs):
        assert set(entry) == {"id", "time", "payer", "policy_version", "encounter", "input_hash", "lines"}
        assert entry["id"] == answer["decision_id"] and entry["time"] == answer["decided_at"]
        assert (entry["payer"], entry["policy_version"], entry["encounter"]) == (
            answer["payer"], answer["policy_version"], answer["encounter"])
        assert entry["lines"] == [{"line": l["line"], "code": l["code"], "verdict": l["verdict"],
                                   "units": l["units"]["supportable"],
                                   "reasons": [{"id": r["id"], "kind": r["kind"], "carc": r["carc"], "rarc": r["rarc"]}
                                               for r in l["reasons"]]} for l in answer["lines"]]
        assert entry["input_hash"] == input_hash_of(document)
    hashes = [e["input_hash"] for e in entries]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", hashes[0])
    assert hashes[0] == hashes[1] == hashes[2]           # the same document, keys in any order
    assert hashes[3] != hashes[0] and hashes[5] == hashes[3]
    assert entries[0]["lines"] == [{"line": "1", "code": "97116", "verdict": "supportable", "units": 2, "reasons": []},
                                   {"line": "2", "code": "97110", "verdict": "supportable", "units": 1, "reasons": []}]
    aetna = [r for l in entries[4]["lines"] for r in l["reasons"]]     # the log keeps each reason's codes
    assert aetna and all(r["carc"] for r in aetna)
    assert entries[4]["payer"] == "aetna"


# -- 9. request log -------------------------------------------------------------------------------

def test_request_log_has_one_json_line_per_request(client, caplog):
    caplog.set_level(logging.INFO, logger="supportable.request")
    client.post("/v1/check", json=example("aetna_same_day"), headers={"X-Request-ID": "log-1"})
    client.get("/nowhere", headers={"X-Request-ID": "log-2"})
    client.get("/v1/payers/medicare", headers={"X-Request-ID": "log-3"})
    client.post("/v1/check/batch", json=[1], headers={"X-Request-ID": "log-4"})
    entries = [json.loads(r.getMessage()) for r in caplog.records if r.name == "supportable.request"]
    assert [(e["request_id"], e["method"], e["route"], e["path"], e["status"]) for e in entries] == [
        ("log-1", "POST", "/v1/check", "/v1/check", 200),
        ("log-2", "GET", "unmatched", "/nowhere", 404),
        ("log-3", "GET", "/v1/payers/<payer>", "/v1/payers/medicare", 200),
        ("log-4", "POST", "/v1/check/batch", "/v1/check/batch", 200)]
    for e in entries:
        logged = e["duration_ms"]   # present and a number (how long is measured in bench/, not here)
        assert isinstance(logged, (int, float)) and logged >= 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["time"])


# -- 10. concurrency ------------------------------------------------------------------------------

def _requests() -> list[tuple[str, str, object]]:
    """(name, url, body) of many different requests, some invalid."""
    reqs = []
    for name in ("medicare_8_minute_rule", "aetna_same_day", "mixed_visit", "group_billed_as_97110",
                 "nmr_without_deficit", "cmt_with_manual_therapy"):
        doc = example(name)
        for payer, explain in (("", "summary"), ("commercial", "none"), ("medicare", "full"),
                               ("aetna_medicare", "summary"), ("base", "full")):
            query = f"?explain={explain}" + (f"&payer={payer}" if payer else "")
            reqs.append((f"{name}{query}", f"/v1/check{query}", doc))
    # encounters whose line ids coincide ("1", "2") but whose lines differ
    a = make_encounter([("97110", 15, 1), {"code": "97112", "minutes": 30, "units": 2,
                                           "documentation": ["neuro_deficit"]}], id="enc-a")
    b = make_encounter([("97150", 30, 1), ("97140", 6, 1)], id="enc-b")
    c = make_encounter([{"code": "97112", "minutes": 20, "units": 1}], id="enc-c")  # no deficit documented
    for doc in (a, b, c):
        for payer in ("medicare", "commercial", "aetna"):
            reqs.append((f"{doc['id']}-{payer}", f"/v1/check?payer={payer}&explain=full", doc))
    reqs.append(("invalid", "/v1/check", example("invalid/bad_fields")))
    reqs.append(("unknown-payer", "/v1/check?payer=acme", a))
    reqs.append(("bad-explain", "/v1/check?explain=x", a))
    reqs.append(("out-of-range", "/v1/check?payer=medicare", {**a, "date_of_service": "2030-01-01"}))
    reqs.append(("batch", "/v1/check/batch?explain=full", [a, b, 5, c]))
    return reqs


def _answer(client, url, body):
    response = client.post(url, json=body)
    data = response.get_json(force=True)
    if "results" in data:
        data = {**data, "results": [{**r, "decision": stable(r["decision"])} if "decision" in r else r
                                    for r in data["results"]]}
    elif "decision_id" in data:
        data = stable(data)
    else:
        data = {k: v for k, v in data.items() if k != "request_id"}
    return response.status_code, data


def test_concurrent_requests_answer_as_sequential_ones(app):
    reqs = _requests()
    sequential = {name: _answer(app.test_client(), url, body) for name, url, body in reqs}
    assert sequential["invalid"][0] == 422 and sequential["unknown-payer"][0] == 422
    assert sequential["enc-a-medicare"][1]["lines"] != sequential["enc-b-medicare"][1]["lines"]
    assert [l["verdict"] for l in sequential["enc-c-commercial"][1]["lines"]] == ["needs_documentation"]

    def worker(seed: int) -> list[tuple[str, tuple]]:
        client = app.test_client()
        order = reqs[:]
        random.Random(seed).shuffle(order)
        # interleave the coinciding-line-id encounters back to back
        order += [r for r in reqs if r[0].startswith("enc-")] * 2
        return [(name, _answer(client, url, body)) for name, url, body in order]

    with ThreadPoolExecutor(max_workers=4) as pool:     # more threads add time, not interleavings the GIL allows
        results = list(pool.map(worker, range(4)))
    mismatches = [(name, got[0], sequential[name][0]) for per_thread in results for name, got in per_thread
                  if got != sequential[name]]
    assert not mismatches, mismatches[:5]
    assert sum(len(r) for r in results) == 4 * (len(reqs) + 2 * 9)
    # the decision log took every concurrent decision whole: one JSON document per line, unique ids
    entries = read_log(app.extensions["supportable"].settings.decision_log)
    decided = sum(1 for per_thread in results for _, (status, data) in per_thread if status == 200
                  and "lines" in data) + sum(1 for name, (status, data) in sequential.items() if "lines" in data)
    assert len(entries) >= decided and len({e["id"] for e in entries}) == len(entries)


# -- 11. the real server --------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http(method: str, url: str, body: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_the_real_server(tmp_path):
    port, log = _free_port(), tmp_path / "decisions.jsonl"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SUPPORTABLE_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(PYTHONPATH=str(ROOT), TMPDIR=str(scratch))
    output = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "supportable.cli", "serve", "--port", str(port), "--workers", "2",
                             "--threads", "2", "--decision-log", str(log)],
                            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                status, _, body = _http("GET", base + "/healthz")
                if status == 200 and json.loads(body) == {"status": "ok"}:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not come up in 60 s"
            time.sleep(0.2)

        doc = json.dumps(example("medicare_8_minute_rule")).encode()
        status, headers, body = _http("POST", base + "/v1/check", doc,
                                      {"Content-Type": "application/json", "X-Request-ID": "real-1"})
        assert status == 200 and headers["X-Request-ID"] == "real-1"
        answer = json.loads(body)
        m.validate(m.Decision, answer)
        assert answer["payer"] == "medicare" and units(answer) == [2, 1]

        status, headers, body = _http("POST", base + "/v1/check", b"{", {"Content-Type": "application/json"})
        assert status == 400 and headers["Content-Type"].startswith(PROBLEM_JSON)
        assert b"Traceback" not in body

        # every worker answers the same, and the metrics add up over the workers
        for _ in range(4):
            status, _, body = _http("POST", base + "/v1/check?explain=none", doc, {"Content-Type": "application/json"})
            assert status == 200 and units(json.loads(body)) == [2, 1]
        status, _, body = _http("GET", base + "/metrics")
        assert status == 200
        samples = metric_samples(body.decode())
        requests = {(s.labels["endpoint"], s.labels["method"], s.labels["status"]): s.value
                    for s in samples["supportable_http_requests_total"]}
        assert requests[("/v1/check", "POST", "200")] == 5 and requests[("/v1/check", "POST", "400")] == 1
        lines = {(s.labels["payer"], s.labels["verdict"]): s.value for s in samples["supportable_decision_lines_total"]}
        assert lines == {("medicare", "supportable"): 10}

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        entries = read_log(log)
        assert len(entries) == 5 and entries[0]["id"] == answer["decision_id"]
        assert entries[0]["lines"][0] == {"line": "1", "code": "97116", "verdict": "supportable", "units": 2,
                                          "reasons": []}
        assert not list(scratch.glob("supportable-metrics-*"))  # the multiprocess metrics are cleaned up
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        output.close()


def test_an_over_long_integer_is_a_400_not_a_500(client):
    huge = "1" * 5000   # beyond Python's integer conversion limit: json.loads raises ValueError
    body = problem_of(client.post("/v1/check", data=huge, content_type="application/json"), 400, "invalid-json")
    assert "invalid JSON" in body["detail"]
    good = json.dumps(example("medicare_8_minute_rule"))
    reply = client.post("/v1/check/batch", data="\n".join([good, huge, good]) + "\n",
                        content_type="application/x-ndjson")
    items = [json.loads(line) for line in reply.get_data(as_text=True).splitlines()]
    assert [("decision" in i, "error" in i) for i in items] == [(True, False), (False, True), (True, False)]
    assert items[1]["error"]["type"] == "/problems/invalid-json" and "line 2" in items[1]["error"]["detail"]
