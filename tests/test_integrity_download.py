"""Integrity of downloads and the local cache (issue 10, items 1, 2, 5 and 15).

What a user relies on: editing a downloaded file never changes the store or what a later
download delivers; a cached file that changed is never delivered; a download writes only
inside its folder, whatever is already there; and a cache cleanup beside a download never
makes it fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import quire
from quire.core import download as _download
from quire.core.cache import Cache, cache_for
from quire.errors import CorruptBlobError, StoreError
from quire.store import open_store
from quire.store.blobs import blob_key
from servers import behind
from support import DOWNLOAD_FILES, digest, files_of, log_download_files

pytestmark = pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3

FILES = DOWNLOAD_FILES


@pytest.fixture
def logged(tmp_path: Path) -> quire.Artifact:
    """FILES logged as p/data:v0."""
    return log_download_files(tmp_path)


@pytest.fixture
def other_fs() -> Iterator[Path]:
    """A fresh folder on another filesystem (tmpfs), where downloads must copy."""
    base = Path("/dev/shm")
    if not base.is_dir() or os.stat(base).st_dev == os.stat(Path.cwd()).st_dev:
        pytest.skip("no second filesystem to download across")
    folder = base / f"quire-test-{uuid.uuid4().hex}"
    folder.mkdir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _cache() -> Cache:
    return cache_for(open_store().local_dir)


#: How an in-place edit leaves the file's mtime: as any write does (now), as ``cp -p`` or
#: ``rsync -t --inplace`` from another file does (that file's mtime), or as a build with
#: ``SOURCE_DATE_EPOCH`` or an unpacked archive does (whole seconds, the old time's).
MTIMES = ["now", "other-file", "whole-second"]


def _overwrite(path: Path, data: bytes, mtime: str = "now") -> None:
    """Write ``data`` into the existing file (same inode), as a careless user or root would."""
    before = path.stat()
    path.chmod(0o644)  # chmod u+w: a read-only mode is no protection
    with open(path, "r+b") as f:
        f.write(data)
    if mtime == "other-file":
        other = path.with_name(f".other-{uuid.uuid4().hex}")
        other.write_bytes(b"x")
        os.utime(path, ns=(before.st_atime_ns, other.stat().st_mtime_ns))
        other.unlink()
    elif mtime == "whole-second":
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns // 10**9 * 10**9))


def _same_size_garbage(data: bytes) -> bytes:
    return bytes(b ^ 0x5A for b in data)


# -- item 1: the store's copy is never shared with a user's folder ------------------------


@pytest.mark.parametrize("mtime", MTIMES)
def test_editing_a_downloaded_file_changes_neither_the_store_nor_later_downloads(
    logged: quire.Artifact, tmp_path: Path, mtime: str
) -> None:
    root = Path(logged.download(tmp_path / "first"))
    for rel in ("a.txt", "big.bin"):
        _overwrite(root / rel, _same_size_garbage(FILES[rel]), mtime)
    blobs = open_store().blobs
    for rel in ("a.txt", "big.bin"):
        assert blobs.read(digest(FILES[rel])) == FILES[rel], rel  # the store never changes
    assert files_of(logged.download(tmp_path / "second")) == FILES
    assert files_of(quire.Api().artifact("p/data:v0").download(tmp_path / "third")) == FILES


def test_a_large_cached_file_is_not_the_stores_own_file(logged: quire.Artifact, tmp_path: Path) -> None:
    root = Path(logged.download(tmp_path / "out"))
    stored = open_store().blobs.local_path(digest(FILES["big.bin"]))
    if stored is None:
        pytest.skip("the blob store is not on this machine")
    assert not os.path.samefile(stored, _cache().path(digest(FILES["big.bin"])))
    assert not os.path.samefile(stored, root / "big.bin")


# -- item 2: the warm path verifies what it cannot prove unchanged ------------------------


@pytest.mark.parametrize("mtime", MTIMES)
def test_an_edited_cached_file_is_fetched_again_for_readers_in_place(logged: quire.Artifact, mtime: str) -> None:
    entries = [logged.get_entry("a.txt"), logged.get_entry("big.bin")]
    store, cache = open_store(), _cache()
    first = _download.cached_files(store.blobs, cache, entries)
    for path, entry in zip(first, entries, strict=True):
        _overwrite(path, _same_size_garbage(FILES[entry.path]), mtime)
    again = _download.cached_files(store.blobs, cache, entries)
    assert [p.read_bytes() for p in again] == [FILES["a.txt"], FILES["big.bin"]]


def test_an_edited_cached_file_with_a_corrupt_stored_blob_raises(logged: quire.Artifact, tmp_path: Path) -> None:
    big = digest(FILES["big.bin"])
    logged.download(tmp_path / "first")
    _overwrite(_cache().path(big), _same_size_garbage(FILES["big.bin"]), "other-file")
    objects = open_store(behind()).blobs.objects
    data = bytearray(objects.get(blob_key(big)))
    data[1000] ^= 0xFF
    objects.delete(blob_key(big))
    objects.put(blob_key(big), bytes(data))
    with pytest.raises(CorruptBlobError, match=big):
        logged.download(tmp_path / "second")
    assert not (tmp_path / "second" / "big.bin").exists()


def test_a_cache_from_before_seals_is_verified_once(logged: quire.Artifact, tmp_path: Path) -> None:
    # A cached file without a seal (an older Quire's cache: its mtime is when it was
    # written) is no proof: hashed once, replaced when wrong, sealed when right.
    logged.download(tmp_path / "first")
    cache = _cache()
    wrong, right = cache.path(digest(FILES["a.txt"])), cache.path(digest(FILES["sub/b.txt"]))
    _overwrite(wrong, _same_size_garbage(FILES["a.txt"]))
    for path in (wrong, right):
        os.utime(path, ns=(0, 1_700_000_000 * 10**9))
    assert files_of(logged.download(tmp_path / "second")) == FILES
    sealed = right.stat().st_mtime_ns
    assert sealed % 10**9 != 0  # sealed again (its bytes were right): the next use costs a stat
    logged.download(tmp_path / "third")
    assert right.stat().st_mtime_ns == sealed


def test_an_edit_while_a_download_places_the_file_is_caught_by_the_next(
    logged: quire.Artifact, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A write through another hardlink lands after this download checked the cached file
    # and before it linked it: this download shares the user's edit (it is the same
    # inode), and the next one must not.
    first = Path(logged.download(tmp_path / "first"))
    ensure = Cache._ensure

    def check_then_edit(self: Cache, *args: object) -> int:
        fetched = ensure(self, *args)  # type: ignore[arg-type]
        _overwrite(first / "a.txt", _same_size_garbage(FILES["a.txt"]))
        return fetched

    monkeypatch.setattr(Cache, "_ensure", check_then_edit)
    logged.download(tmp_path / "second")
    monkeypatch.setattr(Cache, "_ensure", ensure)
    assert files_of(logged.download(tmp_path / "third")) == FILES


# -- item 5: downloads write only inside the root ---------------------------------------


def _plant(root: Path, victims: Path, kind: str) -> dict[Path, bytes]:
    """Put a symlink or a hardlink to a victim's file at each target path of FILES."""
    planted = {}
    for rel in FILES:
        victim = victims / rel.replace("/", "_")
        victim.parent.mkdir(parents=True, exist_ok=True)
        victim.write_bytes(b"the victim's own bytes")
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        if kind == "symlink":
            (root / rel).symlink_to(victim)
        else:
            os.link(victim, root / rel)
        planted[victim] = victim.read_bytes()
    return planted


