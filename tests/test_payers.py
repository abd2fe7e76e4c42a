"""Payer overlays: the same visit decided under different payers, and proofs that name the layer.

Each test shows a payer flipping (or keeping) a base verdict and checks the verdict, the units,
the rule responsible and which layer it came from.
"""
import pytest

from conftest import ROOT, decide_for, line_of, make_encounter, walk
from supportable.engine.errors import InputError
from supportable.engine.policyset import load_policy_set
from supportable.server import wire

NMR = {"code": "97112", "documentation": ["neuro_deficit"]}
GAIT = {"code": "97116", "documentation": ["gait_impairment"]}


def L(code, minutes, units, **extra):
    spec = {"code": code, "minutes": minutes, "units": units, **extra}
    if code == "97112":
        spec.setdefault("documentation", ["neuro_deficit"])
    if code == "97116":
        spec.setdefault("documentation", ["gait_impairment"])
    return spec


def units(decision):
    return [l.supportable_units for l in decision.lines]


def verdicts(decision):
    return [l.verdict for l in decision.lines]


def reason_ids(line):
    return [r.rule.id for r in line.reasons]


def proof_dict(line):
    return wire.line_decision(line, "x", "full")["proof"]


def statements(line):
    return [n["statement"] for d in proof_dict(line)["derivations"] for n in walk(d)]


# --- Medicare's 8-minute rule (total time) vs CPT per code -------------------------------------

def test_medicare_bills_three_units_for_22_and_18_minutes_where_cpt_bills_two(policies):
    visit = make_encounter([L("97116", 22, 2), L("97110", 18, 1)])
    medicare = decide_for(policies["medicare"], visit)
    commercial = decide_for(policies["commercial"], visit)
    assert (verdicts(medicare), units(medicare)) == (["supportable", "supportable"], [2, 1])
    assert medicare.method == "total_time"
    assert units(commercial) == [1, 1] and commercial.method == "cpt_per_code"
    # under CPT the second unit billed on 97116 is too many; under Medicare it is right
    assert wire.fix(line_of(commercial, "1").fixes[0])["units"] == 1
    assert line_of(medicare, "1").fixes == []


def test_medicare_units_proof_shows_the_arithmetic_and_names_medicare(policies):
    line = line_of(decide_for(policies["medicare"], make_encounter([L("97116", 22, 2), L("97110", 18, 1)])), "1")
    proof = proof_dict(line)["derivations"][0]
    assert proof["rule"]["id"] == "base.units.line.only_line"
    nodes = list(walk(proof))
    said = [n["statement"] for n in nodes]
    code_units = next(n for n in nodes if n["statement"] == "code_units('97116', 2)")
    assert code_units["rule"]["id"] == "base.units.total_time.whole_plus_leftover_unit"
    assert "visit_timed_units(40, 3)" in said
    assert "code_whole_units('97116', 1, 7)" in said
    assert "remaining_units(1)" in said
    assert "code_leftover_rank('97116', 0)" in said
    assert "@divmod(22, 15, 1, 7)" in said
    # the method was switched by Medicare's parameter, and the proof says where it was set
    params = [n for n in nodes if n.get("origin") == "parameter"]
    assert params and all(p["parameter"]["layer"] == "medicare" for p in params)
    assert params[0]["parameter"]["location"].startswith("payers/medicare.yaml:")
    assert "3 timed unit(s)" in next(n["because"] for n in nodes if n["statement"] == "visit_timed_units(40, 3)")


@pytest.mark.parametrize("minutes, billed, expected", [
    ((24, 23), (2, 1), [2, 1]),               # example 1: 47 minutes, 3 units, more to the longer service
    ((33, 7), (2, 1), [2, 1]),                # example 3: the 7 leftover minutes beat the 3
    ((20, 20), (1, 2), [1, 2]),               # example 2: a tie; the clinician chose the second
    ((20, 20), (2, 1), [2, 1]),               # ... or the first
    ((20, 20), (1, 1), [2, 1]),               # nobody chose: the line listed first
    ((30, 8), (2, 1), [2, 1]),                # 38 minutes: 3 units, a 15+ minute code keeps its 2
])
def test_medicare_worked_examples_two_services(policies, minutes, billed, expected):
    visit = make_encounter([L("97112", minutes[0], billed[0]), L("97110", minutes[1], billed[1])])
    decision = decide_for(policies["medicare"], visit)
    assert units(decision) == expected
    assert sum(units(decision)) == (sum(minutes) + 7) // 15


