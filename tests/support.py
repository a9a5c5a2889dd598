"""Helpers shared by the API tests (importable: pytest puts ``tests/`` on the path)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
from pathlib import Path

import blake3

import quire
from quire.store.blobs import SMALL

#: a version's files as the download tests log them: small ones in a folder tree, and one
#: above the pack threshold (a blob of its own)
LARGE = SMALL + 4321
DOWNLOAD_FILES = {"a.txt": b"alpha", "sub/b.txt": b"beta", "sub/deep/c.bin": b"\x00" * 300, "big.bin": b"L" * LARGE}


def log_download_files(tmp_path: Path) -> quire.Artifact:
    """:data:`DOWNLOAD_FILES` logged as p/data:v0 (from ``tmp_path/src``)."""
    log_files("data", DOWNLOAD_FILES, tmp_path / "src")
    return quire.Api().artifact("p/data:v0")


def digest(data: bytes) -> str:
    """BLAKE3 hex of ``data``, computed without Quire's own helpers."""
    return blake3.blake3(data).hexdigest()


def files_of(root: str | os.PathLike[str]) -> dict[str, bytes]:
    """Relative posix path → bytes of every file below ``root``."""
    base = Path(root)
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` (relative path → bytes) below ``root``; returns ``root``."""
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def log_files(
    name: str,
    files: dict[str, bytes],
    src: Path,
    project: str = "p",
    type: str = "dataset",
    store: Path | None = None,
    **kwargs: object,
) -> quire.Artifact:
    """Log ``files`` (written below the fresh folder ``src``) as a version of ``name``, in a run of its own."""
    write_tree(src, files)
    with quire.init(project=project, store=store) as run:
        art = quire.Artifact(name, type)
        art.add_dir(src)
        return run.log_artifact(art, **kwargs)  # type: ignore[arg-type]


def stored_bytes(store_url: str) -> int:
    """Bytes the store's blob store holds (any kind of store; staging files excluded, and
    combined pack indexes: a cache of the packs' indexes, rewritten by every gc)."""
    from quire.store import open_store

    return sum(info.size for info in open_store(store_url).blobs.objects.list() if not info.key.endswith(".midx"))


# -- waits that hold under load ------------------------------------------------------------
#
# A test that waits for other processes must give up some time, or a hang never ends; but a
# fixed wall (``timeout=300``) either fails on a loaded machine or hides a hang for minutes
# on an idle one. So waits are counted in a unit measured here, once per session: what one
# fresh interpreter takes to start and import Quire, on this machine, under its load.

#: how many times its expected cost a wait allows before the work counts as hung (measured
#: under a load of 30 on 2 cores, the slowest waits took 4-10x less than their bound)
MARGIN = 10


def _load_per_core() -> float:
    """Runnable processes per core over the last minute, plus one (1.0 on an idle machine)."""
    return 1.0 + os.getloadavg()[0] / (os.cpu_count() or 1)


@functools.cache
def _measured() -> tuple[float, float]:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import quire.store.sql, quire.sdk.run"], env=env, check=True)
    return time.perf_counter() - started, _load_per_core()


def process_start() -> float:
    """Seconds a fresh interpreter took to start and import Quire (measured at first use)."""
    return _measured()[0]


def patience(processes: float = 1.0) -> float:
    """A bound, in seconds, for waiting on work that costs about ``processes`` fresh Quire
    processes (a CLI call is 1, sixteen writers are 16): :data:`MARGIN` times that cost as
    measured, stretched again if the machine got busier since (never less than 10 s)."""
    unit, load = _measured()
    return max(10.0, MARGIN * processes * unit * max(1.0, _load_per_core() / load))
