"""Headless Chromium for the browser tests: Debian's ``chromium`` driven through Debian's
``chromium-driver`` by Selenium (requirements-browser.lock, installed by ``make browser``, which
``make test`` runs). Selenium is pointed at /usr/bin/chromedriver and told it is offline, so it never
downloads a browser or a driver. Without the browser a test skips, except under CI=true, where it
fails: a CI run that did not drive a browser must not look green."""
from __future__ import annotations

import contextlib
import os
import shutil
import time

import pytest

CHROMIUM = os.environ.get("SUPPORTABLE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SUPPORTABLE_CHROMEDRIVER", "/usr/bin/chromedriver")
WAIT = 30.0       # a deadline for the page to get somewhere, never an assertion on how long it took


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(path) or shutil.which(path)):
            return f"{path} is missing (apt-get install chromium chromium-driver, or `make browser`)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (`make browser` installs requirements-browser.lock)"
    return None


def require_browser() -> None:
    why = missing()
    if why is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the browser tests cannot run under CI: {why}")
    pytest.skip(why)


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 1000):
    """One headless Chromium session (a WebDriver)."""
    os.environ.setdefault("SE_OFFLINE", "true")          # Selenium Manager: never fetch anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--no-sandbox", "--headless=new", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--lang=en-US"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver, css: str, text: str | None = None, timeout: float = WAIT):
    """The first element matching ``css`` (whose text contains ``text``, if given), waited for."""
    from selenium.webdriver.common.by import By
    deadline = time.monotonic() + timeout
    while True:
        for element in driver.find_elements(By.CSS_SELECTOR, css):
            try:
                if text is None or text in element.text:
                    return element
            except Exception:      # the element went stale while the page changed: look again
                pass
        if time.monotonic() > deadline:
            body = driver.find_element(By.TAG_NAME, "body").text[:2000]
            raise AssertionError(f"no `{css}`{f' with {text!r}' if text else ''} on {driver.current_url}: {body}")
        time.sleep(0.1)


def click_and_wait(driver, element_id: str, timeout: float = WAIT) -> None:
    """Click a button that submits a form or follows a link, and wait until the next page replaced this one."""
    from selenium.common.exceptions import StaleElementReferenceException
    old = driver.find_element("tag name", "html")
    driver.find_element("id", element_id).click()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            old.tag_name
        except StaleElementReferenceException:
            return
        time.sleep(0.05)
    raise AssertionError(f"clicking #{element_id} did not lead to a new page")
