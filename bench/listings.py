"""``python -m bench.listings``: ``quire artifact versions`` of a small and a large collection.

Issue 13, item 3: the first page of a 10,000-version collection within 1.5x of a
100-version one. Each collection is built with the catalog directly (tiny versions
sharing one manifest, as a long training run's checkpoints do), then listed in a fresh
process ``--repeat`` times; medians and the ratio of the largest to the smallest.

    python -m bench.listings [--sizes 100,10000] [--repeat 5] [--scratch DIR] [--src DIR]

``--src`` lists with another checkout's ``src`` (the code before a change, for a before
and after on the same stores).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build(where: Path, n: int) -> None:
    """A store at ``where`` whose collection ``p/c`` holds ``n`` versions (one logged, the
    rest committed with the catalog on the same root)."""
    import quire
    from quire.hashing import hash_bytes
    from quire.store import open_store
    from quire.store.catalog import NewVersion, VersionCommit, new_commit_id

    source = where.parent / f"{where.name}.txt"
    source.write_text("x")
    run = quire.init(project="p", store=str(where))
    first = quire.Artifact("c", "dataset")
    first.add_file(str(source))
    run.log_artifact(first)
    run.finish()
    catalog = open_store(str(where)).catalog
    parent = catalog.version("p", "c", "v0")
    for i in range(1, n):
        new = NewVersion(hash_bytes(f"v{i}".encode()), parent.root, 1, 1, parent_id=parent.id)
        aliases = [f"a{i}"] if i % 10 == 0 else []
        request = VersionCommit("p", "c", "dataset", new, new_commit_id(), catalog.gc_epoch(), aliases=aliases)
        parent = catalog.commit(request).version


def list_once(where: Path, src: str) -> float:
    """Seconds a fresh ``quire artifact versions p/c`` takes (start-up included)."""
    env = {**os.environ, "QUIRE_STORE": str(where), "PYTHONPATH": src}
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "quire.cli", "artifact", "versions", "p/c"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,10000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "quire-bench-listings")
    parser.add_argument("--src", default=str(Path(__file__).resolve().parent.parent / "src"))
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    for n in sizes:
        where = args.scratch / f"versions-{n}"
        if not (where / ".built").exists():
            where.mkdir(parents=True, exist_ok=True)
            build(where, n)
            (where / ".built").touch()
    times: dict[int, list[float]] = {n: [] for n in sizes}
    for _ in range(args.repeat):  # interleaved, so a busy moment hits every size alike
        for n in sizes:
            times[n].append(list_once(args.scratch / f"versions-{n}", args.src))
    medians = {n: statistics.median(t) for n, t in times.items()}
    for n in sizes:
        print(f"versions {n:>6}: median {medians[n]:.2f} s over {args.repeat} runs")
    print(f"ratio {max(sizes)} / {min(sizes)}: {medians[max(sizes)] / medians[min(sizes)]:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
