"""The last good policy set: kept on disk after every applied set, served by a worker that starts
while the files on disk would be refused (so every worker answers the same), a serving payer is
never dropped without an explicit retirement, the refused state is reported by /readyz and
/admin/reload, and a reload's load is bounded in time. Server tests run the real gunicorn server."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, make_encounter, plan_project, plan_text
from supportable.server import policyfiles
from supportable.server.app import create_app
from supportable.server.reload import PolicyStore
from supportable.server.settings import Settings
from serving import children_of

TOKEN = "s3cret-token"
BROKEN = "id: plan\nname: broken\nextends: base\nadd: 3\n"
VISIT = make_encounter([{"code": "97116", "minutes": 22, "units": 2, "documentation": ["gait_impairment"]},
                        {"code": "97110", "minutes": 18, "units": 1}], payer="plan")


@pytest.fixture
def project(tmp_path):
    return plan_project(tmp_path, "total_time")


def open_store(project, **kw):
    kw.setdefault("snapshot", project / "last-good")
    return PolicyStore.open(project / "policies", project / "payers", **kw)


def settings_for(project, **kw):
    return Settings.from_env({}, policies=project / "policies", payers=project / "payers",
                             decision_log=project / "decisions.jsonl", snapshot=project / "last-good",
                             tune_gc=False, **kw)


# -- in process ------------------------------------------------------------------------------------

def test_the_snapshot_holds_the_files_and_a_manifest(project):
    store = open_store(project)
    manifest = json.loads((project / "last-good" / "current" / "manifest.json").read_text())
    assert manifest["payers"]["plan"]["policy_version"] == store.current().policies["plan"].version
    assert set(manifest["payers"]) == {"base", "commercial", "plan"}
    current = project / "last-good" / "current"
    assert current.is_symlink()
    assert (current / "payers" / "plan.yaml").read_text() == plan_text("total_time")
    assert manifest["files"]["payers/plan.yaml"].startswith("sha256:")
    assert "policies/base/units.yaml" in manifest["files"]
    # an applied reload replaces it; the older set and the staging folders are gone
    (project / "payers" / "plan.yaml").write_text(plan_text("cpt_per_code"))
    assert store.reload("test").outcome == "applied"
    again = json.loads((project / "last-good" / "current" / "manifest.json").read_text())
    assert again["set"] != manifest["set"]
    assert len(list((project / "last-good" / "sets").iterdir())) == 1
    assert not list((project / "last-good").glob("staging-*"))


def test_a_start_with_refused_files_serves_the_last_good_set(project):
    good = open_store(project).current().policies["plan"].version
    (project / "payers" / "plan.yaml").write_text(BROKEN)
    store = open_store(project)
    assert store.current().policies["plan"].version == good and "plan" not in store.current().failed
    assert store.refused is not None and store.refused.problems["plan"][0]["code"] == "overlay_format"
    assert store.refused.problems["plan"][0]["file"] == "payers/plan.yaml"
    # the same files stay refused (not "unchanged"); reverting them clears the refusal
    assert store.reload("files changed").outcome == "refused"
    (project / "payers" / "plan.yaml").write_text(plan_text("total_time"))
    assert store.reload("files changed").outcome == "unchanged" and store.refused is None


def test_without_a_snapshot_a_broken_payer_is_503_as_before(project):
    (project / "payers" / "plan.yaml").write_text(BROKEN)
    store = open_store(project, snapshot=None)
    assert "plan" in store.current().failed and "commercial" in store.current().policies


def test_a_removed_payer_is_kept_until_retired(project):
    store = open_store(project, snapshot=None)
    version = store.current().policies["plan"].version
    (project / "payers" / "plan.yaml").unlink()
    refused = store.reload("files changed")
    assert refused.outcome == "refused" and store.current().policies["plan"].version == version
    assert refused.problems["plan"][0]["code"] == "payer_removed"
    assert refused.problems["plan"][0]["file"] == "payers/plan.yaml"
    (project / "payers" / "plan.retired").write_text("retired on 2026-11-29: the contract ended\n")
    applied = store.reload("files changed")
    assert applied.outcome == "applied" and applied.retired == ["plan"]
    assert "plan" not in store.current().known and store.refused is None


def test_a_renamed_payer_is_refused_and_the_new_name_is_not_served(project):
    store = open_store(project, snapshot=None)
    os.rename(project / "payers" / "plan.yaml", project / "payers" / "plan2.yaml")
    outcome = store.reload("files changed")
    assert outcome.outcome == "refused" and "plan" in outcome.problems
    assert "plan" in store.current().policies and "plan2" not in store.current().known


def test_a_slow_load_is_cut_off_and_a_later_good_change_is_picked_up(project, monkeypatch):
    store = open_store(project, snapshot=None, reload_timeout=1.0)
    before = store.current()
    real = policyfiles._load_summary
    monkeypatch.setattr(policyfiles, "_load_summary", lambda staged, edits: time.sleep(60))  # the forked child hangs
    (project / "payers" / "plan.yaml").write_text(plan_text("cpt_per_code"))
    started = time.monotonic()
    outcome = store.reload("files changed")
    assert time.monotonic() - started < 15                      # cut off near the 1 s bound, not 60 s
    assert outcome.outcome == "refused" and outcome.problems["*"][0]["code"] == "reload_timeout"
    assert "longer than 1 s" in outcome.problems["*"][0]["message"] and store.current() is before
    monkeypatch.setattr(policyfiles, "_load_summary", real)
    (project / "payers" / "plan.yaml").write_text(plan_text("cpt_per_code") + "# fixed\n")
    assert store.reload("files changed").outcome == "applied"
    assert store.current().policies["plan"].parameters["unit_method"].value == "cpt_per_code"


def test_any_failure_while_loading_is_a_located_refusal(project):
    store = open_store(project, snapshot=None)
    (project / "payers" / "plan.yaml").write_bytes(b"id: plan\nname: caf\xe9 plan\nextends: base\n")
    outcome = store.reload("files changed")
    assert outcome.outcome == "refused" and "plan" in store.current().policies
    problem = outcome.problems["plan"][0]
    assert problem["file"] == "payers/plan.yaml" and problem["line"] == 2


def test_a_worker_with_nothing_to_serve_still_starts(tmp_path):
    (tmp_path / "policies").mkdir()
    app = create_app(Settings.from_env({}, policies=tmp_path / "policies", payers=tmp_path / "payers",
                                       decision_log=None, snapshot=tmp_path / "last-good", tune_gc=False,
                                       reload_interval=0))
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["status"] == "not_ready"
    reply = client.post("/v1/check", json={**VISIT, "payer": "base"})
    assert reply.status_code == 503 and reply.get_json()["problems"]


def test_readyz_and_admin_reload_report_the_refusal(project):
    app = create_app(settings_for(project, admin_token=TOKEN, reload_interval=0))
    client = app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/readyz").get_json()["status"] == "ready"
    (project / "payers" / "plan.yaml").write_text(BROKEN)
    assert app.extensions["supportable"].store.reload("files changed").outcome == "refused"   # as the watcher
    reply = client.post("/admin/reload", headers=auth)
    assert reply.status_code == 409
    body = reply.get_json()
    assert body["outcome"] == "refused" and body["problems"]["plan"][0]["code"] == "overlay_format"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    ready = ready.get_json()
    assert ready["status"] == "degraded" and ready["refused"]["problems"]["plan"][0]["line"] >= 1
    assert ready["payers"]["plan"]["loaded"] is True
    assert client.post("/v1/check", json=VISIT).status_code == 200
    (project / "payers" / "plan.yaml").write_text(plan_text("cpt_per_code"))
    assert client.post("/admin/reload", headers=auth).get_json()["outcome"] == "applied"
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready" and "refused" not in ready


# -- the real server -------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, project, **env):
        self.port = _free_port()
        full = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTABLE_")}
        full.update(PYTHONPATH=str(ROOT), SUPPORTABLE_SNAPSHOT=str(project / "last-good"), **env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "supportable.cli", "serve", "--port", str(self.port), "--workers", "2",
             "--threads", "2", "--policies", str(project / "policies"), "--payers", str(project / "payers"),
             "--decision-log", str(project / "d.jsonl")],
            cwd=ROOT, env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def wait_up(self, timeout=40):
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.get("/readyz")
            except OSError:
                assert time.monotonic() < deadline and self.proc.poll() is None, "server did not start"
                time.sleep(0.2)

    def workers(self) -> set[int]:
        return children_of(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def test_a_worker_restarted_while_the_files_are_broken_serves_the_last_good_set(project):
    server = Server(project, SUPPORTABLE_RELOAD_INTERVAL="0.2")
    try:
        server.wait_up()
        status, plan = server.get("/v1/payers/plan")
        assert status == 200
        good = plan["policy_version"]
        (project / "payers" / "plan.yaml").write_text(BROKEN)
        deadline = time.monotonic() + 15
        while not all("refused" in server.get("/readyz")[1] for _ in range(6)):
            assert time.monotonic() < deadline, "the workers did not refuse the broken file"
            time.sleep(0.2)
        old = server.workers()
        assert len(old) == 2
        os.kill(min(old), signal.SIGKILL)      # gunicorn starts a new worker, with the broken file on disk
        deadline = time.monotonic() + 30

        def from_new_worker(body):   # the new worker started with the broken file (the old one reloaded)
            return body.get("refused", {}).get("reason", "").startswith("start-up") \
                or not body["payers"].get("plan", {}).get("loaded", True)
        while not (from_new_worker(server.get("/readyz")[1]) and server.workers() - old):
            assert time.monotonic() < deadline, "the new worker did not answer"
            time.sleep(0.1)
        assert len(server.workers() - old) == 1
        answers = [server.get("/v1/payers/plan") for _ in range(40)]
        assert {status for status, _ in answers} == {200}
        assert {body["policy_version"] for _, body in answers} == {good}
        readies = [server.get("/readyz") for _ in range(10)]
        assert all(status == 200 and body["status"] == "degraded" and
                   body["refused"]["problems"]["plan"][0]["code"] == "overlay_format" for status, body in readies)
        assert server.proc.poll() is None
    finally:
        server.stop()


def test_a_fresh_start_with_broken_files_serves_the_snapshot(project):
    good = open_store(project).current().policies["plan"].version     # a snapshot from an earlier run
    (project / "payers" / "plan.yaml").write_text(BROKEN)
    (project / "payers" / "commercial.yaml").unlink()                 # and a payer gone while it was down
    server = Server(project, SUPPORTABLE_RELOAD_INTERVAL="0")
    try:
        status, ready = server.wait_up()
        assert status == 200 and ready["status"] == "degraded"
        assert {"plan", "commercial"} <= set(ready["refused"]["problems"])
        assert ready["payers"]["plan"] == {"loaded": True, "policy_version": good, "engine": "plan"}
        answers = [server.get("/v1/payers/plan") for _ in range(20)]
        assert {(status, body["policy_version"]) for status, body in answers} == {(200, good)}
        assert {server.get("/v1/payers/commercial")[0] for _ in range(10)} == {200}
    finally:
        server.stop()


def test_a_server_with_nothing_loadable_still_starts_and_says_why(tmp_path):
    (tmp_path / "policies").mkdir()
    (tmp_path / "payers").mkdir()
    (tmp_path / "payers" / "plan.yaml").write_bytes(b"id: plan\nname: caf\xe9\nextends: base\n")
    server = Server(tmp_path, SUPPORTABLE_RELOAD_INTERVAL="0")
    try:
        status, ready = server.wait_up()
        assert status == 503 and ready["status"] == "not_ready"
        status, body = server.get("/v1/payers/plan")
        assert status == 503 and body["problems"]
        time.sleep(1)
        assert server.proc.poll() is None and len(server.workers()) == 2   # the master did not exit
    finally:
        server.stop()


def test_the_snapshot_and_reload_timeout_settings():
    assert Settings.from_env({}).snapshot == Path("var/last-good") and Settings.from_env({}).reload_timeout == 60
    env = {"SUPPORTABLE_SNAPSHOT": "/srv/last-good", "SUPPORTABLE_RELOAD_TIMEOUT": "5"}
    assert (Settings.from_env(env).snapshot, Settings.from_env(env).reload_timeout) == (Path("/srv/last-good"), 5.0)
    assert Settings.from_env({"SUPPORTABLE_SNAPSHOT": ""}).snapshot is None


def test_a_restart_with_the_last_good_files_loads_them_once(project, monkeypatch):
    from supportable.server import reload as reload_module
    first = open_store(project).current().policies["plan"].version       # writes the last good set
    checks = []
    real = reload_module.check
    monkeypatch.setattr(reload_module, "check", lambda *args: checks.append(args) or real(*args))
    store = open_store(project)          # the same files: the manifest is their summary, no bounded check
    assert checks == [] and store.refused is None and store.current().policies["plan"].version == first
    (project / "payers" / "plan.yaml").write_text(plan_text("cpt_per_code"))
    store = open_store(project)          # changed files are checked in the child first, as before
    assert len(checks) == 1 and store.current().policies["plan"].version != first
    (project / "payers" / "plan.yaml").write_text(BROKEN)
    store = open_store(project)          # and broken ones still fall back to the last good set
    assert len(checks) == 2 and store.refused is not None and "plan" in store.current().policies
