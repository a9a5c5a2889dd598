"""Previews of a version's files (quire.server.web.preview): every kind, over a real
embedded store, with hostile names and contents, bounded reads, and table pages."""

from __future__ import annotations

import json
import random
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from markupsafe import Markup

import quire
from quire.core.manifest import Manifest, load_manifest
from quire.errors import ObjectNotFoundError
from quire.server.web import blobio
from quire.server.web.preview import ROWS, TEXT_LIMIT, Preview, preview
from quire.store import open_store
from quire.store.blobs import SMALL, BlobStore, blob_key

RAW = "/raw/x"


def commit(tmp_path: Path, files: dict[str, bytes] | None = None, objects: dict[str, Any] | None = None,
           refs: dict[str, bytes] | None = None) -> tuple[BlobStore, Manifest]:  # fmt: skip
    """Commit one version holding ``files`` (path → bytes), sdk ``objects`` (path → a
    Table or PartitionedTable) and references (path → bytes, kept in a file outside the
    store); return the store's blobs and the version's manifest as the server reads them."""
    with quire.init(project="p", store=tmp_path / "store") as run:
        art = quire.Artifact("a", "dataset")
        for path, data in (files or {}).items():
            with art.new_file(path, mode="wb") as f:
                f.write(data)
        for path, obj in (objects or {}).items():
            art.add(obj, path)
        for path, data in (refs or {}).items():
            outside = tmp_path / "outside" / path
            outside.parent.mkdir(parents=True, exist_ok=True)
            outside.write_bytes(data)
            art.add_reference(outside.as_uri(), name=path)
        run.log_artifact(art)
    store = open_store(str(tmp_path / "store"))
    record = store.catalog.version("p", "a", "latest")
    return store.blobs, load_manifest(store.blobs, record.root)


def show(blobs: BlobStore, manifest: Manifest, path: str, **kwargs: Any) -> Preview:
    entry = manifest.get(path)
    assert entry is not None, path
    return preview(blobs, manifest, entry, raw_url=RAW, **kwargs)


