"""Start-up against the real gunicorn server (issue 11, items 8 and 9): bad settings and a busy port
refuse at once with one clear JSON line and an exit code, never a traceback; every line on stderr is
one JSON object (start-up, requests, shutdown); API keys on /v1; TLS from SUPPORTABLE_CERTFILE/KEYFILE.
Every wait is bounded; every server started is stopped."""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, make_encounter

KEY = "k-test-9d1e77c04a5b"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_serve(args=(), env=None, timeout=20):
    """``supportable serve`` that is expected to refuse: its exit code and stderr lines."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTABLE_")}
    full_env.update(env or {})
    done = subprocess.run([sys.executable, "-m", "supportable.cli", "serve", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stderr.splitlines(), done.stdout


@pytest.mark.parametrize("env,args,names", [
    ({"SUPPORTABLE_PORT": "abc"}, [], "SUPPORTABLE_PORT=abc"),
    ({"SUPPORTABLE_PORT": "70000"}, [], "SUPPORTABLE_PORT=70000"),
    ({"SUPPORTABLE_MAX_BODY_BYTES": "1 lot"}, [], "SUPPORTABLE_MAX_BODY_BYTES=1 lot"),
    ({"SUPPORTABLE_MAX_BODY_BYTES": "-1"}, [], "SUPPORTABLE_MAX_BODY_BYTES=-1"),
    ({"SUPPORTABLE_WORKERS": "0"}, [], "SUPPORTABLE_WORKERS=0"),
    ({"SUPPORTABLE_RELOAD_INTERVAL": "soon"}, [], "SUPPORTABLE_RELOAD_INTERVAL=soon"),
    ({"SUPPORTABLE_AUTH": "maybe"}, [], "SUPPORTABLE_AUTH=maybe"),
    ({"SUPPORTABLE_ENGINE": "clingo"}, [], "SUPPORTABLE_ENGINE=clingo: not valid; expected plan or pydatalog"),
    ({"SUPPORTABLE_POLICIES": "/no/such/folder"}, [], "SUPPORTABLE_POLICIES (--policies): `/no/such/folder`"),
    ({}, ["--policies", "/no/such/folder"], "SUPPORTABLE_POLICIES (--policies): `/no/such/folder`"),
    ({"SUPPORTABLE_HOST": "0.0.0.0"}, [], "SUPPORTABLE_API_KEYS"),
    ({"SUPPORTABLE_CERTFILE": str(ROOT / "pyproject.toml")}, [], "SUPPORTABLE_CERTFILE and SUPPORTABLE_KEYFILE"),
])
def test_a_bad_setting_is_one_json_line_and_exit_2(env, args, names):
    code, lines, _ = run_serve(args, env)
    assert code == 2, lines
    assert len(lines) == 1, lines
    entry = json.loads(lines[0])
    assert entry["level"] == "error" and entry["event"] == "bad_settings"
    assert names in entry["message"]
    assert "Traceback" not in lines[0]


def test_a_bad_option_is_a_usage_error():
    code, lines, _ = run_serve(["--port", "70000"])
    assert code == 2
    assert any("'--port': 70000 is not in the range 1<=x<=65535" in line for line in lines)
    assert not any("Traceback" in line for line in lines)


def test_sizes_take_units():
    from supportable.server.settings import Settings
    s = Settings.from_env({"SUPPORTABLE_MAX_BODY_BYTES": "512KiB", "SUPPORTABLE_MAX_BATCH_BYTES": "8MB"})
    assert (s.max_body_bytes, s.max_batch_bytes) == (512 * 1024, 8_000_000)


def test_a_busy_port_fails_at_once_with_exit_6():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, lines, _ = run_serve(["--port", str(port)])
    assert code == 6, lines
    entries = [json.loads(line) for line in lines]
    refusal = entries[-1]
    assert refusal["event"] == "cannot_listen" and "already in use" in refusal["message"]
    assert refusal["bind"] == f"127.0.0.1:{port}"
    # refused before gunicorn starts: no gunicorn line at all, so none of its five one-second retries
    # ("Connection in use ... Retrying in 1 second")
    assert not [e for e in entries if e["logger"].startswith("gunicorn")], entries


def test_version_is_the_package_version():
    from supportable.server.app import VERSION
    done = subprocess.run([sys.executable, "-m", "supportable.cli", "--version"], cwd=ROOT, capture_output=True,
                          text=True, timeout=20)
    assert done.returncode == 0 and done.stdout.strip() == f"supportable {VERSION}"


# -- the real server ------------------------------------------------------------------------------

class Server:
    def __init__(self, tmp: Path, env: dict, scheme="http"):
        self.port = free_port()
        self.scheme = scheme
        self.stderr_path = tmp / "stderr.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTABLE_")}
        full_env.update({"SUPPORTABLE_DECISION_LOG": str(tmp / "decisions.jsonl"), "SUPPORTABLE_RELOAD_INTERVAL": "0",
                         "SUPPORTABLE_WORKERS": "1", "SUPPORTABLE_THREADS": "2", **env})
        self.stderr = open(self.stderr_path, "w")
        self.process = subprocess.Popen([sys.executable, "-m", "supportable.cli", "serve", "--port", str(self.port)],
                                        cwd=tmp, env=full_env, stdout=subprocess.PIPE, stderr=self.stderr,
                                        start_new_session=True)

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def request(self, path, data=None, headers=None, context=None):
        req = urllib.request.Request(self.url(path), data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10, context=context) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()

    def wait_ready(self, context=None, timeout=25):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}: {self.stderr_path.read_text()}")
            try:
                if self.request("/readyz", context=context)[0] == 200:
                    return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        pytest.fail("the server did not become ready in time")

    def stop(self) -> list[str]:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self.stderr.close()
        self.stdout = self.process.stdout.read().decode()
        self.process.stdout.close()
        return self.stderr_path.read_text().splitlines()


@pytest.fixture
def server_factory(tmp_path):
    started = []

    def start(env, scheme="http"):
        server = Server(tmp_path, env, scheme)
        started.append(server)
        return server
    yield start
    for server in started:
        if server.process.poll() is None:
            server.stop()


def test_every_stderr_line_is_json_and_v1_takes_api_keys(server_factory, tmp_path):
    server = server_factory({"SUPPORTABLE_AUTH": "required", "SUPPORTABLE_API_KEYS": KEY,
                             "SUPPORTABLE_ACCESS_LOG": "1", "SUPPORTABLE_ADMIN_TOKEN": "admin-secret-1"})
    server.wait_ready()
    body = json.dumps(make_encounter([("97110", 15, 1)], patient={"id": "patient-0042", "history": []})).encode()
    json_type = {"Content-Type": "application/json"}
    status, headers, answer = server.request("/v1/check", body, json_type)
    assert status == 401 and headers["WWW-Authenticate"] == 'Bearer realm="supportable"'
    assert json.loads(answer)["type"] == "/problems/unauthorized"
    status, _, answer = server.request("/v1/check", body, {**json_type, "Authorization": f"Bearer {KEY}"})
    assert status == 200 and json.loads(answer)["encounter"] == "enc-test"
    assert server.request("/healthz")[0] == 200
    lines = server.stop()
    assert server.process.returncode == 0
    assert server.stdout == ""                       # nothing goes around the log format
    entries = []
    for line in lines:
        entry = json.loads(line)                     # every line, or the test fails here
        assert {"time", "level", "logger"} <= entry.keys() and ("message" in entry or "event" in entry), line
        entries.append(entry)
    starting = next(e for e in entries if e.get("event") == "starting")
    assert starting["folders"]["policies"] == str(ROOT / "policies")
    assert starting["folders"]["decision_log"] == str(tmp_path / "decisions.jsonl")
    assert starting["settings"]["api_keys"] == "(set)" and starting["settings"]["admin_token"] == "(set)"
    requests = [e for e in entries if e["logger"] == "supportable.request" and e.get("route") == "/v1/check"]
    assert [r["status"] for r in requests] == [401, 200]
    assert requests[0]["principal"] is None and requests[1]["principal"].startswith("key:")
    assert any(e["logger"] == "gunicorn.access" and e.get("status") == 200 for e in entries)
    assert any(e["logger"] == "gunicorn.error" and "Shutting down" in e.get("message", "") for e in entries)
    assert not any("Control socket" in e.get("message", "") for e in entries)   # gunicornc's socket is off
    text = "\n".join(lines) + (tmp_path / "decisions.jsonl").read_text()
    for secret in (KEY, "admin-secret-1", "patient-0042", "M54.50"):
        assert secret not in text


def test_tls_from_certfile_and_keyfile(server_factory, tmp_path):
    openssl = shutil.which("openssl")
    if openssl is None:
        if os.environ.get("CI") == "true":
            pytest.fail("openssl is needed to make the test certificate")
        pytest.skip("no openssl to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=20)
    server = server_factory({"SUPPORTABLE_CERTFILE": str(cert), "SUPPORTABLE_KEYFILE": str(key)}, scheme="https")
    context = ssl.create_default_context(cafile=str(cert))
    server.wait_ready(context=context)
    status, _, answer = server.request("/healthz", context=context)
    assert status == 200 and json.loads(answer) == {"status": "ok"}
    with pytest.raises(urllib.error.URLError):      # the certificate is not trusted by default
        server.request("/healthz", context=ssl.create_default_context())
    lines = server.stop()
    assert all(json.loads(line) for line in lines)
