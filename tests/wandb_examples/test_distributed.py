"""W&B's "Create an artifact from parallel runs" guide, ported as behaviour: writers
``upsert_artifact`` under one ``distributed_id`` (in this process, and as separate
processes), a finisher ``finish_artifact`` commits one version of all their files."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import quire as wandb
from wandb_examples.helpers import paths, tree

WRITER = textwrap.dedent(
    """
    import sys
    import quire as wandb

    rank = int(sys.argv[1])
    with wandb.init(project="parallel", group="eval-42", job_type="writer") as run:
        artifact = wandb.Artifact(name="predictions", type="dataset")
        table = wandb.Table(columns=["id", "rank"], data=[[rank * 10 + i, rank] for i in range(3)])
        artifact.add(table, f"parts/table_{rank}")
        run.upsert_artifact(artifact, distributed_id="my_dist_artifact")
    """
)


def test_writers_upsert_and_a_finisher_commits_one_version() -> None:
    # docs.wandb.ai/models/artifacts/construct-an-artifact ("Add files to an artifact from parallel runs")
    for rank in range(3):
        with wandb.init(project="parallel", group="eval-42", job_type="writer") as run:
            artifact = wandb.Artifact(name="predictions", type="dataset")
            with artifact.new_file(f"preds-{rank}.csv", mode="w") as f:
                f.write(f"rank,{rank}\n")
            run.upsert_artifact(artifact, distributed_id="my_dist_artifact")
    assert not wandb.Api().artifact_exists("parallel/predictions:latest")  # no version until the finish
    with wandb.init(project="parallel", group="eval-42", job_type="finisher") as run:
        artifact = wandb.Artifact(name="predictions", type="dataset")
        run.finish_artifact(artifact, distributed_id="my_dist_artifact")
    got = wandb.Api().artifact("parallel/predictions:latest")
    assert got.version == "v0"
    assert tree(got.download()) == {f"preds-{r}.csv": f"rank,{r}\n".encode() for r in range(3)}


def test_the_group_is_the_default_distributed_id() -> None:
    # docs.wandb.ai/models/ref/python/experiments/run (upsert_artifact: distributed_id defaults to the run's group)
    for rank in range(2):
        with wandb.init(project="parallel", group="eval-43") as run:
            artifact = wandb.Artifact("predictions", type="dataset")
            with artifact.new_file(f"preds-{rank}.csv", mode="w") as f:
                f.write(str(rank))
            run.upsert_artifact(artifact)
    with wandb.init(project="parallel", group="eval-43") as run:
        run.finish_artifact(wandb.Artifact("predictions", type="dataset"))
    assert paths(wandb.Api().artifact("parallel/predictions:v0")) == ["preds-0.csv", "preds-1.csv"]


@pytest.mark.slow
def test_writer_processes_and_a_partitioned_table(python_env: dict[str, str]) -> None:
    # docs.wandb.ai/models/artifacts/construct-an-artifact ("parallel runs": tables in parts, a PartitionedTable)
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(rank)], env=python_env, stderr=subprocess.PIPE)
        for rank in range(3)
    ]
    for proc in writers:
        _, err = proc.communicate()
        assert proc.returncode == 0, err.decode()
    with wandb.init(project="parallel", group="eval-42", job_type="finisher") as run:
        artifact = wandb.Artifact(name="predictions", type="dataset")
        artifact.add(wandb.data_types.PartitionedTable("parts"), "final_table")
        run.finish_artifact(artifact, distributed_id="my_dist_artifact", expected_writers=3)
    table = wandb.Api().artifact("parallel/predictions:latest").get("final_table")
    rows = [row for _, row in table.iterrows()]
    assert rows == [[rank * 10 + i, rank] for rank in range(3) for i in range(3)]
