"""Clicking through every page of the demo store in a headless chromium, signed in with a
read key: projects → collections → versions → a version's overview, files, previews of
each kind, diff and lineage; runs; pending versions; signing out."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from browser.conftest import Web
from browser.demo import TABLE_ROWS
from browser.web import By, click_link, content, follow, heading, pwned, sign_in, table_header, table_rows, wait

pytestmark = pytest.mark.browser


def open_files_of(browser: Any, web: Web, collection: str, version: str) -> None:
    """Signed in with the read key, click from ``/`` down to the files of ``vision/<collection>:<version>``."""
    sign_in(browser, web.url, web.read)
    click_link(browser, "vision")
    click_link(browser, collection)
    click_link(browser, version, "table#versions")
    click_link(browser, "Files", "main#content")


def test_sign_in_then_click_from_the_projects_down_to_a_file(browser: Any, web: Web) -> None:
    sign_in(browser, web.url, web.read)
    assert browser.current_url == web.url + "/"
    assert heading(browser) == "Projects"
    assert {"vision", "audio"} <= set(content(browser).split())
    click_link(browser, "vision")
    assert heading(browser) == "vision"
    collections = {row[0].split("\n")[0] for row in table_rows(browser, "collections")}
    assert {"images", "classifier", "editable", "hostile"} <= collections
    click_link(browser, "images", "table#collections")
    assert heading(browser).startswith("images")
    versions = table_rows(browser, "versions")
    assert [row[0] for row in versions] == ["v2", "v1", "v0"]  # newest first
    assert "best" in versions[1][1] and "stable" in versions[2][1]
    click_link(browser, "v1", "table#versions")
    assert heading(browser).startswith("images:v1")
    shown = content(browser)
    assert "Synthetic demo images, take 1" in shown  # the description
    assert '"take": 1' in shown and "synthetic" in shown  # the metadata
    assert "best" in shown
    usage = browser.find_element(By.CSS_SELECTOR, "section#usage").text
    assert "vision/images:v1" in usage and "use_artifact" in usage and "quire artifact get" in usage
    crumbs = browser.find_element(By.CSS_SELECTOR, "nav[aria-label=breadcrumb]").text
    assert "vision" in crumbs and "images" in crumbs

    click_link(browser, "Files")
    assert {"README.md", "data/"} <= {row[0] for row in table_rows(browser, "files")}
    click_link(browser, "data/", "table#files")
    names = {row[0] for row in table_rows(browser, "files")}
    assert {"labels.json", "notes.txt", "train.csv", "img/", "parts/", "old.txt"} - names == {"old.txt"}  # v1
    click_link(browser, "notes.txt", "table#files")
    preview = browser.find_element(By.CSS_SELECTOR, "section#preview")
    assert preview.get_attribute("data-kind") == "text"
    assert "Notes of version 1." in preview.text


def test_a_project_searches_and_filters_its_collections_by_type(browser: Any, web: Web) -> None:
    sign_in(browser, web.url, web.read)
    click_link(browser, "vision")
    search = browser.find_element(By.CSS_SELECTOR, "main#content form input[name=q]")
    search.send_keys("IMA")
    follow(browser, search.find_element(By.XPATH, "./ancestor::form//button"))
    assert [row[0] for row in table_rows(browser, "collections")] == ["images"]
    click_link(browser, "dataset", "table#collections")  # a type links to the collections of that type
    assert [row[0] for row in table_rows(browser, "collections")] == ["editable", "hostile", "images", "shards"]


@pytest.mark.parametrize(
    ("folder", "name", "kind", "shows"),
    [
        ("data", "labels.json", "json", '"classes"'),
        ("data", "train.csv", "csv", "label"),
        ("", "README.md", "markdown", "A synthetic demo dataset."),
    ],
)
def test_a_preview_of_each_kind(browser: Any, web: Web, folder: str, name: str, kind: str, shows: str) -> None:
    open_files_of(browser, web, "images", "v2")
    if folder:
        click_link(browser, folder + "/", "table#files")
    click_link(browser, name, "table#files")
    preview = browser.find_element(By.CSS_SELECTOR, "section#preview")
    assert preview.get_attribute("data-kind") == kind
    assert shows in preview.text


def test_markdown_is_rendered_not_shown_as_source(browser: Any, web: Web) -> None:
    open_files_of(browser, web, "images", "v2")
    click_link(browser, "README.md", "table#files")
    preview = browser.find_element(By.CSS_SELECTOR, "section#preview")
    assert preview.find_element(By.CSS_SELECTOR, "h1, h2, h3").text == "Images"
    assert preview.find_element(By.CSS_SELECTOR, "strong").text == "synthetic"
    assert "**" not in preview.text
    # a relative link in the file leads to the file it names, in the same version
    click_link(browser, "labels", "section#preview")
    assert browser.current_url == web.url + "/p/vision/images/v2/preview/data/labels.json"
    assert browser.find_element(By.CSS_SELECTOR, "section#preview").get_attribute("data-kind") == "json"


def test_an_image_preview_shows_the_picture(browser: Any, web: Web) -> None:
    open_files_of(browser, web, "images", "v2")
    click_link(browser, "data/", "table#files")
    click_link(browser, "img/", "table#files")
    click_link(browser, "cat.png", "table#files")
    preview = browser.find_element(By.CSS_SELECTOR, "section#preview")
    assert preview.get_attribute("data-kind") == "image"
    img = preview.find_element(By.TAG_NAME, "img")
    wait(browser).until(lambda d: d.execute_script("return arguments[0].complete", img))
    # the PNG was fetched and decoded: its real size, not a broken image's 0
    assert browser.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", img) == [48, 32]


def test_an_audio_preview_plays_the_file(browser: Any, web: Web) -> None:
    open_files_of(browser, web, "images", "v2")
    click_link(browser, "data/", "table#files")
    click_link(browser, "tone.wav", "table#files")
    preview = browser.find_element(By.CSS_SELECTOR, "section#preview")
    assert preview.get_attribute("data-kind") == "audio"
    audio = preview.find_element(By.TAG_NAME, "audio")
    # the browser fetched the file and read its header: a quarter of a second of sound
    wait(browser).until(lambda d: d.execute_script("return arguments[0].readyState >= 1", audio))
    assert browser.execute_script("return arguments[0].duration", audio) == pytest.approx(0.25, abs=0.01)


def column(browser: Any, name: str) -> list[str]:
    """The cells of the column ``name`` of the preview's table, on the page shown."""
    at = [h.split()[0] for h in table_header(browser, "preview-table")].index(name)  # a header is "name type"
    return [row[at] for row in table_rows(browser, "preview-table")]


