"""References to objects in S3 buckets (``s3://bucket/key`` or ``s3://bucket/prefix``).

As W&B records them: with ``checksum=True`` each object becomes one entry whose digest
derives from its ETag, with the ETag and (in a versioned bucket) the ``versionID`` kept in
``extra``; a key that is no object is a prefix whose objects are listed (at most
``max_objects`` of them: more is an error, never a silent truncation; none is an error
too). A download fetches the recorded version; without a version id it asks for the
recorded ETag, so an object overwritten since is reported, not silently delivered.
Credentials and endpoint come from the same ``AWS_*`` variables as the blob store's.
"""

from __future__ import annotations

import os
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactNotFoundError, ReferenceChangedError, StoreError, ValidationError
from ..files import discard, replace, temp_name
from ..hashing import hash_bytes
from .manifest import Entry
from .names import check_path
from .targets import make_folders

if TYPE_CHECKING:
    from ..store.s3 import CloudObjects

_HEADS = 16  # HEAD requests in flight when collecting version ids of a prefix


class Buckets:
    """The object store of each referenced bucket, made once per bucket and endpoint:
    each holds a client (connections, credentials) worth keeping between references."""

    def __init__(self) -> None:
        self._by_key: dict[str, CloudObjects] = {}
        self._lock = threading.Lock()  # a download's threads share one client per bucket

    def get(self, name: str) -> CloudObjects:
        """The object store of the bucket ``name`` at the endpoint the environment names."""
        from ..store.s3 import CloudObjects  # obstore is an optional dependency

        key = f"{name} {os.environ.get('AWS_ENDPOINT_URL_S3') or os.environ.get('AWS_ENDPOINT_URL')}"
        with self._lock:
            if key not in self._by_key:
                self._by_key[key] = CloudObjects(f"s3://{name}")
            return self._by_key[key]


#: This process's bucket clients.
BUCKETS = Buckets()


def _split(uri: str) -> tuple[str, str]:
    parsed = urllib.parse.urlparse(uri)
    if not parsed.netloc:
        raise ValidationError(f"invalid reference {uri!r}: expected s3://bucket/key or s3://bucket/prefix")
    return parsed.netloc, urllib.parse.unquote(parsed.path.lstrip("/"))


def _etag(meta: dict[str, Any]) -> str:
    return (meta.get("e_tag") or "").strip('"')


def _entry(logical: str, bucket: str, meta: dict[str, Any]) -> Entry:
    etag = _etag(meta)
    extra: dict[str, Any] = {"etag": etag}
    if meta.get("version") not in (None, "null"):  # "null": a bucket without versioning
        extra["versionID"] = meta["version"]
    ref = f"s3://{bucket}/{urllib.parse.quote(meta['path'])}"
    return Entry(check_path(logical), hash_bytes(f"etag:{etag}".encode()), meta["size"], ref=ref, extra=extra)


def s3_entries(uri: str, name: str | None, checksum: bool, max_objects: int) -> list[Entry]:
    """The entries ``add_reference`` adds for an ``s3://`` URI."""
    bucket, key = _split(uri)
    if not checksum:
        logical = name or key.rstrip("/").rpartition("/")[2] or bucket
        return [Entry(check_path(logical), hash_bytes(uri.encode()), None, ref=uri)]
    objects = BUCKETS.get(bucket)
    meta = objects.head(key) if key and not key.endswith("/") else None
    if meta is not None:
        return [_entry(name or key.rpartition("/")[2], bucket, meta)]
    folder = key.rstrip("/") + "/" if key else ""
    listed: list[dict[str, Any]] = []
    for item in objects.list_meta(folder):
        if item["path"].endswith("/"):
            continue  # a folder marker made by a console, not a file
        if len(listed) == max_objects:
            raise ValidationError(
                f"reference {uri} holds more than max_objects={max_objects} objects; "
                "pass a larger max_objects or reference a narrower prefix"
            )
        listed.append(item)
    if not listed:
        raise ValidationError(f"reference {uri} names nothing: no object has that key or lies under that prefix")
    listed = _with_versions(objects, listed)
    return [
        _entry(f"{name}/{m['path'][len(folder) :]}" if name else m["path"][len(folder) :], bucket, m) for m in listed
    ]


def _with_versions(objects: CloudObjects, listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Listings carry no version ids: HEAD each object, unless the bucket has none."""
    first = objects.head(listed[0]["path"])
    if first is None or first.get("version") in (None, "null"):
        return listed
    with ThreadPoolExecutor(_HEADS) as pool:
        heads = list(pool.map(objects.head, [m["path"] for m in listed[1:]]))
    out = [first]
    for meta, head in zip(listed[1:], heads, strict=True):
        out.append(head if head is not None else meta)  # deleted meanwhile: download will say
    return out


def fetch_s3(entry: Entry, dest: Path) -> None:
    """Download a reference: its recorded version, else only while its ETag is unchanged."""
    assert entry.ref is not None
    bucket, key = _split(entry.ref)
    objects = BUCKETS.get(bucket)
    if entry.size is None:  # no checksum: whatever is there now, an object or a prefix
        if objects.head(key) is not None:
            _fetch(objects, key, dest)
            return
        folder = key.rstrip("/") + "/"
        for meta in objects.list_meta(folder):
            target = dest / check_path(meta["path"][len(folder) :])
            make_folders(os.path.dirname(dest), {os.fspath(dest), os.fspath(target.parent)})  # no symlink followed
            _fetch(objects, meta["path"], target)
        return
    version, etag = entry.extra.get("versionID"), entry.extra.get("etag")
    try:
        _fetch(objects, key, dest, version, etag)
    except ArtifactNotFoundError as exc:
        what = f"version {version} of " if version else ""
        raise StoreError(f"reference {entry.ref} is gone: {what}the object no longer exists") from exc


def _fetch(objects: CloudObjects, key: str, dest: Path, version: str | None = None, etag: str | None = None) -> None:
    tmp = temp_name(dest)  # fetch() makes it new, as open(…, "xb") does: never through a planted link
    try:
        meta = objects.fetch(key, Path(tmp), version=version, if_match=f'"{etag}"' if etag and not version else None)
        if etag and _etag(meta) != etag:  # a version id whose bytes are not the ones recorded
            raise ReferenceChangedError(
                f"{objects.url}/{key} changed since it was logged (ETag {_etag(meta)}, not {etag})"
            )
        replace(tmp, dest, durable=False)  # a download lost to a power loss is downloaded again
    finally:
        discard(tmp)
