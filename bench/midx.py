"""What one lookup costs a fresh process, with and without the combined pack index.

Usage: ``python -m bench.midx [--blobs 10000 1000000] [--repeat 5] [--scratch DIR]``

For each size, a blob store of that many small blobs (64 bytes, 8,192 to a pack, written
straight into packs) is built; then fresh processes each open it and ask
``BlobStore.missing({one digest: size})``, first with no combined index (every pack's
index is loaded, as before issue 13), then after ``consolidate()`` (once one process on
the machine has verified the new file; that first open is shown on its own). Prints the median
time of the open-and-lookup, the peak RSS of the process (and of a process that only
imports), and the ratio of the largest size to the smallest.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from quire.store.blobs import RACY

PER_PACK = 8192
SIZE = 64

PROBE = """
import json, resource, sys, time
from pathlib import Path
from quire.store.blobs import BlobStore
from quire.store.objects import LocalObjects
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
found = BlobStore(LocalObjects(Path(sys.argv[1]))).missing({sys.argv[2]: int(sys.argv[3])})
took = time.perf_counter() - start
assert not found
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": took, "peak_kib": peak, "import_kib": base}))
"""


def build(root: Path, blobs: int) -> str:
    """A store of ``blobs`` small blobs in full packs; returns one digest in it."""
    from quire.hashing import hash_bytes
    from quire.store.blobs import BlobStore, Spool
    from quire.store.objects import LocalObjects

    store = BlobStore(LocalObjects(root, durable=False))
    probe = ""
    for first in range(0, blobs, PER_PACK):
        spool = Spool(store.objects)
        for i in range(first, min(blobs, first + PER_PACK)):
            data = i.to_bytes(8, "little") * (SIZE // 8)
            digest = hash_bytes(data)
            spool.add(digest, data)
            probe = probe or digest
        store._write_pack(spool)
    return probe


def in_child(*args: str) -> str:
    """Run a step of this script in a process of its own: the peak RSS a process reports
    includes its parent's (Linux keeps ``ru_maxrss`` across fork and exec), so the probes'
    parent must stay small."""
    out = subprocess.run([sys.executable, "-m", "bench.midx", *args], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def probe(root: Path, digest: str, repeat: int) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, str(root), digest, str(SIZE)], check=True, capture_output=True, text=True
        )
        runs.append(json.loads(out.stdout))
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_mb": statistics.median(r["peak_kib"] for r in runs) / 1024,
        "import_mb": statistics.median(r["import_kib"] for r in runs) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blobs", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scratch", type=Path, default=None)
    parser.add_argument("--build", nargs=2, metavar=("ROOT", "BLOBS"), help=argparse.SUPPRESS)
    parser.add_argument("--consolidate", metavar="ROOT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        print(build(Path(args.build[0]), int(args.build[1])))
        return
    if args.consolidate:
        from quire.store.blobs import BlobStore
        from quire.store.objects import LocalObjects

        BlobStore(LocalObjects(Path(args.consolidate), durable=False)).consolidate()
        return
    scratch = Path(tempfile.mkdtemp(prefix="bench-midx-", dir=args.scratch))
    rows = []
    try:
        for blobs in args.blobs:
            root = scratch / f"store-{blobs}" / "blobs"
            start = time.perf_counter()
            digest = in_child("--build", str(root), str(blobs))
            built = time.perf_counter() - start
            before = probe(root, digest, args.repeat)
            start = time.perf_counter()
            in_child("--consolidate", str(root))
            combined = time.perf_counter() - start
            time.sleep(RACY + 0.5)  # a file changed in the last RACY seconds is never sealed
            first = probe(root, digest, 1)  # the first process on this machine verifies it
            after = probe(root, digest, args.repeat)
            rows.append((blobs, built, combined, before, after))
            print(f"{'':>10}  first open after it (verifies the whole file once): {first['seconds'] * 1000:.1f} ms")
            print(
                f"{blobs:>10,} blobs (built in {built:.1f} s, combined in {combined:.2f} s): "
                f"without .midx {before['seconds'] * 1000:8.1f} ms, {before['peak_mb']:6.1f} MB peak; "
                f"with .midx {after['seconds'] * 1000:6.1f} ms, {after['peak_mb']:6.1f} MB peak "
                f"(imports alone: {after['import_mb']:.1f} MB)",
                flush=True,
            )
        if len(rows) > 1:
            (small, *_, b0, a0), (large, *_, b1, a1) = rows[0], rows[-1]
            print(
                f"ratio {large:,} / {small:,} blobs: without .midx {b1['seconds'] / b0['seconds']:.1f}x time, "
                f"{b1['peak_mb'] / b0['peak_mb']:.1f}x RSS; with .midx {a1['seconds'] / a0['seconds']:.2f}x time, "
                f"{a1['peak_mb'] / a0['peak_mb']:.2f}x RSS"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("QUIRE_FSYNC", "0")
    main()
