"""The web pages over HTTP (in process, no browser): who may see and change what, the
CSRF check, escaping of hostile names, downloads, error pages, and folder views of a
large version reading only the manifest pages they show. The browser tests
(tests/browser) click through the same pages in Chromium."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest

import quire
from quire.core import pages as manifest_pages
from quire.core.manifest import Entry, Manifest, load_manifest, save_manifest
from quire.server.web.signin import SESSION, csrf_token
from quire.store import open_store
from servers import InProcessServer
from support import log_files

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'


@pytest.fixture
def site(tmp_path: Path) -> Any:
    """An in-process server over a store with one project: ``data`` v0 and v1 (v1
    changes one file), and ``evil`` whose description, metadata and a file name hold
    markup."""
    behind = tmp_path / "store"
    files = {"a.txt": b"alpha", "sub/b.json": b'{"k": 1}', "sub/deep/c.csv": b"x,y\n1,2\n"}
    log_files("data", files, tmp_path / "v0", store=behind, aliases=["best"])
    log_files("data", {**files, "a.txt": b"changed"}, tmp_path / "v1", store=behind)
    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "x.txt").write_text(HOSTILE)
    with quire.init(project="p", store=behind) as run:
        art = quire.Artifact("evil", "dataset", description=HOSTILE, metadata={"note": HOSTILE})
        art.add_file(str(tmp_path / "evil" / "x.txt"), name="odd name #?.txt")
        run.log_artifact(art)
    server = InProcessServer(str(behind))
    yield server
    server.close()


def _aliases(server: InProcessServer, version: str = "v0") -> list[str]:
    return sorted(open_store(server.location).catalog.version("p", "data", version).aliases)


# -- who sees what ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/p/p", "/p/p/data", "/p/p/data/v0", "/p/p/data/v0/files", "/p/p/~runs"])
def test_without_a_key_a_page_is_the_sign_in_page_and_shows_nothing_of_the_store(site: Any, path: str) -> None:
    for client in (site.client(), site.client("not-a-key")):
        answer = client.get(path)
        assert answer.status_code == 401
        assert 'id="signin"' in answer.text
        for secret in ("data:v", 'href="/p/', "evil", "best", "alpha", ">p<"):
            assert secret not in answer.text, secret


def test_a_bearer_key_gets_every_page_and_a_cookie_session_from_the_sign_in_form_too(site: Any) -> None:
    read = site.key("read")
    assert site.client(read).get("/p/p/data/v0").status_code == 200
    browser = site.client()
    form = browser.get("/signin")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    signed = browser.post("/signin", data={"key": read, "csrf": token, "next": "/p/p"}, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/p/p"
    cookie = signed.headers["set-cookie"]
    assert f"{SESSION}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert browser.get("/p/p").status_code == 200
    # a sign-in form posted without its token (another site's form) signs nobody in
    stranger = site.client()
    refused = stranger.post("/signin", data={"key": read}, follow_redirects=False)
    assert refused.status_code == 400 and SESSION not in refused.headers.get("set-cookie", "")


def test_a_revoked_key_ends_its_session_at_once(site: Any) -> None:
    read = site.key("read")
    browser = site.client()
    browser.cookies.set(SESSION, read)
    assert browser.get("/p/p").status_code == 200
    record = site.keys.key_for(read)
    assert record is not None
    site.keys.revoke_key(record.id)
    assert browser.get("/p/p").status_code == 401


def test_a_key_for_another_project_sees_neither_the_project_nor_its_name(site: Any) -> None:
    other = site.key("read", "q")
    home = site.client(other).get("/")
    assert home.status_code == 200 and 'href="/p/p"' not in home.text
    assert site.client(other).get("/p/p/data/v0").status_code == 403


def test_pages_forbid_scripts_and_framing(site: Any) -> None:
    answer = site.client(site.key("read")).get("/p/p/data/v0")
    assert "script-src" not in answer.headers["content-security-policy"]  # default-src 'none' covers it
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


# -- changing aliases ---------------------------------------------------------------------


def _edit(client: Any, csrf: str | None, aliases: str) -> Any:
    data = {"aliases": aliases, "tags": ""}
    if csrf is not None:
        data["csrf"] = csrf
    return client.post("/p/p/data/v0/edit", data=data, follow_redirects=False)


def test_a_write_key_edits_aliases_and_a_read_key_is_neither_offered_the_form_nor_allowed(site: Any) -> None:
    write, read = site.key("write"), site.key("read")
    assert 'id="edit-version"' in site.client(write).get("/p/p/data/v0").text
    assert 'id="edit-version"' not in site.client(read).get("/p/p/data/v0").text
    before = _aliases(site)
    refused = _edit(site.client(read), csrf_token(read), "stolen")
    assert refused.status_code == 403 and _aliases(site) == before
    done = _edit(site.client(write), csrf_token(write), "best, golden")
    assert done.status_code == 303
    assert _aliases(site) == ["best", "golden"]


@pytest.mark.parametrize("csrf", [None, "", "0" * 40], ids=["missing", "empty", "wrong"])
def test_a_form_without_its_csrf_token_changes_nothing(site: Any, csrf: str | None) -> None:
    write = site.key("write")
    browser = site.client()
    browser.cookies.set(SESSION, write)
    before = _aliases(site)
    answer = _edit(browser, csrf, "hijacked")
    assert answer.status_code == 403
    assert _aliases(site) == before


def test_another_keys_csrf_token_does_not_pass(site: Any) -> None:
    write, other = site.key("write"), site.key("write")
    before = _aliases(site)
    assert _edit(site.client(write), csrf_token(other), "x").status_code == 403
    assert _aliases(site) == before


# -- hostile names, downloads, errors -----------------------------------------------------


def test_markup_in_a_description_metadata_and_a_file_name_is_shown_as_text(site: Any) -> None:
    client = site.client(site.key("read"))
    for path in ("/p/p/evil/v0", "/p/p/evil/v0/files", "/p/p/evil/latest"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert "<script>window" not in answer.text and "<img src=x" not in answer.text
        assert "&lt;script&gt;" in answer.text or "odd name" in answer.text


def test_a_file_downloads_whole_as_an_attachment_and_a_version_as_a_tar_of_its_files(site: Any) -> None:
    client = site.client(site.key("read"))
    raw = client.get("/p/p/data/v1/raw/sub/deep/c.csv")
    assert raw.content == b"x,y\n1,2\n"
    assert raw.headers["content-disposition"].startswith("attachment")
    assert raw.headers["content-type"] == "application/octet-stream"  # never rendered as a page
    odd = client.get("/p/p/evil/v0/raw/" + "odd%20name%20%23%3F.txt")
    assert odd.content.decode() == HOSTILE
    archive = client.get("/p/p/data/v1/archive")
    with tarfile.open(fileobj=io.BytesIO(archive.content)) as tar:
        got = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    assert got == {
        "data-v1/a.txt": b"changed",
        "data-v1/sub/b.json": b'{"k": 1}',
        "data-v1/sub/deep/c.csv": b"x,y\n1,2\n",
    }


@pytest.mark.parametrize(
    "path",
    [
        "/p/p/data/v0/raw/..%2F..%2Fetc%2Fpasswd",
        "/p/p/data/v0/raw/%2E%2E/%2E%2E/x",
        "/p/p/data/v0/files/..%2F..",
        "/p/p/data/v0/preview/%00",
        "/p/..%2Fp/data/v0",
    ],
)
def test_path_traversal_in_a_page_url_finds_nothing(site: Any, path: str) -> None:
    answer = site.client(site.key("read")).get(path)
    assert answer.status_code in (400, 404), (path, answer.status_code)
    assert "root:" not in answer.text


def test_a_missing_version_is_a_404_page_naming_the_versions_that_exist(site: Any) -> None:
    answer = site.client(site.key("read")).get("/p/p/data/v7")
    assert answer.status_code == 404
    assert 'href="/p/p/data/v1"' in answer.text and 'href="/p/p/data/v0"' in answer.text
    gone = site.client(site.key("read")).get("/p/nothing-here")
    assert gone.status_code == 404 and 'href="/p/p"' in gone.text


def test_the_diff_page_names_what_changed_with_sizes(site: Any) -> None:
    answer = site.client(site.key("read")).get("/p/p/data/v1/diff?against=v0")
    table = answer.text[answer.text.index('id="diff"') :]
    assert re.search(r"changed</td><td><a [^>]+>a.txt</a></td><td>5 B</td><td>7 B</td>", table)
    assert "sub/b.json" not in table  # unchanged


# -- a folder view of a large version -----------------------------------------------------


class CountingPages:
    """The real blob store, counting the manifest pages read through it."""

    def __init__(self, blobs: Any) -> None:
        self.blobs, self.reads = blobs, 0

    def read(self, digest: str) -> bytes:
        self.reads += 1
        return self.blobs.read(digest)


def test_a_folder_view_reads_the_pages_it_shows_not_the_folders_below(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "s"))
    digest = store.blobs.put_bytes(b"x")
    # 50 folders of 2,000 files, and 5 files at the top: 100,005 entries
    entries = [Entry(f"d{i:03}/f{j:04}.bin", digest, 1) for i in range(50) for j in range(2000)]
    entries += [Entry(f"top{k}.txt", digest, 1) for k in range(5)]
    root = save_manifest(store.blobs, Manifest(entries))
    manifest_pages._cache.clear()
    counting = CountingPages(store.blobs)
    manifest = load_manifest(counting, root)
    first = list(_take(manifest.children(""), 20))
    assert first == [f"d{i:03}/" for i in range(20)]
    whole = len(list(load_manifest(store.blobs, root).after(None)))
    assert whole == 100_005
    # twenty subfolders cost a seek each: a few pages each, not a walk of their 40,000 entries
    walked = CountingPages(store.blobs)
    manifest_pages._cache.clear()
    list(_take(load_manifest(walked, root).after(None), 40_000))
    assert counting.reads * 5 < walked.reads, (counting.reads, walked.reads)
    # the whole listing of the top folder: every subfolder once, then the files
    top = list(load_manifest(store.blobs, root).children(""))
    assert top == [*(f"d{i:03}/" for i in range(50)), *entries[-5:]]
    inside = list(load_manifest(store.blobs, root).children("d007", after="f1000.bin"))
    assert [e.path for e in inside if isinstance(e, Entry)] == [f"d007/f{j:04}.bin" for j in range(1001, 2000)]
    after_folder = list(load_manifest(store.blobs, root).children("", after="d048/"))
    assert after_folder == ["d049/", *entries[-5:]]


def _take(items: Any, n: int) -> Any:
    for i, item in enumerate(items):
        if i == n:
            return
        yield item


# -- pending versions ---------------------------------------------------------------------


def _pending(tmp_path: Path, behind: Path) -> str:
    """Two writers upserting into one pending version, both writing ``clash.txt``."""
    for rank in range(2):
        src = tmp_path / f"w{rank}"
        src.mkdir()
        (src / f"part{rank}.txt").write_text(f"part {rank}")
        (src / "clash.txt").write_text(f"writer {rank}")
        with quire.init(project="p", store=behind) as run:
            art = quire.Artifact("shared", "dataset")
            art.add_dir(str(src))
            run.upsert_artifact(art, distributed_id="job-7")
    (pending,) = open_store(str(behind)).catalog.pending_versions("p")
    return pending.id


def test_a_pending_version_shows_each_writer_and_names_the_conflict(site: Any, tmp_path: Path) -> None:
    pid = _pending(tmp_path, Path(site.location))
    client = site.client(site.key("read"))
    listing = client.get("/p/p/~pending")
    assert "job-7" in listing.text and f'href="/p/p/~pending/{pid}"' in listing.text
    page = client.get(f"/p/p/~pending/{pid}")
    rows = page.text[page.text.index('id="contributions"') :]
    assert rows.count("<tr><td>") == 2  # one row per writer
    assert 'id="conflicts"' in page.text and "clash.txt" in page.text
    assert 'id="abort-pending"' not in page.text  # a read key is not offered the abort


def test_aborting_a_pending_version_needs_an_admin_key_and_its_csrf_token(site: Any, tmp_path: Path) -> None:
    pid = _pending(tmp_path, Path(site.location))
    write, admin = site.key("write"), site.key("admin")

    def state() -> str:
        return open_store(site.location).catalog.pending(pid).state

    path = f"/p/p/~pending/{pid}/abort"
    assert site.client(write).post(path, data={"csrf": csrf_token(write)}).status_code == 403
    assert site.client(admin).post(path, data={}).status_code == 403
    assert state() == "open"
    assert 'id="abort-pending"' in site.client(admin).get(f"/p/p/~pending/{pid}").text
    done = site.client(admin).post(path, data={"csrf": csrf_token(admin)}, follow_redirects=False)
    assert done.status_code == 303 and state() == "aborted"
