"""The docs page at `/` and the planner page ask nothing of another server: no tracker, CDN or font.

Both are opened in a real headless Chromium that records every request the page begins (Chrome's
DevTools log, tests/support/browser.py); BentoML's own page at `/` fails here, as it loads Google
Tag Manager. The screenshot is kept under tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

from pathlib import Path

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support.browser import console_errors, elsewhere, requested_urls
from tests.support.served import DISTRICT

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def test_the_docs_page_shows_every_route_and_asks_nothing_of_another_origin(server, browser) -> None:
    documented = set(server.get("/docs.json", role=None).json()["paths"])

    browser.get(server.url + "/")
    shown = By.CSS_SELECTOR, ".opblock-summary-path"
    WebDriverWait(browser, 30).until(lambda b: len(b.find_elements(*shown)) >= len(documented))
    WebDriverWait(browser, 10).until(lambda b: b.execute_script("return document.readyState") == "complete")

    assert {e.get_attribute("data-path") for e in browser.find_elements(*shown)} == documented
    assert {"/score", "/rank", "/outcomes", "/planner/export.{kind}"} <= documented
    requested = requested_urls(browser)
    # The log did record the page's own requests, so an empty list below means none went elsewhere.
    assert {server.url + "/docs.json", server.url + "/static_content/swagger-ui-bundle.js"} <= set(requested)
    assert elsewhere(requested, server.url) == []
    assert console_errors(browser) == []  # nothing refused by the page's Content-Security-Policy
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "docs_page.png"))


def test_the_planner_page_asks_nothing_of_another_origin_while_showing_a_list(server, browser) -> None:
    browser.get(server.url + "/planner/")
    browser.find_element(By.ID, "key").send_keys(server.keys["planner"])
    wait = WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,))
    # The district menu may fill only once the page has asked what the key may see.
    wait.until(lambda b: DISTRICT in [o.text for o in Select(b.find_element(By.ID, "gu")).options])
    Select(browser.find_element(By.ID, "gu")).select_by_visible_text(DISTRICT)
    browser.find_element(By.ID, "show").click()
    wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, "#list tbody tr")))

    requested = requested_urls(browser)
    assert {server.url + "/planner/", server.url + "/rank"} <= set(requested)
    assert elsewhere(requested, server.url) == []


def test_the_docs_page_is_public_and_tells_the_browser_to_load_from_the_service_only(server) -> None:
    page = server.get("/", role=None)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src" not in policy  # scripts: 'self' only
    assert "googletagmanager" not in page.text
    for name in ("swagger-ui.css", "swagger-ui-bundle.js", "docs_page.js"):
        assert server.get("/static_content/" + name, role=None).status_code == 200, name


def test_bentomls_own_page_files_are_no_longer_served(server) -> None:
    for name in ("index.css", "swagger-initializer.js", "favicon-light-32x32.png", ""):
        answer = server.get("/static_content/" + name, role=None)
        assert answer.status_code == 404 and answer.json()["field"] == "path", name


def test_a_bento_packs_the_docs_page() -> None:
    from serving.api.bento import INCLUDE, ROOT
    from serving.http.docs_page import PAGE, START

    packed = {path for pattern in INCLUDE for path in ROOT.glob(pattern)}
    assert {PAGE.resolve(), START.resolve()} <= packed
