"""Integrity of the blob store (issue 10, items 3, 4 and the pack-index half of 11).

- Digests read from outside the process (manifest pages, contributions, catalog rows)
  are refused before any path or key is built from them.
- A blob found corrupt is quarantined (moved aside, or its pack slot marked bad), so the
  next log of those bytes stores them again; "already stored" means "of the right size";
  ``quire artifact verify --repair --from DIR`` restores a version's blobs from files.
- One damaged pack index makes only its own pack's blobs unreadable.

Every test runs on the embedded store and on PostgreSQL + S3; the damage is done behind
Quire's back, through the object store or the catalog's tables.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

import quire
from quire.core import pages
from quire.errors import CorruptBlobError, InvalidDigestError, StoreError
from quire.store import Store, close_stores, open_store
from quire.store.blobs import blob_key
from quire.store.sql import schema
from servers import behind
from support import log_files, write_tree

pytestmark = pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3

HOSTILE = ["../../../../etc/passwd", "AB" * 32, "ab" * 31 + "/x", "ab" * 33, ""]


def point_version(store: Store, manifest: str) -> None:
    """Make every version's catalog row name ``manifest`` as its manifest (out of band)."""
    with store.catalog.engine.begin() as conn:
        conn.execute(sa.update(schema.versions).values(root=manifest))


def leaf_page(rows: list[list[object]]) -> bytes:
    """A root page holding ``rows`` as written by Quire (totals included)."""
    return pages.page_body(0, rows, pages.Totals(len(rows), sum(r[2] or 0 for r in rows), 0))  # type: ignore[misc]


def nothing_below(folder: Path) -> bool:
    return not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))


# -- digests at every boundary ---------------------------------------------------------


@pytest.mark.parametrize("bad", HOSTILE)
def test_blob_key_refuses_what_is_not_a_digest(bad: str) -> None:
    with pytest.raises(InvalidDigestError, match="not a BLAKE3 digest"):
        blob_key(bad)


@pytest.mark.parametrize("bad", HOSTILE[:2])
def test_a_crafted_page_entry_digest_is_refused_before_any_path(bad: str, store_url: str, tmp_path: Path) -> None:
    log_files("ds", {"a.txt": b"hello"}, tmp_path / "src")
    store = open_store(behind(store_url))
    point_version(store, store.blobs.put_bytes(leaf_page([["a.txt", bad, 5, None, None]])))
    artifact = quire.Api().artifact("p/ds:latest")
    with pytest.raises(InvalidDigestError, match=r"'a\.txt'"):
        artifact.download(tmp_path / "out")
    assert nothing_below(tmp_path / "out")
    with pytest.raises(InvalidDigestError):
        artifact.get_entry("a.txt")


@pytest.mark.parametrize("bad", HOSTILE[:2])
def test_a_crafted_page_reference_is_refused(bad: str, store_url: str, tmp_path: Path) -> None:
    log_files("ds", {"a.txt": b"hello"}, tmp_path / "src")
    store = open_store(behind(store_url))
    root = pages.page_body(1, [["a.txt", bad]], pages.Totals(1, 5, 0))
    point_version(store, store.blobs.put_bytes(root))
    with pytest.raises(InvalidDigestError, match=r"page reference 'a\.txt'"):
        quire.Api().artifact("p/ds:latest").download(tmp_path / "out")
    assert nothing_below(tmp_path / "out")


@pytest.mark.parametrize("bad", HOSTILE[:2])
def test_a_crafted_manifest_root_in_the_catalog_is_refused(bad: str, store_url: str, tmp_path: Path) -> None:
    log_files("ds", {"a.txt": b"hello"}, tmp_path / "src")
    point_version(open_store(behind(store_url)), bad)
    with pytest.raises(InvalidDigestError, match="manifest"):
        quire.Api().artifact("p/ds:latest").download(tmp_path / "out")
    assert nothing_below(tmp_path / "out")


def test_a_crafted_contribution_is_refused_at_finish(store_url: str, tmp_path: Path) -> None:
    (tmp_path / "part.txt").write_bytes(b"a writer's part")
    with quire.init(project="p", group="g") as run:
        artifact = quire.Artifact("preds", "dataset")
        artifact.add_file(str(tmp_path / "part.txt"))
        run.upsert_artifact(artifact)
    store = open_store(behind(store_url))
    crafted = store.blobs.put_bytes(leaf_page([["part.txt", "../../../../etc/passwd", 15, None, None]]))
    with store.catalog.engine.begin() as conn:
        conn.execute(sa.update(schema.contributions).values(root=crafted))
    with quire.init(project="p", group="g") as run, pytest.raises(InvalidDigestError, match=r"part\.txt"):
        run.finish_artifact(quire.Artifact("preds", "dataset"))
    assert not quire.Api().artifact_exists("p/preds:latest")


# -- one damaged pack index affects only itself ------------------------------------------


