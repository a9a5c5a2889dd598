"""The one form that changes a version: aliases and tags. Offered to a write key and saved
in the store; not offered to a read key, and refused (nothing changed) when posted anyway,
or posted without the form's CSRF token."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from browser.conftest import Web
from browser.web import By, click_link, follow, form_token, heading, session_cookie, sign_in
from quire.store import close_stores, open_store

pytestmark = pytest.mark.browser

EDITABLE = ("vision", "editable")


def in_store(web: Web, version: str) -> tuple[list[str], list[str]]:
    """The aliases and tags of ``vision/editable:<version>`` as the store behind the server holds them."""
    try:
        record = open_store(web.behind).catalog.version(*EDITABLE, version)
        return sorted(record.aliases), sorted(record.tags)
    finally:
        close_stores()


def edit_url(web: Web, version: str) -> str:
    return f"{web.url}/p/vision/editable/{version}/edit"


def test_a_write_key_edits_aliases_and_tags(browser: Any, web: Web) -> None:
    sign_in(browser, web.url, web.write)
    click_link(browser, "vision")
    click_link(browser, "editable", "table#collections")
    click_link(browser, "v0", "table#versions")
    form = browser.find_element(By.CSS_SELECTOR, "form#edit-version")
    aliases = form.find_element(By.NAME, "aliases")
    assert [a.strip() for a in str(aliases.get_attribute("value")).split(",")] == ["first"]
    aliases.clear()
    aliases.send_keys("first, reviewed candidate")
    tags = form.find_element(By.NAME, "tags")
    tags.clear()
    tags.send_keys("checked")
    follow(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))

    assert in_store(web, "v0") == (["first", "reviewed candidate"], ["checked"])
    assert heading(browser).startswith("editable:v0")  # back on the version's page, which shows them
    badges = browser.find_element(By.CSS_SELECTOR, "main#content").text
    assert "reviewed candidate" in badges and "checked" in badges
    # the new alias names the version
    browser.get(web.url + "/p/vision/editable/reviewed%20candidate")
    assert heading(browser).startswith("editable:v0")


def test_a_read_key_is_not_offered_the_form_and_is_refused_when_it_posts(browser: Any, web: Web) -> None:
    before = in_store(web, "v1")
    sign_in(browser, web.url, web.read)
    browser.get(web.url + "/p/vision/editable/v1")
    assert heading(browser).startswith("editable:v1")
    assert not browser.find_elements(By.CSS_SELECTOR, "form#edit-version")
    # posted anyway, as the browser would: its session cookie and its (valid) CSRF token
    fields = {"aliases": "stolen", "tags": "stolen", "csrf": form_token(browser)}
    with httpx.Client(cookies=session_cookie(browser)) as client:
        answer = client.post(edit_url(web, "v1"), data=fields)
    assert answer.status_code == 403, answer.text
    assert "<h1>" in answer.text  # a page saying why, not a bare error
    with httpx.Client(headers={"authorization": f"Bearer {web.read}"}) as client:
        assert client.post(edit_url(web, "v1"), data=fields).status_code == 403
    assert in_store(web, "v1") == before


@pytest.mark.parametrize("token", [None, "", "0" * 40], ids=["no token", "empty token", "wrong token"])
def test_a_form_without_its_csrf_token_is_refused(browser: Any, web: Web, token: str | None) -> None:
    before = in_store(web, "v1")
    sign_in(browser, web.url, web.write)
    browser.get(web.url + "/p/vision/editable/v1")
    assert browser.find_elements(By.CSS_SELECTOR, "form#edit-version")  # this key may edit...
    fields = {"aliases": "forged", "tags": "forged"}
    if token is not None:
        fields["csrf"] = token
    with httpx.Client(cookies=session_cookie(browser)) as client:
        answer = client.post(edit_url(web, "v1"), data=fields)
    assert answer.status_code in (400, 403), answer.text  # ...but not without the form's token
    assert in_store(web, "v1") == before
