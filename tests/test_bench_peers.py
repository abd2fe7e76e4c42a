"""The side-by-side benchmark of the peers' small claim policy (bench/bench_peers.py) runs, and its
engines agree with the Python reference. Never timed: the figures are measured by hand (README
"Performance"). Our engine (both evaluators) and the reference always run; clingo, Rego and Cedar run
when their packages are installed in this venv (make bench-peers installs them in .venv-bench) and
are otherwise reported as not installed."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

for _path in (ROOT / "bench", ROOT / "bench" / "peers"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import bench_peers  # noqa: E402
import peers  # noqa: E402
import workload as wl  # noqa: E402

OURS = ["supportable plan full", "supportable plan verdicts", "supportable pydatalog full",
        "supportable pydatalog verdicts"]


def installed(peer: str) -> bool:
    return importlib.util.find_spec(peers.PACKAGES[peer]) is not None


@pytest.fixture(scope="module")
def engines():
    return bench_peers.engines(require_all=False)[0]


def test_the_runner_checks_and_reports_every_installed_engine(tmp_path):
    out = tmp_path / "peers.json"
    run = subprocess.run([sys.executable, "bench/bench_peers.py", "--count", "12", "--warmup", "2", "--json", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-3000:]
    res = json.loads(out.read_text())
    assert set(["python"] + OURS) <= set(res["figures"])
    for peer in peers.PEERS:
        if installed(peer):
            assert peer in res["figures"]
        else:
            assert res["missing"][peer].startswith("not installed") and f"{peer} " in run.stdout
    assert res["workload"]["claims"] == 12 and res["workload"]["lines"] >= 12
    assert "every engine's output equals the Python reference" in run.stdout
    assert "command: " in run.stdout and "bench/bench_peers.py --count 12 --seed 13 --warmup 2" in run.stdout
    for name in res["figures"]:
        assert name in run.stdout


def test_require_all_fails_when_a_peer_is_missing():
    if all(installed(p) for p in peers.PEERS):
        pytest.skip("every peer is installed here")
    with pytest.raises(SystemExit, match="--require-all"):
        bench_peers.engines(require_all=True)


def test_a_wrong_answer_stops_the_run(engines, capsys):
    class Wrong(bench_peers.Python):
        def answer(self, output, claim):
            return {lid: (True, ()) for lid in output}      # every line supportable
    with pytest.raises(SystemExit) as stopped:
        bench_peers.check({"wrong": Wrong()}, wl.workload(wl.DEFAULT_SEED, 20))
    assert stopped.value.code == 1
    assert "OUTPUTS DIFFER" in capsys.readouterr().err


def test_claims_depend_only_on_the_seed_and_their_index():
    assert wl.workload(7, 5, start=40) == [wl.claim(7, i) for i in range(40, 45)]
    assert wl.claim(7, 3) != wl.claim(8, 3)
    for c in wl.workload(7, 50):
        assert 1 <= len(c["lines"]) <= 6 and len(c["visits"]) <= 30
        assert all(c["day"] - 60 <= h < c["day"] for h in c["visits"])


def claim(lines, visits=(), payer="aetna", day=20100):
    full = {code: list(els) for code, els in wl.REQUIRES.items()}
    return {"id": "t", "payer": payer, "day": day, "visits": sorted(visits),
            "lines": [{"id": str(n), "code": code, "day": day + offset, "minutes": 15,
                       "documented": full[code] if documented is None else documented}
                      for n, (code, offset, documented) in enumerate(lines, start=1)]}


# (claim, expected {line: (supportable, reasons)}) at the edges of each rule
CASES = {
    "missing elements": (claim([("97116", 0, ["functional_goals", "neuro_deficit"])]),
                         {"1": (False, ("missing:gait_impairment", "missing:skilled_contact", "missing:time_documented"))}),
    "conflict same day": (claim([("97112", 0, None), ("97530", 0, None), ("97116", 0, None)]),
                          {"1": (False, ("same_day_conflict",)), "2": (False, ("same_day_conflict",)), "3": (True, ())}),
    "no conflict next day": (claim([("97112", 0, None), ("97110", 1, None)]), {"1": (True, ()), "2": (True, ())}),
    "no conflict off aetna": (claim([("97112", 0, None), ("97110", 0, None)], payer="other"),
                              {"1": (True, ()), "2": (True, ())}),
    "cap: 19 in the window, the oldest at date - 42": (
        claim([("97112", 0, None)], visits=range(20100 - 42, 20100 - 42 + 19)), {"1": (False, ("visit_cap_exceeded",))}),
    "cap: 18 in the window, one at date - 43": (
        claim([("97112", 0, None)], visits=[20100 - 43] + list(range(20100 - 42, 20100 - 42 + 18))), {"1": (True, ())}),
    "cap: a next-day line's window starts a day later": (
        claim([("97112", 1, None), ("97112", 0, None)], visits=range(20100 - 42, 20100 - 42 + 19)),
        {"1": (True, ()), "2": (False, ("visit_cap_exceeded",))}),
    "cap off aetna": (claim([("97112", 0, None)], visits=range(20100 - 42, 20100), payer="other"), {"1": (True, ())}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_engine_answers_the_edge_cases_as_the_policy_says(engines, case):
    c, expected = CASES[case]
    assert wl.reference(c) == expected
    for name, engine in engines.items():
        assert engine.answer(engine.run(c), c) == expected, name


def test_our_engine_gives_full_proofs_in_the_full_variant(engines):
    c, _ = CASES["conflict same day"]
    full, verdicts = engines["supportable plan full"].run(c), engines["supportable plan verdicts"].run(c)
    assert full["lines"][0]["proof"]["derivations"]
    assert "proof" not in verdicts["lines"][0] or not verdicts["lines"][0]["proof"]


def test_the_policy_lints_clean_with_its_citations_resolved(tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "anchors-policy.md").write_text("the peers' small claim policy\n")   # what the rules cite
    run = subprocess.run([sys.executable, "-m", "supportable", "lint", "--strict", "--policies",
                          str(ROOT / "bench" / "peers" / "policy" / "policies"), "--guidance", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "0 error(s), 0 warning(s) in 2 payer(s)" in run.stderr
