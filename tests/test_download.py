"""Downloads: where files land, what a warm cache costs, and what is never delivered."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import quire
from quire.core import pages
from quire.core.cache import cache_for
from quire.core.manifest import Entry, Manifest
from quire.errors import CorruptBlobError, StoreError, ValidationError
from quire.store import open_store
from quire.store.blobs import blob_key
from quire.store.catalog import NewVersion, VersionCommit, new_commit_id
from servers import behind
from support import DOWNLOAD_FILES, digest, files_of, log_download_files, log_files

pytestmark = pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3

FILES = DOWNLOAD_FILES


@pytest.fixture
def logged(tmp_path: Path) -> quire.Artifact:
    """FILES logged as p/data:v0."""
    return log_download_files(tmp_path)


def test_default_root_is_artifacts_name_version(logged: quire.Artifact) -> None:
    root = logged.download()
    assert root == str(Path.cwd() / "artifacts" / "data:v0")  # absolute, as W&B returns it
    assert files_of(Path.cwd() / "artifacts" / "data:v0") == FILES


def test_path_prefix(logged: quire.Artifact, tmp_path: Path) -> None:
    logged.download(tmp_path / "out", path_prefix="sub")
    assert files_of(tmp_path / "out") == {k: v for k, v in FILES.items() if k.startswith("sub/")}
    logged.download(tmp_path / "one", path_prefix="sub/b.txt")
    assert files_of(tmp_path / "one") == {"sub/b.txt": b"beta"}


def test_downloaded_files_are_read_only(logged: quire.Artifact, tmp_path: Path) -> None:
    # They may share their bytes with the cache (hardlinks): writing one would change both.
    root = Path(logged.download(tmp_path / "out"))
    for rel in FILES:
        assert stat.S_IMODE(os.stat(root / rel).st_mode) & 0o222 == 0, rel


def test_download_again_replaces_changed_files(logged: quire.Artifact, tmp_path: Path) -> None:
    root = Path(logged.download(tmp_path / "out"))
    for rel in ("a.txt", "big.bin"):  # an editor saves a new file over the old one
        (root / rel).unlink()
        (root / rel).write_bytes(b"edited")
    (root / "sub" / "b.txt").unlink()
    logged.download(root)
    assert files_of(root) == FILES


def test_checkout_makes_the_folder_exactly_the_version(logged: quire.Artifact, tmp_path: Path) -> None:
    root = tmp_path / "out"
    (root / "sub").mkdir(parents=True)
    (root / "stray.txt").write_bytes(b"not in the version")
    (root / "sub" / "stray.bin").write_bytes(b"neither")
    logged.checkout(root)
    assert files_of(root) == FILES
    logged.verify(root)


def test_verify_reports_changed_missing_and_extra_files(logged: quire.Artifact, tmp_path: Path) -> None:
    root = Path(logged.download(tmp_path / "out"))
    logged.verify(root)
    (root / "a.txt").unlink()
    (root / "a.txt").write_bytes(b"ALPHA")  # same size, other bytes
    (root / "sub" / "b.txt").unlink()
    (root / "extra").write_bytes(b"x")
    with pytest.raises(ValidationError) as caught:
        logged.verify(root)
    message = str(caught.value)
    assert "changed: a.txt" in message and "missing: sub/b.txt" in message and "extra: extra" in message
    assert "big.bin" not in message


def test_file_and_files(tmp_path: Path) -> None:
    log_files("single", {"model.pt": b"weights"}, tmp_path / "src")
    single = quire.Api().artifact("p/single:latest")
    path = single.file(tmp_path / "one")
    assert Path(path) == tmp_path / "one" / "model.pt" and Path(path).read_bytes() == b"weights"
    log_files("double", {"a": b"1", "b": b"2"}, tmp_path / "src2")
    double = quire.Api().artifact("p/double:latest")
    with pytest.raises(ValidationError, match="2 files"):
        double.file(tmp_path / "two")
    assert [(e.path, e.digest, e.size) for e in double.files()] == [("a", digest(b"1"), 1), ("b", digest(b"2"), 1)]
    assert [e.path for e in double.files(["b"])] == ["b"]


class _Counting:
    """An object store that records every call made to it."""

    def __init__(self, inner: Any) -> None:
        self._inner, self.calls = inner, []  # type: ignore[var-annotated]

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args))
            return attr(*args, **kwargs)

        return call


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Callable[[], _Counting]:
    """Installs a counting wrapper around the store's object store (call it to start counting)."""

    def install() -> _Counting:
        blobs = quire.Api().store.blobs
        wrapper = _Counting(blobs.objects)
        monkeypatch.setattr(blobs, "objects", wrapper)
        return wrapper

    return install


def test_cache_cleanup_removes_the_least_recently_used_files_first(tmp_path: Path) -> None:
    arts = [log_files(n, {f"{n}.bin": n.encode() * 5000}, tmp_path / f"src-{n}") for n in ("a", "b", "c")]
    for art in arts:  # cached in this order ...
        art.download(tmp_path / f"first-{art.name}")
    arts[0].download(tmp_path / "again")  # ... then `a` placed again: now `b` is the oldest
    cache = cache_for(open_store().local_dir)
    assert cache.cleanup(2 * 5000) == (1, 5000)  # room for two: the least recent goes
    assert [cache.path(digest(n.encode() * 5000)).exists() for n in ("a", "b", "c")] == [True, False, True]


