#!/usr/bin/env python3
"""The peers' small claim policy side by side: Supportable (both evaluators, full proofs and verdicts
only), clingo, Rego (regopy), Cedar (cedarpy) and a plain-Python reference, in one run.

The policy, the workload and the peers' figures are ../shared/bench/anchors-policy.md; the policy in
each engine is under bench/peers/ (our rule language: bench/peers/policy, loaded through the normal
build path; the peers: bench/peers/peers.py; the generator, the reference and the mapping of a claim
onto our encounter format: bench/peers/workload.py).

First every engine's answer on every line of every claim (supportable, sorted reasons) is compared
with the Python reference; any difference stops the run (exit 1) before anything is timed. Then,
after a warm-up, each engine is timed per claim on the same claims, interleaved in chunks of 100
(the order rotating) so drift of a shared machine hits them alike, and the table gives median / p90 /
p99 in ms and each engine's median and p99 as a ratio to Supportable's (full proofs, plan
evaluator). A timed call runs from the claim to the engine's own output, the claim's conversion to
the engine's input included: for Supportable the encounter document, ``read_encounter`` (validation),
``decide`` and ``wire.decision``. A peer whose package is not installed is reported as such (with
``--require-all`` that fails the run). Percentiles are nearest-rank.

    make bench-peers                                                  # .venv-bench, every peer
    PYTHONPATH=. python bench/bench_peers.py                          # 2000 claims, seed 13
    PYTHONPATH=. python bench/bench_peers.py --count 20 --warmup 5    # a quick look
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "bench", REPO / "bench" / "peers"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import bench_engine as be  # noqa: E402  (interleaving, summaries, machine and load)
import peers  # noqa: E402
import workload as wl  # noqa: E402
from supportable.engine import PolicySources, load_policy_set, parse_sources  # noqa: E402
from supportable.server import wire  # noqa: E402

POLICIES = REPO / "bench" / "peers" / "policy" / "policies"
OURS = "supportable plan full"     # the row the ratios are to
DEFAULT_WARMUP = 100
# The peers' figures in anchors-policy.md (2 shared cores, median of 3): median, p99 in ms.
QUOTED = {"python": (0.005, 0.02), "cedar": (0.40, 0.87), "clingo": (0.79, 1.04), "rego": (0.93, 3.7),
          "supportable pydatalog full": (1.64, 4.5)}


class Python:
    name = "python"
    strategy = "plain Python reference (bench/peers/workload.py)"

    def run(self, claim):
        return wl.reference(claim)

    def answer(self, output, claim):
        return output


class Supportable:
    """Our engine on the peers' policy: one policy set per payer (base, aetna), read once."""

    def __init__(self, evaluator: str, explain: str, sets: dict):
        self.name = f"supportable {evaluator} {'full' if explain == 'full' else 'verdicts'}"
        self.strategy = (f"{evaluator} evaluator, decide(explain={explain!r}) + wire.decision"
                         + (" with full proofs" if explain == "full" else ", no proofs"))
        self.sets, self.explain = sets, explain

    def run(self, claim):
        ps = self.sets[wl.policy_payer(claim)]
        enc = ps.read_encounter(wl.encounter(claim))
        return wire.decision(ps.decide(enc, self.explain), self.explain)

    def answer(self, output, claim):
        return wl.from_decision(output)


def policy_sets() -> dict:
    """{evaluator: {payer: PolicySet}} for the peers' policy, every payer from one read and parse."""
    sources = parse_sources(PolicySources.from_dirs(POLICIES))
    reference = {p: load_policy_set(POLICIES, p, sources=sources) for p in ("base", wl.AETNA)}
    return {"pydatalog": reference, "plan": {p: ps.with_engine("plan") for p, ps in reference.items()}}


def engines(require_all: bool, only: list[str] | None = None) -> tuple[dict, dict]:
    """({name: engine} in table order, {peer: why it is missing})."""
    sets = policy_sets()
    out = {"python": Python()}
    for evaluator in ("plan", "pydatalog"):
        for explain in ("full", "none"):
            e = Supportable(evaluator, explain, sets[evaluator])
            out[e.name] = e
    missing = {}
    for name in peers.PEERS:
        if only and name not in only:
            continue
        try:
            out[name] = peers.make_engine(name)
        except ImportError as exc:
            if require_all:
                raise SystemExit(f"--require-all: {name} ({peers.PACKAGES[name]}) is not installed: {exc}")
            missing[name] = f"not installed ({peers.PACKAGES[name]}: {exc})"
    return out, missing


def check(engs: dict, claims: list[dict]) -> dict:
    """Every engine's answer equals the reference on every line of every claim; SystemExit otherwise."""
    answers, bad = [], []
    for c in claims:
        expected = wl.reference(c)
        answers.append(expected)
        for name, e in engs.items():
            got = e.answer(e.run(c), c)
            if got != expected:
                lines = sorted(set(got) | set(expected), key=int)
                diff = [f"line {lid}: expected {expected.get(lid)}, got {got.get(lid)}" for lid in lines
                        if got.get(lid) != expected.get(lid)]
                bad.append(f"{name} on claim {c['id']}: " + "; ".join(diff))
    if bad:
        print("\n".join(["OUTPUTS DIFFER from the Python reference:"] + bad[:20]
                        + ([f"... and {len(bad) - 20} more"] if len(bad) > 20 else [])), file=sys.stderr)
        raise SystemExit(1)
    return wl.totals(answers)


