"""The benchmarks still run. They are measured by hand (README "Performance"), never timed here;
this only runs the engine benchmark's every pass on a few encounters, so a change to the decision
JSON or the engine that breaks it (as the `overbilled` count once did) fails in CI, not on the next
person to measure."""
import json
import os
import subprocess
import sys

from conftest import ROOT


def test_the_engine_benchmark_runs_every_pass(tmp_path):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "bench/bench_engine.py", "--count", "10", "--warmup", "5", "--tracemalloc-count", "5",
                          "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(out.read_text())
    verdicts = figures["line_verdicts"]
    assert sum(verdicts[k] for k in ("supportable", "needs_documentation", "not_supportable")) == \
        figures["workload"]["lines_total"]
    assert 0 <= verdicts["overbilled"] <= verdicts["supportable"]
    assert "command:" in run.stdout and "(a) with full proofs" in run.stdout
