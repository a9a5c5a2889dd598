"""The pages at phone width and from the keyboard: nothing wider than the screen (wide
tables scroll in their own box), and the first Tab reaches the skip link."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from browser.conftest import WINDOW, Web
from browser.web import By, Keys, follow, heading, sign_in

pytestmark = pytest.mark.browser

PHONE = (390, 844)
PAGES = [
    "/",
    "/p/vision",
    "/p/vision/images",
    "/p/vision/images/v1",
    "/p/vision/images/v2/files/data",
    "/p/vision/images/v2/preview/data/scores.table.parquet",
    "/p/vision/images/v2/diff?against=v0",
    "/p/vision/classifier/v0/lineage",
    "/p/vision/~runs",
    "/p/vision/~pending",
]


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """The browser with a phone's viewport (the page's own width, not the window's)."""
    metrics = {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        yield browser
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        browser.set_window_size(*WINDOW)


def test_no_page_is_wider_than_a_phone(phone: Any, web: Web) -> None:
    sign_in(phone, web.url, web.read)
    wide = {}
    for path in [*PAGES, f"/p/vision/~runs/{web.facts['train_run']}"]:
        phone.get(web.url + path)
        width = phone.execute_script("return document.documentElement.scrollWidth")
        if width > PHONE[0]:
            wide[path] = width
    assert wide == {}  # page → its width, of those that scroll sideways as a whole


def test_the_first_tab_reaches_the_skip_link(browser: Any, web: Web) -> None:
    sign_in(browser, web.url, web.read)
    browser.get(web.url + "/p/vision/images/v1")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    focused = browser.switch_to.active_element
    assert focused.get_attribute("href") == web.url + "/p/vision/images/v1#content"
    focused.send_keys(Keys.ENTER)
    assert browser.current_url.endswith("#content")


def test_a_link_is_followed_from_the_keyboard(browser: Any, web: Web) -> None:
    sign_in(browser, web.url, web.read)
    link = browser.find_element(By.CSS_SELECTOR, "main#content").find_element(By.LINK_TEXT, "vision")
    follow(browser, link, keys=Keys.ENTER)  # no mouse
    assert heading(browser) == "vision"
