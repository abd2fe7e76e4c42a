"""The FHIR R4 front door (issue 14, part 1; docs/fhir.md): a Claim in, a ClaimResponse out, an
OperationOutcome with FHIRPath locations for bad input. Every resource produced is validated with
fhir.resources' R4B models; decisions are compared with the native decision of the same encounter;
the real gunicorn server and the command line are exercised."""
from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome

from conftest import EXAMPLES, ROOT, make_encounter
from fhir_claims import claim_of
from serving import post, running_server
from supportable.engine import load_policy_set
from supportable.server import wire
from supportable.server.app import create_app
from supportable.server.registry import Registry
from supportable.server.settings import Settings
from supportable.server.wire import fhir
from supportable.server.wire.fhir import systems as s

SPEC = ROOT / "tests" / "data" / "fhir" / "spec"
EXAMPLE_CLAIM = ROOT / "examples" / "fhir" / "medicare_8_minute_rule.claim.json"
ENCOUNTERS = sorted(p for p in EXAMPLES.glob("*.json"))
FHIR = "application/fhir+json"


@pytest.fixture(scope="module")
def registry():
    return Registry.load(Settings.from_env({}).policies, None, None)


@pytest.fixture(scope="module")
def client(registry, tmp_path_factory):
    log = tmp_path_factory.mktemp("fhir") / "decisions.jsonl"
    settings = Settings.from_env({}, tune_gc=False, reload_interval=0, decision_log=log, snapshot="")
    return create_app(settings, registry).test_client()


@pytest.fixture(scope="module")
def native():
    cache = {}

    def decide(enc: dict) -> dict:
        payer = enc.get("payer", "base")
        policy = cache.setdefault(payer, load_policy_set(ROOT / "policies", payer))
        return wire.decision(policy.decide(policy.read_encounter(enc), "summary"), "summary")
    return decide


def check(client, claim, query: str = ""):
    answer = client.post(f"/fhir/Claim/$check{query}", data=json.dumps(claim), content_type=FHIR)
    assert answer.mimetype == FHIR, answer.get_data(as_text=True)[:300]
    return answer.status_code, json.loads(answer.get_data())


def outcome_issues(body: dict) -> list[tuple[str, str]]:
    OperationOutcome.model_validate(body)
    return [(i.get("expression", [""])[0], i["details"]["coding"][0]["code"]) for i in body["issue"]]


def adjudications(item: dict) -> dict:
    out: dict = {"reasons": []}
    for a in item["adjudication"]:
        code = a["category"]["coding"][0]["code"]
        if code == s.ADJ_REASON:
            out["reasons"].append(a["reason"]["coding"][0]["code"])
        else:
            out[code] = a.get("value")
    return out


# -- decisions: the ClaimResponse says what the native decision says --------------------------------

@pytest.mark.parametrize("path", ENCOUNTERS, ids=[p.stem for p in ENCOUNTERS])
def test_the_claim_of_each_example_gets_the_native_verdicts_units_and_reasons(client, native, path):
    enc = json.loads(path.read_text())
    status, body = check(client, claim_of(enc))
    assert status == 200, body
    ClaimResponse.model_validate(body)
    decision = native(enc)
    assert body["insurer"]["identifier"]["value"] == decision["payer"]
    assert body["request"] == {"reference": f"Claim/{enc['id']}"}
    assert [i["itemSequence"] for i in body["item"]] == [int(line["id"]) for line in enc["lines"]]
    for item, line in zip(body["item"], decision["lines"], strict=True):
        got = adjudications(item)
        verdict = s.ADJ_VERDICTS[line["verdict"]]
        assert got[verdict] == line["units"]["supportable"]
        assert [v for v in s.ADJ_VERDICTS.values() if v in got] == [verdict]
        assert got[s.ADJ_BILLED] == line["units"]["billed"]
        assert got[s.ADJ_SUPPORTABLE] == line["units"]["supportable"]
        assert got.get(s.ADJ_OVERBILLED) == (line["units"]["billed"] - line["units"]["supportable"]
                                             if line["overbilled"] else None)
        assert got["reasons"] == [r["id"] for r in line["reasons"]]
        notes = {n["number"]: n["text"] for n in body.get("processNote", [])}
        texts = [notes[n] for n in item.get("noteNumber", [])]
        for r in line["reasons"]:      # each reason's message, rule id and source are in a note of its item
            assert any(r["message"] in t and r["id"] in t and r["source"]["file"] in t for t in texts)
    assert body["outcome"] == fhir.outcome_of(decision["lines"])