class Tags(HTMLParser):
    """The start tags, attributes and text of an HTML fragment, as a browser parses it."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def names(self) -> set[str]:
        return {t for t, _ in self.tags}

    def attributes(self) -> set[str]:
        return {a for _, attrs in self.tags for a in attrs}


SAFE_TAGS = {"pre", "p", "a", "code", "div", "table", "thead", "tbody", "tr", "th", "td", "span", "nav", "img",
             "audio", "video", "h1", "h2", "em", "strong", "ul", "li", "ol", "blockquote"}  # fmt: skip


def assert_inert(html: str) -> None:
    """No element or attribute that runs script, and no link with a script URL."""
    parsed = Tags(html)
    assert parsed.names() <= SAFE_TAGS, parsed.names() - SAFE_TAGS
    assert not any(a.startswith("on") for a in parsed.attributes())
    for _, attrs in parsed.tags:
        for key in ("href", "src"):
            assert not (attrs.get(key) or "").strip().lower().startswith(("javascript:", "vbscript:", "data:text"))


# -- simple kinds ------------------------------------------------------------------------


def test_each_kind_is_told_by_the_file_name(tmp_path: Path) -> None:
    blobs, manifest = commit(
        tmp_path,
        {
            "notes.txt": b"hello\n",
            "conf.yaml": b"a: 1\n",
            "train.py": b"print('x')\n",
            "data.json": b'{"b":[1,2],"a":"\xc3\xa9"}',
            "broken.json": b'{"a": ',
            "rows.csv": b"x,y\n1,2\n3,4\n",
            "rows.tsv": b"x\ty\n1\t2\n",
            "README.md": b"# Title\n\nSome *text*.\n",
            "img/cat.PNG": b"\x89PNG\r\n\x1a\nnot really",
            "a.jpg": b"\xff\xd8\xff",
            "s.wav": b"RIFF",
            "m.mp4": b"\0\0\0\x18ftyp",
            "logo.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "weights.bin": bytes(range(256)) * 4,
            "LICENSE": "Copyright ©\n".encode(),
        },
        refs={"remote/<b>data</b>.txt": b"far away"},
    )
    kinds = {e.path: show(blobs, manifest, e.path).kind for e in manifest}
    assert kinds == {
        "notes.txt": "text",
        "conf.yaml": "text",
        "train.py": "text",
        "data.json": "json",
        "broken.json": "text",
        "rows.csv": "csv",
        "rows.tsv": "csv",
        "README.md": "markdown",
        "img/cat.PNG": "image",
        "a.jpg": "image",
        "s.wav": "audio",
        "m.mp4": "video",
        "logo.svg": "text",
        "weights.bin": "binary",
        "LICENSE": "text",
        "remote/<b>data</b>.txt": "reference",
    }
    assert show(blobs, manifest, "data.json").html == Markup('<pre class="json">{}</pre>').format(
        json.dumps({"b": [1, 2], "a": "é"}, indent=2, ensure_ascii=False)
    )
    assert "<h1>Title</h1>" in show(blobs, manifest, "README.md").html
    assert show(blobs, manifest, "img/cat.PNG").html == '<div class="media"><img src="/raw/x" alt="img/cat.PNG"></div>'
    assert Tags(show(blobs, manifest, "s.wav").html).tags[1] == (
        "audio",
        {"controls": None, "preload": "metadata", "src": RAW},
    )
    assert Tags(show(blobs, manifest, "m.mp4").html).tags[1][0] == "video"
    svg = show(blobs, manifest, "logo.svg").html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg and "<svg" not in svg
    binary = show(blobs, manifest, "weights.bin")
    assert "1.0 KiB" in binary.html and 'href="/raw/x"' in binary.html
    reference = show(blobs, manifest, "remote/<b>data</b>.txt")
    assert "/outside/remote/%3Cb%3Edata%3C/b%3E.txt</code> (8 bytes)" in reference.html
    assert "<a" not in reference.html


def test_a_csv_shows_its_first_rows_as_a_table(tmp_path: Path) -> None:
    lines = ["a,b,c"] + [f"{i},{i * 2},x{i}" for i in range(120)] + ["short"]
    blobs, manifest = commit(tmp_path, {"t.csv": "\n".join(lines).encode()})
    shown = show(blobs, manifest, "t.csv")
    assert shown.kind == "csv" and shown.truncated
    rows = re.findall(r"<tr>(.*?)</tr>", shown.html)
    assert rows[0] == '<th scope="col">a</th><th scope="col">b</th><th scope="col">c</th>'
    assert len(rows) == 1 + ROWS
    assert rows[ROWS] == f"<td>{ROWS - 1}</td><td>{(ROWS - 1) * 2}</td><td>x{ROWS - 1}</td>"


# -- hostile input -----------------------------------------------------------------------


def test_hostile_names_and_contents_are_escaped(tmp_path: Path) -> None:
    name = "<script>alert(1)</script>.txt"
    blobs, manifest = commit(
        tmp_path,
        {
            name: b"</pre><script>alert(2)</script>",
            'x.png"onerror=alert(3).png': b"\x89PNG",
            "evil.md": (
                b"<script>alert(4)</script>\n\n<img src=x onerror=alert(5)>\n\n"
                b"[click](javascript:alert(6)) [caps](JaVaScRiPt:alert(7)) [vb](vbscript:msgbox)\n\n"
                b"![pic](javascript:alert(8)) [data](data:text/html;base64,PHNjcmlwdD4=)\n\n"
                b"<javascript:alert(9)> [ok](https://example.com/a)\n"
            ),
            "cells.csv": b'h<b>,"<script>alert(10)</script>"\n"<img src=x onerror=alert(11)>",2\n',
            "page.html": b"<html><body onload=alert(12)><script>alert(13)</script></body></html>",
            "bad.json": b'{"k": "</pre><script>alert(14)</script>"}',
        },
    )
    for entry in manifest:
        html = str(show(blobs, manifest, entry.path).html)
        assert "<script" not in html.lower(), entry.path
        assert_inert(html)
    text = show(blobs, manifest, name)
    assert text.html == '<pre class="text">&lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;</pre>'
    image = Tags(show(blobs, manifest, 'x.png"onerror=alert(3).png').html)
    assert image.tags[1] == ("img", {"src": RAW, "alt": 'x.png"onerror=alert(3).png'})
    markdown = show(blobs, manifest, "evil.md").html
    hrefs = [attrs.get("href") for tag, attrs in Tags(markdown).tags if tag == "a"]
    assert hrefs == ["https://example.com/a"]  # no script URL became a link
    assert "&lt;img src=x onerror=alert(5)&gt;" in markdown
    assert "img" not in Tags(markdown).names()
    cells = show(blobs, manifest, "cells.csv").html
    assert '<th scope="col">h&lt;b&gt;</th>' in cells and "&lt;img src=x onerror=alert(11)&gt;" in cells


def test_a_hostile_table_is_escaped(tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script>"
    table = quire.Table(columns=[hostile, "ok"], data=[[f"<img src=x onerror=alert({i})>", i] for i in range(3)])
    blobs, manifest = commit(tmp_path, objects={"t": table})
    shown = show(blobs, manifest, "t.table.parquet", sort=hostile)
    assert shown.kind == "table" and shown.table is not None
    assert shown.table.columns[0] == (hostile, "string")
    assert shown.table.rows[0] == ["<img src=x onerror=alert(0)>", "0"]  # display text: the template escapes it
    assert "<script" not in shown.html and "<img" not in shown.html
    assert_inert(str(shown.html))


# -- bounded reads -----------------------------------------------------------------------


class CountingObjects:
    """The real object store, recording the bytes every get and get_range returned."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reads: list[tuple[str, int]] = []

    def get(self, key: str) -> bytes:
        data: bytes = self.inner.get(key)
        self.reads.append((key, len(data)))
        return data

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        data: bytes = self.inner.get_range(key, offset, length)
        self.reads.append((key, len(data)))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def read_of(self, key: str) -> int:
        return sum(n for k, n in self.reads if k == key)