def test_warm_download_reads_nothing_from_the_blob_store(
    logged: quire.Artifact, tmp_path: Path, counted: Callable[[], _Counting]
) -> None:
    logged.download(tmp_path / "first")
    calls = counted()
    logged.download(tmp_path / "second")
    assert calls.calls == []
    assert files_of(tmp_path / "second") == FILES
    fresh = quire.Api().artifact("p/data:v0")
    fresh.download(tmp_path / "third")  # only the manifest is read
    assert {name for name, _ in calls.calls} <= {"get", "get_range", "list"}
    assert len([c for c in calls.calls if c[0] != "list"]) <= 1  # none if this process has its pages
    assert files_of(tmp_path / "third") == FILES


def test_cold_download_reads_a_pack_in_few_ranges(tmp_path: Path, counted: Callable[[], _Counting]) -> None:
    files = {f"f{i:03}": f"small file {i}".encode() for i in range(200)}
    log_files("many", files, tmp_path / "src")
    art = quire.Api().artifact("p/many:latest")
    art.manifest.entries
    calls = counted()
    art.download(tmp_path / "out")
    assert files_of(tmp_path / "out") == files
    assert len([c for c in calls.calls if c[0] in ("get", "get_range")]) == 1


# -- what is never delivered ----------------------------------------------------------


def _commit_manifest(entries: list[Entry], name: str = "crafted") -> quire.Artifact:
    """Commit a hand-made manifest through the catalog, as a buggy or hostile writer could."""
    store = quire.Api().store
    manifest = Manifest(entries)
    manifest_digest = store.blobs.put_bytes(manifest.to_bytes())
    version = NewVersion(manifest.digest, manifest_digest, manifest.size, len(manifest))
    store.catalog.commit(VersionCommit("p", name, "dataset", version, new_commit_id(), store.catalog.gc_epoch()))
    return quire.Api().artifact(f"p/{name}:latest")


@pytest.mark.parametrize("path", ["../escaped.txt", "sub/../../escaped.txt", "/tmp/escaped.txt", ""])
def test_download_refuses_a_manifest_path_outside_the_root(tmp_path: Path, path: str) -> None:
    store = quire.Api().store
    data = b"planted"
    store.blobs.put_bytes(data)
    art = _commit_manifest([Entry("ok.txt", digest(data), len(data)), Entry(path, digest(data), len(data))])
    root = tmp_path / "deep" / "root"
    with pytest.raises(StoreError, match="refused"):
        art.download(root)
    with pytest.raises(StoreError, match="refused"):
        art.checkout(root)
    assert not (tmp_path / "deep").exists()
    assert not Path("/tmp/escaped.txt").exists()
    root.mkdir(parents=True)
    with pytest.raises(StoreError, match="refused"):
        art.verify(root)


def _flip(prefix: str, holding: bytes, target: bytes | None = None, at: int = 0) -> None:
    """Corrupt the one stored object under ``prefix`` that holds ``holding``: one byte,
    ``at`` past where ``target`` (else ``holding``) starts. Through the object-store
    protocol, so it works on every kind of store."""
    objects = open_store(behind()).blobs.objects
    (key,) = [i.key for i in objects.list(prefix) if not i.key.endswith(".idx") and holding in objects.get(i.key)]
    data = bytearray(objects.get(key))
    data[data.index(target or holding) + at] ^= 0xFF
    objects.delete(key)
    objects.put(key, bytes(data))


def test_a_corrupt_small_blob_is_never_delivered(logged: quire.Artifact, tmp_path: Path) -> None:
    _flip("packs/", b"alpha")
    with pytest.raises(CorruptBlobError, match=digest(b"alpha")):
        logged.download(tmp_path / "out")
    assert not (tmp_path / "out" / "a.txt").exists()


def test_a_corrupt_large_blob_is_never_delivered(logged: quire.Artifact, tmp_path: Path) -> None:
    big = digest(FILES["big.bin"])
    _flip(blob_key(big), b"L", at=1000)
    with pytest.raises(CorruptBlobError, match=big):
        logged.download(tmp_path / "out")
    assert not (tmp_path / "out" / "big.bin").exists()
    with pytest.raises(CorruptBlobError, match=big):  # and not the next time either
        logged.download(tmp_path / "again")
    assert not (tmp_path / "again" / "big.bin").exists()


def test_a_corrupt_manifest_is_refused(logged: quire.Artifact) -> None:
    _flip("packs/", b"quire.manifest", b"a.txt")
    pages._cache.clear()  # as in a new process: this one keeps the pages it read, verified
    with pytest.raises(CorruptBlobError, match="is corrupt"):  # the root, or the page it names
        quire.Api().artifact("p/data:v0").manifest.entries