def test_a_denied_line_carries_its_rule_and_source_on_the_adjudication(client, native):
    enc = json.loads((EXAMPLES / "transfer_training_billed_as_97110.json").read_text())
    status, body = check(client, claim_of(enc))
    assert status == 200
    reason = next(a for a in body["item"][0]["adjudication"] if a["category"]["coding"][0]["code"] == "reason")
    expected = native(enc)["lines"][0]["reasons"][0]
    assert reason["reason"]["coding"][0] == {"system": s.CS_RULE, "code": expected["id"]}
    assert reason["reason"]["text"] == expected["message"]
    exts = {e["url"]: e for e in reason["extension"]}
    assert exts[s.EXT_RULE_SOURCE]["valueString"].startswith(expected["source"]["file"])
    assert exts[s.EXT_RULE_LAYER]["valueCode"] == expected["layer"]
    assert body["outcome"] == "error"           # its only line is not supportable


def test_the_hand_written_example_claim_decides_as_its_encounter(client, native):
    status, body = check(client, json.loads(EXAMPLE_CLAIM.read_text()))
    assert status == 200
    ClaimResponse.model_validate(body)
    decision = native(json.loads((EXAMPLES / "medicare_8_minute_rule.json").read_text()))
    assert [adjudications(i)[s.ADJ_SUPPORTABLE] for i in body["item"]] == \
        [line["units"]["supportable"] for line in decision["lines"]]
    assert body["insurer"]["identifier"]["value"] == "medicare"


def test_outcome_is_complete_partial_or_error():
    def line(verdict, billed, supportable):
        return {"verdict": verdict, "overbilled": verdict == "supportable" and supportable < billed,
                "units": {"billed": billed, "supportable": supportable}}
    assert fhir.outcome_of([line("supportable", 2, 2)]) == "complete"
    assert fhir.outcome_of([line("supportable", 2, 1)]) == "partial"
    assert fhir.outcome_of([line("supportable", 1, 1), line("not_supportable", 1, 0)]) == "partial"
    assert fhir.outcome_of([line("needs_documentation", 1, 0), line("not_supportable", 1, 0)]) == "error"


@pytest.mark.parametrize("carc, rarc, expected", [
    (None, None, []),
    ("50", None, [(s.CARC, "50")]),
    ({"code": "96", "description": "Non-covered charge(s)."}, "N115", [(s.CARC, "96"), (s.RARC, "N115")]),
    (["B15"], [{"code": "M15"}, {"code": "N20"}], [(s.CARC, "B15"), (s.RARC, "M15"), (s.RARC, "N20")])])
def test_claim_adjustment_codes_go_with_the_rule_id_when_a_reason_has_them(carc, rarc, expected):
    reason = {"id": "base.x", "message": "denied"}
    if carc is not None:
        reason["carc"] = carc
    if rarc is not None:
        reason["rarc"] = rarc
    concept = fhir.response.reason_concept(reason)
    assert concept["coding"][0] == {"system": s.CS_RULE, "code": "base.x"}
    assert [(c["system"], c["code"]) for c in concept["coding"][1:]] == expected


# -- the HL7 specification's own examples: parsed, and refused where they cannot be checked --------

SPEC_CLAIMS = sorted(SPEC.glob("claim-example*.json"))


@pytest.mark.parametrize("path", SPEC_CLAIMS, ids=[p.stem for p in SPEC_CLAIMS])
def test_each_spec_example_claim_is_read_and_refused_with_located_issues(client, path):
    status, body = check(client, json.loads(path.read_text()))
    assert status == 422             # none uses CPT with ICD-10-CM on a therapy visit
    issues = outcome_issues(body)
    assert issues and all(where.startswith("Claim") for where, _ in issues)


