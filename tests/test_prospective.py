"""What a payer will require for a code before the visit (engine/prospective.py), read from the
rules explain_code lists: documentation elements, prior authorization, modifiers, limits and
exclusions, with the payer's parameters and the date of service ruling rules out."""
from __future__ import annotations

from datetime import date

import pytest

from conftest import ROOT, payers_with
from supportable.engine import InputError, load_policy_set, prospective_requirements, services_in_window

ON = date(2025, 6, 2)


def by_rule(found) -> dict:
    return {r.use.rule.id: r for r in found.requirements}


def test_documentation_every_line_needs(policies):
    found = prospective_requirements(policies["aetna"], "97112", ON)
    rules = by_rule(found)
    assert rules["base.documentation.nmr_needs_neuro_deficit"].kind == "documentation"
    assert rules["base.documentation.procedure_missing_element"].elements == [
        "functional_goals", "goal_linkage", "objective_findings", "progress_toward_goals", "skilled_intervention"]
    assert {"neuro_deficit", "time_recorded", "functional_goals"} <= set(found.documentation)
    # a requirement of circumstances (a group the same day) is not asked of every line
    assert not rules["base.group.one_on_one_apart_from_group_not_shown"].always
    assert "separate_time_block" not in found.documentation
    # 97110 is no NMR: its documentation has no neurological deficit
    assert "neuro_deficit" not in prospective_requirements(policies["aetna"], "97110", ON).documentation


def test_alternatives_are_not_each_required(policies):
    found = prospective_requirements(policies["medicare"], "97110", ON)
    either = by_rule(found)["medicare.documentation.progress_or_skilled_maintenance"]
    assert either.any_of and set(either.elements) == {"progress_toward_goals", "skilled_maintenance"}
    assert "skilled_maintenance" not in found.documentation


def test_modifiers(policies):
    rules = by_rule(prospective_requirements(policies["medicare"], "97110", ON))
    discipline = rules["medicare.modifiers.discipline_required"]
    assert discipline.kind == "modifier" and discipline.always and discipline.elements == ["GN", "GO", "GP"]
    assistant = rules["medicare.modifiers.assistant_required"]
    assert not assistant.always and set(assistant.elements) == {"CQ", "CO"}
    assert any("physical_therapist_assistant" in t and "CQ" in t for t in assistant.texts)
    assert "medicare.modifiers.discipline_required" not in by_rule(prospective_requirements(policies["aetna"], "97110", ON))


def test_prior_authorization_follows_the_payers_switch(policies, tmp_path):
    rules = by_rule(prospective_requirements(policies["aetna_medicare"], "97110", ON))
    assert "aetna_medicare.authorization.required" not in rules          # not_required: the rule cannot apply
    assert rules["aetna_medicare.authorization.may_be_required"].kind == "prior_authorization_possible"
    folder = payers_with(tmp_path, {"pa": "id: pa\nname: PA plan\nextends: aetna_medicare\ndescription: x\n"
                                          "parameters:\n  prior_authorization:\n    value: required\n"
                                          "    description: on\n    source: {file: domain-notes.md, section: T2}\n"})
    switched = load_policy_set(ROOT / "policies", "pa", payers_dir=folder)
    rules = by_rule(prospective_requirements(switched, "97110", ON))
    assert rules["aetna_medicare.authorization.required"].kind == "prior_authorization"
    assert "aetna_medicare.authorization.may_be_required" not in rules


def test_limits_and_their_dates(policies):
    cap = by_rule(prospective_requirements(policies["aetna"], "97112", ON))["aetna.nmr.visit_cap"]
    assert cap.kind == "limit" and (cap.cap, cap.window_days) == (18, 42)
    later = by_rule(prospective_requirements(policies["aetna"], "97112", date(2025, 11, 3)))
    assert "aetna.nmr.visit_cap" not in later              # the revision removed the norm (in force to 2025-10-29)
    assert "aetna.nmr.needs_neurologic_diagnosis" not in later


def test_exclusions(policies):
    plateau = by_rule(prospective_requirements(policies["aetna"], "97110", ON))["aetna.necessity.plateau"]
    assert plateau.kind == "exclusion" and plateau.when == ["plateau"]
    assert "aetna.necessity.plateau" not in by_rule(prospective_requirements(policies["medicare"], "97110", ON))


def test_unknown_code(policies):
    with pytest.raises(InputError):
        prospective_requirements(policies["base"], "77065", ON)


def test_services_in_window():
    history = [(date(2025, 5, 1), "97112"), (date(2025, 4, 1), "97112"), (date(2025, 5, 20), "97110"),
               (date(2025, 6, 2), "97112")]
    assert services_in_window(history, "97112", ON, 42) == 1
    assert services_in_window(history, "97112", ON, 90) == 2


def test_the_provider_type_judges_the_rules_that_read_it(policies):
    def kinds(provider):
        found = prospective_requirements(policies["medicare"], "97110", ON, provider)
        return {r.use.rule.id: (r.kind, r.elements, r.always) for r in found.requirements}
    assistant = kinds("physical_therapist_assistant")
    assert assistant["medicare.modifiers.assistant_required"] == ("modifier", ["CQ"], True)
    assert "base.eligibility.provider_not_eligible" not in assistant
    therapist = kinds("physical_therapist")
    assert "medicare.modifiers.assistant_required" not in therapist
    assert "base.eligibility.provider_not_eligible" not in therapist
    assert kinds("chiropractor")["base.eligibility.provider_not_eligible"][0] == "ineligible"
    assert kinds(None)["base.eligibility.provider_not_eligible"] == ("condition", [], False)