def counted(blobs: BlobStore) -> tuple[BlobStore, CountingObjects]:
    objects = CountingObjects(blobs.objects)
    return BlobStore(objects), objects  # type: ignore[arg-type]


def test_a_huge_text_file_is_read_only_as_far_as_shown(tmp_path: Path) -> None:
    line = "é line of a big log </pre><script>x</script>\n"
    big = (line * (3 * SMALL // len(line.encode()))).encode()  # a large object, 3 MiB
    mid = big[: SMALL // 2 + 1]  # in a pack, and over the limit
    blobs, manifest = commit(tmp_path, {"big.log": big, "mid.txt": mid, "big.json": b"[" + b"1," * SMALL + b"1]",
                                        "unknown": big})  # fmt: skip
    counting, objects = counted(blobs)
    for path, key in [("big.log", None), ("mid.txt", "pack"), ("big.json", None), ("unknown", None)]:
        entry = manifest.get(path)
        assert entry is not None and entry.size is not None and entry.size > TEXT_LIMIT
        objects.reads.clear()
        shown = preview(counting, manifest, entry, raw_url=RAW)
        assert shown.kind == "text" and shown.truncated, path
        assert "Only the first 256.0 KiB" in shown.html
        if key is None:
            assert counting.slots([entry.digest])[entry.digest] is None  # a large object
            read = objects.read_of(blob_key(entry.digest))
        else:
            slot = counting.slots([entry.digest])[entry.digest]
            assert slot is not None
            read = objects.read_of(slot.pack)
        assert read == TEXT_LIMIT, path  # not the whole file
        assert sum(n for _, n in objects.reads) < entry.size
    entry = manifest.get("big.log")
    assert entry is not None
    shown_text = re.fullmatch(r'<pre class="text">(.*)</pre><p.*', str(show(blobs, manifest, "big.log").html), re.S)
    assert shown_text is not None
    # the cut at 256 KiB fell inside an "é" or not: either way no replacement character
    assert "\ufffd" not in shown_text.group(1)
    assert shown_text.group(1).startswith("é line of a big log &lt;/pre&gt;&lt;script&gt;")


def test_open_blob_reads_ranges_of_a_large_object(tmp_path: Path) -> None:
    rng = random.Random(7)
    data = rng.randbytes(2 * SMALL + 123)
    blobs, manifest = commit(tmp_path, {"blob.bin": data, "small.bin": data[:1000]})
    for path in ("blob.bin", "small.bin"):
        entry = manifest.get(path)
        assert entry is not None and entry.size is not None
        f = blobio.open_blob(blobs, entry.digest, entry.size)
        expected = data[: entry.size]
        assert f.seekable() and f.readable()
        f.seek(-10, 2)
        assert f.read() == expected[-10:]
        f.seek(5)
        assert f.read(7) == expected[5:12]
        assert f.tell() == 12
        f.seek(0)
        assert f.read() == expected
        assert blobio.head(blobs, entry.digest, entry.size, 100) == expected[:100]
        assert blobio.head(blobs, entry.digest, entry.size, entry.size + 5) == expected


# -- tables -----------------------------------------------------------------------------


def people(n: int, seed: int = 3) -> pa.Table:
    rng = random.Random(seed)
    return pa.table(
        {
            "id": list(range(n)),
            "score": [rng.choice([None, rng.random()]) if i % 7 == 0 else rng.randint(0, 30) / 3 for i in range(n)],
            "name": [rng.choice(["ann", "bo", "cy", None, "<b>"]) for _ in range(n)],
        }
    )


def expected_rows(table: pa.Table, start: int, stop: int) -> list[list[str]]:
    return [["" if v is None else str(v) for v in row.values()] for row in table.slice(start, stop - start).to_pylist()]


def test_a_table_is_paged_and_sorted_as_arrow_sorts_it(tmp_path: Path) -> None:
    arrow = people(237)
    blobs, manifest = commit(tmp_path, objects={"people": quire.Table(dataframe=arrow)})
    first = show(blobs, manifest, "people.table.parquet")
    assert first.kind == "table" and first.table is not None
    assert first.table.columns == [("id", "int64"), ("score", "double"), ("name", "string")]
    assert (first.table.total_rows, first.table.pages, first.table.page) == (237, 5, 0)
    assert first.table.rows == expected_rows(arrow, 0, ROWS)
    last = show(blobs, manifest, "people.table.parquet", page=4)
    assert last.table is not None and last.table.rows == expected_rows(arrow, 200, 237)
    beyond = show(blobs, manifest, "people.table.parquet", page=99)
    assert beyond.table is not None and beyond.table.page == 4
    for column in ("score", "name", "id"):
        for descending in (False, True):
            order = "descending" if descending else "ascending"
            sorted_arrow = arrow.sort_by([(column, order)])
            for page in (0, 2, 4):
                shown = show(blobs, manifest, "people.table.parquet", page=page, sort=column, descending=descending)
                assert shown.table is not None
                assert (shown.table.sort, shown.table.descending) == (column, descending)
                assert shown.table.rows == expected_rows(sorted_arrow, page * ROWS, min(237, (page + 1) * ROWS)), (
                    column,
                    order,
                    page,
                )


def test_the_table_html_links_sort_and_pages(tmp_path: Path) -> None:
    blobs, manifest = commit(tmp_path, objects={"people": quire.Table(dataframe=people(120))})
    shown = show(
        blobs,
        manifest,
        "people.table.parquet",
        page=1,
        sort="score",
        sort_url=lambda column, descending: f"/s?c={column}&d={int(descending)}",
        page_url=lambda page: f"/p?n={page}",
    )
    parsed = Tags(shown.html)
    table = next(attrs for tag, attrs in parsed.tags if tag == "table")
    assert table == {"id": "preview-table"}
    links = [attrs["href"] for tag, attrs in parsed.tags if tag == "a"]
    # header: a click sorts ascending; the column sorted ascending flips to descending
    assert links[:3] == ["/s?c=id&d=0", "/s?c=score&d=1", "/s?c=name&d=0"]
    assert links[3:] == ["/p?n=0", "/p?n=0", "/p?n=2", "/p?n=2"]  # first, previous, next, last
    assert 'aria-sort="ascending"' in shown.html and "page 2 of 3" in shown.html
    default = show(blobs, manifest, "people.table.parquet", sort="name", descending=True)
    hrefs = [attrs["href"] for tag, attrs in Tags(default.html).tags if tag == "a"]
    assert hrefs[:3] == ["?sort=id", "?sort=score", "?sort=name"]
    assert hrefs[3:] == ["?page=1&sort=name&desc=1", "?page=2&sort=name&desc=1"]  # next, last


def test_a_sort_that_cannot_be_done_says_so(tmp_path: Path) -> None:
    table = quire.Table(columns=["id", "tags"], data=[[i, [str(i), "x"]] for i in range(5)])
    blobs, manifest = commit(tmp_path, objects={"t": table})
    for column in ("tags", "missing"):
        shown = show(blobs, manifest, "t.table.parquet", sort=column)
        assert shown.table is not None and shown.table.sort is None
        assert shown.table.rows[0] == ["0", '["0", "x"]']
        assert 'class="notice"' in shown.html and column in shown.html


def test_a_large_table_reads_only_the_row_groups_of_its_page(tmp_path: Path) -> None:
    rng = random.Random(11)
    n = 40_000
    arrow = pa.table({"id": list(range(n)), "blob": [rng.randbytes(64).hex() for _ in range(n)]})
    path = tmp_path / "big.parquet"
    pq.write_table(arrow, path, row_group_size=2_000, compression="none")
    assert path.stat().st_size > 4 * SMALL
    blobs, manifest = commit(tmp_path, {"big.parquet": path.read_bytes()})
    counting, objects = counted(blobs)
    entry = manifest.get("big.parquet")
    assert entry is not None and entry.size is not None
    shown = preview(counting, manifest, entry, raw_url=RAW, page=300)
    assert shown.table is not None and shown.table.total_rows == n
    assert shown.table.rows == expected_rows(arrow, 300 * ROWS, 301 * ROWS)
    assert objects.read_of(blob_key(entry.digest)) < entry.size / 5
    objects.reads.clear()
    shown = preview(counting, manifest, entry, raw_url=RAW, sort="id", descending=True, page=1)
    assert shown.table is not None
    assert shown.table.rows == expected_rows(arrow.sort_by([("id", "descending")]), ROWS, 2 * ROWS)
    assert objects.read_of(blob_key(entry.digest)) < entry.size / 5  # the sort column, and one row group


def test_a_partitioned_table_is_one_table_over_its_parts(tmp_path: Path) -> None:
    sizes = [30, 0, 45, 61]
    parts = [people(n, seed=i) for i, n in enumerate(sizes)]
    objects: dict[str, Any] = {f"parts/p{i}": quire.Table(dataframe=t) for i, t in enumerate(parts)}
    objects["all"] = quire.PartitionedTable("parts")
    blobs, manifest = commit(tmp_path, objects=objects)
    whole = pa.concat_tables([t.cast(parts[0].schema) for t in parts])  # the empty part has null columns
    pages = []
    for page in range(3):
        shown = show(blobs, manifest, "all.partitioned-table.json", page=page)
        assert shown.kind == "table" and shown.table is not None
        assert (shown.table.total_rows, shown.table.pages) == (136, 3)
        pages += shown.table.rows
        assert "4 parts under" in shown.html
        assert manifest._entries is None  # the manifest is read by folder, never loaded whole
    assert pages == expected_rows(whole, 0, 136)
    for column, descending in [("score", False), ("name", True)]:
        shown = show(blobs, manifest, "all.partitioned-table.json", page=1, sort=column, descending=descending)
        assert shown.table is not None
        ordered = whole.sort_by([(column, "descending" if descending else "ascending")])
        assert shown.table.rows == expected_rows(ordered, ROWS, 2 * ROWS)


def test_a_reference_and_a_file_that_is_not_parquet(tmp_path: Path) -> None:
    blobs, manifest = commit(tmp_path, {"fake.parquet": b"PAR1 not at all"}, refs={"t.parquet": b"PAR1"})
    assert show(blobs, manifest, "t.parquet").kind == "reference"
    fake = show(blobs, manifest, "fake.parquet")
    assert fake.kind == "binary" and "cannot be read as Parquet" in fake.html


def test_media_and_mixed_cells_show_their_values(tmp_path: Path) -> None:
    image = quire.Image(np.random.default_rng(5).integers(0, 256, size=(2, 2, 3), dtype=np.uint8))
    table = quire.Table(columns=["i", "img", "any"], data=[[0, image, 1], [1, None, "two"]], allow_mixed_types=True)
    blobs, manifest = commit(tmp_path, objects={"t": table})
    shown = show(blobs, manifest, "t.table.parquet")
    assert shown.table is not None
    (path,) = [e.path for e in manifest if e.path.startswith("media/")]
    assert shown.table.rows == [["0", path, "1"], ["1", "", "two"]]


def test_a_csv_with_a_byte_order_mark_and_ragged_rows(tmp_path: Path) -> None:
    blobs, manifest = commit(tmp_path, {"t.csv": "\ufeffa,b\n1\n2,3,4\n".encode()})
    shown = show(blobs, manifest, "t.csv")
    assert not shown.truncated
    assert re.findall(r"<t[hd](?: [^>]*)?>(.*?)</t[hd]>", shown.html) == ["a", "b", "", "1", "", "", "2", "3", "4"]


def test_the_store_s_errors_are_not_taken_for_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"x": random.Random(1).sample(range(10**9), 200_000)}), path, compression="none")
    assert path.stat().st_size > SMALL
    blobs, manifest = commit(tmp_path, {"big.parquet": path.read_bytes()})
    entry = manifest.get("big.parquet")
    assert entry is not None
    blobs.objects.delete(blob_key(entry.digest))  # lost from the store
    with pytest.raises(ObjectNotFoundError):
        preview(blobs, manifest, entry, raw_url=RAW)


