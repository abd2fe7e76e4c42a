""""Minutes unknown" in the encounter format (issue 14): a line's `minutes` may be left out or null,
meaning the record does not show them (an X12 837 or a FHIR Claim carries units, not minutes).
A timed line then supports no unit and needs its minutes recorded (needs_documentation, never a
pass); so does every line whose units rest on those minutes (the same code's other lines; under
Medicare's total-time method every timed line of the visit); untimed codes are unaffected. Both
engines decide identically."""
import json

import pytest
from click.testing import CliRunner

from conftest import EXAMPLES, make_encounter
from supportable.cli import main
from supportable.engine.errors import InputError
from supportable.server import wire

ONE_MINUTES = "base.units.minutes_unknown"
SAME_CODE = "base.units.code_minutes_unknown"
TOTAL_TIME = "base.units.total_time.minutes_unknown"


def lines_of(policy, data, explain="full"):
    return {l["line"]: l for l in wire.decision(policy.decide(policy.parse(data), explain), explain)["lines"]}


def reason_ids(line):
    return [r["id"] for r in line["reasons"]]


@pytest.mark.parametrize("unknown", [None, "omitted"])
@pytest.mark.parametrize("payer", ["base", "commercial", "medicare", "aetna", "aetna_medicare"])
def test_a_timed_line_without_minutes_needs_them_and_supports_no_unit(policies, payer, unknown):
    data = make_encounter([("97110", 20, 2), ("97161", 30, 1)])
    if unknown is None:
        data["lines"][0]["minutes"] = None
    else:
        del data["lines"][0]["minutes"]
    line = lines_of(policies[payer], data)["1"]
    assert line["verdict"] == "needs_documentation"
    assert line["units"]["supportable"] == 0 and line["units"]["billed"] == 2
    assert line["units"]["minutes_recorded"] is False
    assert ONE_MINUTES in reason_ids(line)
    reason = next(r for r in line["reasons"] if r["id"] == ONE_MINUTES)
    assert reason["kind"] == "documentation" and reason["source"]["file"] == "domain-notes.md"
    assert "does not show line 1's minutes" in reason["message"]
    assert {"action": "add_documentation", "element": "minutes_recorded", "satisfies": ONE_MINUTES} in line["fixes"]
    assert "minutes_recorded" in line["missing_documentation"]
    # the proof shows the absent element, not a number of minutes
    statements = json.dumps(line["proof"]["derivations"])
    assert "minutes_recorded" in statements and "line_minutes" not in statements
    # the untimed evaluation on the same visit is decided as it would be with its minutes
    evaluation = lines_of(policies[payer], data)["2"]
    assert evaluation["verdict"] == "supportable" and evaluation["units"]["supportable"] == 1
    assert "minutes_recorded" not in evaluation["units"]


def test_existing_lines_keep_their_units_document_unchanged(policies):
    line = lines_of(policies["base"], make_encounter([("97110", 20, 1)]))["1"]
    assert line["verdict"] == "supportable" and line["units"] == {"billed": 1, "supportable": 1,
                                                                   "method": "cpt_per_code"}


def test_an_untimed_code_needs_no_minutes(policies):
    data = make_encounter([{"code": "97161", "units": 1}])
    for payer in ("base", "medicare"):
        line = lines_of(policies[payer], data)["1"]
        assert line["verdict"] == "supportable" and line["units"]["supportable"] == 1
        assert not {ONE_MINUTES, SAME_CODE, TOTAL_TIME} & set(reason_ids(line))
        assert line["units"]["minutes_recorded"] is False      # said, for information


