"""Patch mode at scale: a 1,000,000-entry version, a 1-file patch of it, and a diff.

Usage: ``python bench/patch.py [--entries 1000000] [--scratch DIR]``

Prints, for a version of N entries (1,000 folders; their bytes are 1,000 distinct small
blobs, so building the store takes seconds, not a million file writes):

- the untimed set-up: logging the N-entry version from a manifest built in memory;
- a 1-file patch: ``new_draft()`` of the version, ``add_file`` of one new file, log
  (time, and bytes the blob store grew by: the file and the manifest pages);
- ``v0.diff(v1)`` of the two versions, and reading one entry and one folder of v1, each
  from a cold page cache (time, pages read).

Targets (issue 5): the patch commits in under 1 s and writes under 1 MB of metadata;
the diff takes under 1 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import quire
from quire.core import pages
from quire.core.manifest import Entry, Manifest
from quire.store import STORES


def blob_bytes(store: Path) -> int:
    return sum(p.stat().st_size for p in (store / "blobs").rglob("*") if p.is_file())


def make_version(n: int, work: Path) -> quire.Artifact:
    """Log ``big:v0`` with ``n`` entries whose bytes are 1,000 distinct stored blobs."""
    pool = quire.Artifact("pool", "dataset")
    for i in range(1000):
        with pool.new_file(f"blob{i:04d}.txt", mode="w") as f:
            f.write(f"content {i}\n")
    quire.log_artifact(pool)
    kinds = [pool.get_entry(f"blob{i:04d}.txt") for i in range(1000)]
    big = quire.Artifact("big", "dataset")
    big._check_draft().manifest = Manifest(
        Entry(f"d{i // 1000:04d}/f{i:07d}.bin", kinds[i % 1000].digest, kinds[i % 1000].size) for i in range(n)
    )
    quire.log_artifact(big)
    return big


def timed(label: str, fn):
    """Time ``fn`` as a new process would run it: no pages cached, no pack index read."""
    pages._cache.clear()
    quire.finish()
    STORES.forget()  # (a fresh Store: its blob store reads the pack indexes again)
    reads = []
    store = quire.Api().store
    real = store.blobs.read
    store.blobs.read = lambda d: reads.append(d) or real(d)  # type: ignore[method-assign]
    try:
        t0 = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - t0
    finally:
        store.blobs.read = real  # type: ignore[method-assign]
    print(f"{label:<44} {seconds:8.3f} s   ({len(reads)} blobs read)", flush=True)
    return result, seconds


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--entries", type=int, default=1_000_000)
    p.add_argument("--scratch", type=Path, default=None)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="quire-bench-patch-", dir=args.scratch))
    store = work / "store"
    os.environ["QUIRE_STORE"] = str(store)
    os.chdir(work)
    try:
        t0 = time.perf_counter()
        make_version(args.entries, work)
        print(
            f"set-up: logged {args.entries:,} entries in {time.perf_counter() - t0:.1f} s "
            f"(blob store {blob_bytes(store) / 1e6:.1f} MB)",
            flush=True,
        )
        quire.finish()

        Path("new.txt").write_text("one new file\n")
        before = blob_bytes(store)

        def patch() -> quire.Artifact:
            draft = quire.Api().artifact("big:v0").new_draft()
            draft.add_file("new.txt", f"d{args.entries // 2000:04d}/new.txt")
            with quire.init(job_type="patch") as run:
                run.log_artifact(draft)
            return draft

        v1, patch_s = timed("1-file patch (new_draft, add_file, log)", patch)
        grown = blob_bytes(store) - before
        print(f"  blob store grew by {grown:,} bytes (the new file: 13 bytes + its pack index)")
        assert v1.version == "v1" and v1.file_count == args.entries + 1

        api = quire.Api
        diff, diff_s = timed("v0.diff(v1)", lambda: api().artifact("big:v0").diff(api().artifact("big:v1")))
        assert [e.path for e in diff.added] == [f"d{args.entries // 2000:04d}/new.txt"]
        assert not diff.removed and not diff.changed
        i = args.entries * 7 // 9
        timed("v1.get_entry(one path)", lambda: api().artifact("big:v1").get_entry(f"d{i // 1000:04d}/f{i:07d}.bin"))
        folder, _ = timed(
            "v1.manifest.under(one folder of 1,000)",
            lambda: api().artifact("big:v1").manifest.under(f"d{i // 1000:04d}"),
        )
        assert len(folder) == 1000
        ok = patch_s < 1 and grown < 1_000_000 and diff_s < 1
        print("targets (patch < 1 s, < 1 MB written; diff < 1 s):", "met" if ok else "MISSED")
        return 0 if ok else 1
    finally:
        quire.finish()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
