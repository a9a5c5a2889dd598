"""The seed's Ray example (parallel writers, one finisher) on a real local Ray cluster.

The seed's writers each add a ``Table``; here each adds a plain CSV file (the Table
version of the example belongs with Tables). Ray starts in a subprocess, as a user's
script would start it; its workers inherit ``QUIRE_STORE`` from the driver.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

import quire
from conftest import PYTHON
from support import patience

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SEED_RAY_EXAMPLE = """
    import quire as wandb
    import time
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)

    artifact_type = "dataset"
    artifact_name = "parallel-artifact"
    parts_path = "parts"
    num_parallel = 5

    # Each batch of parallel writers should have its own unique group name.
    group_name = "writer-group-{}".format(round(time.time()))

    @ray.remote
    def train(i):
        \"\"\"Our writer job. Each writer will add one file to the artifact.\"\"\"
        with wandb.init(group=group_name) as run:
            artifact = wandb.Artifact(name=artifact_name, type=artifact_type)
            with artifact.new_file("{}/part_{}.csv".format(parts_path, i)) as f:
                f.write("a,b,c\\n{},{},{}\\n".format(i, i * 2, 2**i))
            # Upserting the artifact creates or appends data to the artifact
            run.upsert_artifact(artifact)

    result_ids = [train.remote(i) for i in range(num_parallel)]
    # Join on all the writers so their files are added before finishing the artifact.
    ray.get(result_ids)

    with wandb.init(group=group_name) as run:
        artifact = wandb.Artifact(artifact_name, type=artifact_type)
        with artifact.new_file("README.txt") as f:
            f.write("one part per writer under " + parts_path)
        # finish_artifact finalizes the version, disallowing future upserts to it
        run.finish_artifact(artifact)
    print(group_name)
"""


def test_seed_ray_example_with_plain_files(python_env: dict[str, str]) -> None:
    proc = subprocess.run(
        [PYTHON, "-c", textwrap.dedent(SEED_RAY_EXAMPLE)],
        env=python_env,
        capture_output=True,
        text=True,
        timeout=patience(30),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    group = proc.stdout.split()[-1]

    got = quire.Api().artifact("parallel-artifact:latest")
    assert sorted(got.manifest.entries) == ["README.txt"] + [f"parts/part_{i}.csv" for i in range(5)]
    root = Path(got.download())
    assert (root / "parts" / "part_4.csv").read_text() == "a,b,c\n4,8,16\n"

    [done] = quire.Api().pending_versions(state="committed")
    assert done.distributed_id == group and done.version == "v0"
    writers = [c for c in done.contributions() if c.role == "writer"]
    assert len(writers) == 5
    # each Ray task is named in its contribution, with the job it belongs to
    assert len({c.details["ray_task_id"] for c in writers}) == 5
    assert len({c.details["ray_job_id"] for c in writers}) == 1
    assert all("ray task" in c.writer for c in writers)
