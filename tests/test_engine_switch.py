"""The engine switch everywhere (issue 13): the build option, ``--engine`` on the commands that build
a policy, ``SUPPORTABLE_ENGINE`` for the server's registries and the policy test runner's
``engine=``. Each is checked to select the engine it names (``PolicySet.engine``, the evaluator's
type), to give identical decisions under both, and to refuse an unknown engine clearly."""
import json

import pytest
from click.testing import CliRunner

from conftest import EXAMPLES, PAYERS, ROOT
from supportable.cli import main
from supportable.engine.evaluator import Evaluator
from supportable.engine.plan import PlanEvaluator
from supportable.engine.policytest import PolicyCache, run_tests
from supportable.server.settings import Settings, SettingsError

POLICIES = ROOT / "policies"
EVALUATOR = {"plan": PlanEvaluator, "pydatalog": Evaluator}


@pytest.fixture
def built(monkeypatch):
    """The engines of the policy sets the command line builds (spying on the facade's build)."""
    import supportable.engine as facade     # the command line calls the facade's build when it runs
    seen = []
    original = facade.build_policy_set

    def spy(parsed, payer, engine=None):
        policy = original(parsed, payer, engine)
        seen.append((policy.engine, type(policy.evaluator)))
        return policy
    monkeypatch.setattr(facade, "build_policy_set", spy)
    return seen


def invoke(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


# --- the command line ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["mixed_visit.json", "nmr_without_deficit.json"])
def test_check_engine_selects_the_engine_and_the_decisions_are_identical(built, name):
    out = {}
    for engine in ("plan", "pydatalog"):
        result = invoke("check", EXAMPLES / name, "--explain", "--format", "json", "--engine", engine)
        assert result.exit_code == 0, result.output
        assert built[-1] == (engine, EVALUATOR[engine])
        out[engine] = json.loads(result.output)
    assert out["plan"] == out["pydatalog"] and out["plan"]["lines"]
    # no flag: the default engine, the plan; SUPPORTABLE_ENGINE sets it as the option does
    assert invoke("check", EXAMPLES / name, "--format", "json").exit_code == 0 and built[-1][0] == "plan"
    assert invoke("check", EXAMPLES / name, env={"SUPPORTABLE_ENGINE": "pydatalog"}).exit_code == 0
    assert built[-1][0] == "pydatalog"


@pytest.mark.parametrize("command", [["check", str(EXAMPLES / "mixed_visit.json")], ["payers"],
                                     ["explain-code", "97110"], ["test"],
                                     ["impact", "--payer", "aetna", "--candidate", "x.yaml", "--encounters", "x"]])
def test_an_unknown_engine_is_a_usage_error_naming_the_engines(command):
    result = invoke(*command, "--engine", "clingo")
    assert result.exit_code == 2
    assert "Invalid value for '--engine': 'clingo' is not one of 'plan', 'pydatalog' (the option, or " \
           "SUPPORTABLE_ENGINE)" in result.output
    from_env = invoke(*command, env={"SUPPORTABLE_ENGINE": "clingo"})
    assert from_env.exit_code == 2 and "SUPPORTABLE_ENGINE" in from_env.output and "'clingo'" in from_env.output


def test_payers_and_explain_code_build_with_the_engine_given(built):
    for engine in ("pydatalog", "plan"):
        payers = invoke("payers", "--format", "json", "--engine", engine)
        assert payers.exit_code == 0, payers.output
        assert built[-len(PAYERS):] == [(engine, EVALUATOR[engine])] * len(PAYERS)
    reports = {}
    for engine in ("pydatalog", "plan"):
        result = invoke("explain-code", "97112", "--payer", "aetna", "--format", "json", "--engine", engine)
        assert result.exit_code == 0, result.output
        assert built[-1] == (engine, EVALUATOR[engine])
        reports[engine] = json.loads(result.output)
    assert reports["plan"] == reports["pydatalog"]


def test_impact_decides_with_the_engine_given(tmp_path, monkeypatch):
    import supportable.cli.impact as impact_cli
    seen = []
    original = impact_cli.load_candidate

    def spy(*args, **kwargs):
        pair = original(*args, **kwargs)
        seen.append((pair.current.engine, pair.candidate.engine))
        return pair
    monkeypatch.setattr(impact_cli, "load_candidate", spy)
    candidate = tmp_path / "aetna.yaml"
    candidate.write_text((ROOT / "payers" / "aetna.yaml").read_text())
    reports = {}
    for engine in ("pydatalog", "plan"):
        result = invoke("impact", "--payer", "aetna", "--candidate", candidate, "--encounters", EXAMPLES,
                        "--format", "json", "--engine", engine)
        assert result.exit_code == 0, result.output
        assert seen[-1] == (engine, engine)
        report = json.loads(result.output)
        reports[engine] = {k: report[k] for k in ("summary", "changes", "corpus")}
    assert reports["plan"] == reports["pydatalog"] and reports["plan"]["corpus"]["encounters_decided"] > 0


# --- the policy tests ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped_runs():
    """The shipped policy tests run under each engine, each payer built once per engine."""
    runs = {}
    for engine in ("plan", "pydatalog"):
        cache = PolicyCache()
        runs[engine] = (run_tests(None, POLICIES, cache=cache, engine=engine), cache)
    return runs


@pytest.mark.parametrize("engine", ["plan", "pydatalog"])
def test_the_shipped_policy_tests_pass_under_each_engine(shipped_runs, engine):
    run, cache = shipped_runs[engine]
    failures = [(r.case.file, r.case.name, r.status) for r in run.results if r.status != "passed"]
    assert failures == [] and run.errors == [] and len(run.results) >= 100
    # every payer the run decided under was built with that engine, and no other
    built = [policy for _, sets in cache._built.values() for policy, _ in sets.values()]
    assert {p.payer for p in built} == set(PAYERS)
    assert {(p.engine, type(p.evaluator)) for p in built} == {(engine, EVALUATOR[engine])}


def test_the_shipped_policy_tests_decide_the_same_under_both_engines(shipped_runs):
    def actual(run):
        return [(r.case.file, r.case.name, [(l.line, l.actual) for l in r.lines]) for r in run.results]
    assert actual(shipped_runs["plan"][0]) == actual(shipped_runs["pydatalog"][0])


def test_the_test_command_takes_the_engine(monkeypatch):
    import supportable.cli.policytest as command
    seen = []
    original = command.run_tests
    monkeypatch.setattr(command, "run_tests", lambda *a, **k: seen.append(k["engine"]) or original(*a, **k))
    folder = ROOT / "payers" / "tests" / "aetna"
    for engine in ("pydatalog", "plan"):
        result = invoke("test", folder, "--engine", engine)
        assert result.exit_code == 0, result.output
        assert seen[-1] == engine and result.output.strip().splitlines()[-1].endswith("passed, 0 failed")


def test_the_runner_refuses_an_unknown_engine():
    with pytest.raises(ValueError, match="unknown engine `clingo`: expected one of plan, pydatalog"):
        run_tests(None, POLICIES, engine="clingo")


# --- the server ----------------------------------------------------------------------------------

def test_the_engine_setting():
    assert Settings.from_env({}).engine == "plan"
    assert Settings.from_env({"SUPPORTABLE_ENGINE": " PyDatalog "}).engine == "pydatalog"
    assert Settings.from_env({}).effective()["engine"] == "plan"      # in the start-up line
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"SUPPORTABLE_ENGINE": "clingo"})
    assert caught.value.lines == ["SUPPORTABLE_ENGINE=clingo: not valid; expected plan or pydatalog"]


