"""Deterministic inputs and the workload registry, with W1, W2 and W5.

A workload is a function ``ctx -> list[Case]`` registered with ``@workload(name,
title)``; its docstring is printed under its table in BENCHMARKS.md.  Later workloads
(W3 patch, collaborative, tables, S3, ...) go in their own module
``bench/workloads_<topic>.py``: the harness imports every such module, so registering
one takes no edit anywhere else.  Ratios read "quire is N× faster": ``vs(peer, quire)``.
"""

from __future__ import annotations

import inspect
import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import tools
from bench.runner import Case, Context, rmtree

CHUNK = 64 << 20  # bytes generated at a time


@dataclass(frozen=True)
class Dataset:
    """``n_files`` files of ``file_size`` random bytes from ``random.Random(seed)``,
    spread evenly over ``n_dirs`` folders (``n_dirs == 1``: flat)."""

    name: str
    n_files: int
    file_size: int
    n_dirs: int
    seed: int

    def materialize(self, root: Path) -> Path:
        """Generate once; reuse while the stamp matches, so mtimes stay unchanged."""
        path, stamp = root / self.name, root / f"{self.name}.json"
        spec = json.dumps(asdict(self), sort_keys=True)
        if path.is_dir() and stamp.exists() and stamp.read_text() == spec:
            return path
        print(f"generating {self.name}: {self.n_files} × {self.file_size} B ...", flush=True)
        rmtree(path)
        stamp.unlink(missing_ok=True)
        rng = random.Random(self.seed)
        per_dir = -(-self.n_files // self.n_dirs)
        for i in range(self.n_files):
            folder = path / f"d{i // per_dir:03d}" if self.n_dirs > 1 else path
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / f"f{i:05d}.bin", "wb") as f:
                # in pieces: randbytes takes at most 2³¹ bits at once; the bytes are the
                # same as one call's (the generator's words in the same order)
                for start in range(0, self.file_size, CHUNK):
                    f.write(rng.randbytes(min(CHUNK, self.file_size - start)))
        stamp.write_text(spec)
        return path


@dataclass
class Workload:
    name: str
    title: str
    doc: str
    build: Callable[[Context], list[Case]]


WORKLOADS: dict[str, Workload] = {}


def workload(name: str, title: str):
    def register(fn: Callable[[Context], list[Case]]):
        WORKLOADS[name] = Workload(name, title, inspect.cleandoc(fn.__doc__ or ""), fn)
        return fn

    return register


def vs(case: Case, quire_case: Case, target: float | None = None) -> Case:
    """Compare ``case`` with a Quire row: ratio = t(case) / t(quire)."""
    case.ratio, case.target = (case.label, quire_case.label), target
    return case


W1_DATA = Dataset("w1", n_files=20_000, file_size=4 << 10, n_dirs=100, seed=1)
W2_DATA = Dataset("w2", n_files=8, file_size=128 << 20, n_dirs=1, seed=2)


def first_log(ctx: Context, data: Path, wandb_target: float, dvc_target: float) -> list[Case]:
    """Quire (both policies) against wandb offline (both) and ``dvc add`` (two cache types)."""
    mutable = tools.quire_log(ctx, data, "mutable")
    immutable = tools.quire_log(ctx, data, "immutable")
    wandb_mutable = vs(tools.wandb_log(ctx, data, "mutable"), mutable, wandb_target)
    # Like for like: neither wandb nor dvc fsyncs what it writes; Quire does by default.
    no_fsync = tools.quire_log(ctx, data, "mutable", durable=False)
    no_fsync.ratio = (wandb_mutable.label, no_fsync.label)
    return [
        mutable,
        immutable,
        no_fsync,
        wandb_mutable,
        vs(tools.wandb_log(ctx, data, "immutable"), immutable),
        vs(tools.dvc_add(ctx, data, None), mutable, dvc_target),
        vs(tools.dvc_add(ctx, data, "hardlink"), mutable),
    ]


@workload("W1", "20,000 files × 4 KiB in 100 folders: first log")
def w1(ctx: Context) -> list[Case]:
    """First log of many small files (80 MiB). Every repetition starts from a fresh store,
    fresh wandb directories or a fresh `git init && dvc init` repo, so it is really a
    first log. dvc adds its own copy of the data (it only adds files inside its repo)."""
    data = ctx.dataset(W1_DATA)
    cases = first_log(ctx, data, wandb_target=5, dvc_target=4)
    mutable = cases[0]
    return [
        *cases,
        vs(tools.anchor_cat(ctx, data), mutable),
        vs(tools.anchor_read(ctx, data), mutable),
        vs(tools.anchor_copy(ctx, data, W1_DATA.n_files, "-r"), mutable),
    ]


@workload("W2", "8 files × 128 MiB: first log, and re-log of the unchanged folder")
def w2(ctx: Context) -> list[Case]:
    """First log of a few large files (1 GiB), as in W1; then Quire logs the unchanged
    folder again into the same store from a new process (its stat cache should make
    that ≥20× faster than the first log)."""
    data = ctx.dataset(W2_DATA)
    cases = first_log(ctx, data, wandb_target=2, dvc_target=3)
    mutable = cases[0]
    relog = tools.quire_relog(ctx, data)
    relog.ratio, relog.target = (mutable.label, relog.label), 20
    return [
        *cases,
        relog,
        vs(tools.anchor_cat(ctx, data), mutable),
        vs(tools.anchor_read(ctx, data, hasher="blake3"), mutable),
    ]


@workload("W5", "download a cached version of W1 into a new folder")
def w5(ctx: Context) -> list[Case]:
    """Materialize W1's 20,000 files from a local cache into a new folder. Quire: the
    version is logged and downloaded once (untimed), then each repetition downloads it
    into a new folder from a new process. dvc: `dvc checkout` after deleting the
    workspace copy. wandb offline has no server to download from, so it has no row."""
    data = ctx.dataset(W1_DATA)
    n = W1_DATA.n_files
    download = tools.quire_download(ctx, data, n)
    return [
        download,
        vs(tools.dvc_checkout(ctx, data, n, None), download),
        vs(tools.dvc_checkout(ctx, data, n, "hardlink"), download),
        vs(tools.anchor_copy(ctx, data, n, "-al"), download, target=0.5),
        vs(tools.anchor_copy(ctx, data, n, "-r"), download),
    ]
