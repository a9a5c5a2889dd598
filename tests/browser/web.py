"""What a test does in the browser: sign in, click a link and wait for the next page, read
what a page shows. Every wait is bounded by ``patience`` (a page is one request to a
server on loopback: a fresh process's worth of work at most)."""

from __future__ import annotations

from typing import Any

import pytest

# Without selenium (the test extra's) the modules that import this one are skipped.
pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[test]')")

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from support import patience

__all__ = ["By", "Keys"]  # for the tests, which import selenium only through this module


def wait(driver: Any, *ignored: type[Exception]) -> WebDriverWait[Any]:
    return WebDriverWait(driver, patience(1), ignored_exceptions=ignored or None)


def follow(driver: Any, element: WebElement, keys: str | None = None) -> None:
    """Click ``element`` (a link, a submit button), or type ``keys`` on it (focused: Enter
    follows a link), and wait until the next page has loaded.

    The page clicked on is marked (a property of its ``window``): the next page is loaded
    when the window has no mark and its document is complete. (Waiting for the old page's
    elements to go stale instead races the navigation: mid-way chromium answers with an
    "unknown error", not a stale element.)"""
    driver.execute_script("window.__quire_left = true")
    if keys is None:
        element.click()
    else:
        element.send_keys(keys)
    loaded = "return window.__quire_left === undefined && document.readyState === 'complete'"
    wait(driver, WebDriverException).until(lambda d: d.execute_script(loaded))


def click_link(driver: Any, text: str, within: str = "#content", partial: bool = False) -> None:
    """Follow the link reading ``text`` (or, ``partial``, starting with it) inside the
    element ``within`` (a CSS selector)."""
    by = By.PARTIAL_LINK_TEXT if partial else By.LINK_TEXT
    follow(driver, driver.find_element(By.CSS_SELECTOR, within).find_element(by, text))


def sign_in(driver: Any, base: str, key: str) -> None:
    """Sign in through the form at ``/signin``, as a person would (type the key, press the button)."""
    driver.get(base + "/signin")
    form = driver.find_element(By.CSS_SELECTOR, "form#signin")
    form.find_element(By.NAME, "key").send_keys(key)
    follow(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit], input[type=submit]"))


def heading(driver: Any) -> str:
    return str(driver.find_element(By.TAG_NAME, "h1").text)


def content(driver: Any) -> str:
    """The text ``<main id="content">`` shows (rendered text: what a reader sees)."""
    return str(driver.find_element(By.CSS_SELECTOR, "main#content").text)


def table_rows(driver: Any, table: str) -> list[list[str]]:
    """The text of each body cell of ``table#<table>``, row by row."""
    rows = driver.find_elements(By.CSS_SELECTOR, f"table#{table} tbody tr")
    return [[cell.text for cell in row.find_elements(By.CSS_SELECTOR, "td, th")] for row in rows]


def table_header(driver: Any, table: str) -> list[str]:
    return [th.text for th in driver.find_elements(By.CSS_SELECTOR, f"table#{table} thead th")]


def session_cookie(driver: Any) -> dict[str, str]:
    """The browser's cookies for the server (to make a request outside the browser as it would)."""
    return {c["name"]: c["value"] for c in driver.get_cookies()}


def form_token(driver: Any) -> str:
    """The CSRF token of this page's forms (the sign-out form carries it on every page)."""
    return str(driver.find_element(By.CSS_SELECTOR, "form#signout input[name=csrf]").get_attribute("value"))


def pwned(driver: Any) -> object:
    """What a hostile script would have set (None while none ran)."""
    return driver.execute_script("return window.__pwned")
