"""What finding a logged decision costs: appending with the index beside the log, looking an entry up
by id (found, and unknown), and the one-off catch-up of a log written without an index.

    .venv/bin/python bench/bench_decision_lookup.py [--entries 20000] [--lookups 2000]

Prints the figures and the command that reproduces them. The log and its index are written to a
temporary folder and removed afterwards.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from supportable.server.decision_log import DecisionLog  # noqa: E402

DECISION = {"payer": "base", "policy_version": "sha256:v", "encounter": "enc",
            "lines": [{"line": "1", "code": "97110", "verdict": "needs_documentation", "units": {"supportable": 0},
                       "reasons": [{"id": "base.documentation.procedure_missing_element", "kind": "documentation",
                                    "carc": "16", "rarc": "N706"}]}]}


def per(n: int, started: float) -> str:
    return f"{(time.perf_counter() - started) / n * 1e6:8.1f} us"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    args = parser.parse_args()
    n, k = args.entries, args.lookups
    work = Path(tempfile.mkdtemp(prefix="bench-lookup-"))
    try:
        log = DecisionLog(work / "d.jsonl")
        started = time.perf_counter()
        for i in range(n):
            log.append({**DECISION, "decision_id": f"{i:032x}"}, {}, "t")
        print(f"append with the index:          {per(n, started)} per entry ({n} entries)")
        plain = work / "plain.jsonl"
        shutil.copy(work / "d.jsonl", plain)
        reader = DecisionLog(work / "d.jsonl")      # another 'worker': nothing of the writer's in memory
        step = max(1, n // k)
        started = time.perf_counter()
        for i in range(0, n, step):
            assert reader.find(f"{i:032x}") is not None
        print(f"find (another DecisionLog):     {per(len(range(0, n, step)), started)} per lookup ({n} entries)")
        started = time.perf_counter()
        for i in range(k):
            assert reader.find(f"ffff{i:028x}") is None
        print(f"find an unknown id (404):       {per(k, started)} per lookup")
        fresh = DecisionLog(plain)                   # a log written before the index existed
        started = time.perf_counter()
        assert fresh.find(f"{n - 1:032x}") is not None
        print(f"first find on an unindexed log: {(time.perf_counter() - started) * 1e3:8.1f} ms "
              f"(indexes {n} entries once)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"reproduce: .venv/bin/python bench/bench_decision_lookup.py --entries {n} --lookups {k}")


if __name__ == "__main__":
    main()
