"""Questions asked of the policies themselves: explain-code, diff, payers; and an overlay that
switches a base rule off."""
import json
import shutil

import pytest
from click.testing import CliRunner

from conftest import ROOT, decide_for, make_encounter
from supportable.engine.errors import InputError
from supportable.engine.policydiff import diff_policies as _diff_policies
from supportable.engine.policyset import load_policy_set
from supportable.engine.requirements import explain_code as _explain_code
from supportable.cli import main
from supportable.server import wire


def explain_code(policy, code):
    return wire.code_requirements(_explain_code(policy, code))


def diff_policies(old, new):
    return wire.policy_diff(_diff_policies(old, new))


def ids(entries):
    return [e["id"] for e in entries]


def cli(*args):
    return CliRunner().invoke(main, list(map(str, args)))


# --- explain-code ---------------------------------------------------------------------------------

def test_explain_code_merges_aetnas_layers(policies):
    report = explain_code(policies["aetna"], "97112")
    assert report["chain"] == ["base", "commercial", "aetna"]
    required = {e["id"]: e for e in report["requirements"]}
    assert required["aetna.nmr.needs_neurologic_diagnosis"]["layer"] == "aetna"
    assert required["aetna.nmr.visit_cap"]["effective"] == {"from": None, "to": "2025-10-29"}
    assert required["base.documentation.nmr_needs_neuro_deficit"]["layer"] == "base"
    assert required["base.ncci.not_59_with_x"]["layer"] == "base"
    assert required["aetna.nmr.needs_neurologic_diagnosis"]["source"]["file"] == "001_649d21cd2997f164.txt"
    # rules for other codes, or for the unit method Aetna does not use, are left out
    assert "base.documentation.gait_training_needs_gait_impairment" not in required
    assert "base.units.total_time.no_unit" not in required
    assert "base.units.per_code.under_eight_minutes" in required          # a unit denial, after allocation
    assert set(ids(report["units"])) == {"base.units.per_code.units", "base.units.line.only_line",
                                         "base.units.line.whole_plus_leftover_unit", "base.units.line.whole_units_only"}
    assert report["unit_method"]["value"] == "cpt_per_code" and report["unit_method"]["layer"] == "commercial"
    assert {p["name"] for p in report["parameters"]} == {"nmr_visit_cap", "nmr_visit_window_days", "unit_method",
                                                         "denied_line_minutes", "therapy_providers",
                                                         "chiropractic_providers", "acupuncture_providers",
                                                         "nmr_revision_date", "same_day_revision_date",
                                                         "same_day_keep", "icd10_checked_from"}
    # the code's catalog entry: how its units are counted; and its templates filled in for it
    assert report["code"]["unit_basis"] == "per_15_minutes"
    assert required["base.documentation.nmr_needs_neuro_deficit"]["because"].startswith("neuromuscular reeducation")
    missing = required["base.documentation.procedure_missing_element"]
    assert missing["because"] == "97112 is a therapeutic procedure and the note does not document <Element>"
    assert missing["because_template"].startswith("{Code} is a therapeutic procedure")


def test_explain_code_under_medicare_shows_the_total_time_rules(policies):
    report = explain_code(policies["medicare"], "97110")
    required = ids(report["requirements"])
    assert "base.units.total_time.no_unit" in required
    assert "base.units.per_code.under_eight_minutes" not in required      # ruled out by Medicare's unit method
    units = ids(report["units"])
    assert {"base.units.total_time.whole_plus_leftover_unit", "base.units.total_time.whole_units_only"} <= set(units)
    assert "base.units.per_code.units" not in units
    assert "medicare.modifiers.discipline_required" in required
    assert "medicare.kx.modifier_required" in required
    assert "medicare.acupuncture.only_low_back_pain" not in required
    kx = next(p for p in report["parameters"] if p["name"] == "poc_certification_days")
    assert kx["value"] == 30


