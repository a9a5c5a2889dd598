"""References: entries whose bytes stay where they are (``file://``, ``http(s)://``,
``s3://`` in :mod:`quire.core.s3refs`).

With ``checksum=True`` an entry's digest is that of the content (``file://``) or of the
server's ETag (``http(s)://``), so a changed source is detected on download instead of
silently delivered. With ``checksum=False`` the digest is that of the URI alone.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.parse
from pathlib import Path

from ..errors import ReferenceChangedError, StoreError, ValidationError
from ..hashing import hash_bytes, hash_file, new_hasher
from .ingest import walk_files
from .manifest import Entry
from .names import check_path
from .s3refs import fetch_s3, s3_entries
from .targets import copy_into, make_folders, write_new

DEFAULT_MAX_OBJECTS = 10_000_000
_TIMEOUT = 60


def reference_entries(uri: str, name: str | None, checksum: bool, max_objects: int | None) -> list[Entry]:
    """The entries ``add_reference`` adds for ``uri``."""
    if not isinstance(uri, str) or "://" not in uri:
        raise ValidationError(f"invalid reference {uri!r}: expected a URI such as file:///data/x")
    scheme = uri.split("://", 1)[0].lower()
    if scheme == "file":
        return _file_entries(uri, name, checksum, max_objects or DEFAULT_MAX_OBJECTS)
    if scheme in ("http", "https"):
        return [_http_entry(uri, name, checksum)]
    if scheme == "s3":
        return s3_entries(uri, name, checksum, max_objects or DEFAULT_MAX_OBJECTS)
    raise ValidationError(f"references to {scheme}:// are not supported; use file://, http(s):// or s3://")


def _file_entries(uri: str, name: str | None, checksum: bool, max_objects: int) -> list[Entry]:
    path = Path(urllib.parse.unquote(urllib.parse.urlparse(uri).path))
    if not path.exists():
        raise ValidationError(f"reference {uri} names nothing: {path} does not exist")
    if not checksum:
        logical = check_path(name or path.name)
        return [Entry(logical, hash_bytes(uri.encode()), None, ref=uri)]
    if path.is_file():
        digest, size = hash_file(path)
        return [Entry(check_path(name or path.name), digest, size, ref=path.as_uri())]
    entries: list[Entry] = []
    for rel, item in walk_files(path):
        if len(entries) == max_objects:
            raise ValidationError(
                f"reference {uri} holds more than max_objects={max_objects} files; "
                "raise max_objects or reference a narrower folder"
            )
        digest, size = hash_file(item.path)
        logical = check_path(f"{name}/{rel}" if name else rel)
        entries.append(Entry(logical, digest, size, ref=Path(item.path).as_uri()))
    if not entries:
        raise ValidationError(f"reference {uri} is an empty folder")
    return entries


def _http_entry(uri: str, name: str | None, checksum: bool) -> Entry:
    logical = check_path(name or Path(urllib.parse.urlparse(uri).path).name or "index.html")
    if not checksum:
        return Entry(logical, hash_bytes(uri.encode()), None, ref=uri)
    etag, size = _head(uri)
    if etag is None:  # no ETag: the content itself is the only checksum there is
        h, size = new_hasher(), 0
        with _open(uri) as resp:
            while chunk := resp.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
        return Entry(logical, h.hexdigest(), size, ref=uri)
    return Entry(logical, hash_bytes(f"etag:{etag}".encode()), size, ref=uri, extra={"etag": etag})


def _open(uri: str, method: str = "GET"):  # type: ignore[no-untyped-def]
    import urllib.request  # here: it loads http.client, ssl and email, which only HTTP references need

    try:
        return urllib.request.urlopen(urllib.request.Request(uri, method=method), timeout=_TIMEOUT)
    except (urllib.error.URLError, OSError) as exc:
        raise StoreError(f"cannot reach {uri}: {getattr(exc, 'reason', exc)}") from exc


def _head(uri: str) -> tuple[str | None, int | None]:
    with _open(uri, "HEAD") as resp:
        length = resp.headers.get("Content-Length")
        return resp.headers.get("ETag"), int(length) if length else None


def fetch_reference(entry: Entry, dest: Path) -> None:
    """Copy a reference's bytes to ``dest``, refusing a source that changed since logging.

    Written as every download writes (:mod:`quire.core.targets`): to a new file beside
    ``dest`` renamed over it, so a symlink or hardlink at ``dest`` is replaced, never
    written through.
    """
    assert entry.ref is not None
    scheme = entry.ref.split("://", 1)[0].lower()
    target = os.fspath(dest)
    try:
        if scheme == "s3":
            fetch_s3(entry, dest)
            return
        if scheme == "file":
            src = Path(urllib.parse.unquote(urllib.parse.urlparse(entry.ref).path))
            if entry.size is None and src.is_dir():
                _copy_folder(src, target)
                return

            def copy_checked(fd: int, tmp: str) -> None:
                copy_into(s.fileno(), fd)
                _check(entry, tmp)

            with open(src, "rb") as s:
                write_new(target, copy_checked)
            return

        def fill(fd: int, tmp: str) -> None:
            with _open(entry.ref) as resp, open(fd, "wb", closefd=False) as out:  # type: ignore[arg-type]
                etag = resp.headers.get("ETag")
                shutil.copyfileobj(resp, out, 1 << 20)
            if "etag" in entry.extra and etag != entry.extra["etag"]:
                raise ReferenceChangedError(f"reference {entry.ref} changed since it was logged (ETag {etag})")
            _check(entry, tmp)

        write_new(target, fill)
    except FileNotFoundError as exc:
        raise StoreError(f"reference {entry.ref} is gone: {exc.filename}") from exc


def _check(entry: Entry, tmp: str) -> None:
    if entry.size is not None and "etag" not in entry.extra and hash_file(tmp)[0] != entry.digest:
        raise ReferenceChangedError(f"reference {entry.ref} changed since it was logged; its digest differs")


def _copy_folder(src: Path, dest: str) -> None:
    """Copy the files below ``src`` (a reference without checksums) to below ``dest``."""
    files = [(item.path, os.path.join(dest, rel)) for rel, item in walk_files(src)]
    make_folders(os.path.dirname(dest), {dest, *(os.path.dirname(t) for _, t in files)})
    for path, target in files:
        with open(path, "rb") as s:
            write_new(target, lambda fd, _: copy_into(s.fileno(), fd))
