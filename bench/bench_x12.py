#!/usr/bin/env python3
"""What reading an X12 837P costs: pyx12's parse (most of it loading the implementation guide's XML
maps, which pyx12 does for every interchange) against making the encounters and deciding them.

For ``--repeat`` runs on one file (default tests/data/x12/therapy.837): the median time of
``read_837`` (pyx12: tokenize, walk the guide's loops, validate), and of ``check_837`` as a whole
(read, build the encounters, decide each under its payer, policies already loaded).

Usage (from the repository root):

    PYTHONPATH=. .venv/bin/python bench/bench_x12.py
    PYTHONPATH=. .venv/bin/python bench/bench_x12.py --file examples/x12/therapy.837 --repeat 20

Figures move by 30% or more between runs on a shared machine.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=ROOT / "tests" / "data" / "x12" / "therapy.837")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    from supportable import engine as facade
    from supportable.server import wire
    from supportable.server.payer_ids import default_path, load_payer_ids
    from supportable.server.x12 import check_837
    from supportable.server.x12.reader import read_837
    text = args.file.read_text()
    table = load_payer_ids(default_path(ROOT / "payers"))
    parsed = facade.parse_sources(facade.PolicySources.from_dirs(ROOT / "policies"))
    policies = {p: facade.build_policy_set(parsed, p) for p in ("base", "commercial", "medicare", "aetna")}

    def decide(payer: str, document: dict) -> dict:
        policy = policies[payer]
        return wire.decision(policy.decide(policy.read_encounter(document), "none"), "none")

    read_837(text)                                   # warm the imports
    reads, checks = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        read_837(text)
        reads.append(time.perf_counter() - started)
        started = time.perf_counter()
        answer = check_837(text, table, decide)
        checks.append(time.perf_counter() - started)
    print(f"file {args.file.relative_to(ROOT) if args.file.is_relative_to(ROOT) else args.file}: "
          f"{answer['summary']['claims']} claim(s), {answer['summary']['encounters']} encounter(s)")
    print(f"read_837 (pyx12)      median {statistics.median(reads) * 1000:8.1f} ms over {args.repeat} runs")
    print(f"check_837 (all of it) median {statistics.median(checks) * 1000:8.1f} ms over {args.repeat} runs")
    print("reproduce: PYTHONPATH=. .venv/bin/python bench/bench_x12.py " + " ".join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