def header_cell(browser: Any, name: str) -> Any:
    for th in browser.find_elements(By.CSS_SELECTOR, "table#preview-table thead th"):
        if th.text.split()[0] == name:
            return th
    raise AssertionError(f"no column {name!r} in {table_header(browser, 'preview-table')}")


def test_a_table_preview_pages_and_sorts(browser: Any, web: Web) -> None:
    open_files_of(browser, web, "images", "v2")
    click_link(browser, "data/", "table#files")
    click_link(browser, "scores.table.parquet", "table#files")
    preview = browser.find_element(By.CSS_SELECTOR, "section#preview")
    assert preview.get_attribute("data-kind") == "table"
    assert [h.split()[0] for h in table_header(browser, "preview-table")][-3:] == ["id", "score", "label"]
    assert "int64" in preview.text and "double" in preview.text  # the columns' types
    first = [int(x) for x in column(browser, "id")]
    assert first[0] == 0 and first == list(range(len(first))) and len(first) < TABLE_ROWS

    follow(browser, browser.find_element(By.CSS_SELECTOR, "section#preview a[rel=next]"))
    second = [int(x) for x in column(browser, "id")]
    assert second[0] == len(first)  # the next rows, not the first again

    follow(browser, header_cell(browser, "score").find_element(By.TAG_NAME, "a"))
    scores = [float(x) for x in column(browser, "score")]
    assert scores == sorted(scores) and len(scores) == len(first)  # sorted, from the first page
    follow(browser, header_cell(browser, "score").find_element(By.TAG_NAME, "a"))  # again: descending
    again = [float(x) for x in column(browser, "score")]
    assert again == sorted(again, reverse=True) and again[0] >= scores[-1]