def test_medicare_worked_example_four_services(policies):
    # 18/13/10/8 minutes: 49 minutes, 3 units: 97110 x1, 97140 x1, 97116 x1, 97035 x0
    visit = make_encounter([L("97110", 18, 1), L("97140", 13, 1), L("97116", 10, 1), L("97035", 8, 1)])
    decision = decide_for(policies["medicare"], visit)
    assert units(decision) == [1, 1, 1, 0]
    assert verdicts(decision) == ["supportable", "supportable", "supportable", "not_supportable"]
    ultrasound = line_of(decision, "4")
    assert reason_ids(ultrasound) == ["base.units.total_time.no_unit"]
    assert "3 timed unit(s) (49 minutes in all)" in ultrasound.reasons[0].message
    # per code, each of the four reaches 8 minutes and earns its own unit
    assert units(decide_for(policies["commercial"], visit)) == [1, 1, 1, 1]


def test_medicare_pools_small_services_into_one_unit(policies):
    # three services of 7 minutes: 21 minutes is one unit, for one of them; per code, none at all
    visit = make_encounter([L("97112", 7, 1), L("97110", 7, 1), L("97140", 7, 1)])
    medicare = decide_for(policies["medicare"], visit)
    assert units(medicare) == [1, 0, 0]
    assert verdicts(medicare)[1:] == ["not_supportable", "not_supportable"]
    commercial = decide_for(policies["commercial"], visit)
    assert all("base.units.per_code.under_eight_minutes" in reason_ids(l) for l in commercial.lines)


def test_medicare_single_service_under_eight_minutes_earns_nothing(policies):
    decision = decide_for(policies["medicare"], make_encounter([L("97110", 7, 1)]))
    assert verdicts(decision) == ["not_supportable"]
    assert reason_ids(decision.lines[0]) == ["base.units.total_time.visit_under_eight_minutes"]


def test_untimed_group_therapy_is_one_unit_under_medicare(policies):
    group = {"code": "97150", "minutes": 45, "units": 1, "one_on_one": False, "patients_in_session": 3}
    decision = decide_for(policies["medicare"], make_encounter([group, L("97110", 20, 1)]))
    assert units(decision) == [1, 1]
    assert verdicts(decision) == ["supportable", "supportable"]


# --- Medicare: who may bill, modifiers, thresholds, plan of care, codes ------------------------

def test_chiropractor_billing_therapeutic_exercise_medicare_vs_commercial(policies):
    visit = make_encounter([L("97110", 20, 1)], provider={"type": "chiropractor"})
    medicare = decide_for(policies["medicare"], visit).lines[0]
    assert medicare.verdict == "not_supportable"
    assert "medicare.chiropractic.only_spinal_manipulation" in reason_ids(medicare)
    # and Medicare's own table of who may furnish therapy leaves chiropractors out
    assert {r.rule.layer for r in medicare.reasons} == {"medicare", "base"}
    eligibility = next(r for r in medicare.reasons if r.rule.id == "base.eligibility.provider_not_eligible")
    assert "chiropractor" in eligibility.message
    commercial = decide_for(policies["commercial"], visit).lines[0]
    assert (commercial.verdict, commercial.supportable_units) == ("supportable", 1)


def test_chiropractic_manipulation_needs_active_treatment_modifier(policies):
    cmt = {"code": "98940", "minutes": 10, "units": 1, "modifiers": [], "region": "lumbar",
           "documentation": ["part_pain", "part_range_of_motion"]}      # the subluxation shown (P.A.R.T.)
    visit = make_encounter([cmt], provider={"type": "chiropractor"}, diagnoses=["M99.03"])
    line = decide_for(policies["medicare"], visit).lines[0]
    assert reason_ids(line) == ["medicare.chiropractic.active_treatment_modifier"]
    assert [wire.fix(f) for f in line.fixes] == [
        {"action": "add_modifier", "one_of": ["AT"], "satisfies": "medicare.chiropractic.active_treatment_modifier"}]
    visit["lines"][0]["modifiers"] = ["AT"]
    assert decide_for(policies["medicare"], visit).lines[0].verdict == "supportable"


def test_athletic_trainer_cannot_bill_therapy_to_medicare(policies):
    visit = make_encounter([L("97110", 20, 1)], provider={"type": "athletic_trainer"})
    line = decide_for(policies["medicare"], visit).lines[0]
    assert reason_ids(line) == ["base.eligibility.provider_not_eligible"]
    assert "athletic_trainer" in line.reasons[0].message and "therapy" in line.reasons[0].message
    # nor to a commercial plan that does not list them (test_a_plan_that_accepts_athletic_trainers_...)
    assert decide_for(policies["commercial"], visit).lines[0].verdict == "not_supportable"


def test_therapy_line_without_discipline_modifier(policies):
    line = decide_for(policies["medicare"], make_encounter([L("97110", 20, 1, modifiers=[])])).lines[0]
    assert reason_ids(line) == ["medicare.modifiers.discipline_required"]
    assert wire.fix(line.fixes[0]) == {"action": "add_modifier", "one_of": ["GN", "GO", "GP"],
                                       "satisfies": "medicare.modifiers.discipline_required"}
    both = decide_for(policies["medicare"], make_encounter([L("97110", 20, 1, modifiers=["GP", "GO"])])).lines[0]
    # GP and GO on a physical therapist's line: one discipline only, and GO is not the PT's (domain-notes §5.1)
    assert sorted(reason_ids(both)) == ["medicare.modifiers.discipline_not_the_therapists",
                                        "medicare.modifiers.one_discipline"]


