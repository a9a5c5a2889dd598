"""Previews of one file of a version, by its kind: text, JSON, CSV, Markdown, media,
tables (Parquet, one page of rows at a time) and partitioned tables.

Every preview reads a bounded part of the file (see :mod:`.blobio`): the first
:data:`TEXT_LIMIT` bytes of text, or the footer and the row groups one page of a table
needs. Its HTML is a fragment built only from escaped parts (a file's name and content
are data from whoever logged it): the template puts it inside
``<section id="preview" data-kind=...>``. Markdown is rendered with raw HTML off, and
markdown-it's link check refuses ``javascript:``, ``vbscript:``, ``file:`` and
non-image ``data:`` URLs, so a rendered file holds no script.

SVG is shown as text, never as an image: an SVG can hold script.

What a table page costs (a Parquet file over range reads, see :func:`.blobio.open_blob`):
its footer, then the row groups holding the page's rows, each decoded from its start
only as far as the page's last row. A sorted page first reads the whole sort column
(that column only, of every row group) and sorts it in memory; its rows then come from
every row group one of them falls in, up to the last one there, so a page of a table
sorted by a column unrelated to its stored order may read most of the table (a batch at
a time: the memory is one batch's). Sorting is refused beyond :data:`SORT_LIMIT` rows.
A partitioned table also reads the footer of every part, for the row counts paging needs.
"""

from __future__ import annotations

import bisect
import codecs
import csv
import io
import json
import math
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from markupsafe import Markup

from ...errors import QuireError
from ...store.blobs import BlobStore
from .blobio import head, open_blob

if TYPE_CHECKING:
    import pyarrow as pa

    from ...core.manifest import Entry, Manifest  # only read here: nothing of the core runs

TEXT_LIMIT = 256 << 10  #: bytes of a text file a preview shows
ROWS = 50  #: rows of a table on one page (and rows of a CSV shown)
#: rows of a table beyond which sorting is refused: a sort reads the whole sort column
#: into memory (see :func:`_positions`)
SORT_LIMIT = 5_000_000
BATCH = 1024  #: rows of a table decoded at a time while looking for a page's rows
CELL_LIMIT = 500  #: characters of one table cell shown
#: the field metadata quire.sdk.table_types marks mixed and media columns with (the web
#: layer may not import the sdk; the keys are part of the stored format)
_MIXED_KEY, _MEDIA_KEY = b"quire.mixed", b"quire.media"

KINDS = ("text", "json", "csv", "markdown", "image", "audio", "video", "table", "binary", "reference")
IMAGE = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"}
AUDIO = {".wav", ".mp3", ".ogg", ".flac"}
VIDEO = {".mp4", ".webm"}
MARKDOWN = {".md", ".markdown"}
JSON = {".json", ".ipynb"}
CSV = {".csv": ",", ".tsv": "\t"}
#: shown as text even when not valid UTF-8 (bad bytes are replaced); any other file is
#: text when its first bytes decode as UTF-8. ``.svg`` and ``.html`` are here on purpose.
TEXT = {
    ".txt", ".log", ".py", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".conf", ".env", ".sh",
    ".jsonl", ".ndjson", ".rst", ".tex", ".xml", ".html", ".htm", ".css", ".js", ".ts", ".svg",
    ".c", ".h", ".cc", ".cpp", ".hpp", ".rs", ".go", ".java", ".rb", ".r", ".sql", ".proto",
}  # fmt: skip
PARTITIONED_SUFFIX = ".partitioned-table.json"

SortUrl = Callable[[str, bool], str]
PageUrl = Callable[[int], str]


@dataclass(frozen=True)
class TablePreview:
    """One page of a table's rows, as display text (escaping is the template's job)."""

    columns: list[tuple[str, str]]  #: (name, Arrow type as text)
    rows: list[list[str]]
    total_rows: int
    page: int  #: from 0
    pages: int  #: at least 1
    sort: str | None  #: the column the rows are sorted by (None: stored order)
    descending: bool


@dataclass(frozen=True)
class Preview:
    """What the preview section of a file's page shows."""

    kind: str  #: one of :data:`KINDS`
    html: Markup  #: a fragment built from escaped parts only
    truncated: bool = False  #: only the start of the file is shown
    table: TablePreview | None = None


