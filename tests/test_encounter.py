"""Encounter validation (engine.encounter) and encounter facts (engine.facts).

Expected paths and problem sets follow docs/encounter.md ("How errors are reported").
"""
from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import pytest

from supportable.engine.encounter import parse_encounter
from supportable.engine.errors import InputError
from supportable.engine.facts import INPUT_PREDICATES, encounter_facts
from supportable.engine.policyset import load_policy_set
from supportable.server import wire

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "encounters"


@pytest.fixture(scope="module")
def vocab():
    return load_policy_set(ROOT / "policies").vocabulary


def minimal() -> dict:
    return {
        "id": "enc-1",
        "date_of_service": "2025-07-08",
        "provider": {"type": "physical_therapist"},
        "diagnoses": ["M54.50"],
        "patient": {"id": "pt-1", "condition_status": "improving"},
        "lines": [{"id": "1", "code": "97110", "minutes": 20, "units": 1}],
    }


def problems(data, vocab):
    with pytest.raises(InputError) as info:
        parse_encounter(data, vocab)
    return info.value.problems


def only(found):
    assert len(found) == 1, wire.problem_items(found)
    return found[0]


def pairs(found):
    return sorted((p.path, p.code) for p in found)


def edited(**changes):
    """minimal() with dotted-path changes applied, e.g. edited(**{"lines.0.code": "X"})."""
    data = minimal()
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        elif value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return data


_DELETE = object()


# --- Valid documents ----------------------------------------------------------------------------

def test_minimal_encounter_parses_with_defaults(vocab):
    enc = parse_encounter(minimal(), vocab)
    line = enc.lines[0]
    assert (line.id, line.code, line.minutes, line.units) == ("1", "97110", 20, 1)
    assert line.one_on_one is True
    assert line.patients_in_session == 1
    assert line.modifiers == [] and line.documentation == [] and line.intended_outcomes == []
    assert line.region is None and line.time_block is None
    assert enc.documentation == [] and enc.plan_of_care is None
    assert enc.patient.history == []
    assert (enc.patient.year_to_date.pt_slp, enc.patient.year_to_date.ot) == (0, 0)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_bundled_examples_parse_cleanly(path, vocab):
    data = json.loads(path.read_text(encoding="utf-8"))
    enc = parse_encounter(data, vocab)
    assert enc.id == data["id"]
    assert [line.id for line in enc.lines] == [line["id"] for line in data["lines"]]


def test_there_are_bundled_examples():
    assert len(list(EXAMPLES.glob("*.json"))) >= 5


# --- bad_fields.json ----------------------------------------------------------------------------

BAD_FIELDS = EXAMPLES / "invalid" / "bad_fields.json"


def test_bad_fields_reports_every_problem_at_once(vocab):
    found = problems(json.loads(BAD_FIELDS.read_text()), vocab)
    # docs/encounter.md lists exactly these six
    assert pairs(found) == sorted([
        ("date_of_service", "invalid_value"),
        ("documentation[1]", "unknown_documentation"),
        ("lines[0].minutes", "invalid_value"),
        ("lines[1].code", "unknown_code"),
        ("lines[2].code", "missing_field"),
        ("lines[3].code", "missing_field"),
    ])


def test_bad_fields_structural_problems(vocab):
    found = problems(json.loads(BAD_FIELDS.read_text()), vocab)
    assert {("date_of_service", "invalid_value"), ("lines[0].minutes", "invalid_value"),
            ("lines[2].code", "missing_field"), ("lines[3].code", "missing_field")} <= set(pairs(found))


def test_vocabulary_problems_are_reported_with_structural_ones(vocab):
    data = edited(**{"lines.0.minutes": -1, "lines.0.code": "99999"})
    assert pairs(problems(data, vocab)) == [("lines[0].code", "unknown_code"),
                                            ("lines[0].minutes", "invalid_value")]


# --- Vocabulary ---------------------------------------------------------------------------------

def test_unknown_code(vocab):
    p = only(problems(edited(**{"lines.0.code": "99999"}), vocab))
    assert (p.path, p.code) == ("lines[0].code", "unknown_code")
    assert p.message == "unknown code `99999`"


def test_unknown_line_documentation_element(vocab):
    data = edited(**{"lines.0.documentation": ["time_recorded", "bogus"]})
    p = only(problems(data, vocab))
    assert (p.path, p.code) == ("lines[0].documentation[1]", "unknown_documentation")
    assert "`bogus`" in p.message


