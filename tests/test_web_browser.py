"""The web pages in a real browser: headless Chromium (Debian's, through Selenium and Debian's
chromedriver, tests/browser.py) against the real gunicorn server (tests/serving.py). One server and
one browser session for the module, so the tests stay few and quick."""
from __future__ import annotations

import pytest

from browser import chromium, require_browser, wait_for
from serving import running_server


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    require_browser()
    tmp = tmp_path_factory.mktemp("web")
    with running_server(tmp, workers=2, threads=2) as (port, _proc), chromium() as driver:
        yield f"http://127.0.0.1:{port}", driver


def test_the_browser_renders_the_api_documentation(site):
    base, driver = site
    driver.get(base + "/docs")
    assert wait_for(driver, ".swagger-ui .title", "Supportable")     # Swagger UI ran its script
