"""The planner page in a real headless Chromium: list, Korean reasons, an override that sticks.

Uses Debian's chromium and chromedriver (`make test` installs them when missing). The screenshot
is kept as a test artifact under tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

from pathlib import Path

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


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
    enter_key(browser, server.keys["planner"], wait)
    # The header says what the served round's health check said when it was scored.
    warnings = server.post("/key_scope", {}, role="planner").json()["round_health"]["warnings"]
    health = browser.find_element(By.ID, "health")
    if warnings:
        assert health.is_displayed() and f"경고 {len(warnings)}건" in health.text
        assert warnings[0][:40] in health.text
    else:
        assert not health.is_displayed()
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
    assert "가구에서 고립·위험 발견 예상 (90 % 범위" in browser.find_element(By.ID, "expected").text
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
    wait.until(lambda b: top not in listed(b, "#list"))
    assert browser.find_element(By.ID, "error").text == ""
    # The save is confirmed in words, and the household is shown as excluded, by whom and why.
    notice = browser.find_element(By.ID, "notice").text
    assert (
        notice.startswith(f"저장했습니다: {top}")
        and "목록에서 제외" in notice
        and "이미 사례관리 중" in notice
    )
    excluded = browser.find_element(By.CSS_SELECTOR, f'#excluded-list tr[data-household="{top}"]')
    assert "이미 사례관리 중" in excluded.text and "test-planner" in excluded.text
    # Ending the exclusion from its row brings the household back to the list.
    excluded.find_element(By.CSS_SELECTOR, "button.record").click()
    wait.until(ready.visibility_of_element_located((By.ID, "record")))
    assert (
        Select(browser.find_element(By.ID, "action")).first_selected_option.get_attribute("value")
        == "withdraw"
    )
    browser.find_element(By.ID, "reason").send_keys("사례 종결")
    browser.find_element(By.ID, "save").click()
    wait.until(lambda b: top in listed(b, "#list"))
    assert "이전 조정 취소" in browser.find_element(By.ID, "notice").text
    assert not browser.find_element(By.ID, "excluded-section").is_displayed()


def listed(browser, table: str) -> list[str]:
    return [
        r.get_attribute("data-household") for r in browser.find_elements(By.CSS_SELECTOR, f"{table} tbody tr")
    ]


def enter_key(browser, key: str, wait: WebDriverWait) -> None:
    """Type the key as a planner does; the district menu fills from the key's scope."""
    browser.find_element(By.ID, "key").send_keys(key)
    wait.until(
        lambda b: len(Select(b.find_element(By.ID, "gu")).options) > 0 and b.find_element(By.ID, "scope").text
    )


def test_a_wrong_key_shows_the_error_in_korean_on_the_page(server, browser) -> None:
    browser.get(server.url + "/planner/")
    browser.find_element(By.ID, "key").send_keys("not-a-key")
    browser.find_element(By.ID, "show").click()
    WebDriverWait(browser, 15).until(
        ready.text_to_be_present_in_element((By.ID, "error"), "알 수 없는 API 키")
    )
    assert "key" not in browser.find_element(By.ID, "error").text.lower().replace("api 키", "")


def test_a_district_key_is_offered_only_its_district_and_an_error_replaces_the_list(server, browser) -> None:
    from tests.support.served import DISTRICT

    wait = WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,))
    browser.get(server.url + "/planner/")
    enter_key(browser, server.keys["district"], wait)
    assert [o.text for o in Select(browser.find_element(By.ID, "gu")).options] == [DISTRICT]
    dongs = [o.get_attribute("value") for o in Select(browser.find_element(By.ID, "dong")).options]
    assert dongs[0] == "" and len(dongs) > 1  # the whole district, then each of its dongs
    assert "최대 20가구" in browser.find_element(By.ID, "scope").text
    browser.find_element(By.ID, "show").click()
    wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, "#list tbody tr")))
    capacity = browser.find_element(By.ID, "capacity")
    capacity.clear()
    capacity.send_keys("30")  # over this key's limit of 20
    browser.execute_script("document.getElementById('capacity').removeAttribute('max')")
    browser.find_element(By.ID, "show").click()
    wait.until(ready.text_to_be_present_in_element((By.ID, "error"), "한도"))
    error = browser.find_element(By.ID, "error").text
    assert error.startswith("방문 가능 가구 수:") and "20가구" in error
    assert not browser.find_element(By.ID, "discovery").is_displayed()  # the old list is gone
    assert browser.find_element(By.ID, "summary").text == ""


def test_a_past_round_is_shown_as_planners_saw_it_with_nothing_to_record(server, browser) -> None:
    from tests.support.served import PREVIOUS

    wait = WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,))
    browser.get(server.url + "/planner/")
    enter_key(browser, server.keys["planner"], wait)
    rounds = [o.get_attribute("value") for o in Select(browser.find_element(By.ID, "round")).options]
    assert rounds[0] == "2026-07-31" and str(PREVIOUS.date()) in rounds
    Select(browser.find_element(By.ID, "round")).select_by_value(str(PREVIOUS.date()))
    browser.find_element(By.ID, "show").click()
    wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, "#list tbody tr")))
    assert browser.find_element(By.ID, "summary").text.startswith("지난 회차")
    assert f"{PREVIOUS.date()} 기준" in browser.find_element(By.ID, "summary").text
    assert browser.find_elements(By.CSS_SELECTOR, "#list button.record") == []
