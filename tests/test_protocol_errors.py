"""Errors met before the app sees a request (gunicorn's parser) are problem documents with the right
status, over raw sockets against the real server; a chunked body over the limit is 413; made-up
methods share one metrics series."""
from __future__ import annotations

import pytest

from serving import exchange, metric_lines, problem_of, running_server


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("protocol"), workers=1, threads=2) as (port, _):
        yield port


@pytest.mark.parametrize("request_bytes, status, kind", [
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Type: application/\x01json\r\n\r\n", 400, "bad-request"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bidi: a\x00b\r\n\r\n", 400, "bad-request"),
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri-too-long"),
    (b"GARBAGE\r\n\r\n", 400, "bad-request"),
    (b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 400, "bad-request"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431, "header-fields-too-large"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-A: " + b"a" * 60 + b"\r\n" * 1 + b"X-B: b\r\n" * 12000 + b"\r\n",
     431, "header-fields-too-large"),
    (b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: xchunked\r\n\r\n",
     501, "unsupported-transfer-coding"),
], ids=["control-char-in-content-type", "nul-in-header", "uri-too-long", "bad-request-line", "bad-version",
        "header-too-large", "head-too-large", "xchunked"])
def test_gunicorn_level_errors_are_problem_documents(port, request_bytes, status, kind):
    got, headers, body = exchange(port, request_bytes)
    assert got == status, body
    doc = problem_of(headers, body)
    assert doc["status"] == status and doc["type"] == f"/problems/{kind}"
    assert doc["detail"] and "<html" not in body.decode().lower()
    assert headers.get("connection") == "close"


def test_a_broken_chunk_in_the_body_is_400_not_500(port):
    got, headers, body = exchange(port, b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
    assert got == 400, body
    assert "chunked framing" in problem_of(headers, body)["detail"]


def test_the_server_still_answers_after_the_bad_requests(port):
    got, headers, body = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert got == 200 and b'"ok"' in body


def _chunked(payload: bytes, size: int = 65536) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(payload[i:i + size]), payload[i:i + size]) for i in range(0, len(payload), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def test_a_chunked_body_over_the_limit_is_413_not_invalid_json(port):
    body = b'{"payer": "base", "pad": "' + b"x" * (1 << 20) + b'"}'         # over 1 MiB, no Content-Length
    got, headers, answer = exchange(port, b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                          b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(body))
    assert got == 413, answer
    assert problem_of(headers, answer)["type"] == "/problems/body-too-large"


def test_a_chunked_body_under_the_limit_is_read_whole(port):
    body = b'{"payer": "base", "encounter_id": 5}'
    got, headers, answer = exchange(port, b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                          b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(body, 7))
    assert got == 422, answer          # parsed whole and validated: not "invalid JSON", not 413
    assert problem_of(headers, answer)["type"] == "/problems/invalid-encounter"


def test_made_up_methods_share_one_metrics_series(port):
    for method in (b"FOO", b"BAR", b"QWERTY"):
        got, headers, body = exchange(port, method + b" /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert got == 405 and problem_of(headers, body)["type"] == "/problems/method-not-allowed"
    lines = metric_lines(port, "supportable_http_requests_total")
    assert not [line for line in lines if any(m in line for m in ("FOO", "BAR", "QWERTY"))], lines
    other = [line for line in lines if 'method="other"' in line and 'status="405"' in line]
    assert other and float(other[0].rsplit(" ", 1)[1]) >= 3, lines


def test_a_kept_alive_connection_is_closed_after_its_hundredth_request(port):
    # so clients that keep connections alive spread over the workers again (after a worker restart
    # they would all sit on the survivor); the client is told, so it reconnects without an error
    import http.client
    from supportable.server.worker import REQUESTS_PER_CONNECTION
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        answers = []
        for _ in range(REQUESTS_PER_CONNECTION + 1):
            conn.request("GET", "/healthz")
            reply = conn.getresponse()
            reply.read()
            answers.append((reply.status, (reply.getheader("Connection") or "").lower()))
    finally:
        conn.close()
    assert all(status == 200 for status, _ in answers)
    closes = [i for i, (_, connection) in enumerate(answers) if connection == "close"]
    assert closes == [REQUESTS_PER_CONNECTION - 1]          # the 100th, then a new connection's first
