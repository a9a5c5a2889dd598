"""Ranges of a manifest: the entries after a path (``files()``' pages) and those whose
path starts with a string (``download(path_prefix=)``), the same in memory, stored and
edited, and read from a stored manifest's pages without loading the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from quire.core import pages
from quire.core.manifest import Entry, Manifest, load_manifest, save_manifest
from quire.store.blobs import BlobStore
from quire.store.objects import LocalObjects


class CountingPages:
    """A page source that counts the pages read (the process's page LRU is cleared first)."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs, self.reads = blobs, 0
        pages._cache.clear()

    def read(self, digest: str) -> bytes:
        self.reads += 1
        return self.blobs.read(digest)


def test_a_page_of_a_large_manifest_reads_only_its_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "TARGET", 8)  # small pages: 5,000 entries make a deep tree
    monkeypatch.setattr(pages, "MAX_ITEMS", 24)
    blobs = BlobStore(LocalObjects(tmp_path / "blobs"))
    entries = [Entry(f"d{i % 10}/f{i:05}", f"{i:064x}", i) for i in range(5000)]
    root = save_manifest(blobs, Manifest(entries))
    paths = sorted(e.path for e in entries)

    whole = CountingPages(blobs)
    assert [e.path for e in load_manifest(whole, root)] == paths
    middle = CountingPages(blobs)
    manifest = load_manifest(middle, root)
    page = [e.path for _, e in zip(range(50), manifest.after(paths[2500]), strict=False)]
    assert page == paths[2501:2551]
    assert middle.reads * 10 < whole.reads  # a tenth of the pages, or fewer
    prefixed = CountingPages(blobs)
    assert [e.path for e in load_manifest(prefixed, root).starting_with("d3/f0003")] == [
        p for p in paths if p.startswith("d3/f0003")
    ]
    assert prefixed.reads * 10 < whole.reads


def test_prefix_and_after_agree_in_memory_stored_and_edited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "TARGET", 4)
    monkeypatch.setattr(pages, "MAX_ITEMS", 12)
    blobs = BlobStore(LocalObjects(tmp_path / "blobs"))
    paths = [f"{a}/{b}{i}" for a in ("im", "images", "imx", "z") for b in ("a", "b") for i in range(6)]
    entries = {p: Entry(p, f"{n:064x}", n) for n, p in enumerate(paths)}
    edited = load_manifest(blobs, save_manifest(blobs, Manifest(entries.values())))
    for gone in ("images/a3", "im/b0", "z/b5"):
        edited.pop(gone)
        del entries[gone]
    for new in ("images/a3x", "im0", "imz/new"):
        edited.put(Entry(new, "f" * 64, 1))
        entries[new] = Entry(new, "f" * 64, 1)
    stored = load_manifest(blobs, save_manifest(blobs, Manifest(entries.values())))
    shuffled = Manifest(sorted(entries.values(), key=lambda e: e.digest + e.path))  # in memory, not in path order
    expected = sorted(entries)
    for manifest in (shuffled, stored, edited):
        for prefix in ("im", "images/", "imx/a", "i", "z/b", "nothing"):
            assert [e.path for e in manifest.starting_with(prefix)] == [p for p in expected if p.startswith(prefix)]
        for after in (None, "im", "images/a3", "imx/b5", "zz"):
            assert [e.path for e in manifest.after(after)] == [p for p in expected if after is None or p > after]
