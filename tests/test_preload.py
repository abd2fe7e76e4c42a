"""Preload: the real gunicorn server loads the policies once, in its master, and forks the workers
from it. A forked worker decides as a process that loaded the policies itself (pyDatalog's
per-thread state and the engine's locks after a fork), and a worker forked later (after a crash or
a kill) serves the set in force, not the master's start-up set: the set a reload applied, or the
last good set when the files on disk are broken."""
import json
import os
import signal
import time
from pathlib import Path

import pytest

from conftest import make_encounter, plan_project, plan_text
from serving import children_of, get, post, running_server
from supportable.server.app import create_app
from supportable.server.settings import Settings

BROKEN = "id: plan\nname: broken\nextends: base\nadd: 3\n"
VISIT = make_encounter([{"code": "97116", "minutes": 22, "units": 2, "documentation": ["gait_impairment"]},
                        {"code": "97110", "minutes": 18, "units": 1}], payer="plan")


@pytest.fixture
def project(tmp_path):
    return plan_project(tmp_path / "project", "cpt_per_code")


def _env(project: Path, **extra) -> dict:
    return {"SUPPORTABLE_POLICIES": str(project / "policies"), "SUPPORTABLE_PAYERS": str(project / "payers"),
            "SUPPORTABLE_SNAPSHOT": str(project / "last-good"), **extra}


def plan_version(port: int) -> str:
    status, body = get(port, "/v1/payers/plan")
    assert status == 200, body
    return json.loads(body)["policy_version"]


def wait_for(predicate, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
            if value:
                return value
        except OSError:
            pass
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def kill_the_worker(proc) -> int:
    """SIGKILL the (one) worker and wait until gunicorn has forked another; its pid."""
    (old,) = children_of(proc.pid)
    os.kill(old, signal.SIGKILL)
    return wait_for(lambda: next(iter(children_of(proc.pid) - {old}), None), "gunicorn did not fork a new worker")


def test_preloaded_workers_decide_as_a_process_that_loaded_the_policies(project, tmp_path):
    app = create_app(Settings.from_env({}, policies=project / "policies", payers=project / "payers",
                                       decision_log=None, snapshot=None, tune_gc=False, reload_interval=0))
    expected = app.test_client().post("/v1/check", json=VISIT).get_json()
    with running_server(tmp_path, workers=2, threads=2, env=_env(project)) as (port, proc):
        log = (tmp_path / "server.log").read_text()
        events = [json.loads(line).get("event") for line in log.splitlines() if line.startswith("{")]
        assert events.count("policies_loaded") == 1            # one load, in the master
        answers = [post(port, "/v1/check", json.dumps(VISIT).encode()) for _ in range(12)]
    for status, _, body in answers:
        assert status == 200
        got = json.loads(body)
        assert got["lines"] == expected["lines"] and got["policy_version"] == expected["policy_version"]


def test_a_reforked_worker_serves_the_set_in_force_not_the_masters(project, tmp_path):
    with running_server(tmp_path, workers=1, threads=2, env=_env(project, SUPPORTABLE_RELOAD_INTERVAL="0.2")) \
            as (port, proc):
        started = plan_version(port)
        # a change the worker applies: the master still holds the start-up set
        (project / "payers" / "plan.yaml").write_text(plan_text("total_time"))
        applied = wait_for(lambda: (v := plan_version(port)) != started and v, "the reload was not applied")
        kill_the_worker(proc)
        assert wait_for(lambda: plan_version(port), "the new worker did not answer") == applied
        assert {plan_version(port) for _ in range(5)} == {applied}
        status, body = post(port, "/v1/check", json.dumps(VISIT).encode())[::2]
        assert status == 200 and json.loads(body)["policy_version"] == applied
        # the files broken on disk: a worker forked now serves the last good set (the applied one)
        (project / "payers" / "plan.yaml").write_text(BROKEN)
        wait_for(lambda: "refused" in json.loads(get(port, "/readyz")[1]), "the worker did not refuse the files")
        kill_the_worker(proc)
        ready = wait_for(lambda: json.loads(get(port, "/readyz")[1]), "the new worker did not answer")
        assert ready["status"] == "degraded" and ready["refused"]["reason"].startswith("start-up")
        assert ready["payers"]["plan"] == {"loaded": True, "policy_version": applied, "engine": "plan"}
        assert plan_version(port) == applied
        assert proc.poll() is None
    log = (tmp_path / "server.log").read_text()
    assert '"event": "policies_reloaded"' in log


def test_a_reforked_worker_keeps_what_it_inherits_when_nothing_changed(project, tmp_path):
    with running_server(tmp_path, workers=1, threads=2, env=_env(project, SUPPORTABLE_RELOAD_INTERVAL="0")) \
            as (port, proc):
        started = plan_version(port)
        kill_the_worker(proc)
        assert wait_for(lambda: plan_version(port), "the new worker did not answer") == started
    log = (tmp_path / "server.log").read_text()
    assert log.count('"event": "policies_inherited"') == 2 and '"event": "policies_reloaded"' not in log


def test_without_preload_every_worker_loads_its_own(project, tmp_path):
    with running_server(tmp_path, workers=2, threads=2, env=_env(project, SUPPORTABLE_PRELOAD="0")) as (port, _):
        wait_for(lambda: (tmp_path / "server.log").read_text().count('"event": "policies_loaded"') == 2,
                 "each worker should log its own load")
        assert plan_version(port)
    assert '"event": "policies_inherited"' not in (tmp_path / "server.log").read_text()
