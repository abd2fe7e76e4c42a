#!/usr/bin/env python3
"""The edit tables at CMS's size: import, load, memory and per-encounter cost with a million rows.

CMS's practitioner PTP table has about a million rows. This benchmark generates one of that size in
CMS's own layout (tab-delimited text with a header block, split into four parts like the published
f1..f4 files; codes are synthetic except for the therapy codes the policies know, whose real pairs
from policies/edits/ptp.yaml are kept), then:

1. imports it with ``supportable edits import`` (engine.ncci_import) and reports the time;
2. in a fresh child process, loads the imported table (engine.edits_store) and reports the load
   time and the resident memory it adds (RSS before and after, and the arrays' own size);
3. in one process, decides the same encounters with the bundled tables only and with the imported
   million-row table, interleaved in chunks, for each payer: median and p90 per encounter and the
   ratio imported/bundled in the same run (the target: flat, a ratio near 1);
4. shows the table is held once per process: a second load of the folder, and loading every payer
   with it, return the very same object.

Usage (from the repository root):

    PYTHONPATH=. python bench/bench_edits.py                 # 1,000,000 rows, 600 encounters
    PYTHONPATH=. python bench/bench_edits.py --rows 200000 --count 200   # a quicker run

Figures move by 30% or more between runs on a shared machine; compare the ratios of one run.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from supportable.engine.ncci_import import import_files  # noqa: E402
from supportable.engine.policyset import load_policy_set, payer_ids  # noqa: E402
from supportable.server.wire import decision as decision_document  # noqa: E402

HEADER = ("CPT codes and descriptions only are copyright American Medical Association (a synthetic file)\n"
          "\n"
          "Column1\tColumn2\t*=in existence\tEffective\tDeletion\tModifier\tPTP Edit Rationale\n"
          "\t\tprior to 1996\tDate\tDate\t0=not allowed\t\n"
          "\t\t\t\t*=no data\t1=allowed\t\n")
RATIONALES = ("Mutually exclusive procedures", "Misuse of column two code with column one code",
              "Standards of medical / surgical practice", "CPT Manual or CMS manual coding instructions")


def synthetic_codes(n: int, rng: random.Random) -> list[str]:
    codes = set()
    while len(codes) < n:
        kind = rng.random()
        if kind < 0.85:
            codes.add(f"{rng.randint(10000, 99999)}")
        else:
            codes.add(f"{rng.choice('ABCEGJKLQ')}{rng.randint(0, 9999):04d}")
    return sorted(codes)


def write_cms_files(folder: Path, rows: int, seed: int, keep: list[tuple[str, str, int]]) -> list[Path]:
    """Four PTP parts in CMS's layout: ``rows`` rows in all, the ``keep`` pairs among them."""
    rng = random.Random(seed)
    codes = synthetic_codes(max(2000, rows // 60), rng)
    pairs: set[tuple[str, str]] = set()
    out = [(a, b, ind) for a, b, ind in keep]
    pairs.update((a, b) for a, b, _ in keep)
    while len(out) < rows:
        a, b = rng.choice(codes), rng.choice(codes)
        if a == b or (a, b) in pairs:
            continue
        pairs.add((a, b))
        out.append((a, b, rng.choice((0, 1, 1, 1, 9))))
    out.sort()
    paths = []
    per_part = (len(out) + 3) // 4
    for part in range(4):
        path = folder / f"ccipra-synthetic-f{part + 1}.txt"
        with path.open("w", encoding="latin-1") as f:
            f.write(HEADER)
            for a, b, ind in out[part * per_part:(part + 1) * per_part]:
                start = rng.choice(("19960101", "20100101", "20200101", "20240101"))
                deleted = "*" if rng.random() < 0.9 else "20231231"
                if deleted != "*" and start > "20231231":
                    deleted = "*"
                f.write(f"{a}\t{b}\t{'*' if start == '19960101' else ''}\t{start}\t{deleted}\t{ind}\t"
                        f"{rng.choice(RATIONALES)}\n")
        paths.append(path)
    return paths


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_load(folder: str) -> None:
    """Run in a fresh process: the memory and time one load of the table costs."""
    from supportable.engine.edits_store import load_imported
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    table = load_imported(Path(folder))
    seconds = time.perf_counter() - started
    gc.collect()
    after = rss_mb()
    arrays = sum(getattr(table, name).itemsize * len(getattr(table, name)) for name in vars(table)
                 if name.startswith(("ptp_", "mue_")) and hasattr(getattr(table, name), "itemsize"))
    print(json.dumps({"load_s": seconds, "rss_before_mb": before, "rss_after_mb": after,
                      "arrays_mb": arrays / 2**20, "rows": table.ptp_rows, "codes": len(table.codes)}))


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(p / 100 * len(values) + 0.5)) - 1))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="PTP rows in the generated table")
    ap.add_argument("--count", type=int, default=600, help="encounters decided per payer and table")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--child-load", metavar="FOLDER", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_load:
        child_load(args.child_load)
        return 0
    import bench_engine as be

    print("Supportable edit-table benchmark")
    print(f"command:  cd {ROOT} && PYTHONPATH=. {sys.executable} bench/bench_edits.py --rows {args.rows} "
          f"--count {args.count} --seed {args.seed}")
    print(f"machine:  {platform.platform()}, python {platform.python_version()}, cpus {os.cpu_count()}, "
          f"load {os.getloadavg()}")
    policies = ROOT / "policies"
    base = load_policy_set(policies, "base")
    keep = sorted({(r.codes[0], r.codes[1], r.value) for key in base.edits._base_index
                   for r in base.edits._base_index[key] if r.table == "ptp"})
    with tempfile.TemporaryDirectory(prefix="supportable-edits-bench-") as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        files = write_cms_files(tmp, args.rows, args.seed, keep)
        print(f"\n1. generated {args.rows:,} PTP rows in CMS's layout ({len(files)} files, "
              f"{sum(f.stat().st_size for f in files) / 2**20:.1f} MB) in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        result = import_files(files, [], tmp / "table")
        assert result.ok, result.problems[:5]
        print(f"   imported with `supportable edits import` in {time.perf_counter() - started:.1f} s "
              f"({result.ptp_rows:,} rows; table files "
              f"{sum(p.stat().st_size for p in (tmp / 'table').iterdir()) / 2**20:.1f} MB)")

        child = subprocess.run([sys.executable, __file__, "--child-load", str(tmp / "table")],
                               capture_output=True, text=True, check=True, cwd=ROOT,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
        load = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"\n2. one load in a fresh process: {load['load_s']:.2f} s; RSS {load['rss_before_mb']:.0f} -> "
              f"{load['rss_after_mb']:.0f} MB (+{load['rss_after_mb'] - load['rss_before_mb']:.0f} MB), of which "
              f"the column arrays are {load['arrays_mb']:.1f} MB; {load['rows']:,} rows, {load['codes']:,} codes")

        payers = payer_ids(policies)
        bundled = {p: load_policy_set(policies, p) for p in payers}
        started = time.perf_counter()
        imported = {p: load_policy_set(policies, p, edits_dir=tmp / "table") for p in payers}
        print(f"\n3. every payer loaded with the imported table in {time.perf_counter() - started:.2f} s "
              f"(the table is read once; the payers share it)")
        shared = {id(ps.edits.imported) for ps in imported.values()}
        again = load_policy_set(policies, "base", edits_dir=tmp / "table").edits.imported
        print(f"   one table object for {len(imported)} payers: {len(shared) == 1}; a second load of the folder "
              f"returns the same object: {again is next(iter(imported.values())).edits.imported}")

        gen = be.EncounterGenerator(base, args.seed)
        texts = []
        while len(texts) < args.count:
            doc = gen.encounter()
            doc["date_of_service"] = doc["date_of_service"].replace("2025", "2024")   # in every payer's range
            if all(_parses(ps, doc) for ps in bundled.values()):
                texts.append(json.dumps(doc))
        print(f"\n4. per-encounter latency, decide + wire.decision(explain='full'), {len(texts)} encounters per payer "
              f"and table, interleaved in chunks of 50 (1 to 6 lines, {sum(len(json.loads(t)['lines']) for t in texts)} "
              f"lines). The encounters' codes are real therapy codes: the imported pairs they meet are the base "
              f"table's pairs, active as CMS's rows would be (the base ships some unverified), so they meet more "
              f"edit facts; the million other rows only make every lookup search a bigger table.")
        rows = []
        for payer in payers:
            times = {"bundled": [], "imported": []}
            pairs = {"bundled": 0, "imported": 0}
            for ps in (bundled[payer], imported[payer]):       # warm-up: each thread engine built
                for text in texts[:20]:
                    decision_document(ps.decide(ps.parse(json.loads(text)), "full"), "full")
            for start in range(0, len(texts), 50):
                for label, ps in (("bundled", bundled[payer]), ("imported", imported[payer])):
                    for text in texts[start:start + 50]:
                        enc = ps.parse(json.loads(text))
                        t = time.perf_counter_ns()
                        decision_document(ps.decide(enc, "full"), "full")
                        times[label].append((time.perf_counter_ns() - t) / 1e6)
                        pairs[label] += len(ps.edits.facts_for([l.code for l in enc.lines],
                                                               enc.date_of_service.isoformat())[0])
            b, i = statistics.median(times["bundled"]), statistics.median(times["imported"])
            rows.append((payer, b, percentile(times["bundled"], 90), i, percentile(times["imported"], 90),
                         pairs["bundled"], pairs["imported"]))
        print(f"   {'payer':16s} {'bundled median':>15s} {'p90':>8s} {'imported median':>16s} {'p90':>8s} "
              f"{'ratio':>6s}  edit facts (bundled / imported)")
        for payer, b, b90, i, i90, pb, pi in rows:
            print(f"   {payer:16s} {b:12.2f} ms {b90:6.2f} ms {i:13.2f} ms {i90:6.2f} ms {i / b:6.2f}  {pb} / {pi}")
        lookups = []
        table = imported["base"].edits
        codes = ["97110", "97112", "97116", "97530", "97140", "98940"]
        t = time.perf_counter()
        for _ in range(2000):
            table.facts_for(codes, "2024-06-01")
        lookups = (time.perf_counter() - t) / 2000 * 1e6
        print(f"   selecting the edit rows of a six-code claim from the imported table: {lookups:.0f} µs "
              f"(30 pair lookups and 6 MUE lookups by binary search)")
    return 0


def _parses(ps, doc) -> bool:
    try:
        ps.read_encounter(doc)
        return True
    except Exception:
        return False


if __name__ == "__main__":
    sys.exit(main())
