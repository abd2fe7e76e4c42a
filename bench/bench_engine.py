#!/usr/bin/env python3
"""Latency, throughput and memory benchmark of the Supportable policy engine.

Stdlib only (plus the project). What it does:

1. Generates a deterministic set of realistic encounters (``random.Random(seed)``; every value is
   drawn from ``policies/vocabulary/``) and validates each with ``PolicySet.parse``.
2. In one process, after a warm-up of 100 other encounters, times per encounter:
   (a) ``decide`` + ``to_dict(explain="full")``  -- "with full proofs"
   (b) ``decide`` + ``to_dict(explain="none")``  -- "verdicts only"
   (c) ``evaluate``                             -- the pyDatalog evaluation alone
   and reports median / p90 / p99 / max latency and throughput for each, peak RSS and a
   tracemalloc pass for (a) (first 500 encounters by default), and checks the targets (median <= 2 ms, p99 <= 10 ms with full
   proofs, >= 500 encounters/s, peak RSS <= 200 MB).
3. Program size: the policies copied to a temp dir with K never-true padding rules added
   (K = 0, 100, 200); evaluate-only medians as ratios to K = 0, measured in the same run.
4. GC variant: the full-proof and evaluate-only passes in fresh child processes, default GC vs
   ``gc.freeze()`` after loading + ``gc.set_threshold(50000, 50, 50)``, alternated.

Usage (from the repository root):

    PYTHONPATH=. python bench/bench_engine.py                 # 2000 encounters
    PYTHONPATH=. python bench/bench_engine.py --quick         # 200-encounter smoke run
    PYTHONPATH=. python bench/bench_engine.py --json out.json # also write every figure as JSON
    PYTHONPATH=. python bench/bench_engine.py --profile 200   # cProfile the full-proof pass only

Percentiles are nearest-rank over the per-encounter latencies; throughput is encounters divided
by the wall time of the whole pass.
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
import random
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engine.errors import InputError  # noqa: E402
from engine.facts import encounter_facts  # noqa: E402
from engine.policyset import PolicySet, load_policy_set  # noqa: E402

POLICIES = REPO / "policies"
DEFAULT_SEED = 2026
DEFAULT_COUNT = 2000
QUICK_COUNT = 200
WARMUP = 100
PADDING_KS = (0, 100, 200)
PADDING_CHUNK = 100            # padded programs are timed round-robin in chunks of this many encounters
GC_THRESHOLD = (50000, 50, 50)
TRACEMALLOC_MAX = 500          # encounters in the (slow, untimed) tracemalloc pass by default

TARGETS = {  # checked on the full-proof pass
    "median_ms": 2.0,
    "p99_ms": 10.0,
    "throughput_per_s": 500.0,
    "peak_rss_mb": 200.0,
}


# ------------------------------------------------------------------------------------------------
# Encounter generator
# ------------------------------------------------------------------------------------------------

# Relative weights of codes on a line; codes of the vocabulary not listed get DEFAULT_CODE_WEIGHT.
CODE_WEIGHTS = {
    "97110": 20, "97112": 10, "97116": 8, "97530": 14, "97140": 14, "97150": 5, "97535": 6,
    "98940": 8, "98941": 6, "98942": 2,
}
EVALUATION_WEIGHT = 1.5
MODALITY_WEIGHT = 2.5
DEFAULT_CODE_WEIGHT = 0.4

PROVIDER_WEIGHTS = {
    "physical_therapist": 42, "physical_therapist_assistant": 12, "occupational_therapist": 12,
    "occupational_therapy_assistant": 5, "chiropractor": 16, "acupuncturist": 3, "physician": 3,
    "nurse_practitioner": 2, "athletic_trainer": 3, "other": 2,
}

# Per provider type, multipliers on code weights (anything not listed x1). Small non-zero
# multipliers keep some mis-billed lines, as real claims have.
PT_EVALS = ("97161", "97162", "97163", "97164")
OT_EVALS = ("97165", "97166", "97167", "97168")
CMT = ("98940", "98941", "98942", "98943")
ACUPUNCTURE = ("97810", "97811", "97813", "97814")
PROVIDER_CODE_BIAS = {
    "physical_therapist": {**{c: 0.05 for c in OT_EVALS + CMT + ACUPUNCTURE}},
    "physical_therapist_assistant": {**{c: 0.05 for c in OT_EVALS + CMT + ACUPUNCTURE},
                                     **{c: 0.2 for c in PT_EVALS}},
    "occupational_therapist": {"97535": 4, "97530": 1.5, **{c: 0.05 for c in PT_EVALS + CMT + ACUPUNCTURE},
                               "97116": 0.2, "97112": 0.6},
    "occupational_therapy_assistant": {"97535": 4, "97530": 1.5, **{c: 0.05 for c in PT_EVALS + CMT + ACUPUNCTURE},
                                       **{c: 0.2 for c in OT_EVALS}, "97116": 0.2},
    "chiropractor": {"98940": 6, "98941": 6, "98942": 4, "98943": 3, "97140": 2, "97112": 1.2,
                     **{c: 0.05 for c in PT_EVALS + OT_EVALS + ACUPUNCTURE}, "97535": 0.1},
    "acupuncturist": {**{c: 25 for c in ACUPUNCTURE}, **{c: 0.05 for c in PT_EVALS + OT_EVALS + CMT}},
}

OUTCOME_HINTS = {
    "97110": ("strength", "endurance", "range_of_motion", "flexibility"),
    "97112": ("balance", "coordination", "kinesthetic_sense", "posture", "proprioception"),
    "97116": ("gait", "gait", "balance"),
    "97530": ("functional_activity", "functional_activity", "balance", "strength", "coordination",
              "range_of_motion"),
    "97535": ("self_care",),
    "97545": ("work_conditioning",),
    "97546": ("work_conditioning",),
    "97150": ("strength", "endurance", "balance", "functional_activity"),
    "97140": ("range_of_motion", "flexibility"),
}

VISIT_DOCUMENTATION = ("functional_goals", "goal_linkage", "objective_findings", "skilled_intervention",
                       "progress_toward_goals", "time_recorded", "medical_necessity", "treatment_parameters",
                       "plan_of_care_signed")
LINE_DOCUMENTATION_HINTS = {
    "97116": ("gait_impairment", "walking_limitation", "balance_deficit"),
    "97112": ("neuro_deficit", "balance_deficit"),
    "97535": ("adl_deficit",),
    "97545": ("work_related_goals",),
    "97546": ("work_related_goals",),
    "97530": ("balance_deficit",),
}
SPINE_DIAGNOSIS_PREFIXES = ("M54", "M51", "M48", "M62.83", "M99", "S13", "S33")


def _weighted(rng: random.Random, weights: dict):
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


class EncounterGenerator:
    """Deterministic, vocabulary-driven encounter documents (plain dicts, as decoded from JSON)."""

    def __init__(self, ps: PolicySet, seed: int):
        self.rng = random.Random(seed)
        self.seed = seed
        v = ps.vocabulary.entries
        self.codes = sorted(v["code"])
        self.code_kind = {c: e["kind"] for c, e in v["code"].items()}
        self.timed = {c for c, e in v["code"].items() if e.get("timed")}
        self.outcomes = sorted(v["outcome"])
        self.documentation = sorted(v["documentation"])
        self.modifiers = set(v["modifier"])
        self.provider_types = sorted(v["provider_type"])
        self.regions = sorted(v["region"])
        self.spinal = sorted(r for r, e in v["region"].items() if e.get("spinal"))
        diags = sorted(v["diagnosis"])
        self.neuro_dx = [d for d in diags if v["diagnosis"][d].get("neurologic")]
        self.spine_dx = [d for d in diags if d not in self.neuro_dx and d.startswith(SPINE_DIAGNOSIS_PREFIXES)]
        self.other_dx = [d for d in diags if d not in self.neuro_dx and d not in self.spine_dx]
        self.base_weights = {}
        for c in self.codes:
            if c in CODE_WEIGHTS:
                w = CODE_WEIGHTS[c]
            elif self.code_kind[c] == "evaluation":
                w = EVALUATION_WEIGHT
            elif self.code_kind[c] == "modality":
                w = MODALITY_WEIGHT
            else:
                w = DEFAULT_CODE_WEIGHT
            self.base_weights[c] = w
        self.provider_weights = {p: w for p, w in PROVIDER_WEIGHTS.items() if p in v["provider_type"]}
        self.visit_docs = [d for d in VISIT_DOCUMENTATION if d in v["documentation"]]
        self.counter = 0

    # -- pieces --------------------------------------------------------------------------------
    def _code_weights(self, provider: str) -> dict:
        bias = PROVIDER_CODE_BIAS.get(provider, {})
        return {c: w * bias.get(c, 1.0) for c, w in self.base_weights.items()}

    def _pick_codes(self, n: int, weights: dict) -> list[str]:
        weights = dict(weights)
        out = []
        for _ in range(n):
            c = _weighted(self.rng, weights)
            out.append(c)
            weights.pop(c)
            if self.code_kind[c] == "evaluation":            # at most one evaluation per visit
                for other in [k for k in weights if self.code_kind[k] == "evaluation"]:
                    weights.pop(other)
            if not weights:
                break
        return out

    def _outcomes(self, code: str) -> list[str]:
        r = self.rng
        if code not in OUTCOME_HINTS and r.random() < 0.5:
            return []
        n = r.choices((1, 2, 3), weights=(50, 35, 15))[0]
        hints = [o for o in OUTCOME_HINTS.get(code, ()) if o in self.outcomes]
        chosen: list[str] = []
        for _ in range(n):
            pool = hints if hints and r.random() < 0.8 else self.outcomes
            o = r.choice(pool)
            if o not in chosen:
                chosen.append(o)
        return chosen

    def _region(self, code: str) -> str | None:
        r = self.rng
        if r.random() < 0.15:
            return None
        if code in CMT[:3]:
            return r.choice(self.spinal)
        if code == "98943":
            return r.choice([x for x in self.regions if x not in self.spinal])
        if code == "97116":
            return r.choice([x for x in ("lower_extremity", "whole_body") if x in self.regions] or self.regions)
        if code == "97140" and r.random() < 0.6:
            return r.choice(self.spinal)
        return r.choice(self.regions)

    def _modifiers(self, code: str, provider: str, has_cmt: bool) -> list[str]:
        r = self.rng
        mods: list[str] = []
        if provider in ("physical_therapist", "physical_therapist_assistant"):
            if r.random() < 0.7:
                mods.append("GP")
            if provider == "physical_therapist_assistant" and r.random() < 0.5:
                mods.append("CQ")
        elif provider in ("occupational_therapist", "occupational_therapy_assistant"):
            if r.random() < 0.7:
                mods.append("GO")
            if provider == "occupational_therapy_assistant" and r.random() < 0.5:
                mods.append("CO")
        elif r.random() < 0.1:
            mods.append("GP")
        if code in CMT and r.random() < 0.7:
            mods.append("AT")
        p_distinct = 0.5 if has_cmt and code not in CMT else 0.15
        if r.random() < p_distinct:
            mods.append(r.choices(("59", "XS", "XU"), weights=(55, 35, 10))[0])
        if r.random() < 0.03:
            mods.append("KX")
        return [m for m in dict.fromkeys(mods) if m in self.modifiers]

    def _diagnoses(self, provider: str, codes: list[str]) -> list[str]:
        r = self.rng
        n = r.choices((1, 2, 3, 4), weights=(30, 35, 25, 10))[0]
        if provider == "chiropractor":
            pools = [(self.spine_dx, 80), (self.other_dx, 15), (self.neuro_dx, 5)]
        elif "97112" in codes or "97116" in codes:
            pools = [(self.neuro_dx, 45), (self.other_dx, 40), (self.spine_dx, 15)]
        else:
            pools = [(self.other_dx, 50), (self.spine_dx, 40), (self.neuro_dx, 10)]
        pools = [(p, w) for p, w in pools if p]
        out: list[str] = []
        for _ in range(n * 3):
            pool = r.choices([p for p, _ in pools], weights=[w for _, w in pools])[0]
            d = r.choice(pool)
            if d not in out:
                out.append(d)
            if len(out) == n:
                break
        return out

    # -- one encounter -------------------------------------------------------------------------
    def encounter(self) -> dict:
        r = self.rng
        self.counter += 1
        dos = date(2025, 1, 2) + timedelta(days=r.randint(0, 362))
        provider = _weighted(r, self.provider_weights)
        n_lines = r.choices((1, 2, 3, 4, 5, 6), weights=(10, 25, 30, 20, 10, 5))[0]
        codes = self._pick_codes(n_lines, self._code_weights(provider))
        has_cmt = any(c in CMT for c in codes)

        quality = r.choices((0.97, 0.85, 0.5), weights=(60, 30, 10))[0]
        visit_docs = [d for d in self.visit_docs if r.random() < quality]

        block_mode = r.random()             # < 0.25: no time blocks recorded at all
        blocks = "ABCDEF"
        current_block = 0
        lines = []
        for i, code in enumerate(codes, start=1):
            timed = code in self.timed
            minutes = int(r.triangular(5, 45, 15)) if timed else r.randint(5, 45)
            if timed:
                units = max(1, (minutes + 7) // 15)
                if r.random() < 0.12:
                    units += 1 if r.random() < 0.75 else 2
            else:
                units = 2 if r.random() < 0.05 else 1
            if code == "97150":
                patients = r.randint(2, 4) if r.random() < 0.9 else 1
            else:
                patients = 1 if r.random() < 0.92 else r.randint(2, 4)
            one_on_one = not (r.random() < (0.6 if patients > 1 else 0.05))
            line: dict = {"id": str(i), "code": code, "minutes": minutes, "units": units}
            mods = self._modifiers(code, provider, has_cmt)
            if mods:
                line["modifiers"] = mods
            # Optional keys sometimes written out with their default values, sometimes left out.
            if not one_on_one or r.random() < 0.5:
                line["one_on_one"] = one_on_one
            if patients != 1 or r.random() < 0.5:
                line["patients_in_session"] = patients
            if block_mode >= 0.25 and r.random() < 0.9:
                if i > 1 and r.random() >= 0.3:
                    current_block = min(current_block + 1, len(blocks) - 1)
                line["time_block"] = blocks[current_block]
            region = self._region(code)
            if region:
                line["region"] = region
            outcomes = self._outcomes(code)
            if outcomes:
                line["intended_outcomes"] = outcomes
            line_docs = [d for d in LINE_DOCUMENTATION_HINTS.get(code, ()) if d in self.documentation
                         and r.random() < 0.75]
            if "XS" in mods and r.random() < 0.7:
                line_docs.append("distinct_region")
            if "59" in mods and r.random() < 0.5:
                line_docs.append("separate_time_block")
            if r.random() < 0.1:
                line_docs.append(r.choice(self.documentation))
            line_docs = [d for d in dict.fromkeys(line_docs) if d in self.documentation]
            if line_docs:
                line["documentation"] = line_docs
            lines.append(line)

        # History: 0-25 earlier visits, every 1-7 days going back.
        n_hist = min(25, int(r.expovariate(1 / 6)))
        history = []
        day = dos
        hist_weights = self._code_weights(provider)
        for _ in range(n_hist):
            day = day - timedelta(days=r.randint(1, 7))
            history.append({"date": day.isoformat(),
                            "codes": self._pick_codes(r.choices((1, 2, 3, 4), weights=(25, 40, 25, 10))[0],
                                                      hist_weights)})
        history.reverse()
        first_day = date.fromisoformat(history[0]["date"]) if history else dos

        doc: dict = {
            "id": f"bench-{self.seed}-{self.counter:05d}",
            "date_of_service": dos.isoformat(),
            "payer": "base",
            "provider": {"type": provider},
            "diagnoses": self._diagnoses(provider, codes),
        }
        if visit_docs:
            doc["documentation"] = visit_docs
        if r.random() < (0.3 if provider == "chiropractor" else 0.75):
            start = first_day - timedelta(days=r.randint(0, 10))
            poc: dict = {"certified_by": r.choices(
                ("physician", "nurse_practitioner", "physical_therapist", "occupational_therapist", "chiropractor"),
                weights=(60, 20, 10, 5, 5))[0], "start_of_care": start.isoformat()}
            if r.random() < 0.8:
                poc["certified_on"] = min(dos, start + timedelta(days=r.randint(0, 20))).isoformat()
            doc["plan_of_care"] = poc
        patient: dict = {"id": f"pt-{r.randint(1000, 99999)}"}
        status = r.choices(("improving", "plateau", "regressing", None), weights=(60, 20, 10, 10))[0]
        if status:
            patient["condition_status"] = status
        if history or r.random() < 0.5:
            patient["history"] = history
        if r.random() < 0.7:
            patient["year_to_date"] = {"pt_slp": round(r.uniform(0, 3500), 2),
                                       "ot": round(r.uniform(0, 1500), 2) if r.random() < 0.3 else 0}
        doc["patient"] = patient
        doc["lines"] = lines
        return doc


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
            enc = ps.parse(doc)
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
    """Counts collections per generation and the time spent in them (via gc.callbacks)."""

    def __init__(self):
        self.collections = [0, 0, 0]
        self.ns = 0
        self._start = 0
        self.paused = False     # collections while paused (untimed work) are not counted

    def __call__(self, phase, info):
        if phase == "start":
            self._start = time.perf_counter_ns()
        elif not self.paused:
            self.ns += time.perf_counter_ns() - self._start
            self.collections[info["generation"]] += 1

    def __enter__(self):
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self)


def pct(sorted_values: list, p: float):
    """Nearest-rank percentile of an ascending list."""
    k = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return sorted_values[k]


def summarise(lat_ns: list[int], wall_ns: int, gcm: GcMeter | None = None) -> dict:
    s = sorted(lat_ns)
    ms = 1e-6
    out = {"n": len(s), "median_ms": statistics.median(s) * ms, "p90_ms": pct(s, 90) * ms,
           "p99_ms": pct(s, 99) * ms, "max_ms": s[-1] * ms, "mean_ms": statistics.fmean(s) * ms,
           "min_ms": s[0] * ms, "wall_s": wall_ns * 1e-9, "throughput_per_s": len(s) / (wall_ns * 1e-9)}
    if gcm is not None:
        out["gc_collections"] = list(gcm.collections)
        out["gc_time_ms"] = gcm.ns * ms
    return out


def timed_pass(fn, texts, prepare, after=None) -> dict:
    """Time fn(prepare(text)) per encounter. ``prepare`` (parsing) and ``after(enc, result)`` run
    outside the timed window and are left out of the wall time; prepare's latencies are returned
    as ``prepare_ns``. GC collections and time spent in them are counted for the timed part only."""
    gc.collect()
    lat, prep = [], []
    pc = time.perf_counter_ns
    with GcMeter() as gcm:
        outside = 0
        t0 = pc()
        for text in texts:
            p = pc()
            gcm.paused = True
            enc = prepare(text)
            gcm.paused = False
            s = pc()
            result = fn(enc)
            e = pc()
            lat.append(e - s)
            prep.append(s - p)
            if after is not None:
                gcm.paused = True
                after(enc, result)
                gcm.paused = False
            outside += pc() - e + (s - p)
            del enc, result
        wall = pc() - t0 - outside
    return summarise(lat, wall, gcm) | {"latencies_ns": lat, "prepare_ns": prep}


def full_proofs(ps):
    return lambda enc: ps.decide(enc).to_dict(explain="full")


def verdicts_only(ps):
    return lambda enc: ps.decide(enc).to_dict(explain="none")


def evaluate_only(ps):
    return lambda enc: ps.evaluate(enc)


def maxrss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024   # bytes on macOS, KiB on Linux


def current_rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        return None


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
    ps = load_policy_set(dest)
    return ps, time.perf_counter() - t


def padding_experiment(warmup_texts, texts) -> dict:
    results = {}
    with tempfile.TemporaryDirectory(prefix="supportable-bench-") as tmp:
        sets = {}
        for k in PADDING_KS:
            ps, load_s = padded_policy_set(Path(tmp), k)
            for text in warmup_texts:
                ps.evaluate(ps.parse(json.loads(text)))
            sets[k] = ps
            results[k] = {"rules": len(ps.rules), "derived_predicates": len(ps.program.derived),
                          "load_s": load_s, "lat": []}
        # Round-robin in chunks so slow drift of the machine hits every K alike.
        gc.collect()
        pc = time.perf_counter_ns
        for c, start in enumerate(range(0, len(texts), PADDING_CHUNK)):
            chunk = [sets[0].parse(json.loads(t)) for t in texts[start:start + PADDING_CHUNK]]
            order = PADDING_KS[c % len(PADDING_KS):] + PADDING_KS[:c % len(PADDING_KS)]
            for k in order:
                ev = sets[k].evaluate
                lat = results[k]["lat"]
                for enc in chunk:
                    s = pc()
                    ev(enc)
                    lat.append(pc() - s)
    base = statistics.median(results[0]["lat"])
    out = {}
    for k in PADDING_KS:
        lat = sorted(results[k].pop("lat"))
        med = statistics.median(lat)
        out[str(k)] = results[k] | {"evaluate_median_ms": med * 1e-6, "evaluate_p99_ms": pct(lat, 99) * 1e-6,
                                    "ratio_to_k0": med / base}
    return out


# ------------------------------------------------------------------------------------------------
# GC variant (child processes)
# ------------------------------------------------------------------------------------------------

def gc_child(variant: str, count: int, seed: int) -> None:
    """Runs in a fresh process: load, optionally tune GC, generate, warm up, time two passes."""
    ps = load_policy_set(POLICIES)
    if variant == "tuned":
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLD)
    warmup, texts, _ = generate(ps, count, seed)
    prepare = parser(ps)
    for text in warmup:
        ps.decide(prepare(text)).to_dict(explain="full")
    out = {"variant": variant, "gc_threshold": list(gc.get_threshold()), "frozen_objects": gc.get_freeze_count()}
    # gc.collect() inside timed_pass is a full collection; with freeze it skips the frozen objects.
    for name, fn in (("full", full_proofs(ps)), ("evaluate", evaluate_only(ps))):
        out[name] = timed_pass(fn, texts, prepare)
        out[name].pop("prepare_ns")
    out["peak_rss_mb"] = maxrss_mb()
    json.dump(out, sys.stdout)


def gc_experiment(count: int, seed: int, rounds: int) -> dict:
    runs = {"default": [], "tuned": []}
    for r in range(rounds):
        for variant in (("default", "tuned") if r % 2 == 0 else ("tuned", "default")):
            proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--gc-child", variant,
                                   "--count", str(count), "--seed", str(seed)],
                                  capture_output=True, text=True, cwd=str(REPO))
            if proc.returncode != 0:
                raise SystemExit(f"GC child ({variant}) failed:\n{proc.stderr}")
            runs[variant].append(json.loads(proc.stdout))
    out: dict = {"rounds": rounds, "threshold_tuned": list(GC_THRESHOLD)}
    for variant, results in runs.items():
        v: dict = {"frozen_objects": results[0]["frozen_objects"],
                   "peak_rss_mb": max(x["peak_rss_mb"] for x in results)}
        for name in ("full", "evaluate"):
            lat = [t for x in results for t in x[name]["latencies_ns"]]
            wall = sum(int(x[name]["wall_s"] * 1e9) for x in results)
            pooled = summarise(lat, wall)
            pooled["gc_collections"] = [sum(x[name]["gc_collections"][g] for x in results) for g in range(3)]
            pooled["gc_time_ms"] = sum(x[name]["gc_time_ms"] for x in results)
            pooled["round_medians_ms"] = [x[name]["median_ms"] for x in results]
            v[name] = pooled
        out[variant] = v
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


def command_line(args) -> tuple[str, str]:
    env = f"PYTHONPATH={shlex.quote(os.environ['PYTHONPATH'])} " if os.environ.get("PYTHONPATH") else ""
    as_run = f"cd {shlex.quote(os.getcwd())} && {env}{shlex.join([sys.executable] + sys.argv)}"
    script = os.path.relpath(Path(__file__).resolve(), REPO)
    canonical = [sys.executable, script, "--count", str(args.count), "--seed", str(args.seed)]
    if args.json:
        canonical += ["--json", args.json]
    return as_run, f"cd {shlex.quote(str(REPO))} && PYTHONPATH=. {shlex.join(canonical)}"


def fmt_pass(name: str, r: dict) -> str:
    line = (f"  {name:<22} median {r['median_ms']:7.3f}  p90 {r['p90_ms']:7.3f}  p99 {r['p99_ms']:7.3f}  "
            f"max {r['max_ms']:8.3f} ms   {r['throughput_per_s']:7.1f} enc/s")
    if "gc_collections" in r:
        g = r["gc_collections"]
        line += f"   gc {g[0]}/{g[1]}/{g[2]} ({r['gc_time_ms']:.0f} ms)"
    return line


def check(label: str, ok: bool, detail: str) -> str:
    return f"  [{'MET' if ok else 'NOT MET':>7}] {label:<40} {detail}"


def profile_mode(args) -> None:
    ps = load_policy_set(POLICIES)
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
    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(key).print_stats(15)
        print(f"=== cProfile, {len(encounters)} encounters, decide + to_dict(explain='full'), top 15 by {key}")
        text = buf.getvalue()
        print(text[text.find("   ncalls"):].rstrip() if "   ncalls" in text else text)
        print()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=None, help=f"encounters to measure (default {DEFAULT_COUNT})")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"generator seed (default {DEFAULT_SEED})")
    ap.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_COUNT} encounters, one GC round")
    ap.add_argument("--json", metavar="PATH", help="also write every figure as JSON to PATH")
    ap.add_argument("--tracemalloc-count", type=int, default=None, metavar="N",
                    help=f"encounters in the untimed tracemalloc pass (default min(count, {TRACEMALLOC_MAX}))")
    ap.add_argument("--gc-rounds", type=int, default=None, help="child-process rounds per GC variant (default 2; 1 with --quick)")
    ap.add_argument("--profile", type=int, metavar="N", default=0,
                    help="instead of benchmarking, cProfile N encounters of the full-proof pass")
    ap.add_argument("--gc-child", choices=("default", "tuned"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.count is None:
        args.count = QUICK_COUNT if args.quick else DEFAULT_COUNT
    if args.gc_child:
        gc_child(args.gc_child, args.count, args.seed)
        return 0
    if args.profile:
        profile_mode(args)
        return 0
    gc_rounds = args.gc_rounds if args.gc_rounds is not None else (1 if args.quick else 2)

    as_run, canonical = command_line(args)
    print("Supportable engine benchmark")
    print(f"command:    {as_run}")
    if canonical.split("&&", 1)[1].strip() != as_run.split("&&", 1)[1].strip():
        print(f"equivalent: {canonical}")
    mach = machine()
    print("machine:    " + ", ".join(f"{k}={v}" for k, v in mach.items()))
    print(flush=True)

    t = time.perf_counter()
    ps = load_policy_set(POLICIES)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    warmup, encounters, docs = generate(ps, args.count, args.seed)
    gen_s = time.perf_counter() - t
    n_lines = [len(e.lines) for e in encounters]
    n_facts = [len(encounter_facts(e)) for e in encounters]
    n_hist = [len(e.patient.history) for e in encounters]
    program = {"rules": len(ps.rules), "clauses": len(ps.program.clauses),
               "derived_predicates_materialised": len(ps.program.derived),
               "catalog_facts": len(ps.program.static_facts), "load_s": load_s}
    workload = {"encounters": len(encounters), "warmup": len(warmup), "seed": args.seed,
                "all_parsed": True, "generate_and_parse_s": gen_s,
                "lines_total": sum(n_lines), "lines_per_encounter_mean": statistics.fmean(n_lines),
                "lines_histogram": {str(k): n_lines.count(k) for k in range(1, 7)},
                "history_visits_mean": statistics.fmean(n_hist), "history_visits_max": max(n_hist),
                "input_facts_mean": statistics.fmean(n_facts), "input_facts_max": max(n_facts)}
    print(f"program:    {program['rules']} rules ({program['clauses']} pyDatalog clauses), "
          f"{program['derived_predicates_materialised']} derived predicates materialised per encounter, "
          f"{program['catalog_facts']} catalog facts; loaded in {load_s * 1000:.0f} ms")
    print(f"workload:   {len(encounters)} encounters (+{len(warmup)} warm-up), seed {args.seed}, all pass "
          f"ps.parse; {sum(n_lines)} lines ({workload['lines_per_encounter_mean']:.2f}/enc, "
          f"by count 1..6: {list(workload['lines_histogram'].values())}); history {workload['history_visits_mean']:.1f} "
          f"visits/enc (max {max(n_hist)}); {workload['input_facts_mean']:.0f} input facts/enc (max {max(n_facts)}); "
          f"generated+parsed in {gen_s:.1f} s")
    print(flush=True)

    # Warm-up: every code path once per warm-up encounter.
    for enc in warmup:
        ps.decide(enc).to_dict(explain="full")
        ps.decide(enc).to_dict(explain="none")
        ps.evaluate(enc)

    verdicts = {"supportable": 0, "needs_documentation": 0, "not_supportable": 0}

    def count_verdicts(_enc, result):
        for k, v in result["summary"].items():
            verdicts[k] += v

    model_sizes = []

    def model_size(_enc, model):
        model_sizes.append(sum(len(v) for v in model.facts.values()))

    rss_before = maxrss_mb()
    passes = {}
    passes["full"] = timed_pass(full_proofs(ps), encounters, after=count_verdicts)
    rss_after_full = maxrss_mb()
    passes["none"] = timed_pass(verdicts_only(ps), encounters)
    passes["evaluate"] = timed_pass(evaluate_only(ps), encounters, after=model_size)
    labels = {"full": "(a) with full proofs", "none": "(b) verdicts only", "evaluate": "(c) evaluate only"}
    print("Per-encounter latency (ms), default GC, one process; gc = collections gen0/gen1/gen2 (time in gc)")
    for key, label in labels.items():
        print(fmt_pass(label, passes[key]))
    full, ev = passes["full"], passes["evaluate"]
    print(f"  evaluate-only share of the full-proof median: {ev['median_ms'] / full['median_ms']:.0%}; "
          f"model {statistics.fmean(model_sizes):.0f} facts/enc (max {max(model_sizes)}); line verdicts: "
          + ", ".join(f"{k} {v}" for k, v in verdicts.items()))
    print(flush=True)

    tm_count = args.tracemalloc_count if args.tracemalloc_count is not None else min(len(encounters), TRACEMALLOC_MAX)
    mem = tracemalloc_pass(ps, encounters[:tm_count]) | {"encounters": tm_count}
    memory = {"peak_rss_mb": rss_after_full, "peak_rss_before_full_pass_mb": rss_before,
              "current_rss_mb": current_rss_mb(), **mem}
    print("Memory (full-proof pass)")
    print(f"  peak RSS (ru_maxrss, whole process up to the end of pass a): {rss_after_full:.1f} MB "
          f"(before pass a: {rss_before:.1f} MB)")
    print(f"  tracemalloc, separate untimed pass over the first {tm_count} encounters: peak {mem['pass_peak_mb']:.2f} MB above the start of the pass; "
          f"per-encounter transient peak median {mem['per_encounter_peak_median_kb']:.0f} KB, "
          f"max {mem['per_encounter_peak_max_kb']:.0f} KB; retained after the pass "
          f"{mem['retained_after_pass_kb']:.0f} KB")
    print(flush=True)

    checks = {
        "median_ms": full["median_ms"] <= TARGETS["median_ms"],
        "p99_ms": full["p99_ms"] <= TARGETS["p99_ms"],
        "throughput_per_s": full["throughput_per_s"] >= TARGETS["throughput_per_s"],
        "peak_rss_mb": rss_after_full <= TARGETS["peak_rss_mb"],
    }
    print("Targets (full proofs, one process, one thread)")
    print(check(f"median <= {TARGETS['median_ms']:g} ms per encounter", checks["median_ms"],
                f"{full['median_ms']:.3f} ms"))
    print(check(f"p99 <= {TARGETS['p99_ms']:g} ms per encounter", checks["p99_ms"], f"{full['p99_ms']:.3f} ms"))
    print(check(f">= {TARGETS['throughput_per_s']:g} encounters/s", checks["throughput_per_s"],
                f"{full['throughput_per_s']:.1f} enc/s"))
    print(check(f"peak RSS <= {TARGETS['peak_rss_mb']:g} MB", checks["peak_rss_mb"], f"{rss_after_full:.1f} MB"))
    print(flush=True)

    padding = padding_experiment(warmup, encounters)
    print(f"Program size: evaluate-only with K padding rules (never true), same run, round-robin in chunks of "
          f"{PADDING_CHUNK}")
    for k, r in padding.items():
        print(f"  K={k:>4}: {r['rules']:4d} rules, {r['derived_predicates']:4d} derived predicates; median "
              f"{r['evaluate_median_ms']:7.3f} ms, p99 {r['evaluate_p99_ms']:7.3f} ms; ratio to K=0 "
              f"{r['ratio_to_k0']:.2f}x; load {r['load_s'] * 1000:.0f} ms")
    print(flush=True)

    print(f"GC variant: fresh child processes, {gc_rounds} round(s) per variant, alternated; tuned = gc.freeze() "
          f"after loading + gc.set_threshold{GC_THRESHOLD}", flush=True)
    gcx = gc_experiment(args.count, args.seed, gc_rounds)
    for variant in ("default", "tuned"):
        v = gcx[variant]
        for name, label in (("full", "full proofs"), ("evaluate", "evaluate only")):
            print(fmt_pass(f"{variant:<7} {label}", v[name]))
    for name, label in (("full", "full proofs"), ("evaluate", "evaluate only")):
        rr = gcx["ratio_tuned_to_default"][name]
        print(f"  tuned/default, {label:<13}: median {rr['median_ms']:.3f}, p90 {rr['p90_ms']:.3f}, "
              f"p99 {rr['p99_ms']:.3f}, max {rr['max_ms']:.3f}, mean {rr['mean_ms']:.3f}, "
              f"throughput {rr['throughput_per_s']:.3f}")
    print(f"  frozen objects after load: {gcx['tuned']['frozen_objects']}; peak RSS default "
          f"{gcx['default']['peak_rss_mb']:.1f} MB, tuned {gcx['tuned']['peak_rss_mb']:.1f} MB")

    if args.json:
        for p in passes.values():
            p.pop("latencies_ns", None)
        for variant in ("default", "tuned"):
            for name in ("full", "evaluate"):
                gcx[variant][name].pop("latencies_ns", None)
        report = {"command": as_run, "command_canonical": canonical, "machine": mach, "program": program,
                  "workload": workload, "line_verdicts": verdicts,
                  "model_facts_mean": statistics.fmean(model_sizes),
                  "passes": {"full_proofs": passes["full"], "verdicts_only": passes["none"],
                             "evaluate_only": passes["evaluate"]},
                  "memory": memory, "targets": TARGETS, "targets_met": checks,
                  "program_size": padding, "gc_variant": gcx}
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"\nJSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
