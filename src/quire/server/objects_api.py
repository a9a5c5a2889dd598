"""``/api/v1/objects/…`` and ``/api/v1/uploads/…``: the object store behind the server.

Reads (``GET`` with ``Range``, ``HEAD``, listings) need a read key; when the server runs
with ``--presign`` and its objects are in a bucket, a ``GET`` answers ``307`` to a
short-lived signed URL of the bucket instead, so the bytes skip the server. Writes are
streamed to a scratch file, counted against the size limit, hashed on the way and
checked by their key's form (:mod:`quire.server.keyforms`) before they are stored: a
wrong or truncated body stores nothing. A body larger than one request may be goes in
parts (``/uploads``): each part is an object under ``uploads/<id>/`` of the store behind
(so a client may resume on any replica after a dropped connection), and completing the
upload joins, hashes and stores them as one blob.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from ..errors import (
    ArtifactNotFoundError,
    ObjectNotFoundError,
    PermissionDeniedError,
    TooLargeError,
    ValidationError,
)
from ..hashing import hash_bytes, new_hasher
from ..store import OWNER_KEY, Store, wire
from ..store.objects import GetSigner, ObjectStore
from ..store.packs import pack_of, parse_mark, read_index
from .auth import Caller, caller
from .keyforms import FORMS, RESERVED, check_key, digest_of_blob, kind_of

router = APIRouter()
Who = Annotated[Caller, Depends(caller)]
CHUNK = 1 << 20  #: bytes read from a stored file at a time (hashing, joining parts)
_UPLOAD = re.compile(r"[0-9a-f]{32}")


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _objects(request: Request) -> ObjectStore:
    return _store(request).blobs.objects


# -- reading ------------------------------------------------------------------------------


@router.get("/objects", summary="List the objects under a prefix (one JSON record per line)")
def list_objects(request: Request, who: Who, prefix: str = "") -> StreamingResponse:
    who.require_scope("read")
    if prefix:
        check_key(prefix.rstrip("/") or "x")
    objects = _objects(request)

    def lines() -> Iterator[bytes]:
        # Streamed as the store lists them: a listing of millions of blobs (gc's) takes
        # the server no memory and one pass, not a page at a time from the start again.
        for info in objects.list(prefix):
            if not info.key.startswith(RESERVED) and info.key != OWNER_KEY:
                yield json.dumps(wire.encode(info)).encode() + b"\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.head("/objects/{key:path}", summary="The size of an object (X-Quire-Size)")
def head_object(key: str, request: Request, who: Who) -> Response:
    who.require_scope("read")
    check_key(key)
    size = _objects(request).size(key)
    if size is None:
        return Response(status_code=404)
    return Response(headers={"x-quire-size": str(size)})


@router.get("/objects/{key:path}", summary="An object's bytes (Range supported)")
def get_object(key: str, request: Request, who: Who) -> Response:
    who.require_scope("read")
    check_key(key)
    objects = _objects(request)
    settings = request.app.state.settings
    if settings.presign and objects.capabilities.presigned_reads:
        url = cast(GetSigner, objects).sign_get(key, settings.presign_seconds)
        if url is not None:
            return RedirectResponse(url, status_code=307)
    local = objects.local_path(key)
    if local is not None:
        if not local.is_file():
            raise ObjectNotFoundError(f"object {key!r} is missing from the server's store", key)
        return FileResponse(local, media_type="application/octet-stream")
    wanted = _range(request.headers.get("range"))
    if wanted is not None:
        start, end = wanted
        size = objects.size(key)
        if size is None:
            raise ObjectNotFoundError(f"object {key!r} is missing from the server's store", key)
        end = min(end if end is not None else size - 1, size - 1)
        data = objects.get_range(key, start, max(0, end - start + 1))
        return Response(
            data,
            status_code=206,
            media_type="application/octet-stream",
            headers={"content-range": f"bytes {start}-{start + len(data) - 1}/{size}"},
        )
    tmp = objects.temp_path()
    objects.get_file(key, tmp)
    return FileResponse(tmp, media_type="application/octet-stream", background=BackgroundTask(tmp.unlink, True))


def _range(header: str | None) -> tuple[int, int | None] | None:
    """``(first, last)`` byte of a single ``Range: bytes=a-b`` header (None: the whole)."""
    if not header:
        return None
    match = re.fullmatch(r"bytes=(\d+)-(\d*)", header.strip())
    if match is None:
        raise ValidationError(f"the server reads one range 'bytes=first-last', not {header[:60]!r}")
    return int(match[1]), int(match[2]) if match[2] else None


# -- writing ------------------------------------------------------------------------------


@router.put("/objects/{key:path}", summary="Store an object if absent, verified by its key's form")
async def put_object(key: str, request: Request, who: Who) -> JSONResponse:
    kind = kind_of(key)
    _may_write(who, kind)
    objects = _objects(request)
    tmp, digest, size = await _receive(request, objects)
    try:
        await run_in_threadpool(_verify_and_store, _store(request), key, kind, tmp, digest, size)
    finally:
        tmp.unlink(missing_ok=True)
    return JSONResponse({"key": key, "size": size})


def _may_write(who: Caller, kind: str) -> None:
    if kind == "mark":
        who.require_scope("read")  # any reader that finds a corrupt slot may say so: it is checked
    elif kind in ("blob", "pack", "index"):
        who.require_scope("write")
    else:
        who.require("admin")


async def _receive(request: Request, objects: ObjectStore) -> tuple[Path, str, int]:
    """The body of ``request`` in a scratch file: ``(path, digest, size)``; ``TooLargeError``
    past the server's limit, ``ValidationError`` when it is shorter than it said."""
    limit: int = request.app.state.settings.max_request
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLargeError(f"the body has {declared} bytes; this server takes at most {limit} in one request")
    tmp = objects.temp_path()
    hasher, size, batch = new_hasher(), 0, bytearray()
    try:
        with open(tmp, "xb") as f:

            def absorb(data: bytes) -> None:
                hasher.update(data)
                f.write(data)

            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise TooLargeError(
                        f"the body has more than {limit} bytes, the most this server takes in one request"
                    )
                batch += chunk
                if len(batch) >= CHUNK:
                    # Hashed and written in a worker thread (both let go of the GIL): the
                    # event loop goes on receiving every other upload meanwhile.
                    data, batch = bytes(batch), bytearray()
                    await run_in_threadpool(absorb, data)
            if batch:
                await run_in_threadpool(absorb, bytes(batch))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if declared is not None and declared.isdigit() and int(declared) != size:
        tmp.unlink(missing_ok=True)
        raise ValidationError(f"the body was cut short: {size} of {declared} bytes arrived; nothing was stored")
    return tmp, hasher.hexdigest(), size


