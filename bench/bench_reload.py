#!/usr/bin/env python3
"""What the last good set, the bounded reload and the whole-line decision log cost.

Measures, on the shipped policies copied to a temp dir (median of --rounds):

1. loading every payer in process (``Registry.load``: what a reload and a start cost before);
2. a bounded check: copy the files aside (``stage``) and load the copy in a forked child with a
   deadline (``check``), which is all a refused or unchanged reload costs now; and the fork and
   pipe overhead alone (a child that loads nothing);
3. an applied reload now (stage + check + load the checked copy in process + publish the last good
   set) and a start (``PolicyStore.open``: the same, plus reading the last good set);
4. a reload with an alias bomb in an overlay (nine levels of nine aliases) under a 3 s bound:
   how long until it is refused, and the worker is free again;
5. decision log appends: the old open/write/close against the new one (flock, size, last byte,
   write, close), microseconds per entry.

Usage (from the repository root):

    PYTHONPATH=. python bench/bench_reload.py               # 5 rounds
    PYTHONPATH=. python bench/bench_reload.py --rounds 3
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from supportable.server import policyfiles  # noqa: E402
from supportable.server.decision_log import DecisionLog  # noqa: E402
from supportable.server.registry import Registry  # noqa: E402
from supportable.server.reload import PolicyStore  # noqa: E402

BOMB = "l0: &l0 [a, a, a, a, a, a, a, a, a]\n" + "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 10))


def timed(fn, rounds):
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times), max(times)


def show(name, figures):
    med, lo, hi = figures
    print(f"{name:<58} median {med * 1000:8.1f} ms   (min {lo * 1000:.1f}, max {hi * 1000:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-reload-"))
    try:
        shutil.copytree(ROOT / "policies", work / "policies")
        shutil.copytree(ROOT / "payers", work / "payers", ignore=shutil.ignore_patterns("tests"))
        policies, payers, snapshot = work / "policies", work / "payers", work / "last-good"
        print(f"policies: {len(policyfiles.source_files(policies, payers))} files, "
              f"{len(Registry.load(policies, payers).policies)} payers; {os.cpu_count()} CPUs; rounds {args.rounds}")
        show("1. Registry.load in process (before)", timed(lambda: Registry.load(policies, payers), args.rounds))

        def stage_and_check():
            staged = policyfiles.stage(policies, payers, None)
            policyfiles.check(staged, None, 60)
            staged.remove()
        show("2. stage + check in a forked child (refused/unchanged now)", timed(stage_and_check, args.rounds))
        real = policyfiles._load_summary
        policyfiles._load_summary = lambda staged, edits: {}
        staged = policyfiles.stage(policies, payers, None)
        show("   fork + pipe overhead alone", timed(lambda: policyfiles.check(staged, None, 60), args.rounds))
        staged.remove()
        policyfiles._load_summary = real

        store = PolicyStore.open(policies, payers, snapshot=snapshot)
        overlay = payers / "commercial.yaml"
        text = overlay.read_text()

        plan = payers / "plan.yaml"
        methods = iter(["total_time", "cpt_per_code"] * args.rounds)

        def applied():
            plan.write_text("id: plan\nname: a plan\nextends: base\nparameters:\n  unit_method:\n"
                            f"    value: {next(methods)}\n    description: how units count\n"
                            "    source: {file: domain-notes.md, section: '1.3'}\n")
            assert store.reload("bench").outcome == "applied"
        show("3. applied reload now (stage, check, load, publish)", timed(applied, args.rounds))
        show("   start-up now (PolicyStore.open with a snapshot)",
             timed(lambda: PolicyStore.open(policies, payers, snapshot=snapshot), args.rounds))

        overlay.write_text(text + "bomb:\n" + "".join("  " + line + "\n" for line in BOMB.splitlines()))
        store.reload_timeout = 3.0
        started = time.perf_counter()
        outcome = store.reload("bench")
        took = time.perf_counter() - started
        codes = sorted({p["code"] for problems in outcome.problems.values() for p in problems})
        print(f"4. alias bomb ({len(BOMB)} bytes) in commercial.yaml under a 3 s bound: {outcome.outcome} after "
              f"{took:.2f} s ({', '.join(codes) or 'no problem'})")
        started = time.perf_counter()
        overlay.write_text(text)
        print(f"   then the fixed file: {store.reload('bench').outcome} after {time.perf_counter() - started:.2f} s")

        n = 20_000
        decision = {"decision_id": "d", "payer": "base", "policy_version": "v", "encounter": "e",
                    "lines": [{"line": "1", "code": "97110", "verdict": "supportable", "units": {"supportable": 1}}]}
        new_log = DecisionLog(work / "new.jsonl")
        data = b'{"id":"d","lines":[]}\n'

        def old_append():
            fd = os.open(work / "old.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        for name, fn in (("old append (open, write, close)", old_append),
                         ("new append (+ flock, fstat, pread)", lambda: new_log.write_line(data)),
                         ("new DecisionLog.append (with JSON encoding)", lambda: new_log.append(decision, {}, "t"))):
            started = time.perf_counter()
            for _ in range(n):
                fn()
            print(f"5. {name:<55} {(time.perf_counter() - started) / n * 1e6:7.1f} us per entry ({n} entries)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
