"""Bytes through ``quire server``: every upload checked on arrival (a wrong, short or
misplaced body stores nothing), large blobs in parts, range reads, presigned URLs, and
keys that try to climb out of the store. In process unless a socket is the point."""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path
from typing import Any

import blake3
import pytest

import quire
from quire.store.blobs import BlobStore
from quire.store.packs import IDX_ROW, index_bytes
from servers import InProcessServer, ServerProcess


def _digest(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def _blob_key(data: bytes) -> str:
    d = _digest(data)
    return f"objects/{d[:2]}/{d[2:]}"


@pytest.fixture
def server(tmp_path: Path) -> InProcessServer:
    return InProcessServer(str(tmp_path / "behind"))


def _keys(server: InProcessServer) -> list[str]:
    return sorted(i.key for i in server.store.blobs.objects.list())


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_a_blob_whose_bytes_are_not_its_digest_is_refused_and_nothing_stored(server: InProcessServer) -> None:
    client = server.client(server.key("write"))
    before = _keys(server)
    right = os.urandom(2000)
    answer = client.put(f"/api/v1/objects/{_blob_key(right)}", content=right[:-1] + b"!")
    assert answer.status_code == 400 and "does not hash" in answer.json()["error"]["message"]
    assert _keys(server) == before
    assert client.put(f"/api/v1/objects/{_blob_key(right)}", content=right).status_code == 200
    assert server.store.blobs.objects.get(_blob_key(right)) == right


def _pack(server: InProcessServer, client: Any, blobs: list[bytes], lie: int | None = None) -> tuple[str, Any]:
    """Upload a pack of ``blobs``, then its index (the slot ``lie`` naming other bytes)."""
    pack_id = random.Random(len(blobs)).randbytes(16).hex()
    body, slots, offset = b"".join(blobs), [], 0
    for n, blob in enumerate(blobs):
        named = blob if n != lie else b"other bytes"
        slots.append((_digest(named), (offset, len(blob))))
        offset += len(blob)
    assert client.put(f"/api/v1/objects/packs/{pack_id}.pack", content=body).status_code == 200
    return pack_id, client.put(f"/api/v1/objects/packs/{pack_id}.idx", content=index_bytes(slots))


def test_a_pack_index_is_stored_only_if_every_slot_holds_the_bytes_it_names(server: InProcessServer) -> None:
    client = server.client(server.key("write"))
    blobs = [b"first small blob", b"second", b"third one here"]
    pack_id, answer = _pack(server, client, blobs, lie=1)
    assert answer.status_code == 400 and "hold other bytes" in answer.json()["error"]["message"]
    assert f"packs/{pack_id}.idx" not in _keys(server)
    blobs.append(b"four")  # another pack id
    pack_id, answer = _pack(server, client, blobs)
    assert answer.status_code == 200
    assert BlobStore(server.store.blobs.objects).read(_digest(b"second")) == b"second"


def test_an_index_of_a_pack_not_stored_or_cut_short_is_refused(server: InProcessServer) -> None:
    client = server.client(server.key("write"))
    idx = index_bytes([(_digest(b"x"), (0, 1))])
    answer = client.put(f"/api/v1/objects/packs/{'b' * 32}.idx", content=idx)
    assert answer.status_code == 400 and "upload the pack first" in answer.json()["error"]["message"]
    assert client.put(f"/api/v1/objects/packs/{'c' * 32}.pack", content=b"xy").status_code == 200
    short = index_bytes([(_digest(b"x"), (0, 1))])
    answer = client.put(f"/api/v1/objects/packs/{'c' * 32}.idx", content=short)
    assert answer.status_code == 500 or answer.status_code == 400
    assert f"packs/{'c' * 32}.idx" not in _keys(server)
    assert IDX_ROW.size == 48


def test_a_reader_may_mark_a_corrupt_slot_but_not_an_intact_one(server: InProcessServer, tmp_path: Path) -> None:
    writer, reader = server.client(server.key("write")), server.client(server.key("read"))
    blobs = [b"will be corrupted", b"stays intact"]
    pack_id, answer = _pack(server, writer, blobs)
    assert answer.status_code == 200
    intact = f"packs/{pack_id}.pack.{_digest(b'stays intact')}.bad"
    answer = reader.put(f"/api/v1/objects/{intact}", content=b"")
    assert answer.status_code == 400 and "intact" in answer.json()["error"]["message"]
    assert intact not in _keys(server)
    path = tmp_path / "behind" / "blobs" / "packs" / f"{pack_id}.pack"
    data = bytearray(path.read_bytes())
    data[3] ^= 0xFF
    path.write_bytes(bytes(data))
    bad = f"packs/{pack_id}.pack.{_digest(b'will be corrupted')}.bad"
    assert reader.put(f"/api/v1/objects/{bad}", content=b"").status_code == 200
    assert bad in _keys(server)


def test_a_reader_may_set_aside_a_corrupt_blob_but_not_an_intact_one(server: InProcessServer, tmp_path: Path) -> None:
    writer, reader = server.client(server.key("write")), server.client(server.key("read"))
    data = os.urandom(5000)
    key = _blob_key(data)
    assert writer.put(f"/api/v1/objects/{key}", content=data).status_code == 200
    aside = f"quarantine/{key}.{'0' * 12}"
    answer = reader.post("/api/v1/objects:move", json={"key": key, "new_key": aside})
    assert answer.status_code == 400 and "intact" in answer.json()["error"]["message"]
    assert key in _keys(server)
    (tmp_path / "behind" / "blobs" / key).write_bytes(b"rotten")
    assert reader.post("/api/v1/objects:move", json={"key": key, "new_key": aside}).status_code == 200
    assert aside in _keys(server) and key not in _keys(server)
    answer = reader.post("/api/v1/objects:move", json={"key": "catalog-id", "new_key": "gone"})
    assert answer.status_code == 403


# (``a/./b`` is not here: the client's URL handling makes it ``a/b`` before it is sent)
KEYS_OUT = ["../x", "objects/../../x", "/etc/passwd", "a//b", ".hidden", "x" * 600, "a b", "ä", "a\\b", "%2e%2e/x"]


@pytest.mark.parametrize("key", KEYS_OUT)
def test_keys_that_climb_out_or_look_odd_are_refused_for_every_scope(
    server: InProcessServer, tmp_path: Path, key: str
) -> None:
    admin = server.client(server.admin)
    before = _files(tmp_path)
    for method, kwargs in (("PUT", {"content": b"x"}), ("GET", {}), ("HEAD", {}), ("DELETE", {})):
        answer = admin.request(method, f"/api/v1/objects/{key}", **kwargs)
        assert answer.status_code in (400, 404, 405), (method, key, answer.status_code)
    answer = admin.post("/api/v1/objects:move", json={"key": "catalog-id", "new_key": key})
    assert answer.status_code == 400
    assert admin.get("/api/v1/objects", params={"prefix": key}).status_code in (200, 400)
    assert _files(tmp_path) == before
    assert (tmp_path / "behind" / "blobs" / "catalog-id").exists()


def test_a_range_read_answers_exactly_the_bytes_asked_for(server: InProcessServer) -> None:
    client = server.client(server.key("read"))
    writer = server.client(server.key("write"))
    data = bytes(range(256)) * 40
    key = _blob_key(data)
    writer.put(f"/api/v1/objects/{key}", content=data)
    answer = client.get(f"/api/v1/objects/{key}", headers={"range": "bytes=100-199"})
    assert answer.status_code == 206 and answer.content == data[100:200]
    assert client.get(f"/api/v1/objects/{key}", headers={"range": "lines=1-2"}).status_code in (200, 400, 416)
    head = client.head(f"/api/v1/objects/{key}")
    assert head.status_code == 200 and int(head.headers["x-quire-size"]) == len(data)


def test_a_blob_larger_than_a_request_goes_in_parts_and_lands_once(tmp_path: Path) -> None:
    from quire.store.http import connect

    server = InProcessServer(str(tmp_path / "behind"), max_request=64 << 10)
    _, objects = connect(server.url, server.key("write"), client=server.client)
    data = random.Random(7).randbytes((300 << 10) + 17)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    sent: list[int] = []
    objects.put_source(_blob_key(data), source, _digest(data), report=sent.append)  # type: ignore[attr-defined]
    assert server.store.blobs.objects.get(_blob_key(data)) == data
    assert sum(sent) == len(data) and len(sent) == 5  # 4 whole parts and the rest
    assert not [k for k in _keys(server) if k.startswith("uploads/")]
    assert [p for p in (tmp_path / "behind" / "blobs").rglob("*") if p.is_file() and "uploads" in p.parts] == []
    source.write_bytes(data[:-1] + b"!")  # changed since it was hashed: refused whole
    other = data[:-1] + b"?"
    with pytest.raises(ValueError, match="changed"):
        objects.put_source(_blob_key(other), source, _digest(other))  # type: ignore[attr-defined]
    assert _blob_key(other) not in _keys(server)


def test_an_upload_in_parts_resumes_from_the_parts_stored(tmp_path: Path) -> None:
    server = InProcessServer(str(tmp_path / "behind"), max_request=1 << 10)
    client = server.client(server.key("write"))
    data = random.Random(3).randbytes(2500)
    key = _blob_key(data)
    upload = client.post("/api/v1/uploads", json={"key": key}).json()["upload"]
    assert client.put(f"/api/v1/uploads/{upload}/0", content=data[:1024]).status_code == 200
    # the connection dropped; another replica asks what arrived
    other = server.client(server.key("write"))
    assert other.get(f"/api/v1/uploads/{upload}").json() == {"parts": {"0": 1024}}
    answer = other.post(f"/api/v1/uploads/{upload}/complete", json={"parts": 3})
    assert answer.status_code == 400 and "part 1" in answer.json()["error"]["message"]
    other.put(f"/api/v1/uploads/{upload}/1", content=data[1024:2048])
    other.put(f"/api/v1/uploads/{upload}/2", content=data[2048:] + b"x")  # a wrong last part
    answer = other.post(f"/api/v1/uploads/{upload}/complete", json={"parts": 3})
    assert answer.status_code == 400 and key not in _keys(server)
    other.put(f"/api/v1/uploads/{upload}/3", content=b"")
    upload2 = other.post("/api/v1/uploads", json={"key": key}).json()["upload"]
    for n in range(3):
        other.put(f"/api/v1/uploads/{upload2}/{n}", content=data[n * 1024 : (n + 1) * 1024])
    assert other.post(f"/api/v1/uploads/{upload2}/complete", json={"parts": 3}).status_code == 200
    assert server.store.blobs.objects.get(key) == data
    assert other.get(f"/api/v1/uploads/{upload2}").status_code == 404  # done: its parts are gone
    assert client.post("/api/v1/uploads", json={"key": "packs/x.pack"}).status_code == 400
    assert client.get("/api/v1/uploads/../../catalog-id").status_code in (400, 404)


def test_a_body_cut_short_on_the_wire_stores_nothing(server_process: ServerProcess) -> None:
    key = _blob_key(b"y" * 1000)
    write = server_process.key("write")
    with socket.create_connection(("127.0.0.1", server_process.port)) as sock:
        sock.sendall(
            (
                f"PUT /api/v1/objects/{key} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {write}\r\n"
                "Content-Length: 1000\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + b"y" * 400
        )
    behind = Path(server_process.behind) / "blobs"
    import httpx

    with httpx.Client(base_url=server_process.url, headers={"authorization": f"Bearer {write}"}) as client:
        assert client.head(f"/api/v1/objects/{key}").status_code == 404
        assert client.put(f"/api/v1/objects/{key}", content=b"y" * 1000).status_code == 200
    assert (behind / key).read_bytes() == b"y" * 1000


def test_a_body_over_the_limit_is_413_and_stores_nothing(tmp_path: Path) -> None:
    server = InProcessServer(str(tmp_path / "behind"), max_request=1000)
    client = server.client(server.key("write"))
    data = b"z" * 1001
    answer = client.put(f"/api/v1/objects/{_blob_key(data)}", content=data)
    assert answer.status_code == 413 and answer.json()["error"]["type"] == "TooLargeError"
    assert _blob_key(data) not in _keys(server)


@pytest.mark.postgres
@pytest.mark.s3
@pytest.mark.parametrize("presign", [False, True])
def test_presigned_urls_hand_the_bytes_over_from_the_bucket(
    presign: bool, postgres_url: str, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quire.store import registry

    monkeypatch.setenv("QUIRE_BLOBS", f"s3://{s3_bucket}/blobs")
    server = InProcessServer(postgres_url, presign=presign)
    registry.register_store("http", server.connect)
    served: list[str] = []
    app = server.app

    @app.middleware("http")
    async def count(request: Any, call_next: Any) -> Any:
        answer = await call_next(request)
        served.append(f"{request.method} {answer.status_code}")
        return answer

    try:
        monkeypatch.setenv("QUIRE_STORE", server.url)
        monkeypatch.setenv("QUIRE_API_KEY", server.key("write"))
        files = {"small.txt": b"small", "large.bin": random.Random(1).randbytes((1 << 20) + 5)}
        src = tmp_path / "src"
        src.mkdir()
        for name, data in files.items():
            (src / name).write_bytes(data)
        with quire.init(project="p") as run:
            art = quire.Artifact("data", "dataset")
            art.add_dir(str(src))
            run.log_artifact(art)
        quire.store.close_stores()
        served.clear()
        got = quire.Api().artifact("p/data:latest").download(str(tmp_path / "out"))
        assert {n: (Path(got) / n).read_bytes() for n in files} == files
        redirected = served.count("GET 307")
        assert (redirected > 0) == presign, served
    finally:
        quire.store.close_stores()
        server.close()
        registry.register_store("http", registry._server)