@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
@pytest.mark.parametrize("where", ["same-fs", "other-fs"])
def test_a_link_at_a_target_is_replaced_never_written_through(
    logged: quire.Artifact, tmp_path: Path, request: pytest.FixtureRequest, kind: str, where: str
) -> None:
    base = tmp_path if where == "same-fs" else request.getfixturevalue("other_fs")
    root, victims = base / "root", base / "victims"
    planted = _plant(root, victims, kind)
    logged.download(root)
    assert {p: p.read_bytes() for p in planted} == planted
    assert files_of(root) == FILES
    assert not any((root / rel).is_symlink() for rel in FILES)


@pytest.mark.parametrize("where", ["same-fs", "other-fs"])
def test_a_symlinked_folder_inside_the_root_is_never_followed(
    logged: quire.Artifact, tmp_path: Path, request: pytest.FixtureRequest, where: str
) -> None:
    base = tmp_path if where == "same-fs" else request.getfixturevalue("other_fs")
    root, outside = base / "root", base / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "b.txt").write_bytes(b"outside")
    root.mkdir()
    (root / "sub").symlink_to(outside)
    logged.download(root)
    assert files_of(outside) == {"b.txt": b"outside"}  # nothing written, nothing removed
    assert not (root / "sub").is_symlink()
    assert files_of(root) == FILES


