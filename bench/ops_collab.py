"""Collaborative-mode operations for the harness, run like those of ``bench/ops.py``
(imports and set-up first, then the returned closure is timed).

Only the standard library at module level, as in ``bench/ops.py``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random

from bench.preload import import_quire


def forked_writers(target, arg_lists):  # type: ignore[no-untyped-def]
    """Fork one writer process per tuple of ``arg_lists``, running ``target(*args, start)``;
    each waits at the barrier ``start`` when it is ready. Returns ``release()``: it opens
    the barrier, waits for every writer and raises if one failed."""
    ctx = mp.get_context("fork")
    start = ctx.Barrier(len(arg_lists) + 1)
    writers = [ctx.Process(target=target, args=(*args, start)) for args in arg_lists]
    for w in writers:
        w.start()

    def release() -> None:
        start.wait()
        for w in writers:
            w.join()
        failed = [w.exitcode for w in writers if w.exitcode]
        if failed:
            raise SystemExit(f"{len(failed)} writers failed (exit codes {failed})")

    return release


def _writer(data: str, folder: str, name: str, start) -> None:  # type: ignore[no-untyped-def]
    import quire

    start.wait()
    with quire.init(project="bench", group="collab") as run:
        art = quire.Artifact(name, "dataset")
        art.add_dir(os.path.join(data, folder), name=folder)
        run.upsert_artifact(art)


def collab_writers(data, name):
    """One writer process per folder of ``data`` upserts it; then this process finishes.

    The writers are forked before the clock starts, after ``import quire`` (so, as for
    every tool, interpreter start-up and imports are not timed), and wait at a barrier
    that the timed closure opens; the time ends with the finisher's commit.
    """
    quire = import_quire()

    folders = sorted(f for f in os.listdir(data) if os.path.isdir(os.path.join(data, f)))
    expected = sum(len(files) for _, _, files in os.walk(data))
    release = forked_writers(_writer, [(data, f, name) for f in folders])

    def go():
        release()
        with quire.init(project="bench", group="collab") as run:
            art = run.finish_artifact(quire.Artifact(name, "dataset"))
        if art.file_count != expected:
            raise SystemExit(f"the version holds {art.file_count} files, not {expected}")

    return go


def collab_merge(contributions, entries):
    """A finisher merges ``contributions`` × ``entries`` entries and commits them.

    The contributions are real catalog rows with real manifest blobs, made before the
    clock starts; their entries name blobs that were never written (merging and
    committing read manifests, not file bytes). Ten paths are in every contribution
    with the same digest, as shared files would be.
    """
    import quire
    from quire.core.manifest import Entry, Manifest, save_manifest
    from quire.store import open_store
    from quire.store.catalog import NewContribution

    store = open_store()
    rng = random.Random(3)
    for c in range(contributions):
        rows = [Entry(f"part{c:03d}/row{i:05d}.parquet", rng.randbytes(32).hex(), 4096) for i in range(entries)]
        rows += [Entry(f"shared/{i}.json", f"{i:064x}", 10) for i in range(10)]
        manifest = Manifest(rows)
        own = NewContribution(
            f"writer{c}",
            save_manifest(store.blobs, manifest),
            len(manifest),
            manifest.size,
            {"role": "writer", "writer": {"rank": str(c)}},
        )
        store.catalog.add_contribution("bench", "merged", "dataset", "merge", own, store.catalog.gc_epoch())
    run = quire.init(project="bench", group="merge")
    draft = quire.Artifact("merged", "dataset")

    def go():
        art = run.finish_artifact(draft)
        run.finish()
        if art.file_count != contributions * entries + 10:
            raise SystemExit(f"the version holds {art.file_count} entries")

    return go
