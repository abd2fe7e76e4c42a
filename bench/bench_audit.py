#!/usr/bin/env python3
"""Audit throughput on Dask: encounters/s with 1 and 2 local worker processes, the scaling ratio, and
each worker's peak memory.

    PYTHONPATH=. .venv/bin/python bench/bench_audit.py                          # 100,000 encounters, 1 and 2 workers
    PYTHONPATH=. .venv/bin/python bench/bench_audit.py --count 2000 --workers 1,2

The corpus is bench/audit_corpus.py's (realistic encounters with a payer and charges, by seed),
written once to ``var/audit-corpus-SEED-COUNT.ndjson`` and reused. For each worker count a
``LocalCluster`` of that many single-threaded worker processes is started and every worker loads the
policies (``prepare``, not timed: reported as start-up); then the whole audit is timed as
``supportable audit`` runs it (``run_audit``: read, partition, decide on the workers with the
decision documents of ``check --format json``, write NDJSON in input order, summarise), and each
worker's peak resident memory (``ru_maxrss``) is read when it ends. The scaling ratio is 2 workers'
encounters/s over 1 worker's, measured in the same run; the machine's load during each run is printed
beside it (on a machine shared with other jobs, the ratio is the meaningful figure).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for _p in (REPO, REPO / "bench"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import bench_engine as be  # noqa: E402  (the machine's description and its load)


def peak_rss_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(workers: int, corpus: Path, partition: int, settings) -> dict:
    from distributed import Client, LocalCluster
    from supportable.audit import AuditJob, run_audit
    from supportable.audit.worker import prepare
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        client.run(prepare, settings)
        startup = time.perf_counter() - t0
        cpu0 = be.cpu_times()
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "results.ndjson"
            started = time.perf_counter()
            summary = run_audit(AuditJob([corpus], out, settings, partition_size=partition, client=client))
            wall = time.perf_counter() - started
            size = out.stat().st_size
        busy = be.contention(cpu0)
        peaks = client.run(peak_rss_mb)
    finally:
        client.close()
        cluster.close()
    return {"workers": workers, "encounters": summary["encounters"], "invalid": summary["invalid"],
            "wall_s": round(wall, 2), "encounters_per_s": round(summary["encounters"] / wall, 1),
            "startup_s": round(startup, 2), "peak_rss_mb_per_worker": sorted(round(v, 1) for v in peaks.values()),
            "results_mb": round(size / 1e6, 1), "machine_during_run": busy,
            "by_verdict": summary["by_verdict"], "at_risk": summary["money"]["at_risk"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=100_000, help="encounters (default 100000)")
    ap.add_argument("--seed", type=int, default=2026, help="corpus seed (default 2026)")
    ap.add_argument("--workers", default="1,2", help="worker counts to run (default 1,2)")
    ap.add_argument("--partition-size", type=int, default=250, help="encounters per task (default 250)")
    ap.add_argument("--corpus-dir", type=Path, default=REPO / "var", help="where the corpus is written and reused "
                    "(default var/)")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    args = ap.parse_args(argv)
    counts = [int(c) for c in args.workers.split(",") if c]
    from supportable import engine as facade
    from supportable.audit import Settings
    corpus = args.corpus_dir / f"audit-corpus-{args.seed}-{args.count}.ndjson"
    if not corpus.exists():
        import audit_corpus
        audit_corpus.main(["--count", str(args.count), "--seed", str(args.seed), "--output", str(corpus)])
    policies = REPO / "policies"
    settings = Settings(str(policies), None, None, facade.DEFAULT_ENGINE, None, "summary",
                        facade.PolicySources.from_dirs(policies).digest())
    canonical = [sys.executable, os.path.relpath(Path(__file__).resolve(), REPO), "--count", str(args.count),
                 "--seed", str(args.seed), "--workers", ",".join(map(str, counts)),
                 "--partition-size", str(args.partition_size)]
    print("Supportable audit throughput on Dask (decision documents as `check --format json`, NDJSON in order)")
    print(f"command:  cd {shlex.quote(str(REPO))} && PYTHONPATH=. {shlex.join(canonical)}")
    print(f"machine:  {', '.join(f'{k}={v}' for k, v in be.machine().items())}")
    print(f"workload: {args.count} encounters of bench/audit_corpus.py (seed {args.seed}, {corpus.name}), "
          f"each under its own payer; {args.partition_size} per task")
    rows = []
    for n in counts:
        row = run(n, corpus, args.partition_size, settings)
        rows.append(row)
        load = row["machine_during_run"].get("loadavg_1_5_15")
        print(f"  {n} worker(s): {row['encounters_per_s']:8.1f} encounters/s ({row['encounters']} in {row['wall_s']} s; "
              f"start-up {row['startup_s']} s; peak memory per worker {row['peak_rss_mb_per_worker']} MB; "
              f"load average {load})", flush=True)
    one = next((r for r in rows if r["workers"] == 1), None)
    if one:
        for r in rows:
            if r["workers"] != 1:
                print(f"  scaling: {r['workers']} workers x{r['encounters_per_s'] / one['encounters_per_s']:.2f} "
                      "of 1 worker")
    if args.json:
        Path(args.json).write_text(json.dumps({"command": shlex.join(canonical), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