def test_the_professional_example_names_its_non_cpt_item_and_non_icd10cm_diagnosis(client):
    status, body = check(client, json.loads((SPEC / "claim-example-professional.json").read_text()))
    assert status == 422
    assert set(outcome_issues(body)) == {("Claim.item[0].productOrService", "missing_code"),
                                         ("Claim.diagnosis[0].diagnosisCodeableConcept", "missing_code")}


def test_the_cms1500_example_names_its_unknown_insurer(client):
    _, body = check(client, json.loads((SPEC / "claim-example-cms1500-medical.json").read_text()))
    assert ("Claim.insurer.identifier", "unknown_payer") in outcome_issues(body)


def test_the_spec_claim_responses_validate_as_r4b():
    for path in SPEC.glob("claimresponse-example*.json"):
        ClaimResponse.model_validate_json(path.read_bytes())


# -- bad input: OperationOutcome, FHIRPath locations, never a 500 ----------------------------------

def _claim(**line_changes) -> dict:
    return claim_of(make_encounter([{"code": "97110", "minutes": 30, "units": 2, **line_changes},
                                    {"code": "97112", "minutes": 15, "units": 1}]))


def test_model_errors_are_located_by_fhirpath(client):
    claim = _claim()
    claim["item"][1]["quantity"] = {"value": "two"}
    claim["item"][0]["servicedDate"] = "2025-02-30"
    claim["item"][0]["colour"] = "red"
    del claim["patient"]
    _, body = check(client, claim)
    assert set(outcome_issues(body)) == {("Claim.item[1].quantity.value", "invalid_value"),
                                         ("Claim.item[0].servicedDate", "invalid_value"),
                                         ("Claim.item[0].colour", "unknown_field"),
                                         ("Claim.patient", "missing_field")}


