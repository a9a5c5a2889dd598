"""W&B's "Explore artifact graphs" guide, ported as behaviour: ``logged_by``,
``used_by``, and a public run's ``logged_artifacts`` / ``used_artifacts``."""

from __future__ import annotations

import quire as wandb
from wandb_examples.helpers import write


def _pipeline() -> tuple[str, str, str]:
    """upload → train → evaluate, each a run; returns their ids."""
    write("raw/data.csv", "x,y\n1,2\n")
    with wandb.init(project="lineage", job_type="upload") as run:
        raw = wandb.Artifact("raw-data", type="dataset")
        raw.add_dir("raw")
        run.log_artifact(raw)
        upload = run.id
    write("model.pt", b"weights")
    with wandb.init(project="lineage", job_type="train") as run:
        run.use_artifact("raw-data:latest").download()
        model = wandb.Artifact("model", type="model")
        model.add_file("model.pt")
        run.log_artifact(model)
        train = run.id
    with wandb.init(project="lineage", job_type="evaluate") as run:
        run.use_artifact("model:latest")
        run.use_artifact("raw-data:v0")
        evaluate = run.id
    return upload, train, evaluate


def test_an_artifact_knows_the_run_that_logged_it_and_the_runs_that_used_it() -> None:
    # docs.wandb.ai/models/artifacts/explore-and-traverse-an-artifact-graph ("Traverse a graph": logged_by, used_by)
    upload, train, evaluate = _pipeline()
    artifact = wandb.Api().artifact("my-entity/lineage/raw-data:v0")
    producer = artifact.logged_by()
    assert (producer.id, producer.job_type) == (upload, "upload")
    assert sorted(r.id for r in artifact.used_by()) == sorted([train, evaluate])


def test_a_run_knows_what_it_logged_and_used() -> None:
    # docs.wandb.ai/models/artifacts/explore-and-traverse-an-artifact-graph (a run's logged_artifacts, used_artifacts)
    _, train, evaluate = _pipeline()
    api = wandb.Api()
    run = api.run(f"my-entity/lineage/{train}")
    assert [a.name for a in run.logged_artifacts()] == ["model:v0"]
    assert [a.name for a in run.used_artifacts()] == ["raw-data:v0"]
    assert sorted(a.name for a in api.run(f"lineage/{evaluate}").used_artifacts()) == ["model:v0", "raw-data:v0"]


def test_walk_the_graph_from_a_model_back_to_its_data() -> None:
    # docs.wandb.ai/models/artifacts/explore-and-traverse-an-artifact-graph (logged_by().used_artifacts())
    upload, _, _ = _pipeline()
    model = wandb.Api().artifact("lineage/model:latest")
    (data,) = model.logged_by().used_artifacts()
    assert data.name == "raw-data:v0"
    assert data.logged_by().id == upload