def test_a_partitioned_table_preview_shows_every_part(browser: Any, web: Web) -> None:
    open_files_of(browser, web, "images", "v2")
    click_link(browser, "data/", "table#files")
    click_link(browser, "all_parts.partitioned-table.json", "table#files")
    preview = browser.find_element(By.CSS_SELECTOR, "section#preview")
    assert preview.get_attribute("data-kind") == "table"
    assert [int(n) for n in column(browser, "n")] == [p * 10 + i for p in range(3) for i in range(4)]
    assert set(column(browser, "part")) == {"p0", "p1", "p2"}


def test_diff_against_another_version(browser: Any, web: Web) -> None:
    open_files_of(browser, web, "images", "v2")
    click_link(browser, "Diff")
    against = browser.find_element(By.CSS_SELECTOR, "main#content form input[name=against]")
    against.clear()
    against.send_keys("v0")
    follow(browser, against.find_element(By.XPATH, "./ancestor::form//button"))
    assert "against=v0" in browser.current_url
    changes = {(row[0], row[1]) for row in table_rows(browser, "diff")}
    assert ("added", "data/img/bird.png") in changes
    assert ("removed", "data/old.txt") in changes
    assert {("changed", "data/notes.txt"), ("changed", "data/labels.json"), ("changed", "data/img/dog.png")} <= changes
    assert ("changed", "data/img/cat.png") not in changes  # the same bytes in both
    (notes,) = [row for row in table_rows(browser, "diff") if row[1] == "data/notes.txt"]
    assert notes[2] == notes[3] == "30 B"  # sizes on both sides

    click_link(browser, "data/old.txt", "table#diff")  # a removed file links to the version that has it
    assert heading(browser).startswith("images:v0")
    assert "only in v0" in browser.find_element(By.CSS_SELECTOR, "section#preview").text


def svg_links(browser: Any) -> dict[str, Any]:
    """The lineage graph's links by target (an SVG ``<a>``'s ``href`` property is no string: read the attribute)."""
    links = browser.find_elements(By.CSS_SELECTOR, "svg#lineage a")
    return {str(a.get_dom_attribute("href") or a.get_dom_attribute("xlink:href")): a for a in links}


def test_lineage_graph_nodes_link_to_runs_and_versions(browser: Any, web: Web) -> None:
    sign_in(browser, web.url, web.read)
    click_link(browser, "vision")
    click_link(browser, "classifier", "table#collections")
    click_link(browser, "v0", "table#versions")
    click_link(browser, "Lineage")
    links = svg_links(browser)
    train = f"/p/vision/~runs/{web.facts['train_run']}"
    assert train in links and "/p/vision/images/v1" in links, sorted(links)
    follow(browser, links[train])  # a click on the drawn node
    assert browser.current_url == web.url + train
    assert "train" in heading(browser)
    assert "classifier:v0" in browser.find_element(By.ID, "logged").text
    click_link(browser, "vision/images:v1", "#used")
    click_link(browser, "Lineage")
    links = svg_links(browser)
    assert "/p/vision/classifier/v0" in links and train in links
    follow(browser, links["/p/vision/classifier/v0"])
    assert heading(browser).startswith("classifier:v0")


