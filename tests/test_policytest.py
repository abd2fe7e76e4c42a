"""`supportable test`: policy tests in YAML, their runner, the change language and rule coverage."""
import json
import textwrap

import pytest
from click.testing import CliRunner

from conftest import ROOT
from supportable.engine.policytest import (ChangeError, PolicyCache, change_append, change_remove, change_set, parse_path,
                                           run_tests)
from supportable.cli.policytest import policy_test
from supportable.server.wire import tools as wire_tools

POLICIES = ROOT / "policies"
# The payers built over the shipped files, shared by this module's runs (each run would build them anew).
CACHE = PolicyCache()


def invoke(*args):
    result = CliRunner().invoke(policy_test, [str(a) for a in args], obj={"policy_cache": CACHE})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def write(tmp_path, text, name="cases.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


@pytest.fixture(scope="module")
def shipped():
    """Every shipped test file, run once with coverage."""
    return run_tests(None, POLICIES, coverage=True, cache=CACHE)


# --- the shipped cases ---------------------------------------------------------------------------

def test_every_shipped_case_passes(shipped):
    failures = [(r.case.file, r.case.location.line, r.case.name, [m.message for l in r.lines for m in l.mismatches],
                 [str(p) for p in r.problems]) for r in shipped.results if r.status != "passed"]
    assert failures == [] and shipped.errors == []
    assert shipped.summary() == f"{len(shipped.results)} passed, 0 failed"
    assert len(shipped.results) >= 100
    # every shipped payer has cases, found under payers/tests/<payer>/ and policies/tests/base/
    assert {r.case.payer for r in shipped.results} == {"base", "commercial", "medicare", "aetna", "aetna_medicare"}
    assert {f.split("/")[2] for f in shipped.files if f.startswith("payers/tests/")} == {
        "medicare", "aetna", "commercial", "aetna_medicare"}
    assert any(f.startswith("policies/tests/base/") for f in shipped.files)


def test_command_runs_the_shipped_cases(shipped):
    result = invoke()
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == f"{len(shipped.results)} passed, 0 failed"
    assert "PASS payers/tests/medicare/eight_minute_rule.yaml:" in result.output
    assert all(l.startswith("PASS ") for l in lines[:-2])
    # one folder, or one file
    folder = invoke(ROOT / "payers" / "tests" / "aetna")
    assert folder.exit_code == 0 and "payers/tests/medicare" not in folder.output
    one = invoke(ROOT / "payers" / "tests" / "aetna_medicare" / "aetna_medicare.yaml", "--format", "json")
    out = json.loads(one.output)
    assert out["summary"] == {"passed": 3, "failed": 0, "errors": 0, "text": "3 passed, 0 failed"}
    assert out["files"] == ["payers/tests/aetna_medicare/aetna_medicare.yaml"]
    # prior authorization is off by default (the plan may need it): nothing missing, the line paid
    actual = out["cases"][0]["lines"][0]["actual"]
    assert (actual["verdict"], actual["missing_documentation"]) == ("supportable", [])


# --- failures ---------------------------------------------------------------------------------------

FAILING = """
payer: aetna
cases:
  - name: right
    example: aetna_nmr_visit_cap
    expect:
      1: {verdict: not_supportable, reasons: [aetna.nmr.visit_cap]}
  - name: low back pain is wrongly expected to be covered
    example: aetna_nmr_visit_cap
    change:
      patient.history: []
      diagnoses: [M54.50]
    expect:
      1:
        verdict: supportable
        units: 2
        reasons: [aetna.nmr.visit_cap]
        not_reasons: [aetna.nmr.needs_neurologic_diagnosis]
        missing_documentation: [neuro_deficit]
"""


def test_a_failing_case_shows_the_diff_and_exits_1(tmp_path):
    path = write(tmp_path, FAILING)
    result = invoke(path)
    assert result.exit_code == 1
    out = result.output
    assert f"PASS {path}:3 right" in out
    assert f"FAIL {path}:7 low back pain is wrongly expected to be covered" in out
    expected = """\
    line 1 (97112):
      verdict:
        - expected: supportable
        + actual:   not_supportable
      units:
        - expected: 2
        + actual:   0
      reasons:
        - expected to fire: [aetna.nmr.visit_cap]
        + fired:            [aetna.nmr.needs_neurologic_diagnosis]
      not_reasons:
        - expected not to fire: [aetna.nmr.needs_neurologic_diagnosis]
        + fired:                [aetna.nmr.needs_neurologic_diagnosis]
      missing_documentation:
        - expected: [neuro_deficit]
        + actual:   []
      rules fired: aetna.nmr.needs_neurologic_diagnosis"""
    assert expected in out
    assert out.strip().splitlines()[-1] == "1 passed, 1 failed"


def test_a_failing_case_in_json(tmp_path):
    result = invoke(write(tmp_path, FAILING), "--format", "json")
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert out["summary"] == {"passed": 1, "failed": 1, "errors": 0, "text": "1 passed, 1 failed"}
    case = out["cases"][1]
    assert (case["status"], case["line"], case["payer"]) == ("failed", 7, "aetna")
    line = case["lines"][0]
    assert line["fired"] == ["aetna.nmr.needs_neurologic_diagnosis"]
    assert [m["field"] for m in line["mismatches"]] == ["verdict", "units", "reasons", "not_reasons",
                                                        "missing_documentation"]
    assert line["mismatches"][0] == {"field": "verdict", "expected": "supportable", "actual": "not_supportable",
                                     "message": "expected supportable, got not_supportable"}


# --- malformed test files -----------------------------------------------------------------------------

MALFORMED = {
    "yaml_syntax": ("payer: base\ncases:\n  - name: [unclosed\n", ":4:1: error: invalid YAML", "yaml_syntax_error"),
    "top_key": ("payer: base\ncasez: []\n", "cases.yaml:2:1: error: unknown top-level key `casez`", "test_format"),
    "unknown_payer": ("payer: medicar\ncases:\n  - name: x\n    example: gait_and_exercise\n    expect: {1: {units: 1}}\n",
                      "cases.yaml:1:8: error: unknown payer `medicar`; available: base, aetna, aetna_medicare, "
                      "commercial, medicare; did you mean `medicare`?", "unknown_payer"),
    "no_cases": ("payer: base\n", "cases.yaml:1:1: error: `cases` is a non-empty list", "test_format"),
    "case_key": ("payer: base\ncases:\n  - name: x\n    example: gait_and_exercise\n    expects: {1: {units: 1}}\n",
                 "cases.yaml:5:5: error: unknown key `expects` in a case", "test_format"),
    "expect_key": ("payer: base\ncases:\n  - name: x\n    example: gait_and_exercise\n    expect: {1: {unit: 1}}\n",
                   "cases.yaml:5:18: error: unknown key `unit` in the expectation for line `1`", "test_format"),
    "unknown_line": ("payer: base\ncases:\n  - name: x\n    example: gait_and_exercise\n    expect:\n      3: {units: 1}\n",
                     "cases.yaml:6:7: error: `expect` names line `3`, which the encounter does not have; its lines "
                     "are `1`, `2`", "unknown_line"),
    "unknown_rule": ("payer: aetna\ncases:\n  - name: x\n    example: aetna_same_day\n    expect:\n"
                     "      1: {reasons: [aetna.same_day.not_togethr]}\n",
                     "cases.yaml:6:21: error: `aetna.same_day.not_togethr` in `reasons` is not a rule of payer "
                     "`aetna` (nor one it disables); did you mean `aetna.same_day.not_together`?", "unknown_rule"),
    "bad_verdict": ("payer: base\ncases:\n  - name: x\n    example: gait_and_exercise\n    expect:\n"
                    "      1: {verdict: denied}\n", "cases.yaml:6:20: error: verdict `denied` is not one of",
                    "test_format"),
    "unknown_example": ("payer: base\ncases:\n  - name: x\n    example: gait_and_exercize\n    expect: {1: {units: 1}}\n",
                        "cases.yaml:4:14: error: no example `gait_and_exercize`", "unknown_example"),
    "both_encounters": ("payer: base\ncases:\n  - name: x\n    example: gait_and_exercise\n    encounter: {id: x}\n"
                        "    expect: {1: {units: 1}}\n", "cases.yaml:3:5: error: a case gives its encounter either",
                        "test_format"),
    "change_path": ("payer: base\ncases:\n  - name: x\n    example: gait_and_exercise\n    change:\n"
                    "      lines[7].minutes: 3\n    expect: {1: {units: 1}}\n",
                    "cases.yaml:6:7: error: `lines` has 2 item(s); there is no `[7]`", "invalid_change"),
    "change_encounter": ("payer: base\ncases:\n  - name: x\n    example: gait_and_exercise\n    change:\n"
                         "      lines[1].minutes: twenty\n      lines[0].code: \"99999\"\n    expect: {1: {units: 1}}\n",
                         "cases.yaml:6:25: error: invalid encounter: `lines[1].minutes`: input should be a valid "
                         "integer", "invalid_encounter"),
    "full_encounter": ("payer: base\ncases:\n  - name: x\n    encounter:\n      id: x\n      date_of_service: 2025-06-02\n"
                       "      provider: {type: physical_therapist}\n      patient: {id: p}\n      lines:\n"
                       "        - {id: \"1\", code: \"97110\", minutes: -3, units: 1}\n    expect: {1: {units: 1}}\n",
                       "cases.yaml:10:45: error: invalid encounter: `lines[0].minutes`: input should be greater than "
                       "or equal to 0", "invalid_encounter"),
    "example_encounter": ("payer: medicare\ncases:\n  - name: x\n    example: gait_and_exercise\n"
                          "    date_of_service: 2030-01-02\n    expect: {1: {units: 1}}\n",
                          "cases.yaml:5:22: error: invalid encounter: `date_of_service`: payer `medicare`'s policy "
                          "is in force from 2019-01-01", "invalid_encounter"),
    "duplicate_key": ("payer: base\ncases:\n  - name: x\n    example: gait_and_exercise\n"
                      "    expect: {1: {units: 1, units: 2}}\n",
                      "cases.yaml:5:28: error: key `units` appears twice", "duplicate_key"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_test_files_give_located_errors(tmp_path, name):
    text, message, code = MALFORMED[name]
    path = tmp_path / "cases.yaml"
    path.write_text(text)
    result = invoke(path)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert message in result.output, result.output
    assert f"[{code}]" in result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("0 passed, 0 failed, ") and last.endswith(("error", "errors"))
    out = json.loads(invoke(path, "--format", "json").output)
    problems = [p for e in out["errors"] for p in [e]] + [p for c in out["cases"] for p in c["problems"]]
    assert any(p["code"] == code and p["file"] == str(path) and p["line"] > 0 for p in problems)


def test_an_error_in_one_case_does_not_stop_the_others(tmp_path):
    path = write(tmp_path, """
        payer: base
        cases:
          - name: broken
            example: gait_and_exercise
            expect: {9: {units: 1}}
          - name: fine
            example: gait_and_exercise
            expect: {1: {units: 1}}
    """)
    result = invoke(path)
    assert result.exit_code == 1
    assert f"ERROR {path}:3 broken" in result.output and f"PASS {path}:6 fine" in result.output
    assert result.output.strip().splitlines()[-1] == "1 passed, 0 failed, 1 error"


def test_a_payer_whose_policies_do_not_load(tmp_path):
    payers = tmp_path / "payers"
    payers.mkdir()
    (payers / "broken.yaml").write_text("id: broken\nname: Broken\nextends: nowhere\n")
    path = write(tmp_path, "payer: broken\ncases:\n  - name: x\n    example: gait_and_exercise\n"
                           "    expect: {1: {units: 1}}\n")
    result = invoke(path, "--payers", payers)
    assert result.exit_code == 1
    assert f"ERROR {path}:1:8: error: the policies of payer `broken` do not load" in result.output
    assert "nowhere" in result.output          # the overlay's own problem, as a detail
    assert result.output.strip().splitlines()[-1] == "0 passed, 0 failed, 1 error"


def test_no_such_path_and_no_test_files(tmp_path):
    result = invoke(tmp_path / "missing.yaml")
    assert result.exit_code == 1 and "is neither a test file nor a folder [no_such_path]" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke(empty)
    assert result.exit_code == 1 and "no test files (*.yaml) found" in result.output


# --- the change language ------------------------------------------------------------------------------

def test_paths():
    assert parse_path("lines[0].minutes") == ["lines", 0, "minutes"]
    assert parse_path("patient.history[-1].codes[0]") == ["patient", "history", -1, "codes", 0]
    assert parse_path("plan_of_care") == ["plan_of_care"]
    for bad in ("lines[x]", "lines..x", ".lines", "lines[0]minutes", "", "lines[]"):
        assert parse_path(bad) is None


def test_change_operations_on_a_document():
    doc = {"a": {"b": 1}, "lines": [{"id": "1", "m": 5}, {"id": "2", "m": 6}]}
    change_set(doc, ["a", "b"], 2)                     # a field
    change_set(doc, ["a", "c"], [1])                   # a new key of an existing mapping
    change_set(doc, ["lines", -1, "m"], 9)             # a list item by index from the end
    change_append(doc, ["a", "c"], 2)                  # one item
    change_append(doc, ["a", "c"], [3, 4])             # a list's items
    change_append(doc, ["a", "d"], "x")                # a missing list is created
    change_remove(doc, ["lines", 0])                   # a list item
    change_remove(doc, ["a", "b"])                     # a field
    assert doc == {"a": {"c": [1, 2, 3, 4], "d": ["x"]}, "lines": [{"id": "2", "m": 9}]}
    for op, args, message in [
        (change_set, (["lines", 3, "m"], 1), "`lines` has 1 item(s); there is no `[3]`"),
        (change_set, (["x", "y"], 1), "`x` is not in the encounter (the encounter has `a`, `lines`)"),
        (change_set, (["a", 0], 1), "`a` is not a list"),
        (change_remove, (["a", "zz"],), "`a.zz` is not in the encounter (`a` has `c`, `d`)"),
        (change_append, (["lines", 0, "id"], "x"), "`lines[0].id` is not a list"),
    ]:
        with pytest.raises(ChangeError) as info:
            op(doc, *args)
        assert message in str(info.value)


def test_change_language_in_a_test_file(tmp_path):
    path = write(tmp_path, """
        payer: medicare
        examples:
          local: {id: local-1}
        cases:
          - name: every operation
            example: medicare_8_minute_rule
            change: &shared
              lines[0].minutes: 24                       # set a field by path
              patient.condition_status: plateau          # set a nested field
              lines[-1].units: 1                         # a list item from the end
              remove: [plan_of_care, "lines[1].intended_outcomes"]
              append:
                documentation: prior_authorization       # one item
                diagnoses: [M54.51, M54.59]              # each item of a list
                lines[1].documentation: [time_recorded]  # a list that was not there
            date_of_service: 2025-06-03                  # applied after the change
            expect: {1: {units: 2}}
          - name: a shared change reused with a YAML merge key, overriding one entry
            example: medicare_8_minute_rule
            change:
              <<: *shared
              lines[0].minutes: 30
            expect: {1: {units: 2}}
          - name: an encounter given in full, and one of the file's own examples
            example: local
            change: {payer: medicare}
            expect: {1: {units: 1}}
    """)
    run = run_tests([path], POLICIES, cache=CACHE)
    first, second, third = run.results
    data = first.case.data
    assert data["lines"][0]["minutes"] == 24 and data["lines"][1]["units"] == 1
    assert data["patient"]["condition_status"] == "plateau"
    assert "plan_of_care" not in data and "intended_outcomes" not in data["lines"][1]
    assert data["documentation"][-1] == "prior_authorization"
    assert data["diagnoses"] == ["M54.50", "R26.89", "M54.51", "M54.59"]
    assert data["lines"][1]["documentation"] == ["time_recorded"]
    assert data["date_of_service"] == "2025-06-03"      # YAML dates become ISO strings
    # no plan of care under Medicare: the change really reached the decision
    assert first.status == "failed" and first.lines[0].actual["verdict"] == "not_supportable"
    assert "medicare.plan.missing" in first.lines[0].fired
    assert second.case.data["lines"][0]["minutes"] == 30 and "plan_of_care" not in second.case.data
    # the local example {id: local-1} is no encounter: its problems are located at `example:`
    assert third.status == "error"
    assert any(p.code == "invalid_encounter" and "(from example `local`)" in p.message and p.location.line == 25
               for p in third.problems)


def test_examples_are_not_changed_between_cases(tmp_path):
    path = write(tmp_path, """
        payer: base
        cases:
          - name: first changes the example
            example: gait_and_exercise
            change:                   # (in a {flow} mapping a path with [ ] would need quotes)
              remove: ["lines[1]"]
              lines[0].minutes: 40
            expect: {1: {units: 3}}
          - name: second sees it as shipped
            example: gait_and_exercise
            expect: {1: {units: 1}, 2: {units: 1}}
    """)
    run = run_tests([path], POLICIES, cache=CACHE)
    assert [r.status for r in run.results] == ["passed", "passed"]


def test_every_shipped_case_names_the_guidance_it_rests_on(shipped):
    # House rule: a policy test names the source each expectation rests on, a file of the guidance.
    cited = {"000_6b58965ce598d318.txt", "001_649d21cd2997f164.txt", "002_05ca052d0302da2e.txt",
             "003_d7d9c7e0eae8c5ad.txt", "domain-notes.md", "domain-notes-2.md"}
    files = {r.case.source.split(",")[0] for r in shipped.results}
    assert all(r.case.source for r in shipped.results), [r.case.name for r in shipped.results if not r.case.source]
    assert files <= cited, files - cited


# --- coverage -----------------------------------------------------------------------------------------

def test_coverage_of_the_shipped_cases(shipped):
    cov = wire_tools.coverage(shipped.coverage)
    files = {f["file"]: f for f in cov["files"]}
    assert set(files) >= {"payers/medicare.yaml", "payers/aetna.yaml", "payers/aetna_medicare.yaml",
                          "policies/base/units.yaml", "policies/base/add_ons.yaml"}
    assert "payers/commercial.yaml" not in files          # parameters only: no rule of its own to exercise
    assert cov["total"]["rules"] == cov["total"]["exercised"] and cov["total"]["percent"] == 100.0
    assert cov["total"]["rules"] == sum(len(f["detail"]) for f in cov["files"])
    assert set(cov["payers"]) == {"base", "commercial", "medicare", "aetna", "aetna_medicare"}
    # the total-time rules never apply under a per-code payer; they are not counted against it
    assert "base.units.total_time.whole_plus_leftover_unit" in cov["payers"]["commercial"]["never_apply"]
    detail = {r["id"]: r for f in cov["files"] for r in f["detail"]}
    # a helper rule reached only through an aggregate (the count of recent NMR visits)
    assert "derivation" in detail["aetna.nmr.recent_visit"]["exercised_by"]["aetna"]
    assert "derivation" in detail["base.units.total_time.ahead_tie_as_billed"]["exercised_by"]["medicare"]
    # the edit-table rules are exercised through rows a test file adds (policies/tests/base/edit_tables.yaml)
    assert "derivation" in detail["base.mue.line_edit"]["exercised_by"]["base"]


AETNA_ONE_DIAGNOSIS = """
payer: aetna
cases:
  - name: stroke
    example: aetna_nmr_visit_cap
    change: {patient.history: []}
    expect: {1: {verdict: supportable}}
"""
THORACIC = """
  - name: thoracic cord injury
    example: aetna_nmr_visit_cap
    change: {patient.history: [], diagnoses: [S24.101A]}
    expect: {1: {verdict: supportable}}
"""


def test_coverage_lists_a_rule_until_a_case_exercises_it(tmp_path):
    path = write(tmp_path, AETNA_ONE_DIAGNOSIS)
    result = invoke(path, "--coverage")
    assert result.exit_code == 0
    out = result.output
    assert "payers/aetna.yaml: " in out and "not exercised:" in out
    assert "    aetna.nmr.group_thorax_cord_and_nerve_injury (payers/aetna.yaml:" in out
    assert "aetna.nmr.group_cerebrovascular (" not in out          # the stroke case exercised it
    assert out.strip().splitlines()[-1] == "1 passed, 0 failed"
    assert "Coverage: " in out and "payer aetna (base > commercial > aetna; 1 case(s)): " in out

    path.write_text(AETNA_ONE_DIAGNOSIS.lstrip() + THORACIC.lstrip("\n"))
    result = invoke(path, "--coverage", "--format", "json")
    assert result.exit_code == 0
    cov = json.loads(result.output)["coverage"]
    aetna = next(f for f in cov["files"] if f["file"] == "payers/aetna.yaml")
    missing = {r["id"] for r in aetna["not_exercised"]}
    assert "aetna.nmr.group_thorax_cord_and_nerve_injury" not in missing
    assert "aetna.nmr.group_lumbosacral_cord_and_nerve_injury" in missing
    assert cov["payers"]["aetna"]["cases"] == 2
    assert cov["payers"]["aetna"]["exercised"] + len(cov["payers"]["aetna"]["not_exercised"]) == \
        cov["payers"]["aetna"]["rules"]


def test_coverage_counts_rules_tried_in_a_why_not(tmp_path):
    # a supportable 97112 line: the NMR diagnosis rule was tried and failed (a qualifying diagnosis
    # is present), and the helper rules that found the diagnosis count too
    path = write(tmp_path, AETNA_ONE_DIAGNOSIS)
    cov = wire_tools.coverage(run_tests([path], POLICIES, coverage=True, cache=CACHE).coverage)
    detail = {r["id"]: r for f in cov["files"] for r in f["detail"]}
    assert detail["aetna.nmr.needs_neurologic_diagnosis"]["exercised_by"] == {"aetna": ["why_not"]}
    assert detail["aetna.nmr.qualifying_diagnosis"]["exercised_by"] == {"aetna": ["why_not"]}
    # a rule for another code fails at its first premise: it was not tried on this line
    assert not detail["base.documentation.gait_training_needs_gait_impairment"]["exercised"]
    # the same-day rule got as far as looking for another line
    assert detail["aetna.same_day.not_together"]["exercised_by"] == {"aetna": ["why_not"]}


def test_coverage_leaves_out_a_rule_in_force_only_outside_the_payers_dates(tmp_path):
    # a rule whose range ends before the payer is in force can never be exercised: lint calls it dead,
    # and coverage must not count it as a rule still to test (both read engine/liveness.in_force)
    from conftest import ROOT, payers_with
    from supportable.engine.lint import lint
    from supportable.engine.policyset import load_policy_set
    from supportable.engine.policytest.coverage import Coverage
    payers = payers_with(tmp_path, {"late": (
        "id: late\nname: A plan in force from 2024\nextends: base\neffective: {from: 2024-01-01}\nadd:\n"
        "  - id: late.old_rule\n    kind: limit\n    effective: {to: 2020-01-01}\n"
        "    because: \"an old rule\"\n    source: {file: domain-notes.md, section: \"1.3\"}\n"
        "    rule: |\n      deny(L) :- line(L).\n")})
    policy = load_policy_set(ROOT / "policies", "late", payers)
    assert "late.old_rule" not in Coverage.applicable(policy)
    assert "base.units.per_code.units" in Coverage.applicable(policy)
    dead = [p for p in lint(ROOT / "policies", payers).problems if "late.old_rule" in p.message]
    assert dead, "lint should call the rule dead"
