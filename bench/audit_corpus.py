#!/usr/bin/env python3
"""Write a large synthetic corpus for audits: realistic encounters with a payer and charges, by seed.

    PYTHONPATH=. .venv/bin/python bench/audit_corpus.py --count 100000 --seed 2026 --output var/corpus-100k.ndjson

The encounters come from the shipped corpus's generator (examples/corpus/generate.py, itself built
on the benchmark's ``EncounterGenerator``), with its three profiles: general visits, visits billed
the way a Medicare claim is, and neuro-rehabilitation episodes with 97112 histories. Each encounter
is given a ``payer`` its profile makes likely (a Medicare-billed visit goes to ``medicare`` or
``aetna_medicare``; a general visit to ``commercial``, ``aetna`` or ``base``; an NMR episode to
``aetna`` or ``commercial``, see ``PAYER_MIX``) and a ``charge`` on every line (a fee per unit
by code, from ``FEES``, times the units, varied +-15% by provider), so the audit's money at risk has
something to count. Encounter ids are ``audit-SEED-NNNNNNN``. The same seed and count always give
the same file; encounters are not validated here (the audit reports any invalid one in place).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for _p in (REPO, REPO / "examples" / "corpus"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import generate as corpus_generate  # noqa: E402  (examples/corpus/generate.py)

PAYER_MIX = {
    "billed_to_medicare": {"medicare": 70, "aetna_medicare": 30},
    "general": {"commercial": 45, "aetna": 35, "base": 20},
    "nmr_episode": {"aetna": 70, "commercial": 30},
}
# An illustrative fee per unit in US dollars, by code (not a fee schedule: a realistic spread, so
# that money at risk has weight). Codes not listed: DEFAULT_FEE.
FEES = {"97110": 38.0, "97112": 42.0, "97116": 36.0, "97140": 35.0, "97530": 44.0, "97535": 40.0,
        "97150": 22.0, "97161": 110.0, "97162": 110.0, "97163": 110.0, "97164": 75.0, "97165": 105.0,
        "97166": 105.0, "97167": 105.0, "97168": 70.0, "98940": 32.0, "98941": 45.0, "98942": 58.0,
        "98943": 30.0, "97010": 6.0, "97014": 14.0, "97032": 18.0, "97035": 15.0, "97033": 22.0,
        "97810": 48.0, "97811": 36.0, "97813": 52.0, "97814": 40.0}
DEFAULT_FEE = 30.0


def encounters(count: int, seed: int):
    """Yield ``count`` encounter documents, deterministically for ``seed``."""
    corpus_generate.POLICIES = REPO / "policies"
    from supportable import engine as facade
    base = facade.load_policy_set(REPO / "policies", "base")
    medicare = facade.load_policy_set(REPO / "policies", "medicare")
    table = medicare.parameters["kx_threshold_cents"].table or {}
    gen = corpus_generate.CorpusGenerator(base, seed, {int(k): int(v) for k, v in table.items()})
    rng = random.Random(seed * 7919 + 1)
    for n in range(count):
        profile = gen.rng.choices(list(corpus_generate.PROFILES), weights=list(corpus_generate.PROFILES.values()))[0]
        gen.profile_counts[profile] += 1
        doc = getattr(gen, profile)()
        gen._fix_new_codes(doc)
        mix = PAYER_MIX[profile]
        doc = {"id": f"audit-{seed}-{n:07d}", "payer": rng.choices(list(mix), weights=list(mix.values()))[0],
               **{k: v for k, v in doc.items() if k not in ("id", "payer")}}
        factor = rng.uniform(0.85, 1.15)
        for line in doc["lines"]:
            line["charge"] = round(FEES.get(line["code"], DEFAULT_FEE) * line["units"] * factor, 2)
        yield doc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=100_000, help="encounters (default 100000)")
    ap.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    ap.add_argument("--output", type=Path, required=True, help="the NDJSON file to write")
    args = ap.parse_args(argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    payers: dict[str, int] = {}
    with args.output.open("w", encoding="utf-8") as out:
        for doc in encounters(args.count, args.seed):
            payers[doc["payer"]] = payers.get(doc["payer"], 0) + 1
            out.write(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {args.count} encounters to {args.output} ({args.output.stat().st_size / 1e6:.1f} MB) in "
          f"{time.perf_counter() - started:.1f} s, seed {args.seed}; by payer: {dict(sorted(payers.items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
