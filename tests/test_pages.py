"""Paged manifests against a plain dict: whatever edits lead to a set of entries, the
stored tree is the one built from scratch, and reads, diffs and digests agree with the dict.

Pages are made tiny here (4 entries on average) so that a few hundred entries already
make a tree of several levels, with pages cut by the hash and by the size limit.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quire.core import pages
from quire.core.diff import diff_manifests
from quire.core.manifest import Entry, Manifest, load_manifest, save_manifest
from quire.store.blobs import BlobStore
from quire.store.objects import LocalObjects

KEYS = st.integers(0, 600).map(lambda i: f"d{i % 7}/f{i:04d}")
CONTENT = st.integers(0, 3).map(lambda c: f"{c:064x}")
OPS = st.lists(st.tuples(st.sampled_from(["put", "pop", "pop_folder"]), KEYS, CONTENT), min_size=1, max_size=60)


@pytest.fixture
def blobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BlobStore:
    monkeypatch.setattr(pages, "TARGET", 4)
    monkeypatch.setattr(pages, "MAX_ITEMS", 12)
    return BlobStore(LocalObjects(tmp_path / "blobs"))


def entry(path: str, digest: str) -> Entry:
    return Entry(path, digest, int(digest[-1], 16) + len(path))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.dictionaries(KEYS, CONTENT, max_size=400), ops=OPS)
def test_edits_give_the_tree_built_from_scratch(blobs: BlobStore, start: dict[str, str], ops) -> None:
    model = {p: entry(p, d) for p, d in start.items()}
    root = save_manifest(blobs, Manifest(model.values()))
    manifest = load_manifest(blobs, root)
    for op, path, digest in ops:
        if op == "put":
            manifest.put(entry(path, digest))
            model[path] = entry(path, digest)
        elif op == "pop":
            assert manifest.pop(path) == model.pop(path, None)
        else:
            folder = path.split("/")[0]
            gone = manifest.under(folder)
            assert gone == sorted((e for p, e in model.items() if p.startswith(folder + "/")), key=lambda e: e.path)
            for e in gone:
                manifest.pop(e.path)
                del model[e.path]
    assert len(manifest) == len(model) and manifest.size == sum(e.size for e in model.values())
    assert manifest.digest == Manifest(model.values()).digest
    assert [e.path for e in manifest] == sorted(model)

    edited = save_manifest(blobs, manifest)
    assert edited == save_manifest(blobs, Manifest(model.values()))  # history-independent

    before, after = load_manifest(blobs, root), load_manifest(blobs, edited)
    for path in [*list(model)[:20], "d3/none"]:
        assert after.get(path) == model.get(path)
    old = {p: entry(p, d) for p, d in start.items()}
    diff = diff_manifests(before, after)
    assert [e.path for e in diff.added] == sorted(set(model) - set(old))
    assert [e.path for e in diff.removed] == sorted(set(old) - set(model))
    changed = sorted(p for p in set(old) & set(model) if old[p].digest != model[p].digest)
    assert [b.path for _, b in diff.changed] == changed
    in_memory = diff_manifests(Manifest(old.values()), Manifest(model.values()))
    assert (in_memory.added, in_memory.removed, in_memory.changed) == (diff.added, diff.removed, diff.changed)


def test_the_version_digest_depends_on_paths_and_digests_only(blobs: BlobStore) -> None:
    a = Manifest([Entry("x", "1" * 64, 1), Entry("y/z", "2" * 64, 2)])
    b = Manifest([Entry("y/z", "2" * 64, 200, extra={"etag": "e"}), Entry("x", "1" * 64, None)])
    assert a.digest == b.digest
    assert a.digest != Manifest([Entry("x", "1" * 64), Entry("y/z", "3" * 64)]).digest
    assert a.digest != Manifest([Entry("x", "1" * 64), Entry("y/w", "2" * 64)]).digest
    assert Manifest().digest == load_manifest(blobs, save_manifest(blobs, Manifest())).digest


def test_a_corrupt_or_foreign_root_is_refused(blobs: BlobStore) -> None:
    digest = blobs.put_bytes(b'{"format":"something/9"}')
    with pytest.raises(OSError, match="unknown manifest format"):
        load_manifest(blobs, digest)