def test_assistant_needs_cq_from_2020(policies):
    pta = {"type": "physical_therapist_assistant"}
    line = decide_for(policies["medicare"], make_encounter([L("97110", 20, 1)], provider=pta)).lines[0]
    assert reason_ids(line) == ["medicare.modifiers.assistant_required"]
    assert wire.fix(line.fixes[0])["one_of"] == ["CQ"]
    with_cq = make_encounter([L("97110", 20, 1, modifiers=["GP", "CQ"])], provider=pta)
    assert decide_for(policies["medicare"], with_cq).lines[0].verdict == "supportable"
    # before 2020 the modifier did not exist: the rule is not in force
    before = make_encounter([L("97110", 20, 1)], provider=pta, date_of_service="2019-06-03", diagnoses=["M54.5"],
                            plan_of_care={"certified_by": "physician", "certified_on": "2019-05-21",
                                          "start_of_care": "2019-05-20"})
    assert decide_for(policies["medicare"], before).lines[0].verdict == "supportable"


@pytest.mark.parametrize("dos, spent, modifiers, denied", [
    ("2025-06-02", 2500.00, ["GP"], True),     # over the 2025 threshold of $2,410 without KX
    ("2025-06-02", 2500.00, ["GP", "KX"], False),
    ("2025-06-02", 2400.00, ["GP"], False),    # under it
    ("2024-06-03", 2400.00, ["GP"], True),     # the 2024 threshold was $2,330
])
def test_kx_threshold_by_calendar_year(policies, dos, spent, modifiers, denied):
    visit = make_encounter([L("97110", 20, 1, modifiers=modifiers)], date_of_service=dos,
                           plan_of_care={"certified_by": "physician", "start_of_care": dos, "certified_on": dos})
    visit["patient"]["year_to_date"]["pt_slp"] = spent
    line = decide_for(policies["medicare"], visit).lines[0]
    assert ("medicare.kx.modifier_required" in reason_ids(line)) is denied
    if denied:
        assert wire.fix(line.fixes[0])["one_of"] == ["KX"]
        param = [n for d in proof_dict(line)["derivations"] for n in walk(d) if n.get("origin") == "parameter"]
        assert param[0]["parameter"]["name"] == "kx_threshold_cents"
        assert param[0]["parameter"]["source"]["section"].startswith("5.2 KX threshold, CY " + dos[:4])


def test_occupational_therapy_counts_against_its_own_threshold(policies):
    visit = make_encounter([L("97110", 20, 1, modifiers=["GO"])], provider={"type": "occupational_therapist"})
    visit["patient"]["year_to_date"] = {"pt_slp": 5000.0, "ot": 100.0}
    assert decide_for(policies["medicare"], visit).lines[0].verdict == "supportable"
    visit["patient"]["year_to_date"] = {"pt_slp": 0, "ot": 3000.0}
    assert "medicare.kx.modifier_required" in reason_ids(decide_for(policies["medicare"], visit).lines[0])


@pytest.mark.parametrize("plan, rule", [
    (None, "medicare.plan.missing"),
    ({"certified_by": "chiropractor", "certified_on": "2025-05-20", "start_of_care": "2025-05-19"},
     "medicare.plan.wrong_certifier"),
    ({"certified_by": "physician", "certified_on": "2025-05-30", "start_of_care": "2025-04-20"},
     "medicare.plan.certified_late"),
    ({"certified_by": "physician", "start_of_care": "2025-04-20"}, "medicare.plan.not_yet_certified"),
])
def test_plan_of_care_certification(policies, plan, rule):
    visit = make_encounter([L("97110", 20, 1)])
    if plan is None:
        del visit["plan_of_care"]
    else:
        visit["plan_of_care"] = plan
    line = decide_for(policies["medicare"], visit).lines[0]
    # a late certification can be justified: documentation; the others cannot be fixed by the note
    assert line.verdict == ("needs_documentation" if rule == "medicare.plan.certified_late" else "not_supportable")
    assert reason_ids(line) == [rule]
    # the base guidance alone has no plan-of-care rule
    assert decide_for(policies["base"], visit).lines[0].verdict == "supportable"


def test_evaluation_needs_no_certified_plan_yet(policies):
    visit = make_encounter([{"code": "97161", "minutes": 30, "units": 1}])
    del visit["plan_of_care"]
    assert decide_for(policies["medicare"], visit).lines[0].verdict == "supportable"


