"""The planner page's map in a real headless Chromium: the district's outline and its dongs, each
with its listed households and expected finds; a dong chosen on the map filters the lists; an
admin key also sees Seoul's 25 districts by listed households per 1,000; no code is shown without
its name; a page whose map cannot load keeps its lists."""

from __future__ import annotations

import re
import time

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from features.reference import dongs
from tests.serving.api.test_planner_page import ARTIFACTS, enter_key

GU, CAPACITY = "송파구", 100
CODE = re.compile(r"(?<!\d)11\d{8}(?!\d)")
"""A 10-digit Seoul dong code standing alone in the page's text."""


def _ask(browser, wait: WebDriverWait, gu: str, capacity: int) -> float:
    """Ask for a district's lists as a planner does; seconds until the lists and the map are drawn."""
    Select(browser.find_element(By.ID, "gu")).select_by_visible_text(gu)
    field = browser.find_element(By.ID, "capacity")
    field.clear()
    field.send_keys(str(capacity))
    started = time.perf_counter()
    browser.find_element(By.ID, "show").click()
    wait.until(
        lambda b: (
            b.find_elements(By.CSS_SELECTOR, "#map g.dong")
            and b.find_element(By.ID, "map-figure").is_displayed()
        )
    )
    return time.perf_counter() - started


def test_the_district_map_counts_each_dongs_listed_households_and_filters_the_lists(server, browser) -> None:
    wait = WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,))
    browser.get(server.url + "/planner/")
    enter_key(browser, server.keys["admin"], wait)
    seconds = _ask(browser, wait, GU, CAPACITY)
    ranked = server.post("/rank", {"request": {"gu": GU, "capacity": CAPACITY}}, role="admin").json()
    own = dongs()[dongs()["gu"] == GU]
    drawn = browser.find_elements(By.CSS_SELECTOR, "#map g.dong")
    unplaced = browser.find_elements(By.CSS_SELECTOR, "#map-unplaced button")
    assert len(drawn) + len(unplaced) == len(own)
    listed = {g.get_attribute("data-dong"): int(g.get_attribute("data-listed")) for g in drawn}
    on_lists = [h["dong_code"] for h in ranked["households"]]
    assert sum(listed.values()) == sum(1 for code in on_lists if code in listed)
    for code, count in listed.items():
        assert count == on_lists.count(code), code
    busiest = max(listed, key=listed.get)
    name = own.set_index("dong_code").loc[busiest, "dong_name"]
    tip = browser.find_element(By.CSS_SELECTOR, f'#map g.dong[data-dong="{busiest}"] title')
    assert tip.get_attribute("textContent").startswith(f"{name}: 목록 {listed[busiest]}가구 · 예상 발견 약 ")
    page_text = browser.find_element(By.TAG_NAME, "body").text
    assert CODE.findall(page_text) == [], "a dong code is shown without its name"

    # Seoul for an admin key: every district, shaded by its listed households per 1,000.
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#city path.district")) == 25)
    shades = {
        p.get_attribute("data-gu"): float(p.get_attribute("data-per-1000"))
        for p in browser.find_elements(By.CSS_SELECTOR, "#city path.district")
    }
    city = server.get(f"/planner/city?capacity={CAPACITY}", role="admin").json()
    assert shades == {d["gu"]: d["per_1000"] for d in city["districts"]}
    assert (
        sum(d["listed"] for d in city["districts"])
        == city["listed"]
        == min(CAPACITY * 25, sum(d["households"] for d in city["districts"]))
    )

    ARTIFACTS.mkdir(exist_ok=True)
    browser.set_window_size(1400, 1300)
    browser.save_screenshot(str(ARTIFACTS / "planner_map.png"))
    print(f"{GU} at capacity {CAPACITY}: lists and map drawn in {seconds:.2f} s")

    # The busiest dong chosen on the map: the lists are that dong's.
    browser.find_element(By.CSS_SELECTOR, f'#map g.dong[data-dong="{busiest}"]').click()
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, f'#map g.dong.chosen[data-dong="{busiest}"]'))
    assert Select(browser.find_element(By.ID, "dong")).first_selected_option.text == name
    cells = {td.text for td in browser.find_elements(By.CSS_SELECTOR, "#list tbody tr td:nth-child(3)")}
    assert cells == {name}
    assert name in browser.find_element(By.ID, "summary").text


def test_a_planner_key_sees_its_district_map_but_not_the_city(server, browser) -> None:
    from tests.support.served import DISTRICT

    wait = WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,))
    browser.get(server.url + "/planner/")
    enter_key(browser, server.keys["district"], wait)
    _ask(browser, wait, DISTRICT, 10)
    assert not browser.find_element(By.ID, "city-figure").is_displayed()
    assert server.get("/planner/city?capacity=10", role="district").status_code == 403
    choices = [o.text for o in Select(browser.find_element(By.ID, "dong")).options]
    assert choices[0] == "구 전체" and not any(CODE.search(c) for c in choices)  # dongs by name


def test_a_page_whose_map_cannot_load_says_so_and_keeps_its_lists(server, browser) -> None:
    wait = WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,))
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/planner/map*", "*/planner/city*"]})
    browser.get(server.url + "/planner/")
    enter_key(browser, server.keys["admin"], wait)
    Select(browser.find_element(By.ID, "gu")).select_by_visible_text(GU)
    browser.find_element(By.ID, "show").click()
    wait.until(ready.text_to_be_present_in_element((By.ID, "map-note"), "지도를 표시할 수 없습니다"))
    assert browser.find_elements(By.CSS_SELECTOR, "#list tbody tr")
    assert browser.find_element(By.ID, "error").text == ""
    assert "목록은 그대로" in browser.find_element(By.ID, "city-note").text


def test_the_map_route_refuses_what_it_cannot_draw(server) -> None:
    unknown = server.get("/planner/map?gu=해운대구", role="planner")
    assert unknown.status_code == 422 and unknown.json()["field"] == "gu"
    outside = server.get("/planner/map?gu=강남구", role="district")
    assert outside.status_code == 403 and outside.json()["code"] == "outside_scope"
    drawn = server.get(f"/planner/map?gu={GU}", role="planner").json()
    assert [d["name"] for d in drawn["dongs"]] == dongs()[dongs()["gu"] == GU]["dong_name"].tolist()


def test_every_dong_in_the_scored_round_is_one_of_seouls_with_its_name(server) -> None:
    import pandas as pd

    from features.reference import dong_districts
    from serving.scoring.rounds import scores_path
    from tests.support.served import ROUND

    scored = pd.read_parquet(
        scores_path(server.served.data, ROUND, server.served.version), columns=["gu", "dong_code"]
    )
    assert scored["dong_code"].notna().all()
    assert scored["dong_code"].map(dong_districts()).eq(scored["gu"]).all()