def test_encounter_problems_are_located_back_in_the_claim(client):
    claim = _claim()
    claim["item"][1]["productOrService"]["coding"][0]["code"] = "99999"
    claim["item"][0]["modifier"] = [{"coding": [{"system": s.CPT, "code": "ZZ"}]}]
    doc = next(i for i, x in enumerate(claim["supportingInfo"])
               if x["category"]["coding"][0]["code"] == "documentation")
    claim["supportingInfo"][doc]["code"]["coding"][0]["code"] = "goals"
    claim["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["code"] = "Q99.999"
    claim["careTeam"][0]["qualification"] = {"coding": [{"system": s.CS_PROVIDER_TYPE, "code": "wizard"}]}
    status, body = check(client, claim)
    assert status == 422
    assert set(outcome_issues(body)) >= {("Claim.item[1].productOrService", "unknown_code"),
                                         ("Claim.item[0].modifier[0]", "unknown_modifier"),
                                         (f"Claim.supportingInfo[{doc}].code", "unknown_documentation"),
                                         ("Claim.diagnosis[0].diagnosisCodeableConcept", "unknown_diagnosis"),
                                         ("Claim.careTeam[0].qualification", "unknown_provider_type")}


def test_an_item_without_the_minutes_extension_has_minutes_unknown(client, native):
    enc = make_encounter([{"code": "97110", "minutes": 30, "units": 2}, {"code": "97112", "minutes": 15, "units": 1}])
    claim = claim_of(enc)
    claim["item"][0]["extension"] = [e for e in claim["item"][0]["extension"] if e["url"] != s.EXT_MINUTES]
    assert fhir.read_claim(claim).encounter["lines"][0].get("minutes") is None
    status, body = check(client, claim)
    assert status == 200, body
    ClaimResponse.model_validate(body)
    del enc["lines"][0]["minutes"]
    decision = native(enc)
    first = adjudications(body["item"][0])
    assert decision["lines"][0]["verdict"] == "needs_documentation"      # missing evidence is never proof
    assert first["needs-documentation"] == 0 and first[s.ADJ_SUPPORTABLE] == 0
    assert first["reasons"] == [r["id"] for r in decision["lines"][0]["reasons"]]
    assert "base.units.minutes_unknown" in first["reasons"]
    notes = {n["number"]: n["text"] for n in body["processNote"]}
    assert any("minutes_recorded" in notes[n] for n in body["item"][0]["noteNumber"])
    assert body["outcome"] != "complete"


def test_mapping_problems_are_located(client):
    claim = _claim()
    claim["use"] = "predetermination"
    claim["item"][1]["servicedDate"] = "2025-06-03"
    claim["item"][0]["diagnosisSequence"] = [9]
    claim["item"][0]["informationSequence"] = [99, *claim["item"][0].get("informationSequence", [])]
    claim["item"][1]["bodySite"] = {"coding": [{"system": "http://snomed.info/sct", "code": "368209003"}]}
    _, body = check(client, claim)
    assert set(outcome_issues(body)) == {("Claim.use", "unsupported_use"),
                                         ("Claim.item[1].servicedDate", "several_dates"),
                                         ("Claim.item[0].diagnosisSequence[0]", "unknown_reference"),
                                         ("Claim.item[0].informationSequence[0]", "unknown_reference"),
                                         ("Claim.item[1].bodySite", "missing_code")}


@pytest.mark.parametrize("body, content_type, status", [
    (b"{not json", FHIR, 400), (b"[]", FHIR, 422), (b'{"resourceType": "Patient"}', FHIR, 422),
    (b'{"resourceType": "Claim", "contained": [{"resourceType": "Nope"}]}', FHIR, 422),
    (b"{}", "text/plain", 415), (b"\xff\xfe", FHIR, 400)])
def test_what_is_not_a_claim_gets_an_operation_outcome(client, body, content_type, status):
    answer = client.post("/fhir/Claim/$check", data=body, content_type=content_type)
    assert answer.status_code == status and answer.mimetype == FHIR
    OperationOutcome.model_validate(json.loads(answer.get_data()))


def test_unknown_payers_and_wrong_methods_are_operation_outcomes(client):
    claim = _claim()
    status, body = check(client, claim, "?payer=nobody")
    assert status == 422 and outcome_issues(body)[0][1] == "unknown_payer"
    claim["insurer"] = {"identifier": {"system": s.PAYER_ID, "value": "nobody"}}
    status, body = check(client, claim)
    assert status == 422 and outcome_issues(body) == [("Claim.insurer", "unknown_payer")]
    answer = client.get("/fhir/Claim/$check")
    assert answer.status_code == 405 and answer.mimetype == FHIR
    OperationOutcome.model_validate(json.loads(answer.get_data()))


def test_the_payer_table_and_the_query_choose_the_overlay(client):
    claim = _claim()
    claim["insurer"] = {"identifier": {"system": "http://example.org/payer-id", "value": "60054"}}
    status, body = check(client, claim)
    assert status == 200 and body["insurer"]["identifier"]["value"] == "aetna"
    status, body = check(client, claim, "?payer=commercial")
    assert status == 200 and body["insurer"]["identifier"]["value"] == "commercial"


def test_fhir_needs_the_api_key_when_keys_are_required(registry, tmp_path):
    settings = Settings.from_env({}, tune_gc=False, reload_interval=0, decision_log=tmp_path / "d.jsonl",
                                 auth="required", api_keys="k-abcdef0123456789")
    keyed = create_app(settings, registry).test_client()
    answer = keyed.post("/fhir/Claim/$check", data=json.dumps(_claim()), content_type=FHIR)
    assert answer.status_code == 401 and answer.mimetype == FHIR
    assert outcome_issues(json.loads(answer.get_data()))[0][1] == "unauthorized"
    answer = keyed.post("/fhir/Claim/$check", data=json.dumps(_claim()), content_type=FHIR,
                        headers={"X-API-Key": "k-abcdef0123456789"})
    assert answer.status_code == 200


# -- the real server and the command line ----------------------------------------------------------

def test_through_the_real_gunicorn_server(tmp_path, native):
    enc = json.loads((EXAMPLES / "overbilled_units.json").read_text())
    with running_server(tmp_path) as (port, _):
        status, headers, raw = post(port, "/fhir/Claim/$check", json.dumps(claim_of(enc)).encode(), FHIR)
        bad_status, bad_headers, bad_raw = post(port, "/fhir/Claim/$check",
                                                (SPEC / "claim-example-professional.json").read_bytes(), FHIR)
    assert status == 200 and headers["content-type"].startswith(FHIR)
    body = json.loads(raw)
    ClaimResponse.model_validate(body)
    decision = native(enc)
    assert [adjudications(i)[s.ADJ_SUPPORTABLE] for i in body["item"]] == \
        [line["units"]["supportable"] for line in decision["lines"]]
    assert body["identifier"][0]["value"] == body["id"]          # the decision log's id
    logged = [json.loads(x) for x in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert body["id"] in {entry["id"] for entry in logged}
    assert bad_status == 422 and bad_headers["content-type"].startswith(FHIR)
    assert ("Claim.item[0].productOrService", "missing_code") in outcome_issues(json.loads(bad_raw))


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "supportable.cli", "check", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_the_command_line_reads_a_claim(tmp_path, native):
    enc = json.loads((EXAMPLES / "cmt_with_manual_therapy.json").read_text())
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(claim_of(enc)))
    done = _cli(str(path), "--format-in", "fhir", "--format", "json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    ClaimResponse.model_validate(body)
    decision = native(enc)
    assert [adjudications(i)["reasons"] for i in body["item"]] == \
        [[r["id"] for r in line["reasons"]] for line in decision["lines"]]
    text = _cli(str(path), "--format-in", "fhir")
    assert text.returncode == 0 and f"Encounter {enc['id']}" in text.stdout
    assert all(f"Line {line['line']}: {line['code']}" in text.stdout for line in decision["lines"])


def test_the_command_line_refuses_a_bad_claim_with_fhirpath(tmp_path):
    claim = _claim()
    claim["item"][1]["productOrService"]["coding"][0]["code"] = "99999"
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(claim))
    done = _cli(str(path), "--format-in", "fhir", "--format", "json")
    assert done.returncode == 1
    assert ("Claim.item[1].productOrService", "unknown_code") in outcome_issues(json.loads(done.stdout))
    text = _cli(str(path), "--format-in", "fhir")
    assert text.returncode == 1 and "Claim.item[1].productOrService: unknown code `99999`" in text.stderr
    spec = _cli(str(SPEC / "claim-example-professional.json"), "--format-in", "fhir")
    assert spec.returncode == 1 and "Claim.item[0].productOrService" in spec.stderr


def test_the_openapi_document_declares_the_route_and_what_it_answers(client):
    spec = client.get("/openapi.json").get_json()
    operation = spec["paths"]["/fhir/Claim/$check"]["post"]
    assert FHIR in operation["requestBody"]["content"]
    assert {"200", "400", "401", "413", "415", "422", "500", "503"} <= set(operation["responses"])
    assert operation["responses"]["422"]["content"][FHIR]["schema"]["$ref"].endswith("/FhirOperationOutcome")
    assert {"bearerKey": []} in operation["security"]
    status, body = check(client, {"resourceType": "Claim"})
    assert str(status) in operation["responses"]
    schema = spec["components"]["schemas"]["FhirOperationOutcome"]
    allowed = set(schema["properties"]["issue"]["items"]["properties"])
    assert all(set(issue) <= allowed for issue in body["issue"])


def test_the_examples_answer_as_examples_fhir_readme_says(client):
    folder = ROOT / "examples" / "fhir"
    assert json.loads((folder / "transfer_training_billed_as_97110.claim.json").read_text()) == \
        claim_of(json.loads((EXAMPLES / "transfer_training_billed_as_97110.json").read_text()))
    assert json.loads((folder / "minutes_unknown.claim.json").read_text()) == \
        claim_of(json.loads((EXAMPLES / "minutes_unknown.json").read_text()))
    outcomes = {}
    for name in ("medicare_8_minute_rule", "transfer_training_billed_as_97110", "minutes_unknown"):
        status, body = check(client, json.loads((folder / f"{name}.claim.json").read_text()))
        assert status == 200
        outcomes[name] = ClaimResponse.model_validate(body).outcome
    assert outcomes == {"medicare_8_minute_rule": "complete", "transfer_training_billed_as_97110": "error",
                        "minutes_unknown": "partial"}
    status, body = check(client, json.loads((folder / "unknown_codes.claim.json").read_text()))
    assert status == 422 and set(outcome_issues(body)) == {("Claim.item[1].productOrService", "unknown_code"),
                                                           ("Claim.supportingInfo[0].code", "unknown_documentation")}
    status, body = check(client, json.loads((folder / "invalid.claim.json").read_text()))
    assert status == 422 and outcome_issues(body) == [("Claim.item[0].quantity.value", "invalid_value")]


def test_the_focal_coverages_payor_names_the_payer_when_the_insurer_does_not(client):
    claim = _claim()
    claim.pop("insurer", None)
    claim["contained"].append({"resourceType": "Coverage", "id": "cov", "status": "active",
                               "beneficiary": {"reference": claim["patient"]["reference"]},
                               "payor": [{"identifier": {"system": "http://example.org/payer-id", "value": "60054"}}]})
    claim["insurance"] = [{"sequence": 1, "focal": True, "coverage": {"reference": "#cov"}}]
    status, body = check(client, claim)
    assert status == 200 and body["insurer"]["identifier"]["value"] == "aetna"
    claim["contained"][-1]["payor"][0]["identifier"]["value"] = "00000"
    status, body = check(client, claim)
    cov = len(claim["contained"]) - 1
    assert status == 422 and outcome_issues(body) == [(f"Claim.contained[{cov}].payor[0].identifier", "unknown_payer")]


def test_a_preauthorization_is_checked_and_answered_as_one(client, native):
    enc = json.loads((EXAMPLES / "mixed_visit.json").read_text())
    claim = claim_of(enc)
    claim["use"] = "preauthorization"
    status, body = check(client, claim)
    assert status == 200 and body["use"] == "preauthorization"
    ClaimResponse.model_validate(body)
    assert [adjudications(i)[s.ADJ_SUPPORTABLE] for i in body["item"]] == \
        [line["units"]["supportable"] for line in native(enc)["lines"]]


def test_the_command_line_reports_an_unknown_payer_of_a_claim_as_an_operation_outcome(tmp_path):
    claim = _claim()
    claim["insurer"] = {"identifier": {"system": s.PAYER_ID, "value": "nobody"}}
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(claim))
    done = _cli(str(path), "--format-in", "fhir", "--format", "json")
    assert done.returncode == 3, done.stdout
    assert outcome_issues(json.loads(done.stdout)) == [("Claim.insurer", "unknown_payer")]