def test_unknown_visit_documentation_element(vocab):
    data = edited(documentation=["functional_goals", "goals"])
    p = only(problems(data, vocab))
    assert (p.path, p.code) == ("documentation[1]", "unknown_documentation")


def test_unknown_modifier(vocab):
    data = edited(**{"lines.0.modifiers": ["GP", "ZZ"]})
    p = only(problems(data, vocab))
    assert (p.path, p.code) == ("lines[0].modifiers[1]", "unknown_modifier")
    assert "`ZZ`" in p.message


def test_unknown_provider_type(vocab):
    p = only(problems(edited(**{"provider.type": "wizard"}), vocab))
    assert (p.path, p.code) == ("provider.type", "unknown_provider_type")
    assert "`wizard`" in p.message


def test_who_furnished_and_who_bills_are_checked_against_the_vocabularies(vocab):
    data = edited(**{"provider.credentials": ["acupuncture_license", "black_belt"], "provider.supervised_by": "wizard",
                     "lines.0.furnished_by": "apprentice"})
    data["billing_provider"] = {"type": "clinic"}
    assert pairs(problems(data, vocab)) == [
        ("billing_provider.type", "unknown_provider_type"),
        ("lines[0].furnished_by", "unknown_provider_type"),
        ("provider.credentials[1]", "unknown_credential"),
        ("provider.supervised_by", "unknown_provider_type"),
    ]
    good = edited(**{"provider.credentials": ["acupuncture_degree", "acupuncture_license"],
                     "provider.supervised_by": "physician", "lines.0.furnished_by": "physical_therapist_assistant"})
    good["billing_provider"] = {"type": "physician", "npi": "1234567893"}
    enc = parse_encounter(good, vocab)
    assert enc.billing_provider.type == "physician" and enc.lines[0].furnished_by == "physical_therapist_assistant"
    assert problems(edited(billing_provider={"type": "physician", "tax_id": "x"}), vocab)[0].path == \
        "billing_provider.tax_id"


def test_unknown_certifying_provider_type(vocab):
    data = edited(plan_of_care={"certified_by": "wizard", "start_of_care": "2025-07-01"})
    p = only(problems(data, vocab))
    assert (p.path, p.code) == ("plan_of_care.certified_by", "unknown_provider_type")


def test_unknown_region_and_outcome(vocab):
    data = edited(**{"lines.0.region": "nowhere", "lines.0.intended_outcomes": ["strength", "strenght"]})
    assert pairs(problems(data, vocab)) == [("lines[0].intended_outcomes[1]", "unknown_outcome"),
                                            ("lines[0].region", "unknown_region")]


def test_regions_and_time_blocks_are_lists(vocab):
    data = edited(**{"lines.0.regions": ["cervical", "thoracic"], "lines.0.time_blocks": ["A", "C"]})
    line = parse_encounter(data, vocab).lines[0]
    assert (line.all_regions, line.all_time_blocks) == (["cervical", "thoracic"], ["A", "C"])
    facts = {(name, args) for name, args in encounter_facts(parse_encounter(data, vocab))}
    assert {("line_region", ("1", "cervical")), ("line_region", ("1", "thoracic")),
            ("time_block", ("1", "A")), ("time_block", ("1", "C"))} <= facts
    # the single forms still work, as one-element lists
    single = parse_encounter(edited(**{"lines.0.region": "lumbar", "lines.0.time_block": "B"}), vocab).lines[0]
    assert (single.all_regions, single.all_time_blocks) == (["lumbar"], ["B"])


def test_region_lists_are_checked_like_the_single_form(vocab):
    data = edited(**{"lines.0.regions": ["cervical", "neck"]})
    assert pairs(problems(data, vocab)) == [("lines[0].regions[1]", "unknown_region")]
    data = edited(**{"lines.0.regions": ["cervical", "cervical"], "lines.0.region": "lumbar",
                     "lines.0.time_blocks": ["A", "A"], "lines.0.time_block": "B"})
    assert sorted(pairs(problems(data, vocab))) == [
        ("lines[0].regions", "conflicting_fields"), ("lines[0].regions[1]", "duplicate_value"),
        ("lines[0].time_blocks", "conflicting_fields"), ("lines[0].time_blocks[1]", "duplicate_value")]
    data = edited(**{"lines.0.time_blocks": [""]})
    assert pairs(problems(data, vocab)) == [("lines[0].time_blocks[0]", "invalid_value")]


