"""Golden outputs: a digest of everything Supportable answers, to show a refactoring changed nothing.

Every decision (three explain levels) of every example encounter and a fixed sample of the corpus
under every payer, every invalid example's problems, and the command line's text and JSON output
(check, payers, explain-code for every code, diff, lint, the policy tests) are rendered exactly as
they are sent and hashed. ``tests/data/golden.json`` holds the digests; ``tests/test_golden.py``
compares them. An intended change of output updates the file (``--write``) in the same commit,
with a CHANGELOG entry saying what changed for whom.

    .venv/bin/python tests/golden.py --check          # the sample, as make test does
    .venv/bin/python tests/golden.py --check --all    # every corpus encounter (make golden)
    .venv/bin/python tests/golden.py --write [--all]  # after an intended change of output
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden.json"
EXAMPLES = ROOT / "examples" / "encounters"
CORPUS = ROOT / "examples" / "corpus" / "encounters.jsonl"
SAMPLE_EVERY = 30          # every 30th corpus encounter in make test; --all takes every one
EXPLAIN = ("none", "summary", "full")
_TIMING = re.compile(r'"(seconds|elapsed|duration_ms|ms)": [0-9.e-]+|\b\d+(\.\d+)? ?(ms|s)\b')


def digest(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=False, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _examples() -> list[tuple[str, dict]]:
    out = []
    for path in sorted(EXAMPLES.glob("*.json")):
        out.append((path.name, json.loads(path.read_text())))
    for i, line in enumerate((EXAMPLES / "batch.ndjson").read_text().splitlines()):
        if line.strip():
            out.append((f"batch.ndjson:{i + 1}", json.loads(line)))
    return out


def _corpus(every: int) -> list[tuple[str, dict]]:
    lines = CORPUS.read_text().splitlines()
    return [(f"corpus:{i + 1}", json.loads(line)) for i, line in enumerate(lines) if i % every == 0]


def decisions(every: int) -> dict[str, str]:
    from supportable.engine.errors import InputError
    from supportable.server.registry import Registry
    from supportable.server.wire import decision as decision_document, problem_items
    registry = Registry.load(ROOT / "policies")
    out: dict[str, str] = {}
    examples, corpus = _examples(), _corpus(every)
    for payer in sorted(registry.policies):
        policy = registry.policies[payer]
        for name, document in examples + corpus:
            try:
                encounter = policy.parse(document)
            except InputError as exc:
                out[f"decision/{payer}/{name}"] = digest(problem_items(exc.problems))
                continue
            decision = policy.decide(encounter, "full")
            levels = EXPLAIN if not name.startswith("corpus:") else ("full",)
            for level in levels:
                out[f"decision/{payer}/{name}/{level}"] = digest(decision_document(decision, level))
        for path in sorted((EXAMPLES / "invalid").glob("*.json")):
            try:
                policy.parse(json.loads(path.read_text()))
                out[f"invalid/{payer}/{path.name}"] = "accepted"
            except InputError as exc:
                out[f"invalid/{payer}/{path.name}"] = digest(problem_items(exc.problems))
    return out


def command_line() -> dict[str, str]:
    from supportable.engine.requirements import explain_code
    from supportable.cli import main
    from supportable.server.registry import Registry
    from supportable.cli.render_text import render_code_requirements
    from supportable.server.wire import code_requirements
    runner = CliRunner()
    registry = Registry.load(ROOT / "policies")
    out: dict[str, str] = {}

    def run(key: str, *args: str) -> None:
        result = runner.invoke(main, list(args))
        text = _TIMING.sub("<time>", result.output).replace(str(ROOT), "<checkout>")   # the same in any clone
        out[f"cli/{key}"] = digest(f"{result.exit_code}\n{text}")

    for fmt in ("text", "json"):
        run(f"payers/{fmt}", "payers", "--format", fmt)
        run(f"lint/{fmt}", "lint", "--format", fmt)
        run(f"diff/base-medicare/{fmt}", "diff", "base", "medicare", "--format", fmt)
        run(f"diff/commercial-aetna/{fmt}", "diff", "commercial", "aetna", "--format", fmt)
        for path in sorted(EXAMPLES.glob("*.json")):
            run(f"check/{path.name}/{fmt}", "check", str(path), "--format", fmt)
        run(f"check/invalid/{fmt}", "check", str(EXAMPLES / "invalid" / "bad_fields.json"), "--format", fmt)
        run(f"check/unknown-payer/{fmt}", "check", str(EXAMPLES / "mixed_visit.json"), "--payer", "nobody",
            "--format", fmt)
        for payer in sorted(registry.policies):     # the command for a few codes; every code below
            for code in ("97110", "97112", "98941"):
                run(f"explain-code/{payer}/{code}/{fmt}", "explain-code", code, "--payer", payer, "--format", fmt)
    codes = sorted(registry.policies["base"].vocabulary.ids("code"))
    for payer in sorted(registry.policies):
        for code in codes:
            report = code_requirements(explain_code(registry.policies[payer], code))
            out[f"explain-code/{payer}/{code}"] = digest(json.dumps(report, indent=2, default=str) + "\n"
                                                         + render_code_requirements(report))
    run("check/explain", "check", str(EXAMPLES / "mixed_visit.json"), "--explain", "--format", "json")
    run("test/json", "test", str(ROOT / "policies" / "tests"), "--format", "json")
    return out


def collect(every: int) -> dict[str, str]:
    return {**decisions(every), **command_line()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write tests/data/golden.json (sample and all)")
    parser.add_argument("--check", action="store_true", help="compare with tests/data/golden.json")
    parser.add_argument("--all", action="store_true", help="every corpus encounter, not the sample")
    args = parser.parse_args()
    if args.write:
        golden = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
        golden["sample"] = collect(SAMPLE_EVERY)
        if args.all or "all" not in golden:
            golden["all"] = digest(collect(1))
        else:
            print("the digest of every corpus encounter is kept: add --all to recompute it (make golden checks it)")
        GOLDEN.write_text(json.dumps(golden, indent=0, sort_keys=True) + "\n")
        print(f"wrote {len(golden['sample'])} digests to {GOLDEN.relative_to(ROOT)}")
        return 0
    golden = json.loads(GOLDEN.read_text())
    if args.all:
        same = digest(collect(1)) == golden["all"]
        print("every corpus encounter: " + ("unchanged" if same else "CHANGED (run without --all to locate)"))
        return 0 if same else 1
    now = collect(SAMPLE_EVERY)
    changed = sorted(k for k in set(now) | set(golden["sample"]) if now.get(k) != golden["sample"].get(k))
    for key in changed[:50]:
        print("changed:", key)
    print(f"{len(now)} outputs, {len(changed)} changed")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
