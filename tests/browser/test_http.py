"""The pages without a browser: a script's ``Authorization: Bearer`` key gets them; without
a key (or with a wrong one) a page is the sign-in page, 401, showing nothing of the store;
a missing version's page says what exists; a path that tries to leave the version finds
nothing. (No chromium needed: these run in the default selection.)"""

from __future__ import annotations

import http.client

import httpx
import pytest

from browser.conftest import Web
from support import patience

#: text only the store holds
OF_THE_STORE = ("audio", "classifier", "editable", "hostile", "Synthetic demo images", "README.md", "data/")


def get(web: Web, path: str, key: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=web.url, headers=headers) as client:
        return client.get(path)


@pytest.mark.parametrize("path", ["/", "/p/vision", "/p/vision/images/v1", "/p/vision/images/best/files/data"])
def test_a_bearer_key_gets_the_page(web: Web, path: str) -> None:
    answer = get(web, path, web.read)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert '<main id="content">' in answer.text and "<h1>" in answer.text
    assert 'id="signin"' not in answer.text


def test_the_home_page_lists_the_projects(web: Web) -> None:
    page = get(web, "/", web.read).text
    assert 'href="/p/vision"' in page and 'href="/p/audio"' in page


@pytest.mark.parametrize("key", [None, "qk_000000000000_wrong", "not even the shape of a key"])
@pytest.mark.parametrize(
    "path", ["/", "/p/vision", "/p/vision/images/v1", "/p/vision/images/v1/preview/README.md", "/p/vision/~runs"]
)
def test_without_a_live_key_a_page_shows_nothing_of_the_store(web: Web, path: str, key: str | None) -> None:
    answer = get(web, path, key)
    assert answer.status_code == 401
    assert 'id="signin"' in answer.text
    assert not [text for text in OF_THE_STORE if text in answer.text and text not in path]
    if path == "/":
        assert "vision" not in answer.text


def test_a_raw_file_and_the_archive_need_a_key_too(web: Web) -> None:
    for path in ("/p/vision/images/v1/raw/README.md", "/p/vision/images/v1/archive"):
        answer = get(web, path)
        assert answer.status_code == 401 and "synthetic" not in answer.text
        assert get(web, path, web.read).status_code == 200


def test_a_missing_version_says_what_exists(web: Web) -> None:
    answer = get(web, "/p/vision/images/v9", web.read)
    assert answer.status_code == 404
    assert "<h1>" in answer.text
    for version in ("v0", "v1", "v2"):
        assert f'href="/p/vision/images/{version}"' in answer.text


@pytest.mark.parametrize(
    "path",
    [
        "/p/vision/images/v1/preview/../../../editable/v0/preview/value.txt",
        "/p/vision/images/v1/preview/%2e%2e/%2e%2e/%2e%2e/editable/v0/preview/value.txt",
        "/p/vision/images/v1/raw/..%2f..%2f..%2feditable%2fv0%2fraw%2fvalue.txt",
        "/p/vision/images/v1/raw/%2Fetc%2Fpasswd",
        "/p/vision/images/v1/files/..%2f..",
    ],
)
def test_a_path_that_leaves_the_version_finds_nothing(web: Web, path: str) -> None:
    # http.client sends the path as written (httpx would resolve the dot segments first)
    connection = http.client.HTTPConnection("127.0.0.1", web.server.port, timeout=patience(1))
    try:
        connection.request("GET", path, headers={"authorization": f"Bearer {web.read}"})
        answer = connection.getresponse()
        status, body = answer.status, answer.read().decode()
    finally:
        connection.close()
    assert status in (400, 404), body
    assert "value 0" not in body and "root:" not in body


@pytest.mark.parametrize("name", ["evil.svg", "evil.html", "notes.md"])
def test_a_raw_file_of_markup_is_a_download_never_a_page(web: Web, name: str) -> None:
    answer = get(web, f"/p/vision/hostile/v0/raw/{name}", web.read)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["content-disposition"].startswith("attachment")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in answer.headers["content-security-policy"]  # and were it rendered, no script