def test_hot_packs_and_unattended_estim(policies):
    visit = make_encounter([{"code": "97010", "minutes": 10, "units": 1}, {"code": "97014", "minutes": 15, "units": 1}])
    decision = decide_for(policies["medicare"], visit)
    assert reason_ids(line_of(decision, "1")) == ["medicare.codes.hot_cold_packs_bundled"]
    estim = line_of(decision, "2")
    # Medicare's rule says why 97014 is wrong; the base coding rule says which code is right
    assert reason_ids(estim) == ["base.choice.billed_code_contradicts_intent", "medicare.codes.unattended_estim_invalid"]
    assert [c for c, _ in estim.suggestions] == ["G0283"]
    # one fix answers both reasons
    assert [(f.action, f.value) for f in estim.fixes] == [("bill_instead", "G0283")]
    assert verdicts(decide_for(policies["commercial"], visit)) == ["supportable", "supportable"]


def test_plateau_is_covered_by_medicare_but_not_by_aetna(policies):
    visit = make_encounter([L("97110", 20, 1)])
    visit["patient"]["condition_status"] = "plateau"
    assert decide_for(policies["medicare"], visit).lines[0].verdict == "supportable"
    aetna = decide_for(policies["aetna"], visit).lines[0]
    assert reason_ids(aetna) == ["aetna.necessity.plateau"]
    assert aetna.reasons[0].rule.layer == "aetna"


# --- Medicare: acupuncture (NCD 30.3.3) ---------------------------------------------------------

def acupuncture(history_days=(), status="improving", dx="M54.50", provider="physician", dos="2025-06-02"):
    from datetime import date, timedelta
    day = date.fromisoformat(dos)
    history = [{"date": (day - timedelta(days=d)).isoformat(), "codes": ["97810"]} for d in history_days]
    visit = make_encounter([{"code": "97810", "minutes": 15, "units": 1, "modifiers": [],
                             "documentation": ["chronic_low_back_pain"]}],
                           diagnoses=[dx], provider={"type": provider}, date_of_service=dos)
    visit["patient"]["history"] = history
    visit["patient"]["condition_status"] = status
    return visit


def test_acupuncture_for_chronic_low_back_pain_is_covered(policies):
    line = decide_for(policies["medicare"], acupuncture()).lines[0]
    assert (line.verdict, line.supportable_units) == ("supportable", 1)


@pytest.mark.parametrize("visit, rule", [
    (dict(dx="M17.11"), "medicare.acupuncture.only_low_back_pain"),
    (dict(provider="acupuncturist"), "medicare.acupuncture.not_billed_by_acupuncturist"),
    (dict(history_days=range(1, 13), status="plateau"), "medicare.acupuncture.initial_block_used"),
    (dict(history_days=range(1, 21)), "medicare.acupuncture.extra_block_used"),
    (dict(dos="2019-06-03"), "medicare.acupuncture.not_covered_before_ncd"),
])
def test_acupuncture_limits(policies, visit, rule):
    data = acupuncture(**visit)
    if visit.get("dos"):
        data["plan_of_care"] = None
    line = decide_for(policies["medicare"], data).lines[0]
    assert line.verdict == "not_supportable"
    assert rule in reason_ids(line)


def test_acupuncture_improving_patient_gets_more_visits(policies):
    # 12 visits in 90 days: more only for a patient who is improving
    assert decide_for(policies["medicare"], acupuncture(range(1, 13), "improving")).lines[0].verdict == "supportable"
    line = decide_for(policies["medicare"], acupuncture(range(1, 13), "regressing")).lines[0]
    # a regressing patient stops at any visit; after 12 the 90-day block and the year's initial
    # course (the 12 visits are all in this year) are used up as well
    assert set(reason_ids(line)) == {"medicare.acupuncture.initial_block_used",
                                     "medicare.acupuncture.initial_course_used",
                                     "medicare.acupuncture.stop_when_not_improving"}
    block = next(r for r in line.reasons if r.rule.id == "medicare.acupuncture.initial_block_used")
    assert "12 acupuncture visits in the last 90 days" in block.message


def test_acupuncture_annual_limit(policies):
    # 20 visits earlier this year, spread so that fewer than 12 fall in the last 90 days
    days = [d for d in range(5, 160, 8)][:20]
    data = acupuncture(days, dos="2025-07-01")
    line = decide_for(policies["medicare"], data).lines[0]
    assert "medicare.acupuncture.annual_limit" in reason_ids(line)
    assert "medicare.acupuncture.initial_block_used" not in reason_ids(line)


def test_acupuncture_needs_chronicity_documented(policies):
    data = acupuncture()
    data["lines"][0]["documentation"] = []
    line = decide_for(policies["medicare"], data).lines[0]
    assert (line.verdict, line.missing_documentation) == ("needs_documentation", ["chronic_low_back_pain"])


# --- Aetna --------------------------------------------------------------------------------------

