"""The audit benchmark and its corpus generator still run (figures are measured by hand, never timed
here): the generator is deterministic by seed and gives every encounter a payer and its lines a
charge; the benchmark audits a few encounters with 1 and 2 workers and reports both."""
import json
import os
import subprocess
import sys

from conftest import ROOT

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def test_the_corpus_generator_is_deterministic_by_seed(tmp_path):
    def generate(name, seed):
        out = tmp_path / name
        run = subprocess.run([sys.executable, "bench/audit_corpus.py", "--count", "40", "--seed", str(seed),
                              "--output", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120, env=ENV)
        assert run.returncode == 0, run.stderr[-2000:]
        return out.read_bytes()
    first, again, other = generate("a.ndjson", 5), generate("b.ndjson", 5), generate("c.ndjson", 6)
    assert first == again and first != other
    docs = [json.loads(line) for line in first.splitlines()]
    assert len(docs) == 40 and len({d["id"] for d in docs}) == 40
    assert {d["payer"] for d in docs} <= {"base", "commercial", "medicare", "aetna", "aetna_medicare"}
    assert len({d["payer"] for d in docs}) >= 3
    assert all(line["charge"] > 0 for d in docs for line in d["lines"])


def test_the_audit_benchmark_reports_1_and_2_workers(tmp_path):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "bench/bench_audit.py", "--count", "16", "--partition-size", "4",
                          "--corpus-dir", str(tmp_path), "--json", str(out)], cwd=ROOT, capture_output=True,
                         text=True, timeout=240, env=ENV)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["workers"] for r in rows] == [1, 2] and all(r["encounters"] == 16 for r in rows)
    assert [len(r["peak_rss_mb_per_worker"]) for r in rows] == [1, 2]
    assert rows[0]["by_verdict"] == rows[1]["by_verdict"] and rows[0]["at_risk"] == rows[1]["at_risk"]
    assert "command:" in run.stdout and "scaling: 2 workers x" in run.stdout
