"""How many SQL statements one C1 writer issues, and how many of them SQLAlchemy had to
compile (a miss of its compiled cache), by kind: ``python bench/collab_statements.py DATA``
(DATA: folders of files, one per writer). Each writer is a forked process, as in C1; the
counts are those of the last writer (the first also creates the pending version).
``VERBOSE=1`` prints each statement and whether it was compiled; ``PROFILE=tottime`` (or
``cumulative``) prints the last writer's CPU profile."""

from __future__ import annotations

import collections
import multiprocessing as mp
import os
import sys
import tempfile
import time


def _writer(data: str, folder: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    import sqlalchemy as sa
    from sqlalchemy.engine.default import CACHE_MISS

    import quire

    seen: collections.Counter[str] = collections.Counter()
    compiled: collections.Counter[str] = collections.Counter()

    def note(conn, cursor, sql, params, context, many):  # type: ignore[no-untyped-def]
        words = sql.split()
        kind = " ".join(words[:1]) if words[0] != "PRAGMA" else " ".join(words[:2])
        seen[kind] += 1
        if os.environ.get("VERBOSE"):
            print(getattr(context, "cache_hit", "-"), " ".join(words)[:150], file=sys.stderr)
        if context is not None and getattr(context, "cache_hit", None) is CACHE_MISS:
            compiled[kind] += 1

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", note)
    cpu = time.process_time()
    if os.environ.get("PROFILE"):
        import cProfile
        import pstats

        prof = cProfile.Profile(time.process_time)
        prof.enable()
    with quire.init(project="bench", group="collab") as run:
        art = quire.Artifact("ds", "dataset")
        art.add_dir(os.path.join(data, folder), name=folder)
        run.upsert_artifact(art)
    if os.environ.get("PROFILE"):
        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats(os.environ["PROFILE"]).print_stats(40)
    out.put((dict(seen), dict(compiled), time.process_time() - cpu))


def main(data: str) -> None:
    os.environ["QUIRE_STORE"] = tempfile.mkdtemp(prefix="quire-stmts-")
    from bench.preload import import_quire

    import_quire()  # before forking, as C1's writers are

    ctx = mp.get_context("fork")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    for folder in sorted(os.listdir(data)):
        p = ctx.Process(target=_writer, args=(data, folder, out))
        p.start()
        seen, compiled, cpu = out.get()
        p.join()
    print(f"last writer: {sum(seen.values())} statements, {sum(compiled.values())} compiled, CPU {cpu * 1000:.0f} ms")
    for kind, n in sorted(seen.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:<20} {n:3d}  compiled {compiled.get(kind, 0)}")


if __name__ == "__main__":
    main(sys.argv[1])