def test_unknown_code_in_history(vocab):
    data = edited(**{"patient.history": [{"date": "2025-07-01", "codes": ["97110", "99999"]}]})
    p = only(problems(data, vocab))
    assert (p.path, p.code) == ("patient.history[0].codes[1]", "unknown_code")


def test_several_vocabulary_problems_at_once(vocab):
    data = minimal()
    data["provider"]["type"] = "wizard"
    data["documentation"] = ["nope"]
    data["lines"].append({"id": "2", "code": "00000", "minutes": 10, "units": 1, "modifiers": ["QQ"]})
    assert pairs(problems(data, vocab)) == [
        ("documentation[0]", "unknown_documentation"),
        ("lines[1].code", "unknown_code"),
        ("lines[1].modifiers[0]", "unknown_modifier"),
        ("provider.type", "unknown_provider_type"),
    ]


def test_diagnosis_outside_the_vocabulary_is_accepted(vocab):
    # docs/encounter.md: a well-formed code absent from diagnoses.yaml is not an error
    enc = parse_encounter(edited(diagnoses=["M54.50", "Z99.89"]), vocab)
    assert enc.diagnoses == ["M54.50", "Z99.89"]


# --- Types, ranges, required and unknown fields -------------------------------------------------

def test_wrong_type_minutes(vocab):
    p = only(problems(edited(**{"lines.0.minutes": "ten"}), vocab))
    assert (p.path, p.code) == ("lines[0].minutes", "invalid_value")


def test_fractional_minutes(vocab):
    p = only(problems(edited(**{"lines.0.minutes": 10.5}), vocab))
    assert (p.path, p.code) == ("lines[0].minutes", "invalid_value")


def test_boolean_minutes_is_the_wrong_type(vocab):
    p = only(problems(edited(**{"lines.0.minutes": True}), vocab))
    assert (p.path, p.code) == ("lines[0].minutes", "invalid_value")


def test_code_written_as_a_number_is_the_wrong_type(vocab):
    p = only(problems(edited(**{"lines.0.code": 97110}), vocab))
    assert (p.path, p.code) == ("lines[0].code", "invalid_value")


def test_documentation_not_a_list(vocab):
    p = only(problems(edited(**{"lines.0.documentation": "time_recorded"}), vocab))
    assert (p.path, p.code) == ("lines[0].documentation", "invalid_value")


def test_negative_minutes(vocab):
    p = only(problems(edited(**{"lines.0.minutes": -5}), vocab))
    assert (p.path, p.code) == ("lines[0].minutes", "invalid_value")


def test_negative_year_to_date_amount(vocab):
    p = only(problems(edited(**{"patient.year_to_date": {"pt_slp": -1}}), vocab))
    assert (p.path, p.code) == ("patient.year_to_date.pt_slp", "invalid_value")


def test_zero_units_is_out_of_range(vocab):
    # docs/encounter.md: units is an integer >= 1
    p = only(problems(edited(**{"lines.0.units": 0}), vocab))
    assert (p.path, p.code) == ("lines[0].units", "invalid_value")


def test_huge_year_to_date_amount_does_not_break_facts(vocab):
    data = edited(**{"patient.year_to_date": {"pt_slp": 1e308}})
    try:
        enc = parse_encounter(data, vocab)
    except InputError as exc:
        assert [(p.path, p.code) for p in exc.problems] == [("patient.year_to_date.pt_slp", "invalid_value")]
    else:
        facts = encounter_facts(enc)  # must not raise
        assert any(name == "ytd_amount" and args[0] == "pt_slp" for name, args in facts)


def test_missing_required_line_field(vocab):
    data = minimal()
    del data["lines"][0]["code"]
    p = only(problems(data, vocab))
    assert (p.path, p.code) == ("lines[0].code", "missing_field")


@pytest.mark.parametrize("field", ["id", "date_of_service", "provider", "patient", "lines"])
def test_missing_required_top_level_field(vocab, field):
    data = minimal()
    del data[field]
    p = only(problems(data, vocab))
    assert (p.path, p.code) == (field, "missing_field")