def test_explain_code_shows_the_edits_of_a_code(policies):
    # 97140 pairs: column 2 of the CMT codes and the evaluations, column 1 of 97530 (domain-notes.md §4.3)
    report = explain_code(policies["aetna"], "97140")
    edits = report["edits"]
    assert {e["column1"] for e in edits["column2_of"] if e["status"] == "active"} == {
        "98940", "98941", "98942", "97161", "97162", "97163"}
    cmt = next(e for e in edits["column2_of"] if e["column1"] == "98940")
    assert cmt["distinct_by"] == ["separate_structure"] and cmt["confidence"] == "B"
    own = next(e for e in edits["column1_of"] if e["column2"] == "97530")
    assert (own["modifier_indicator"], own["layer"], own["overrides"]["layer"]) == (0, "aetna", "base")
    unverified = next(e for e in edits["column1_of"] if e["column2"] == "97110")
    assert unverified["status"] == "unverified" and unverified["confidence"] == "C"
    assert edits["mue"] == []
    # the same pair under commercial keeps the base row: indicator 1, 59 or XU on 97530
    commercial = explain_code(policies["commercial"], "97140")["edits"]["column1_of"]
    assert next(e for e in commercial if e["column2"] == "97530")["modifier_indicator"] == 1
    # the NCCI rules apply to 97140 (it has active pairs); a code with none does not get them
    assert "base.ncci.column2_needs_modifier" in ids(report["requirements"])
    assert "base.ncci.column2_needs_modifier" not in ids(explain_code(policies["aetna"], "97110")["requirements"])


def test_explain_code_of_an_add_on_and_a_manipulation(policies):
    addon = explain_code(policies["base"], "97811")
    assert addon["code"]["unit_basis"] == "each_additional_15_minutes" and addon["code"]["add_on_to"] == ["97810", "97813"]
    assert "base.add_on.needs_primary" in ids(addon["requirements"])
    assert explain_code(policies["base"], "97810")["code"]["add_ons"] == ["97811", "97814"]
    cmt = explain_code(policies["base"], "98941")
    assert cmt["code"]["regions"] == {"kind": "spinal", "min": 3, "max": 4}
    assert {"base.chiropractic.fewer_regions_than_code", "base.chiropractic.regions_not_shown"} <= set(
        ids(cmt["requirements"]))
    assert "base.add_on.one_initial_per_day" not in ids(cmt["requirements"])   # not an initial code


def test_explain_code_for_a_code_with_a_replacement(policies):
    report = explain_code(policies["medicare"], "97014")
    assert "medicare.codes.unattended_estim_g0283" in ids(report["suggestions"])
    assert "medicare.codes.unattended_estim_invalid" in ids(report["requirements"])
    assert "medicare.codes.unattended_estim_g0283" not in ids(explain_code(policies["medicare"], "97110")["suggestions"])


def test_explain_code_unknown_code(policies):
    with pytest.raises(InputError) as info:
        explain_code(policies["aetna"], "99999")
    assert info.value.problems[0].code == "unknown_code"


def test_explain_code_cli_text_and_json():
    text = cli("explain-code", "97112", "--payer", "aetna")
    assert text.exit_code == 0
    assert "97112 Neuromuscular re-education under Aetna (commercial plans)" in text.output
    assert "aetna.nmr.needs_neurologic_diagnosis (aetna; payers/aetna.yaml:" in text.output
    assert "(in force until 2025-10-29)" in text.output
    data = json.loads(cli("explain-code", "97112", "--payer", "aetna", "--format", "json").output)
    assert data["code"]["code"] == "97112" and data["payer"] == "aetna"
    bad = cli("explain-code", "99999", "--payer", "aetna", "--format", "json")
    assert bad.exit_code == 3 and json.loads(bad.output)["error"] == "unknown_code"
    assert cli("explain-code", "97112", "--payer", "acme").exit_code == 3


# --- diff -------------------------------------------------------------------------------------------