def test_a_run_page_shows_its_history_as_a_table_and_a_chart(browser: Any, web: Web) -> None:
    sign_in(browser, web.url, web.read)
    click_link(browser, "vision")
    click_link(browser, "Runs")
    assert {"prepare", "train", "edits", "hostile"} <= {row[0] for row in table_rows(browser, "runs")}
    click_link(browser, "train", "table#runs")
    assert "train" in heading(browser)
    shown = content(browser)
    assert '"lr": 0.01' in shown  # the config
    header = table_header(browser, "history")
    rows = table_rows(browser, "history")
    assert len(rows) == 20
    loss = [float(row[header.index("loss")]) for row in rows]
    assert loss[0] == 1.0 and loss[-1] == 0.05
    chart = browser.find_element(By.CSS_SELECTOR, "svg#history-chart")
    assert chart.find_elements(By.CSS_SELECTOR, "path, polyline")  # a line drawn
    assert "loss" in chart.text and "accuracy" in chart.text  # named in its legend


def test_pending_versions_and_their_contributions(browser: Any, web: Web) -> None:
    sign_in(browser, web.url, web.read)
    click_link(browser, "vision")
    click_link(browser, "Pending versions", partial=True)
    click_link(browser, "shard-run")
    assert "shards" in heading(browser)
    contributions = table_rows(browser, "contributions")
    assert len(contributions) == 2
    shown = content(browser)
    assert "open" in shown and "No conflicts" in shown
    runs = {a.text for a in browser.find_elements(By.CSS_SELECTOR, "table#contributions a")}
    assert len(runs) == 2  # each contribution links to its writer's run
    assert not browser.find_elements(By.CSS_SELECTOR, "form#abort-pending")  # a read key may not abort
    follow(browser, browser.find_element(By.CSS_SELECTOR, "table#contributions a"))
    assert heading(browser).split()[-1] in {"writer-0", "writer-1"}


def test_an_admin_is_offered_the_abort_form(browser: Any, web: Web) -> None:
    sign_in(browser, web.url, web.admin)
    browser.get(web.url + f"/p/vision/~pending/{web.facts['pending']['shard-run']}")
    form = browser.find_element(By.CSS_SELECTOR, "form#abort-pending")
    assert form.find_element(By.NAME, "csrf").get_attribute("value")


def test_sign_out_ends_the_session(browser: Any, web: Web) -> None:
    sign_in(browser, web.url, web.read)
    click_link(browser, "vision")
    follow(browser, browser.find_element(By.CSS_SELECTOR, "form#signout button"))
    assert browser.find_elements(By.CSS_SELECTOR, "form#signin")
    browser.get(web.url + "/p/vision")  # the page of before, asked again
    assert browser.find_elements(By.CSS_SELECTOR, "form#signin")
    assert "images" not in browser.page_source and "classifier" not in browser.page_source


def test_a_wrong_key_does_not_sign_in(browser: Any, web: Web) -> None:
    sign_in(browser, web.url, "qk_000000000000_not-a-key-of-this-server-at-all")
    assert browser.find_elements(By.CSS_SELECTOR, "form#signin")
    assert "not valid" in content(browser)
    assert "vision" not in browser.page_source


def test_signing_in_returns_to_the_page_asked_for(browser: Any, web: Web) -> None:
    browser.get(web.url + "/p/vision/images/v1")
    form = browser.find_element(By.CSS_SELECTOR, "form#signin")
    form.find_element(By.NAME, "key").send_keys(web.read)
    follow(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert browser.current_url == web.url + "/p/vision/images/v1"
    assert heading(browser).startswith("images:v1")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/", "javascript:x"])
def test_signing_in_never_goes_to_another_site(browser: Any, web: Web, target: str) -> None:
    browser.get(web.url + "/signin?" + urlencode({"next": target}))
    form = browser.find_element(By.CSS_SELECTOR, "form#signin")
    form.find_element(By.NAME, "key").send_keys(web.read)
    follow(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert browser.current_url == web.url + "/"
    assert pwned(browser) is None


def test_a_revoked_key_ends_its_session(browser: Any, web: Web) -> None:
    key = web.server.key("read")
    sign_in(browser, web.url, key)
    click_link(browser, "vision")
    key_id = key.split("_")[1]  # qk_<id>_<secret>
    web.server.cli("server", "key", "revoke", "--store", web.behind, key_id)
    browser.refresh()
    assert browser.find_elements(By.CSS_SELECTOR, "form#signin")
    assert "images" not in browser.page_source
