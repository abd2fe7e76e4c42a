"""Decision tests on example encounters: verdicts, units, reasons, fixes and proof content."""
import copy

from conftest import line_of
from supportable.server import wire


def decide(policy, data):
    return policy.decide(policy.parse(data))


def rule_ids(line):
    return sorted(r.rule.id for r in line.reasons)


def walk(node):
    yield node
    for p in node.get("premises", []):
        yield from walk(p)


def test_gait_and_exercise_per_code_units(base_policy, example):
    # Guidance 003's 22-minute 97116 + 18-minute 97110: one unit each when each code's minutes
    # are counted on their own.
    d = decide(base_policy, example("gait_and_exercise"))
    assert d.method == "cpt_per_code"
    gait, exercise = line_of(d, "1"), line_of(d, "2")
    assert (gait.code, gait.verdict, gait.supportable_units) == ("97116", "supportable", 1)
    assert (exercise.code, exercise.verdict, exercise.supportable_units) == ("97110", "supportable", 1)
    out = wire.decision(d, "full")["lines"][0]
    assert out["units"] == {"billed": 1, "supportable": 1, "method": "cpt_per_code"}
    units_proof = out["proof"]["derivations"][0]
    assert units_proof["rule"]["id"] == "base.units.line.only_line"
    assert units_proof["bindings"] == {"L": "1", "Code": "97116", "Minutes": 22, "Units": 1}
    # the line carries its code's units, which the code's own minutes give under the per-code rule
    code_units = next(n for n in walk(units_proof) if n.get("rule", {}).get("id") == "base.units.per_code.units")
    assert code_units["statement"] == "code_units('97116', 1)" and code_units["bindings"]["Total"] == 22
    builtin = next(n for n in walk(units_proof) if n["kind"] == "builtin")
    assert builtin["inputs"] == {"minutes": 22} and builtin["outputs"] == {"units": 1}
    facts = {n["statement"] for n in walk(units_proof) if n["kind"] == "fact"}
    assert "line_minutes('1', 22)" in facts
    # A supportable line explains why no denial applied: every deny rule with its failed premise.
    why_not = out["proof"]["why_not_denied"]
    assert {a["rule"]["id"] for a in why_not} >= {"base.group.several_patients_only_97150",
                                                  "base.documentation.gait_training_needs_gait_impairment"}
    gait_rule = next(a for a in why_not if a["rule"]["id"] == "base.documentation.gait_training_needs_gait_impairment")
    assert gait_rule["reason"] == "present" and gait_rule["failed_premise"] == "documented('1', 'gait_impairment')"


def test_transfer_task_suggests_therapeutic_activities(base_policy, example):
    d = decide(base_policy, example("transfer_training_billed_as_97110"))
    line = line_of(d, "1")
    assert line.verdict == "not_supportable"
    assert [c for c, _ in line.suggestions] == ["97530"]
    assert rule_ids(line) == ["base.choice.billed_code_contradicts_intent"]
    assert [(f.action, f.value) for f in line.fixes] == [("bill_instead", "97530")]
    suggestion = line.suggestions[0][1]
    assert suggestion.rule.id == "base.choice.several_parameters_functional_activity"
    aggregate = next(n for n in walk(wire.proof_node(suggestion)) if n["kind"] == "aggregate")
    # Balance and strength are the movement parameters combined in the functional activity.
    assert aggregate["result"] == 2
    assert sorted(m["P"] for m in aggregate["matches"]) == ["balance", "strength"]


def test_three_patients_is_group_therapy(base_policy, example):
    d = decide(base_policy, example("group_billed_as_97110"))
    line = line_of(d, "1")
    assert line.verdict == "not_supportable"
    assert line.supportable_units == 0
    assert "base.group.several_patients_only_97150" in rule_ids(line)
    assert [c for c, _ in line.suggestions] == ["97150"]
    assert ("bill_instead", "97150") in [(f.action, f.value) for f in line.fixes]
    group = next(r for r in line.reasons if r.rule.id == "base.group.several_patients_only_97150")
    assert "3 patients" in group.message and group.rule.source.startswith("001_")