def preview(
    blobs: BlobStore,
    manifest: Manifest,
    entry: Entry,
    *,
    raw_url: str,
    page: int = 0,
    sort: str | None = None,
    descending: bool = False,
    sort_url: SortUrl | None = None,
    page_url: PageUrl | None = None,
) -> Preview:
    """The preview of ``entry``, a file of the version ``manifest``.

    ``raw_url`` is where the file's bytes are served (media elements and download links
    point at it). For tables, ``page`` (from 0), ``sort`` (a column) and ``descending``
    choose the rows; ``sort_url(column, descending)`` and ``page_url(page)`` make the
    header's sort links and the pager's links (a ``page_url`` must keep the current
    sort; by default they are relative query strings, ``?sort=…&desc=1`` and
    ``?page=…&sort=…&desc=1``). ``manifest`` is only read
    for a partitioned table's parts (:meth:`~quire.core.manifest.Manifest.under`).

    Errors of the store (a blob missing or corrupt) are raised as they are.
    """
    if entry.ref is not None:
        return _reference(entry)
    name = posixpath.basename(entry.path).lower()
    suffix = posixpath.splitext(name)[1]
    size = entry.size or 0
    if suffix in IMAGE:
        return _media("image", Markup('<img src="{}" alt="{}">').format(raw_url, entry.path))
    if suffix in AUDIO:
        return _media("audio", Markup('<audio controls preload="metadata" src="{}"></audio>').format(raw_url))
    if suffix in VIDEO:
        return _media("video", Markup('<video controls preload="metadata" src="{}"></video>').format(raw_url))
    links = _Links(sort, descending, sort_url, page_url)
    if name.endswith(PARTITIONED_SUFFIX):
        return _partitioned(blobs, manifest, entry, raw_url, page, links)
    if suffix == ".parquet":
        return _table(blobs, [entry], page, links, None)
    data = head(blobs, entry.digest, size, TEXT_LIMIT)
    cut = size > len(data)
    if suffix in JSON:
        return _json(data, cut, size, raw_url)
    if suffix in CSV:
        return _csv(data, cut, size, raw_url, CSV[suffix])
    if suffix in MARKDOWN:
        return _markdown(data, cut, size, raw_url)
    if suffix in TEXT:
        return _text(_decode(data, cut), cut, size, raw_url)
    text = _utf8(data, cut)
    if text is None:
        return _binary(size, raw_url)
    return _text(text, cut, size, raw_url)


# -- simple kinds ------------------------------------------------------------------------


def _reference(entry: Entry) -> Preview:
    # The URI is shown, not linked: it is data, and may be any scheme at all.
    size = f" ({_size(entry.size)})" if entry.size is not None else ""
    html = Markup(
        '<p class="reference">A reference to <code>{}</code>{}: its bytes are not in the store, so there is '
        "nothing to preview.</p>"
    ).format(entry.ref, size)
    return Preview("reference", html)


def _media(kind: str, element: Markup) -> Preview:
    return Preview(kind, Markup('<div class="media">{}</div>').format(element))


def _binary(size: int, raw_url: str) -> Preview:
    html = Markup('<p class="binary">A binary file of {}: <a href="{}" download>download</a> it to open it.</p>')
    return Preview("binary", html.format(_size(size), raw_url))


def _decode(data: bytes, cut: bool) -> str:
    """``data`` as text: UTF-8 (a byte order mark dropped), bad bytes replaced, and a
    character split by the cut at the end of a prefix left out."""
    return codecs.getincrementaldecoder("utf-8-sig")(errors="replace").decode(data, final=not cut)


def _utf8(data: bytes, cut: bool) -> str | None:
    """``data`` decoded (as :func:`_decode`) when it is UTF-8 text without NUL bytes;
    None for anything else."""
    if b"\0" in data:
        return None
    try:
        return codecs.getincrementaldecoder("utf-8-sig")().decode(data, final=not cut)
    except UnicodeDecodeError:
        return None


def _text(text: str, cut: bool, size: int, raw_url: str, kind: str = "text") -> Preview:
    html = Markup('<pre class="{}">{}</pre>').format(kind, text) + _cut_note(cut, size, raw_url)
    return Preview(kind, html, truncated=cut)