def _verify_and_store(store: Store, key: str, kind: str, tmp: Path, digest: str, size: int) -> None:
    objects = store.blobs.objects
    if kind == "blob":
        if digest != digest_of_blob(key):
            raise ValidationError(
                f"the body does not hash to the digest {key} names (it hashes to {digest}: the file changed "
                "since it was hashed, or was damaged on the way); nothing was stored"
            )
    elif kind == "index":
        _check_index(objects, key, tmp)
    elif kind == "mark":
        _check_mark(objects, key)
    objects.put_file(key, tmp)


def _check_index(objects: ObjectStore, key: str, tmp: Path) -> None:
    """A pack's index is stored only if its pack is, it covers the pack, and every slot's
    bytes hash to the digest it lists (one read of the pack)."""
    pack = pack_of(key)
    pack_size = objects.size(pack)
    if pack_size is None:
        raise ValidationError(f"the index {key} names the pack {pack}, which is not stored: upload the pack first")
    slots = sorted(read_index(key, tmp.read_bytes(), pack_size).items(), key=lambda item: item[1].offset)
    with _opened(objects, pack) as f:
        for digest, slot in slots:  # in the pack's order: one pass over it
            f.seek(slot.offset)
            if hash_bytes(f.read(slot.length)) != digest:
                raise ValidationError(
                    f"the index {key} lists {digest} at bytes {slot.offset}+{slot.length} of {pack}, which hold "
                    "other bytes; nothing was stored"
                )


def _check_mark(objects: ObjectStore, key: str) -> None:
    """A bad-slot mark is stored only if the slot it names is corrupt (a reader may not
    hide intact blobs)."""
    digest, pack = parse_mark(key)
    try:
        raw = objects.get(pack.removesuffix(".pack") + ".idx")
    except ObjectNotFoundError:
        raise ValidationError(f"the mark {key} names a pack without an index; nothing was stored") from None
    slot = read_index(key, raw, None).get(digest)
    if slot is None:
        raise ValidationError(f"{pack} holds no slot of {digest}; nothing was marked")
    if hash_bytes(objects.get_range(pack, slot.offset, slot.length)) == digest:
        raise ValidationError(f"the slot of {digest} in {pack} is intact; it was not marked bad")


@contextlib.contextmanager
def _opened(objects: ObjectStore, key: str) -> Iterator[Any]:
    local = objects.local_path(key)
    if local is not None:
        with open(local, "rb") as f:
            yield f
        return
    tmp = objects.temp_path()
    try:
        objects.get_file(key, tmp)
        with open(tmp, "rb") as f:
            yield f
    finally:
        tmp.unlink(missing_ok=True)