def test_aetna_same_day_nmr_and_exercise(policies):
    # before the revision one of the three is kept (domain-notes.md §3.1): equal minutes, so the code
    # billed first; the other line is denied
    visit = make_encounter([L("97112", 20, 1), L("97110", 20, 1)], diagnoses=["I69.351"])
    aetna = decide_for(policies["aetna"], visit)
    assert verdicts(aetna) == ["supportable", "not_supportable"]
    exercise = line_of(aetna, "2")
    assert reason_ids(exercise) == ["aetna.same_day.not_together"]
    assert exercise.reasons[0].rule.layer == "aetna"
    assert proof_dict(exercise)["derivations"][0]["rule"]["location"].startswith("payers/aetna.yaml:")
    assert exercise.reasons[0].message.startswith("97110 and 97112 (line 1) on one day")
    assert "same_day_keep = most_minutes" in exercise.reasons[0].message
    # the other order keeps the exercise; more minutes beat the order
    visit["lines"].reverse()
    assert verdicts(decide_for(policies["aetna"], visit)) == ["supportable", "not_supportable"]
    visit["lines"][1]["minutes"], visit["lines"][1]["units"] = 30, 2          # 97112, listed second
    kept = decide_for(policies["aetna"], visit)
    assert verdicts(kept) == ["not_supportable", "supportable"]
    assert "here 97112" in line_of(kept, "2").reasons[0].message            # line "2" (97110) now listed first
    assert verdicts(decide_for(policies["commercial"], visit)) == ["supportable", "supportable"]


def test_aetna_same_day_after_the_revision_asks_for_documented_necessity(policies):
    visit = make_encounter([L("97112", 20, 1), L("97110", 20, 1)], diagnoses=["I69.351"], date_of_service="2025-10-29")
    assert verdicts(decide_for(policies["aetna"], visit)) == ["supportable", "supportable"]
    visit["documentation"].remove("medical_necessity")
    decision = decide_for(policies["aetna"], visit)
    assert verdicts(decision) == ["needs_documentation", "needs_documentation"]
    for line in decision.lines:
        assert reason_ids(line) == ["aetna.same_day.necessity_documented"]
        assert line.missing_documentation == ["medical_necessity"]
    visit["date_of_service"] = "2025-10-28"                                     # the day before: one kept
    assert verdicts(decide_for(policies["aetna"], visit)) == ["supportable", "not_supportable"]


def _aetna_child(tmp_path, parameters: str, extends: str = "aetna"):
    """A payer `child` extending a shipped payer with some of its parameters set otherwise."""
    payers = tmp_path / "payers"
    payers.mkdir()
    for path in (ROOT / "payers").glob("*.yaml"):
        (payers / path.name).write_text(path.read_text())
    (payers / "child.yaml").write_text(f"id: child\nname: Child\nextends: {extends}\nparameters:\n{parameters}")
    return load_policy_set(ROOT / "policies", "child", payers)


def test_aetna_same_day_keep_and_revision_date_are_parameters(policies, tmp_path):
    visit = make_encounter([L("97110", 20, 1), L("97112", 30, 2)], diagnoses=["I69.351"])
    assert verdicts(decide_for(policies["aetna"], visit)) == ["not_supportable", "supportable"]   # most minutes
    child = _aetna_child(tmp_path, "  same_day_keep: {value: first_billed, description: d, source: domain-notes.md}\n"
                                   "  same_day_revision_date: {value: 2026-06-02, description: d, source: domain-notes-2.md}\n")
    decision = decide_for(child, visit)
    assert verdicts(decision) == ["supportable", "not_supportable"]                            # billed first
    assert reason_ids(line_of(decision, "2")) == ["aetna.same_day.not_together_first_billed"]
    assert "same_day_keep = first_billed" in line_of(decision, "2").reasons[0].message
    # the 2010 limit now runs until 2026-06-02, the last date the guidance allows
    visit["date_of_service"] = "2026-06-01"
    assert verdicts(decide_for(child, visit)) == ["supportable", "not_supportable"]
    assert verdicts(decide_for(policies["aetna"], visit)) == ["supportable", "supportable"]
    visit["date_of_service"] = "2026-06-02"
    assert verdicts(decide_for(child, visit)) == ["supportable", "supportable"]


def test_aetna_nmr_needs_a_nervous_system_diagnosis(policies):
    stroke = make_encounter([L("97112", 25, 2)], diagnoses=["I69.351"])
    assert decide_for(policies["aetna"], stroke).lines[0].verdict == "supportable"
    back_pain = make_encounter([L("97112", 25, 2)], diagnoses=["M54.50"])
    line = decide_for(policies["aetna"], back_pain).lines[0]
    assert (line.verdict, reason_ids(line)) == ("not_supportable", ["aetna.nmr.needs_neurologic_diagnosis"])
    assert line.reasons[0].message.startswith("before 2025-10-29, Aetna covers neuromuscular reeducation")
    # CPT guidance alone asks only for the documented deficit
    assert decide_for(policies["commercial"], back_pain).lines[0].verdict == "supportable"
    # the revised text has no diagnosis list (domain-notes-2.md §4.1)
    back_pain["date_of_service"] = "2025-10-29"
    line = decide_for(policies["aetna"], back_pain).lines[0]
    assert line.verdict == "supportable"
    why = wire.line_decision(line, "x", "full")["proof"]["why_not_denied"]
    attempt = next(a for a in why if a["rule"]["id"] == "aetna.nmr.needs_neurologic_diagnosis")
    assert attempt["failed_premise"] == "'2025-10-29' < '2025-10-29'"


