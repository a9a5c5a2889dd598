"""Building the stores ``python -m bench.web`` serves, once, and caching them.

Two stores of the same shape (project ``bench``), one at the size issue 15 names and a
small one as the baseline:

- ``many``: ``versions`` versions of one entry each (100,000 at size). Every version's
  manifest page goes into one blob writer first, then the catalog commits them one by
  one through :class:`~quire.store.catalog.VersionCommit` (as ``bench/scale_build.py``
  does for its versions store): a real catalog, without 100,000 sdk commits. Each run
  logs ``PER_RUN`` of them and uses the last version of the run before it, so the
  runs page and the lineage have something to read.
- ``big``: ``v0`` of ``folders × files`` entries (1,000 × 1,000 at size, in folders
  ``d0000/`` …; their bytes are a handful of small blobs) plus ``tables/rows.table.parquet``
  (a Parquet table of ``rows`` rows, written as the sdk's ``Table`` writes one:
  ``pq.write_table`` defaults) and ``text/big.txt`` (``text_mib`` MiB of lines); ``v1``
  is ``v0`` with one file changed and one added (an edit of the stored manifest: only
  the pages it touches are new), so its diff is one of two million-entry versions.
- ``incoming``: an open pending version of ``contributions`` contributions, in total
  as many entries as the pending page still merges to name conflicts (its
  ``CONFLICT_SCAN``: the worst case the page takes on).
- a run with ``history`` history rows (more than the run page reads).

The store also gets its first admin key (``quire.server.keys.init_admin``), kept in
``built.json`` for the harness to send as a bearer key. Stores are cached like
``bench/scale_build.py``'s (same ``_cached``: keyed by what was asked for and the store
code's fingerprint; ``built.json`` written last).
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.scale_build import PROJECT, _cached, _close, _open

BUILD_VERSION = 1  #: bump when what the builder lays out changes
PER_RUN = 10  #: versions of ``many`` each run logs


@dataclass(frozen=True)
class WebShape:
    """What one store holds; the names the pages are asked for come from here."""

    versions: int  #: of collection ``many``
    folders: int  #: of ``big:v0``
    files: int  #: per folder
    rows: int  #: of the Parquet table
    text_mib: int  #: of the text file
    contributions: int  #: of the pending version
    pending_entries: int  #: over all its contributions
    history: int  #: rows of the run with a history

    @property
    def entries(self) -> int:
        return self.folders * self.files + 2

    def key(self) -> str:
        return (
            f"web-v{self.versions}-f{self.folders}x{self.files}-r{self.rows}-t{self.text_mib}"
            f"-c{self.contributions}x{self.pending_entries}-h{self.history}-b{BUILD_VERSION}"
        )


BIG = WebShape(100_000, 1000, 1000, 1_000_000, 200, 8, 200_000, 10_000)
SMALL = WebShape(2, 2, 4, 10, 0, 2, 10, 10)

TABLE = "tables/rows.table.parquet"
TEXT = "text/big.txt"


def folder_name(i: int) -> str:
    return f"d{i:04d}"


def file_name(i: int, j: int, files: int) -> str:
    return f"f{i * files + j:07d}.bin"


def _run(catalog, run_id: str, config: dict | None = None):  # type: ignore[no-untyped-def]
    from quire.store.catalog import RunRecord, now

    record = RunRecord(run_id, PROJECT, f"run-{run_id}", None, "bench", config or {}, "running", now())
    catalog.create_run(record)
    return record


def _commit(store, collection: str, manifest, root: str, run_id: str | None, parent_id: str | None = None):  # type: ignore[no-untyped-def]
    from quire.store.catalog import NewVersion, VersionCommit, new_commit_id

    new = NewVersion(manifest.digest, root, manifest.size, len(manifest), parent_id=parent_id)
    request = VersionCommit(
        PROJECT,
        collection,
        "dataset",
        new,
        new_commit_id(),
        store.catalog.gc_epoch(),
        aliases=["latest"],
        run_ids=[run_id] if run_id else [],
    )
    return store.catalog.commit(request).version


def _text(mib: int) -> bytes:
    """``mib`` MiB of numbered lines of words (at least one line)."""
    words = random.Random(15).choices(["alpha", "beta", "gamma", "delta", "version", "quire", "page"], k=4096)
    line, lines, size, i = [], [], 0, 0
    while size < max(mib << 20, 1):
        line = f"{i:09d} {' '.join(words[i % 4000 : i % 4000 + 8])}\n".encode()
        lines.append(line)
        size += len(line)
        i += 1
    return b"".join(lines)


def _table(rows: int) -> bytes:
    """A Parquet table of ``rows`` rows × 5 columns, as ``quire.Table`` writes one."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(16)
    table = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "score": pa.array([rng.random() for _ in range(rows)], pa.float64()),
            "loss": pa.array([rng.gauss(0, 1) for _ in range(rows)], pa.float64()),
            "label": pa.array([f"label-{rng.randrange(1000):04d}" for _ in range(rows)], pa.string()),
            "ok": pa.array([rng.random() < 0.5 for _ in range(rows)], pa.bool_()),
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def build_web(path: Path, shape: WebShape, log=print) -> dict:  # type: ignore[no-untyped-def]
    from quire.core.manifest import Entry, Manifest, load_manifest, save_manifest
    from quire.store.catalog import HistoryRow, NewContribution, now

    store = _open(path)
    catalog = store.catalog
    try:
        # a handful of real small blobs every entry of big and incoming points at
        with store.blobs.writer() as writer:
            pool = [(writer.add_bytes(f"content {k}\n".encode()), len(f"content {k}\n")) for k in range(8)]

        log(f"  many: {shape.versions:,} versions")
        roots = []
        with store.blobs.writer() as writer:
            for i in range(shape.versions):
                manifest = Manifest([Entry(f"f{i:06d}.bin", *pool[i % len(pool)])])
                roots.append((manifest, save_manifest(store.blobs, manifest, writer)))
        previous = None
        for i, (manifest, root) in enumerate(roots):
            if i % PER_RUN == 0:
                run = _run(catalog, f"many{i // PER_RUN:06d}")
                if previous is not None:
                    catalog.use_version(run.id, previous.id)
            previous = _commit(store, "many", manifest, root, run.id)
            if i % 10_000 == 9_999:
                log(f"    {i + 1:,}")
        del roots

        log(
            f"  big: {shape.folders:,} folders × {shape.files:,} files, "
            f"table {shape.rows:,} rows, text {shape.text_mib} MiB"
        )
        entries = [
            Entry(f"{folder_name(i)}/{file_name(i, j, shape.files)}", *pool[(i + j) % len(pool)])
            for i in range(shape.folders)
            for j in range(shape.files)
        ]
        with store.blobs.writer() as writer:
            table = _table(shape.rows)
            entries.append(Entry(TABLE, writer.add_bytes(table), len(table)))
            del table
            text = _text(shape.text_mib)
            entries.append(Entry(TEXT, writer.add_bytes(text), len(text)))
            del text
        manifest = Manifest(entries)
        del entries
        maker = _run(catalog, "bigmaker", {"folders": shape.folders, "files": shape.files})
        catalog.use_version(maker.id, previous.id)
        v0 = _commit(store, "big", manifest, save_manifest(store.blobs, manifest), maker.id)
        del manifest
        edited = load_manifest(store.blobs, v0.root)
        first = f"{folder_name(0)}/{file_name(0, 0, shape.files)}"
        edited.put(Entry(first, *pool[-1]) if edited.get(first).digest != pool[-1][0] else Entry(first, *pool[0]))
        edited.put(Entry(f"{folder_name(shape.folders // 2)}/added.txt", *pool[1]))
        _commit(store, "big", edited, save_manifest(store.blobs, edited), maker.id, parent_id=v0.id)

        log(f"  history: {shape.history:,} rows; incoming: {shape.contributions} contributions")
        catalog.log_history(
            maker.id,
            [HistoryRow(s, {"loss": 1 / (s + 1), "acc": s / shape.history}, now()) for s in range(shape.history)],
        )
        per = shape.pending_entries // shape.contributions
        for c in range(shape.contributions):
            writer_run = _run(catalog, f"writer{c:03d}")
            part = Manifest(Entry(f"part{c:03d}/f{k:07d}.bin", *pool[k % len(pool)]) for k in range(per))
            new = NewContribution(
                writer_run.id, save_manifest(store.blobs, part), len(part), part.size, {"writer": {"rank": c}}
            )
            catalog.add_contribution(PROJECT, "incoming", "dataset", "job-1", new, catalog.gc_epoch())
        pending = catalog.pending_versions(PROJECT)[0].id
    finally:
        _close()

    from quire.server import keys

    key, _ = keys.init_admin(str(path))
    _close()
    return {"shape": asdict(shape), "key": key, "pending": pending, "run": "bigmaker"}


def web_store(scratch: Path, shape: WebShape, log=print) -> tuple[Path, dict]:  # type: ignore[no-untyped-def]
    def build(path: Path) -> dict:
        log(f"building a web store {shape.key()} in {path} ...")
        return build_web(path, shape, log)

    path, info, _ = _cached(scratch, shape.key(), build)
    return path, info


def main(argv: list[str]) -> None:
    """``python -m bench.web_build SCRATCH big|small``: build (or find) one store in a
    process of its own (see ``bench/scale_build.py`` why); JSON on stdout."""
    scratch, which = argv

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    path, info = web_store(Path(scratch), {"big": BIG, "small": SMALL}[which], log)
    print(json.dumps({"store": str(path), **info}))


if __name__ == "__main__":
    main(sys.argv[1:])
