"""Building the big stores of ``python -m bench.scale`` fast, and caching them.

A store of 10⁷ blobs cannot be made through the sdk file by file (that is a day of
ingest). Instead the blobs go straight into packs through the store's own writer
(:meth:`~quire.store.blobs.BlobWriter.add_bytes`), their bytes generated from a seeded
RNG, and each version is a manifest built in memory whose entries point at them,
committed by the same core function ``log_artifact`` calls
(:func:`quire.core.commit.commit_draft`): the catalog holds real versions, so gc sees
their blobs as live, and the packs, indexes and pages are what Quire itself writes.

Each built store is kept in ``<scratch>/stores/<key>/`` (the key names what was asked
for and a fingerprint of the store's format code, so code that writes another format
gets a fresh build) with ``built.json`` written last: a folder without it is a build
that did not finish and is made again. Measurements never run on the kept store itself
but on a copy (:func:`copy_store`): the blob files hardlinked (packs and indexes are
immutable, written under new names only, and gc's deletes unlink the copy's names),
the catalog copied for real (SQLite writes into it in place).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

BUILD_VERSION = 1  #: bump when what the builder lays out changes
PROJECT = "bench"
SLICE = 1_000_000  #: most entries in one built version (a manifest is built in memory)
VICTIM_BLOBS = 100  #: blobs of the version a gc measurement deletes (in packs of their own)
BUILT_NOW: list[str] = []  #: the stores this process built (not found built)
CHECKOUT = Path(__file__).resolve().parents[1]  #: the folder that holds bench/


@dataclass(frozen=True)
class BlobLayout:
    """What a store of ``n`` blobs holds (names the measured operations use)."""

    n: int  #: small blobs referenced by the ``bulk`` versions
    blob_size: int
    bulk_versions: int  #: ``bulk:v0`` … each referencing a disjoint slice of the blobs
    read_path: str  #: an entry of ``bulk:v0`` to read
    one: str = "one:v0"  #: a 1-file version to download
    victim: str = "victim:v0"  #: a version whose blobs nothing else references (gc deletes it)
    build_seconds: float = 0.0


def store_fingerprint() -> str:
    """A digest of the code that decides the blob store's format (``quire/store``'s
    modules, SQL aside): a store built by other code is built again."""
    import quire.store  # the code that will write the store, wherever it is imported from

    h = hashlib.sha256(str(BUILD_VERSION).encode())
    for path in sorted(Path(quire.store.__file__).parent.glob("*.py")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:12]


def _cached(root: Path, key: str, build) -> tuple[Path, dict, bool]:
    """``(store folder, built.json, whether it was built now)``; builds when missing."""
    folder = root / "stores" / f"{key}-{store_fingerprint()}"
    stamp = folder / "built.json"
    if stamp.exists():
        return folder / "store", json.loads(stamp.read_text()), False
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    info = build(folder / "store")
    info["build_seconds"] = time.perf_counter() - t0
    stamp.write_text(json.dumps(info, indent=1))
    BUILT_NOW.append(key)
    return folder / "store", info, True


def _open(store: Path):
    """A fresh process's view of ``store`` (the builder runs in the harness's process)."""
    import quire
    from quire.store import open_store

    quire.finish()
    return open_store(store)


def _close() -> None:
    """Close the store (SQLite checkpoints its WAL into catalog.db: copies need only that)."""
    import quire
    from quire.store import STORES, close_stores

    quire.finish()
    close_stores()
    STORES.forget()


def _commit(store, collection: str, entries) -> None:
    """Commit ``entries`` (whose blobs are stored) as the next version of ``collection``:
    the core commit ``log_artifact`` uses, with a manifest built in memory."""
    from quire.core.commit import Staged, commit_draft
    from quire.core.draft import Draft
    from quire.core.manifest import Manifest

    draft = Draft(collection, "dataset", Manifest(entries))
    commit_draft(store, draft, Staged(), PROJECT, ["latest"], [], [])


class _Bytes:
    """Distinct blobs of ``size`` bytes from ``random.Random(seed)``: a counter, then a
    window of one random pool (generating 40 GB of fresh randomness would dominate)."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.pool = random.Random(seed).randbytes(max(1 << 20, 4 * size))
        self.span = len(self.pool) - size

    def __call__(self, i: int) -> bytes:
        start = (i * 7919) % self.span
        return i.to_bytes(16, "big") + self.pool[start : start + self.size - 16]


def _put_blobs(store, make: _Bytes, first: int, count: int, folder: str):
    """Store blobs ``first`` … ``first + count - 1`` in packs; their entries."""
    from quire.core.manifest import Entry

    entries = []
    with store.blobs.writer() as writer:
        for i in range(first, first + count):
            data = make(i)
            digest = writer.add_bytes(data)
            entries.append(Entry(f"{folder}/d{i // 1000:05d}/f{i:08d}.bin", digest, len(data)))
    return entries


