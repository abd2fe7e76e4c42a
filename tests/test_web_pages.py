"""The web pages through Flask's test client (the browser tests, tests/test_web_browser.py, drive the
real server): every page answers HTML, bad input is a readable message on the page (never a
traceback, a blank page or a 500), pages show what the engine says, and they stay out of the
OpenAPI document."""
from __future__ import annotations

import csv
import io
import json
from collections import Counter
from html import unescape as html_unescape
import re
import time

import pytest

from conftest import ROOT
from supportable.engine import diff_policies, explain_code, load_policy_set
from supportable.server import wire
from supportable.server.app import create_app
from supportable.server.registry import Registry
from supportable.server.settings import Settings
from supportable.server.web.labels import VERDICT_WORDS

CORPUS = ROOT / "examples" / "corpus" / "encounters.jsonl"

PAGES = ["/", "/day", "/payers", "/payers/medicare", "/payers/aetna/codes/97112", "/payers/diff?from=base&to=medicare",
         "/analyst"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jobs")
    settings = Settings.from_env({}, tune_gc=False, reload_interval=0, decision_log="", snapshot="", web_jobs=str(folder))
    return create_app(settings, Registry.load(settings.policies))


@pytest.fixture
def client(app):
    return app.test_client()


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def errors_of(html: str) -> str:
    found = re.search(r'<div class="errors" role="alert" id="errors">(.*?)</div>', html, re.S)
    assert found, "no error message on the page"
    return text_of(found.group(1))


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_html_with_labelled_fields(client, path):
    answer = client.get(path)
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    html = answer.data.decode()
    assert '<html lang="en">' in html and "<h1>" in html
    ids = set(re.findall(r'<(?:input|select|textarea)(?![^>]*type="(?:hidden|submit)")[^>]*\bid="([^"]+)"', html))
    labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', html))
    assert ids <= labelled, f"fields without a label: {sorted(ids - labelled)}"


def test_the_pages_stay_out_of_the_openapi_document(client):
    paths = set(client.get("/openapi.json").get_json()["paths"])
    assert "/v1/check" in paths
    assert not {p for p in paths if not p.startswith(("/v1", "/healthz", "/readyz", "/metrics", "/admin", "/openapi",
                                                       "/docs", "/fhir/", "/cds-services"))}
    pages = {"/", "/check", "/result", "/day", "/payers", "/analyst", "/signin", "/ui/diagnoses"}
    assert not pages & paths and not {p for p in paths if p.startswith(("/day/", "/payers/", "/analyst/", "/ui/"))}


def test_the_answers_address_opened_again_leads_back_to_the_form(client):
    answer = client.get("/check")
    assert answer.status_code == 303 and answer.headers["Location"] == "/"


def test_a_link_that_is_not_a_claim_is_a_message(client):
    answer = client.get("/result?e=not-a-claim")
    assert answer.status_code == 422
    assert "this link does not hold a readable claim" in errors_of(answer.data.decode())


def test_a_pasted_encounter_is_checked_like_the_api_checks_it(client, example):
    document = example("group_billed_as_97110")
    answer = client.post("/check", data={"source": "paste", "format": "encounter", "payer": "",
                                         "encounter_text": __import__("json").dumps(document)})
    html = answer.data.decode()
    assert answer.status_code == 200
    api = client.post("/v1/check?explain=none", json=document).get_json()
    for line in api["lines"]:
        row = re.search(rf'<tr class="line verdict-(\w+)" data-line="{line["line"]}"', html)
        assert row and row.group(1) == line["verdict"]
    assert "Bill 97150 instead" in text_of(html)
    # an encounter that is not valid names each field
    document["lines"][0]["minutes"] = -3
    answer = client.post("/check", data={"source": "paste", "encounter_text": __import__("json").dumps(document)})
    assert answer.status_code == 422 and "Line 1 › minutes" in errors_of(answer.data.decode())


def test_a_payers_page_shows_its_parameters_and_what_a_code_requires(client):
    policy = load_policy_set(ROOT / "policies", "medicare")
    html = text_of(client.get("/payers/medicare").data.decode())
    described = wire.payer_description(policy)
    assert " → ".join(described["chain"]) in html
    method = described["parameters"]["unit_method"]
    assert method["value"] in html and method["source"]["file"] in html
    required = wire.code_requirements(explain_code(policy, "97116"))
    html = text_of(client.get("/payers/medicare/codes/97116").data.decode())
    assert all(r["id"] in html for r in required["requirements"])
    pairs = wire.code_requirements(explain_code(policy, "97530"))["edits"]["column2_of"]
    html = text_of(client.get("/payers/medicare/codes/97530").data.decode())
    assert pairs and all(f"{e['column1']} (column 1) with {e['column2']} (column 2)" in html for e in pairs)
    assert client.get("/payers/medicare?code=97116").headers["Location"].endswith("/payers/medicare/codes/97116")


def test_the_diff_of_two_payers_shows_the_engines_diff(client):
    before, after = (load_policy_set(ROOT / "policies", p) for p in ("commercial", "medicare"))
    diff = wire.policy_diff(diff_policies(before, after))
    html = text_of(client.get("/payers/diff?from=commercial&to=medicare").data.decode())
    s = diff["summary"]
    assert f"Rules added: {s['added']}; replaced: {s['replaced']}; removed or switched off: {s['removed']}; " \
           f"parameters that differ: {s['parameters']}" in html
    assert all(p["name"] in html for p in diff["parameters"])


@pytest.mark.parametrize("path, status, message", [
    ("/payers/nobody", 404, "unknown payer `nobody`"),
    ("/payers/medicare/codes/00000", 404, "no code `00000`"),
    ("/payers/diff?from=base", 422, "Choose the payer to compare to"),
    ("/day/jobs/0123456789abcdef0123456789abcdef", 404, "no such job"),
    ("/day/jobs/0123456789abcdef0123456789abcdef/report.html", 404, "no such finished job"),
    ("/day/jobs/0123456789abcdef0123456789abcdef/summary.json", 404, "no such finished job"),
    ("/day/jobs/not-a-job/results.csv", 404, "no such finished job"),
])
def test_bad_addresses_are_messages_on_a_page(client, path, status, message):
    answer = client.get(path)
    assert answer.status_code == status and answer.mimetype == "text/html"
    assert message in errors_of(answer.data.decode())


def _finished(client, location: str) -> None:
    deadline = time.monotonic() + 60
    while client.get(location + "/status").get_json()["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.1)


CSV_HEAD = ("encounter_id,payer,date_of_service,provider_type,patient_id,plan_certified_by,plan_certified_on,"
            "plan_start_of_care,diagnoses,documentation,code,minutes,units,modifiers,intended_outcomes,time_block\n")
DOCS = "functional_goals;goal_linkage;objective_findings;skilled_intervention;progress_toward_goals;time_recorded"


def test_a_csv_of_a_days_claims_groups_rows_into_encounters(client):
    rows = [f"e1,medicare,2025-03-14,physical_therapist,p1,physician,2025-03-01,2025-02-24,I69.354,{DOCS},97110,23,2,GP,strength,A",
            f"e1,medicare,2025-03-14,physical_therapist,p1,physician,2025-03-01,2025-02-24,I69.354,{DOCS},97112,10,1,GP,balance,B",
            f"e2,medicare,2025-03-14,physical_therapist,p2,,,,,{DOCS},97110,lots,1,GP,strength,A"]
    answer = client.post("/day", data={"claims_file": (io.BytesIO((CSV_HEAD + "\n".join(rows)).encode()), "day.csv")},
                         content_type="multipart/form-data")
    assert answer.status_code == 303
    location = answer.headers["Location"]
    _finished(client, location)
    html = client.get(location).data.decode()
    assert "2 claim(s), 1 checked, 1 could not be read; 2 line(s)" in text_of(html)
    assert "row 4, column minutes: `lots` is not a whole number" in text_of(html)
    # the same encounter through the API: the CSV's lines are its lines
    decided = client.post("/v1/check?explain=none", json={
        "id": "e1", "payer": "medicare", "date_of_service": "2025-03-14", "provider": {"type": "physical_therapist"},
        "diagnoses": ["I69.354"], "documentation": DOCS.split(";"), "patient": {"id": "p1"},
        "plan_of_care": {"certified_by": "physician", "certified_on": "2025-03-01", "start_of_care": "2025-02-24"},
        "lines": [{"id": "1", "code": "97110", "minutes": 23, "units": 2, "modifiers": ["GP"], "intended_outcomes": ["strength"], "time_block": "A"},
                  {"id": "2", "code": "97112", "minutes": 10, "units": 1, "modifiers": ["GP"], "intended_outcomes": ["balance"], "time_block": "B"}]}).get_json()
    csv_text = client.get(location + "/results.csv").data.decode().splitlines()
    assert csv_text[0].startswith("encounter,payer,line,code,verdict")
    got = {tuple(r.split(",")[2:5]) for r in csv_text[1:]}
    assert got == {(l["line"], l["code"], l["verdict"]) for l in decided["lines"]}


def test_a_days_claims_are_audited_with_the_audits_summary_charts_and_logged_decisions(tmp_path):
    # The day's claims run on the audit's path (docs/web.md, docs/audit.md): the page offers the audit's
    # summary and report, shows its charts, counts money at risk from the lines' charges, and every
    # decision is in the decision log under the id the CSV gives. Expectations come from POST /v1/check.
    settings = Settings.from_env({}, tune_gc=False, reload_interval=0, decision_log=str(tmp_path / "d.jsonl"),
                                 snapshot="", web_jobs=str(tmp_path / "jobs"))
    client = create_app(settings, Registry.load(settings.policies)).test_client()
    documents = [json.loads(t) for t in CORPUS.read_text().splitlines()[:12]]
    for n, doc in enumerate(documents):
        if n % 2 == 0:
            for k, line in enumerate(doc["lines"]):
                line["charge"] = 60.0 + 5 * k
    text = "\n".join(json.dumps(d) for d in documents[:4]) + "\n{not json\n" + \
        "\n".join(json.dumps(d) for d in documents[4:]) + "\n"
    answer = client.post("/day", data={"claims_text": text, "payer": "medicare"})
    assert answer.status_code == 303
    location = answer.headers["Location"]
    _finished(client, location)
    decided = [client.post("/v1/check?payer=medicare&explain=none", json=d).get_json() for d in documents]
    verdicts = Counter(l["verdict"] for d in decided for l in d["lines"])
    at_risk = sum(line["charge"] * (l["units"]["billed"] - l["units"]["supportable"]) / l["units"]["billed"]
                  for doc, d in zip(documents, decided) for line, l in zip(doc["lines"], d["lines"])
                  if "charge" in line and l["units"]["supportable"] < l["units"]["billed"])
    summary = client.get(location + "/summary.json").get_json()
    assert summary["by_verdict"] == dict(verdicts) and summary["decided"] == 12 and summary["encounters"] == 13
    assert summary["invalid_by_problem"] == {"invalid-claim": 1} and summary["cluster"] == "this process"
    assert summary["units"]["billed"] == sum(l["units"]["billed"] for d in decided for l in d["lines"])
    assert at_risk > 0 and summary["money"]["at_risk"] == pytest.approx(at_risk, abs=0.05)
    html = client.get(location).data.decode()
    for chart in ("chart-verdicts", "chart-payers", "chart-reasons"):
        assert re.search(f'<figure id="{chart}" role="img" aria-label="[^"]+"><svg', html), chart
    assert f"{summary['money']['at_risk']:.2f} is at risk" in text_of(html)
    report = client.get(location + "/report.html").data.decode()
    assert "Supportable audit report" in report and report.count("<svg") == 3 and "the uploaded file" in report
    # every decision logged, found by the id its CSV rows carry, with the verdicts the page shows
    rows = list(csv.DictReader(io.StringIO(client.get(location + "/results.csv").data.decode())))
    assert len(rows) == sum(verdicts.values())
    for row in rows:             # rows after the unreadable claim too: results stay aligned with their claims
        entry = client.get(f"/v1/decisions/{row['decision_id']}").get_json()
        assert entry["encounter"] == row["encounter"] and entry["payer"] == "medicare"
        assert {l["line"]: l["verdict"] for l in entry["lines"]}[row["line"]] == row["verdict"]


def test_input_that_reaches_the_charts_cannot_fail_the_day(client):
    # Payer names come from the upload: one read as math by the charts (`$...$`) or thousands of them must not
    # lose the results; an array among the claims is a claim that is not an object, never a reading problem;
    # a job of another kind is no day's job.
    lines = [json.dumps({**json.loads(t), "payer": "$\\foo$"}) for t in CORPUS.read_text().splitlines()[:2]]
    lines += [json.dumps({**json.loads(CORPUS.read_text().splitlines()[2]), "payer": f"unknown-{n}"}) for n in range(40)]
    lines += ["[1, 2]", CORPUS.read_text().splitlines()[3]]
    answer = client.post("/day", data={"claims_text": "\n".join(lines)})
    location = answer.headers["Location"]
    _finished(client, location)
    assert client.get(location + "/status").get_json()["status"] == "done"
    html = client.get(location).data.decode()
    assert "44 claim(s), 1 checked, 43 could not be read" in text_of(html)
    summary = client.get(location + "/summary.json").get_json()
    more = len(summary["by_payer"]) - 12
    assert more > 20 and re.search(rf'<figure id="chart-payers" role="img" aria-label="[^"]*and {more} more payers"><svg', html)
    assert "unknown payer `$\\foo$`" in text_of(html_unescape(html))
    assert summary["invalid_by_problem"].get("invalid_type", 0) + summary["invalid_by_problem"].get("invalid-encounter", 0) >= 1
    analyst = client.post("/analyst", data={"payer": "aetna", "candidate": "id: aetna\n", "run-lint": "1"})
    other = analyst.headers["Location"].rsplit("/", 1)[-1]
    for path in (f"/day/jobs/{other}", f"/day/jobs/{other}/results.csv", f"/day/jobs/{other}/summary.json"):
        assert client.get(path).status_code == 404, path


def test_a_csv_row_without_minutes_is_minutes_not_recorded_and_a_charge_is_money(client):
    # docs/web.md: an empty minutes cell is minutes not recorded (docs/encounter.md), never a pass and never
    # a guess; a charge that is not an amount is a problem in its row.
    head = CSV_HEAD.rstrip("\n") + ",charge\n"
    rows = [f"e1,medicare,2025-03-14,physical_therapist,p1,physician,2025-03-01,2025-02-24,I69.354,{DOCS},97110,,2,GP,strength,A,\"$1,200.50\"",
            f"e2,medicare,2025-03-14,physical_therapist,p2,physician,2025-03-01,2025-02-24,I69.354,{DOCS},97110,23,2,GP,strength,A,lots",
            f"e3,medicare,2025-03-14,physical_therapist,p3,physician,2025-03-01,2025-02-24,I69.354,{DOCS},97110,23,2,GP,strength,A,$1,200",
            f"e4,medicare,2025-03-14,physical_therapist,p4,physician,2025-03-01,2025-02-24,I69.354,{DOCS},97110,23,2,GP",
            f'e5,medicare,2025-03-14,physical_therapist,p5,physician,2025-03-01,2025-02-24,I69.354,{DOCS},97110,23,2,GP,strength,A,"120,50"']
    answer = client.post("/day", data={"claims_text": head + "\n".join(rows)})
    location = answer.headers["Location"]
    _finished(client, location)
    html = text_of(client.get(location).data.decode())
    assert "row 3, column charge: `lots` is not an amount in dollars" in html
    assert "row 4 has 18 cells but the first row names 17 columns" in html
    assert "row 5 has 14 cells but the first row names 17 columns" in html
    assert "row 6, column charge: `120,50` is not an amount in dollars" in html
    line = next(csv.DictReader(io.StringIO(client.get(location + "/results.csv").data.decode())))
    assert (line["encounter"], line["verdict"], line["units_supportable"]) == ("e1", "needs_documentation", "0")
    assert client.get(location + "/summary.json").get_json()["money"]["charged"] == 1200.5


@pytest.mark.parametrize("text, message", [
    ("a,b\n1,2\n", "unknown column(s) a, b"),
    ("[1, 2", "not JSON"),
    ("", "the file is empty"),
])
def test_a_days_claims_that_cannot_be_read_are_a_message(client, text, message):
    answer = client.post("/day", data={"claims_text": text})
    assert answer.status_code == 422 and message in errors_of(answer.data.decode())


def test_where_keys_are_required_the_pages_ask_to_sign_in(tmp_path):
    settings = Settings.from_env({}, tune_gc=False, reload_interval=0, decision_log="", snapshot="",
                                 web_jobs=str(tmp_path), auth="required", api_keys="sekrit-key")
    client = create_app(settings, Registry.load(settings.policies)).test_client()
    answer = client.get("/payers")
    assert answer.status_code == 302 and "/signin?next=/payers" in answer.headers["Location"]
    assert client.get("/signin").status_code == 200
    wrong = client.post("/signin", data={"key": "guess", "next": "/payers"})
    assert wrong.status_code == 401 and "not one this server accepts" in errors_of(wrong.data.decode())
    right = client.post("/signin", data={"key": "sekrit-key", "next": "//elsewhere.example/"})
    assert right.status_code == 302 and right.headers["Location"] == "/"       # never off the site
    cookie = right.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/payers").status_code == 200
    assert client.get("/v1/payers").status_code == 401          # the API still wants the key in a header


def test_the_analyst_page_shows_the_impact_the_command_line_reports(client, tmp_path):
    import json
    import subprocess
    import sys
    candidate = ROOT / "examples" / "candidates" / "aetna_cap_24.yaml"
    answer = client.post("/analyst", data={"payer": "aetna", "candidate": candidate.read_text(), "run-impact": "1",
                                           "run-lint": "1", "max_encounters": "30"})
    assert answer.status_code == 303
    location = answer.headers["Location"]
    _finished(client, location)
    html = client.get(location).data.decode()
    shown = {html_unescape(t): int(n) for t, n in re.findall(r'<tr data-type="([^"]+)">.*?<td class="count">(\d+)</td>', html, re.S)}
    cli = subprocess.run([sys.executable, "-m", "supportable.cli", "impact", "--payer", "aetna", "--candidate",
                          str(candidate), "--encounters", str(ROOT / "examples" / "corpus" / "encounters.jsonl"),
                          "--max-encounters", "30", "--format", "json"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    by_type = json.loads(cli.stdout)["summary"]["by_type"]
    assert shown and shown == {t: by_type.get(t, 0) for t in shown}
    assert sum(shown.values()) > 0                      # the candidate changes something on this sample
    assert "0 error(s)" in text_of(html)
    # the counts as a chart too, its text alternative naming every count
    chart = re.search(r'<figure id="chart-change-types" class="charts" role="img" aria-label="([^"]+)"><svg', html)
    assert chart and all(f"{t.replace('->', ' to ').replace('_', ' ')} {n}" in html_unescape(chart.group(1))
                         for t, n in shown.items())


def test_a_candidate_that_does_not_load_is_located_in_its_file(client):
    answer = client.post("/analyst", data={"payer": "aetna", "candidate": "id: aetna\nname: x\n: : :\n", "run-lint": "1"})
    location = answer.headers["Location"]
    _finished(client, location)
    html = text_of(client.get(location).data.decode())
    assert "payers/aetna.yaml:3:1: error: invalid YAML" in html and "supportable-analyst" not in html


def test_an_analyst_form_without_a_candidate_is_a_message(client):
    answer = client.post("/analyst", data={"payer": "aetna", "candidate": "  "})
    assert answer.status_code == 422
    message = errors_of(answer.data.decode())
    assert "The candidate overlay is empty" in message and "Choose at least one thing to run" in message


def test_a_path_that_is_no_page_is_a_page_for_a_browser_and_a_problem_for_a_program(client):
    html = client.get("/no-such-page", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert html.status_code == 404 and html.mimetype == "text/html"
    assert "There is no page at /no-such-page" in errors_of(html.data.decode())
    api = client.get("/no-such-page")
    assert api.status_code == 404 and api.mimetype == "application/problem+json"
    assert api.get_json()["type"] == "/problems/not-found"
    assert client.get("/v1/nothing", headers={"Accept": "text/html"}).mimetype == "application/problem+json"


def test_a_job_whose_worker_stopped_shows_as_stopped(tmp_path):
    import json
    import os
    from supportable.server.web.jobs import STALE_SECONDS, JobStore
    store = JobStore(tmp_path)
    job = tmp_path / ("ab" * 16)
    job.mkdir()
    (job / "status.json").write_text(json.dumps({"status": "running", "done": 3, "total": 9, "message": "3 of 9"}))
    assert store.status(job.name)["status"] == "running"
    past = os.path.getmtime(job / "status.json") - STALE_SECONDS - 1
    os.utime(job / "status.json", (past, past))
    stopped = store.status(job.name)
    assert stopped["status"] == "failed" and "restarted" in stopped["message"]
    assert store.status("../etc") is None


@pytest.mark.parametrize("query", ["M54.5", "m62.8", "hemiplegia left", "stroke"])
def test_the_diagnosis_search_finds_billable_codes_by_code_or_title(client, query):
    from supportable.engine import icd10
    matches = client.get(f"/ui/diagnoses?q={query}").get_json()["matches"]
    assert matches and len(matches) <= 20
    for m in matches:
        assert icd10.is_billable(m["code"]) and m["title"] == icd10.describe(m["code"])
        assert m["code"].startswith(query.upper()) or all(w in m["title"].lower() for w in query.lower().split())
    assert client.get("/ui/diagnoses?q=M").get_json()["matches"] == []        # two characters at least


def test_a_pasted_fhir_claim_is_checked_as_the_fhir_front_door_checks_it(client):
    # The check page reads a FHIR R4 Claim with the same reader as POST /fhir/Claim/$check (payer from the
    # insurer's identifier through the payer-identifier table): each line's verdict is the ClaimResponse's.
    import json
    from conftest import ROOT
    claim = json.loads((ROOT / "examples" / "fhir" / "minutes_unknown.claim.json").read_text())
    answer = client.post("/check", data={"source": "paste", "format": "fhir", "payer": "",
                                         "encounter_text": json.dumps(claim)})
    html = answer.data.decode()
    assert answer.status_code == 200, errors_of(html)
    response = client.post("/fhir/Claim/$check", data=json.dumps(claim), content_type="application/fhir+json")
    assert response.status_code == 200
    verdicts = {"supportable": "supportable", "needs-documentation": "needs_documentation",
                "not-supportable": "not_supportable"}
    rows = re.findall(r'<tr class="line verdict-(\w+)" data-line="([^"]+)"', html)
    expected = []
    for item in response.get_json()["item"]:
        codes = [a["category"]["coding"][0]["code"] for a in item["adjudication"]]
        expected.append(next(verdicts[c] for c in codes if c in verdicts))
    assert [v for v, _ in rows] == expected and "needs_documentation" in expected
    # a Claim that is not valid names its FHIRPath on the page
    claim["item"][0]["productOrService"] = {"coding": [{"system": "http://www.ama-assn.org/go/cpt"}]}
    answer = client.post("/check", data={"source": "paste", "format": "fhir", "encounter_text": json.dumps(claim)})
    assert answer.status_code == 422, answer.status_code
    shown = errors_of(answer.data.decode())
    assert "no CPT" in shown and "productOrService" in shown, shown


def test_an_837_of_one_claim_is_checked_on_the_check_page_as_the_837_front_door_checks_it(client):
    # docs/web.md, docs/x12.md: an 837P holding one claim is read as POST /v1/x12/837/check reads it (its payer
    # through the payer-identifier table) and answered line by line; one of several goes to the day's page.
    text = (ROOT / "tests" / "data" / "x12" / "chiropractic.837").read_text()
    answer = client.post("/check", data={"source": "paste", "format": "x12", "encounter_text": text})
    assert answer.status_code == 200, errors_of(answer.data.decode())
    front = client.post("/v1/x12/837/check?explain=none", data=text, content_type="application/edi-x12").get_json()
    (decided,) = [r["decision"] for r in front["results"]]
    html = answer.data.decode()
    for line in decided["lines"]:
        row = re.search(rf'<tr class="line verdict-{line["verdict"]}" data-line="{line["line"]}" '
                        rf'data-code="{line["code"]}">.*?</tr>', html, re.S)
        assert row and VERDICT_WORDS[line["verdict"]][0] in text_of(row.group(0)), line
    several = (ROOT / "examples" / "x12" / "therapy.837").read_text()     # one claim, two dates of service
    answer = client.post("/check", data={"source": "paste", "format": "x12", "encounter_text": several})
    shown = errors_of(answer.data.decode())
    assert answer.status_code == 422 and "this 837 holds 2 encounters" in shown and "“A day's claims” page" in shown
    assert "claim 26463774 on 20" in shown
    assert '<option value="x12" selected>' in answer.data.decode()        # the choice is kept with the text
    broken = (ROOT / "tests" / "data" / "x12" / "malformed-missing-isa.837").read_text()
    answer = client.post("/check", data={"source": "paste", "format": "x12", "encounter_text": broken})
    assert answer.status_code == 422 and "not a readable X12 837P" in errors_of(answer.data.decode())


def test_an_837_uploaded_as_a_days_claims_shows_what_the_837_front_door_decides(client):
    # An X12 837P on the day's-claims page: each claim and date of service an encounter, its payer through
    # the payer-identifier table, decided as POST /v1/x12/837/check decides it (docs/x12.md, docs/web.md).
    text = (ROOT / "examples" / "x12" / "therapy.837").read_text()
    answer = client.post("/day", data={"claims_file": (io.BytesIO(text.encode()), "therapy.837")},
                         content_type="multipart/form-data")
    assert answer.status_code == 303, errors_of(answer.data.decode())
    location = answer.headers["Location"]
    _finished(client, location)
    rows = client.get(location + "/results.csv").data.decode().splitlines()[1:]
    front = client.post("/v1/x12/837/check?explain=none", data=text, content_type="application/edi-x12").get_json()
    expected = [(r["decision"]["encounter"], r["decision"]["payer"], l["line"], l["code"], l["verdict"])
                for r in front["results"] if "decision" in r for l in r["decision"]["lines"]]
    assert [tuple(r.split(",")[:5]) for r in rows] == expected and expected
    # a file that is not a readable 837P is a message naming its segments
    broken = (ROOT / "tests" / "data" / "x12" / "malformed-missing-isa.837").read_text()
    answer = client.post("/day", data={"claims_file": (io.BytesIO(broken.encode()), "broken.837")},
                         content_type="multipart/form-data")
    assert answer.status_code == 422 and "not a readable X12 837P" in errors_of(answer.data.decode())