def fresh(store_url: str) -> Store:
    """The store as a new process sees it: nothing of the pack indexes or pages in memory."""
    close_stores()
    pages._cache.clear()
    return open_store(behind(store_url))


def replace_object(store: Store, key: str, data: bytes) -> None:
    """Overwrite ``key`` behind the store's back (keys are put-if-absent)."""
    store.blobs.objects.delete(key)
    store.blobs.objects.put(key, data)


def index_keys(store: Store) -> set[str]:
    return {info.key for info in store.blobs.objects.list("packs/") if info.key.endswith(".idx")}


DAMAGE = {
    "garbled": lambda raw: b"JUNK" + raw[4:],
    "cut-mid-row": lambda raw: raw[:-7],
    "cut-at-a-row": lambda raw: raw[: 4 + 56 * ((len(raw) - 4) // 56 // 2)],
    "emptied": lambda raw: b"",
}

FILES_A = {f"a/{i}.txt": f"file {i} of a\n".encode() * 20 for i in range(6)} | {"b.txt": b"top", "z/y/x": b"deep"}
FILES_B = {f"b/{i}.txt": f"file {i} of b\n".encode() * 20 for i in range(6)}


@pytest.fixture
def damaged(request: pytest.FixtureRequest, store_url: str, tmp_path: Path) -> tuple[Store, str]:
    """``a:v0`` and ``b:v0``, each in a pack of its own; then ``a``'s pack index is damaged."""
    log_files("a", FILES_A, tmp_path / "src-a")
    store = open_store(behind(store_url))
    (idx_a,) = index_keys(store)
    log_files("b", FILES_B, tmp_path / "src-b")
    replace_object(store, idx_a, DAMAGE[request.param](store.blobs.objects.get(idx_a)))
    return fresh(store_url), idx_a


@pytest.mark.parametrize("damaged", list(DAMAGE), indirect=True)
def test_a_damaged_pack_index_makes_only_its_own_blobs_unreadable(
    damaged: tuple[Store, str], store_url: str, tmp_path: Path
) -> None:
    _, idx_a = damaged
    api = quire.Api()
    with pytest.raises(StoreError, match=idx_a):
        api.artifact("p/a:v0").download(tmp_path / "a", skip_cache=True)
    got = api.artifact("p/b:v0").download(tmp_path / "b", skip_cache=True)
    assert {p: (Path(got) / p).read_bytes() for p in FILES_B} == FILES_B
    log_files("c", {"c.txt": b"a new version can be written"}, tmp_path / "src-c")
    assert api.artifact("p/c:v0").file(tmp_path / "c")


@pytest.mark.parametrize("damaged", ["garbled", "cut-at-a-row"], indirect=True)
def test_logging_the_files_again_heals_a_version_behind_a_damaged_index(
    damaged: tuple[Store, str], store_url: str, tmp_path: Path
) -> None:
    again = log_files("a", FILES_A, tmp_path / "again")
    assert again.version == "v0"  # the same files: the same version, its blobs stored anew
    store = fresh(store_url)
    artifact = quire.Api().artifact("p/a:v0")
    root = artifact.download(tmp_path / "a", skip_cache=True)
    artifact.verify(root)
    assert store.blobs.inventory().damaged  # the damaged index is still there, harmless


@pytest.mark.parametrize("damaged", ["garbled", "cut-at-a-row"], indirect=True)
def test_gc_leaves_a_pack_with_a_damaged_index_alone(damaged: tuple[Store, str], tmp_path: Path) -> None:
    from quire.core.gc import collect_garbage

    store, idx_a = damaged
    pack_a = idx_a.removesuffix(".idx") + ".pack"
    assert {info.key for info in store.blobs.inventory().damaged} == {idx_a, pack_a}
    quire.Api().artifact("p/a:v0").delete()  # nothing live in it at all: still, it cannot be told
    report = collect_garbage(store, grace=0)
    assert not {key for _, key, _ in report.deleted} & {idx_a, pack_a}
    assert {info.key for info in store.blobs.objects.list("packs/")} >= {idx_a, pack_a}


# -- a corrupt blob heals ----------------------------------------------------------------

LARGE_BYTES = os.urandom((1 << 20) + 4321)  # above the pack threshold: an object of its own
SMALL_BYTES = b"precious small bytes\n" * 30


def corrupt(store: Store, data: bytes) -> str:
    """Flip a byte of the stored copy of ``data`` (in its pack, or its own object); returns the key."""
    objects = store.blobs.objects
    keys = (
        [blob_key(pages.hash_bytes(data))]
        if len(data) >= (1 << 20)
        else [info.key for info in objects.list("packs/") if info.key.endswith(".pack")]
    )
    for key in keys:
        raw = bytearray(objects.get(key))
        at = raw.find(data)
        if at >= 0:
            raw[at + 5] ^= 0xFF
            replace_object(store, key, bytes(raw))
            return key
    raise AssertionError("the bytes are not stored")


@pytest.mark.parametrize("how", ["log", "upsert"])
@pytest.mark.parametrize("which", ["small", "large"])
def test_a_corrupt_blob_heals_when_its_file_is_logged_again(
    which: str, how: str, store_url: str, tmp_path: Path
) -> None:
    files = {"small.txt": SMALL_BYTES, "large.bin": LARGE_BYTES, "other.txt": b"an intact neighbour"}
    log_files("ds", files, tmp_path / "src")
    corrupt(open_store(behind(store_url)), files[f"{which}.{'txt' if which == 'small' else 'bin'}"])
    fresh(store_url)
    artifact = quire.Api().artifact("p/ds:v0")
    with pytest.raises(CorruptBlobError, match="set aside"):
        artifact.download(tmp_path / "bad", skip_cache=True)
    if how == "log":
        assert log_files("ds", files, tmp_path / "again").version == "v0"  # same bytes, same version
    else:  # a collaborative writer holding the same bytes, in another collection
        write_tree(tmp_path / "again", files)
        with quire.init(project="p", group="g") as run:
            part = quire.Artifact("parts", "dataset")
            part.add_dir(str(tmp_path / "again"))
            run.upsert_artifact(part)
    fresh(store_url)
    artifact = quire.Api().artifact("p/ds:v0")
    artifact.verify(artifact.download(tmp_path / "good", skip_cache=True))


def test_verify_repair_restores_from_a_folder_by_path_then_by_digest(store_url: str, tmp_path: Path) -> None:
    from quire.cli import app
    from test_cli import assert_one_line_error, quire_cli, runner

    files = {"data/small.txt": SMALL_BYTES, "model/large.bin": LARGE_BYTES, "other.txt": b"intact"}
    log_files("ds", files, tmp_path / "src")
    intact = quire_cli("artifact", "verify", "p/ds", "--repair", "--from", str(tmp_path / "src"))
    assert "nothing to repair" in intact.stdout
    store = open_store(behind(store_url))
    corrupt(store, SMALL_BYTES)
    corrupt(store, LARGE_BYTES)
    fresh(store_url)
    backup = tmp_path / "backup"  # the small file at its path; the large one not yet
    (backup / "data").mkdir(parents=True)
    (backup / "data" / "small.txt").write_bytes(SMALL_BYTES)
    (backup / "decoy.bin").write_bytes(LARGE_BYTES[:-1] + b"x")  # the right size, other bytes

    partial = runner.invoke(app, ["artifact", "verify", "p/ds", "--repair", "--from", str(backup)])
    assert_one_line_error(partial, "1 file", "model/large.bin", "still missing")
    assert f"restored: data/small.txt (from {backup / 'data' / 'small.txt'})" in partial.stdout
    (backup / "elsewhere.bin").write_bytes(LARGE_BYTES)  # found by its digest, under another name
    out = quire_cli("artifact", "verify", "p/ds", "--repair", "--from", str(backup)).stdout
    assert f"restored: model/large.bin (from {backup / 'elsewhere.bin'})" in out
    assert "OK" in out
    fresh(store_url)
    assert "OK" in quire_cli("artifact", "verify", "p/ds").stdout
    artifact = quire.Api().artifact("p/ds:v0")
    artifact.verify(artifact.download(tmp_path / "got", skip_cache=True))


def test_verify_repair_needs_a_folder(store_url: str, tmp_path: Path) -> None:
    from quire.cli import app
    from test_cli import runner

    log_files("ds", {"a.txt": b"a"}, tmp_path / "src")
    assert runner.invoke(app, ["artifact", "verify", "p/ds", "--repair"]).exit_code == 2
    assert runner.invoke(app, ["artifact", "verify", "p/ds", "--from", str(tmp_path)]).exit_code == 2


@pytest.mark.parametrize("damaged", ["garbled"], indirect=True)
def test_verify_repair_restores_a_version_whose_pages_are_behind_a_damaged_index(
    damaged: tuple[Store, str], store_url: str, tmp_path: Path
) -> None:
    from quire.cli import app
    from test_cli import assert_one_line_error, quire_cli, runner

    (tmp_path / "src-a" / "stray.txt").write_text("not a file of the version")
    assert_one_line_error(
        runner.invoke(app, ["artifact", "verify", "p/a", "--repair", "--from", str(tmp_path / "src-a")]),
        "not exactly the version's",
    )
    (tmp_path / "src-a" / "stray.txt").unlink()
    out = quire_cli("artifact", "verify", "p/a", "--repair", "--from", str(tmp_path / "src-a")).stdout
    assert "the manifest's pages" in out and "restored: a/0.txt" in out and "OK" in out
    fresh(store_url)
    got = quire.Api().artifact("p/a:v0").download(tmp_path / "a", skip_cache=True)
    assert {p: (Path(got) / p).read_bytes() for p in FILES_A} == FILES_A