@router.post("/objects:move", summary="Move an object (quarantine a corrupt blob)")
def move_object(request: Request, who: Who, body: dict[str, str]) -> JSONResponse:
    key, new_key = check_key(str(body.get("key", ""))), check_key(str(body.get("new_key", "")))
    objects = _objects(request)
    quarantine = (
        kind_of(key) == "blob" and FORMS["quarantine"].fullmatch(new_key) and new_key.startswith(f"quarantine/{key}.")
    )
    if quarantine and not who.allows("admin"):
        who.require_scope("read")  # checked: only a blob that really is corrupt is set aside
        if _store(request).blobs.hash_of(key) == digest_of_blob(key):
            raise ValidationError(f"the blob {digest_of_blob(key)} is intact; it was not set aside")
    else:
        who.require("admin")
        if kind_of(new_key) not in ("other", "quarantine"):
            raise PermissionDeniedError(
                f"{new_key} is a key whose bytes the server checks: it is written, not moved to"
            )
    objects.move(key, new_key)
    return JSONResponse({"key": new_key})


@router.delete("/objects/{key:path}", summary="Delete an object (admin)")
def delete_object(key: str, request: Request, who: Who) -> JSONResponse:
    who.require("admin")
    check_key(key)
    _objects(request).delete(key)
    return JSONResponse({"key": key})


# -- uploads in parts ------------------------------------------------------------------


@router.post("/uploads", summary="Begin an upload in parts of a large blob")
def begin_upload(request: Request, who: Who, body: dict[str, Any]) -> JSONResponse:
    key = str(body.get("key", ""))
    if kind_of(key) != "blob":
        raise ValidationError(f"an upload in parts stores a large blob (objects/…), not {key[:80]!r}")
    who.require_scope("write")
    upload = uuid.uuid4().hex
    _objects(request).put(f"uploads/{upload}/key", key.encode())
    return JSONResponse({"upload": upload, "part_size": request.app.state.settings.max_request})


def _upload_key(request: Request, upload: str) -> str:
    if not _UPLOAD.fullmatch(upload):
        raise ValidationError(f"{upload[:40]!r} is not an upload id")
    try:
        return _objects(request).get(f"uploads/{upload}/key").decode()
    except ObjectNotFoundError:
        raise ArtifactNotFoundError(f"no upload {upload} on this server (it completed, or never began)") from None


@router.get("/uploads/{upload}", summary="The parts of an upload stored so far (to resume it)")
def upload_parts(upload: str, request: Request, who: Who) -> JSONResponse:
    who.require_scope("write")
    _upload_key(request, upload)
    parts = {}
    for info in _objects(request).list(f"uploads/{upload}/"):
        name = info.key.rsplit("/", 1)[1]
        if name.isdigit():
            parts[int(name)] = info.size
    return JSONResponse({"parts": {str(n): size for n, size in sorted(parts.items())}})


@router.put("/uploads/{upload}/{part}", summary="Store one part of an upload")
async def put_part(upload: str, part: int, request: Request, who: Who) -> JSONResponse:
    who.require_scope("write")
    await run_in_threadpool(_upload_key, request, upload)
    if not 0 <= part < 100_000:
        raise ValidationError(f"part {part} is out of range (0 to 99999)")
    objects = _objects(request)
    tmp, _, size = await _receive(request, objects)
    try:
        await run_in_threadpool(objects.put_file, f"uploads/{upload}/{part}", tmp)
    finally:
        tmp.unlink(missing_ok=True)
    return JSONResponse({"part": part, "size": size})


@router.post("/uploads/{upload}/complete", summary="Join the parts and store the blob, if it hashes right")
def complete_upload(upload: str, request: Request, who: Who, body: dict[str, Any]) -> JSONResponse:
    who.require_scope("write")
    key = _upload_key(request, upload)
    count = body.get("parts")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValidationError("completing an upload takes the number of its parts: {'parts': n}")
    objects = _objects(request)
    tmp = objects.temp_path()
    hasher, size = new_hasher(), 0
    try:
        with open(tmp, "xb") as out:
            for n in range(count):
                try:
                    with _opened(objects, f"uploads/{upload}/{n}") as f:
                        while chunk := f.read(CHUNK):
                            hasher.update(chunk)
                            out.write(chunk)
                            size += len(chunk)
                except ObjectNotFoundError:
                    raise ValidationError(f"part {n} of upload {upload} is missing; upload it, then complete") from None
        if hasher.hexdigest() != digest_of_blob(key):
            raise ValidationError(
                f"the {count} parts do not hash to the digest {key} names (the file changed since it was hashed, "
                "or a part was damaged on the way); nothing was stored"
            )
        objects.put_file(key, tmp)
    finally:
        tmp.unlink(missing_ok=True)
    _drop_upload(objects, upload)
    return JSONResponse({"key": key, "size": size})


@router.delete("/uploads/{upload}", summary="Abandon an upload")
def abort_upload(upload: str, request: Request, who: Who) -> JSONResponse:
    who.require_scope("write")
    _upload_key(request, upload)
    _drop_upload(_objects(request), upload)
    return JSONResponse({"upload": upload})


def _drop_upload(objects: ObjectStore, upload: str) -> None:
    for info in list(objects.list(f"uploads/{upload}/")):
        objects.delete(info.key)
