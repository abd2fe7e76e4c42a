"""X12 837P in (issue 14, docs/x12.md): the implementation guide's examples read with pyx12, each
claim and date of service an encounter decided under the payer its identifier maps to, what an 837
does not carry left unknown (minutes: needs documentation, never a pass) or taken from a sidecar,
and malformed interchanges refused with the position of each problem. Through the reader, the
command line and the real gunicorn server."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from serving import post, running_server
from supportable.cli import main
from supportable.server.payer_ids import PayerIdTableError, default_path, load_payer_ids, payer_for_id
from supportable.server.x12.reader import X12Error, read_837

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "x12"
EXAMPLES = ROOT / "examples" / "x12"


def cli(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["check", "--format-in", "x12", "--format", "json", *map(str, args)])
    return result.exit_code, json.loads(result.output)


def lines_of(result: dict) -> dict[str, dict]:
    return {l["line"]: l for l in result["decision"]["lines"]}


def reasons(line: dict) -> set[str]:
    return {r["id"] for r in line["reasons"]}


# --- reading the guide's examples --------------------------------------------------------------

def test_the_guides_commercial_example_reads_into_one_claim_of_four_lines_on_two_dates():
    [claim] = read_837((DATA / "tr3-commercial-health-insurance.837").read_text())
    assert (claim.claim_id, claim.payer_id, claim.billing_taxonomy) == ("26463774", "999996666", "203BF0100Y")
    assert [(l.number, l.code, l.quantity, l.unit_code, l.date, l.pointers) for l in claim.lines] == [
        ("1", "99213", "1", "UN", "2006-10-03", ["1"]), ("2", "87070", "1", "UN", "2006-10-03", ["1"]),
        ("3", "99214", "1", "UN", "2006-10-10", ["2"]), ("4", "86663", "1", "UN", "2006-10-10", ["2"])]
    assert [(q, c) for q, c, _ in claim.diagnoses] == [("BK", "0340"), ("BF", "V7389")]
    assert claim.at.segment == 29 and claim.lines[0].at.segment == 33 and claim.lines[0].at.segment_id == "SV1"


def test_the_guides_cob_example_names_the_rendering_provider_and_its_taxonomy():
    [claim] = read_837((DATA / "tr3-cob-billing-provider-to-payer-a.837").read_text())
    assert (claim.rendering_npi, claim.rendering_taxonomy) == ("1999996666", "204C00000X")
    assert [l.code for l in claim.lines] == ["99213", "90782", "J3301"]


def test_icd9_diagnoses_of_the_guides_examples_are_a_located_claim_error_not_a_crash():
    code, answer = cli(DATA / "tr3-chiropractic.837")
    assert code == 1 and answer["summary"] == {"claims": 1, "encounters": 1, "decided": 0, "failed": 1}
    [result] = answer["results"]
    assert (result["claim"], result["payer"], result["segment"]) == ("125WILL", "medicare", 21)
    assert result["error"]["type"] == "/problems/invalid-claim"
    [problem] = result["error"]["problems"]
    assert (problem["code"], problem["segment"], problem["segment_id"], problem["element"]) == \
        ("icd9_diagnosis", 26, "HI", "HI01-2")


# --- decisions through the command line ---------------------------------------------------------

def test_each_date_of_service_is_an_encounter_and_timed_lines_without_minutes_need_them():
    code, answer = cli(DATA / "therapy.837")
    assert code == 0 and answer["summary"] == {"claims": 1, "encounters": 2, "decided": 2, "failed": 0}
    first, second = answer["results"]
    assert [(r["claim"], r["date_of_service"], r["payer"]) for r in (first, second)] == \
        [("26463774", "2025-06-02", "commercial"), ("26463774", "2025-06-09", "commercial")]
    assert first["decision"]["encounter"] == "26463774/2025-06-02"
    lines = lines_of(first)
    assert set(lines) == {"1", "2"} and set(lines_of(second)) == {"3", "4"}
    exercise = lines["1"]
    assert exercise["verdict"] == "needs_documentation"
    assert exercise["units"] == {"billed": 2, "supportable": 0, "method": "cpt_per_code", "minutes_recorded": False}
    assert {"base.units.minutes_unknown", "base.documentation.procedure_missing_element",
            "base.choice.intended_outcome_not_stated"} <= reasons(exercise)
    assert {"minutes_recorded", "functional_goals", "intended_outcome"} <= set(exercise["missing_documentation"])
    # the service-based hot pack needs no minutes: supportable, 1 unit
    pack = lines_of(second)["4"]
    assert pack["verdict"] == "supportable" and pack["units"]["supportable"] == 1
    assert "base.units.minutes_unknown" not in reasons(pack)
    # nothing an 837 lacks is ever a pass
    assert not any(l["verdict"] == "supportable" for r in answer["results"] for l in r["decision"]["lines"]
                   if l["code"] != "97010")


def test_the_sidecar_supplies_minutes_documentation_and_outcomes():
    code, answer = cli(EXAMPLES / "therapy.837", "--sidecar", EXAMPLES / "therapy.sidecar.json")
    assert code == 0
    first, second = answer["results"]
    lines = lines_of(first)
    assert lines["1"]["verdict"] == "supportable" and lines["1"]["units"] == \
        {"billed": 2, "supportable": 2, "method": "cpt_per_code"}          # 30 minutes: 2 units, minutes known
    assert lines["2"]["verdict"] == "supportable" and lines["2"]["units"]["supportable"] == 1
    activity = lines_of(second)["3"]                # the sidecar gives its outcomes but not its minutes
    assert activity["verdict"] == "needs_documentation" and reasons(activity) == {"base.units.minutes_unknown"}
    assert activity["fixes"] == [{"action": "add_documentation", "element": "minutes_recorded",
                                  "satisfies": "base.units.minutes_unknown"}]


def test_the_chiropractic_claim_goes_to_medicare_by_its_payer_id():
    code, answer = cli(DATA / "chiropractic.837")
    [result] = answer["results"]
    assert code == 0 and (result["payer"], result["date_of_service"]) == ("medicare", "2025-02-15")
    [line] = result["decision"]["lines"]
    assert (line["code"], line["verdict"], line["units"]["supportable"]) == ("98940", "needs_documentation", 0)
    assert reasons(line) == {"base.chiropractic.regions_not_shown", "medicare.chiropractic.subluxation_not_shown"}
    assert "base.units.minutes_unknown" not in reasons(line)          # CMT is untimed
    assert result["decision"]["lines"][0]["missing_documentation"] == ["regions_treated", "subluxation_imaging"]


def test_payer_overrides_the_table_and_text_output_names_each_claim():
    result = CliRunner().invoke(main, ["check", "--format-in", "x12", str(DATA / "therapy.837"), "--payer", "base"])
    assert result.exit_code == 0, result.output
    assert "=== Claim 26463774 (CLM at segment 29), date of service 2025-06-02, payer base" in result.output
    assert "Line 1: 97110 — NEEDS DOCUMENTATION (0 of 2 billed unit(s) supportable; minutes not recorded)" \
        in result.output
    assert "Claims: 1; encounters: 2, 2 decided, 0 not checked." in result.output


def test_an_encounter_problem_is_located_at_its_segment(tmp_path):
    bad = tmp_path / "unknown-code.837"
    bad.write_text((DATA / "therapy.837").read_text().replace("SV1*HC:97140:GP", "SV1*HC:99213"))
    code, answer = cli(bad)
    assert code == 1 and answer["summary"]["decided"] == 1 and answer["summary"]["failed"] == 1
    failed = answer["results"][0]
    assert failed["error"]["type"] == "/problems/invalid-encounter"
    [problem] = failed["error"]["problems"]
    assert (problem["path"], problem["code"], problem["segment"], problem["segment_id"], problem["element"]) == \
        ("lines[1].code", "unknown_code", 36, "SV1", "SV101-02")


def test_a_sidecar_value_problem_names_the_sidecar_key(tmp_path):
    sidecar = tmp_path / "s.json"
    sidecar.write_text(json.dumps({"claims": {"26463774": {"lines": {"1": {"minutes": -5}}}}}))
    code, answer = cli(DATA / "therapy.837", "--sidecar", sidecar)
    [problem] = answer["results"][0]["error"]["problems"]
    assert code == 1 and problem["path"] == "lines[0].minutes" and problem["sidecar"] == "claims.26463774.lines.1.minutes"


@pytest.mark.parametrize("sidecar, where, kind", [
    ({"claims": {"NOPE": {}}}, "claims.NOPE", "unknown_claim"),
    ({"claims": {"26463774": {"lines": {"9": {"minutes": 5}}}}}, "claims.26463774.lines.9", "unknown_line"),
    ({"claims": {"26463774": {"lines": {"1": {"minute": 5}}}}}, "claims.26463774.lines.1.minute", "unknown_field"),
])
def test_a_sidecar_that_does_not_fit_the_837_is_refused(tmp_path, sidecar, where, kind):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(sidecar))
    code, answer = cli(DATA / "therapy.837", "--sidecar", path)
    assert code == 1 and answer["type"] == "/problems/invalid-sidecar"
    assert [(p["sidecar"], p["code"]) for p in answer["problems"]] == [(where, kind)]


# --- the payer table ---------------------------------------------------------------------------

def test_the_bundled_payer_table_maps_the_guides_payer_ids():
    table = load_payer_ids(default_path(ROOT / "payers"))
    assert payer_for_id(table, "C12345")[0] == "medicare" and payer_for_id(table, "999996666")[0] == "commercial"
    assert payer_for_id(table, "NOT-THERE") == (None, f"payer identifier `NOT-THERE` is not in the payer table "
                                                      f"{table.path}: add a row for it")


def test_an_unmapped_payer_id_is_an_error_for_that_claim_only(tmp_path):
    table = tmp_path / "ids.yaml"
    table.write_text('ids:\n  "C12345": {payer: medicare}\n')
    code, answer = cli(DATA / "therapy.837", "--payer-ids", table)
    [result] = answer["results"]
    assert code == 1 and result["payer"] is None and result["date_of_service"] is None
    [problem] = result["error"]["problems"]
    assert (problem["code"], problem["segment"], problem["segment_id"], problem["element"]) == \
        ("unmapped_payer", 21, "NM1", "NM109")
    assert "999996666" in problem["message"]


def test_a_broken_payer_table_is_reported_at_file_line_column(tmp_path):
    table = tmp_path / "ids.yaml"
    table.write_text('ids:\n  "C12345": {payer: Medicare Part B}\n')
    with pytest.raises(PayerIdTableError) as caught:
        load_payer_ids(table)
    [problem] = caught.value.problems
    assert (problem.code, problem.location.line, problem.location.column) == ("payer_table_format", 2, 21)   # the `payer` value
    code, answer = cli(DATA / "therapy.837", "--payer-ids", table)
    assert code == 4 and answer["problems"][0]["line"] == 2


# --- malformed interchanges ----------------------------------------------------------------------

MALFORMED = {
    "malformed-truncated.837": [(36, None, None, "isa_023"), (36, None, None, "gs_3"), (36, None, None, "st_2"),
                                (36, None, None, "unterminated_segment")],
    "malformed-bad-terminator.837": [(2, None, None, "isa_023"), (2, None, None, "unterminated_segment")],
    "malformed-missing-isa.837": [(1, None, None, "invalid_interchange")],
    "malformed-sv1-without-code.837": [(33, "SV1", "SV101-02", "element_1")],
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_interchange_is_refused_with_each_problem_at_its_segment(name):
    with pytest.raises(X12Error) as caught:
        read_837((DATA / name).read_text())
    assert [(p.segment, p.segment_id, p.element, p.code) for p in caught.value.problems] == MALFORMED[name]
    code, answer = cli(DATA / name)
    assert code == 1 and answer["type"] == "/problems/invalid-x12"
    assert [(p["segment"], p.get("segment_id"), p.get("element"), p["code"]) for p in answer["problems"]] == \
        MALFORMED[name]


def test_the_truncated_file_says_where_the_text_stops():
    with pytest.raises(X12Error) as caught:
        read_837((DATA / "malformed-truncated.837").read_text())
    last = caught.value.problems[-1]
    assert "`SV1*HC:971`" in last.message and "after segment 35" in last.message


# --- the real server -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("x12"), workers=1, threads=2) as (port, _):
        yield port


def test_the_server_decides_every_encounter_of_an_837(server):
    status, headers, body = post(server, "/v1/x12/837/check?explain=summary", (DATA / "therapy.837").read_bytes(),
                                 "application/edi-x12")
    assert status == 200, body
    answer = json.loads(body)
    assert answer["summary"] == {"claims": 1, "encounters": 2, "decided": 2, "failed": 0}
    first = answer["results"][0]
    assert first["decision"]["decision_id"] and first["decision"]["payer"] == "commercial"
    exercise = lines_of(first)["1"]
    assert exercise["verdict"] == "needs_documentation" and exercise["units"]["supportable"] == 0
    assert "base.units.minutes_unknown" in reasons(exercise)
    assert exercise["proof"]["verdict"] == "needs_documentation"
    assert "base.units.minutes_unknown" in exercise["proof"]["rules"]
    # the command line answers the same verdicts and units
    _, local = cli(DATA / "therapy.837")
    assert [[(l["verdict"], l["units"]) for l in r["decision"]["lines"]] for r in answer["results"]] == \
        [[(l["verdict"], l["units"]) for l in r["decision"]["lines"]] for r in local["results"]]


def test_the_server_takes_a_sidecar_in_a_json_body(server):
    body = json.dumps({"x12": (EXAMPLES / "therapy.837").read_text(),
                       "sidecar": json.loads((EXAMPLES / "therapy.sidecar.json").read_text())}).encode()
    status, _, raw = post(server, "/v1/x12/837/check", body, "application/json")
    assert status == 200, raw
    first = json.loads(raw)["results"][0]
    assert lines_of(first)["1"]["verdict"] == "supportable" and lines_of(first)["1"]["units"]["supportable"] == 2


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_the_server_answers_400_naming_each_segment(server, name):
    status, headers, body = post(server, "/v1/x12/837/check", (DATA / name).read_bytes(), "text/plain")
    assert status == 400 and headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["type"] == "/problems/invalid-x12"
    assert [(p["segment"], p.get("segment_id"), p.get("element"), p["code"]) for p in problem["problems"]] == \
        MALFORMED[name]


def test_the_server_refuses_other_media_types_and_bad_json_bodies(server):
    status, headers, body = post(server, "/v1/x12/837/check", b"<claim/>", "application/xml")
    assert status == 415 and json.loads(body)["type"] == "/problems/unsupported-media-type"
    status, headers, body = post(server, "/v1/x12/837/check", b'{"edi": "ISA"}', "application/json")
    assert status == 400 and json.loads(body)["problems"][0]["path"] == "x12"
    status, headers, body = post(server, "/v1/x12/837/check", b"\xff\xfe", "text/plain")
    assert status == 400 and json.loads(body)["problems"][0]["code"] == "not_utf8"


def test_a_payer_table_row_naming_no_overlay_is_that_claims_error_at_its_payer_segment(tmp_path):
    table = tmp_path / "ids.yaml"
    table.write_text('ids:\n  "999996666": {payer: nobody}\n')
    code, answer = cli(DATA / "therapy.837", "--payer-ids", table)
    assert code == 1 and answer["summary"]["failed"] == 2
    error = answer["results"][0]["error"]
    assert error["type"] == "/problems/unknown-payer" and "`nobody`" in error["detail"]


def test_the_x12_benchmark_runs(tmp_path):
    import os
    import subprocess
    import sys
    run = subprocess.run([sys.executable, "bench/bench_x12.py", "--repeat", "1"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert "1 claim(s), 2 encounter(s)" in run.stdout and "reproduce: " in run.stdout


def test_claims_of_two_payers_in_one_interchange_are_decided_or_refused_each_on_its_own(tmp_path):
    code, answer = cli(DATA / "two-transactions.837")
    assert code == 0 and answer["summary"] == {"claims": 2, "encounters": 3, "decided": 3, "failed": 0}
    assert [(r["claim"], r["payer"], r["segment"]) for r in answer["results"]] == \
        [("26463774", "commercial", 29), ("26463774", "commercial", 29), ("125WILL", "medicare", 64)]
    table = tmp_path / "ids.yaml"
    table.write_text('ids:\n  "999996666": {payer: commercial}\n')      # no row for the Medicare claim's C12345
    code, answer = cli(DATA / "two-transactions.837", "--payer-ids", table)
    assert code == 1 and answer["summary"] == {"claims": 2, "encounters": 3, "decided": 2, "failed": 1}
    therapy, _, chiropractic = answer["results"]
    assert lines_of(therapy)["1"]["verdict"] == "needs_documentation"
    [problem] = chiropractic["error"]["problems"]
    assert (problem["code"], problem["segment"], problem["segment_id"], problem["element"]) == \
        ("unmapped_payer", 63, "NM1", "NM109")
    assert "`C12345`" in problem["message"]