def test_a_partitioned_table_with_a_part_that_is_not_parquet(tmp_path: Path) -> None:
    blobs, manifest = commit(
        tmp_path,
        {"parts/b.table.parquet": b"not parquet", "parts/notes.txt": b"x"},
        objects={"parts/a": quire.Table(dataframe=people(3)), "all": quire.PartitionedTable("parts")},
    )
    shown = show(blobs, manifest, "all.partitioned-table.json")
    assert shown.kind == "table" and shown.table is None
    assert "<code>parts/b.table.parquet</code> cannot be read as Parquet" in shown.html
    assert "Left out, as not stored tables: 1 file under <code>parts</code>" in shown.html


def test_a_damaged_table_says_it_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"x": list(range(300_000))}), path, compression="none", row_group_size=100_000)
    blobs, manifest = commit(tmp_path, {"big.parquet": path.read_bytes()})
    entry = manifest.get("big.parquet")
    assert entry is not None and entry.size is not None and entry.size > SMALL
    stored = blobs.local_path(entry.digest)
    assert stored is not None
    damaged = bytearray(stored.read_bytes())
    damaged[4 : entry.size // 2] = b"\xff" * (entry.size // 2 - 4)  # the first row groups, not the footer
    stored.chmod(0o644)
    stored.write_bytes(bytes(damaged))
    shown = preview(blobs, manifest, entry, raw_url=RAW)
    assert shown.kind == "table" and shown.table is None
    assert "The table cannot be read" in shown.html


def test_a_sorted_page_gathers_its_rows_from_the_row_groups_holding_them(tmp_path: Path) -> None:
    rng = random.Random(13)
    n, group = 5_000, 300
    # high scores only in every third row group: a page sorted by score descending takes
    # rows from row groups 0, 3, 6, ... and none from those between
    scores = [round(rng.random(), 2) + (10 if (i // group) % 3 == 0 else 0) for i in range(n)]
    arrow = pa.table({"i": list(range(n)), "score": scores, "tag": [rng.choice("abc") for _ in range(n)]})
    path = tmp_path / "t.parquet"
    pq.write_table(arrow, path, row_group_size=group)
    assert pq.ParquetFile(path).metadata.num_row_groups == 17
    blobs, manifest = commit(tmp_path, {"t.parquet": path.read_bytes()})
    for column, order in [("score", "descending"), ("tag", "ascending"), ("score", "ascending")]:
        ordered = arrow.sort_by([(column, order)])
        for page in (0, 13, 37, 99):
            shown = show(blobs, manifest, "t.parquet", page=page, sort=column, descending=order == "descending")
            assert shown.table is not None and shown.table.page == page
            assert shown.table.rows == expected_rows(ordered, page * ROWS, (page + 1) * ROWS), (column, order, page)
    top = show(blobs, manifest, "t.parquet", sort="score", descending=True)
    assert top.table is not None
    assert {int(row[0]) // group % 3 for row in top.table.rows} == {0}
    assert len({int(row[0]) // group for row in top.table.rows}) > 2