def _cut_note(cut: bool, size: int, raw_url: str) -> Markup:
    if not cut:
        return Markup()
    return Markup(
        '<p class="truncated">Only the first {} of {} are shown: <a href="{}" download>download</a> the whole file.</p>'
    ).format(_size(TEXT_LIMIT), _size(size), raw_url)


def _json(data: bytes, cut: bool, size: int, raw_url: str) -> Preview:
    text = _decode(data, cut)
    if not cut:
        try:
            pretty = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):  # not JSON (or too deep): shown as it is
            pass
        else:
            return _text(pretty, False, size, raw_url, kind="json")
    return _text(text, cut, size, raw_url)


def _csv(data: bytes, cut: bool, size: int, raw_url: str, delimiter: str) -> Preview:
    text = _decode(data, cut)
    if cut:  # the last line is likely cut short
        text = text[: text.rfind("\n") + 1] or text
    try:
        rows = []
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            rows.append(row)
            if len(rows) > ROWS + 1:  # the header, the rows shown, and one to know there are more
                break
    except csv.Error:  # a field over csv's limit, a NUL byte: shown as text
        return _text(text, cut, size, raw_url)
    more = len(rows) > ROWS + 1
    header, body = (rows[0], rows[1 : ROWS + 1]) if rows else ([], [])
    width = max([len(header), *(len(r) for r in body)])
    cells = Markup("").join
    html = Markup('<table id="preview-table" class="csv"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>').format(
        cells(Markup('<th scope="col">{}</th>').format(c) for c in _pad(header, width)),
        cells(
            Markup("<tr>{}</tr>").format(cells(Markup("<td>{}</td>").format(c) for c in _pad(r, width))) for r in body
        ),
    )
    truncated = more or cut
    if truncated:
        html += Markup(
            '<p class="truncated">The first {} rows are shown: <a href="{}" download>download</a> the whole file.</p>'
        ).format(len(body), raw_url)
    return Preview("csv", html, truncated=truncated)


def _pad(row: list[str], width: int) -> list[str]:
    return row + [""] * (width - len(row))


def _markdown(data: bytes, cut: bool, size: int, raw_url: str) -> Preview:
    from markdown_it import MarkdownIt  # only for a Markdown preview

    # html=False: raw HTML in the file is escaped as text. Links and images go through
    # markdown-it's validateLink, which refuses javascript:, vbscript:, file: and data:
    # URLs other than images; the rendered HTML holds nothing else from the file unescaped.
    rendered = MarkdownIt("commonmark", {"html": False}).render(_decode(data, cut))
    html = Markup('<div class="markdown">{}</div>').format(Markup(rendered)) + _cut_note(cut, size, raw_url)
    return Preview("markdown", html, truncated=cut)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _size(n: int | None) -> str:
    if n is None:
        return "unknown size"
    if n < 1024:
        return f"{n} bytes" if n != 1 else "1 byte"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


# -- tables ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Links:
    """How a table's header and pager link to other views of it."""

    sort: str | None
    descending: bool
    sort_url: SortUrl | None
    page_url: PageUrl | None

    def to_sort(self, column: str, descending: bool) -> str:
        if self.sort_url is not None:
            return self.sort_url(column, descending)
        return "?" + urlencode({"sort": column, **({"desc": "1"} if descending else {})})

    def to_page(self, page: int, sort: str | None, descending: bool) -> str:
        if self.page_url is not None:
            return self.page_url(page)
        query: dict[str, str] = {"page": str(page)}
        if sort is not None:
            query["sort"] = sort
            if descending:
                query["desc"] = "1"
        return "?" + urlencode(query)