def test_aetna_nmr_revision_date_is_a_parameter(policies, tmp_path):
    child = _aetna_child(tmp_path, "  nmr_revision_date: {value: 2026-06-02, description: d, source: domain-notes-2.md}\n")
    back_pain = make_encounter([L("97112", 25, 2)], diagnoses=["M54.50"], date_of_service="2026-01-15")
    assert decide_for(policies["aetna"], back_pain).lines[0].verdict == "supportable"
    assert reason_ids(decide_for(child, back_pain).lines[0]) == ["aetna.nmr.needs_neurologic_diagnosis"]


@pytest.mark.parametrize("dx", ["I63.9", "G35", "S14.109S", "G81.94", "S06.0X0A", "S14.3XXA", "S34.3XXA",
                                "S34.21XA", "S64.40XA", "P14.0"])
def test_aetna_nmr_diagnoses_come_from_the_icd10_hierarchy(policies, dx):
    # (the visit is on 2025-06-02: G35, not its FY 2026 subdivisions)
    line = decide_for(policies["aetna"], make_encounter([L("97112", 25, 2)], diagnoses=["M54.50", dx])).lines[0]
    assert line.verdict == "supportable"
    why = wire.line_decision(line, "x", "full")["proof"]["why_not_denied"]
    attempt = next(a for a in why if a["rule"]["id"] == "aetna.nmr.needs_neurologic_diagnosis")
    assert attempt["reason"] == "present"


def nmr_history(count, dos="2025-06-02"):
    from datetime import date, timedelta
    day = date.fromisoformat(dos)
    return [{"date": (day - timedelta(days=2 * i + 1)).isoformat(), "codes": ["97112"]} for i in range(count)]


@pytest.mark.parametrize("prior, dos, denied", [
    (19, "2025-06-02", True),      # 19 visits in the last 42 days: over the 12-18 norm
    (10, "2025-06-02", False),
    (19, "2025-11-03", False),     # the 2025-10-29 revision removed the norm
])
def test_aetna_nmr_visit_cap(policies, prior, dos, denied):
    visit = make_encounter([L("97112", 25, 2)], diagnoses=["I69.351"], date_of_service=dos)
    visit["patient"]["history"] = nmr_history(prior, dos)
    line = decide_for(policies["aetna"], visit).lines[0]
    assert ("aetna.nmr.visit_cap" in reason_ids(line)) is denied
    assert line.verdict == ("not_supportable" if denied else "supportable")
    if denied:
        assert "19 neuromuscular reeducation visits in the last 42 days" in line.reasons[0].message
    if dos >= "2025-10-29":
        why = wire.line_decision(line, "x", "full")["proof"]["why_not_denied"]
        attempt = next(a for a in why if a["rule"]["id"] == "aetna.nmr.visit_cap")
        assert attempt["failed_premise"] == "'2025-11-03' < '2025-10-29'"


def test_aetna_overrides_the_97140_97530_edit_to_never_paid(policies):
    # 97530 is the column-2 code of the 97140 edit (domain-notes.md §4.2); Aetna denies it even with
    # 59 (§3.3 [WEBPT-59]), an override of the edit's modifier indicator, not a rule of its own
    visit = make_encounter([L("97530", 20, 1, modifiers=["GP", "59"]), L("97140", 15, 1)])
    commercial = decide_for(policies["commercial"], visit)
    assert verdicts(commercial) == ["supportable", "supportable"]    # separate blocks and 59: both paid
    aetna = decide_for(policies["aetna"], visit)
    activities, manual = line_of(aetna, "1"), line_of(aetna, "2")
    assert reason_ids(activities) == ["base.ncci.column2_never_paid"]
    assert activities.verdict == "not_supportable" and activities.fixes == []
    edit = next(n for n in walk(proof_dict(activities)["derivations"][0]) if n.get("origin") == "edit_table")
    assert edit["statement"] == "ptp_edit('97140', '97530', 0)"
    assert edit["edit"]["layer"] == "aetna" and edit["edit"]["confidence"] == "C"
    assert edit["edit"]["overrides"]["layer"] == "base" and "even with modifier 59" in edit["edit"]["overrides"]["reason"]
    assert manual.verdict == "supportable"
    # without 59 commercial asks for the modifier on 97530; Aetna denies it whatever
    visit["lines"][0]["modifiers"] = ["GP"]
    line = line_of(decide_for(policies["commercial"], visit), "1")
    assert reason_ids(line) == ["base.ncci.column2_needs_modifier"]
    assert wire.fix(line.fixes[0])["one_of"] == ["59", "XU"]
    assert reason_ids(line_of(decide_for(policies["aetna"], visit), "1")) == ["base.ncci.column2_never_paid"]