def test_missing_documentation_lists_every_element(base_policy, example):
    d = decide(base_policy, example("missing_documentation"))
    line = line_of(d, "1")
    assert line.verdict == "needs_documentation"
    assert sorted(line.missing_documentation) == ["goal_linkage", "objective_findings", "progress_toward_goals",
                                                  "skilled_intervention"]
    assert {f.action for f in line.fixes} == {"add_documentation"}
    assert {r.kind for r in line.reasons} == {"documentation"}


def test_documenting_the_missing_elements_makes_it_supportable(base_policy, example):
    data = example("missing_documentation")
    first = line_of(decide(base_policy, data), "1")
    fixed = copy.deepcopy(data)
    fixed["lines"][0]["documentation"] = fixed["lines"][0].get("documentation", []) + [
        f.value for f in first.fixes]
    after = line_of(decide(base_policy, fixed), "1")
    assert after.verdict == "supportable", [r.message for r in after.reasons]


def test_nmr_without_deficit_needs_documentation(base_policy, example):
    line = line_of(decide(base_policy, example("nmr_without_deficit")), "1")
    assert line.verdict == "needs_documentation"
    assert line.missing_documentation == ["neuro_deficit"]
    assert rule_ids(line) == ["base.documentation.nmr_needs_neuro_deficit"]


def test_billed_units_above_supportable_are_reported(base_policy, example):
    d = decide(base_policy, example("overbilled_units"))
    line = line_of(d, "1")
    assert (line.verdict, line.billed_units, line.supportable_units) == ("supportable", 2, 1)
    assert [(f.action, f.value) for f in line.fixes] == [("reduce_units", 1)]
    assert [r.kind for r in line.reasons] == ["units"]
    # the verdict stays supportable; the line and the summary say it is over-billed
    out = wire.decision(d, "summary")
    assert out["lines"][0]["overbilled"] is True and out["summary"]["overbilled"] == 1
    assert out["summary"]["supportable"] == 1


def test_untimed_codes_bill_one_unit(base_policy, example):
    d = decide(base_policy, example("untimed_modality"))
    assert [(l.code, l.supportable_units) for l in d.lines] == [("97010", 1), ("97014", 1)]
    assert [(f.action, f.value) for f in line_of(d, "2").fixes] == [("reduce_units", 1)]


def test_manual_therapy_with_cmt_same_region_is_denied(base_policy, example):
    # 97140 is the column-2 code of the CMT edit; on a region the manipulation treated it is not
    # distinct, and the 59 it carries claims otherwise (source: domain-notes.md §4.3)
    d = decide(base_policy, example("cmt_with_manual_therapy"))
    line = next(l for l in d.lines if l.code == "97140")
    assert line.verdict == "not_supportable"
    assert rule_ids(line) == ["base.ncci.column2_not_distinct", "base.ncci.modifier_misused"]
    assert [(f.action, f.value) for f in line.fixes] == [("remove_modifier", "59")]
    overlap = next(r for r in line.reasons if r.rule.id == "base.ncci.column2_not_distinct")
    assert "lumbar" in overlap.message and "98941" in overlap.message
    cmt = next(l for l in d.lines if l.code == "98941")
    assert cmt.verdict == "supportable"


def test_manual_therapy_other_region_needs_modifier(base_policy, example):
    data = example("cmt_with_manual_therapy_distinct")
    ok = next(l for l in decide(base_policy, data).lines if l.code == "97140")
    assert ok.verdict == "supportable"
    for line in data["lines"]:
        if line["code"] == "97140":
            line["modifiers"] = []
    bad = next(l for l in decide(base_policy, data).lines if l.code == "97140")
    assert bad.verdict == "not_supportable"
    assert rule_ids(bad) == ["base.ncci.column2_needs_modifier"]
    fix = bad.fixes[0]
    # only the modifiers that attest a separate structure fit a separate region (domain-notes.md §4.2)
    assert fix.action == "add_modifier" and fix.value == ["59", "XS"]
    proof = wire.proof_node(bad.proofs[0])
    edit = next(n for n in walk(proof) if n.get("origin") == "edit_table")
    assert edit["statement"] == "ptp_edit('98940', '97140', 1)"
    assert edit["edit"]["layer"] == "base" and edit["edit"]["location"].startswith("policies/edits/ptp.yaml:")
    assert edit["edit"]["distinct_by"] == ["separate_structure"] and edit["edit"]["confidence"] == "B"


