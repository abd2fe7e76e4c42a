"""The web pages in a real browser: headless Chromium (Debian's, through Selenium and Debian's
chromedriver, tests/browser.py) against the real gunicorn server (tests/serving.py). One server and
one browser session for the module, so the tests stay few and quick."""
from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from browser import chromium, click_and_wait, require_browser, wait_for
from serving import post, running_server

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "examples" / "corpus" / "encounters.jsonl"
GAIT_DOCUMENTATION = ["gait_impairment", "walking_limitation", "balance_deficit"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    require_browser()
    tmp = tmp_path_factory.mktemp("web")
    with running_server(tmp, workers=2, threads=2, env={"SUPPORTABLE_WEB_JOBS": str(tmp / "jobs")}) as (port, _proc), chromium() as driver:
        yield f"http://127.0.0.1:{port}", driver, port


def _by(css):
    from selenium.webdriver.common.by import By
    return By.CSS_SELECTOR, css


def _choose(driver, element_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select
    Select(driver.find_element("id", element_id)).select_by_value(value)


def _type(driver, element_id: str, text: str) -> None:
    field = driver.find_element("id", element_id)
    field.clear()
    field.send_keys(text)


def _fill_visit(driver, payer: str, lines: list[dict]) -> None:
    """The 'Check a claim' form, filled as a person would: the seeds' stroke patient (docs/encounter.md)."""
    _choose(driver, "payer", payer)
    _type(driver, "date_of_service", "03142025")             # a date field, typed month, day, year (en-US)
    _choose(driver, "certified_by", "physician")
    _type(driver, "certified_on", "03012025")
    _type(driver, "start_of_care", "02242025")
    _type(driver, "diagnosis-0", "I69.354")
    for element in GAIT_DOCUMENTATION:
        box = driver.find_element("id", f"doc-{element}")
        if not box.is_selected():
            box.click()
    for i, line in enumerate(lines):
        _choose(driver, f"line-{i}-code", line["code"])
        _type(driver, f"line-{i}-minutes", str(line["minutes"]))
        _type(driver, f"line-{i}-units", str(line["units"]))
        _type(driver, f"line-{i}-patients", str(line.get("patients", 1)))
        _choose(driver, f"line-{i}-outcome", line["outcome"])


def _rows(driver) -> dict[str, dict]:
    wait_for(driver, "table#result")
    rows = {}
    for row in driver.find_elements(*_by("table#result tbody tr")):
        rows[row.get_attribute("data-line")] = {
            "code": row.get_attribute("data-code"),
            "verdict": row.find_element(*_by("td.verdict")).text,
            "billed": int(row.find_element(*_by("td.units-billed")).text),
            "supportable": int(row.find_element(*_by("td.units-supportable")).text.split()[0]),
            "text": row.text}
    return rows


def _api_decision(port: int, payer: str, encounter: dict) -> dict:
    status, _headers, body = post(port, f"/v1/check?payer={payer}&explain=none", json.dumps(encounter).encode())
    assert status == 200, body
    return json.loads(body)


SEEDS_VISIT = [{"code": "97116", "minutes": 22, "units": 1, "outcome": "gait"},
               {"code": "97110", "minutes": 18, "units": 1, "outcome": "strength"}]


@pytest.mark.parametrize("payer, expected", [
    # Medicare totals the visit's timed minutes (40: 3 units; 97116 has the most minutes, so 2), CPT
    # counts each code's own minutes (22: 1 unit; 18: 1 unit): docs/decisions.md
    ("medicare", {"1": 2, "2": 1}),
    ("commercial", {"1": 1, "2": 1}),
])
def test_the_seeds_22_and_18_minute_visit_shows_each_payers_units(site, payer, expected):
    base, driver, port = site
    driver.get(base + "/")
    _fill_visit(driver, payer, SEEDS_VISIT)
    click_and_wait(driver, "check")
    rows = _rows(driver)
    assert {line: row["supportable"] for line, row in rows.items()} == expected
    assert all(row["verdict"].endswith("Supportable") and row["billed"] == 1 for row in rows.values()), rows
    assert payer in driver.find_element("css selector", "p.lead").text
    # the page shows what the API decides for the encounter the page checked (shown on the page)
    checked = json.loads(driver.find_element("id", "claim-json").get_attribute("textContent"))
    api = _api_decision(port, payer, checked)
    assert {l["line"]: l["units"]["supportable"] for l in api["lines"]} == expected
    # the proof opens as a tree down to the encounter's facts; the link reproduces the result
    proof = driver.find_element("id", "proof-1")
    proof.find_element(*_by("summary")).click()
    assert "22 minute(s)" in proof.text
    driver.get(driver.find_element("id", "permalink").get_attribute("href"))
    assert {line: row["supportable"] for line, row in _rows(driver).items()} == expected


def test_a_group_session_shows_97150_suggested(site):
    base, driver, _port = site
    driver.get(base + "/")
    _fill_visit(driver, "base", [{"code": "97110", "minutes": 30, "units": 2, "outcome": "strength", "patients": 3}])
    click_and_wait(driver, "check")
    row = _rows(driver)["1"]
    assert row["verdict"].endswith("Not supportable")
    assert "97150" in driver.find_element(*_by("li.suggested-code")).text
    fixes = driver.find_element("id", "fixes").text
    assert "Bill 97150 instead" in fixes
    # the printed report: the result without the navigation and buttons (the print stylesheet)
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not driver.find_element(*_by("header.site")).is_displayed()
        assert not driver.find_element(*_by("p.noprint")).is_displayed()
        assert driver.find_element("id", "result").is_displayed()
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert driver.find_element(*_by("header.site")).is_displayed()


def test_bad_input_shows_a_readable_message(site):
    base, driver, _port = site
    driver.get(base + "/")
    _fill_visit(driver, "medicare", SEEDS_VISIT)
    _type(driver, "line-0-minutes", "twenty")
    _type(driver, "diagnosis-1", "Q99.999")
    click_and_wait(driver, "check")
    errors = wait_for(driver, "#errors").text
    assert "Line 1 › minutes: `twenty` is not a whole number" in errors
    # the form keeps what was typed, so the person fixes only the mistake
    assert driver.find_element("id", "line-1-minutes").get_attribute("value") == "18"
    _type(driver, "line-0-minutes", "22")
    click_and_wait(driver, "check")
    errors = wait_for(driver, "#errors").text
    assert "Diagnosis 2" in errors and "Q99.999" in errors
    # pasted text that is not JSON
    _type(driver, "encounter_text", "{not json")
    click_and_wait(driver, "check-pasted")
    assert "this is not JSON: line 1, column 2" in wait_for(driver, "#errors").text
    assert "Traceback" not in driver.page_source


def test_diagnoses_are_searched_as_you_type(site):
    base, driver, _port = site
    driver.get(base + "/")
    driver.find_element("id", "diagnosis-0").send_keys("hemiplegia left")
    wait_for(driver, "#dx-list option")
    options = driver.find_elements(*_by("#dx-list option"))
    assert options and all("left" in o.get_attribute("label").lower() for o in options)
    assert any(o.get_attribute("value").startswith("G81") for o in options)


def _cli_audit(corpus: Path, payer: str, folder: Path) -> dict:
    """What `supportable audit` computes for the corpus (one worker process: the server has the other core)."""
    out = subprocess.run([sys.executable, "-m", "supportable.cli", "audit", str(corpus), "--payer", payer,
                          "--output", str(folder / "cli.ndjson"), "--workers", "1", "--summary-json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_corpus_as_a_days_claims_shows_the_totals_the_command_line_computes(site, tmp_path):
    # The Done-when: a batch upload of examples/corpus (all of it) shows the totals the CLI computes.
    base, driver, _port = site
    with ThreadPoolExecutor(1) as pool:          # the command line's own audit, while the browser works
        expected = pool.submit(_cli_audit, CORPUS, "medicare", tmp_path)
        driver.get(base + "/day")
        driver.find_element("id", "claims_file").send_keys(str(CORPUS))
        _choose(driver, "day-payer", "medicare")
        click_and_wait(driver, "start-day")
        wait_for(driver, "#totals-verdict", timeout=600)         # the job page polls until the results are in
        cli = expected.result()
    encounters = sum(1 for line in CORPUS.read_text().splitlines() if line.strip())
    assert cli["encounters"] == encounters == 3000 and cli["decided"] + cli["invalid"] == encounters
    shown = {row.get_attribute("data-verdict"): int(row.find_element(*_by("td.count")).text)
             for row in driver.find_elements(*_by("#totals-verdict tbody tr"))}
    assert shown == {k: cli["by_verdict"].get(k, 0) for k in ("supportable", "needs_documentation", "not_supportable")}
    assert sum(shown.values()) == cli["lines"]
    lead = driver.find_element(*_by("p.lead")).text
    assert f"{encounters} claim(s), {cli['decided']} checked, {cli['invalid']} could not be read" in lead
    reasons = {row.get_attribute("data-reason"): int(row.find_element(*_by("td.count")).text)
               for row in driver.find_elements(*_by("#totals-reason tbody tr[data-reason]"))}
    assert reasons == cli["by_reason"]
    units = cli["units"]
    assert (f"Units billed {units['billed']}, supportable {units['supportable']}, not supportable "
            f"{units['not_supportable']}") in driver.find_element("id", "units").text
    for chart in ("chart-verdicts", "chart-payers", "chart-reasons"):    # the audit report's charts, drawn
        assert driver.find_element(*_by(f"#{chart} svg")).size["height"] > 0
    # filtering by verdict shows that many lines; the CSV download link carries the filter
    _choose(driver, "filter-verdict", "not_supportable")
    click_and_wait(driver, "apply-filters")
    refused = cli["by_verdict"].get("not_supportable", 0)
    assert f"{refused} line(s) shown" in driver.find_element("id", "shown").text
    rows = driver.find_elements(*_by("#day-lines tbody tr"))
    assert len(rows) == min(refused, 500) and all("Not supportable" in r.text for r in rows)
    assert "verdict=not_supportable" in driver.find_element("id", "download").get_attribute("href")


def test_the_form_works_from_the_keyboard_alone(site):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    base, driver, _port = site
    driver.get(base + "/")
    ActionChains(driver).send_keys(Keys.TAB).perform()
    assert driver.switch_to.active_element.text == "Skip to the page"
    # every field is reached and filled by typing: selects by typing an option's start, boxes by space
    keys = {"payer": "commercial", "date_of_service": "03142025", "certified_by": "phys", "certified_on": "03012025",
            "start_of_care": "02242025", "diagnosis-0": "I69.354", "line-0-code": "97116", "line-0-minutes": "22",
            "line-0-units": "1", "line-0-outcome": "gait"}
    for element_id, typed in keys.items():
        field = driver.find_element("id", element_id)
        if field.tag_name == "input" and field.get_attribute("type") != "date":
            field.clear()
        field.send_keys(typed)
    for element in GAIT_DOCUMENTATION:
        driver.find_element("id", f"doc-{element}").send_keys(Keys.SPACE)
    driver.find_element("id", "add-line").send_keys(Keys.ENTER)          # "Add a line" shows line 5
    assert driver.switch_to.active_element.get_attribute("id") == "line-4-code"
    old = driver.find_element("tag name", "html")
    driver.find_element("id", "line-0-units").send_keys(Keys.ENTER)      # Enter in a field submits the form
    from selenium.webdriver.support.ui import WebDriverWait
    from selenium.webdriver.support import expected_conditions
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(old))
    rows = _rows(driver)
    assert rows["1"]["code"] == "97116" and rows["1"]["supportable"] == 1 and rows["1"]["verdict"].endswith("Supportable")