def _partitioned(blobs: BlobStore, manifest: Manifest, entry: Entry, raw_url: str, page: int, links: _Links) -> Preview:
    """One table over the parts a partitioned table's pointer names (its ``parts_path``)."""
    size = entry.size or 0
    data = head(blobs, entry.digest, size, TEXT_LIMIT)
    try:
        doc = json.loads(data) if size <= TEXT_LIMIT else None
        parts_path = doc.get("parts_path") if isinstance(doc, dict) else None
    except (ValueError, RecursionError):
        parts_path = None
    if not isinstance(parts_path, str) or not parts_path.strip("/"):
        return _json(data, size > len(data), size, raw_url)  # not a pointer: the JSON itself
    under = [e for e in manifest.under(parts_path.strip("/")) if e.path != entry.path]
    parts = [e for e in under if e.path.endswith(".parquet") and e.ref is None]
    note = Markup('<p class="parts">{} under <code>{}</code>.</p>').format(_count(len(parts), "part"), parts_path)
    if len(parts) < len(under):
        note += Markup('<p class="notice">Left out, as not stored tables: {} under <code>{}</code>.</p>').format(
            _count(len(under) - len(parts), "file"), parts_path
        )
    if not parts:
        return Preview("table", note + Markup('<p class="notice">There are no tables to show.</p>'))
    return _table(blobs, parts, page, links, note)


class _Part:
    """One Parquet file of a table, opened for range reads."""

    def __init__(self, blobs: BlobStore, entry: Entry) -> None:
        import pyarrow.parquet as pq

        self.entry = entry
        # no pre-buffering: a row group's column chunks are read as its batches are
        # decoded, so a page stops reading once it has its rows
        self.file = pq.ParquetFile(
            open_blob(blobs, entry.digest, entry.size or 0), pre_buffer=False, buffer_size=1 << 20
        )
        meta = self.file.metadata
        self.rows = meta.num_rows
        self.groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]

    def read(self, start: int, stop: int, columns: list[str]) -> pa.Table:
        """Rows ``[start, stop)`` of this part: only the row groups that hold them are
        read, and the last one only as far as ``stop``."""
        import pyarrow as pa

        first = offset = 0
        wanted: list[int] = []  # the row groups holding some of the rows
        for i, n in enumerate(self.groups):
            if offset + n > start and offset < stop:
                if not wanted:
                    first = offset
                wanted.append(i)
            offset += n
        batches, have = [], 0
        if wanted:
            for batch in self.file.iter_batches(
                batch_size=BATCH, row_groups=wanted, columns=columns, use_threads=False
            ):
                batches.append(batch)
                have += batch.num_rows
                if first + have >= stop:
                    break
        schema = self.file.schema_arrow
        table = pa.Table.from_batches(batches, schema=pa.schema([schema.field(c) for c in columns]))
        return table.slice(start - first, stop - start)

    def pick(self, positions: list[int], columns: list[str]) -> dict[int, pa.Table]:
        """The rows at ``positions`` of this part, a table of one row each.

        Only the row groups holding some of them are read, a batch at a time, up to the
        last of them, and only the rows asked for are kept: the memory is one batch's,
        but the reading is that of every row group a sorted page's rows fall in.
        """
        import pyarrow as pa

        starts, offset = [], 0  # the position of each row group's first row
        for n in self.groups:
            starts.append(offset)
            offset += n
        located = [(pos, bisect.bisect_right(starts, pos) - 1) for pos in positions]  # (position, its row group)
        groups = sorted({group for _, group in located})
        # where each position comes among the rows of those row groups read one after another
        read_at, offset = {}, 0
        for group in groups:
            read_at[group] = offset
            offset += self.groups[group]
        targets = sorted((read_at[group] + pos - starts[group], pos) for pos, group in located)
        found: dict[int, pa.Table] = {}
        seen, i = 0, 0
        batches = self.file.iter_batches(batch_size=BATCH, row_groups=groups, columns=columns, use_threads=False)
        for batch in batches if targets else ():
            end = seen + batch.num_rows
            while i < len(targets) and targets[i][0] < end:
                found[targets[i][1]] = pa.Table.from_batches([batch.slice(targets[i][0] - seen, 1)])
                i += 1
            seen = end
            if i == len(targets):
                break
        return found


class _Refused(Exception):
    """A sort that cannot be done; the message says why."""