def test_diff_base_aetna_covers_the_whole_chain(policies):
    report = diff_policies(policies["base"], policies["aetna"])
    added = ids(report["added"])
    assert "aetna.nmr.visit_cap" in added
    assert "aetna.same_day.not_together" in added
    assert report["replaced"] == [] and report["removed"] == []
    assert [p["name"] for p in report["parameters"]] == ["edit_97530_with_97140", "nmr_revision_date", "nmr_visit_cap",
                                                         "nmr_visit_window_days", "same_day_keep",
                                                         "same_day_revision_date"]
    row, override = report["edits"]
    assert (row["side"], row["action"], row["column1"], row["column2"], row["layer"]) == (
        "to", "add", "97530", "97535", "aetna")
    assert (override["side"], override["action"], override["key"], override["layer"]) == (
        "to", "override", ["97140", "97530"], "aetna")
    assert override["changes"] == {"modifier_indicator": 0, "confidence": "C"}
    assert override["when"] == {"parameter": "edit_97530_with_97140", "value": "front_end_edit"}
    assert report["summary"] == {"added": len(report["added"]), "replaced": 0, "removed": 0, "parameters": 6,
                                 "edits": 2}


def test_diff_base_medicare_shows_the_unit_method_switch(policies):
    report = diff_policies(policies["base"], policies["aetna_medicare"])
    method = next(p for p in report["parameters"] if p["name"] == "unit_method")
    assert (method["before"]["value"], method["after"]["value"]) == ("cpt_per_code", "total_time")
    assert method["after"]["layer"] == "medicare"
    added = ids(report["added"])
    assert "medicare.kx.modifier_required" in added and "aetna_medicare.authorization.required" in added


def test_diff_the_other_way_reports_rules_absent(policies):
    report = diff_policies(policies["aetna"], policies["base"])
    assert "aetna.same_day.not_together" in [r["rule"]["id"] for r in report["removed"]]
    assert all(r["change"] == "not_in_base" for r in report["removed"])
    assert ids(report["added"]) == []
    assert [(e["side"], e["action"]) for e in report["edits"]] == [("from", "add"), ("from", "override")]


def test_diff_of_a_payer_with_itself_is_empty(policies):
    report = diff_policies(policies["medicare"], policies["medicare"])
    assert report["summary"] == {"added": 0, "replaced": 0, "removed": 0, "parameters": 0, "edits": 0}


def test_diff_cli():
    text = cli("diff", "base", "aetna")
    assert text.exit_code == 0
    assert "0 replaced, 0 disabled or absent, 6 parameter(s) differ, 2 edit table change(s)." in text.output
    assert "~ PTP 97140/97530 overridden by aetna (aetna; payers/aetna.yaml:" in text.output
    assert "* nmr_visit_cap: (not set) -> 18 (aetna)" in text.output
    data = json.loads(cli("diff", "commercial", "aetna", "--format", "json").output)
    assert data["from"]["payer"] == "commercial" and data["summary"]["parameters"] == 6


def test_payers_cli_lists_every_payer():
    result = cli("payers", "--format", "json")
    assert result.exit_code == 0
    rows = {r["id"]: r for r in json.loads(result.output)["payers"]}
    assert set(rows) == {"base", "commercial", "medicare", "aetna", "aetna_medicare"}
    assert rows["aetna_medicare"]["extends"] == "medicare"
    assert rows["medicare"]["effective"] == {"from": "2019-01-01", "to": "2027-01-01"}
    assert rows["medicare"]["parameters"]["unit_method"]["value"] == "total_time"
    assert rows["aetna"]["disabled"] == []
    assert [(c["action"], c["key"]) for c in rows["aetna"]["edit_changes"]] == [("override", ["97140", "97530"])]


# --- an overlay that switches a base rule off ---------------------------------------------------------

@pytest.fixture
def project(tmp_path):
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    (tmp_path / "payers").mkdir()
    return tmp_path