def test_missing_provider_type(vocab):
    p = only(problems(edited(provider={}), vocab))
    assert (p.path, p.code) == ("provider.type", "missing_field")


def test_unknown_line_field(vocab):
    # the typo docs/encounter.md mentions: `modifier` for `modifiers`
    p = only(problems(edited(**{"lines.0.modifier": ["GP"]}), vocab))
    assert (p.path, p.code) == ("lines[0].modifier", "unknown_field")
    assert p.message == "unknown field"


def test_unknown_top_level_and_nested_fields(vocab):
    data = minimal()
    data["colour"] = "red"
    data["patient"]["year_to_date"] = {"pt": 10}
    assert pairs(problems(data, vocab)) == [("colour", "unknown_field"),
                                            ("patient.year_to_date.pt", "unknown_field")]


@pytest.mark.parametrize("value", ["2025-02-30", "2025-13-01", "07/08/2025", "2025-7-8", ""])
def test_bad_iso_date(vocab, value):
    p = only(problems(edited(date_of_service=value), vocab))
    assert (p.path, p.code) == ("date_of_service", "invalid_value")


def test_bad_date_in_history(vocab):
    data = edited(**{"patient.history": [{"date": "2025-06-31", "codes": []}]})
    p = only(problems(data, vocab))
    assert (p.path, p.code) == ("patient.history[0].date", "invalid_value")


@pytest.mark.parametrize("code", ["m54.50", "12345", "M54.", "M5", "M54.12345", "M54-50", "M54.50 x"])
def test_bad_icd10_format(vocab, code):
    p = only(problems(edited(diagnoses=["M54.50", code]), vocab))
    assert p.path.startswith("diagnoses") and p.code == "invalid_value"
    assert code in p.message and "M54.50," not in p.message


@pytest.mark.parametrize("code", ["M54.50", "M54.2", "S13.4XXA", "M48.061", "I69.354"])
def test_good_icd10_format(vocab, code):
    assert parse_encounter(edited(diagnoses=[code]), vocab).diagnoses == [code]


def test_bad_icd10_format_is_located_at_the_item(vocab):
    # docs/encounter.md: array items are named by position (`documentation[1]`), as modifiers,
    # documentation elements and outcomes already are
    p = only(problems(edited(diagnoses=["M54.50", "bad"]), vocab))
    assert (p.path, p.code) == ("diagnoses[1]", "invalid_value")


def test_duplicate_line_ids(vocab):
    data = minimal()
    data["lines"].append({"id": "1", "code": "97140", "minutes": 10, "units": 1})
    data["lines"].append({"id": "1", "code": "97530", "minutes": 10, "units": 1})
    found = problems(data, vocab)
    assert pairs(found) == [("lines[1].id", "duplicate_line_id"), ("lines[2].id", "duplicate_line_id")]
    assert found[0].message == "line id `1` is used twice"


def test_no_lines(vocab):
    p = only(problems(edited(lines=[]), vocab))
    assert (p.path, p.code) == ("lines", "invalid_value")


def test_empty_line_id(vocab):
    p = only(problems(edited(**{"lines.0.id": ""}), vocab))
    assert (p.path, p.code) == ("lines[0].id", "invalid_value")


@pytest.mark.parametrize("document", [[], [minimal()], "encounter", None, 3, 2.5, True])
def test_non_object_document(vocab, document):
    p = only(problems(document, vocab))
    assert (p.path, p.code) == ("", "invalid_type")
    assert str(p) == "(document): an encounter is a JSON object"


def test_input_error_message_lists_each_problem(vocab):
    data = edited(**{"lines.0.minutes": "ten", "provider.type": 5})
    with pytest.raises(InputError) as info:
        parse_encounter(data, vocab)
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert any(line.startswith("lines[0].minutes: ") for line in lines)
    assert any(line.startswith("provider.type: ") for line in lines)


# --- docs/encounter.md conformance --------------------------------------------------------------

def test_diagnoses_and_condition_status_are_optional(vocab):
    data = minimal()
    del data["diagnoses"]
    del data["patient"]["condition_status"]
    enc = parse_encounter(data, vocab)
    assert enc.diagnoses == [] and enc.patient.condition_status is None


