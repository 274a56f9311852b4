"""The planner page in a real headless Chromium: list, Korean reasons, an override that sticks.

Uses Debian's chromium and chromedriver (`make test` installs them when missing). The screenshot
is kept as a test artifact under tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture
def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "Debian's chromium and chromium-driver are needed: run `make test`"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(argument)
    options.add_argument("--lang=ko-KR")
    session = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    yield session
    session.quit()


def test_planner_sees_both_lists_with_korean_reasons_and_records_an_override(server, browser) -> None:
    import pandas as pd

    from serving.scoring.rounds import scores_path
    from tests.support.served import ROUND, found_within_a_year

    scored = pd.read_parquet(scores_path(server.served.data, ROUND, server.served.version))
    gu = scored["gu"].value_counts().index[0]
    district = scored[scored["gu"] == gu].sort_values("rank")
    found = found_within_a_year(server.served.data)
    expected = district[~district["household_id"].isin(found)]

    # The table is rebuilt after every save: an element read mid-rebuild is stale, not an error.
    wait = WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,))
    browser.get(server.url + "/planner/")
    browser.find_element(By.ID, "key").send_keys(server.keys["planner"])
    Select(browser.find_element(By.ID, "gu")).select_by_visible_text(gu)
    capacity = browser.find_element(By.ID, "capacity")
    capacity.clear()
    capacity.send_keys("8")
    recheck = browser.find_element(By.ID, "recheck")
    recheck.clear()
    recheck.send_keys("3")
    browser.find_element(By.ID, "show").click()
    wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, "#list tbody tr")))

    rows = browser.find_elements(By.CSS_SELECTOR, "#list tbody tr")
    assert [r.get_attribute("data-household") for r in rows] == expected["household_id"].head(5).tolist()
    first_reason = rows[0].find_element(By.CSS_SELECTOR, "ol.reasons li").text
    assert first_reason == expected["reasons"].iloc[0][0]["text_ko"]
    assert "발굴:" in rows[0].find_element(By.CSS_SELECTOR, "div.why").text
    rechecked = browser.find_elements(By.CSS_SELECTOR, "#recheck-list tbody tr")
    known = min(3, len(set(district["household_id"]) & found))
    assert known >= 1 and len(rechecked) == known
    assert all(r.get_attribute("data-household") in found for r in rechecked)
    assert all("재확인:" in r.find_element(By.CSS_SELECTOR, "div.why").text for r in rechecked)
    summary = browser.find_element(By.ID, "summary").text
    assert "기준" in summary and f"발굴 5 / 재확인 {known}" in summary
    assert "이미 발견된 가구" in summary and "(최근 12개월)" in summary
    ARTIFACTS.mkdir(exist_ok=True)
    size = browser.get_window_size()
    browser.set_window_size(1400, 1950)  # both lists in the picture (README: docs/planner.png)
    browser.save_screenshot(str(ARTIFACTS / "planner_page.png"))
    browser.set_window_size(size["width"], size["height"])

    # Exclude the top household with a reason; the list reloads without it.
    top = expected["household_id"].iloc[0]
    rows[0].find_element(By.CSS_SELECTOR, "button.record").click()
    wait.until(ready.visibility_of_element_located((By.ID, "record")))
    Select(browser.find_element(By.ID, "action")).select_by_value("exclude")
    browser.find_element(By.ID, "reason").send_keys("이미 사례관리 중")
    browser.find_element(By.ID, "save").click()
    wait.until(
        lambda b: (
            top
            not in [
                r.get_attribute("data-household") for r in b.find_elements(By.CSS_SELECTOR, "#list tbody tr")
            ]
        )
    )
    assert browser.find_element(By.ID, "error").text == ""
    # Tidy up for other tests sharing the server: withdraw the decision (also append-only).
    server.post(
        "/outcomes",
        {"request": {"overrides": [{"household_id": top, "action": "withdraw", "reason": "test"}]}},
        role="planner",
    )


def test_a_wrong_key_shows_the_error_on_the_page(server, browser) -> None:
    browser.get(server.url + "/planner/")
    browser.find_element(By.ID, "key").send_keys("not-a-key")
    browser.find_element(By.ID, "show").click()
    WebDriverWait(browser, 15).until(ready.text_to_be_present_in_element((By.ID, "error"), "API key"))
