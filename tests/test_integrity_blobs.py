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
from quire.errors import InvalidDigestError, StoreError
from quire.store import Store, close_stores, open_store, schema
from quire.store.blobs import blob_key

from support import log_files

pytestmark = pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3

HOSTILE = ["../../../../etc/passwd", "AB" * 32, "ab" * 31 + "/x", "ab" * 33, ""]


def point_version(store: Store, manifest: str) -> None:
    """Make every version's catalog row name ``manifest`` as its manifest (out of band)."""
    with store.catalog.engine.begin() as conn:
        conn.execute(sa.update(schema.versions).values(manifest=manifest))


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
    store = open_store(store_url)
    point_version(store, store.blobs.put_bytes(leaf_page([["a.txt", bad, 5, None, None]])))
    artifact = quire.Api().artifact("p/ds:latest")
    with pytest.raises(InvalidDigestError, match="'a.txt'"):
        artifact.download(tmp_path / "out")
    assert nothing_below(tmp_path / "out")
    with pytest.raises(InvalidDigestError):
        artifact.get_entry("a.txt")


@pytest.mark.parametrize("bad", HOSTILE[:2])
def test_a_crafted_page_reference_is_refused(bad: str, store_url: str, tmp_path: Path) -> None:
    log_files("ds", {"a.txt": b"hello"}, tmp_path / "src")
    store = open_store(store_url)
    root = pages.page_body(1, [["a.txt", bad]], pages.Totals(1, 5, 0))
    point_version(store, store.blobs.put_bytes(root))
    with pytest.raises(InvalidDigestError, match="page reference 'a.txt'"):
        quire.Api().artifact("p/ds:latest").download(tmp_path / "out")
    assert nothing_below(tmp_path / "out")


@pytest.mark.parametrize("bad", HOSTILE[:2])
def test_a_crafted_manifest_root_in_the_catalog_is_refused(bad: str, store_url: str, tmp_path: Path) -> None:
    log_files("ds", {"a.txt": b"hello"}, tmp_path / "src")
    point_version(open_store(store_url), bad)
    with pytest.raises(InvalidDigestError, match="manifest"):
        quire.Api().artifact("p/ds:latest").download(tmp_path / "out")
    assert nothing_below(tmp_path / "out")


def test_a_crafted_contribution_is_refused_at_finish(store_url: str, tmp_path: Path) -> None:
    (tmp_path / "part.txt").write_bytes(b"a writer's part")
    with quire.init(project="p", group="g") as run:
        artifact = quire.Artifact("preds", "dataset")
        artifact.add_file(str(tmp_path / "part.txt"))
        run.upsert_artifact(artifact)
    store = open_store(store_url)
    crafted = store.blobs.put_bytes(leaf_page([["part.txt", "../../../../etc/passwd", 15, None, None]]))
    with store.catalog.engine.begin() as conn:
        conn.execute(sa.update(schema.contributions).values(manifest=crafted))
    with quire.init(project="p", group="g") as run, pytest.raises(InvalidDigestError, match="part.txt"):
        run.finish_artifact(quire.Artifact("preds", "dataset"))
    assert not quire.Api().artifact_exists("p/preds:latest")

