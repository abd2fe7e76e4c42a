#!/usr/bin/env python3
"""Latency, throughput and memory benchmark of the Supportable policy engine.

Stdlib only (plus the project). What it does:

1. Generates a deterministic set of realistic encounters (``random.Random(seed)``; every value is
   drawn from ``policies/vocabulary/``; ``examples/corpus/encounter_generator.py``) and checks each with ``PolicySet.parse``. They are kept as
   JSON text and parsed again just before each is timed, outside the timed window.
2. In one process, after a warm-up of 100 other encounters, times per encounter
   (a) ``decide`` + ``wire.decision(explain="full")``  -- "with full proofs"
   (b) ``decide(explain="none")`` + ``wire.decision()``  -- "verdicts only" (no proofs kept for output)
   (c) ``evaluate``                             -- the pyDatalog evaluation alone
   on the same encounters, interleaved in chunks of 100 so drift of the machine hits all three
   alike; reports median / p90 / p99 / max latency, throughput, GC collections and GC time for
   each; peak RSS, a tracemalloc pass over full proofs (first 500 encounters by default) and the
   cyclic garbage per encounter; and checks the targets (median <= 2 ms and p99 <= 10 ms with full
   proofs, >= 500 encounters/s, peak RSS <= 200 MB), printing MET / NOT MET.
3. Program size: the policies copied to a temp dir with K never-true padding rules added
   (K = 0, 100, 200); evaluate-only medians as ratios to K = 0, interleaved in the same run.
4. Payers: every payer's policy set (``base`` and each ``payers/*.yaml`` overlay) loaded with
   ``load_policy_set(policies, payer)`` -- parse + layer + check + compile -- in 3 rounds (2 with
   --quick) in rotating order; reports each payer's chain, rule / clause / derived-predicate
   counts, its first load in the process (which may carry one-time costs such as loading the
   ICD-10-CM library), the median of the later loads and its first ``decide`` (which builds the
   thread's pyDatalog engine). The same generator and seed, keeping only encounters every payer
   accepts (Medicare's policy is in force for dates of service 2019-01-01 to 2026-12-31 and
   ``parse`` refuses others; skipped encounters are counted), so with no skips they are the
   encounters of 2. After a warm-up of each payer, decide + ``wire.decision(explain="full")`` for every
   payer interleaved in chunks of 100 (each payer parses with its own ``PolicySet.parse``, outside
   the timed window); reports median / p90 / p99 / max per payer, each payer's median (and p90,
   p99) as a ratio to base's in the same run, and the line verdict mix per payer with how many
   encounters and lines get another verdict (or other supportable units) than under base.
5. GC: in a fresh child process, default GC vs ``gc.freeze()`` after loading +
   ``gc.set_threshold(50000, 50, 50)``, for full proofs and evaluate-only, interleaved.

Usage (from the repository root):

    PYTHONPATH=. python bench/bench_engine.py                 # 2000 encounters (about 6 minutes)
    PYTHONPATH=. python bench/bench_engine.py --quick         # 200-encounter smoke run
    PYTHONPATH=. python bench/bench_engine.py --payers-only   # only 4. (payer comparison), with --count/--quick
    PYTHONPATH=. python bench/bench_engine.py --json out.json # also write every figure as JSON
    PYTHONPATH=. python bench/bench_engine.py --profile 200   # only cProfile 200 full-proof decisions
    PYTHONPATH=. python bench/bench_engine.py --profile 200 --profile-payer medicare  # ... of one payer

Percentiles are nearest-rank over the per-encounter latencies; throughput is encounters divided by
the time spent in the measured calls (parsing excluded), i.e. one thread, back to back.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import os
import platform
import pstats
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "examples" / "corpus"):     # the project, and the encounter generator
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from supportable.engine import icd10  # noqa: E402
from supportable.engine.errors import InputError  # noqa: E402
from supportable.engine.facts import encounter_facts  # noqa: E402
from supportable.engine.overlay import BASE  # noqa: E402
from supportable.engine.policyset import PolicySet, load_policy_set, payer_ids  # noqa: E402
from supportable.server.wire import decision as decision_document  # noqa: E402
# bench_http and bench_edits take the generator from here too
from encounter_generator import EncounterGenerator  # noqa: E402

POLICIES = REPO / "policies"
DEFAULT_SEED = 2026
DEFAULT_COUNT = 2000
QUICK_COUNT = 200
WARMUP_DEFAULT = 100
WARMUP = WARMUP_DEFAULT   # set from --warmup in main()
ENGINE = None             # set from --engine in main(); None: the default engine (the plan)
PADDING_KS = (0, 100, 200)
CHUNK = 100                    # variants compared in one run are interleaved in chunks of this many encounters
GC_THRESHOLD = (50000, 50, 50)
TRACEMALLOC_MAX = 500          # encounters in the (slow, untimed) tracemalloc pass by default
LOAD_ROUNDS = 3                # loads of every payer's policy set, in rotating order (2 with --quick)
QUICK_LOAD_ROUNDS = 2
PAYER_SKIP_LIMIT = 10          # give up once refused encounters exceed this many per encounter wanted

TARGETS = {  # checked on the full-proof pass
    "median_ms": 2.0,
    "p99_ms": 10.0,
    "throughput_per_s": 500.0,
    "peak_rss_mb": 200.0,
}


def generate(ps: PolicySet, count: int, seed: int) -> tuple[list[str], list[str], dict]:
    """(warm-up, measured) encounters as compact JSON text, and workload figures.

    Every encounter is checked with ``ps.parse`` here. They are kept as text and parsed again just
    before each one is timed (outside the timed window): holding ~2000 parsed encounters would keep
    ~200k extra GC-tracked objects alive and make every full (generation 2) collection several times
    slower than in a server, where an encounter lives for one request.
    """
    gen = EncounterGenerator(ps, seed)
    texts: list[str] = []
    lines, facts, hist = [], [], []
    for i in range(WARMUP + count):
        doc = gen.encounter()
        try:
            enc = ps.read_encounter(doc)
        except InputError as exc:
            raise SystemExit(f"generated encounter {doc['id']} does not parse: {exc}\n{json.dumps(doc, indent=1)}")
        texts.append(json.dumps(doc, separators=(",", ":")))
        if i >= WARMUP:
            lines.append(len(enc.lines))
            facts.append(len(encounter_facts(enc)))
            hist.append(len(enc.patient.history))
    stats = {"encounters": count, "warmup": WARMUP, "seed": seed, "all_parsed": True,
             "lines_total": sum(lines), "lines_per_encounter_mean": statistics.fmean(lines),
             "lines_histogram": {str(k): lines.count(k) for k in range(1, 7)},
             "history_visits_mean": statistics.fmean(hist), "history_visits_max": max(hist),
             "input_facts_mean": statistics.fmean(facts), "input_facts_max": max(facts)}
    return texts[:WARMUP], texts[WARMUP:], stats


def parser(ps: PolicySet):
    return lambda text: ps.parse(json.loads(text))


# ------------------------------------------------------------------------------------------------
# Measurement
# ------------------------------------------------------------------------------------------------

class GcMeter:
    """Counts collections per generation, and the time spent in them, while it is the active one."""

    def __init__(self):
        self.collections = [0, 0, 0]
        self.ns = 0
        self._start = 0

    def __call__(self, phase, info):
        if phase == "start":
            self._start = time.perf_counter_ns()
        else:
            self.ns += time.perf_counter_ns() - self._start
            self.collections[info["generation"]] += 1


def pct(sorted_values: list, p: float):
    """Nearest-rank percentile of an ascending list."""
    k = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return sorted_values[k]


def summarise(lat_ns: list[int], gcm: GcMeter | None = None) -> dict:
    s = sorted(lat_ns)
    ms = 1e-6
    busy = sum(s)
    out = {"n": len(s), "median_ms": statistics.median(s) * ms, "p90_ms": pct(s, 90) * ms,
           "p99_ms": pct(s, 99) * ms, "max_ms": s[-1] * ms, "mean_ms": statistics.fmean(s) * ms,
           "min_ms": s[0] * ms, "busy_s": busy * 1e-9, "throughput_per_s": len(s) / (busy * 1e-9)}
    if gcm is not None:
        out["gc_collections"] = list(gcm.collections)
        out["gc_time_ms"] = gcm.ns * ms
    return out


def interleaved(fns: dict, texts: list[str], prepare, chunk: int, setups: dict | None = None,
                after=None) -> tuple[dict, list[int]]:
    """Time every ``fns[name](encounter)`` on the same encounters, round-robin in chunks.

    The encounters are taken ``chunk`` at a time; each variant runs the whole chunk in turn, the
    order rotating from chunk to chunk, so drift of a shared machine hits every variant alike.
    Per call, ``prepare(text)`` (parsing), ``setups[name]()`` (before each chunk) and
    ``after(name, enc, result)`` run outside the timed window; GC collections are attributed to
    the variant whose call they interrupt. ``prepare`` is one function for every variant or a dict
    of them by name. Returns (results by name, prepare latencies in ns of the first variant).
    """
    names = list(fns)
    lat: dict = {n: [] for n in names}
    meters = {n: GcMeter() for n in names}
    prep: list[int] = []
    active: list = [None]

    def on_gc(phase, info):
        if active[0] is not None:
            active[0](phase, info)

    pc = time.perf_counter_ns
    gc.collect()
    gc.callbacks.append(on_gc)
    try:
        for c, start in enumerate(range(0, len(texts), chunk)):
            block = texts[start:start + chunk]
            order = names[c % len(names):] + names[:c % len(names)]
            for name in order:
                if setups and setups.get(name):
                    setups[name]()
                fn, out, meter = fns[name], lat[name], meters[name]
                prep_fn = prepare[name] if isinstance(prepare, dict) else prepare
                for text in block:
                    p = pc()
                    enc = prep_fn(text)
                    active[0] = meter
                    s = pc()
                    result = fn(enc)
                    e = pc()
                    active[0] = None
                    out.append(e - s)
                    if name == names[0]:
                        prep.append(s - p)
                    if after is not None:
                        after(name, enc, result)
                    del enc, result
    finally:
        gc.callbacks.remove(on_gc)
    return {n: summarise(lat[n], meters[n]) | {"latencies_ns": lat[n]} for n in names}, prep


def full_proofs(ps):
    return lambda enc: decision_document(ps.decide(enc), "full")


def verdicts_only(ps):
    return lambda enc: decision_document(ps.decide(enc, "none"))


def evaluate_only(ps):
    return lambda enc: ps.evaluate(enc)


def maxrss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024   # bytes on macOS, KiB on Linux


def tracemalloc_pass(ps, texts) -> dict:
    """Full-proof pass under tracemalloc (untimed): pass peak, per-encounter transient peak, retained."""
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        overall_peak = 0
        transient = []
        fn, prepare = full_proofs(ps), parser(ps)
        for text in texts:
            enc = prepare(text)
            before, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            fn(enc)
            cur, peak = tracemalloc.get_traced_memory()
            overall_peak = max(overall_peak, peak - base)
            transient.append(peak - before)
            del enc
        gc.collect()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    transient.sort()
    return {"pass_peak_mb": overall_peak / 2**20, "per_encounter_peak_median_kb": statistics.median(transient) / 1024,
            "per_encounter_peak_max_kb": transient[-1] / 1024, "retained_after_pass_kb": (end - base) / 1024}


def cyclic_garbage(ps, texts) -> dict:
    """Objects per encounter that only the cycle collector can free (reference cycles), by call."""
    prepare = parser(ps)
    encs = [prepare(t) for t in texts]
    out = {}
    for name, fn in (("full", full_proofs(ps)), ("evaluate", evaluate_only(ps))):
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for enc in encs:
                fn(enc)
            found = gc.collect()
            kinds: dict = {}
            for obj in gc.garbage:
                kinds[type(obj).__name__] = kinds.get(type(obj).__name__, 0) + 1
            gc.garbage.clear()
        finally:
            gc.set_debug(0)
            gc.enable()
        out[name] = {"objects_per_encounter": found / len(encs),
                     "top_types": dict(sorted(kinds.items(), key=lambda kv: -kv[1])[:5])}
    return out


# ------------------------------------------------------------------------------------------------
# Program size (padding rules)
# ------------------------------------------------------------------------------------------------

def padding_yaml(k: int) -> str:
    out = ["description: >",
           f"  Benchmark padding: {k} rules that no encounter can satisfy (no line has more than",
           "  100000 minutes). They only make the program bigger.",
           "rules:"]
    for i in range(1, k + 1):
        out += [f"  - id: bench.padding.r_{i}",
                f"    because: \"bench padding rule number {i}; it never holds\"",
                "    source: {file: domain-notes.md, section: bench}",
                "    rule: |",
                f"      padding_{i}(L) :- line(L), line_minutes(L, M), M > 100000.",
                ""]
    return "\n".join(out) + "\n"


def padded_policy_set(root: Path, k: int) -> tuple[PolicySet, float]:
    dest = root / f"k{k}" / "policies"
    shutil.copytree(POLICIES, dest)
    if k:
        (dest / "base" / "zz_padding.yaml").write_text(padding_yaml(k), encoding="utf-8")
    t = time.perf_counter()
    ps = load_policy_set(dest, engine=ENGINE)
    return ps, time.perf_counter() - t


def padding_experiment(warmup_texts, texts) -> dict:
    info, fns = {}, {}
    with tempfile.TemporaryDirectory(prefix="supportable-bench-") as tmp:
        for k in PADDING_KS:
            ps, load_s = padded_policy_set(Path(tmp), k)
            for text in warmup_texts:
                ps.evaluate(ps.parse(json.loads(text)))
            fns[k] = evaluate_only(ps)
            info[k] = {"rules": len(ps.rules), "derived_predicates": len(ps.program.derived), "load_s": load_s}
        prepare = parser(ps)
        results, _ = interleaved(fns, texts, prepare, CHUNK)
    base = results[0]["median_ms"]
    return {str(k): info[k] | {"evaluate_median_ms": r["median_ms"], "evaluate_p99_ms": r["p99_ms"],
                               "ratio_to_k0": r["median_ms"] / base}
            for k, r in results.items()}


# ------------------------------------------------------------------------------------------------
# Payers: every payer's policy set on the same encounters
# ------------------------------------------------------------------------------------------------

def _icd10_parsed() -> bool:
    return getattr(icd10, "_module", True) is not None      # the code set is parsed once per process


def load_payers(payers: list[str], rounds: int) -> tuple[dict, dict, str | None]:
    """Load every payer's policy set ``rounds`` times, the order rotating from round to round.

    Returns the policy sets of the last round, per payer the load times in seconds (round 1
    first), and the payer whose first load parsed the ICD-10-CM code set (a one-time cost of the
    process, paid by the first policy set whose rules name ICD-10 codes), if one did.
    """
    times: dict = {p: [] for p in payers}
    pss: dict = {}
    icd10_by = None
    for r in range(rounds):
        order = payers[r % len(payers):] + payers[:r % len(payers)]
        for payer in order:
            pss.pop(payer, None)
            before = _icd10_parsed()
            t = time.perf_counter()
            pss[payer] = load_policy_set(POLICIES, payer, engine=ENGINE)
            times[payer].append(time.perf_counter() - t)
            if not before and _icd10_parsed():
                icd10_by = payer
    return {p: pss[p] for p in payers}, times, icd10_by


def generate_for_payers(pss: dict, count: int, seed: int) -> tuple[list[str], list[str], dict]:
    """(warm-up, measured) encounters that every payer's ``parse`` accepts, and workload figures.

    Same generator and seed as :func:`generate`; an encounter any payer refuses (e.g. a date of
    service outside that payer's effective range) is skipped and another one generated, and the
    refusals are counted per payer and problem code.
    """
    gen = EncounterGenerator(pss[BASE], seed)
    texts: list[str] = []
    skipped = 0
    refused_by: dict = {p: 0 for p in pss}
    refusal_codes: dict = {}
    dates: list[str] = []
    while len(texts) < WARMUP + count:
        if skipped > PAYER_SKIP_LIMIT * (WARMUP + count):
            raise SystemExit(f"payers: {skipped} generated encounters refused by some payer "
                             f"({refused_by}, {refusal_codes}); the generator does not fit these payers")
        doc = gen.encounter()
        refused = False
        for payer, ps in pss.items():
            try:
                ps.read_encounter(doc)
            except InputError as exc:
                refused = True
                refused_by[payer] += 1
                for prob in exc.problems:
                    refusal_codes[prob.code] = refusal_codes.get(prob.code, 0) + 1
        if refused:
            skipped += 1
            continue
        texts.append(json.dumps(doc, separators=(",", ":")))
        if len(texts) > WARMUP:
            dates.append(doc["date_of_service"])
    stats = {"encounters": count, "warmup": WARMUP, "seed": seed, "generated": len(texts) + skipped,
             "skipped": skipped, "refused_by": refused_by, "refusal_codes": refusal_codes,
             "date_of_service_min": min(dates), "date_of_service_max": max(dates)}
    return texts[:WARMUP], texts[WARMUP:], stats


def payer_experiment(count: int, seed: int, load_rounds: int, reference_texts: list[str] | None = None,
                     progress=None) -> dict:
    """Load every payer, then time decide + wire.decision(explain="full") for each, interleaved."""
    say = progress or (lambda *_: None)
    payers = payer_ids(POLICIES)
    payers = [BASE] + [p for p in payers if p != BASE]
    pss, load_times, icd10_by = load_payers(payers, load_rounds)
    say(f"  loaded {len(payers)} payers x {load_rounds} rounds")

    t = time.perf_counter()
    warmup, texts, workload = generate_for_payers(pss, count, seed)
    workload["generate_and_parse_s"] = time.perf_counter() - t
    if reference_texts is not None:
        workload["same_as_main_workload"] = texts == reference_texts

    prepares = {p: parser(pss[p]) for p in payers}
    fns = {p: full_proofs(pss[p]) for p in payers}
    info: dict = {}
    for payer in payers:
        ps = pss[payer]
        enc = prepares[payer](warmup[0])
        t = time.perf_counter()
        fns[payer](enc)                                  # builds this thread's engine for the program
        first_decide = time.perf_counter() - t
        warm = load_times[payer][1:] or load_times[payer]
        info[payer] = {"name": ps.name, "chain": ps.chain, "effective": {"from": ps.effective_from,
                                                                         "to": ps.effective_to},
                       "rules": len(ps.rules), "clauses": len(ps.program.clauses),
                       "derived_predicates_materialised": len(ps.program.derived),
                       "disabled_rules": len(ps.disabled), "parameters": len(ps.parameters),
                       "load_s_rounds": load_times[payer], "load_s_first": load_times[payer][0],
                       "load_s_warm_median": statistics.median(warm), "first_decide_s": first_decide}
    del enc
    for payer in payers:                                  # warm-up: every payer on every warm-up encounter
        for text in warmup:
            fns[payer](prepares[payer](text))
    say(f"  warmed up on {len(warmup)} encounters per payer; timing {len(texts)} encounters x "
        f"{len(payers)} payers")

    verdicts = {p: {"supportable": 0, "needs_documentation": 0, "not_supportable": 0, "overbilled": 0}
                for p in payers}
    lines_by_payer: dict = {p: [] for p in payers}

    def record(name, _enc, result):
        for k, v in result["summary"].items():
            verdicts[name][k] += v
        lines_by_payer[name].append(tuple((l["verdict"], l["units"]["supportable"]) for l in result["lines"]))

    passes, _ = interleaved(fns, texts, prepares, CHUNK, after=record)
    base = passes[BASE]
    base_lines = lines_by_payer[BASE]
    out: dict = {}
    for payer in payers:
        r = passes[payer]
        r.pop("latencies_ns", None)
        enc_verdict = enc_units = line_verdict = line_units = 0
        for mine, theirs in zip(lines_by_payer[payer], base_lines):
            v = sum(a[0] != b[0] for a, b in zip(mine, theirs))
            u = sum(a[1] != b[1] for a, b in zip(mine, theirs))
            line_verdict += v
            line_units += u
            enc_verdict += v > 0
            enc_units += u > 0
        out[payer] = info[payer] | {
            "full_proofs": r,
            "ratio_to_base": {m: r[m] / base[m] for m in ("median_ms", "p90_ms", "p99_ms", "mean_ms")},
            "line_verdicts": verdicts[payer],
            "differs_from_base": {"encounters_verdict": enc_verdict, "lines_verdict": line_verdict,
                                  "encounters_supportable_units": enc_units, "lines_supportable_units": line_units}}
    return {"payers": out, "workload": workload, "load_rounds": load_rounds, "chunk": CHUNK,
            "icd10_code_set_parsed_by_first_load_of": icd10_by}


def print_payers(res: dict) -> None:
    payers, w = res["payers"], res["workload"]
    n_lines = sum(v for k, v in payers[BASE]["line_verdicts"].items() if k != "overbilled")
    print(f"Payers: load_policy_set(policies, payer) = parse + layer + check + compile, {res['load_rounds']} "
          f"rounds in rotating order; 'first' = first load of that payer in this process, 'warm' = median of "
          f"the later rounds; first decide builds the thread's pyDatalog engine")
    print(f"  {'payer':<16} {'chain':<32} {'rules':>5} {'clauses':>7} {'derived':>7}  {'first':>8} "
          f"{'warm':>8} {'1st decide':>10}  effective")
    for payer, r in payers.items():
        eff = r["effective"]
        eff_text = (f"{eff['from'] or '-'} .. {eff['to'] or '-'} (excl.)" if eff["from"] or eff["to"]
                    else "any date")
        print(f"  {payer:<16} {' > '.join(r['chain']):<32} {r['rules']:5d} {r['clauses']:7d} "
              f"{r['derived_predicates_materialised']:7d}  {r['load_s_first']:7.3f}s {r['load_s_warm_median']:7.3f}s "
              f"{r['first_decide_s'] * 1000:8.1f}ms  {eff_text}")
    if res["icd10_code_set_parsed_by_first_load_of"]:
        print(f"  the first load of {res['icd10_code_set_parsed_by_first_load_of']} includes parsing the ICD-10-CM code "
              f"set (simple-icd-10-cm), a one-time cost of the process")
    same = w.get("same_as_main_workload")
    print(f"  workload: {w['encounters']} encounters (+{w['warmup']} warm-up), seed {w['seed']}, dates of service "
          f"{w['date_of_service_min']} .. {w['date_of_service_max']}; every payer's parse accepts all of them; "
          f"skipped {w['skipped']} of {w['generated']} generated"
          + (f" (refused by {', '.join(f'{p} {n}' for p, n in w['refused_by'].items() if n)}; "
             f"{', '.join(f'{c} {n}' for c, n in w['refusal_codes'].items())})" if w["skipped"] else "")
          + ("" if same is None else
             "; the same encounters as the main section" if same else "; NOT the same encounters as above")
          + f"; {n_lines} lines")
    print(f"Per-encounter latency per payer: decide + wire.decision(explain='full'), default GC, one process, the "
          f"{len(payers)} payers interleaved in chunks of {res['chunk']}; ratio = this payer / base, same run")
    for payer, r in payers.items():
        rr = r["ratio_to_base"]
        print(fmt_pass(payer, r["full_proofs"]) + f"  | median x{rr['median_ms']:.2f} p90 x{rr['p90_ms']:.2f} "
              f"p99 x{rr['p99_ms']:.2f}")
    print(f"  line verdicts ({n_lines} lines per payer), and how many differ from base (verdict; supportable units):")
    print(f"  {'payer':<16} {'supportable':>11} {'needs_doc':>9} {'not_supp':>9} {'overbilled':>10}   "
          f"{'verdict != base':>24}   {'units != base':>24}")
    for payer, r in payers.items():
        v, d = r["line_verdicts"], r["differs_from_base"]
        print(f"  {payer:<16} {v['supportable']:11d} {v['needs_documentation']:9d} {v['not_supportable']:9d} "
              f"{v['overbilled']:10d}   "
              f"{d['lines_verdict']:5d} lines in {d['encounters_verdict']:4d} enc   "
              f"{d['lines_supportable_units']:5d} lines in {d['encounters_supportable_units']:4d} enc")
    slow = [p for p, r in payers.items() if r["ratio_to_base"]["median_ms"] > 1.5]
    if slow:
        print(f"  median above 1.5 x base: {', '.join(slow)}; see --profile N --profile-payer PAYER")


# ------------------------------------------------------------------------------------------------
# GC variant (a fresh child process)
# ------------------------------------------------------------------------------------------------

def gc_child(count: int, seed: int) -> None:
    """In a fresh process: load, generate, warm up; then time full proofs and evaluate-only under
    default GC and under gc.freeze() + gc.set_threshold(GC_THRESHOLD), interleaved in chunks.

    Before each chunk, "default" does gc.unfreeze() and restores the default thresholds; "tuned"
    does gc.collect(), gc.freeze() (the objects alive then: the loaded policy set and the
    interpreter's own) and raises the thresholds. Both start each chunk from a full collection.
    """
    ps = load_policy_set(POLICIES, engine=ENGINE)
    default_threshold = gc.get_threshold()
    warmup, texts, _ = generate(ps, count, seed)
    prepare = parser(ps)
    for text in warmup:
        decision_document(ps.decide(prepare(text)), "full")
    frozen = []

    def default():
        gc.unfreeze()
        gc.set_threshold(*default_threshold)
        gc.collect()

    def tuned():
        gc.collect()
        gc.freeze()
        frozen.append(gc.get_freeze_count())
        gc.set_threshold(*GC_THRESHOLD)

    fns = {"default/full": full_proofs(ps), "tuned/full": full_proofs(ps),
           "default/evaluate": evaluate_only(ps), "tuned/evaluate": evaluate_only(ps)}
    setups = {"default/full": default, "default/evaluate": default, "tuned/full": tuned, "tuned/evaluate": tuned}
    results, _ = interleaved(fns, texts, prepare, CHUNK, setups)
    default()
    for r in results.values():
        r.pop("latencies_ns")
    out = {"default_threshold": list(default_threshold), "tuned_threshold": list(GC_THRESHOLD),
           "frozen_objects": max(frozen) if frozen else 0, "peak_rss_mb": maxrss_mb(), "results": results}
    json.dump(out, sys.stdout)


def gc_experiment(count: int, seed: int) -> dict:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--gc-child",
                           "--count", str(count), "--seed", str(seed), "--warmup", str(WARMUP),
                           *(["--engine", ENGINE] if ENGINE else [])],
                          capture_output=True, text=True, cwd=str(REPO))
    if proc.returncode != 0:
        raise SystemExit(f"GC child process failed:\n{proc.stderr}")
    out = json.loads(proc.stdout)
    res = out.pop("results")
    for variant in ("default", "tuned"):
        out[variant] = {name: res[f"{variant}/{name}"] for name in ("full", "evaluate")}
    out["ratio_tuned_to_default"] = {
        name: {m: out["tuned"][name][m] / out["default"][name][m]
               for m in ("median_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms", "throughput_per_s")}
        for name in ("full", "evaluate")}
    return out


# ------------------------------------------------------------------------------------------------
# Reporting
# ------------------------------------------------------------------------------------------------

def machine() -> dict:
    info = {"platform": platform.platform(), "machine": platform.machine(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "cpu_count": os.cpu_count()}
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from importlib.metadata import version
        info["pyDatalog"] = version("pyDatalog")
        info["pydantic"] = version("pydantic")
    except Exception:  # noqa: BLE001 - informational only
        pass
    from pyDatalog import pyEngine
    info["pyDatalog_engine_compiled"] = not str(pyEngine.__file__).endswith(".py")
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "engine", "policies"], cwd=REPO,
                               capture_output=True, text=True)
        if head.returncode == 0:
            info["git_head"] = head.stdout.strip() + (" (engine/policies modified)" if dirty.stdout.strip() else "")
    except OSError:
        pass
    return info


def cpu_times() -> list[int] | None:
    """Aggregate CPU jiffies from /proc/stat (user nice system idle iowait irq softirq steal), if any."""
    try:
        with open("/proc/stat") as f:
            return [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None


def contention(start: list[int] | None) -> dict:
    """How busy the machine was since ``start``: load average, steal and non-benchmark CPU."""
    out: dict = {}
    if hasattr(os, "getloadavg"):
        out["loadavg_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    end = cpu_times()
    if start and end:
        d = [b - a for a, b in zip(start, end)]
        total = sum(d) or 1
        out["steal_pct"] = round(100 * d[7] / total, 1)
        out["idle_pct"] = round(100 * (d[3] + d[4]) / total, 1)
    return out


def command_line(args) -> tuple[str, str]:
    env = f"PYTHONPATH={shlex.quote(os.environ['PYTHONPATH'])} " if os.environ.get("PYTHONPATH") else ""
    as_run = f"cd {shlex.quote(os.getcwd())} && {env}{shlex.join([sys.executable] + sys.argv)}"
    script = os.path.relpath(Path(__file__).resolve(), REPO)
    canonical = [sys.executable, script, "--count", str(args.count), "--seed", str(args.seed)]
    if args.warmup != WARMUP_DEFAULT:
        canonical += ["--warmup", str(args.warmup)]
    if args.payers_only:
        canonical.append("--payers-only")
    if args.engine:
        canonical += ["--engine", args.engine]
    if args.json:
        canonical += ["--json", args.json]
    return as_run, f"cd {shlex.quote(str(REPO))} && PYTHONPATH=. {shlex.join(canonical)}"


def fmt_pass(name: str, r: dict) -> str:
    line = (f"  {name:<24} median {r['median_ms']:6.3f}  p90 {r['p90_ms']:6.3f}  p99 {r['p99_ms']:7.3f}  "
            f"max {r['max_ms']:7.3f} ms  {r['throughput_per_s']:6.1f} enc/s")
    if "gc_collections" in r:
        g = r["gc_collections"]
        line += f"  gc {g[0]}/{g[1]}/{g[2]} {r['gc_time_ms']:.0f} ms"
    return line


def check(label: str, ok: bool, detail: str) -> str:
    return f"  [{'MET' if ok else 'NOT MET':>7}] {label:<40} {detail}"


def profile_mode(args) -> None:
    ps = load_policy_set(POLICIES, args.profile_payer, engine=ENGINE)
    warmup, texts, _ = generate(ps, args.profile, args.seed)
    fn, prepare = full_proofs(ps), parser(ps)
    for text in warmup:
        fn(prepare(text))
    encounters = [prepare(t) for t in texts]
    prof = cProfile.Profile()
    prof.enable()
    for enc in encounters:
        fn(enc)
    prof.disable()
    print(f"cProfile of decide + wire.decision(explain='full'), payer {args.profile_payer}, on {len(encounters)} "
          f"encounters (seed {args.seed}), "
          f"after a warm-up of {len(warmup)}; pyDatalog's engine is compiled (Cython), so its internals "
          f"show up inside the Python function that calls them")
    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(key).print_stats(15)
        print(f"\n=== top 15 by {key}")
        text = buf.getvalue()
        print(text[text.find("   ncalls"):].rstrip() if "   ncalls" in text else text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=None, help=f"encounters to measure (default {DEFAULT_COUNT})")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"generator seed (default {DEFAULT_SEED})")
    ap.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_COUNT} encounters")
    ap.add_argument("--json", metavar="PATH", help="also write every figure as JSON to PATH")
    ap.add_argument("--tracemalloc-count", type=int, default=None, metavar="N",
                    help=f"encounters in the untimed tracemalloc pass (default min(count, {TRACEMALLOC_MAX}))")
    ap.add_argument("--profile", type=int, metavar="N", default=0,
                    help="instead of benchmarking, cProfile N encounters of the full-proof pass")
    ap.add_argument("--profile-payer", metavar="PAYER", default=BASE,
                    help=f"payer whose policy set --profile uses (default {BASE})")
    ap.add_argument("--payers-only", action="store_true",
                    help="only the payer comparison: load every payer, time full proofs per payer")
    ap.add_argument("--warmup", type=int, default=WARMUP_DEFAULT, metavar="N",
                    help=f"encounters decided before timing starts, per pass (default {WARMUP_DEFAULT}); "
                         "fewer only for smoke runs, whose figures are not comparable")
    ap.add_argument("--engine", choices=("plan", "pydatalog"), default=None,
                    help="the engine the policy sets are built with (default: the default engine, plan)")
    ap.add_argument("--gc-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    global WARMUP, ENGINE
    ENGINE = args.engine
    if args.warmup < 1:
        ap.error("--warmup must be at least 1")
    WARMUP = args.warmup
    if args.count is None:
        args.count = QUICK_COUNT if args.quick else DEFAULT_COUNT
    if args.count < 1:
        ap.error("--count must be at least 1")
    if args.gc_child:
        gc_child(args.count, args.seed)
        return 0
    if args.profile:
        profile_mode(args)
        return 0

    as_run, canonical = command_line(args)
    print("Supportable engine benchmark")
    print(f"command:    {as_run}")
    if canonical.split("&&", 1)[1].strip() != as_run.split("&&", 1)[1].strip():
        print(f"equivalent: {canonical}")
    mach = machine()
    print("machine:    " + ", ".join(f"{k}={v}" for k, v in mach.items()))
    print(flush=True)

    cpu_start = cpu_times()
    load_rounds = QUICK_LOAD_ROUNDS if args.quick else LOAD_ROUNDS
    if args.payers_only:
        payers = payer_experiment(args.count, args.seed, load_rounds)
        print_payers(payers)
        busy = contention(cpu_start)
        print(f"\nMachine during the run: {', '.join(f'{k}={v}' for k, v in busy.items())} "
              f"({mach.get('cpus_usable', mach['cpu_count'])} CPUs; this benchmark keeps one busy). Compare "
              f"payers within one run (they are interleaved); absolute figures move between runs on a shared machine.")
        if args.json:
            report = {"command": as_run, "command_canonical": canonical, "machine": mach,
                      "machine_during_run": busy, "payers": payers}
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
            print(f"\nJSON written to {args.json}")
        return 0

    t = time.perf_counter()
    ps = load_policy_set(POLICIES, engine=ENGINE)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    warmup, texts, workload = generate(ps, args.count, args.seed)
    gen_s = time.perf_counter() - t
    workload["generate_and_parse_s"] = gen_s
    gc.collect()
    workload["gc_tracked_objects_at_start"] = len(gc.get_objects())
    program = {"rules": len(ps.rules), "clauses": len(ps.program.clauses),
               "derived_predicates_materialised": len(ps.program.derived),
               "catalog_facts": len(ps.program.static_facts), "load_s": load_s}
    print(f"program:    {program['rules']} rules ({program['clauses']} pyDatalog clauses), "
          f"{program['derived_predicates_materialised']} derived predicates materialised per encounter, "
          f"{program['catalog_facts']} catalog facts; loaded in {load_s * 1000:.0f} ms")
    w = workload
    print(f"workload:   {len(texts)} encounters (+{len(warmup)} warm-up), seed {args.seed}, all pass "
          f"ps.parse; {w['lines_total']} lines ({w['lines_per_encounter_mean']:.2f}/enc, "
          f"by count 1..6: {list(w['lines_histogram'].values())}); history {w['history_visits_mean']:.1f} "
          f"visits/enc (max {w['history_visits_max']}); {w['input_facts_mean']:.0f} input facts/enc "
          f"(max {w['input_facts_max']}); generated+parsed in {gen_s:.1f} s")
    print(f"            kept as JSON text, parsed outside the timed window; "
          f"{w['gc_tracked_objects_at_start']} GC-tracked objects in the process before warm-up")
    print(flush=True)

    prepare = parser(ps)
    for text in warmup:                     # warm-up: every code path once per warm-up encounter
        enc = prepare(text)
        decision_document(ps.decide(enc), "full")
        decision_document(ps.decide(enc, "none"))
        ps.evaluate(enc)
    del enc

    verdicts = {"supportable": 0, "needs_documentation": 0, "not_supportable": 0, "overbilled": 0}
    model_sizes = []

    def record(name, _enc, result):
        if name == "full":
            for k, v in result["summary"].items():
                verdicts[k] += v
        elif name == "evaluate":
            model_sizes.append(sum(len(v) for v in result.facts.values()))

    rss_before = maxrss_mb()
    passes, prep = interleaved({"full": full_proofs(ps), "none": verdicts_only(ps), "evaluate": evaluate_only(ps)},
                               texts, prepare, CHUNK, after=record)
    rss_after = maxrss_mb()
    prep.sort()
    parse_stats = {"median_ms": statistics.median(prep) * 1e-6, "p99_ms": pct(prep, 99) * 1e-6,
                   "max_ms": prep[-1] * 1e-6}
    labels = {"full": "(a) with full proofs", "none": "(b) verdicts only", "evaluate": "(c) evaluate only"}
    print(f"Per-encounter latency, default GC, one process; the three interleaved in chunks of {CHUNK}; "
          f"gc = collections gen0/gen1/gen2 and time in them")
    for key, label in labels.items():
        print(fmt_pass(label, passes[key]))
    full, ev = passes["full"], passes["evaluate"]
    print(f"  evaluate-only share of the full-proof median {ev['median_ms'] / full['median_ms']:.0%}, of the mean "
          f"{ev['mean_ms'] / full['mean_ms']:.0%}; GC time {full['gc_time_ms'] / (full['busy_s'] * 1000):.0%} of "
          f"the full-proof time; model {statistics.fmean(model_sizes):.0f} facts/enc (max {max(model_sizes)})")
    print("  line verdicts: " + ", ".join(f"{k} {v}" for k, v in verdicts.items()))
    print(f"  not included above: json.loads + ps.parse median {parse_stats['median_ms']:.3f} ms, "
          f"p99 {parse_stats['p99_ms']:.3f} ms, max {parse_stats['max_ms']:.3f} ms")
    print(flush=True)

    tm_count = args.tracemalloc_count if args.tracemalloc_count is not None else min(len(texts), TRACEMALLOC_MAX)
    mem = tracemalloc_pass(ps, texts[:tm_count]) | {"encounters": tm_count}
    cyc = cyclic_garbage(ps, texts[:min(len(texts), 200)])
    memory = {"peak_rss_mb": rss_after, "peak_rss_before_timed_passes_mb": rss_before, "tracemalloc": mem,
              "cyclic_garbage": cyc}
    print("Memory")
    print(f"  peak RSS (ru_maxrss of the process, after the timed passes): {rss_after:.1f} MB "
          f"(before them: {rss_before:.1f} MB)")
    print(f"  tracemalloc, full proofs, separate untimed pass over {tm_count} encounters: peak "
          f"{mem['pass_peak_mb']:.2f} MB above the start of the pass; per-encounter transient peak median "
          f"{mem['per_encounter_peak_median_kb']:.0f} KB, max {mem['per_encounter_peak_max_kb']:.0f} KB; "
          f"retained after the pass {mem['retained_after_pass_kb']:.0f} KB")
    for name, label in (("full", "full proofs"), ("evaluate", "evaluate only")):
        c = cyc[name]
        print(f"  cyclic garbage (objects only the GC frees), {label}: {c['objects_per_encounter']:.0f}/encounter"
              + (f" ({', '.join(f'{k} {v}' for k, v in c['top_types'].items())})" if c["top_types"] else ""))
    print(flush=True)

    checks = {
        "median_ms": full["median_ms"] <= TARGETS["median_ms"],
        "p99_ms": full["p99_ms"] <= TARGETS["p99_ms"],
        "throughput_per_s": full["throughput_per_s"] >= TARGETS["throughput_per_s"],
        "peak_rss_mb": rss_after <= TARGETS["peak_rss_mb"],
    }
    print("Targets (full proofs, default GC, one process, one thread)")
    print(check(f"median <= {TARGETS['median_ms']:g} ms per encounter", checks["median_ms"],
                f"{full['median_ms']:.3f} ms"))
    print(check(f"p99 <= {TARGETS['p99_ms']:g} ms per encounter", checks["p99_ms"], f"{full['p99_ms']:.3f} ms"))
    print(check(f">= {TARGETS['throughput_per_s']:g} encounters/s", checks["throughput_per_s"],
                f"{full['throughput_per_s']:.1f} enc/s"))
    print(check(f"peak RSS <= {TARGETS['peak_rss_mb']:g} MB", checks["peak_rss_mb"], f"{rss_after:.1f} MB"))
    print(flush=True)

    padding = padding_experiment(warmup, texts)
    print(f"Program size: evaluate only, K padding rules that never hold, interleaved in chunks of {CHUNK}")
    for k, r in padding.items():
        print(f"  K={k:>3}: {r['rules']:3d} rules, {r['derived_predicates']:3d} derived predicates: median "
              f"{r['evaluate_median_ms']:6.3f} ms = {r['ratio_to_k0']:.2f} x K=0 (p99 {r['evaluate_p99_ms']:.3f} ms); "
              f"load {r['load_s'] * 1000:.0f} ms")
    print(flush=True)

    payers = payer_experiment(args.count, args.seed, load_rounds, reference_texts=texts)
    print_payers(payers)
    print(flush=True)

    print(f"GC: default vs tuned (gc.freeze() after loading + gc.set_threshold{GC_THRESHOLD}), in a fresh child "
          f"process, the four interleaved in chunks of {CHUNK}", flush=True)
    gcx = gc_experiment(args.count, args.seed)
    for variant in ("default", "tuned"):
        for name, label in (("full", "full proofs"), ("evaluate", "evaluate only")):
            print(fmt_pass(f"{variant} {label}", gcx[variant][name]))
    for name, label in (("full", "full proofs"), ("evaluate", "evaluate only")):
        rr = gcx["ratio_tuned_to_default"][name]
        print(f"  tuned/default, {label:<13}: median {rr['median_ms']:.2f}, p90 {rr['p90_ms']:.2f}, "
              f"p99 {rr['p99_ms']:.2f}, max {rr['max_ms']:.2f}, mean {rr['mean_ms']:.2f}, "
              f"throughput {rr['throughput_per_s']:.2f}")
    print(f"  frozen objects: {gcx['frozen_objects']}; child peak RSS {gcx['peak_rss_mb']:.1f} MB")
    busy = contention(cpu_start)
    print(f"\nMachine during the run: {', '.join(f'{k}={v}' for k, v in busy.items())} "
          f"({mach.get('cpus_usable', mach['cpu_count'])} CPUs; this benchmark keeps one busy). Compare "
          f"variants within one run (they are interleaved); absolute figures move between runs on a shared machine.")

    if args.json:
        for p in passes.values():
            p.pop("latencies_ns", None)
        report = {"command": as_run, "command_canonical": canonical, "machine": mach, "machine_during_run": busy,
                  "program": program,
                  "workload": workload, "line_verdicts": verdicts,
                  "model_facts_mean": statistics.fmean(model_sizes), "parse": parse_stats,
                  "passes": {"full_proofs": passes["full"], "verdicts_only": passes["none"],
                             "evaluate_only": passes["evaluate"]},
                  "memory": memory, "targets": TARGETS, "targets_met": checks,
                  "program_size": padding, "payers": payers, "gc_variant": gcx}
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"\nJSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
