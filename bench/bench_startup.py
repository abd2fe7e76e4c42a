#!/usr/bin/env python3
"""What starting costs: the command line, the ICD-10-CM index, and the server with and without preload.

1. ``supportable check examples/encounters/mixed_visit.json``, ``supportable --version`` and
   ``supportable payers``: wall time (median of --runs, each in a fresh process) and peak RSS;
2. the ICD-10-CM index, in a fresh process: the code list (codes, billable codes, the release:
   what deciding under the base needs) and the hierarchy (parents and titles: ``@icd10_within``),
   time and RSS each adds;
3. the server (``supportable serve``, --workers, the shipped policies): from the command to the
   first ``/readyz`` 200 and to every worker ready, with preload (one load, in the master) and
   without (one per worker), a first start (no last good set yet: the files are checked in a child,
   then loaded) and a restart (the files are the last good set: one load); then, after --requests decisions spread over the workers, each
   worker's RSS, PSS and USS (private pages; from /proc/<pid>/smaps_rollup), and the master's.

Usage (from the repository root):

    .venv/bin/python bench/bench_startup.py                # 5 runs, 2 workers
    .venv/bin/python bench/bench_startup.py --runs 9 --workers 4
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from serving import children_of  # noqa: E402  (the tests' helpers for a running server)

ROOT = Path(__file__).resolve().parent.parent
ENCOUNTER = "examples/encounters/mixed_visit.json"
CLI = [sys.executable, "-m", "supportable.cli"]


def timed_run(args: list[str]) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MB, CPU seconds) of one command in a fresh process."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def commands(runs: int) -> dict:
    out = {}
    for name, args in (("check", ["check", ENCOUNTER]), ("--version", ["--version"]), ("payers", ["payers"])):
        timed_run(CLI + args)                         # warm the file cache and the bytecode
        samples = [timed_run(CLI + args) for _ in range(runs)]
        out[name] = {"median_s": round(statistics.median(s[0] for s in samples), 3),
                     "min_s": round(min(s[0] for s in samples), 3),
                     "cpu_s": round(statistics.median(s[2] for s in samples), 3),
                     "peak_rss_mb": round(statistics.median(s[1] for s in samples), 1)}
    return out


ICD_PROBE = """
import json, time
def rss():
    return int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1]) / 1024
from supportable.engine import icd10
out, before = {}, rss()
for tier, load in (("code_list", getattr(icd10, "code_list", None)), ("hierarchy", icd10.code_set)):
    if load is None:     # a version with one tier
        out[tier] = {"seconds": 0.0, "rss_mb": 0.0}
        continue
    started = time.perf_counter(); load()
    out[tier] = {"seconds": round(time.perf_counter() - started, 3), "rss_mb": round(rss() - before, 1)}
    before = rss()
print(json.dumps(out))
"""


def icd_cost(runs: int) -> dict:
    samples = [json.loads(subprocess.run([sys.executable, "-c", ICD_PROBE], cwd=ROOT, capture_output=True, text=True,
                                         check=True).stdout) for _ in range(runs)]
    return {tier: {key: statistics.median(s[tier][key] for s in samples) for key in ("seconds", "rss_mb")}
            for tier in ("code_list", "hierarchy")}


# -- the server ------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status
    except OSError:
        return 0


def memory(pid: int) -> dict:
    """RSS, PSS and USS (private clean + dirty) in MB, from /proc/<pid>/smaps_rollup."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        fields[name] = int(rest.split()[0]) / 1024
    return {"rss_mb": round(fields["Rss"], 1), "pss_mb": round(fields["Pss"], 1),
            "uss_mb": round(fields["Private_Clean"] + fields["Private_Dirty"], 1)}


