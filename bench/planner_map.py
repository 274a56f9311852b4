"""Benchmark: the planner page's lists and map drawn in headless Chromium, against the same page
with its map routes blocked (the lists alone), measured in the same run.

    uv run python bench/planner_map.py --data data/demo          (after `make demo`)
    uv run python bench/planner_map.py --data data/demo --gu 송파구 --capacity 100 --repeats 5

It starts the real service (`bentoml serve`) on the data directory's champion and served round,
with a throw-away admin key (so the city view is drawn too), opens /planner/ in Debian's headless
Chromium (`make browser`), and times from the click on 목록 보기 until the lists and the district's
dongs (and, for the admin key, Seoul's districts) are on the page, polled every 5 ms: the first time
(outlines fetched) and again (outlines cached by the page; the city view is asked for each time).
The baseline blocks /planner/map and /planner/city in the browser, so the page draws the lists and
says the map is unavailable: the ratio is what the map adds. Target (issue 35): 송파구 at capacity
100 in ≤ 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 2.0


def _drawn(browser, gu: str, capacity: int, with_map: bool) -> float:
    """Seconds from the click until the lists (and, with the map, every placed dong) are drawn."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    Select(browser.find_element(By.ID, "gu")).select_by_visible_text(gu)
    field = browser.find_element(By.ID, "capacity")
    field.clear()
    field.send_keys(str(capacity))
    browser.execute_script("document.getElementById('list').querySelector('tbody').replaceChildren()")
    started = time.perf_counter()
    browser.find_element(By.ID, "show").click()

    def done(b) -> bool:
        if not b.find_elements(By.CSS_SELECTOR, "#list tbody tr"):
            return False
        if with_map:  # the district's dongs and, for this admin key, Seoul's 25 districts
            return bool(b.find_elements(By.CSS_SELECTOR, "#map g.dong")) and (
                len(b.find_elements(By.CSS_SELECTOR, "#city path.district")) == 25
            )
        return "표시할 수 없습니다" in b.find_element(By.ID, "city-note").text

    WebDriverWait(browser, 60, poll_frequency=0.005).until(done)
    return time.perf_counter() - started


def _session(url: str, key: str, blocked: bool):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from tests.support.browser import recording_chromium

    browser = recording_chromium()
    if blocked:
        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/planner/map*", "*/planner/city*"]})
    browser.get(url + "/planner/")
    browser.find_element(By.ID, "key").send_keys(key)
    WebDriverWait(browser, 30).until(  # the district menu filled from the key's scope
        lambda b: len(Select(b.find_element(By.ID, "gu")).options) > 0 and b.find_element(By.ID, "scope").text
    )
    return browser


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "demo")
    parser.add_argument("--gu", default="송파구")
    parser.add_argument("--capacity", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--screenshot", type=Path, help="Also save the page with its map here (README).")
    arguments = parser.parse_args()

    from serving.keys.key_file import add_key
    from serving.scoring.rounds import scored_rounds
    from tests.support.local_server import bentoml_server, service_environment

    data = arguments.data.resolve()
    rounds = scored_rounds(data)
    if not rounds:
        raise SystemExit(f"no scored round under {data}/_scores: run `make demo` (or anbu score) first")
    folder = Path(tempfile.mkdtemp(prefix="anbu-bench-map-"))
    key = add_key(folder / "keys.toml", "bench", "admin")
    with bentoml_server(
        "serving.api.service:Anbu",
        service_environment(data, folder, as_of=str(rounds[-1].date())),
        folder / "server.log",
        working_dir=ROOT,
        ready_within=600,
    ) as url:
        times: dict[str, list[float]] = {}
        for name, blocked in (("lists only (map routes blocked), baseline", True), ("lists and map", False)):
            first, again = [], []
            for _ in range(arguments.repeats):
                browser = _session(url, key, blocked)
                try:
                    first.append(_drawn(browser, arguments.gu, arguments.capacity, not blocked))
                    again.append(_drawn(browser, arguments.gu, arguments.capacity, not blocked))
                finally:
                    browser.quit()
            times[f"{name}: first"] = first
            times[f"{name}: again"] = again
        if arguments.screenshot:
            browser = _session(url, key, blocked=False)
            try:
                _drawn(browser, arguments.gu, arguments.capacity, with_map=True)
                browser.set_window_size(1400, 1250)
                time.sleep(0.5)  # the city view follows the district's
                browser.save_screenshot(str(arguments.screenshot))
            finally:
                browser.quit()

    baseline = statistics.median(times["lists only (map routes blocked), baseline: first"])
    print(
        f"{arguments.gu}, capacity {arguments.capacity}, round {rounds[-1].date()}, {arguments.repeats} page loads each"
    )
    print()
    print("| page | median s | worst s | ÷ lists only | target |")
    print("|---|---:|---:|---:|---|")
    for name in (
        "lists only (map routes blocked), baseline: first",
        "lists only (map routes blocked), baseline: again",
        "lists and map: first",
        "lists and map: again",
    ):
        values = times[name]
        worst = max(values)
        target = (
            f"≤ {TARGET_SECONDS:.0f} s {'✓' if worst <= TARGET_SECONDS else '✗'}" if "map:" in name else ""
        )
        print(
            f"| {name} | {statistics.median(values):.2f} | {worst:.2f} | "
            f"{statistics.median(values) / baseline:.2f} | {target} |"
        )


if __name__ == "__main__":
    main()
