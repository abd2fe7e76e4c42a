"""Policy sources as a value (engine/sources.py), parse and the build's stage table (engine/parsed.py,
engine/build.py), and the tools that go through them (impact without temporary folders)."""
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT
from supportable.engine import PolicyError, PolicySources, STAGE_NAMES, build_policy_set, parse_sources
from supportable.engine import yamlsource
from supportable.engine.build import Build, run_stage, run_stages
from supportable.engine.evaluator import solve_static

POLICIES, PAYERS = ROOT / "policies", ROOT / "payers"
CANDIDATE = ROOT / "examples" / "candidates" / "aetna_cap_24.yaml"


@pytest.fixture(scope="module")
def sources():
    return PolicySources.from_dirs(POLICIES, PAYERS)


@pytest.fixture(scope="module")
def parsed(sources):
    return parse_sources(sources)


# --- the value -----------------------------------------------------------------------------------

def test_from_dirs_reads_each_file_once(monkeypatch):
    read = []
    real = yamlsource.read_bytes

    def counting(path, name, max_bytes=yamlsource.MAX_FILE_BYTES):
        read.append(Path(path).resolve())
        return real(path, name, max_bytes)
    monkeypatch.setattr("supportable.engine.sources.read_bytes", counting)
    sources = PolicySources.from_dirs(POLICIES, PAYERS)
    assert len(read) == len(set(read)) == len(sources.files)
    # building every payer reads nothing more: the text is the value's
    parsed = parse_sources(sources)
    for payer in sources.payer_ids():
        build_policy_set(parsed, payer)
    assert len(read) == len(sources.files)


def test_names_and_shown_names(sources):
    assert "policies/base/units.yaml" in sources and "payers/medicare.yaml" in sources
    assert sources["payers/medicare.yaml"].shown == "payers/medicare.yaml"
    assert sources["policies/base/units.yaml"].shown == "policies/base/units.yaml"
    assert sources.payer_ids() == ["base", "aetna", "aetna_medicare", "commercial", "medicare"]
    assert sources["policies/vocabulary/codes.yaml"].shown == str(POLICIES / "vocabulary" / "codes.yaml")


def test_digest_is_stable_across_reads_and_follows_every_change(sources):
    again = PolicySources.from_dirs(POLICIES, PAYERS)
    assert again.digest() == sources.digest() and again is not sources
    text = sources["payers/medicare.yaml"].text
    changed = sources.with_file("payers/medicare.yaml", text + "\n# a comment\n")
    assert changed.digest() != sources.digest()
    assert changed.with_file("payers/medicare.yaml", text).digest() == sources.digest()
    assert sources.without("payers/aetna_medicare.yaml").digest() != sources.digest()
    assert "payers/aetna_medicare.yaml" in sources                # the value itself never changes


def test_with_file_and_without_change_what_build_sees(sources):
    text = CANDIDATE.read_text()
    candidate = sources.with_file("payers/aetna.yaml", text, shown="examples/candidates/aetna_cap_24.yaml")
    current = build_policy_set(parse_sources(sources), "aetna")
    new = build_policy_set(parse_sources(candidate), "aetna")
    assert current.parameters["nmr_visit_cap"].value == 18 and new.parameters["nmr_visit_cap"].value == 24
    assert new.parameters["nmr_visit_cap"].location.file == "examples/candidates/aetna_cap_24.yaml"
    assert new.version != current.version

    gone = sources.without("payers/medicare.yaml")
    assert "medicare" not in gone.payer_ids()
    with pytest.raises(PolicyError) as failed:
        build_policy_set(parse_sources(gone), "aetna_medicare")       # extends medicare
    assert [p.code for p in failed.value.problems] == ["unknown_parent"]

    added = sources.with_file("payers/acme.yaml", "id: acme\nname: Acme\nextends: medicare\n")
    assert added["payers/acme.yaml"].shown == "payers/acme.yaml" and "acme" in added.payer_ids()
    assert build_policy_set(parse_sources(added), "acme").chain == ["base", "medicare", "acme"]