def test_manual_therapy_and_activities_in_one_block(base_policy, example):
    data = example("mixed_visit")
    assert all(l.verdict == "supportable" for l in decide(base_policy, data).lines)
    blocks = {l["code"]: l for l in data["lines"]}
    blocks["97530"]["time_block"] = blocks["97140"]["time_block"]
    d = decide(base_policy, data)
    activities = next(l for l in d.lines if l.code == "97530")
    manual = next(l for l in d.lines if l.code == "97140")
    # 97530 is the column-2 code: in 97140's block it is not reported, and its 59 claims a distinct
    # service that was not distinct (CMS's therapy example, domain-notes.md §4.2); 97140 is paid.
    assert rule_ids(activities) == ["base.ncci.column2_not_distinct", "base.ncci.modifier_misused"]
    assert (manual.verdict, activities.verdict) == ("supportable", "not_supportable")
    assert [(f.action, f.value) for f in activities.fixes] == [("remove_modifier", "59")]


def test_decision_json_shape(base_policy, example):
    out = wire.decision(decide(base_policy, example("mixed_visit")), "full")
    assert out["payer"] == "base" and out["policy_version"].startswith("sha256:")
    assert out["summary"] == {"supportable": 4, "needs_documentation": 0, "not_supportable": 0, "overbilled": 0}
    for line in out["lines"]:
        assert set(line) >= {"line", "code", "verdict", "overbilled", "units", "reasons", "fixes", "proof",
                             "missing_documentation", "suggested_codes"}
        assert line["overbilled"] is False
    assert "proof" not in wire.decision(decide(base_policy, example("mixed_visit")), "none")["lines"][0]


def test_decisions_are_identical_across_hash_seeds():
    # Reasons, fixes and proofs must not depend on set iteration order (string hash seeds).
    import os
    import subprocess
    import sys
    from conftest import ROOT
    outputs = set()
    for seed in ("1", "2", "3"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(ROOT))
        run = subprocess.run([sys.executable, "-m", "supportable.cli", "check",
                              str(ROOT / "examples/encounters/missing_documentation.json"), "--format", "json",
                              "--explain"], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
        outputs.add(run.stdout)
    assert len(outputs) == 1
    assert '"needs_documentation"' in outputs.pop()


def test_group_time_never_counts_toward_units_even_when_denied_lines_are_counted(tmp_path):
    # denied_line_minutes: counted keeps a denied line's minutes in the totals (a payer's reading,
    # policies/base/units.yaml); but time in a group's time block is not one-on-one time at all
    # (domain-notes.md §1.1 rule 9, §4.5), so it stays out under either setting.
    from conftest import ROOT, decide_for, make_encounter, payers_with
    from supportable.engine.policyset import load_policy_set
    payers = payers_with(tmp_path, {"counting": (
        "id: counting\nname: Counting\nextends: medicare\n"
        "parameters:\n  denied_line_minutes:\n    value: counted\n"
        "    description: denied lines keep their minutes\n    source: domain-notes.md\n")})
    visit = make_encounter([
        {"code": "97150", "minutes": 30, "units": 1, "patients_in_session": 3, "one_on_one": False, "time_block": "A"},
        {"code": "97110", "minutes": 20, "units": 1, "time_block": "A", "intended_outcomes": ["strength"]},
        {"code": "97112", "minutes": 10, "units": 1, "time_block": "B"},      # undocumented: denied
        {"code": "97140", "minutes": 7, "units": 1, "time_block": "C"}])
    counting = decide_for(load_policy_set(ROOT / "policies", "counting", payers), visit)
    leaving = decide_for(load_policy_set(ROOT / "policies", "medicare", payers), visit)
    # counted: 97112's 10 minutes (denied for documentation) join 97140's 7, 17 minutes, 1 unit to 97112
    assert line_of(counting, "3").verdict == "needs_documentation"
    assert rule_ids(line_of(counting, "4")) == ["base.units.total_time.no_unit"]
    # left out: 97140's 7 minutes alone are under 8
    assert rule_ids(line_of(leaving, "4")) == ["base.units.total_time.visit_under_eight_minutes"]
    for decision, total in ((counting, "visit_timed_units(17, 1)"), (leaving, "visit_timed_units(7, 0)")):
        assert rule_ids(line_of(decision, "2")) == ["base.group.one_on_one_during_group"]
        statements = [n.get("statement") for n in walk(wire.proof_node(line_of(decision, "4").proofs[0]))]
        assert total in statements, statements
