"""Headless Chromium that remembers every request a page made, for tests of what a page sends where.

Uses Debian's chromium and chromedriver (`make browser`). Requests are read from Chrome's DevTools
performance log (`Network.requestWillBeSent`), which has every request the page began: scripts,
stylesheets, fonts, images, frames, fetches and beacons, including those the browser then blocked
(a Content-Security-Policy refusal still shows the page asked).
"""

from __future__ import annotations

import json
import shutil
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

LOCAL_SCHEMES = ("data", "blob", "about")
"""URLs that name content the page already holds, not a server."""


def recording_chromium() -> webdriver.Chrome:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "Debian's chromium and chromium-driver are needed: run `make browser`"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(argument)
    options.add_argument("--lang=ko-KR")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


@pytest.fixture
def browser():
    """A headless Chromium for one test, closed after it."""
    session = recording_chromium()
    yield session
    session.quit()


def requested_urls(browser: webdriver.Chrome) -> list[str]:
    """Every URL the browser asked for since the last call (reading the log empties it)."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(message["params"]["url"])
    return urls


def elsewhere(urls: list[str], origin: str) -> list[str]:
    """The URLs that leave `origin` (scheme, host and port)."""
    own = urlsplit(origin)
    return [
        url
        for url in urls
        if urlsplit(url).scheme not in LOCAL_SCHEMES
        and (urlsplit(url).scheme, urlsplit(url).netloc) != (own.scheme, own.netloc)
    ]


def console_errors(browser: webdriver.Chrome) -> list[str]:
    """The console's errors since the last call (a refused script or style says so here)."""
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
