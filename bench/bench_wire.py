#!/usr/bin/env python3
"""What turning a decision into its JSON document costs, per decision (server/wire).

Decides the first N corpus encounters (examples/corpus/encounters.jsonl) under one payer with full
proofs, then times, per decision, building the document (``wire.decision``, or a checkout's
``Decision.to_dict`` from before the wire types) at explain=full and at explain=summary, and
``json.dumps`` of the full one. Deciding is timed too, to set the figures against.

With ``--against DIR`` (another checkout, e.g. ``git worktree add /tmp/before <commit>`` or ``git
archive <commit> | tar -x -C /tmp/before``), the measurement runs in a child process for each
tree, alternating rounds, so a shared machine's drift hits both alike; the medians of the rounds'
medians are printed side by side.

    PYTHONPATH=. python bench/bench_wire.py                          # this tree
    PYTHONPATH=. python bench/bench_wire.py --against /tmp/before    # before / after, one run
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def measure(count: int, payer: str) -> dict:
    from supportable.engine import Decision, InputError, load_policy_set
    if hasattr(Decision, "to_dict"):                 # a tree from before the wire types
        def document(d, explain=None):
            return d.to_dict(explain)
    else:
        from supportable.server.wire import decision as document
    ps = load_policy_set(REPO / "policies", payer)
    lines = (REPO / "examples" / "corpus" / "encounters.jsonl").read_text().splitlines()[:count]
    decisions, decide_ns = [], []
    for line in lines:
        try:
            enc = ps.parse(json.loads(line))
        except InputError:
            continue
        start = time.perf_counter_ns()
        decisions.append(ps.decide(enc, "full"))
        decide_ns.append(time.perf_counter_ns() - start)

    def per_decision(fn) -> float:
        out = []
        for d in decisions:
            start = time.perf_counter_ns()
            fn(d)
            out.append(time.perf_counter_ns() - start)
        return statistics.median(out) / 1000

    full = [document(d, "full") for d in decisions]
    return {"decisions": len(decisions), "decide_us": statistics.median(decide_ns) / 1000,
            "full_us": per_decision(lambda d: document(d, "full")),
            "summary_us": per_decision(lambda d: document(d, "summary")),
            "full_and_dumps_us": per_decision(lambda d: json.dumps(document(d, "full"))),
            "bytes_mean": statistics.fmean(len(json.dumps(x)) for x in full),
            "digest": __import__("hashlib").sha256(json.dumps(full).encode()).hexdigest()[:16]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=600, help="corpus encounters (default 600)")
    ap.add_argument("--payer", default="aetna")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per tree with --against (default 3)")
    ap.add_argument("--against", type=Path, help="another checkout to measure in the same run")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child or args.against is None:
        print(json.dumps(measure(args.count, args.payer)))
        return
    trees = {"before": args.against.resolve(), "after": REPO}
    results: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            run = subprocess.run([sys.executable, str(Path(__file__)), "--child", "--count", str(args.count),
                                  "--payer", args.payer],
                                 cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True,
                                 check=True)
            results[name].append(json.loads(run.stdout.strip().splitlines()[-1]))
    print(f"command: {' '.join(sys.argv)}")
    print(f"{results['after'][0]['decisions']} decisions, payer {args.payer}, full proofs ~"
          f"{results['after'][0]['bytes_mean'] / 1024:.1f} KiB; medians per decision (µs), median of {args.rounds} rounds")
    print(f"{'':26}{'before':>10}{'after':>10}{'change':>9}")
    for key, label in (("decide_us", "decide (full)"), ("full_us", "document, explain=full"),
                       ("summary_us", "document, explain=summary"), ("full_and_dumps_us", "full + json.dumps")):
        b = statistics.median(r[key] for r in results["before"])
        a = statistics.median(r[key] for r in results["after"])
        print(f"{label:26}{b:10.1f}{a:10.1f}{(a - b) / b * 100:+8.1f}%")
    same = {r["digest"] for r in results["before"] + results["after"]}
    print("documents identical before and after:", "yes" if len(same) == 1 else f"NO ({same})")


if __name__ == "__main__":
    main()