def test_a_bad_file_is_one_located_problem(sources):
    bad = sources.with_file("payers/medicare.yaml", b"id: medicare\nname: M\xffedicare\nextends: base\n")
    with pytest.raises(PolicyError) as failed:
        build_policy_set(parse_sources(bad), "medicare")
    [problem] = failed.value.problems
    assert (problem.code, problem.location.file, problem.location.line, problem.location.column) == \
        ("not_utf8", "payers/medicare.yaml", 2, 8)

    broken = sources.with_file("policies/base/units.yaml", "rules: [\n")
    with pytest.raises(PolicyError) as failed:
        build_policy_set(parse_sources(broken), "base")
    assert [(p.code, p.location.file) for p in failed.value.problems] == \
        [("yaml_syntax_error", "policies/base/units.yaml")]


def test_an_unreadable_file_on_disk_is_located_as_before(tmp_path):
    (tmp_path / "payers").mkdir()
    (tmp_path / "payers" / "acme.yaml").mkdir()           # a directory named like an overlay
    sources = PolicySources.from_dirs(POLICIES, tmp_path / "payers")
    [problem] = sources["payers/acme.yaml"].problems
    assert problem.code == "unreadable_file" and "directory" in problem.message
    assert problem.location.line == 1


def test_the_loader_helpers_share_one_list_of_files(tmp_path):
    from supportable.engine import source_files
    names = [name for name, _ in source_files(POLICIES, PAYERS)]
    assert set(names) <= set(PolicySources.from_dirs(POLICIES, PAYERS).files)


# --- the stage table -----------------------------------------------------------------------------

def test_stage_names_and_their_times(parsed):
    assert STAGE_NAMES == ("gather", "layer", "check", "check_edits", "compile", "solve_static", "evaluator")
    policy = build_policy_set(parsed, "aetna")
    assert list(policy.stage_times) == list(STAGE_NAMES)
    assert all(t >= 0 for t in policy.stage_times.values())


def test_each_stage_runs_alone(parsed):
    b = run_stages(parsed, "medicare", until="gather", engine="pydatalog")
    assert b.layered is None and [o.id for o in b.overlays] == ["medicare"] and list(b.times) == ["gather"]
    run_stage("layer", b)
    assert b.layered.chain == ["base", "medicare"] and b.program is None
    run_stage("check", b)
    run_stage("check_edits", b)
    assert b.edits is not None and not b.problems.errors
    run_stage("compile", b)
    assert b.program is not None and b.solved is None
    run_stage("solve_static", b)
    assert b.solved is not b.program and b.program.static_derived
    assert not any(head[0] in b.program.static_derived for head, _ in b.solved.clauses)
    assert b.evaluator is None
    run_stage("evaluator", b)
    assert b.evaluator.engine == "pydatalog" and b.evaluator.program is b.solved
    assert list(b.times) == list(STAGE_NAMES)


def test_the_plan_needs_no_static_solve_its_evaluator_stage_builds_the_plan(parsed):
    from supportable.engine.plan import PlanEvaluator
    b = run_stages(parsed, "medicare", until="solve_static", engine="plan")
    assert b.solved is None          # the plan solves its static part itself
    run_stage("evaluator", b)
    assert isinstance(b.evaluator, PlanEvaluator) and b.evaluator.program is b.program


def test_the_engine_is_a_build_option_and_an_unknown_one_is_refused_before_any_stage(parsed):
    from supportable.engine import DEFAULT_ENGINE
    from supportable.engine.evaluator import Evaluator
    from supportable.engine.plan import PlanEvaluator
    assert DEFAULT_ENGINE == "plan"
    assert build_policy_set(parsed, "aetna").engine == "plan"
    plan = build_policy_set(parsed, "aetna", "plan")
    reference = build_policy_set(parsed, "aetna", engine="pydatalog")
    assert (plan.engine, type(plan.evaluator)) == ("plan", PlanEvaluator)
    assert (reference.engine, type(reference.evaluator)) == ("pydatalog", Evaluator)
    assert plan.version == reference.version and len(plan.program.clauses) == len(reference.program.clauses)
    with pytest.raises(ValueError, match="unknown engine `clingo`: expected one of plan, pydatalog"):
        build_policy_set(parsed, "aetna", engine="clingo")


