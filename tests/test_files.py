"""quire.files: a write replaces its target whole, never writes through what is planted there,
and leaves nothing behind when it fails; the cache's one cache.db and its view links."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from quire.core import statcache
from quire.core.cache import Cache, Caches
from quire.core.download import named_files
from quire.core.manifest import Entry
from quire.core.statcache import StatCache
from quire.files import is_temp, publish, write_all, write_atomic, write_new
from support import digest


def _names(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def test_a_write_replaces_a_planted_symlink_and_leaves_what_it_points_to(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"someone else's")
    (tmp_path / "dl").mkdir()
    target = tmp_path / "dl" / "a.txt"
    target.symlink_to(outside)
    write_atomic(target, lambda fd, _: write_all(fd, b"ours"), durable=True)
    assert not target.is_symlink() and target.read_bytes() == b"ours"
    assert outside.read_bytes() == b"someone else's"


def test_a_write_that_fails_leaves_the_target_as_it_was_and_no_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "dl").mkdir()
    target = tmp_path / "dl" / "a.txt"
    target.write_bytes(b"old")

    def fill(fd: int, tmp: str) -> None:
        os.write(fd, b"half of the new")
        raise ValueError("checked wrong")

    with pytest.raises(ValueError, match="checked wrong"):
        write_atomic(target, fill, durable=False)
    assert target.read_bytes() == b"old" and _names(tmp_path / "dl") == ["a.txt"]


def test_a_temporary_name_is_hidden_beside_its_target_and_known_as_one(tmp_path: Path) -> None:
    seen: list[str] = []
    write_atomic(tmp_path / "a.txt", lambda fd, tmp: seen.append(tmp), durable=False)
    (tmp,) = seen
    assert os.path.dirname(tmp) == str(tmp_path) and os.path.basename(tmp).startswith(".a.txt.")
    assert is_temp(os.path.basename(tmp)) and not is_temp("a.txt")


def test_write_new_refuses_a_planted_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"kept")
    (tmp_path / "new").symlink_to(outside)
    with pytest.raises(FileExistsError):
        write_new(tmp_path / "new", b"x")
    assert outside.read_bytes() == b"kept"


def test_publish_keeps_the_first_file_of_a_name_and_consumes_the_second(tmp_path: Path) -> None:
    tmp_path = tmp_path / "store"
    tmp_path.mkdir()
    for n, data in enumerate((b"first", b"second")):
        write_new(tmp_path / f"t{n}", data)
    assert publish(tmp_path / "t0", tmp_path / "key", durable=True) is True
    assert publish(tmp_path / "t1", tmp_path / "key", durable=True) is False
    assert (tmp_path / "key").read_bytes() == b"first" and _names(tmp_path) == ["key"]
    (tmp_path / "folder").mkdir()
    write_new(tmp_path / "t2", b"x")
    with pytest.raises(FileExistsError):  # a folder has the name: not "exists", which would lose the write
        publish(tmp_path / "t2", tmp_path / "folder", durable=False)
    assert not (tmp_path / "t2").exists()


# -- cache.db ------------------------------------------------------------------------


def test_digests_remembered_after_the_cache_folder_was_removed_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long-lived process (a notebook) keeps its connection to cache.db; a user empties
    # the cache folder meanwhile. What the process remembers next must land in the new
    # cache.db, not in the removed file where no one sees it again.
    path = tmp_path / "f.bin"
    path.write_bytes(b"bytes")
    monkeypatch.setattr(statcache, "RACY_SECONDS", 0.0)  # remembered though just written
    remembered = StatCache(tmp_path / "cache" / "cache.db")
    assert remembered.get(os.stat(path)) is None  # opened
    shutil.rmtree(tmp_path / "cache")
    remembered.put(os.stat(path), digest(b"bytes"))
    remembered.save()
    assert (tmp_path / "cache" / "cache.db").is_file(), "written to the removed file: lost"
    with sqlite3.connect(tmp_path / "cache" / "cache.db") as conn:
        assert conn.execute("SELECT digest FROM stat_v2").fetchall() == [(digest(b"bytes"),)]
    conn.close()
    assert StatCache(tmp_path / "cache" / "cache.db").get(os.stat(path)) == digest(b"bytes")


def test_the_cache_and_its_stat_cache_share_one_cache_db(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    assert cache.stat.db is cache.db
    conn = cache.db.connection()
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"used", "stat_v2"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_threads_asking_for_a_folder_s_cache_get_one(tmp_path: Path) -> None:
    caches, got, start = Caches(), [], threading.Barrier(8)

    def ask() -> None:
        start.wait()
        got.append(caches.at(tmp_path / "c"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in got}) == 1 and got[0] is caches.at(tmp_path / "c")


def test_threads_making_one_view_at_once_all_get_it(tmp_path: Path) -> None:
    # Readers of one partitioned table in several threads name the same cached files:
    # each link is made under a temporary name of its own and renamed in.
    cache = Cache(tmp_path / "cache")
    files, entries = [], []
    for n in range(20):
        data = f"part {n}".encode()
        f = tmp_path / f"blob{n}"
        f.write_bytes(data)
        files.append(f)
        entries.append(Entry(f"parts/{n}.parquet", digest(data), len(data)))
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def view(seed: int) -> None:
        start.wait()
        try:
            for _ in range(25):
                # each round, one link is stale and made again by every thread at once
                stale = cache.root / "views" / "v" / entries[seed % 20].path
                if stale.is_symlink():
                    stale.unlink(missing_ok=True)
                named_files(cache, "v", entries, files)
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=view, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    links = named_files(cache, "v", entries, files)
    assert [os.readlink(link) for link in links] == [str(f) for f in files]
    assert not [n for n in os.listdir(cache.root / "views" / "v" / "parts") if not n.endswith(".parquet")]


@pytest.mark.parametrize("durable", [True, False])
def test_the_object_store_flushes_a_new_object_and_its_folder_only_when_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durable: bool
) -> None:
    # A power loss cannot be caused in a test: what is flushed is watched instead (the
    # file before its name appears, the folder after), since a version committed next
    # points at the object.
    from quire.store.objects import LocalObjects

    objects = LocalObjects(tmp_path / "blobs", durable=durable)
    flushed: list[str] = []
    real = os.fsync

    def watched(fd: int) -> None:
        flushed.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real(fd)

    monkeypatch.setattr(os, "fsync", watched)
    objects.put("objects/ab/cdef", b"bytes")
    assert objects.get("objects/ab/cdef") == b"bytes"
    assert flushed == (["file", "folder"] if durable else [])
    assert os.listdir(tmp_path / "blobs" / "tmp") == []