@pytest.mark.parametrize("status", ["improving", "plateau", "regressing"])
def test_documented_condition_statuses_are_accepted(vocab, status):
    enc = parse_encounter(edited(**{"patient.condition_status": status}), vocab)
    assert enc.patient.condition_status == status


def test_unknown_condition_status(vocab):
    p = only(problems(edited(**{"patient.condition_status": "great"}), vocab))
    assert (p.path, p.code) == ("patient.condition_status", "invalid_value")


@pytest.mark.parametrize("field", ["certified_by", "start_of_care"])
def test_plan_of_care_required_fields(vocab, field):
    poc = {"certified_by": "physician", "certified_on": "2025-07-01", "start_of_care": "2025-07-01"}
    del poc[field]
    p = only(problems(edited(plan_of_care=poc), vocab))
    assert (p.path, p.code) == (f"plan_of_care.{field}", "missing_field")


def test_history_codes_are_required(vocab):
    p = only(problems(edited(**{"patient.history": [{"date": "2025-07-01"}]}), vocab))
    assert (p.path, p.code) == ("patient.history[0].codes", "missing_field")


def test_history_date_must_be_before_date_of_service(vocab):
    data = edited(**{"patient.history": [{"date": "2025-07-09", "codes": ["97110"]}]})
    p = only(problems(data, vocab))
    assert (p.path, p.code) == ("patient.history[0].date", "invalid_value")


def test_modifier_repeated_on_a_line(vocab):
    p = only(problems(edited(**{"lines.0.modifiers": ["GP", "GP"]}), vocab))
    assert p.path == "lines[0].modifiers[1]"
    assert p.code in ("invalid_value", "duplicate_modifier")


# --- Facts --------------------------------------------------------------------------------------

def small_encounter() -> dict:
    return {
        "id": "enc-f",
        "date_of_service": "2025-03-14",
        "provider": {"type": "physical_therapist"},
        "diagnoses": ["I69.354", "R26.89"],
        "documentation": ["functional_goals", "time_recorded", "functional_goals"],
        "plan_of_care": {"certified_by": "physician", "certified_on": "2025-03-01",
                         "start_of_care": "2025-02-24"},
        "patient": {
            "id": "pt-f",
            "condition_status": "improving",
            "history": [{"date": "2025-03-10", "codes": ["97110", "97116"]},
                        {"date": "2024-12-31", "codes": []}],
            "year_to_date": {"pt_slp": 840.5, "ot": 12.34},
        },
        "lines": [
            {"id": "1", "code": "97116", "minutes": 22, "units": 1, "modifiers": ["GP", "GP"],
             "time_block": "A", "region": "lower_extremity", "intended_outcomes": ["gait", "gait"],
             "documentation": ["gait_impairment", "time_recorded"]},
            {"id": "2", "code": "97150", "minutes": 30, "units": 1, "one_on_one": False,
             "patients_in_session": 3},
        ],
    }


def _facts(data, vocab):
    data = copy.deepcopy(data)
    data["lines"][0]["modifiers"] = ["GP"]  # keep the document valid whatever is decided on repeats
    return encounter_facts(parse_encounter(data, vocab))


def test_encounter_facts(vocab):
    facts = _facts(small_encounter(), vocab)
    assert Counter(facts) == Counter([
        ("date_of_service", ("2025-03-14",)),
        ("provider", ("physical_therapist",)),
        ("billing_provider", ("physical_therapist",)),      # no billing_provider: the provider bills
        ("diagnosis", ("I69.354", 1)),
        ("diagnosis", ("R26.89", 2)),
        ("primary_diagnosis", ("I69.354",)),
        ("condition_status", ("improving",)),
        ("poc_certified_by", ("physician",)),
        ("poc_certified_on", ("2025-03-01",)),
        ("start_of_care", ("2025-02-24",)),
        ("prior_visit", ("2025-03-10", 4)),
        ("prior_visit_code", ("2025-03-10", "97110")),
        ("prior_visit_code", ("2025-03-10", "97116")),
        ("prior_visit", ("2024-12-31", 73)),
        ("ytd_amount", ("pt_slp", 84050)),
        ("ytd_amount", ("ot", 1234)),
        ("line", ("1",)),
        ("line_position", ("1", 1)),
        ("line_code", ("1", "97116")),
        ("line_minutes", ("1", 22)),
        ("billed_units", ("1", 1)),
        ("patients_in_session", ("1", 1)),
        ("line_provider", ("1", "physical_therapist")),     # no furnished_by: the visit's provider
        ("one_on_one", ("1",)),
        ("has_modifier", ("1", "GP")),
        ("time_block", ("1", "A")),
        ("line_region", ("1", "lower_extremity")),
        ("intended_outcome", ("1", "gait")),
        ("documented", ("1", "functional_goals")),
        ("documented", ("1", "time_recorded")),
        ("documented", ("1", "gait_impairment")),
        ("documented", ("1", "intended_outcome")),          # follows from its intended_outcomes
        ("documented", ("1", "minutes_recorded")),          # follows from its minutes
        ("line", ("2",)),
        ("line_position", ("2", 2)),
        ("line_code", ("2", "97150")),
        ("line_minutes", ("2", 30)),
        ("billed_units", ("2", 1)),
        ("patients_in_session", ("2", 3)),
        ("line_provider", ("2", "physical_therapist")),
        ("documented", ("2", "functional_goals")),
        ("documented", ("2", "time_recorded")),
        ("documented", ("2", "minutes_recorded")),
    ])


