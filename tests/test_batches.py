"""Batches (issue 11, item 6): caps of what one request should hold (1,000 encounters, 8 MiB, JSON or
NDJSON), a JSON-array answer written as each encounter is decided with exactly the shape jsonify
gave it, a failure on one item reported in place, and memory given back after a large batch."""
from __future__ import annotations

import json

import pytest
from conftest import EXAMPLES

import supportable.server.routes.decisions as decisions_module
from supportable.server.app import create_app
from supportable.server.batches import release_memory
from supportable.server.settings import Settings
from serving import ROOT, exchange, running_server

NDJSON = "application/x-ndjson"
ENCOUNTER = json.loads((EXAMPLES / "aetna_same_day.json").read_text())


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app(Settings.from_env({}, tune_gc=False, decision_log=tmp_path_factory.mktemp("b") / "d.jsonl"))


@pytest.fixture
def client(app):
    return app.test_client()


def test_the_default_caps_are_what_one_request_should_hold():
    s = Settings.from_env({})
    assert (s.max_batch_items, s.max_batch_bytes) == (1_000, 8 << 20)


def test_a_json_batch_answer_has_the_same_shape_written_as_it_goes(client):
    docs = [ENCOUNTER, {"payer": "base"}, ENCOUNTER]
    response = client.post("/v1/check/batch", json=docs)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.is_streamed
    text = response.get_data(as_text=True)
    body = json.loads(text)
    assert list(body) == ["results", "summary"]
    assert body["summary"] == {"encounters": 3, "decided": 2, "failed": 1}
    assert [list(r) for r in body["results"]] == [["index", "decision"], ["index", "error"], ["index", "decision"]]
    assert body["results"][1]["error"]["type"] == "/problems/invalid-encounter"
    # byte for byte what jsonify writes (compact, keys in order, a final newline)
    assert text == json.dumps(body, separators=(",", ":")) + "\n"
    single = client.post("/v1/check", json=ENCOUNTER).get_json()
    assert body["results"][0]["decision"]["lines"] == single["lines"]


def test_an_empty_json_batch(client):
    response = client.post("/v1/check/batch", json=[])
    assert response.get_json() == {"results": [], "summary": {"encounters": 0, "decided": 0, "failed": 0}}


def test_more_encounters_than_the_cap_is_413(client):
    response = client.post("/v1/check/batch", json=[{}] * 1_001)
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    assert "at most 1000" in response.get_json()["detail"] and "batch audits" in response.get_json()["detail"]


def test_a_body_over_8_mib_is_413_json_or_ndjson(client):
    big = b"[" + b" " * (8 << 20) + b"]"
    assert client.post("/v1/check/batch", data=big, content_type="application/json").status_code == 413
    assert client.post("/v1/check/batch", data=big, content_type=NDJSON).status_code == 413


def test_an_unexpected_failure_on_one_item_is_reported_in_place(client, monkeypatch):
    real = decisions_module._decide

    def flaky(state, document, payer, explain):
        if isinstance(document, dict) and document.get("encounter_id") == "boom":
            raise RuntimeError("boom")
        return real(state, document, payer, explain)

    monkeypatch.setattr(decisions_module, "_decide", flaky)
    response = client.post("/v1/check/batch", json=[ENCOUNTER, {**ENCOUNTER, "encounter_id": "boom"}, ENCOUNTER])
    body = response.get_json()
    assert response.status_code == 200
    assert body["summary"] == {"encounters": 3, "decided": 2, "failed": 1}
    assert body["results"][1]["error"]["type"] == "/problems/internal-error"
    assert "Traceback" not in response.get_data(as_text=True)


def test_memory_is_given_back_after_a_large_batch_only(client, monkeypatch):
    calls = []
    monkeypatch.setattr(decisions_module, "release_memory", lambda: calls.append(1))
    with client.post("/v1/check/batch", json=[ENCOUNTER] * 3) as response:
        response.get_data()
    assert calls == []
    with client.post("/v1/check/batch", json=[ENCOUNTER] * decisions_module.LARGE_BATCH) as response:
        assert response.get_json()["summary"]["decided"] == decisions_module.LARGE_BATCH
    assert calls == [1]
    with client.post("/v1/check/batch", data=json.dumps(ENCOUNTER) + "\n", content_type=NDJSON) as response:
        response.get_data()
    assert calls == [1, 1]
    release_memory()          # and the real one runs (gc, then malloc_trim where glibc has it)


def test_the_real_server_streams_a_json_batch_answer(tmp_path):
    body = json.dumps([ENCOUNTER] * 200).encode()
    with running_server(tmp_path, workers=1, threads=2) as (port, _):
        status, headers, _ = exchange(port, b"POST /v1/check/batch HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                                      + body, timeout=60)
        assert status == 200
        assert headers.get("transfer-encoding") == "chunked" and "content-length" not in headers
        ndjson = (ROOT / "examples" / "encounters" / "batch.ndjson").read_bytes()
        status, headers, _ = exchange(port, b"POST /v1/check/batch HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                            b"Content-Type: application/x-ndjson\r\nContent-Length: %d\r\n\r\n"
                                            % len(ndjson) + ndjson, timeout=60)
        assert status == 200 and headers.get("transfer-encoding") == "chunked"