def test_a_stage_alone_on_a_build_made_by_hand(parsed):
    """A stage reads only what it is given: solve_static of a compiled program, nothing else."""
    compiled = run_stages(parsed, "base", until="compile")
    b = Build(parsed, "base", program=compiled.program, engine="pydatalog")
    run_stage("solve_static", b)
    assert sorted(b.solved.static_facts) == sorted(solve_static(compiled.program).static_facts)


def test_the_evaluator_runs_the_solved_program_the_explainer_reads_the_compiled_one(parsed):
    policy = build_policy_set(parsed, "aetna", engine="pydatalog")
    assert policy.solved_program is policy.evaluator.program
    assert policy.program.static_derived and policy.solved_program is not policy.program
    assert not any(head[0] in policy.program.static_derived for head, _ in policy.solved_program.clauses)


def test_a_stage_that_finds_errors_stops_the_build(sources):
    bad = sources.with_file("payers/medicare.yaml", sources["payers/medicare.yaml"].text
                            .replace("extends: base", "extends: basis"))
    with pytest.raises(PolicyError) as failed:
        run_stages(parse_sources(bad), "medicare")
    assert [p.code for p in failed.value.problems] == ["unknown_parent"]


def test_read_encounter_and_its_old_name(parsed, example):
    policy = build_policy_set(parsed, "base")
    doc = example("mixed_visit")
    assert policy.read_encounter(doc) == policy.parse(doc)


# --- the tools through the value -----------------------------------------------------------------

def test_impact_writes_no_temporary_folder(monkeypatch):
    from supportable.engine.impact import candidate as candidate_module, load_candidate

    def refuse(*args, **kwargs):
        raise AssertionError("impact made a temporary folder")
    for name in ("TemporaryDirectory", "mkdtemp", "mkstemp", "NamedTemporaryFile"):
        monkeypatch.setattr(tempfile, name, refuse)
    assert not hasattr(candidate_module, "_PathMap") and not hasattr(candidate_module, "tempfile")
    pair = load_candidate(POLICIES, "aetna", CANDIDATE, PAYERS)
    assert pair.candidate_path == "examples/candidates/aetna_cap_24.yaml"
    assert pair.candidate.parameters["nmr_visit_cap"].location.file == pair.candidate_path
    assert pair.dependents == []                          # no payer extends aetna
    medicare = (PAYERS / "medicare.yaml").read_text()
    sources = PolicySources.from_dirs(POLICIES, PAYERS)
    from supportable.engine.impact.candidate import candidate_pair
    pair = candidate_pair(sources, "medicare", medicare + "\n# a draft\n", "drafts/medicare.yaml")
    assert [(d.payer, d.changes) for d in pair.dependents] == [("aetna_medicare", False)]
    assert sources["payers/medicare.yaml"].text == medicare     # the draft went into a new value


def test_the_policy_test_cache_is_held_by_its_caller(sources):
    from supportable.engine import policytest
    from supportable.engine.policytest import PolicyCache, cache as cache_module
    assert not hasattr(cache_module, "_LOADED")
    held = PolicyCache()
    first, _ = held.get(sources, "medicare")
    assert held.get(PolicySources.from_dirs(POLICIES, PAYERS), "medicare")[0] is first    # same digest
    changed = sources.with_file("payers/medicare.yaml", sources["payers/medicare.yaml"].text + "\n# changed\n")
    assert held.get(changed, "medicare")[0] is not first
    assert policytest.run_tests  # the runner takes the cache as `cache=`