def blob_store(scratch: Path, n: int, blob_size: int, log=print) -> tuple[Path, BlobLayout]:
    """The cached store of ``n`` blobs of ``blob_size`` bytes (built when missing)."""
    if blob_size < 16:
        raise ValueError(f"--blob-size must be at least 16 bytes, not {blob_size}")

    def build(path: Path) -> dict:
        log(f"building a store of {n:,} blobs × {blob_size:,} B in {path} ...")
        store = _open(path)
        make = _Bytes(blob_size, seed=n)
        versions = max(2, math.ceil(n / SLICE))
        per = math.ceil(n / versions)
        read_path = ""
        try:
            for v in range(versions):
                first, count = v * per, min(per, n - v * per)
                entries = _put_blobs(store, make, first, count, "bulk")
                read_path = read_path or entries[len(entries) * 2 // 3].path
                _commit(store, "bulk", entries)
                log(f"  bulk:v{v}: {count:,} entries")
                del entries
            # Blobs past n: the victim's in packs of their own (its delete frees whole
            # packs), and one more for the 1-file version.
            _commit(store, "victim", _put_blobs(store, make, n, VICTIM_BLOBS, "victim"))
            _commit(store, "one", _put_blobs(store, make, n + VICTIM_BLOBS, 1, "one"))
            store.blobs.consolidate()  # the steady state, as after a gc
        finally:
            _close()
        return asdict(BlobLayout(n, blob_size, versions, read_path))

    path, info, _ = _cached(scratch, f"blobs-n{n}-s{blob_size}-b{BUILD_VERSION}", build)
    return path, BlobLayout(**info)


def versions_store(scratch: Path, v: int, log=print) -> Path:
    """The cached store whose collection ``many`` holds ``v`` versions (1 file each).

    Thousands of commits through :func:`_commit` would each write a pack for one page;
    here every version's page goes into one writer first, then the catalog commits them
    one by one (the same :class:`~quire.store.catalog.VersionCommit` the core sends)."""

    def build(path: Path) -> dict:
        from quire.core.manifest import Entry, Manifest, save_manifest
        from quire.store.catalog import NewVersion, VersionCommit, new_commit_id

        log(f"building a store of {v:,} versions in {path} ...")
        store = _open(path)
        make = _Bytes(64, seed=v)
        try:
            built = []
            with store.blobs.writer() as writer:
                for i in range(v):
                    manifest = Manifest([Entry(f"f{i:06d}.bin", writer.add_bytes(make(i)), 64)])
                    built.append((manifest, save_manifest(store.blobs, manifest, writer)))
            epoch = store.catalog.gc_epoch()
            for manifest, root in built:
                new = NewVersion(manifest.digest, root, manifest.size, len(manifest))
                store.catalog.commit(VersionCommit(PROJECT, "many", "dataset", new, new_commit_id(), epoch))
        finally:
            _close()
        return {"versions": v, "collection": "many"}

    return _cached(scratch, f"versions-v{v}-b{BUILD_VERSION}", build)[0]


def verify_store(scratch: Path, files: int, file_size: int, log=print) -> tuple[Path, Path]:
    """The cached store with ``wide:v0`` of ``files`` files, and a downloaded copy of it."""

    def build(path: Path) -> dict:
        import quire

        log(f"building a store with a {files:,}-file version in {path} ...")
        store = _open(path)
        try:
            _commit(store, "wide", _put_blobs(store, _Bytes(file_size, seed=files), 0, files, "wide"))
            quire.Api(store=str(path)).artifact(f"{PROJECT}/wide:v0").download(root=str(path.parent / "download"))
        finally:
            _close()
        return {"files": files, "file_size": file_size, "version": "wide:v0"}

    path, _, _ = _cached(scratch, f"verify-f{files}-s{file_size}-b{BUILD_VERSION}", build)
    return path, path.parent / "download"


def copy_store(store: Path, dest: Path) -> Path:
    """A copy of ``store`` at ``dest`` to measure on: blob files hardlinked, the catalog
    copied (see the module's docstring); the kept store's cache is not copied."""
    dest.mkdir(parents=True)
    subprocess.run(["cp", "-al", str(store / "blobs"), str(dest / "blobs")], check=True)
    for f in store.iterdir():
        if f.name.startswith("catalog."):
            shutil.copy2(f, dest / f.name)
    return dest


def main(argv: list[str]) -> None:
    """``python -m bench.scale_build SCRATCH KIND ARGS...``: build (or find) one store in
    a process of its own, printing progress on stderr and the result as JSON on stdout.

    The harness never builds in its own process: a child's peak RSS counts the parent's
    memory at the time it was started (Linux carries an exec'ing process's high-water mark
    over), so a harness that held a 10⁶-entry manifest once would inflate every row after.
    """
    scratch, kind, *rest = argv
    params = [int(x) for x in rest]

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    root = Path(scratch)
    if kind == "blobs":
        path, layout = blob_store(root, *params, log=log)
        out = {"store": str(path), "layout": asdict(layout)}
    elif kind == "versions":
        out = {"store": str(versions_store(root, *params, log=log))}
    elif kind == "verify":
        path, download = verify_store(root, *params, log=log)
        out = {"store": str(path), "download": str(download)}
    else:
        raise SystemExit(f"unknown kind {kind!r}: blobs, versions or verify")
    print(json.dumps(out | {"built": bool(BUILT_NOW)}))


def build(scratch: Path, kind: str, *params: int) -> dict:
    """Run :func:`main` in a child process (see there why); its JSON result."""
    argv = [sys.executable, "-m", "bench.scale_build", str(scratch), kind, *map(str, params)]
    done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, env=os.environ | {"PYTHONPATH": _pythonpath()})
    if done.returncode:
        raise SystemExit(f"building the {kind} store failed (exit {done.returncode}); see above")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _pythonpath() -> str:
    """This checkout first, so ``bench`` is importable from the child."""
    return os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")]))


if __name__ == "__main__":
    main(sys.argv[1:])
