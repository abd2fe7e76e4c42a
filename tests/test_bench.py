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


def test_the_http_benchmark_starts_the_real_server_and_measures(tmp_path):
    # The HTTP benchmark starts `supportable serve` itself and waits for every worker to say it has
    # its policies: a preloading master logs the load once and each worker what it inherited, which
    # the benchmark once missed (it waited for one load per worker and never started).
    out = tmp_path / "http.json"
    run = subprocess.run([sys.executable, "bench/bench_http.py", "--concurrency", "1", "--seconds", "1", "--warmup", "0",
                          "--workers", "2", "--threads", "1", "--json", str(out)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    (level,) = json.loads(out.read_text())["levels"]
    assert level["requests"] > 0 and level["errors_by_status"] == {}
    assert level["encounters_decided"] == level["requests"]
    assert "left behind: nothing" in run.stdout


def test_the_http_benchmark_runs_open_loop_at_a_fixed_rate(tmp_path):
    # --rate: requests are due on a fixed grid and their latency counts from when each was due, so no
    # more can start in the window than were due in it (a closed loop would send as fast as answered).
    out = tmp_path / "http.json"
    run = subprocess.run([sys.executable, "bench/bench_http.py", "--concurrency", "2", "--seconds", "1", "--warmup", "0",
                          "--workers", "1", "--threads", "2", "--rate", "20", "--json", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    (level,) = json.loads(out.read_text())["levels"]
    assert level["open_loop_rate_per_s"] == 20 and level["sent_late"] is not None
    assert 0 < level["requests"] <= 20 * level["window_s"] + 1 and level["errors_by_status"] == {}
    assert "open loop at 20 req/s" in run.stdout and "--rate 20" in run.stdout


def test_the_batch_benchmark_decides_every_encounter_in_each_process_count(tmp_path):
    out = tmp_path / "batch.json"
    run = subprocess.run([sys.executable, "bench/bench_batch.py", "--count", "12", "--processes", "1,2",
                          "--payers", "base,medicare", "--json", str(out)], cwd=ROOT, capture_output=True,
                         text=True, timeout=180, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["processes"] for r in rows] == [1, 2]
    assert all(r["encounters"] == 12 and r["encounters_per_s"] > 0 and r["json_bytes"] > 0 for r in rows)
    # the same encounters decided in one process or split over two give the same documents, byte for byte
    assert rows[0]["json_bytes"] == rows[1]["json_bytes"]
    assert "bench/bench_batch.py --count 12 --processes 1,2" in run.stdout


def test_the_cds_benchmark_calls_the_real_server_with_signed_tokens(tmp_path):
    out = tmp_path / "cds.json"
    run = subprocess.run([sys.executable, "bench/bench_cds.py", "--requests", "5", "--warmup", "1", "--json", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=180, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["requests"] == 5 and figures["errors"] == []
    assert {"median_ms", "p99_ms", "max_ms"} <= set(figures)      # reported; their values are the bench's to print
    assert "command:  PYTHONPATH=. .venv/bin/python bench/bench_cds.py" in run.stdout
