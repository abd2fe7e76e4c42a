#!/usr/bin/env python3
"""What reading policy files costs, and what a hostile file costs (issue 11, items 1 and 2).

1. Reading every shipped policy file (vocabulary, base rules, edit tables, overlays, policy tests):
   the reader before issue 11 (PyYAML's pure-Python SafeLoader composer and a duplicate-key walk
   without a visited set) against ``engine.yamlsource`` (libyaml's parser under a checking
   composer, every check included), median of ``--rounds`` rounds.
2. Loading every payer (``Registry.load``: parse + layer + check + compile), the way a worker
   starts or reloads.
3. The alias bomb (levels of nine aliases to the level below, nine per level): the old reader's
   duplicate-key walk on depths 1..``--old-depth`` (each level costs about nine times the last;
   depth 9 would walk 9**9 nodes), and the new reader on depths 1..9: refused at the first alias in
   a policy file (``yaml_alias``), refused at the expansion limit in a policy test
   (``yaml_expansion_limit``).
4. ``engine.lint.lint`` over the shipped policies plus an overlay holding the depth-9 bomb.

Usage (from the repository root):

    PYTHONPATH=. python bench/bench_policy_files.py
    PYTHONPATH=. python bench/bench_policy_files.py --rounds 3 --old-depth 5     # quicker

Figures move by 30% or more between runs on a shared machine; compare within one run.
"""
from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from supportable.engine.lint import lint  # noqa: E402
from supportable.engine.yamlsource import MAX_EXPANDED_NODES, compose, load_yaml  # noqa: E402
from supportable.server.registry import Registry  # noqa: E402


def bomb(depth: int, width: int = 9) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, depth + 1)]
    return "\n".join(lines) + "\n"


def old_read(text: str) -> int:
    """The reader before issue 11: compose with the pure-Python SafeLoader, then the duplicate-key
    walk without a visited set. Returns the nodes walked."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    walked, stack = 0, [root]
    while stack:
        node = stack.pop()
        walked += 1
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key, value in node.value:
                seen.add(key.value)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return walked


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def median_ms(fn, rounds: int) -> float:
    return statistics.median(timed(fn)[0] for _ in range(rounds)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--old-depth", type=int, default=6, help="deepest bomb given to the old reader (7 takes ~20 s)")
    args = parser.parse_args()
    print(f"command:    PYTHONPATH=. python bench/bench_policy_files.py --rounds {args.rounds} "
          f"--old-depth {args.old_depth}")
    print(f"machine:    {platform.python_implementation()} {platform.python_version()}, PyYAML {yaml.__version__}, "
          f"libyaml {'yes' if getattr(yaml, '__with_libyaml__', False) else 'no'}")

    files = sorted(p for d in ("policies", "payers") for p in (ROOT / d).rglob("*.yaml"))
    texts = [p.read_text(encoding="utf-8") for p in files]
    size = sum(len(t.encode()) for t in texts)
    tests = {p for p in files if "tests" in p.relative_to(ROOT).parts}
    old = median_ms(lambda: [old_read(t) for t in texts], args.rounds)
    new = median_ms(lambda: [load_yaml(p, p.name, aliases=p in tests) for p in files], args.rounds)
    print(f"\n1. Reading every shipped policy file ({len(files)} files, {size / 1024:.0f} KiB), median of {args.rounds}:")
    print(f"   before issue 11 (pure-Python compose + walk):   {old:8.1f} ms")
    print(f"   engine.yamlsource.load_yaml (all checks):        {new:8.1f} ms   ({old / new:.1f}x faster)")

    load = median_ms(lambda: Registry.load(ROOT / "policies"), max(1, args.rounds // 2))
    print(f"\n2. Registry.load of every payer (a worker's start or reload): {load:.0f} ms "
          f"(median of {max(1, args.rounds // 2)})")

    print(f"\n3. The alias bomb: nine aliases per level ({len(bomb(9).encode())} bytes at depth 9)")
    print(f"   {'depth':>5} {'expanded nodes':>15} {'old reader':>12} {'policy file':>12} {'policy test':>12}")
    for depth in range(1, 10):
        text = bomb(depth)
        sizes = [10]                                    # l0: the list and its nine strings
        for _ in range(depth):
            sizes.append(1 + 9 * sizes[-1])
        expanded = 1 + sum(1 + s for s in sizes)        # the mapping, each key and its expanded list
        old_s = f"{timed(lambda: old_read(text))[0] * 1000:9.1f} ms" if depth <= args.old_depth else "(skipped)"
        t_file, (_, p_file) = timed(lambda: compose(text, "bomb.yaml"))
        t_test, (_, p_test) = timed(lambda: compose(text, "bomb.yaml", aliases=True))
        codes = f"{p_file[0].code if p_file else 'read'} / {p_test[0].code if p_test else 'read'}"
        print(f"   {depth:5d} {expanded:15,d} {old_s:>12} {t_file * 1000:9.2f} ms {t_test * 1000:9.2f} ms   {codes}")
    print(f"   (policy files refuse any alias; policy tests stop at {MAX_EXPANDED_NODES:,} expanded values)")

    with tempfile.TemporaryDirectory(prefix="bench-policy-files-") as tmp:
        tmp = Path(tmp)
        shutil.copytree(ROOT / "policies", tmp / "policies")
        shutil.copytree(ROOT / "payers", tmp / "payers")
        (tmp / "payers" / "acme.yaml").write_text("id: acme\nname: Acme\nextends: base\n" + bomb(9))
        elapsed, report = timed(lambda: lint(tmp / "policies", tmp / "payers", tmp / "guidance"))
        bad = next(p for p in report.problems if p.level == "error")
        print(f"\n4. lint with a depth-9 bomb in payers/acme.yaml: {elapsed * 1000:.0f} ms, failed {report.failed}, {bad}")


if __name__ == "__main__":
    main()
