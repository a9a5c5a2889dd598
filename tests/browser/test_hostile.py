"""A hostile artifact in the browser: markup and script in file and folder names, metadata,
the description, an alias, a text file and a Markdown file (a script tag, an ``onerror``
image, a ``javascript:`` link). Every page shows it as text and runs none of it.

The pages' Content-Security-Policy would stop an inline script that got through, so
``window.__pwned`` staying unset is not enough: each page is also checked for the elements
the markup would have made (a script, an element with ``onerror``, a ``javascript:`` link),
and for the markup shown as the literal text it is.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from browser.conftest import Web
from browser.demo import IMG, ODD_NAMES, SCRIPT
from browser.web import By, click_link, content, heading, pwned, sign_in

pytestmark = pytest.mark.browser


def assert_inert(browser: Any) -> None:
    """Nothing of the hostile markup became an element, and no script of it ran."""
    assert pwned(browser) is None
    made = browser.execute_script(
        """return {
            scripts: Array.from(document.scripts).map(s => s.outerHTML),
            handlers: Array.from(document.querySelectorAll('[onerror], [onload], [onclick]')).map(e => e.outerHTML),
            links: Array.from(document.querySelectorAll('a[href]'))
                .filter(a => a.protocol === 'javascript:').map(a => a.outerHTML),
            broken: Array.from(document.querySelectorAll('img[src="x"]')).map(e => e.outerHTML),
        }"""
    )
    assert made == {"scripts": [], "handlers": [], "links": [], "broken": []}


def open_hostile(browser: Any, web: Web) -> None:
    sign_in(browser, web.url, web.read)
    click_link(browser, "vision")
    click_link(browser, "hostile", "table#collections")
    assert_inert(browser)  # the collection page lists the hostile alias


def test_the_version_page_shows_markup_as_text(browser: Any, web: Web) -> None:
    open_hostile(browser, web)
    click_link(browser, "v0", "table#versions")
    assert heading(browser).startswith("hostile:v0")
    assert_inert(browser)
    shown = content(browser)
    assert SCRIPT in shown  # the description, and a metadata key
    assert IMG in shown  # the alias, and metadata values (JSON escapes the quotes there)


def test_the_files_page_and_a_hostile_folder_show_names_as_text(browser: Any, web: Web) -> None:
    open_hostile(browser, web)
    click_link(browser, "v0", "table#versions")
    click_link(browser, "Files")
    assert_inert(browser)
    names = {a.text for a in browser.find_elements(By.CSS_SELECTOR, "table#files a")}
    folder = SCRIPT.split("/")[0]  # the path's slash makes a folder of its first part
    assert {f"{IMG}.txt", "notes.md", "evil.txt", folder + "/"} <= names
    click_link(browser, folder + "/", "table#files")
    assert_inert(browser)
    click_link(browser, "script>.md", "table#files")
    assert_inert(browser)
    assert browser.find_element(By.CSS_SELECTOR, "section#preview").get_attribute("data-kind") == "markdown"


@pytest.mark.parametrize("name", ["notes.md", "evil.txt", f"{IMG}.txt"])
def test_a_hostile_preview_runs_nothing(browser: Any, web: Web, name: str) -> None:
    open_hostile(browser, web)
    click_link(browser, "v0", "table#versions")
    click_link(browser, "Files")
    click_link(browser, name, "table#files")
    assert_inert(browser)
    preview = browser.find_element(By.CSS_SELECTOR, "section#preview")
    assert SCRIPT in preview.text  # shown, as the characters it is made of
    if name.endswith(".md"):
        assert preview.get_attribute("data-kind") == "markdown"
        assert preview.find_element(By.CSS_SELECTOR, "h1, h2").text == "Hostile notes"  # still rendered
        assert IMG in preview.text
    else:
        assert preview.get_attribute("data-kind") == "text"
    assert name in content(browser)  # the file's name, as text, in its heading


@pytest.mark.parametrize("name", ["evil.svg", "evil.html"])
def test_a_page_or_picture_of_script_is_not_rendered(browser: Any, web: Web, name: str) -> None:
    open_hostile(browser, web)
    click_link(browser, "v0", "table#versions")
    click_link(browser, "Files")
    click_link(browser, name, "table#files")
    assert_inert(browser)
    preview = browser.find_element(By.CSS_SELECTOR, "section#preview")
    assert not preview.find_elements(By.CSS_SELECTOR, "svg, iframe, object, embed")  # nothing of the file as markup


@pytest.mark.parametrize("name", ODD_NAMES)
def test_a_file_whose_name_a_url_must_encode_is_reached_by_its_link(browser: Any, web: Web, name: str) -> None:
    open_hostile(browser, web)
    click_link(browser, "v0", "table#versions")
    click_link(browser, "Files")
    click_link(browser, name, "table#files")
    assert browser.find_element(By.CSS_SELECTOR, "section#preview").text.strip() == f"the file {name}"
    download = browser.find_element(By.CSS_SELECTOR, "main#content").find_element(By.LINK_TEXT, "download")
    with httpx.Client(headers={"authorization": f"Bearer {web.read}"}) as client:
        assert client.get(str(download.get_attribute("href"))).content == f"the file {name}\n".encode()
