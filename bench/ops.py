"""The measured operations, each run in a fresh subprocess.

Usage (by the harness, never by hand): ``python -m bench.ops '<json spec>'`` where the
spec is ``{"op": NAME, "args": {...}}``.  Every operation is a function that does its
imports and other preparation, then returns a zero-argument closure: only the closure is
timed (``time.perf_counter``), so interpreter start-up and module imports are excluded
equally for every tool.  The result is printed as one JSON line after ``MARK`` so tool
chatter on stdout cannot confuse the harness.

This module must import nothing outside the standard library at module level: it runs
under Quire's interpreter and under the peers' separate venv alike.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import subprocess
import sys
import time

MARK = "BENCH-RESULT "

from bench.ops_collab import collab_merge, collab_writers  # noqa: E402  (stdlib-only module)
from bench.ops_tables import OPS as TABLE_OPS  # noqa: E402  (stdlib-only module)
from bench.preload import import_quire  # noqa: E402  (stdlib-only module)


def log_artifact(module, data, name, policy, init_kwargs, wait):
    """wandb-style first/second log of a folder; Quire and wandb share this code path.

    Quire mimics the wandb API, so the same calls are timed for both; only ``init``'s
    keyword arguments differ (Quire gets ``store=``) and ``wait()`` (wandb refuses it
    in offline mode; for Quire it makes sure the commit is included in the time).
    """
    lib = import_quire() if module == "quire" else importlib.import_module(module)

    def go():
        run = lib.init(project="bench", **init_kwargs)
        art = lib.Artifact(name, "dataset")
        art.add_dir(data, policy=policy)
        run.log_artifact(art)
        if wait:
            art.wait()
        run.finish()

    return go


def quire_download(store, ref, root):
    """Download a committed version into a new folder (the local cache is warm)."""
    quire = import_quire()

    def go():
        quire.Api(store=store).artifact(ref).download(root=root)

    return go


def dvc_cli(commands):
    """Run one or more ``dvc`` CLI commands in-process (cwd is the repo).

    The CLI's parser and the repo classes are imported before the timer starts so
    dvc's import cost is excluded like everyone else's.
    """
    import dvc.cli.parser
    import dvc.repo  # noqa: F401
    from dvc.cli import main

    def go():
        for argv in commands:
            rc = main(argv)
            if rc:
                raise SystemExit(f"dvc {' '.join(argv)} exited with {rc}")

    return go


def shell(cmd):
    """A shell command anchor (cat, cp -r, cp -al); the fork/exec is included."""

    def go():
        subprocess.run(cmd, shell=True, check=True)

    return go


def read_tree(root, hasher=None):
    """Read (and optionally BLAKE3-hash, single-threaded, streaming) every file.

    This is the floor for any tool that must look at every byte once.
    """
    new_hash = importlib.import_module("blake3").blake3 if hasher == "blake3" else None

    def go():
        buf = bytearray(1 << 20)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for fn in sorted(filenames):
                h = new_hash() if new_hash else None
                with open(os.path.join(dirpath, fn), "rb", buffering=0) as f:
                    while n := f.readinto(buf):
                        if h is not None:
                            h.update(memoryview(buf)[:n])
                if h is not None:
                    h.hexdigest()

    return go


def quire_patch(store, ref, root, changed, removed):
    """W3: ``new_draft()`` of a logged version, re-add the ``changed`` files (paths
    relative to ``root``), ``remove`` the ``removed`` ones, log: patch mode."""
    quire = import_quire()

    def go():
        run = quire.init(project="bench", store=store)
        draft = quire.Api(store=store).artifact(ref).new_draft()
        for rel in changed:
            draft.add_file(os.path.join(root, rel), rel, overwrite=True)
        for rel in removed:
            draft.remove(rel)
        run.log_artifact(draft)
        run.finish()

    return go


def boto3_upload(root, bucket, threads):
    """Upload every file of a tree with boto3's ``upload_file`` (its default multipart
    settings) from a pool of ``threads`` threads: what the S3 transport allows, the anchor
    for Quire's team store. Endpoint and credentials come from the ``AWS_*`` variables."""
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    client = boto3.client("s3")
    files = [os.path.join(d, f) for d, _, names in os.walk(root) for f in names]

    def go():
        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(lambda p: client.upload_file(p, bucket, os.path.relpath(p, root)), files):
                pass

    return go


OPS = {f.__name__: f for f in (log_artifact, quire_download, quire_patch, dvc_cli, shell, read_tree, boto3_upload)}
OPS.update(collab_writers=collab_writers, collab_merge=collab_merge)
OPS.update(TABLE_OPS)
from bench.ops_server import OPS as SERVER_OPS  # noqa: E402  (stdlib-only module)

OPS.update(SERVER_OPS)
from bench.scale_ops import OPS as SCALE_OPS  # noqa: E402  (stdlib-only; here, apart from the imports other parts edit)

OPS.update(SCALE_OPS)


def _cpu() -> tuple[float, float]:
    """User + system CPU seconds of this process and of its reaped children
    (``getrusage``: finer than the clock ticks of ``os.times``)."""
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def main(argv: list[str]) -> None:
    spec = json.loads(argv[1])
    t0 = time.perf_counter()
    go = OPS[spec["op"]](**spec["args"])
    t1, c1 = time.perf_counter(), _cpu()
    go()
    t2, c2 = time.perf_counter(), _cpu()
    sys.stdout.flush()
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # this process, not children
    # CPU (user + system) spent while timed: this process's own, and that of the child
    # processes it waited for meanwhile (shell commands, C1's writers: those are forked
    # before the clock starts but do their work, and are reaped, within it).
    cpu, children_cpu = c2[0] - c1[0], c2[1] - c1[1]
    print(
        MARK
        + json.dumps(
            {
                "seconds": t2 - t1,
                "import_seconds": t1 - t0,
                "cpu_seconds": cpu,
                "children_cpu_seconds": children_cpu,
                "peak_rss_mib": peak_rss_mib,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv)