def test_total_time_every_timed_line_waits_for_the_unknown_minutes(policies):
    """Medicare counts the visit's total timed minutes: one unknown line leaves every timed line
    without units; CPT's per-code rule (commercial) counts the other code on its own."""
    data = make_encounter([("97116", 22, 2), {"code": "97110", "units": 1}, {"code": "97161", "units": 1}],
                          payer="medicare")
    data["lines"][0]["documentation"] = ["gait_impairment"]
    medicare = lines_of(policies["medicare"], data)
    first = medicare["1"]
    assert first["verdict"] == "needs_documentation" and first["units"]["supportable"] == 0
    assert TOTAL_TIME in reason_ids(first) and ONE_MINUTES not in reason_ids(first)
    assert "minutes_recorded" not in first["units"]          # its own minutes are recorded
    assert {"action": "add_documentation", "element": "minutes_recorded", "line": "2",
            "satisfies": TOTAL_TIME} in first["fixes"]
    assert first["missing_documentation"] == []               # the element is line 2's, not this line's
    message = next(r["message"] for r in first["reasons"] if r["id"] == TOTAL_TIME)
    assert "line 2 (97110) does not show its minutes" in message
    assert medicare["2"]["verdict"] == "needs_documentation" and ONE_MINUTES in reason_ids(medicare["2"])
    assert medicare["3"]["verdict"] == "supportable"
    commercial = lines_of(policies["commercial"], data)
    assert commercial["1"]["verdict"] == "supportable" and commercial["1"]["units"]["supportable"] == 1
    assert TOTAL_TIME not in reason_ids(commercial["1"])
    assert commercial["2"]["verdict"] == "needs_documentation"


def test_the_same_code_on_another_line_waits_for_the_unknown_minutes(policies):
    data = make_encounter([("97110", 20, 1), {"code": "97110", "units": 1}])
    lines = lines_of(policies["commercial"], data)
    assert lines["1"]["verdict"] == "needs_documentation" and lines["1"]["units"]["supportable"] == 0
    assert SAME_CODE in reason_ids(lines["1"])
    assert lines["1"]["fixes"] == [{"action": "add_documentation", "element": "minutes_recorded", "line": "2",
                                    "satisfies": SAME_CODE}]
    assert lines["2"]["verdict"] == "needs_documentation" and reason_ids(lines["2"]) == [ONE_MINUTES]


def test_minutes_recorded_cannot_be_listed(policies):
    data = make_encounter([{"code": "97110", "units": 1, "documentation": ["minutes_recorded"]}])
    with pytest.raises(InputError) as caught:
        policies["base"].parse(data)
    [problem] = caught.value.problems
    assert (problem.path, problem.code) == ("lines[0].documentation[0]", "derived_element")
    assert "lines[].minutes" in problem.message


@pytest.mark.parametrize("bad", [-1, "20", 20.5, True])
def test_minutes_when_given_are_still_checked(policies, bad):
    data = make_encounter([("97110", bad, 1)])
    with pytest.raises(InputError) as caught:
        policies["base"].parse(data)
    assert [p.path for p in caught.value.problems] == ["lines[0].minutes"]


@pytest.mark.parametrize("payer", ["base", "medicare"])
def test_both_engines_decide_minutes_unknown_identically(payer):
    out = {}
    for engine in ("plan", "pydatalog"):
        result = CliRunner().invoke(main, ["check", str(EXAMPLES / "minutes_unknown.json"), "--payer", payer,
                                           "--explain", "--format", "json", "--engine", engine])
        assert result.exit_code == 0, result.output
        out[engine] = json.loads(result.output)
    assert out["plan"] == out["pydatalog"]
    verdicts = {l["line"]: l["verdict"] for l in out["plan"]["lines"]}
    assert verdicts["2"] == "needs_documentation" and verdicts["3"] == "supportable"


def test_the_text_says_the_minutes_are_not_recorded():
    result = CliRunner().invoke(main, ["check", str(EXAMPLES / "minutes_unknown.json")])
    assert result.exit_code == 0, result.output
    assert "Line 2: 97110 — NEEDS DOCUMENTATION (0 of 1 billed unit(s) supportable; minutes not recorded)" \
        in result.output
    assert "state line 2's `minutes` (`minutes_recorded`)" in result.output
