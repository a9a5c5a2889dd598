"""Table operations for the harness, run like those of ``bench/ops.py`` (imports and
set-up first, then the returned closure is timed).

Only the standard library at module level, as in ``bench/ops.py``: the W&B rows run
under the peers' venv.
"""

from __future__ import annotations

import importlib
import json
import random

from bench.ops_collab import forked_writers
from bench.preload import import_quire

COLUMNS = ["id", "x", "y", "label", "flag"]
LABELS = ["cat", "dog", "bird", "fish", "horse"]
PARTITIONED = "bench/predictions:latest"


def rows(n: int) -> list[list]:
    """``n`` rows of the five columns as Python lists (deterministic, no numpy)."""
    rng = random.Random(0)
    return [[i, rng.random(), rng.gauss(0, 1), LABELS[i % len(LABELS)], i % 3 == 0] for i in range(n)]


def frame(first: int, n: int):  # type: ignore[no-untyped-def]
    """Rows ``first`` … ``first + n`` of the five columns as a pandas DataFrame."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(first)
    ids = np.arange(first, first + n, dtype=np.int64)
    return pd.DataFrame(
        {
            "id": ids,
            "x": rng.random(n),
            "y": rng.standard_normal(n),
            "label": np.array(LABELS, dtype=object)[ids % len(LABELS)],
            "flag": ids % 3 == 0,
        }
    )


def _part_writer(group: str, part: int, first: int, n: int, start) -> None:  # type: ignore[no-untyped-def]
    import quire

    data = frame(first, n)  # the predictions exist before the clock starts
    start.wait()
    with quire.init(project="bench", group=group) as run:
        art = quire.Artifact("predictions", "dataset")
        art.add(quire.Table(dataframe=data), f"parts/part_{part:03d}")
        run.upsert_artifact(art)


def tables_write_parts(total, writers):
    """``writers`` processes each turn their rows into a ``Table`` and upsert it as one
    part; a finisher adds the ``PartitionedTable`` and commits (collaborative mode).

    The writers are forked after ``import quire`` and generate their rows before the
    clock starts; they wait at a barrier that the timed closure opens.
    """
    quire = import_quire()

    bounds = [(w * total // writers, (w + 1) * total // writers) for w in range(writers)]
    release = forked_writers(_part_writer, [("parts", w, a, b - a) for w, (a, b) in enumerate(bounds)])

    def go():
        release()
        with quire.init(project="bench", group="parts") as run:
            art = quire.Artifact("predictions", "dataset")
            art.add(quire.PartitionedTable("parts"), "table")
            art = run.finish_artifact(art)
        if art.file_count != writers + 1:
            raise SystemExit(f"the version holds {art.file_count} files, not {writers + 1}")

    return go


def tables_to_arrow(total):
    """``get("table").to_arrow()`` of the partitioned table (the local cache as found)."""
    import quire.data_types

    import_quire()

    def go():
        table = quire.Api().artifact(PARTITIONED).get("table").to_arrow()
        if table.num_rows != total:
            raise SystemExit(f"read {table.num_rows} rows, not {total}")

    return go


def tables_iterrows(total):
    """Every row of the partitioned table through ``iterrows()`` (parts cached first)."""
    import quire

    table = quire.Api().artifact(PARTITIONED).get("table")
    table.dataset()  # fetch the parts and check their schemas: this op times the rows

    def go():
        n = sum(1 for _ in table.iterrows())
        if n != total:
            raise SystemExit(f"iterrows gave {n} rows, not {total}")

    return go


def tables_open(total):
    """Only open the partitioned table and fetch its parts: the memory every reader needs."""
    import quire

    quire.Api().artifact(PARTITIONED).get("table").dataset()
    return lambda: None


def parquet_read(total):
    """Anchor: pyarrow reads the same cached Parquet files directly and concatenates them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import quire

    files = quire.Api().artifact(PARTITIONED).get("table").dataset().files

    def go():
        table = pa.concat_tables([pq.read_table(f) for f in files])
        if table.num_rows != total:
            raise SystemExit(f"read {table.num_rows} rows, not {total}")

    return go


def table_write(module, n, init_kwargs):
    """Rows in memory → a ``Table`` in a committed version; Quire and wandb share this path."""
    lib = import_quire() if module == "quire" else importlib.import_module(module)
    table = lib.Table  # Quire imports its table module on first use: before the clock
    data = rows(n)

    def go():
        run = lib.init(project="bench", **init_kwargs)
        art = lib.Artifact("json-size", "dataset")
        art.add(table(columns=COLUMNS, data=data), "table")
        run.log_artifact(art)
        run.finish()

    return go


def quire_table_read(n):
    """A committed version → the table's rows as Python lists (``get("table").data``)."""
    import quire.data_types

    import_quire()

    def go():
        data = quire.Api().artifact("bench/json-size:latest").get("table").data
        if len(data) != n:
            raise SystemExit(f"read {len(data)} rows, not {n}")

    return go


def wandb_table_read(file, n):
    """What wandb's ``artifact.get`` does once the JSON file is downloaded: parse it and
    rebuild the ``Table`` (offline wandb has no server to download from)."""
    import wandb

    def go():
        with open(file) as f:
            data = wandb.Table.from_json(json.load(f), None).data
        if len(data) != n:
            raise SystemExit(f"read {len(data)} rows, not {n}")

    return go


OPS = {
    f.__name__: f
    for f in (
        tables_write_parts,
        tables_to_arrow,
        tables_iterrows,
        tables_open,
        parquet_read,
        table_write,
        quire_table_read,
        wandb_table_read,
    )
}
