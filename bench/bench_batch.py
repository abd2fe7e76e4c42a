#!/usr/bin/env python3
"""Batch throughput with full proofs: encounters decided per second by 1 and by N processes.

What a batch run does per encounter, without HTTP: read the encounter's JSON text, validate it
against its payer (``PolicySet.read_encounter``), decide with full proofs, build the decision
document (``wire.decision(explain="full")``) and serialise it to JSON. The encounters are the engine
benchmark's (bench/bench_engine.py: same generator and seed, only encounters every payer accepts),
each assigned a payer round-robin. Every payer's policy set is loaded once in this process; the
worker processes are forked from it afterwards (as gunicorn's preload does), so they share the
loaded policies and start deciding at once.

For each process count (``--processes``, default 1,2) the pool is split into equal contiguous
shares, every process decides its share after a short warm-up of its own, and the wall time from
the moment all workers are ready to the last one's finish gives encounters/s. Each row also shows
the scaling against one process measured in the same run (a ratio, meaningful on a shared machine
when the absolute figures are not) and the CPU other processes used meanwhile.

    PYTHONPATH=. .venv/bin/python bench/bench_batch.py                    # 4000 encounters, 1 and 2 processes
    PYTHONPATH=. .venv/bin/python bench/bench_batch.py --count 1000 --processes 1,2 --payers base
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shlex
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import bench_engine as be  # noqa: E402  (the generator, the machine description, CPU contention)
from supportable.engine.policyset import load_policy_set  # noqa: E402
from supportable.server.wire import decision as decision_document  # noqa: E402

DEFAULT_PAYERS = "base,commercial,medicare,aetna,aetna_medicare"
WARMUP_PER_PROCESS = 50

_POLICIES: dict = {}          # payer -> PolicySet, loaded before the fork
_WORK: list[tuple[str, str]] = []


def decide_text(payer: str, text: str) -> bytes:
    ps = _POLICIES[payer]
    decision = ps.decide(ps.read_encounter(json.loads(text)), "full")
    return json.dumps(decision_document(decision, "full"), separators=(",", ":")).encode()


def worker(share: tuple[int, int], ready, go, out) -> None:
    start, end = share
    for i in range(start, min(start + WARMUP_PER_PROCESS, end)):
        decide_text(*_WORK[i])
    ready.wait()
    go.wait()
    t0 = time.perf_counter()
    size = 0
    for i in range(start, end):
        size += len(decide_text(*_WORK[i]))
    out.put((end - start, time.perf_counter() - t0, size))


def run(processes: int) -> dict:
    ctx = mp.get_context("fork")
    ready, go, out = ctx.Barrier(processes + 1), ctx.Barrier(processes + 1), ctx.Queue()
    n = len(_WORK)
    shares = [(k * n // processes, (k + 1) * n // processes) for k in range(processes)]
    procs = [ctx.Process(target=worker, args=(share, ready, go, out)) for share in shares]
    for p in procs:
        p.start()
    ready.wait()
    cpu0 = be.cpu_times()
    t0 = time.perf_counter()
    go.wait()
    results = [out.get() for _ in procs]
    wall = time.perf_counter() - t0
    busy = be.contention(cpu0)
    for p in procs:
        p.join()
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise SystemExit(f"a worker process failed: exit codes {failed}")
    decided = sum(r[0] for r in results)
    return {"processes": processes, "encounters": decided, "wall_s": wall, "encounters_per_s": decided / wall,
            "per_process_s": [round(r[1], 3) for r in results], "json_bytes": sum(r[2] for r in results),
            "machine_during_run": busy}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=4000, help="encounters decided per process count (default 4000)")
    ap.add_argument("--processes", default="1,2", help="process counts to run, e.g. 1,2 (default 1,2)")
    ap.add_argument("--payers", default=DEFAULT_PAYERS, help=f"payers, round-robin (default {DEFAULT_PAYERS})")
    ap.add_argument("--seed", type=int, default=be.DEFAULT_SEED, help=f"generator seed (default {be.DEFAULT_SEED})")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    args = ap.parse_args(argv)
    payers = [p for p in args.payers.split(",") if p]
    counts = [int(c) for c in args.processes.split(",") if c]
    if not payers or not counts or min(counts) < 1 or args.count < max(counts):
        ap.error("need payers, process counts >= 1 and at least one encounter per process")

    for payer in payers:
        _POLICIES[payer] = load_policy_set(be.POLICIES, payer)
    pool_ps = {payer: _POLICIES[payer] for payer in payers}
    if be.BASE not in pool_ps:
        pool_ps[be.BASE] = load_policy_set(be.POLICIES, be.BASE)
    _, texts, stats = be.generate_for_payers(pool_ps, args.count, args.seed)
    _WORK[:] = [(payers[i % len(payers)], text) for i, text in enumerate(texts)]

    canonical = [sys.executable, os.path.relpath(Path(__file__).resolve(), REPO), "--count", str(args.count),
                 "--processes", ",".join(map(str, counts)), "--payers", ",".join(payers), "--seed", str(args.seed)]
    print("Supportable batch throughput (full proofs, decision JSON; no HTTP)")
    print(f"command:  cd {shlex.quote(str(REPO))} && PYTHONPATH=. {shlex.join(canonical)}")
    print(f"machine:  {', '.join(f'{k}={v}' for k, v in be.machine().items())}")
    print(f"workload: {len(_WORK)} encounters (seed {args.seed}, {stats['skipped']} refused by some payer and "
          f"regenerated), payers round-robin: {', '.join(payers)}; each process warms up on "
          f"{WARMUP_PER_PROCESS} of its share first")
    rows = [run(k) for k in counts]
    one = next((r for r in rows if r["processes"] == 1), None)
    for r in rows:
        scale = f"  x{r['encounters_per_s'] / one['encounters_per_s']:.2f} of 1 process" if one else ""
        busy = r["machine_during_run"]
        other = f"; machine idle {busy['idle_pct']:.0f}%" if "idle_pct" in busy else ""
        print(f"  {r['processes']} process(es): {r['encounters_per_s']:8.1f} encounters/s "
              f"({r['encounters']} in {r['wall_s']:.2f} s; per process {r['per_process_s']} s){scale}{other}")
    if args.json:
        Path(args.json).write_text(json.dumps({"command": shlex.join(canonical), "workload": stats, "rows": rows},
                                              indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
