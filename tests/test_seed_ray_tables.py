"""The seed's FAQ: a table built by parallel Ray writers, run unchanged with
``import quire as wandb`` and real Ray, then read back as one partitioned table (with
pandas, DuckDB and, in the same Ray session, Ray Data)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

import quire
from support import patience

pytestmark = [pytest.mark.ray, pytest.mark.slow]

# The seed README's snippet, byte for byte but for the first line.
SEED = textwrap.dedent('''\
    import quire as wandb
    import time
    import ray

    ray.init()

    artifact_type = "dataset"
    artifact_name = "parallel-artifact"
    table_name = "distributed_table"
    parts_path = "parts"
    num_parallel = 5

    # Each batch of parallel writers should have its own unique group name.
    group_name = "writer-group-{}".format(round(time.time()))

    @ray.remote
    def train(i):
        """Our writer job. Each writer will add one table to the artifact."""
        with wandb.init(group=group_name) as run:
            artifact = wandb.Artifact(name=artifact_name, type=artifact_type)
            table = wandb.Table(columns=["a", "b", "c"], data=[[i, i * 2, 2**i]])
            artifact.add(table, "{}/table_{}".format(parts_path, i))
            # Upserting the artifact creates or appends data to the artifact
            run.upsert_artifact(artifact)

    result_ids = [train.remote(i) for i in range(num_parallel)]
    # Join on all the writers so their files are added before finishing the artifact.
    ray.get(result_ids)

    with wandb.init(group=group_name) as run:
        artifact = wandb.Artifact(artifact_name, type=artifact_type)
        # A PartitionedTable pointing to the folder of tables
        artifact.add(wandb.data_types.PartitionedTable(parts_path), table_name)
        # finish_artifact finalizes the version, disallowing future upserts to it
        run.finish_artifact(artifact)
''')

# Beyond the seed, in the same Ray session: Ray Data scans the parts in place.
RAY_DATA = textwrap.dedent("""
    import ray.data

    files = wandb.Api().artifact(artifact_name + ":latest").get(table_name).dataset().files
    rows = ray.data.read_parquet(files)
    print("RAY DATA", rows.count(), rows.sum("c"))
""")


def test_seed_ray_writers_build_one_partitioned_table(tmp_path: Path, python_env: dict[str, str]) -> None:
    script = tmp_path / "seed_ray.py"
    script.write_text(SEED + RAY_DATA)
    python_env["RAY_USAGE_STATS_ENABLED"] = "0"
    proc = subprocess.run(
        [sys.executable, str(script)], env=python_env, capture_output=True, text=True, timeout=patience(30)
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    version = quire.Api().artifact("parallel-artifact:latest")
    assert version.version == "v0"
    table = version.get("distributed_table")
    assert table.parts == [f"parts/table_{i}.table.parquet" for i in range(5)]
    rows = [row for _, row in table.iterrows()]
    assert rows == [[i, i * 2, 2**i] for i in range(5)]

    frame = table.to_pandas()
    assert frame.values.tolist() == rows
    sql = duckdb.connect().register("distributed_table", table.to_arrow())
    by_sql = sql.sql("select a, b, c from distributed_table order by a").fetchall()
    assert [list(r) for r in by_sql] == frame.sort_values("a").values.tolist()
    assert sql.sql("select sum(c) from distributed_table").fetchall()[0][0] == frame["c"].sum() == 31
    assert "RAY DATA 5 31" in proc.stdout