def test_the_server_builds_every_payer_with_the_engine_set(tmp_path, monkeypatch):
    import supportable.server.registry as registry_module
    from supportable.server.app import create_app
    monkeypatch.setattr(registry_module, "_engine", registry_module.current_engine())   # restored afterwards
    decisions = {}
    document = json.loads((EXAMPLES / "mixed_visit.json").read_text())
    for engine in ("pydatalog", "plan"):
        settings = Settings.from_env({"SUPPORTABLE_ENGINE": engine}, tune_gc=False, snapshot="",
                                     decision_log=tmp_path / f"{engine}.jsonl")
        app = create_app(settings)
        registry = app.extensions["supportable"].registry
        assert registry.engine == engine and set(registry.policies) == set(PAYERS)
        assert {(p.engine, type(p.evaluator)) for p in registry.policies.values()} == {(engine, EVALUATOR[engine])}
        client = app.test_client()
        ready = client.get("/readyz").get_json()
        assert {p["engine"] for p in ready["payers"].values()} == {engine}
        response = client.post("/v1/check?explain=full", json=document)
        assert response.status_code == 200, response.get_data(as_text=True)
        decision = response.get_json()
        assert decision.pop("decision_id") and decision.pop("decided_at")    # each decision's own
        decisions[engine] = decision
    assert decisions["plan"]["lines"] and decisions["plan"] == decisions["pydatalog"]


def test_a_registry_loaded_with_an_engine_builds_with_it():
    from supportable.server.registry import Registry
    registry = Registry.load(POLICIES, engine="pydatalog")
    assert registry.engine == "pydatalog" and not registry.failed
    assert {p.engine for p in registry.policies.values()} == {"pydatalog"}
    with pytest.raises(ValueError, match="unknown engine"):
        Registry.load(POLICIES, engine="clingo")
