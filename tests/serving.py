"""The real server for tests about serving: ``python -m supportable.cli serve`` under gunicorn, started in
its own session, waited for with a deadline, stopped (and its process group killed) afterwards; and
a raw-socket HTTP exchange."""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(tmp_path: Path, workers: int = 1, threads: int = 2, env: dict | None = None):
    """Yields (port, process); the server's output is in tmp_path / "server.log"."""
    port = free_port()
    output = tmp_path / "server.log"
    cmd = [sys.executable, "-m", "supportable.cli", "serve", "--port", str(port), "--workers", str(workers),
           "--threads", str(threads), "--decision-log", str(tmp_path / "decisions.jsonl")]
    with open(output, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                                stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert proc.poll() is None, f"the server exited: {output.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"the server was not ready: {output.read_text()[-2000:]}"
            try:
                if get(port, "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        yield port, proc
    finally:
        stop(proc, group=True)


def stop(proc: subprocess.Popen, timeout: float = 25.0, group: bool = False) -> None:
    """Stop a server: SIGTERM (gunicorn stops gracefully), then SIGKILL if it is still there after
    ``timeout`` (to its whole process group when it was started in its own session)."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
        if not group:
            return
    except subprocess.TimeoutExpired:
        if not group:
            proc.kill()
    if group:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def post(port: int, path: str, body: bytes, content_type: str = "application/json",
         timeout: float = 10.0) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body, {"Content-Type": content_type})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def exchange(port: int, data: bytes, timeout: float = 10.0) -> tuple[int, dict, bytes]:
    """Send raw bytes, read one answer: (status, lower-cased headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        with contextlib.suppress(OSError):      # the server may answer and close before reading it all
            s.sendall(data)
        out = b""
        while b"\r\n\r\n" not in out:
            chunk = s.recv(65536)
            assert chunk, f"the server closed the connection without an answer: {out!r}"
            out += chunk
        head, _, body = out.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, headers, body[:length]


def problem_of(headers: dict, body: bytes) -> dict:
    assert headers.get("content-type") == "application/problem+json", headers
    doc = json.loads(body)
    assert set(doc) >= {"type", "title", "status", "detail"}, doc
    return doc


def metric_lines(port: int, name: str) -> list[str]:
    status, body = get(port, "/metrics")
    assert status == 200
    return [line for line in body.decode().splitlines() if re.match(rf"{name}\b", line)]


def children_of(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (a gunicorn master's workers), read from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:     # the field after the command's name
                found.add(int(entry.name))
    return found