def _table(blobs: BlobStore, entries: Sequence[Entry], page: int, links: _Links, note: Markup | None) -> Preview:
    """One page of the rows of the Parquet files ``entries``, taken as one table.

    The columns are those of the first file; paging needs only the footers' row counts.
    """
    import pyarrow as pa

    parts = []
    for entry in entries:
        try:
            parts.append(_Part(blobs, entry))
        except QuireError:
            raise  # the store's (a blob missing or corrupt), passed through pyarrow
        except (pa.ArrowException, OSError) as exc:  # not Parquet after all (pyarrow's IO errors are OSError)
            which = Markup(" <code>{}</code>").format(entry.path) if len(entries) > 1 else Markup()
            html = Markup('<p class="notice">The file{} cannot be read as Parquet: {}</p>').format(which, str(exc))
            return Preview("binary" if len(entries) == 1 else "table", (note or Markup()) + html)
    schema = parts[0].file.schema_arrow
    names = schema.names
    total = sum(p.rows for p in parts)
    pages = max(1, math.ceil(total / ROWS))
    page = min(max(page, 0), pages - 1)
    sort, descending, notice = links.sort, links.descending, Markup()
    start, stop = page * ROWS, min(total, (page + 1) * ROWS)
    try:
        try:
            rows = _take(parts, _positions(parts, sort, descending, total, start, stop), names) if sort else None
        except _Refused as exc:
            notice = Markup('<p class="notice">{}</p>').format(str(exc))
            sort, descending, rows = None, False, None
        if rows is None:
            rows = _rows(parts, start, stop, names)
    except QuireError:
        raise  # the store's (a blob missing is a KeyError too), passed through pyarrow
    except (pa.ArrowException, OSError, KeyError) as exc:  # a damaged file, or parts whose columns differ
        html = Markup('<p class="notice">The table cannot be read: {}</p>').format(str(exc))
        return Preview("table", (note or Markup()) + html)
    table = TablePreview(
        columns=[(f.name, str(f.type)) for f in schema],
        rows=_display(rows, schema),
        total_rows=total,
        page=page,
        pages=pages,
        sort=sort,
        descending=descending,
    )
    html = (note or Markup()) + notice + _table_html(table, links)
    return Preview("table", html, table=table)


def _rows(parts: list[_Part], start: int, stop: int, names: list[str]) -> pa.Table:
    """Rows ``[start, stop)`` of the parts taken one after another."""
    import pyarrow as pa

    pieces, offset = [], 0
    for part in parts:
        if offset + part.rows > start and offset < stop:
            pieces.append(_conform(part.read(max(start - offset, 0), min(stop - offset, part.rows), names), parts))
        offset += part.rows
    return pa.concat_tables(pieces) if pieces else parts[0].read(0, 0, names)


def _conform(table: pa.Table, parts: list[_Part]) -> pa.Table:
    """``table`` (read from any part) with the first part's column types."""
    schema = parts[0].file.schema_arrow
    return table if table.schema.equals(schema) else table.cast(schema)