@pytest.mark.parametrize("quantity", [None, {"value": 1.5}, {"value": 0}, {"unit": "min"}])
def test_units_come_from_the_quantity_and_a_bad_one_is_located_there(client, quantity):
    claim = _claim()
    if quantity is None:
        del claim["item"][0]["quantity"]
    else:
        claim["item"][0]["quantity"] = quantity
    status, body = check(client, claim)
    assert status == 422
    assert [where for where, _ in outcome_issues(body)] == ["Claim.item[0].quantity"]


def _normalized(enc: dict) -> dict:
    enc = copy.deepcopy(enc)
    for line in enc["lines"]:
        if "time_block" in line:
            line["time_blocks"] = [line.pop("time_block")]
        if "region" in line:
            line["regions"] = [line.pop("region")]
    enc["patient"] = {k: v for k, v in enc["patient"].items() if v != []}
    return enc


def test_every_mapped_field_reads_back_as_it_was_written():
    enc = make_encounter(
        [{"code": "97110", "minutes": 23, "units": 2, "furnished_by": "physical_therapist_assistant",
          "modifiers": ["GP", "CQ"], "one_on_one": False, "patients_in_session": 1, "allowed_amount": 31.5,
          "time_blocks": ["A", "C"], "regions": ["lumbar", "thoracic"], "documentation": ["distinct_region"],
          "charge": 145.25},
         {"code": "97140", "minutes": 8, "units": 1, "region": "cervical", "one_on_one": True}],
        payer="medicare",
        provider={"type": "acupuncturist", "npi": "1234567893", "credentials": ["acupuncture_degree"],
                  "supervised_by": "physician"},
        billing_provider={"type": "physician", "npi": "1987654321"},
        plan_of_care={"certified_by": "nurse_practitioner", "certified_on": "2025-05-20",
                      "start_of_care": "2025-03-01", "recertified_on": "2025-05-30",
                      "last_progress_report_on": "2025-05-28"},
        patient={"id": "pt-9", "condition_status": "plateau",
                 "history": [{"date": "2025-05-26", "codes": ["97110", "97140"]}, {"date": "2025-05-28",
                                                                                   "codes": ["97110"]}],
                 "year_to_date": {"pt_slp": 1200.5, "ot": 40}},
        diagnoses=["M54.50", "M54.2"])
    del enc["lines"][0]["time_block"]           # make_encounter's own block: this line lists its blocks
    claim = claim_of(enc)
    read = fhir.read_claim(claim)
    assert read.encounter == _normalized(enc)
    assert read.sequences == [1, 2]
    # every field path of the encounter is located in the Claim
    assert fhir.fhirpath_of(read.paths, "lines[0].furnished_by").startswith("Claim.careTeam[")
    assert fhir.fhirpath_of(read.paths, "provider.credentials[0]").startswith("Claim.contained[0].qualification")
    assert fhir.fhirpath_of(read.paths, "plan_of_care.recertified_on").endswith(f"extension('{s.EXT_RECERTIFIED_ON}')")
    assert fhir.fhirpath_of(read.paths, "patient.history[1].codes[0]").endswith(".code")
    assert fhir.fhirpath_of(read.paths, "lines[0].regions[1]") == "Claim.item[0].extension[5].valueCoding"
    assert fhir.fhirpath_of(read.paths, "lines[0].charge") == "Claim.item[0].net.value"


