"""The decision log on a failing disk: a line is written whole or not at all, a failed write leaves
no fragment, the service keeps answering, the metric counts only what was written, /readyz says
the log is failing and it recovers by itself. The server test runs the real gunicorn server with
a file size limit (RLIMIT_FSIZE), so writes past it really stop short."""
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from conftest import ROOT, make_encounter
from serving import stop
from supportable.server import decision_log as decision_log_module
from supportable.server.decision_log import DecisionLog
from supportable.server.observability import Metrics

DECISION = {"decision_id": "d1", "payer": "base", "policy_version": "sha256:1", "encounter": "enc-1",
            "lines": [{"line": "1", "code": "97110", "verdict": "supportable", "units": {"supportable": 1}}]}


def metric(metrics: Metrics, outcome: str) -> float:
    return metrics.registry.get_sample_value("supportable_decision_log_entries_total", {"outcome": outcome}) or 0


def lines_of(path):
    return [json.loads(line) for line in path.read_text().splitlines()]   # every line whole JSON


def test_a_short_write_is_cut_back_and_the_log_recovers(tmp_path, monkeypatch):
    path = tmp_path / "d.jsonl"
    metrics = Metrics()
    log = DecisionLog(path, metrics)
    assert log.append(DECISION, {}, "t1")
    real_write = os.write
    calls = []

    def full_disk(fd, data):   # the first write lands half the bytes, the retry finds the disk full
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[:len(data) // 2]))
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(decision_log_module.os, "write", full_disk)
    assert log.append(DECISION, {}, "t2") is False
    assert len(calls) == 2
    monkeypatch.setattr(decision_log_module.os, "write", real_write)
    assert [e["time"] for e in lines_of(path)] == ["t1"]          # no fragment left
    status = log.status()
    assert status["status"] == "failing" and status["dropped"] == 1 and "No space left" in status["last_error"]
    assert metric(metrics, "written") == 1 and metric(metrics, "dropped") == 1
    assert log.append(DECISION, {}, "t3")                          # recovers at the next good write
    assert [e["time"] for e in lines_of(path)] == ["t1", "t3"]
    assert log.status()["status"] == "ok" and metric(metrics, "written") == 2


def test_a_fragment_left_by_something_else_does_not_swallow_the_next_entry(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"id": "whole"}\n{"id": "cut o')
    assert DecisionLog(path).append(DECISION, {}, "t1")
    assert path.read_text().splitlines()[-1].startswith('{"id":"d1"')


def test_a_log_on_a_full_device_drops_and_never_raises():
    log = DecisionLog("/dev/full", Metrics())
    assert log.append(DECISION, {}, "t1") is False
    assert log.status()["status"] == "failing" and log.status()["dropped"] == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LIMIT = 2 << 20   # above the Prometheus multiprocess files' first 1 MiB


def test_the_real_server_on_a_full_disk_keeps_answering_and_logs_whole_lines(tmp_path):
    log = tmp_path / "d.jsonl"
    filler = json.dumps({"filler": "x" * 980}) + "\n"
    with open(log, "w") as out:    # leave room for a few entries, and a write that stops short
        while out.tell() + len(filler) < LIMIT - 2500:
            out.write(filler)
    before = len(log.read_text().splitlines())

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit stops short or fails (EFBIG)

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTABLE_")}
    env.update(PYTHONPATH=str(ROOT), SUPPORTABLE_SNAPSHOT="", SUPPORTABLE_RELOAD_INTERVAL="0")
    server = subprocess.Popen([sys.executable, "-m", "supportable.cli", "serve", "--port", str(port), "--workers", "2",
                               "--threads", "2", "--decision-log", str(log)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=limit_file_size)
    base = f"http://127.0.0.1:{port}"

    def call(path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                if call("/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "server did not start"
            time.sleep(0.2)
        visit = make_encounter([("97110", 30, 2)])
        statuses = [call("/v1/check", visit)[0] for _ in range(30)]
        assert statuses == [200] * 30                                  # no 500: the service keeps answering
        entries = lines_of(log)[before:]                               # and every line is whole JSON
        assert 0 < len(entries) < 30
        metrics = call("/metrics")[1].decode()
        written = float(metrics.split('supportable_decision_log_entries_total{outcome="written"} ')[1].split()[0])
        dropped = float(metrics.split('supportable_decision_log_entries_total{outcome="dropped"} ')[1].split()[0])
        assert written == len(entries) and written + dropped == 30     # the metric counts what was written
        readies = [json.loads(call("/readyz")[1]) for _ in range(10)]
        failing = [r for r in readies if r["decision_log"]["status"] == "failing"]
        assert failing and all(r["status"] == "degraded" and r["decision_log"]["dropped"] >= 1 for r in failing)
        assert all("File too large" in r["decision_log"]["last_error"] for r in failing)
        assert any(" bytes" in r["decision_log"]["last_error"] for r in failing)   # a write really stopped short
    finally:
        stop(server, timeout=20)
