"""The web page in a real browser (Debian's chromium, driven by selenium), clicked as a
person would: from the story list to a story with copies, open a copy's word diff, on to
the feeds page. Skipped, with the reason, where chromium or its driver is missing (.ci/run
installs both). ``NEWSDEDUP_SCREENSHOTS=DIR`` saves what the browser showed there."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.api.conftest import healthy, populate
from worker.api.app import Served, create_app
from worker.api.server import BackgroundServer
from worker.store.db import Database

pytestmark = pytest.mark.slow
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        pytest.skip(
            f"browser test skipped: {CHROMIUM} or {DRIVER} missing (apt-get install chromium chromium-driver)"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1000,760"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    db.upgrade()
    config = populate(db, tmp_path)
    listen = f"127.0.0.1:{_free_port()}"
    app = create_app(Served(db=db, config=lambda: config, health=healthy, listen=listen))
    server = BackgroundServer(app, listen)
    try:
        yield f"http://{listen}"
    finally:
        server.close()
        db.dispose()


def _shot(driver: Any, name: str) -> None:
    folder = os.environ.get("NEWSDEDUP_SCREENSHOTS")
    if folder:
        driver.save_screenshot(str(Path(folder) / name))


def test_a_person_clicks_from_the_list_to_a_story_and_the_feeds(browser: Any, site: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(site + "/")
    assert browser.title == "Stories · newsdedup"
    items = browser.find_elements(By.CSS_SELECTOR, "ol.stories li")
    assert len(items) >= 5
    # A story three outlets carried: its count says so on the list.
    folded = next(
        li for li in items if li.find_element(By.CLASS_NAME, "count").text.startswith(("3 ", "4 "))
    )
    title = folded.find_element(By.CLASS_NAME, "story-title").text
    _shot(browser, "stories.png")
    folded.find_element(By.CLASS_NAME, "story-title").click()

    assert browser.find_element(By.TAG_NAME, "h1").text == title
    assert browser.find_element(By.CSS_SELECTOR, ".canonical h2").text.startswith("Canonical: ")
    assert len(browser.find_element(By.CSS_SELECTOR, ".canonical .text").text) > 200
    variants = browser.find_elements(By.CSS_SELECTOR, "section.variant")
    assert len(variants) >= 2
    matches = " ".join(v.find_element(By.CLASS_NAME, "match").text for v in variants)
    assert "Jaccard" in matches or "same text" in matches or "same canonical URL" in matches
    diff = variants[0].find_element(By.CLASS_NAME, "diff")
    assert not diff.is_displayed()  # folded until asked for
    variants[0].find_element(By.TAG_NAME, "summary").click()
    assert diff.is_displayed() and diff.text
    browser.execute_script("arguments[0].scrollIntoView()", variants[0])
    _shot(browser, "story.png")

    browser.find_element(By.LINK_TEXT, "Feeds").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Feeds"
    failing = browser.find_element(By.CSS_SELECTOR, "tr.failing")
    assert "gone-away" in failing.text and "failing" in failing.text
    _shot(browser, "feeds.png")

    # The hostile feed's story: its markup is text a person reads, not markup that ran.
    browser.get(site + "/?feed=quay-news")
    browser.find_element(By.CLASS_NAME, "story-title").click()
    assert "<script>" in browser.find_element(By.TAG_NAME, "h1").text
    assert browser.execute_script("return document.querySelectorAll('script, img').length") == 0