def test_aetna_97530_with_97140_edit_is_switched_by_a_parameter(policies, tmp_path):
    # the override rests on a vendor report (grade C); with the parameter at `ncci` the base edit applies
    visit = make_encounter([L("97530", 20, 1, modifiers=["GP", "59"]), L("97140", 15, 1)])
    child = _aetna_child(tmp_path, "  edit_97530_with_97140: {value: ncci, description: d, source: domain-notes.md}\n")
    assert verdicts(decide_for(child, visit)) == ["supportable", "supportable"]
    [row] = child.edits.rows("ptp", ("97140", "97530"))
    assert (row.value, row.layer, row.overrides) == (1, "base", None)
    [row] = policies["aetna"].edits.rows("ptp", ("97140", "97530"))
    assert (row.value, row.layer, row.overrides.layer) == (0, "aetna", "base")
    visit["lines"][0]["modifiers"] = ["GP"]
    assert reason_ids(line_of(decide_for(child, visit), "1")) == ["base.ncci.column2_needs_modifier"]
    change = next(c for c in wire.payer_description(child)["edit_changes"] if c["key"] == ["97140", "97530"])
    assert change["when"] == {"parameter": "edit_97530_with_97140", "value": "front_end_edit"}


def test_aetna_manual_therapy_with_manipulation_in_another_region_needs_documentation(policies):
    cmt = {"code": "98940", "minutes": 10, "units": 1, "region": "lumbar", "modifiers": ["AT"]}
    manual = {"code": "97140", "minutes": 15, "units": 1, "region": "cervical", "modifiers": ["59"]}
    visit = make_encounter([cmt, manual], provider={"type": "chiropractor"}, diagnoses=["M99.03"])
    assert line_of(decide_for(policies["commercial"], visit), "2").verdict == "supportable"
    line = line_of(decide_for(policies["aetna"], visit), "2")
    assert (line.verdict, line.missing_documentation) == ("needs_documentation", ["distinct_region"])
    visit["lines"][1]["documentation"] = ["distinct_region"]
    assert line_of(decide_for(policies["aetna"], visit), "2").verdict == "supportable"


def test_never_59_with_an_x_modifier_under_every_payer(policies):
    # domain-notes.md §4.2: CMS's instruction (quoted by [CADLASYS-X], with [AMERIHEALTH-X]) never to put 59 and an
    # X modifier on one line holds for every payer, so the rule is in the base; either modifier alone is no fault.
    visit = make_encounter([L("97530", 20, 1), L("97140", 15, 1, modifiers=["GP", "59", "XS"])])
    for payer in policies:
        line = line_of(decide_for(policies[payer], visit), "2")
        assert line.verdict == "not_supportable" and "base.ncci.not_59_with_x" in reason_ids(line), payer
        assert any(wire.fix(f)["action"] == "remove_modifier" for f in line.fixes), payer
    for alone in (["GP", "59"], ["GP", "XS"]):
        visit["lines"][1]["modifiers"] = alone
        assert "base.ncci.not_59_with_x" not in reason_ids(line_of(decide_for(policies["medicare"], visit), "2"))


# --- Inheritance: a Medicare Advantage plan extends Medicare --------------------------------------

def test_medicare_advantage_inherits_medicare_and_prior_authorization_is_off(policies, tmp_path):
    plan = policies["aetna_medicare"]
    assert plan.chain == ["base", "medicare", "aetna_medicare"]
    visit = make_encounter([L("97116", 22, 2), L("97110", 18, 1)])
    decision = decide_for(plan, visit)
    # the source says such plans *may* need prior authorization: not a denial by default
    assert verdicts(decision) == ["supportable", "supportable"]
    assert units(decision) == [2, 1] and decision.method == "total_time"      # Medicare's 8-minute rule
    why = wire.line_decision(decision.lines[0], "x", "full")["proof"]["why_not_denied"]
    attempt = next(a for a in why if a["rule"]["id"] == "aetna_medicare.authorization.required")
    assert attempt["failed_premise"] == "'not_required' == 'required'"
    chiro = make_encounter([L("97110", 20, 1)], provider={"type": "chiropractor"})
    assert "medicare.chiropractic.only_spinal_manipulation" in reason_ids(decide_for(plan, chiro).lines[0])
    # a plan that does require it
    strict = _aetna_child(tmp_path, "  prior_authorization: {value: required, description: d, source: domain-notes.md}\n",
                          extends="aetna_medicare")
    decision = decide_for(strict, visit)
    assert verdicts(decision) == ["needs_documentation", "needs_documentation"]
    assert all(l.missing_documentation == ["prior_authorization"] for l in decision.lines)
    assert reason_ids(decision.lines[0]) == ["aetna_medicare.authorization.required"]
    visit["documentation"].append("prior_authorization")
    assert verdicts(decide_for(strict, visit)) == ["supportable", "supportable"]


