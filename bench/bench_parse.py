#!/usr/bin/env python3
"""Cost of reading one encounter: ``PolicySet.parse`` (the control-character pass, the vocabulary
check, pydantic's validation and the consistency checks), in microseconds per encounter, over
the example encounters that parse (examples/encounters/*.json). Stdlib only (plus the project).

    .venv/bin/python bench/bench_parse.py [--seconds 3]

Reports the whole parse and, separately, the control-character pass and pydantic's validation,
each as the best of several rounds (the machine's noise only ever adds time).
"""
from __future__ import annotations

import argparse
import glob
import json
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from supportable.engine.encounter import Encounter, control_characters  # noqa: E402
from supportable.engine.policyset import load_policy_set  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time spent on each figure (about)")
    args = parser.parse_args()
    policy = load_policy_set(ROOT / "policies", "base")
    documents = []
    for path in sorted(glob.glob(str(ROOT / "examples" / "encounters" / "*.json"))):
        document = json.loads(Path(path).read_text())
        try:
            policy.read_encounter(document)
        except Exception:
            continue
        documents.append(document)
    figures = {}
    for name, run in (("parse (everything)", policy.parse), ("control-character pass", control_characters),
                      ("pydantic validation", Encounter.model_validate)):
        def batch():
            for document in documents:
                run(document)
        once = timeit.timeit(batch, number=1)
        number = max(1, int(args.seconds / 7 / max(once, 1e-6)))
        best = min(timeit.repeat(batch, number=number, repeat=7))
        figures[name] = best / number / len(documents) * 1e6
    print(f"{len(documents)} example encounters that parse under base")
    for name, micros in figures.items():
        print(f"  {name:<24} {micros:8.1f} us per encounter (best of 7 rounds)")
    print(f"command: {Path(sys.executable).name} bench/bench_parse.py --seconds {args.seconds:g}")


if __name__ == "__main__":
    main()
