"""`supportable impact --workers 2`: the candidate overlay judged on a local Dask cluster gives the very
report one process gives (changes, invalid encounters and counts in corpus order), timings aside."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "examples" / "corpus" / "encounters.jsonl"
CANDIDATE = REPO / "examples" / "candidates" / "aetna_cap_24.yaml"


def impact(corpus: Path, *extra: str) -> dict:
    run = subprocess.run([sys.executable, "-m", "supportable", "impact", "--payer", "aetna", "--candidate",
                          str(CANDIDATE), "--encounters", str(corpus), "--with-dependents", "--format", "json",
                          *extra], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    report.pop("timing")
    for dep in report["dependents"]:
        dep.get("impact", {}).pop("timing", None)
    return report


def test_impact_on_workers_is_the_one_process_report(tmp_path):
    lines = [l for l in CORPUS.read_text().splitlines() if '"97112"' in l][:60]
    lines.insert(7, '{"id": "cut short", ')
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("\n".join(lines) + "\n")
    alone = impact(corpus)
    assert alone["summary"]["lines_changed"] > 0 and alone["invalid_encounters"]    # something to compare
    assert impact(corpus, "--workers", "2", "--partition-size", "7") == alone      # 9 partitions, merged in order