def _positions(parts: list[_Part], column: str, descending: bool, total: int, start: int, stop: int) -> list[int]:
    """The row positions (over all parts) of rows ``start`` to ``stop`` in the order of
    ``column``.

    The cost: the whole sort column of every part is read (no other column), so sorting
    is refused beyond :data:`SORT_LIMIT` rows; then only the first ``stop`` rows are
    selected (a partial sort, O(n log stop)), not the whole column sorted. Nulls come
    last; ties keep their stored order (the row position breaks them).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    schema = parts[0].file.schema_arrow
    if column not in schema.names:
        raise _Refused(f"The table has no column {column!r}; the rows are in their stored order.")
    if total > SORT_LIMIT:
        raise _Refused(
            f"Tables of more than {SORT_LIMIT:,} rows are not sorted here; the rows are in their stored order."
        )
    kind = schema.field(column).type
    stop = min(stop, total)
    if start >= stop:
        return []
    try:
        chunks = [part.file.read(columns=[column], use_threads=False).column(0).cast(kind) for part in parts]
        values = pa.chunked_array([c for chunked in chunks for c in chunked.chunks], type=kind)
        table = pa.table({"value": values, "position": pa.array(np.arange(len(values), dtype=np.int64))})
        keys = [("value", "descending" if descending else "ascending"), ("position", "ascending")]
        # A type Arrow cannot order (lists, structs) is refused by a sort of one row:
        # select_k_unstable would crash the process on it instead of raising.
        pc.sort_indices(table.slice(0, 1), sort_keys=keys)
        first = table.take(pc.select_k_unstable(table, k=stop, sort_keys=keys))
        ordered = first.column("position").take(pc.sort_indices(first, sort_keys=keys))
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _Refused(f"The rows cannot be sorted by {column!r} ({kind}): {exc}") from None
    return ordered.slice(start, stop - start).to_pylist()


def _take(parts: list[_Part], positions: list[int], names: list[str]) -> pa.Table:
    """The rows at ``positions`` (over all parts), in that order."""
    import pyarrow as pa

    firsts, offset = [], 0  # the position of each part's first row
    for part in parts:
        firsts.append(offset)
        offset += part.rows
    by_part: dict[int, list[int]] = {}
    for pos in positions:
        by_part.setdefault(bisect.bisect_right(firsts, pos) - 1, []).append(pos)
    found: dict[int, pa.Table] = {}
    for index, wanted in by_part.items():
        picked = parts[index].pick([pos - firsts[index] for pos in wanted], names)
        found.update({firsts[index] + local: _conform(row, parts) for local, row in picked.items()})
    return pa.concat_tables([found[pos] for pos in positions]) if positions else parts[0].read(0, 0, names)


def _display(rows: pa.Table, schema: pa.Schema) -> list[list[str]]:
    """The cells of ``rows`` as display text."""
    columns = []
    for i, field in enumerate(schema):
        meta = field.metadata or {}
        values = rows.column(i).to_pylist()
        if meta.get(_MIXED_KEY):  # a struct with one child set per row: show that one
            values = [next((v for v in cell.values() if v is not None), None) if cell else None for cell in values]
        elif meta.get(_MEDIA_KEY):  # a media cell: its file's path in the artifact
            values = [cell.get("path") if cell else None for cell in values]
        columns.append([_cell(v) for v in values])
    return [list(row) for row in zip(*columns, strict=True)] if columns else [[] for _ in range(rows.num_rows)]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        text = value.hex()
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = str(value)
    return text if len(text) <= CELL_LIMIT else text[: CELL_LIMIT - 1] + "…"


def _table_html(table: TablePreview, links: _Links) -> Markup:
    join = Markup("").join
    header = []
    for name, kind in table.columns:
        current = table.sort == name
        # a click sorts by the column, ascending; on the column sorted ascending, descending
        flip = current and not table.descending
        arrow = Markup(" ▼" if table.descending else " ▲") if current else Markup()
        aria = (
            Markup(' aria-sort="{}"').format("descending" if table.descending else "ascending") if current else Markup()
        )
        header.append(
            Markup('<th scope="col"{}><a href="{}">{}</a>{} <span class="type">{}</span></th>').format(
                aria, links.to_sort(name, flip), name, arrow, kind
            )
        )
    body = join(Markup("<tr>{}</tr>").format(join(Markup("<td>{}</td>").format(c) for c in row)) for row in table.rows)
    summary = Markup('<p class="table-summary">{}, {}{}.</p>').format(
        _count(table.total_rows, "row"),
        _count(len(table.columns), "column"),
        Markup(", sorted by <code>{}</code> ({})").format(table.sort, "descending" if table.descending else "ascending")
        if table.sort is not None
        else Markup(),
    )
    return (
        summary
        + Markup('<table id="preview-table"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>').format(
            join(header), body
        )
        + _pager(table, links)
    )


def _pager(table: TablePreview, links: _Links) -> Markup:
    if table.pages <= 1:
        return Markup()

    def link(page: int, label: str, rel: str) -> Markup:
        if page == table.page or not 0 <= page < table.pages:
            return Markup('<span class="disabled">{}</span>').format(label)
        return Markup('<a href="{}" rel="{}">{}</a>').format(
            links.to_page(page, table.sort, table.descending), rel, label
        )

    return Markup(
        '<nav class="pager" aria-label="pages of the table">{} {} <span>page {} of {}</span> {} {}</nav>'
    ).format(
        link(0, "« first", "first"),
        link(table.page - 1, "← previous", "prev"),
        table.page + 1,
        table.pages,
        link(table.page + 1, "next →", "next"),
        link(table.pages - 1, "last »", "last"),
    )
