"""Slow and idle clients do not take the service down (issue 11, item 3): with well over 100 of them
open against the real server (2 workers x 2 threads), /healthz and /v1/check answer at once, and the
server closes the slow ones once their request is late (408 to those that sent part of one)."""
from __future__ import annotations

import json
import socket
import threading
import time

from serving import ROOT, exchange, get, post, problem_of, running_server

READ_TIMEOUT = 3              # SUPPORTABLE_REQUEST_TIMEOUT for this server
IDLE, TRICKLE_HEAD, TRICKLE_BODY = 50, 50, 20


def _open(port: int, n: int) -> list[socket.socket]:
    out = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        out.append(s)
    return out


def test_many_slow_and_idle_clients_do_not_hold_the_service(tmp_path):
    encounter = (ROOT / "examples" / "encounters" / "aetna_same_day.json").read_bytes()
    with running_server(tmp_path, workers=2, threads=2, env={"SUPPORTABLE_REQUEST_TIMEOUT": str(READ_TIMEOUT)}) \
            as (port, _):
        idle = _open(port, IDLE)
        heads = _open(port, TRICKLE_HEAD)
        bodies = _open(port, TRICKLE_BODY)
        for s in heads:
            s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        for s in bodies:
            s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1000\r\n\r\n{")
        stop = threading.Event()

        def trickle():          # one byte per connection every second, until the server closes it
            alive = heads + bodies
            while alive and not stop.wait(1.0):
                for s in list(alive):
                    try:
                        s.send(b"a" if s in heads else b" ")
                    except OSError:
                        alive.remove(s)

        dripper = threading.Thread(target=trickle, daemon=True)
        dripper.start()
        try:
            time.sleep(1.5)     # every slow connection is open and has sent something
            t0 = time.monotonic()
            status, body = get(port, "/healthz", timeout=5)       # the timeouts only guard against a hang
            assert status == 200 and json.loads(body) == {"status": "ok"}
            status, headers, body = post(port, "/v1/check", encounter, timeout=10)
            assert status == 200, body
            assert json.loads(body)["lines"]
            answered_in = time.monotonic() - t0
            assert answered_in < READ_TIMEOUT, f"answered only after {answered_in:.1f} s: slow clients held it up"

            # The server closes every slow connection: 408 (a problem document) if part of a request
            # came, nothing for an idle one. Within the read timeout plus the poller's 1 s turn.
            deadline = time.monotonic() + READ_TIMEOUT + 8
            answers = {}
            for s in idle + heads + bodies:
                s.settimeout(max(0.1, deadline - time.monotonic()))
                data = b""
                try:
                    while chunk := s.recv(65536):
                        data += chunk
                except ConnectionResetError:
                    pass
                except socket.timeout:
                    data = b"<still open>"
                answers[s] = data
            assert not [s for s, d in answers.items() if d == b"<still open>"], "slow connections left open"
            assert all(answers[s] == b"" for s in idle)
            for s in heads + bodies:
                head, _, body = answers[s].partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 408 "), answers[s][:200]
                assert b"Content-Type: application/problem+json" in head
                assert json.loads(body)["type"] == "/problems/request-timeout"
        finally:
            stop.set()
            for s in idle + heads + bodies:
                s.close()
        # And the server is still fine afterwards.
        assert get(port, "/healthz")[0] == 200
        status, headers, body = exchange(port, b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status == 404 and problem_of(headers, body)["status"] == 404


def test_a_body_streamed_too_slowly_gets_408_and_frees_its_thread(tmp_path):
    with running_server(tmp_path, workers=1, threads=1, env={"SUPPORTABLE_REQUEST_TIMEOUT": "2"}) as (port, _):
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        try:      # chunked: handed to the one thread at once, which must not wait on it for ever
            s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n")
            data = b""
            while b"\r\n\r\n" not in data and (chunk := s.recv(65536)):
                data += chunk
            assert data.startswith(b"HTTP/1.1 408 "), data[:200]
        finally:
            s.close()
        assert get(port, "/healthz", timeout=5)[0] == 200     # the only thread is free again


def test_when_a_request_is_ready_for_a_thread():
    from supportable.server.worker import HEAD_LIMIT_BYTES, PREBUFFER_BODY_BYTES, request_complete
    head = b"POST /v1/check HTTP/1.1\r\nHost: x\r\n"
    assert request_complete(b"GET /healthz HTTP/1.1\r\nHost: x") is False
    assert request_complete(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") is True
    assert request_complete(head + b"Content-Length: 10\r\n\r\n12345") is False      # the body is still coming
    assert request_complete(head + b"Content-Length: 10\r\n\r\n1234567890") is True
    assert request_complete(head + b"Content-Length: 10\r\n\r\n12345", bodies=False) is True
    assert request_complete(head + b"Transfer-Encoding: chunked\r\n\r\n") is True      # streamed: a thread reads it
    assert request_complete(head + b"Content-Length: %d\r\n\r\n" % (PREBUFFER_BODY_BYTES + 1)) is True
    assert request_complete(head + b"Content-Length: x\r\n\r\n") is True               # gunicorn refuses it
    refused = request_complete(head + b"X-Big: " + b"a" * HEAD_LIMIT_BYTES)
    assert refused[0] == 431 and refused[2] == "header-fields-too-large"