def run(count: int, seed: int, warmup: int, require_all: bool = False, only: list[str] | None = None,
        gc_tuned: bool = False) -> dict:
    engs, missing = engines(require_all, only)
    warm = wl.workload(seed, warmup, start=count)     # claims after the measured ones
    claims = wl.workload(seed, count)
    totals = check(engs, claims)
    for c in warm:
        for e in engs.values():
            e.run(c)
    if gc_tuned:     # as the HTTP server runs: what is alive after loading is frozen, thresholds raised
        gc.collect()
        gc.freeze()
        gc.set_threshold(*be.GC_THRESHOLD)
    fns = {name: e.run for name, e in engs.items()}
    results, _ = be.interleaved(fns, claims, lambda c: c, be.CHUNK)
    figures = {name: {k: v for k, v in r.items() if k != "latencies_ns"} for name, r in results.items()}
    info = {name: {"strategy": e.strategy, "version": peers.package_version(name) if name in peers.PEERS else None}
            for name, e in engs.items()}
    return {"workload": {"claims": count, "seed": seed, "warmup": warmup, "gc": "tuned" if gc_tuned else "default"}
            | totals, "figures": figures,
            "engines": info, "missing": missing}


def report(res: dict) -> None:
    w = res["workload"]
    print(f"{w['claims']} claims (seed {w['seed']}, warm-up {w['warmup']}): {w['lines']} lines, "
          f"{w['supportable']} supportable, {w['missing']} missing-element reasons, {w['same_day_conflict']} "
          f"same-day conflicts, {w['visit_cap_exceeded']} visit-cap hits; every engine's output equals the "
          f"Python reference on every line; GC {w['gc']}")
    ours = res["figures"].get(OURS)
    print(f"{'engine':<31} {'median':>8} {'p90':>8} {'p99':>8}  ms/claim   {'x ours med':>10} {'x ours p99':>10} {'GC ms':>7}  "
          f"quoted median/p99")
    for name, r in res["figures"].items():
        ratio = (f"{r['median_ms'] / ours['median_ms']:10.2f} {r['p99_ms'] / ours['p99_ms']:10.2f}" if ours
                 else f"{'':>10} {'':>10}")
        quoted = QUOTED.get(name)
        print(f"{name:<31} {r['median_ms']:8.3f} {r['p90_ms']:8.3f} {r['p99_ms']:8.3f}             {ratio} {r['gc_time_ms']:7.0f}  "
              + (f"{quoted[0]} / {quoted[1]}" if quoted else ""))
    for name, why in res["missing"].items():
        print(f"{name:<31} {why}")
    print("ratios: an engine's figure / Supportable's (plan evaluator, full proofs); below 1 is faster than ours; "
          "GC ms: time in collections that interrupted the engine's calls; quoted: anchors-policy.md")
    for name, info in res["engines"].items():
        print(f"  {name}: {info['strategy']}" + (f" ({peers.PACKAGES[name]} {info['version']})" if info["version"] else ""))


def command(args) -> str:
    canonical = [sys.executable, os.path.relpath(Path(__file__).resolve(), REPO), "--count", str(args.count),
                 "--seed", str(args.seed), "--warmup", str(args.warmup)]
    if args.require_all:
        canonical.append("--require-all")
    if args.gc_tuned:
        canonical.append("--gc-tuned")
    if args.json:
        canonical += ["--json", args.json]
    return f"cd {shlex.quote(str(REPO))} && PYTHONPATH=. {shlex.join(canonical)}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=wl.DEFAULT_COUNT, help="claims measured (default %(default)s)")
    ap.add_argument("--seed", type=int, default=wl.DEFAULT_SEED)
    ap.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, help="claims run untimed first")
    ap.add_argument("--require-all", action="store_true", help="fail when clingo, regopy or cedarpy is missing")
    ap.add_argument("--gc-tuned", action="store_true",
                    help="gc.freeze() after loading and warm-up, thresholds raised, as the HTTP server runs")
    ap.add_argument("--json", metavar="PATH", help="also write every figure as JSON to PATH")
    args = ap.parse_args(argv)
    start = be.cpu_times()
    res = run(args.count, args.seed, args.warmup, args.require_all, gc_tuned=args.gc_tuned)
    res["machine"] = be.machine()
    res["contention"] = be.contention(start)
    report(res)
    m = res["machine"]
    print(f"machine: {m.get('cpu_count', '?')} CPUs ({m.get('cpus_usable', '?')} usable), {m.get('cpu_model', '?')}, "
          f"{m.get('python', '')}; load during the run {res['contention']}")
    print(f"command: {command(args)}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
