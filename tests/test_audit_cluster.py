"""`supportable audit --scheduler` against a real Dask cluster: a `dask scheduler` and two `dask worker`
processes (the distributed package's own commands) on 127.0.0.1, each a separate process; then one
worker is killed (SIGKILL) while the audit runs, and the audit still decides every encounter exactly
once, in input order, as one process would."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_audit import one_process, read_results

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "examples" / "corpus" / "encounters.jsonl"
DASK = Path(sys.executable).parent / "dask"
N = 100         # encounters of the kill test: small enough to stay quick on a loaded machine, enough
                # that an unloaded one is still deciding when the worker is killed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-threaded workers without nannies (a killed worker stays dead)."""
    assert DASK.is_file(), f"the distributed package's `dask` command is missing ({DASK})"
    logs = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", f"127.0.0.1:{free_port()}"],
                              stdout=subprocess.DEVNULL, stderr=(logs / "scheduler.log").open("w"), cwd=logs)]
    try:
        for n in range(2):
            procs.append(subprocess.Popen([str(DASK), "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                                           "--no-nanny", "--no-dashboard", "--name", f"w{n}"],
                                          stdout=subprocess.DEVNULL, stderr=(logs / f"worker{n}.log").open("w"),
                                          cwd=logs))
        from distributed import Client
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            workers = {info["name"]: addr for addr, info in client.scheduler_info()["workers"].items()}
        yield {"address": address, "procs": {"w0": procs[1], "w1": procs[2]}, "workers": workers, "logs": logs}
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()


def corpus_of(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "corpus.ndjson"
    path.write_text("\n".join(CORPUS.read_text().splitlines()[:count]) + "\n")
    return path


def audit_command(corpus: Path, out: Path, address: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "supportable", "audit", str(corpus), "--payer", "medicare", "--output", str(out),
            "--scheduler", address, "--summary-json", *extra]


def test_an_audit_through_the_scheduler_address(cluster, tmp_path):
    corpus, out = corpus_of(tmp_path, 12), tmp_path / "r.ndjson"
    run = subprocess.run(audit_command(corpus, out, cluster["address"], "--partition-size", "2"),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["cluster"] == cluster["address"]
    assert set(summary["workers"]) == set(cluster["workers"].values()) and sum(summary["workers"].values()) == 6
    assert set(summary["policy_loads_by_worker"].values()) == {1}
    results = read_results(out)
    assert [r["index"] for r in results] == list(range(12))
    assert [r.get("decision") for r in results] == one_process(corpus, "medicare")


ODD_VERSION = """
from supportable.audit import worker
if not hasattr(worker._Policies, "honest_versions"):          # dask may run a preload more than once
    worker._Policies.honest_versions = worker._Policies.versions
    worker._Policies.versions = lambda self: {**self.honest_versions(), "medicare": "sha256:0dd0dd0dd0dd0dd0"}
"""


def test_a_worker_with_another_policy_version_is_named(cluster, tmp_path):
    from distributed import Client
    preload = tmp_path / "odd_version.py"      # this worker's build reports another version for medicare
    preload.write_text(ODD_VERSION)
    odd = subprocess.Popen([str(DASK), "worker", cluster["address"], "--host", "127.0.0.1", "--nthreads", "1",
                            "--no-nanny", "--no-dashboard", "--name", "odd", "--preload", str(preload)],
                           stdout=subprocess.DEVNULL, stderr=(tmp_path / "odd.log").open("w"), cwd=tmp_path)
    try:
        with Client(cluster["address"], timeout="30s") as client:
            client.wait_for_workers(3, timeout=60)
            odd_address = next(a for a, i in client.scheduler_info()["workers"].items() if i["name"] == "odd")
        corpus = corpus_of(tmp_path, 4)
        run = subprocess.run(audit_command(corpus, tmp_path / "r.ndjson", cluster["address"]),
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 4, run.stderr
        error = json.loads(run.stdout)
        assert error["error"] == "policy_mismatch"
        assert f"{odd_address}: `medicare` sha256:0dd0dd0dd0dd0dd0 (others sha256:" in error["message"]
        assert not (tmp_path / "r.ndjson").exists()          # nothing decided with mixed versions
    finally:
        odd.terminate()
        odd.wait(timeout=30)
        with Client(cluster["address"], timeout="30s") as client:
            deadline = time.monotonic() + 30
            while len(client.scheduler_info()["workers"]) != 2 and time.monotonic() < deadline:
                time.sleep(0.1)


def test_a_days_claims_page_runs_on_the_cluster_and_shows_what_the_web_worker_shows(cluster, tmp_path):
    # SUPPORTABLE_DASK_SCHEDULER: the web page's day's-claims job is decided by the audit on this cluster
    # (server/web/day_audit.py), and the page shows the same lines, totals and unreadable claims as the
    # same upload decided in the web worker (issue 16 on issue 15's path).
    import io
    import re
    from supportable.server.app import create_app
    from supportable.server.registry import Registry
    from supportable.server.settings import Settings
    lines = CORPUS.read_text().splitlines()[:12]
    text = "\n".join(lines[:5] + ['{"id": "broken"'] + lines[5:]) + "\n"

    def run(env: dict, jobs: Path) -> tuple[str, str]:
        settings = Settings.from_env(env, tune_gc=False, reload_interval=0, decision_log="", snapshot="",
                                     web_jobs=str(jobs))
        client = create_app(settings, Registry.load(settings.policies)).test_client()
        answer = client.post("/day", data={"claims_file": (io.BytesIO(text.encode()), "day.ndjson")},
                             content_type="multipart/form-data")
        assert answer.status_code == 303, answer.data[:500]
        location = answer.headers["Location"]
        deadline = time.monotonic() + 120
        while client.get(location + "/status").get_json()["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, "the day's job did not finish"
            time.sleep(0.2)
        assert client.get(location + "/status").get_json()["status"] == "done"
        html = client.get(location).data.decode()
        failed = re.search(r'<ul id="failed">(.*?)</ul>', html, re.S)
        return (re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)), client.get(location + "/results.csv").data.decode(),
                failed.group(1) if failed else None)

    on_cluster, csv_cluster, failed_cluster = run({"SUPPORTABLE_DASK_SCHEDULER": cluster["address"]}, tmp_path / "a")
    here, csv_here, failed_here = run({}, tmp_path / "b")
    assert f"Checked on the Dask cluster at {cluster['address']}" in on_cluster
    assert "Checked on this server" in here
    def without_ids(text: str) -> list[str]:      # each decision's id is its own (the last column)
        return [row.rsplit(",", 1)[0] for row in text.splitlines()]
    assert without_ids(csv_cluster) == without_ids(csv_here) and csv_here.count("\n") > 12   # every line, in order
    assert csv_here.splitlines()[0].endswith(",decision_id")
    summary = re.search(r"13 claim\(s\), 12 checked, 1 could not be read; \d+ line\(s\)", on_cluster)
    assert summary and summary.group(0) in here
    assert failed_cluster == failed_here and failed_here and "line 6" in failed_here     # the unreadable one, in place


def test_a_worker_killed_mid_audit_loses_nothing(cluster, tmp_path):
    corpus, out = corpus_of(tmp_path, N), tmp_path / "r.ndjson"
    audit = subprocess.Popen(audit_command(corpus, out, cluster["address"], "--partition-size", "1"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        # the output is opened once the workers have loaded their policies and the first partitions are
        # sent: from then on, partitions run on both workers
        while not out.exists() and audit.poll() is None:
            assert time.monotonic() < deadline, "the audit never started"
            time.sleep(0.01)
        assert audit.poll() is None, "the audit ended before a worker could be killed"
        victim = cluster["procs"]["w0"]
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        written_at_kill = len(out.read_text().splitlines())
        stdout, stderr = audit.communicate(timeout=120)
    finally:
        if audit.poll() is None:
            audit.kill()
    assert audit.returncode == 0, stderr
    assert written_at_kill < N
    summary = json.loads(stdout)
    assert summary["encounters"] == summary["decided"] == N
    results = read_results(out)
    assert [r["index"] for r in results] == list(range(N))          # each once, in order
    assert [r["decision"] for r in results] == one_process(corpus, "medicare")
    survivor = cluster["workers"]["w1"]
    assert summary["workers"][survivor] >= 1