def test_files_already_in_the_root_at_manifest_paths_are_replaced_others_left_alone(
    logged: quire.Artifact, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"the user's old a.txt")
    (root / "mine.txt").write_bytes(b"the user's own file")
    (root / "sub" / "notes.md").write_bytes(b"notes")
    logged.download(root)
    assert files_of(root) == {**FILES, "mine.txt": b"the user's own file", "sub/notes.md": b"notes"}


def test_a_relative_root_and_the_current_folder(
    logged: quire.Artifact, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    logged.download(".")
    logged.download("rel/out")
    assert files_of(tmp_path / "here" / "rel" / "out") == FILES
    assert {k: v for k, v in files_of(tmp_path / "here").items() if not k.startswith("rel/")} == FILES


@pytest.mark.parametrize("rel, kind", [("sub", "file"), ("a.txt", "folder")])
def test_something_in_the_way_is_a_clear_error_and_loses_nothing(
    logged: quire.Artifact, tmp_path: Path, rel: str, kind: str
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    if kind == "file":
        (root / rel).write_bytes(b"the user's file")
    else:
        (root / rel).mkdir()
        (root / rel / "kept.txt").write_bytes(b"the user's file")
    with pytest.raises(StoreError, match=f"{rel}: a {kind} of that name is in the way.*move it"):
        logged.download(root)
    kept = root / rel if kind == "file" else root / rel / "kept.txt"
    assert kept.read_bytes() == b"the user's file"


def test_deleting_older_downloads_then_editing_is_still_caught(logged: quire.Artifact, tmp_path: Path) -> None:
    # Deleting a hardlinked download changes the cached file's ctime (not its seal): an
    # edit through another download afterwards is still caught, right bytes still used.
    first = Path(logged.download(tmp_path / "first"))
    second = Path(logged.download(tmp_path / "second"))
    shutil.rmtree(first)
    _overwrite(second / "a.txt", _same_size_garbage(FILES["a.txt"]), "other-file")
    assert files_of(logged.download(tmp_path / "third")) == FILES
    shutil.rmtree(second)
    assert files_of(logged.download(tmp_path / "fourth")) == FILES


def test_a_planted_temporary_name_is_never_written_through(tmp_path: Path) -> None:
    # A reference is copied to a temporary name next to its target: a symlink planted at
    # a predictable temporary name must not redirect the copy.
    source = tmp_path / "data.bin"
    source.write_bytes(b"referenced bytes")
    with quire.init(project="p") as run:
        art = quire.Artifact("refs", "dataset")
        art.add_reference(source.as_uri())
        run.log_artifact(art)
    victim = tmp_path / "victim"
    victim.write_bytes(b"the victim's own bytes")
    root = tmp_path / "root"
    root.mkdir()
    for name in ("data.bin.partial", ".data.bin.partial"):
        (root / name).symlink_to(victim)
    (root / "data.bin").symlink_to(victim)
    quire.Api().artifact("p/refs:latest").download(root)
    assert victim.read_bytes() == b"the victim's own bytes"
    assert not (root / "data.bin").is_symlink()
    assert (root / "data.bin").read_bytes() == b"referenced bytes"


def test_a_folder_reference_never_writes_through_a_planted_symlink(tmp_path: Path) -> None:
    source = tmp_path / "data"
    (source / "in").mkdir(parents=True)
    (source / "in" / "x.bin").write_bytes(b"x")
    with quire.init(project="p") as run:
        art = quire.Artifact("refs", "dataset")
        art.add_reference(source.as_uri(), name="data", checksum=False)
        run.log_artifact(art)
    victim, outside = tmp_path / "victim", tmp_path / "outside"
    victim.write_bytes(b"the victim's own bytes")
    outside.mkdir()
    root = tmp_path / "root"
    (root / "data").mkdir(parents=True)
    (root / "data" / "in").symlink_to(outside)
    quire.Api().artifact("p/refs:latest").download(root)
    assert list(outside.iterdir()) == []
    assert files_of(root) == {"data/in/x.bin": b"x"}
    (root / "data" / "in" / "x.bin").unlink()
    (root / "data" / "in" / "x.bin").symlink_to(victim)
    quire.Api().artifact("p/refs:latest").download(root)
    assert victim.read_bytes() == b"the victim's own bytes"
    assert files_of(root) == {"data/in/x.bin": b"x"}


# -- item 15: cache cleanup beside a live download --------------------------------------


def test_a_blob_evicted_while_a_download_uses_it_is_fetched_again(
    logged: quire.Artifact, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process's `quire cache cleanup 0` lands right after this download filled
    # the cache and before it placed the files: the one moment a real race can hit.
    fill = Cache.fill

    def fill_then_cleanup(self: Cache, *args: object, **kwargs: object) -> dict[str, Path]:
        paths = fill(self, *args, **kwargs)  # type: ignore[arg-type]
        self.cleanup(0)
        return paths

    monkeypatch.setattr(Cache, "fill", fill_then_cleanup)
    assert files_of(logged.download(tmp_path / "out")) == FILES


def test_downloads_beside_a_cleanup_loop_in_another_process(logged: quire.Artifact, tmp_path: Path) -> None:
    stop = tmp_path / "stop"
    script = (
        "import sys, pathlib\n"
        "from quire.core.cache import Cache\n"
        "cache, stop = Cache(pathlib.Path(sys.argv[1])), pathlib.Path(sys.argv[2])\n"
        "while not stop.exists():\n"
        "    cache.cleanup(0)\n"
    )
    cleaner = subprocess.Popen([sys.executable, "-c", script, str(_cache().root), str(stop)], env=os.environ.copy())
    try:
        for i in range(30):
            art = quire.Api().artifact("p/data:v0")
            assert files_of(art.download(tmp_path / f"out{i}")) == FILES
    finally:
        stop.touch()
        cleaner.wait()
    assert cleaner.returncode == 0


@pytest.mark.s3
def test_an_s3_prefix_reference_never_writes_through_a_planted_symlink(
    s3_client,
    s3_bucket: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    s3_client.put_object(Bucket=s3_bucket, Key="data/sub/b.txt", Body=b"beta")
    with quire.init(project="p") as run:
        art = quire.Artifact("refs", "dataset")
        art.add_reference(f"s3://{s3_bucket}/data", name="ds", checksum=False)
        run.log_artifact(art)
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    (root / "ds").mkdir(parents=True)
    (root / "ds" / "sub").symlink_to(outside)
    quire.Api().artifact("p/refs:latest").download(root)
    assert list(outside.iterdir()) == []
    assert files_of(root) == {"ds/sub/b.txt": b"beta"}


# -- manifest pages through the cache -------------------------------------------------------


def _forget_pages() -> None:
    """As a new process would start: no decoded page in memory, no pack index loaded."""
    from quire.core import pages

    pages._cache.clear()
    quire.store.close_stores()


def test_a_warm_download_reads_its_pages_from_the_cache_not_the_store(
    logged: quire.Artifact, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _forget_pages()  # the pages the log decoded stay in this process's memory, not the cache
    quire.Api().artifact("p/data:v0").download(tmp_path / "first")
    _forget_pages()

    def no_index(self: object, *args: object, **kwargs: object) -> None:
        raise AssertionError("a warm download loaded the store's pack indexes")

    monkeypatch.setattr(quire.store.blobs.BlobStore, "refresh", no_index)
    assert files_of(quire.Api().artifact("p/data:v0").download(tmp_path / "second")) == FILES


def test_a_damaged_cached_page_is_read_from_the_store_again(logged: quire.Artifact, tmp_path: Path) -> None:
    _forget_pages()
    quire.Api().artifact("p/data:v0").download(tmp_path / "first")
    root = open_store().catalog.version("p", "data", "v0").root
    page = _cache().path(root)
    assert page.is_file()  # the download cached its manifest's root page
    page.chmod(0o644)
    page.write_bytes(b'{"format": "quire.manifest/2", "level": 0, "items": []}')  # a page, but not this one
    _forget_pages()
    assert files_of(quire.Api().artifact("p/data:v0").download(tmp_path / "second")) == FILES
