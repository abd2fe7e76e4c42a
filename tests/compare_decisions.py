"""Decisions compared across a policy change that must not change them: every example and every
``every``-th corpus encounter under every payer, at each explain level, hashed with the
``policy_version`` masked and the why-not attempts of the named new rules left out (a new rule
changes the version and is tried on every line, and nothing else may change).

    # in a checkout of the old commit (git archive <old> | tar -x -C /tmp/old):
    cd /tmp/old && PYTHONPATH=/tmp/old <venv>/bin/python <this file> 1 /tmp/old.json
    cd <worktree> && .venv/bin/python tests/compare_decisions.py 1 /tmp/new.json \\
        --new-rule base.units.minutes_unknown ...
    python3 -c "import json; a, b = (json.load(open(f)) for f in ('/tmp/old.json', '/tmp/new.json')); \\
        print(sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k)))"

Prints the number of outputs written; the comparison is the last line above (empty list: unchanged).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT / "tests"))

import golden  # noqa: E402  (tests/golden.py of the checkout being compared)


def masked(document: dict, new_rules: set[str]) -> dict:
    document = dict(document, policy_version="<masked>")
    for line in document["lines"]:
        proof = line.get("proof")
        if proof and "why_not_denied" in proof:
            proof["why_not_denied"] = [a for a in proof["why_not_denied"] if a["rule"]["id"] not in new_rules]
    return document


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("every", type=int, help="every n-th corpus encounter (1: all)")
    parser.add_argument("out", type=Path, help="where to write the digests (JSON)")
    parser.add_argument("--new-rule", action="append", default=[], help="a rule id the change adds (repeatable)")
    args = parser.parse_args()
    from supportable.engine.errors import InputError
    from supportable.server.registry import Registry
    from supportable.server.wire import decision as decision_document, problem_items
    registry = Registry.load(ROOT / "policies")
    out: dict[str, str] = {}
    items = golden._examples() + golden._corpus(args.every)
    for payer in sorted(registry.policies):
        policy = registry.policies[payer]
        for name, document in items:
            try:
                encounter = policy.parse(document)
            except InputError as exc:
                out[f"{payer}/{name}"] = golden.digest(problem_items(exc.problems))
                continue
            decision = policy.decide(encounter, "full")
            for level in golden.EXPLAIN:
                out[f"{payer}/{name}/{level}"] = golden.digest(masked(decision_document(decision, level),
                                                                      set(args.new_rule)))
    args.out.write_text(json.dumps(out, indent=0, sort_keys=True))
    print(len(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
