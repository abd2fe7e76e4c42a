"""Safe hot reload: a good change swaps, a broken change is refused while the old set keeps
serving, requests during a swap each get one consistent policy set, and the triggers (file
watch, admin request, SIGHUP to the real server) work."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, make_encounter, plan_project, plan_text
from serving import stop
from supportable.server.app import create_app, serving_app
from supportable.server.registry import Registry
from supportable.server.reload import PolicyStore
from supportable.server.settings import Settings

TOKEN = "s3cret-token"
UNIT_METHOD = "  unit_method:\n    value: {method}\n"


@pytest.fixture
def project(tmp_path):
    return plan_project(tmp_path, "cpt_per_code")


def settings_for(project, **kw):
    return Settings.from_env({}, policies=project / "policies", payers=project / "payers",
                             decision_log=project / "decisions.jsonl", tune_gc=False, **kw)


VISIT = make_encounter([{"code": "97116", "minutes": 22, "units": 2, "documentation": ["gait_impairment"]},
                        {"code": "97110", "minutes": 18, "units": 1}], payer="plan")


def units(body):
    return [l["units"]["supportable"] for l in body["lines"]]


def test_store_swaps_a_good_change_and_refuses_a_broken_one(project):
    store = PolicyStore(Registry.load(project / "policies", project / "payers"), project / "policies",
                        project / "payers")
    before = store.current()
    assert store.reload("test").outcome == "unchanged" and store.current() is before
    (project / "payers" / "plan.yaml").write_text(plan_text("total_time"))
    applied = store.reload("test")
    assert applied.outcome == "applied" and store.current() is not before
    assert store.current().policies["plan"].parameters["unit_method"].value == "total_time"
    assert applied.versions["plan"] != before.policies["plan"].version
    good = store.current()
    (project / "payers" / "plan.yaml").write_text(plan_text("total_time") + "disable:\n  - id: nope\n    reason: x\n")
    refused = store.reload("test")
    assert refused.outcome == "refused" and store.current() is good
    assert refused.problems["plan"][0]["code"] == "unknown_rule_id"
    assert refused.problems["plan"][0]["file"] == "payers/plan.yaml"
    assert store.last is refused
    # the same broken files are not loaded again on every poll, but stay refused; a fix is picked up
    assert store.reload("test").outcome == "refused"
    (project / "payers" / "plan.yaml").write_text(plan_text("cpt_per_code"))
    assert store.reload("test").outcome == "applied"


def test_a_payer_that_was_already_broken_does_not_block_a_reload(project):
    (project / "payers" / "broken.yaml").write_text("id: broken\nname: B\nextends: nowhere\n")
    store = PolicyStore(Registry.load(project / "policies", project / "payers"), project / "policies",
                        project / "payers")
    assert "broken" in store.current().failed
    (project / "payers" / "plan.yaml").write_text(plan_text("total_time"))
    assert store.reload("test").outcome == "applied"
    (project / "payers" / "commercial.yaml").write_text("id: commercial\nname: C\nextends: nowhere\n")
    outcome = store.reload("test")
    assert outcome.outcome == "refused" and list(outcome.problems) == ["commercial"]


def test_admin_reload_over_http(project):
    app = create_app(settings_for(project, admin_token=TOKEN, reload_interval=0))
    client = app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    first = client.post("/v1/check", json=VISIT).get_json()
    assert units(first) == [1, 1]
    assert client.post("/admin/reload").status_code == 401
    assert client.post("/admin/reload", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/admin/reload", headers=auth).get_json()["outcome"] == "unchanged"

    (project / "payers" / "plan.yaml").write_text(plan_text("total_time"))
    reply = client.post("/admin/reload", headers=auth)
    assert reply.status_code == 200 and reply.get_json()["outcome"] == "applied"
    second = client.post("/v1/check", json=VISIT).get_json()
    assert units(second) == [2, 1] and second["policy_version"] != first["policy_version"]
    assert client.get("/v1/payers/plan").get_json()["policy_version"] == second["policy_version"]

    (project / "payers" / "plan.yaml").write_text("id: plan\nname: broken\nextends: base\nadd: 3\n")
    refused = client.post("/admin/reload", headers=auth)
    assert refused.status_code == 409 and refused.get_json()["outcome"] == "refused"
    third = client.post("/v1/check", json=VISIT).get_json()
    assert units(third) == [2, 1] and third["policy_version"] == second["policy_version"]   # the last good set
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "degraded" and ready["last_reload"]["outcome"] == "refused"
    assert ready["last_reload"]["problems"]["plan"][0]["code"] == "overlay_format"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'supportable_policy_reloads_total{outcome="refused"} 1.0' in metrics
    assert 'supportable_policy_reloads_total{outcome="applied"} 1.0' in metrics


def test_admin_reload_is_off_without_a_token(project):
    client = create_app(settings_for(project, reload_interval=0)).test_client()
    reply = client.post("/admin/reload", headers={"Authorization": "Bearer x"})
    assert reply.status_code == 404 and "SUPPORTABLE_ADMIN_TOKEN" in reply.get_json()["detail"]


def test_file_changes_are_picked_up_by_the_watcher(project):
    app = serving_app(settings_for(project, reload_interval=0.1))
    client = app.test_client()
    try:
        before = client.get("/v1/payers/plan").get_json()["policy_version"]
        (project / "payers" / "plan.yaml").write_text(plan_text("total_time"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if client.get("/v1/payers/plan").get_json()["policy_version"] != before:
                break
            time.sleep(0.05)
        assert units(client.post("/v1/check", json=VISIT).get_json()) == [2, 1]
    finally:
        app.extensions["supportable"].store.stop()


def _nodes(node):
    yield node
    for p in node.get("premises", []):
        yield from _nodes(p)


def test_requests_during_swaps_each_see_one_consistent_set(project):
    app = create_app(settings_for(project, admin_token=TOKEN, reload_interval=0))
    expected = {}   # policy version -> units under it
    for method in ("total_time", "cpt_per_code"):
        (project / "payers" / "plan.yaml").write_text(plan_text(method))
        app.extensions["supportable"].store.reload("setup", force=True)
        body = app.test_client().post("/v1/check", json=VISIT).get_json()
        expected[body["policy_version"]] = units(body)
    assert sorted(expected.values()) == [[1, 1], [2, 1]]
    answers, errors, stop = [], [], threading.Event()

    def client_loop():
        client = app.test_client()
        while not stop.is_set():
            reply = client.post("/v1/check?explain=full", json=VISIT)
            if reply.status_code != 200:
                errors.append(reply.status_code)
            else:
                body = reply.get_json()
                answers.append((body["policy_version"], units(body),
                                {n["rule"]["id"] for l in body["lines"] for r in l["proof"]["derivations"]
                                 for n in _nodes(r) if "rule" in n}))
            time.sleep(0.01)    # leaves the GIL to the reloads now and then, so the clients do not starve them

    threads = [threading.Thread(target=client_loop) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(6):
            (project / "payers" / "plan.yaml").write_text(plan_text(["total_time", "cpt_per_code"][i % 2]))
            assert app.extensions["supportable"].store.reload("swap").outcome == "applied"
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == [] and len(answers) > 10
    versions = set()
    for version, got, rules in answers:
        assert got == expected[version]           # the units belong to the version the answer names
        total_time = any(r.startswith("base.units.total_time") for r in rules)
        assert total_time == (got == [2, 1])       # and so does the proof
        versions.add(version)
    assert len(versions) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sighup_reloads_the_real_server_in_place(project):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTABLE_")}
    env.update(PYTHONPATH=str(ROOT), SUPPORTABLE_RELOAD_INTERVAL="0")   # only SIGHUP can reload
    server = subprocess.Popen([sys.executable, "-m", "supportable.cli", "serve", "--port", str(port), "--workers", "2",
                               "--threads", "2", "--policies", str(project / "policies"),
                               "--payers", str(project / "payers"), "--decision-log", str(project / "d.jsonl")],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(project / "server.log", "wb"))
    base = f"http://127.0.0.1:{port}"

    def get(path):
        with urllib.request.urlopen(base + path, timeout=10) as reply:
            return json.loads(reply.read())

    def versions_seen(n=30):
        return {get("/v1/payers/plan")["policy_version"] for _ in range(n)}

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get("/readyz")["status"] == "ready":
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        before = versions_seen()
        assert len(before) == 1
        (project / "payers" / "plan.yaml").write_text(plan_text("total_time"))
        server.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while versions_seen() & before:
            assert time.monotonic() < deadline, "workers did not reload"
            time.sleep(0.2)
        assert server.poll() is None       # reloaded in place, not restarted or stopped
        (project / "payers" / "plan.yaml").write_text("id: plan\nname: broken\nextends: base\nadd: 3\n")
        server.send_signal(signal.SIGHUP)
        time.sleep(2)
        after = versions_seen()
        assert len(after) == 1 and after != before           # still the last good set
        assert get("/readyz")["last_reload"]["outcome"] == "refused"
    finally:
        stop(server, timeout=20)


def test_a_new_payer_that_does_not_load_yet_does_not_hold_back_the_others(project):
    store = PolicyStore(Registry.load(project / "policies", project / "payers"), project / "policies",
                        project / "payers")
    (project / "payers" / "draft.yaml").write_text("id: draft\nname: half-written\nextends: nowhere\n")
    (project / "payers" / "plan.yaml").write_text(plan_text("total_time"))
    outcome = store.reload("test")
    assert outcome.outcome == "applied"
    assert outcome.problems["draft"][0]["code"] in ("unknown_payer", "unknown_parent")
    assert store.current().policies["plan"].parameters["unit_method"].value == "total_time"
    assert "draft" in store.current().failed


def test_a_change_that_leaves_every_policy_the_same_keeps_the_engines(project):
    store = PolicyStore(Registry.load(project / "policies", project / "payers"), project / "policies",
                        project / "payers")
    before = store.current()
    path = project / "payers" / "plan.yaml"
    path.write_text(path.read_text() + "# a comment changes the file, not the policy\n")
    assert store.reload("test").outcome == "unchanged" and store.current() is before
    (project / "payers" / "tests").mkdir()
    (project / "payers" / "tests" / "case.yaml").write_text("payer: plan\ncases: []\n")   # tests are not policies
    assert store.reload("test").outcome == "unchanged"