# --- Effective dates -----------------------------------------------------------------------------

def test_ncci_evaluation_pair_applies_from_2020(policies):
    lines = [{"code": "97161", "minutes": 30, "units": 1}, L("97140", 15, 1)]
    after = decide_for(policies["commercial"], make_encounter(lines))
    assert reason_ids(line_of(after, "2")) == ["base.ncci.column2_needs_modifier"]
    # (M54.50 exists only from 2021-10-01: domain-notes.md T6)
    before = decide_for(policies["commercial"], make_encounter(lines, date_of_service="2019-11-04", diagnoses=["M54.5"]))
    assert line_of(before, "2").verdict == "supportable"


@pytest.mark.parametrize("dos", ["2018-12-31", "2027-01-01"])
def test_date_outside_the_payers_range_is_an_input_error(policies, dos):
    with pytest.raises(InputError) as info:
        policies["medicare"].parse(make_encounter([L("97110", 20, 1)], date_of_service=dos))
    problem = info.value.problems[0]
    assert (problem.path, problem.code) == ("date_of_service", "outside_effective_range")
    assert "2019-01-01" in problem.message and dos in problem.message
    assert policies["commercial"].parse(make_encounter([L("97110", 20, 1)], date_of_service=dos))


def test_unknown_diagnosis_is_rejected_with_its_path(policies):
    with pytest.raises(InputError) as info:
        policies["aetna"].parse(make_encounter([L("97110", 20, 1)], diagnoses=["M54.50", "Q99.999"]))
    assert [(p.path, p.code) for p in info.value.problems] == [("diagnoses[1]", "unknown_diagnosis")]


def test_policy_versions_differ_by_payer(policies):
    versions = {p.version for p in policies.values()}
    assert len(versions) == len(policies)


def test_a_plan_that_accepts_athletic_trainers_says_so_in_its_own_table(tmp_path):
    # Who may furnish therapy is a parameter table: the base lists no athletic trainers and Medicare
    # never pays them; a plan that accepts them (domain-notes.md §6.2, one BCBS plan) replaces the
    # table in its overlay. A table replaces the parent's whole table (docs/overlays.md).
    from conftest import ROOT, payers_with
    from supportable.engine.policyset import load_policy_set
    payers = payers_with(tmp_path, {"bluevt": (
        "id: bluevt\nname: A plan accepting athletic trainers\nextends: commercial\n"
        "parameters:\n  therapy_providers:\n    description: constant-attendance services by these\n"
        "    source: {file: domain-notes.md, section: \"6.2 Commercial [BCBSVT-PT]\"}\n"
        "    table: {physical_therapist: allowed, physical_therapist_assistant: allowed, physician: allowed,\n"
        "            chiropractor: allowed, athletic_trainer: allowed}\n")})
    visit = make_encounter([L("97110", 20, 1)], provider={"type": "athletic_trainer"})
    plan = load_policy_set(ROOT / "policies", "bluevt", payers)
    assert verdicts(decide_for(plan, visit)) == ["supportable"]
    for payer in ("commercial", "medicare"):
        line = decide_for(load_policy_set(ROOT / "policies", payer, payers), visit).lines[0]
        assert "base.eligibility.provider_not_eligible" in reason_ids(line), payer
    # the plan's table lists no occupational therapist: its own table is the whole list
    ot = make_encounter([L("97110", 20, 1)], provider={"type": "occupational_therapist"})
    assert "base.eligibility.provider_not_eligible" in reason_ids(decide_for(plan, ot).lines[0])


def test_medicare_work_hardening_is_denied_unless_a_contractor_overlay_says_it_is_paid(tmp_path, policies):
    # the denial rests on grade-C sources (domain-notes.md §5.4), so it is a parameter a MAC's
    # overlay can turn off; the rule's own text states the grade
    from conftest import ROOT, payers_with
    from supportable.engine.policyset import load_policy_set
    visit = make_encounter([{"code": "97545", "minutes": 120, "units": 1, "intended_outcomes": ["work_conditioning"],
                             "documentation": ["work_related_goals"]}])
    line = decide_for(policies["medicare"], visit).lines[0]
    assert reason_ids(line) == ["medicare.codes.work_hardening_not_paid"] and "grade C" in line.reasons[0].message
    payers = payers_with(tmp_path, {"mac": "id: mac\nname: A MAC\nextends: medicare\nparameters:\n"
                                           "  medicare_work_hardening: {value: paid, description: d, source: domain-notes.md}\n"})
    paid = decide_for(load_policy_set(ROOT / "policies", "mac", payers), visit).lines[0]
    assert "medicare.codes.work_hardening_not_paid" not in reason_ids(paid) and paid.verdict == "supportable"
