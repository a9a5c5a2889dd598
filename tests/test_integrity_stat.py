"""Issue 10, items 6, 8 and 14: the stat cache never hands out an old digest for new bytes,
a reference and a stored entry are different content, and staging folders are private.

Each test makes the fault for real: a rewritten file with its mtime put back, an inode
freed and reused, an archive extracted over a file, a symlink planted where Quire stages,
a folder given to another user (the tests run as root to ``chown``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import blake3
import pytest

import quire
import quire.core.statcache
from quire.core.statcache import StatCache
from support import files_of

both_stores = pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3

SIZE = 4096  # a small file: it goes into a pack, the path most files take


@pytest.fixture
def racy(monkeypatch: pytest.MonkeyPatch) -> float:
    """A short "racy" interval, so a test need not wait two seconds before a file's digest
    is remembered; :func:`settle` waits it out."""
    monkeypatch.setattr(quire.core.statcache, "RACY_SECONDS", 0.05)
    return 0.05


def settle(path: Path, racy: float) -> None:
    """Wait until ``path`` last changed longer ago than the racy interval (a wait, not a
    bound: a busy machine only waits longer)."""
    while True:
        st = os.stat(path)
        if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > 2 * racy * 1e9:
            return
        time.sleep(racy)


def log_file(path: Path, name: str = "data", type: str = "dataset") -> quire.Artifact:
    with quire.init(project="p") as run:
        art = quire.Artifact(name, type)
        art.add_file(path)
        return run.log_artifact(art)


def log_dir(root: Path, name: str = "data") -> quire.Artifact:
    with quire.init(project="p") as run:
        art = quire.Artifact(name, "dataset")
        art.add_dir(root)
        return run.log_artifact(art)


def latest(name: str = "data") -> quire.Artifact:
    return quire.Api(overrides={"project": "p"}).artifact(f"{name}:latest")


# -- item 6: the stat cache --------------------------------------------------------------


@both_stores
def test_a_same_size_rewrite_with_its_mtime_put_back_is_hashed_again(tmp_path: Path, racy: float) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"A" * SIZE)
    settle(path, racy)
    assert log_file(path).version == "v0"  # remembered by the stat cache
    before = os.stat(path)
    with open(path, "r+b") as f:  # same size, same inode
        f.write(b"B" * SIZE)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime put back (ctime cannot be)
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns and os.stat(path).st_ino == before.st_ino

    art = log_file(path)
    assert art.version == "v1", "new bytes must make a new version"
    assert files_of(latest().download(tmp_path / "out")) == {"weights.bin": b"B" * SIZE}


@both_stores
def test_a_file_deleted_and_recreated_on_the_same_inode_is_hashed_again(tmp_path: Path, racy: float) -> None:
    src = tmp_path / "src"
    src.mkdir()
    path = src / "part.bin"
    # What `cp -p`, `rsync -t` and a SOURCE_DATE_EPOCH build do: a new file, same size,
    # same mtime. ext4 gives the freed inode number to the next new file at once (when a
    # file made meanwhile elsewhere takes it: start again).
    for _ in range(50):
        path.unlink(missing_ok=True)
        path.write_bytes(b"A" * SIZE)
        settle(path, racy)
        assert log_dir(src).version == "v0"
        old = os.stat(path)
        path.unlink()
        path.write_bytes(b"B" * SIZE)
        os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
        if os.stat(path).st_ino == old.st_ino:
            break
    else:
        pytest.skip("this filesystem does not reuse inode numbers soon; the fault cannot be made")

    assert log_dir(src).version == "v1"
    assert files_of(latest().download(tmp_path / "out")) == {"part.bin": b"B" * SIZE}


@both_stores
def test_an_archive_extracted_over_a_file_is_hashed_again(tmp_path: Path, racy: float) -> None:
    # Two builds with one SOURCE_DATE_EPOCH: same names, sizes and mtimes, other bytes.
    for build, byte in (("one", b"A"), ("two", b"B")):
        (tmp_path / build).mkdir()
        (tmp_path / build / "model.bin").write_bytes(byte * SIZE)
        subprocess.run(
            [
                "tar",
                "--mtime=@1700000000",
                "-cf",
                str(tmp_path / f"{build}.tar"),
                "-C",
                str(tmp_path / build),
                "model.bin",
            ],
            check=True,
        )
    out = tmp_path / "release"
    out.mkdir()
    # tar replaces the file by a new one; the fault is the new one getting the old inode
    # number, which ext4 usually does at once (a file made meanwhile elsewhere can take it:
    # then start again).
    for _ in range(50):
        subprocess.run(["tar", "-xf", str(tmp_path / "one.tar"), "-C", str(out)], check=True)
        settle(out / "model.bin", racy)
        assert log_dir(out).version == "v0"
        first = os.stat(out / "model.bin")
        subprocess.run(["tar", "-xf", str(tmp_path / "two.tar"), "-C", str(out)], check=True)
        second = os.stat(out / "model.bin")
        if second.st_ino == first.st_ino:
            break
    else:
        pytest.skip("this filesystem does not reuse inode numbers soon; the fault cannot be made")
    assert (second.st_size, second.st_mtime_ns) == (first.st_size, first.st_mtime_ns)

    assert log_dir(out).version == "v1"
    assert files_of(latest().download(tmp_path / "out")) == {"model.bin": b"B" * SIZE}


@both_stores
def test_an_unchanged_file_is_still_known_without_a_read(tmp_path: Path, racy: float) -> None:
    path = tmp_path / "same.bin"
    path.write_bytes(b"S" * SIZE)
    settle(path, racy)
    log_file(path)
    cache = StatCache(_cache_root() / "cache.db")
    assert cache.get(os.stat(path)) == blake3.blake3(b"S" * SIZE).hexdigest()
    assert cache.get_many([os.stat(path)]) == [blake3.blake3(b"S" * SIZE).hexdigest()]


def _cache_root() -> Path:
    from quire.core.cache import cache_for
    from quire.store import open_store

    return cache_for(open_store(os.environ["QUIRE_STORE"]).local_dir).root


def test_a_stat_cache_written_by_an_older_quire_keeps_working_and_is_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"new bytes")
    st = os.stat(path)
    db = tmp_path / "cache" / "cache.db"
    db.parent.mkdir()
    # The table as older versions made it, with a row for this inode, size and mtime that
    # names other bytes (what a rewrite with its mtime put back leaves behind).
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE stat (dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER,"
            " digest TEXT NOT NULL, PRIMARY KEY (dev, ino, size, mtime_ns)) WITHOUT ROWID"
        )
        conn.execute(
            "INSERT INTO stat VALUES (?, ?, ?, ?, ?)", (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, "0" * 64)
        )
    conn.close()

    cache = StatCache(db)
    assert cache.get(st) is None and cache.get_many([st]) == [None]
    cache.put(st, "1" * 64)
    cache.save()
    assert cache.get(st) is None, "changed just now (its ctime): not remembered yet"


def test_a_file_changed_just_now_is_not_remembered_whatever_its_mtime(tmp_path: Path) -> None:
    # The racy-clean rule must look at the ctime too: a file written now with an old
    # mtime (tar -x, cp -p) could be rewritten within the same ctime tick.
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 10)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    cache = StatCache(tmp_path / "cache.db")
    cache.put(os.stat(path), "2" * 64)
    cache.save()
    assert cache.get(os.stat(path)) is None


# -- item 8: references in the version digest ----------------------------------------------


@both_stores
def test_logging_the_bytes_after_a_reference_to_them_makes_a_version_that_holds_them(tmp_path: Path) -> None:
    source = tmp_path / "bucket" / "model.bin"
    source.parent.mkdir()
    source.write_bytes(b"weights" * 100)
    with quire.init(project="p") as run:
        art = quire.Artifact("model", "model")
        art.add_reference(source.as_uri())  # checksummed: its digest is that of the bytes
        run.log_artifact(art)
    local = tmp_path / "local" / "model.bin"
    local.parent.mkdir()
    local.write_bytes(b"weights" * 100)

    stored = log_file(local, "model", "model")
    assert stored.version == "v1", "a stored copy is other content than a reference"
    assert not stored.get_entry("model.bin").ref
    source.unlink()  # the referenced copy goes: the stored version does not care
    assert files_of(latest("model").download(tmp_path / "out")) == {"model.bin": b"weights" * 100}
    assert quire.Api(overrides={"project": "p"}).artifact("model:v0").get_entry("model.bin").ref == source.as_uri()


@both_stores
def test_references_to_the_same_bytes_at_two_places_are_two_versions(tmp_path: Path) -> None:
    for where in ("a", "b"):
        (tmp_path / where).mkdir()
        (tmp_path / where / "x.csv").write_bytes(b"1,2,3\n")
    versions = []
    for where in ("a", "b", "a"):
        with quire.init(project="p") as run:
            art = quire.Artifact("refs", "dataset")
            art.add_reference((tmp_path / where / "x.csv").as_uri())
            versions.append(run.log_artifact(art).version)
    assert versions == ["v0", "v1", "v0"]  # "a" again: the version that holds it


def _old_version_digest(pairs: dict[str, str]) -> str:
    """The version digest as every earlier release computed it (a model of its own)."""
    total = 0
    for path, digest in pairs.items():
        total += int.from_bytes(blake3.blake3(f"{path}\x00{digest}".encode()).digest(length=512), "little")
    return blake3.blake3(b"quire.version/2\x00" + (total % (1 << 4096)).to_bytes(512, "little")).hexdigest()


@both_stores
def test_digests_of_versions_without_references_are_unchanged(tmp_path: Path) -> None:
    files = {"a.txt": b"alpha", "d/b.bin": b"\x00" * 5000, "d/c": b""}
    src = tmp_path / "src"
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    art = log_dir(src)
    expected = _old_version_digest({rel: blake3.blake3(data).hexdigest() for rel, data in files.items()})
    assert art.digest == expected and latest().digest == expected  # old versions still dedup


def test_a_patch_of_a_version_saved_before_references_counted_gets_the_right_digest(tmp_path: Path) -> None:
    from quire.core.manifest import Entry, Manifest, load_manifest, save_manifest
    from quire.store.blobs import BlobStore
    from quire.store.objects import LocalObjects

    blobs = BlobStore(LocalObjects(tmp_path / "blobs"))
    d1, d2, d3 = (blake3.blake3(b).hexdigest() for b in (b"1", b"2", b"3"))
    rows = [["a", d1, 1, None, None], ["r", d2, 1, "file:///data/r", None]]
    # A root page as earlier releases wrote it: its sum counts the reference "r" as if
    # it were stored (path and digest only), and nothing on the page says so.
    old_sum = 0
    for path, digest, *_ in rows:
        old_sum += int.from_bytes(blake3.blake3(f"{path}\x00{digest}".encode()).digest(length=512), "little")
    body = {
        "format": "quire.manifest/2",
        "count": 2,
        "size": 2,
        "sum": (old_sum % (1 << 4096)).to_bytes(512, "little").hex(),
        "level": 0,
        "items": rows,
    }
    with blobs.writer() as writer:
        root = writer.add_bytes(json.dumps(body, separators=(",", ":")).encode())

    patched = load_manifest(blobs, root)
    patched.put(Entry("b", d3, 1))
    fresh = Manifest([Entry("a", d1, 1), Entry("r", d2, 1, ref="file:///data/r"), Entry("b", d3, 1)])
    as_stored = Manifest([Entry("a", d1, 1), Entry("r", d2, 1), Entry("b", d3, 1)])
    assert patched.digest == fresh.digest != as_stored.digest
    saved = load_manifest(blobs, save_manifest(blobs, patched))
    assert saved.digest == fresh.digest
    saved.pop("r")  # and a later patch, taking the reference out again, is right too
    assert saved.digest == Manifest([Entry("a", d1, 1), Entry("b", d3, 1)]).digest


# -- item 14: private staging --------------------------------------------------------------


@pytest.fixture
def system_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder like /tmp (mode 1777) that Python's ``tempfile`` uses for this test, so
    what is planted there harms no other test."""
    import tempfile

    folder = tmp_path / "systmp"
    folder.mkdir()
    folder.chmod(0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def team_store(postgres_url: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """PostgreSQL + S3, as a team sets it up."""
    monkeypatch.setenv("QUIRE_STORE", postgres_url)
    monkeypatch.setenv("QUIRE_BLOBS", f"s3://{s3_bucket}/blobs")
    return postgres_url


def _small_files(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"f{i}.txt").write_bytes(b"row %d\n" % i)
    return src


def _no_versions(name: str = "data") -> bool:
    try:
        latest(name)
    except KeyError:
        return True
    return False


@pytest.mark.postgres
@pytest.mark.s3
def test_a_bucket_store_stages_in_a_folder_only_its_user_can_enter(
    system_tmp: Path, team_store: str, tmp_path: Path
) -> None:
    assert log_dir(_small_files(tmp_path)).version == "v0"
    staging = system_tmp / f"quire-staging-{os.getuid()}"
    st = os.lstat(staging)
    assert (st.st_mode & 0o777, st.st_uid) == (0o700, os.getuid())
    assert not (system_tmp / "quire-staging").exists(), "no folder shared by every user"


@pytest.mark.postgres
@pytest.mark.s3
@pytest.mark.parametrize("plant", ["symlink", "other owner", "writable by all"])
def test_a_staging_folder_planted_for_a_bucket_store_is_refused(
    plant: str, system_tmp: Path, team_store: str, tmp_path: Path
) -> None:
    from quire.errors import StoreError, UnsafeFolderError

    staging = system_tmp / f"quire-staging-{os.getuid()}"
    victim = tmp_path / "victim"
    victim.mkdir()
    if plant == "symlink":
        os.symlink(victim, staging)
    else:
        staging.mkdir()
        if plant == "other owner":
            os.chown(staging, 4242, 4242)  # another user's (the tests run as root)
        else:
            staging.chmod(0o777)
    with pytest.raises(UnsafeFolderError, match=str(staging)) as caught:
        log_dir(_small_files(tmp_path))
    assert isinstance(caught.value, StoreError) and "\n" not in str(caught.value)
    assert list(victim.iterdir()) == [], "nothing was written through the planted link"
    assert list(staging.iterdir()) == [], "nor into a folder others can read or write"
    assert _no_versions()


@pytest.mark.postgres
@pytest.mark.s3
def test_gc_still_collects_a_killed_writers_staging_file_on_a_bucket_store(
    system_tmp: Path, team_store: str, tmp_path: Path, python_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from quire.core import gc
    from quire.store import open_store

    script = (
        "import os, signal, tempfile\n"
        f"tempfile.tempdir = {str(system_tmp)!r}\n"
        "from quire.store import open_store\n"
        "path = open_store(os.environ['QUIRE_STORE']).blobs.objects.temp_path()\n"
        "path.write_bytes(b'half a pack')\n"
        "print(path, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {**python_env, **{k: v for k, v in os.environ.items() if k.startswith(("QUIRE_", "AWS_"))}}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    left = Path(proc.stdout.strip())
    assert left.parent == system_tmp / f"quire-staging-{os.getuid()}" and left.exists()

    monkeypatch.setattr(gc, "IN_FLIGHT", 0)  # as an hour later
    report = gc.collect_garbage(open_store(team_store), grace=0)
    assert ("temp", str(left), len(b"half a pack")) in report.deleted
    assert not left.exists()


def test_an_embedded_store_whose_staging_folder_is_a_symlink_is_refused(tmp_path: Path, store_url: str) -> None:
    from quire.errors import UnsafeFolderError

    log_dir(_small_files(tmp_path))  # the store exists
    from quire.store import close_stores

    close_stores()
    staging = Path(store_url) / "blobs" / "tmp"
    victim = tmp_path / "victim"
    victim.mkdir()
    staging.rmdir()
    os.symlink(victim, staging)
    big = tmp_path / "big"
    big.mkdir()
    (big / "large.bin").write_bytes(os.urandom(2 << 20))  # staged as a whole file
    with pytest.raises(UnsafeFolderError, match="symlink"):
        log_dir(big, "big")
    assert list(victim.iterdir()) == []
    assert _no_versions("big")