def test_an_items_charge_is_its_net_and_what_cannot_be_read_is_said(client):
    # docs/fhir.md: item.net is the line's charge (USD); a charge in another currency and item details
    # (services inside an item, which the decision would not see) are refused where they are, never dropped.
    claim = _claim()
    claim["item"][0]["net"] = {"value": 120, "currency": "USD"}
    assert fhir.read_claim(claim).encounter["lines"][0]["charge"] == 120
    claim["item"][0]["net"] = {"value": -5, "currency": "USD"}
    status, body = check(client, claim)
    assert status == 422 and [w for w, _ in outcome_issues(body)] == ["Claim.item[0].net.value"]
    claim["item"][0]["net"] = {"value": 120, "currency": "EUR"}
    claim["item"][1]["detail"] = [{"sequence": 1, "productOrService": {"coding": [
        {"system": "http://www.ama-assn.org/go/cpt", "code": "97112"}]}}]
    status, body = check(client, claim)
    assert status == 422 and set(outcome_issues(body)) == {("Claim.item[0].net.currency", "unsupported_currency"),
                                                           ("Claim.item[1].detail", "unsupported")}


def test_the_payer_identifier_goes_through_the_same_table_as_the_837s(registry, tmp_path):
    # One payer-identifier table for every front door (docs/x12.md): an operator's own table, named by
    # SUPPORTABLE_PAYER_IDS or --payer-ids, routes a FHIR Claim's insurer identifier as it routes NM1*PR.
    table = tmp_path / "ids.yaml"
    table.write_text('ids:\n  "CLEARINGHOUSE-7": {payer: medicare, name: "a clearinghouse id"}\n')
    claim = _claim()
    claim["insurer"] = {"identifier": {"system": "http://example.org/payer-id", "value": "CLEARINGHOUSE-7"}}
    settings = Settings.from_env({"SUPPORTABLE_PAYER_IDS": str(table)}, tune_gc=False, reload_interval=0,
                                 decision_log=tmp_path / "d.jsonl", snapshot="")
    status, body = check(create_app(settings, registry).test_client(), claim)
    assert status == 200 and body["insurer"]["identifier"]["value"] == "medicare"
    shipped = Settings.from_env({}, tune_gc=False, reload_interval=0, decision_log=tmp_path / "e.jsonl", snapshot="")
    status, body = check(create_app(shipped, registry).test_client(), claim)   # not in the shipped table
    assert status == 422 and outcome_issues(body) == [("Claim.insurer.identifier", "unknown_payer")]
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(claim))
    run = subprocess.run([sys.executable, "-m", "supportable.cli", "check", "--format-in", "fhir", str(path),
                          "--payer-ids", str(table), "--format", "json"], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["insurer"]["identifier"]["value"] == "medicare"
