#!/usr/bin/env python3
"""Evaluation by pyDatalog (the reference) and by the evaluation plan, side by side, per payer.

In one process: every payer's policy set built twice from one parse, once per engine
(``load_policy_set(..., engine=)``; the build's ``evaluator`` stage time of each is reported). The encounters are the engine
benchmark's (bench/bench_engine.py: same generator, same seed, only encounters every payer accepts),
parsed outside the timed window. Per payer, after a warm-up, these are timed per encounter on the
same encounters, interleaved in chunks of 100 so drift of a shared machine hits them alike:

    evaluate   pydatalog | plan | plan recording the first derivations | plan recording all
    decide     decide + wire.decision(explain="full") under each engine: pyDatalog with the explainer's
               searched proofs; the plan as ``PolicySet.decide`` has it, proofs read from its recorded
               derivations (engine.plan.proofs); and the plan's model with the searched proofs (plain)

and reported as median / p90 / p99 in ms, the ratio pydatalog / plan of each, and the total time of
the full-proof decisions. Percentiles are nearest-rank.

    PYTHONPATH=. python bench/bench_plan.py                   # 1000 encounters per payer
    PYTHONPATH=. python bench/bench_plan.py --quick           # 200
    PYTHONPATH=. python bench/bench_plan.py --payer base --json out.json
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import bench_engine as be  # noqa: E402  (the generator, the interleaving and the summaries)
from supportable.engine.decision import decide  # noqa: E402
from supportable.engine.explain import Explainer  # noqa: E402
from supportable.engine.plan import derive  # noqa: E402
from supportable.server import wire  # noqa: E402
from supportable.engine import PolicySources, parse_sources  # noqa: E402
from supportable.engine.policyset import load_policy_set, payer_ids  # noqa: E402

DEFAULT_COUNT, QUICK_COUNT = 1000, 200
PASSES = ("eval pydatalog", "eval plan", "eval plan+first", "eval plan+all", "decide pydatalog", "decide plan",
          "decide plan+plain")


def plain(plan, enc):
    """The plan's model, proofs searched by the plain explainer (as before proofs read provenance)."""
    model = plan.evaluate(enc)
    return decide(enc, model, Explainer(plan.program, model), plan.payer, plan.version, "full")


def passes(reference, plan) -> dict:
    return {
        "eval pydatalog": reference.evaluate,
        "eval plan": plan.evaluate,
        "eval plan+first": lambda enc: derive(plan, enc, "first"),
        "eval plan+all": lambda enc: derive(plan, enc, "all"),
        "decide pydatalog": lambda enc: wire.decision(reference.decide(enc, "full"), "full"),
        "decide plan": lambda enc: wire.decision(plan.decide(enc, "full"), "full"),
        "decide plan+plain": lambda enc: wire.decision(plain(plan, enc), "full"),
    }


def run(payers: list[str], count: int, seed: int) -> dict:
    sources = parse_sources(PolicySources.from_dirs(be.POLICIES))   # every payer from one read and one parse
    references, plans, builds = {}, {}, {}
    for payer in payers:
        references[payer] = load_policy_set(be.POLICIES, payer, sources=sources, engine="pydatalog")
        plans[payer] = load_policy_set(be.POLICIES, payer, sources=sources, engine="plan")
        builds[payer] = {engine: (ps.stage_times["solve_static"] + ps.stage_times["evaluator"]) * 1e3
                         for engine, ps in (("pydatalog", references[payer]), ("plan", plans[payer]))}
    warmup, texts, workload = be.generate_for_payers(references, count, seed)
    out = {"workload": workload, "payers": {}}
    for payer in payers:
        fns = passes(references[payer], plans[payer])
        prepare = be.parser(references[payer])
        for text in warmup:
            enc = prepare(text)
            for fn in fns.values():
                fn(enc)
        results, _ = be.interleaved(fns, texts, prepare, be.CHUNK)
        figures = {name: {k: v for k, v in r.items() if k != "latencies_ns"} for name, r in results.items()}
        figures["plan_build_ms"] = builds[payer]
        out["payers"][payer] = figures
    return out


def command(args) -> str:
    canonical = [sys.executable, os.path.relpath(Path(__file__).resolve(), REPO), "--count", str(args.count),
                 "--seed", str(args.seed)]
    for payer in args.payer or []:
        canonical += ["--payer", payer]
    if args.json:
        canonical += ["--json", args.json]
    return f"cd {shlex.quote(str(REPO))} && PYTHONPATH=. {shlex.join(canonical)}"


def report(res: dict) -> None:
    w = res["workload"]
    print(f"{w['encounters']} encounters per payer (seed {w['seed']}, warm-up {w['warmup']}, "
          f"{w['skipped']} generated encounters skipped as some payer refused them)")
    print(f"{'payer':<16} {'pass':<18} {'median':>8} {'p90':>8} {'p99':>8}  ms   total s")
    for payer, figures in res["payers"].items():
        for name in PASSES:
            r = figures[name]
            print(f"{payer:<16} {name:<18} {r['median_ms']:8.3f} {r['p90_ms']:8.3f} {r['p99_ms']:8.3f}      "
                  f"{r['busy_s']:7.2f}")
        ev, dc = (figures["eval pydatalog"], figures["eval plan"]), (figures["decide pydatalog"], figures["decide plan"])
        pv = figures["decide plan+plain"]
        print(f"{payer:<16} {'ratio pyd/plan':<18} evaluate median {ev[0]['median_ms'] / ev[1]['median_ms']:.1f}x "
              f"p90 {ev[0]['p90_ms'] / ev[1]['p90_ms']:.1f}x p99 {ev[0]['p99_ms'] / ev[1]['p99_ms']:.1f}x; "
              f"decide(full) median {dc[0]['median_ms'] / dc[1]['median_ms']:.2f}x, total "
              f"{dc[0]['busy_s']:.2f} s -> {dc[1]['busy_s']:.2f} s; with searched proofs "
              f"{dc[0]['median_ms'] / pv['median_ms']:.2f}x, {pv['busy_s']:.2f} s; evaluator built in "
              f"{figures['plan_build_ms']['plan']:.0f} ms (pydatalog: {figures['plan_build_ms']['pydatalog']:.0f} ms "
              "solving the static part)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=None, help=f"encounters per payer (default {DEFAULT_COUNT})")
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_COUNT} encounters")
    ap.add_argument("--seed", type=int, default=be.DEFAULT_SEED)
    ap.add_argument("--payer", action="append", help="only this payer (repeatable; default every payer)")
    ap.add_argument("--json", metavar="PATH", help="also write every figure as JSON to PATH")
    args = ap.parse_args(argv)
    args.count = args.count or (QUICK_COUNT if args.quick else DEFAULT_COUNT)
    payers = args.payer or payer_ids(be.POLICIES)
    start = be.cpu_times()
    res = run(payers, args.count, args.seed)
    res["machine"] = be.machine()
    res["contention"] = be.contention(start)
    report(res)
    print(f"machine: {res['machine'].get('cpu_count', '?')} CPUs; load {res['contention']}")
    print(f"command: {command(args)}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
