"""The engines' side-by-side benchmark still runs (figures are measured by hand, never timed here)."""
import json
import os
import subprocess
import sys

from conftest import ROOT


def test_the_plan_benchmark_runs_and_reports_both_engines(tmp_path):
    out = tmp_path / "plan.json"
    run = subprocess.run([sys.executable, "bench/bench_plan.py", "--count", "5", "--payer", "base", "--json", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(out.read_text())["payers"]["base"]
    assert {"eval pydatalog", "eval plan", "decide pydatalog", "decide plan"} <= set(figures)
    assert all(figures[name]["n"] == 5 for name in ("eval pydatalog", "eval plan"))
    assert "command:" in run.stdout and "ratio pyd/plan" in run.stdout
