"""Operations of the server workloads (SVC, SVM), run like those of ``bench/ops.py``
(imports and set-up first, then the returned closure is timed). The store is whatever
``QUIRE_STORE`` names: a server's URL (with ``QUIRE_API_KEY``) or an embedded store.

Only the standard library at module level, as in ``bench/ops.py``.
"""

from __future__ import annotations

import json
import os
import time

from bench.ops_collab import _writer, forked_writers
from bench.preload import import_quire


def _folders(data: str) -> list[str]:
    return sorted(f for f in os.listdir(data) if os.path.isdir(os.path.join(data, f)))


def collab_upserts(data, name, figures):
    """C1's shape with the finisher timed apart: one forked writer per folder of ``data``
    upserts it into one collaborative version, then this process finishes it. The whole
    is timed; the finisher's ``finish_artifact`` (merge + commit) alone is written to
    ``figures`` as ``finisher_s``."""
    quire = import_quire()

    release = forked_writers(_writer, [(data, f, name) for f in _folders(data)])

    def go():
        release()
        t0 = time.perf_counter()
        with quire.init(project="bench", group="collab") as run:
            run.finish_artifact(quire.Artifact(name, "dataset"))
        t1 = time.perf_counter()
        with open(figures, "w") as f:
            json.dump({"finisher_s": t1 - t0}, f)

    return go


def union_check(data, ref):
    """Untimed: the committed version holds exactly the files of ``data`` (paths, sizes)."""
    quire = import_quire()
    want = {
        os.path.relpath(os.path.join(d, f), data): os.path.getsize(os.path.join(d, f))
        for d, _, names in os.walk(data)
        for f in names
    }

    def go():
        art = quire.Api().artifact(ref)
        got = {e.path: e.size for e in art.manifest}
        if got != want:
            missing, extra = len(want.keys() - got.keys()), len(got.keys() - want.keys())
            raise SystemExit(f"the union differs: {missing} missing, {extra} extra, of {len(want)} files")

    return go


def _logger(data: str, folder: str, name: str, start) -> None:  # type: ignore[no-untyped-def]
    import quire

    start.wait()
    with quire.init(project="bench") as run:
        art = quire.Artifact(f"{name}-{folder}", "dataset")
        art.add_dir(os.path.join(data, folder))
        run.log_artifact(art)
        art.wait()


def parallel_logs(data, name):
    """One forked client process per folder of ``data`` logs it as its own artifact, all
    at once (simple mode); forked after ``import quire``, released by the clock."""
    import_quire()
    release = forked_writers(_logger, [(data, f, name) for f in _folders(data)])
    return release


OPS = {f.__name__: f for f in (collab_upserts, union_check, parallel_logs)}