def test_overlay_disabling_a_base_rule_flips_the_verdict(project):
    (project / "payers" / "lenient.yaml").write_text(
        "id: lenient\n"
        "name: A plan that does not ask for gait findings\n"
        "extends: base\n"
        "disable:\n"
        "  - id: base.documentation.gait_training_needs_gait_impairment\n"
        "    reason: this plan accepts gait training without objective gait findings\n")
    visit = make_encounter([{"code": "97116", "minutes": 23, "units": 2}])
    base = load_policy_set(project / "policies", "base", project / "payers")
    lenient = load_policy_set(project / "policies", "lenient", project / "payers")
    before = decide_for(base, visit).lines[0]
    assert (before.verdict, before.missing_documentation) == ("needs_documentation", ["gait_impairment"])
    after = decide_for(lenient, visit).lines[0]
    assert (after.verdict, after.supportable_units) == ("supportable", 2)
    why_not = [a.rule.id for a in after.why_not]
    assert "base.documentation.gait_training_needs_gait_impairment" not in why_not
    assert [d.id for d in lenient.disabled] == ["base.documentation.gait_training_needs_gait_impairment"]
    assert lenient.disabled[0].rule.layer == "base"
    assert lenient.version != base.version


def test_a_child_overrides_its_parents_parameter(project):
    (project / "payers" / "parent.yaml").write_text(
        "id: parent\nname: Parent\nextends: base\n"
        "parameters:\n"
        "  unit_method: {value: total_time, description: parent's method, source: {file: f.md, section: s}}\n")
    (project / "payers" / "child.yaml").write_text(
        "id: child\nname: Child\nextends: parent\n"
        "parameters:\n"
        "  unit_method: {value: cpt_per_code, description: child's method, source: {file: f.md, section: s}}\n")
    visit = make_encounter([{"code": "97110", "minutes": 22, "units": 2}, {"code": "97140", "minutes": 18, "units": 1}])
    parent = load_policy_set(project / "policies", "parent", project / "payers")
    child = load_policy_set(project / "policies", "child", project / "payers")
    assert [l.supportable_units for l in decide_for(parent, visit).lines] == [2, 1]
    assert [l.supportable_units for l in decide_for(child, visit).lines] == [1, 1]
    assert child.chain == ["base", "parent", "child"]
    assert child.parameters["unit_method"].layer == "child"
    assert child.parameters["unit_method"].allowed == ("cpt_per_code", "total_time")   # inherited one_of


def test_replaced_rule_applies_to_every_date_and_a_dated_addition_only_from_its_date(project):
    (project / "payers" / "dated.yaml").write_text(
        "id: dated\nname: Dated\nextends: base\n"
        "add:\n"
        "  - id: dated.exercise_cap\n"
        "    kind: limit\n"
        "    effective: {from: 2025-07-01}\n"
        "    because: \"from July 2025 this plan pays therapeutic exercise for at most {Max} minutes\"\n"
        "    source: {file: plan.md, section: limits}\n"
        "    rule: |\n"
        "      deny(L) :- line_code(L, \"97110\"), line_minutes(L, M), Max = 30, M > Max.\n")
    policy = load_policy_set(project / "policies", "dated", project / "payers")
    long_visit = [{"code": "97110", "minutes": 40, "units": 3}]
    june = decide_for(policy, make_encounter(long_visit, date_of_service="2025-06-30")).lines[0]
    july = decide_for(policy, make_encounter(long_visit, date_of_service="2025-07-01")).lines[0]
    assert june.verdict == "supportable"
    assert (july.verdict, [r.rule.id for r in july.reasons]) == ("not_supportable", ["dated.exercise_cap"])
    premises = [n["statement"] for n in wire.line_decision(july, "x", "full")["proof"]["derivations"][0]["premises"]]
    assert "'2025-07-01' >= '2025-07-01'" in premises


def test_explain_code_comparison_of_a_code_with_a_number_does_not_match():
    from supportable.engine.requirements import _compare
    assert _compare("97110", "==", 5) is False and _compare("97110", "!=", 5) is True
    assert _compare("97110", "<", 5) is True     # undecidable order: kept, not ruled out