def server(workers: int, preload: bool, requests: int, snapshot: Path) -> dict:
    port, work = _free_port(), Path(tempfile.mkdtemp(prefix="bench-startup-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTABLE_")}
    env.update(PYTHONPATH=str(ROOT), SUPPORTABLE_PRELOAD="1" if preload else "0",
               SUPPORTABLE_SNAPSHOT=str(snapshot), SUPPORTABLE_RELOAD_INTERVAL="0")
    log = open(work / "server.log", "wb")
    started = time.perf_counter()
    proc = subprocess.Popen(CLI + ["serve", "--port", str(port), "--workers", str(workers),
                                   "--decision-log", str(work / "decisions.jsonl")],
                            cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        while _get(port, "/readyz") != 200:
            assert proc.poll() is None and time.perf_counter() - started < 120, (work / "server.log").read_text()[-2000:]
            time.sleep(0.02)
        first = time.perf_counter() - started
        while True:     # each worker logs policies_inherited or _reloaded (preload), or policies_loaded
            text = (work / "server.log").read_text()
            forked = text.count('"event": "policies_inherited"') + text.count('"event": "policies_reloaded"')
            if max(forked, text.count('"event": "policies_loaded"') if not forked else 0) >= workers:
                break
            assert time.perf_counter() - started < 120, text[-2000:]
            time.sleep(0.02)
        every = time.perf_counter() - started
        body = (ROOT / ENCOUNTER).read_bytes()
        for _ in range(requests):       # new connections: spread over the workers
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/check", body,
                                         {"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=10).read()
        kids = sorted(children_of(proc.pid))
        per_worker = [memory(pid) for pid in kids]
        out = {"first_ready_s": round(first, 3), "all_workers_ready_s": round(every, 3), "master": memory(proc.pid)}
        for key in ("rss_mb", "pss_mb", "uss_mb"):
            out[f"worker_{key}"] = round(statistics.mean(m[key] for m in per_worker), 1)
        out["workers"] = len(kids)
        return out
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (median)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=40, help="decisions made before memory is read")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    snapshot = Path(tempfile.mkdtemp(prefix="bench-startup-last-good-"))
    try:
        # the first start has no last good set (its files are checked in a child, then loaded); a
        # restart with the same files loads them once
        servers = {"preload, first start": server(args.workers, True, args.requests, snapshot),
                   "preload, restart": server(args.workers, True, args.requests, snapshot),
                   "no preload, restart": server(args.workers, False, args.requests, snapshot)}
    finally:
        shutil.rmtree(snapshot, ignore_errors=True)
    results = {"commands": commands(args.runs), "icd10": icd_cost(max(3, args.runs // 2)), "server": servers,
               "load_average": os.getloadavg()[0], "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps(results, indent=1))
        return
    print(f"supportable start-up ({args.runs} runs each, median; load average {results['load_average']:.2f} "
          f"on {results['cpus']} CPUs)")
    for name, r in results["commands"].items():
        print(f"  supportable {name:<10} {r['median_s'] * 1000:7.0f} ms (min {r['min_s'] * 1000:.0f}, CPU "
              f"{r['cpu_s'] * 1000:.0f})  "
              f"peak RSS {r['peak_rss_mb']:.0f} MB")
    for tier, r in results["icd10"].items():
        print(f"  ICD-10-CM {tier:<10} {r['seconds'] * 1000:7.0f} ms  +{r['rss_mb']:.0f} MB RSS")
    print(f"server, {args.workers} workers, after {args.requests} decisions:")
    for name, r in results["server"].items():
        print(f"  {name:<20} first ready {r['first_ready_s']:.2f} s, every worker {r['all_workers_ready_s']:.2f} s; "
              f"per worker RSS {r['worker_rss_mb']:.0f} MB, PSS {r['worker_pss_mb']:.0f} MB, USS "
              f"{r['worker_uss_mb']:.0f} MB; master RSS {r['master']['rss_mb']:.0f} MB")
    print("reproduce: .venv/bin/python bench/bench_startup.py"
          + (f" --runs {args.runs}" if args.runs != 5 else "") + (f" --workers {args.workers}" if args.workers != 2 else ""))


if __name__ == "__main__":
    main()
