"""``quire.Api``'s management verbs (what the command line is built on): gc and the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

import quire


def test_api_gc_deletes_what_no_version_references_and_a_dry_run_nothing(make_files, tmp_path: Path) -> None:
    with quire.init(project="p") as run:
        art = quire.Artifact("ds", "dataset")
        art.add_dir(make_files({"a.txt": b"kept", "b.txt": b"dropped"}))
        run.log_artifact(art)
        patch = art.new_draft()
        patch.remove("b.txt")
        run.log_artifact(patch)
    art.delete()  # v0 goes: b.txt's blob is referenced by nothing now
    api = quire.Api()

    dry = api.gc(grace=0, dry_run=True)  # b.txt shares a pack with a.txt: the pack is rewritten
    assert dry.dry_run and dry.freed > 0
    again = api.gc(grace=0, dry_run=True)  # nothing went
    assert (again.deleted, again.repacked, again.freed) == (dry.deleted, dry.repacked, dry.freed)

    done = api.gc(grace=0)
    assert (done.deleted, done.repacked) == (dry.deleted, dry.repacked) and done.freed > 0
    assert api.gc(grace=0).freed == 0
    got = api.artifact("p/ds:latest").download(tmp_path / "got")
    assert sorted(p.name for p in Path(got).iterdir()) == ["a.txt"]

    kept = api.gc()  # the default grace period keeps everything that is young
    assert kept.freed == 0 and not kept.dry_run


def test_api_gc_refuses_a_negative_grace() -> None:
    with pytest.raises(quire.ValidationError, match="grace"):
        quire.Api().gc(grace=-1)


def test_api_cache_cleanup_empties_the_cache_and_downloads_refill_it(make_files, tmp_path: Path) -> None:
    with quire.init(project="p") as run:
        art = quire.Artifact("ds", "dataset")
        art.add_dir(make_files({"a.txt": b"one", "b.txt": b"two"}))
        run.log_artifact(art)
    api = quire.Api()
    api.artifact("p/ds").download(tmp_path / "first")
    cache = api.cache
    assert cache.root.is_dir()

    assert cache.cleanup(10**9) == (0, 0)
    removed, freed = cache.cleanup(0)
    assert removed == 2 and freed == len(b"one") + len(b"two")
    assert (tmp_path / "first" / "a.txt").read_bytes() == b"one"  # downloaded folders keep their files
    api.artifact("p/ds").download(tmp_path / "again")
    assert (tmp_path / "again" / "b.txt").read_bytes() == b"two"
