"""The `supportable check` command: outputs, exit codes and error shapes."""
import json
import shutil

from click.testing import CliRunner

from conftest import EXAMPLES, ROOT
from supportable.cli import main


def run(*args, input=None):
    return CliRunner().invoke(main, ["check", *map(str, args)], input=input)


def test_text_output_reads_like_a_note():
    result = run(EXAMPLES / "group_billed_as_97110.json")
    assert result.exit_code == 0
    assert "Line 1: 97110 — NOT SUPPORTABLE (0 of 2 billed unit(s) supportable)" in result.output
    assert "bill 97150 instead (satisfies base.choice.billed_code_contradicts_intent)" in result.output
    assert "Summary: 0 supportable, 0 needs documentation, 1 not supportable." in result.output


def test_text_leads_with_over_billing():
    result = run(EXAMPLES / "overbilled_units.json")
    assert result.exit_code == 0
    assert "Line 1: 97110 — SUPPORTABLE FOR 1 OF 2 BILLED UNITS — over-billed by 1" in result.output
    assert "reduce the billed units to 1" in result.output
    assert "Summary: 1 supportable, 0 needs documentation, 0 not supportable; 1 line(s) over-billed." in result.output


def test_text_explain_shows_the_proof():
    result = run(EXAMPLES / "gait_and_exercise.json", "--explain")
    assert result.exit_code == 0
    assert "supportable_units('1', 1)  by base.units.line.only_line (base)" in result.output
    assert "code_units('97116', 1)  by base.units.per_code.units (base)" in result.output
    assert "line_minutes('1', 22)  (encounter fact)" in result.output
    assert "No denial applies:" in result.output


def test_json_summary_and_full():
    summary = json.loads(run(EXAMPLES / "nmr_without_deficit.json", "--format", "json").output)
    line = summary["lines"][0]
    assert (line["verdict"], line["missing_documentation"]) == ("needs_documentation", ["neuro_deficit"])
    assert line["proof"] == {"verdict": "needs_documentation", "rules": ["base.documentation.nmr_needs_neuro_deficit"]}
    full = json.loads(run(EXAMPLES / "nmr_without_deficit.json", "--format", "json", "--explain").output)
    assert full["lines"][0]["proof"]["derivations"][0]["rule"]["id"] == "base.documentation.nmr_needs_neuro_deficit"


def test_encounter_from_standard_input():
    text = (EXAMPLES / "overbilled_units.json").read_text()
    result = run("-", "--format", "json", input=text)
    assert result.exit_code == 0
    assert json.loads(result.output)["lines"][0]["units"]["supportable"] == 1


def test_invalid_encounter_exit_1_with_paths():
    result = run(EXAMPLES / "invalid" / "bad_fields.json", "--format", "json")
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert out["error"] == "invalid_encounter"
    assert {"path": "lines[2].code", "code": "missing_field", "level": "error",
            "message": "field required"} in out["problems"]
    # the HTTP API's problem document, kind spelled as over HTTP, plus the exit code
    assert (out["type"], out["title"], out["exit_code"]) == ("/problems/invalid-encounter",
                                                            "The encounter is not valid", 1)
    assert out["detail"] == out["message"]


def test_command_line_and_http_give_an_invalid_encounter_the_same_problem_members(base_policy):
    from supportable.server.app import create_app
    from supportable.server.registry import Registry
    from supportable.server.settings import Settings
    document = json.loads((EXAMPLES / "invalid" / "bad_fields.json").read_text())
    settings = Settings.from_env({}, tune_gc=False, reload_interval=0, decision_log="", snapshot="")
    over_http = create_app(settings, Registry.load(settings.policies)).test_client().post(
        "/v1/check?payer=base", json=document).get_json()
    cli = json.loads(run(EXAMPLES / "invalid" / "bad_fields.json", "--payer", "base", "--format", "json").output)
    assert over_http["type"] == cli["type"] and over_http["title"] == cli["title"]
    assert over_http["problems"] == cli["problems"]


def test_invalid_json_is_located(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "x",\n  "lines": [}')
    result = run(bad, "--format", "json")
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert out["error"] == "invalid_json" and f"{bad}:2:13: invalid JSON" in out["message"]


def test_unreadable_file(tmp_path):
    result = run(tmp_path / "missing.json")
    assert result.exit_code == 1
    assert "cannot read" in result.output


def test_unknown_payer_exit_3():
    result = run(EXAMPLES / "mixed_visit.json", "--payer", "acme", "--format", "json")
    assert result.exit_code == 3
    message = "unknown payer `acme`; available: base, aetna, aetna_medicare, commercial, medicare"
    assert json.loads(result.output) == {"error": "unknown_payer", "message": message, "type": "/problems/unknown-payer",
                                         "title": "Unknown payer", "detail": message, "problems": [], "exit_code": 3}


def test_broken_policies_exit_4_with_locations(tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", policies)
    (policies / "base" / "broken.yaml").write_text(
        "rules:\n  - id: base.broken.rule\n    because: x\n    source: domain-notes.md\n"
        "    rule: deny(L) :- line_code(L, C), nonexistent(C).\n")
    result = run(EXAMPLES / "mixed_visit.json", "--policies", policies, "--format", "json")
    assert result.exit_code == 4
    problem = json.loads(result.output)["problems"][0]
    assert problem["code"] == "unknown_predicate"
    assert (problem["line"], problem["column"]) == (5, 39)  # `nonexistent` in the rule text


def test_payer_is_taken_from_the_encounter():
    out = json.loads(run(EXAMPLES / "medicare_8_minute_rule.json", "--format", "json").output)
    assert out["payer"] == "medicare"
    assert [(l["units"]["supportable"], l["units"]["method"]) for l in out["lines"]] == [(2, "total_time"), (1, "total_time")]
    # --payer wins over the file's payer: the same visit under CPT's per-code rule
    out = json.loads(run(EXAMPLES / "medicare_8_minute_rule.json", "--payer", "commercial", "--format", "json").output)
    assert [l["units"]["supportable"] for l in out["lines"]] == [1, 1]


def test_aetna_examples_name_the_aetna_rule():
    same_day = run(EXAMPLES / "aetna_same_day.json")
    assert same_day.exit_code == 0
    assert "[aetna: aetna.same_day.not_together;" in same_day.output
    cap = json.loads(run(EXAMPLES / "aetna_nmr_visit_cap.json", "--format", "json", "--explain").output)
    derivation = cap["lines"][0]["proof"]["derivations"][0]
    assert derivation["rule"]["id"] == "aetna.nmr.visit_cap" and derivation["rule"]["layer"] == "aetna"