def test_a_line_without_minutes_has_no_minutes_facts(vocab):
    data = small_encounter()
    data["lines"][1]["minutes"] = None
    del data["lines"][0]["minutes"]
    facts = _facts(data, vocab)
    assert not [args for name, args in facts if name == "line_minutes"]
    assert not [args for name, args in facts if name == "documented" and args[1] == "minutes_recorded"]
    assert ("billed_units", ("2", 1)) in facts and ("documented", ("2", "time_recorded")) in facts


def test_line_documentation_adds_to_visit_documentation(vocab):
    facts = _facts(small_encounter(), vocab)
    by_line = {}
    for name, args in facts:
        if name == "documented":
            by_line.setdefault(args[0], []).append(args[1])
    assert by_line == {"1": ["functional_goals", "time_recorded", "gait_impairment", "intended_outcome",
                             "minutes_recorded"],
                       "2": ["functional_goals", "time_recorded", "minutes_recorded"]}


def test_prior_visit_days_before(vocab):
    data = small_encounter()
    data["date_of_service"] = "2025-03-01"  # across the end of February
    data["patient"]["history"] = [{"date": "2025-02-27", "codes": []}, {"date": "2024-03-01", "codes": []}]
    data["plan_of_care"]["certified_on"] = "2025-02-24"
    facts = _facts(data, vocab)
    assert sorted(args for name, args in facts if name == "prior_visit") == [("2024-03-01", 365),
                                                                             ("2025-02-27", 2)]


def test_year_to_date_amounts_are_whole_cents(vocab):
    data = small_encounter()
    data["patient"]["year_to_date"] = {"pt_slp": 2410.1}
    facts = _facts(data, vocab)
    ytd = sorted(args for name, args in facts if name == "ytd_amount")
    assert ytd == [("ot", 0), ("pt_slp", 241010)]
    assert all(type(cents) is int for _, cents in ytd)


def test_facts_of_minimal_encounter_have_no_optional_predicates(vocab):
    facts = encounter_facts(parse_encounter(minimal(), vocab))
    names = {name for name, _ in facts}
    assert not names & {"poc_certified_by", "poc_certified_on", "start_of_care", "prior_visit",
                        "prior_visit_code", "time_block", "line_region", "intended_outcome",
                        "has_modifier"}
    # the one documentation fact a minimal line has is the element its minutes give
    assert [args for name, args in facts if name == "documented"] == [("1", "minutes_recorded")]
    assert ("one_on_one", ("1",)) in facts


def test_facts_use_declared_predicates_with_their_arity(vocab):
    facts = _facts(small_encounter(), vocab)
    for name, args in facts:
        assert f"{name}/{len(args)}" in INPUT_PREDICATES, name


def test_plan_of_care_dates_must_fall_between_the_start_of_care_and_the_visit(vocab):
    data = edited(plan_of_care={"certified_by": "physician", "start_of_care": "2025-02-24",
                                "recertified_on": "2026-01-01", "last_progress_report_on": "2025-01-01"})
    assert pairs(problems(data, vocab)) == [("plan_of_care.last_progress_report_on", "invalid_value"),
                                            ("plan_of_care.recertified_on", "invalid_value")]
