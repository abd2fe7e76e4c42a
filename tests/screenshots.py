"""A screenshot of every page, for a reviewer to look at: `make screenshots` (written to
var/screenshots/, not committed). Starts the real server (tests/serving.py) and drives headless
Chromium (tests/browser.py) through each page, filling forms as a person would."""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser import chromium, click_and_wait, missing, wait_for  # noqa: E402
from serving import ROOT, running_server  # noqa: E402

WIDTH = 1280


def shoot(driver, folder: Path, name: str) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(WIDTH, min(max(height, 600), 6000))
    time.sleep(0.2)
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(WIDTH, 1000)
    print(path)


def main(out: str) -> int:
    why = missing()
    if why:
        print(f"make screenshots: {why}", file=sys.stderr)
        return 1
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    from selenium.webdriver.support.ui import Select
    with tempfile.TemporaryDirectory() as tmp, \
            running_server(Path(tmp), env={"SUPPORTABLE_WEB_JOBS": str(Path(tmp) / "jobs")}) as (port, _), \
            chromium(WIDTH, 1000) as d:
        base = f"http://127.0.0.1:{port}"
        d.get(base + "/")
        shoot(d, folder, "01-check-a-claim")
        Select(d.find_element("id", "payer")).select_by_value("medicare")
        d.find_element("id", "date_of_service").send_keys("03142025")
        d.find_element("id", "certified_on").send_keys("03012025")
        d.find_element("id", "start_of_care").send_keys("02242025")
        d.find_element("id", "diagnosis-0").send_keys("I69.354")
        d.find_element("id", "doc-gait_impairment").click()
        for i, (code, minutes, outcome) in enumerate([("97116", "22", "gait"), ("97110", "18", "strength"),
                                                      ("97530", "6", "functional_activity")]):
            Select(d.find_element("id", f"line-{i}-code")).select_by_value(code)
            d.find_element("id", f"line-{i}-minutes").send_keys(minutes)
            d.find_element("id", f"line-{i}-units").send_keys("1")
            Select(d.find_element("id", f"line-{i}-outcome")).select_by_value(outcome)
        click_and_wait(d, "check")
        d.find_element("css selector", "#proof-1 summary").click()
        shoot(d, folder, "02-result")
        d.get(base + "/")
        d.find_element("id", "date_of_service").send_keys("03142025")
        Select(d.find_element("id", "line-0-code")).select_by_value("97110")
        d.find_element("id", "line-0-minutes").send_keys("twenty")
        d.find_element("id", "line-0-units").send_keys("1")
        click_and_wait(d, "check")
        shoot(d, folder, "03-check-bad-input")
        day = Path(tmp) / "day.ndjson"
        day.write_text("\n".join((ROOT / "examples/corpus/encounters.jsonl").read_text().splitlines()[:40]) + "\n")
        d.get(base + "/day")
        shoot(d, folder, "04-day-upload")
        d.find_element("id", "claims_file").send_keys(str(day))
        click_and_wait(d, "start-day")
        shoot(d, folder, "05-day-progress")
        wait_for(d, "#totals-verdict", timeout=300)
        shoot(d, folder, "06-day-results")
        d.get(d.find_element("id", "report").get_attribute("href"))       # the audit's report of the upload
        shoot(d, folder, "06-day-report")
        for name, path in [("07-payers", "/payers"), ("08-payer", "/payers/medicare"),
                           ("09-payer-code", "/payers/medicare/codes/97116"),
                           ("10-payer-diff", "/payers/diff?from=commercial&to=medicare"), ("11-analyst", "/analyst?payer=aetna")]:
            d.get(base + path)
            shoot(d, folder, name)
        d.find_element("id", "candidate").clear()
        d.find_element("id", "candidate").send_keys((ROOT / "examples/candidates/aetna_cap_24.yaml").read_text())
        d.find_element("id", "max_encounters").clear()
        d.find_element("id", "max_encounters").send_keys("200")
        click_and_wait(d, "run")
        wait_for(d, "#lint-summary", timeout=600)
        shoot(d, folder, "12-analyst-result")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "var/screenshots"))
