"""W&B's "Update an artifact" guide, ported as behaviour: ``description``, ``metadata``
and ``save()`` from a run and from ``Api``, and a collection's name and description."""

from __future__ import annotations

import math

import numpy as np
import pytest

import quire as wandb
from wandb_examples.helpers import snapshot


@pytest.fixture
def logged(log_dataset) -> str:
    log_dataset("mnist", {"train.csv": b"x,y\n"})
    return "examples/mnist:latest"


def test_update_description_and_metadata_during_a_run(logged: str) -> None:
    # docs.wandb.ai/models/artifacts/update-an-artifact ("During a run")
    with wandb.init(project="examples") as run:
        artifact = run.use_artifact("mnist:latest")
        artifact.description = "My new description"
        artifact.metadata = {"key": "value"}
        artifact.save()
    got = wandb.Api().artifact(logged)
    assert got.description == "My new description"
    assert got.metadata == {"key": "value"}
    assert got.version == "v0"  # an update makes no new version


def test_update_with_the_public_api_editing_metadata_in_place(logged: str) -> None:
    # docs.wandb.ai/models/artifacts/update-an-artifact ("Outside of a run": wandb.Api)
    api = wandb.Api()
    artifact = api.artifact("my-entity/examples/mnist:latest")
    artifact.description = "My new description"
    artifact.metadata["oldKey"] = "new value"  # edited in place, then saved
    artifact.save()
    assert wandb.Api().artifact(logged).metadata == {"oldKey": "new value"}

    artifact = wandb.Api().artifact(logged)
    artifact.metadata = {"newKey": "new value"}  # replaced
    artifact.save()
    got = wandb.Api().artifact(logged)
    assert (got.description, got.metadata) == ("My new description", {"newKey": "new value"})


def test_a_draft_carries_its_fields_into_the_version() -> None:
    # docs.wandb.ai/models/artifacts/update-an-artifact ("set ... before you log the artifact")
    with wandb.init(project="examples") as run:
        artifact = wandb.Artifact("notes", type="dataset", metadata={"a": 1})
        artifact.metadata["b"] = 2
        artifact.description = "set on the draft"
        with artifact.new_file("n.txt", mode="w") as f:
            f.write("n")
        run.log_artifact(artifact)
    got = wandb.Api().artifact("examples/notes:v0")
    assert (got.description, got.metadata) == ("set on the draft", {"a": 1, "b": 2})


def test_metadata_values_are_coerced_as_w_and_b_does() -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (metadata: JSON; NaN and infinity stored as null)
    with wandb.init(project="examples") as run:
        artifact = wandb.Artifact("metrics", type="dataset")
        artifact.metadata = {"loss": math.nan, "best": np.float32(0.5), "shape": np.array([2, 3])}
        with artifact.new_file("m.txt", mode="w") as f:
            f.write("m")
        run.log_artifact(artifact)
    assert wandb.Api().artifact("examples/metrics:v0").metadata == {"loss": None, "best": 0.5, "shape": [2, 3]}


def test_update_a_collection_name_and_description(logged: str) -> None:
    # docs.wandb.ai/models/artifacts/update-an-artifact ("Update an artifact collection")
    api = wandb.Api()
    collection = api.artifact_collection(type_name="dataset", name="examples/mnist")
    collection.name = "mnist-digits"
    collection.description = "Handwritten digits"
    collection.save()
    got = wandb.Api().artifact("examples/mnist-digits:v0")
    assert got.collection.description == "Handwritten digits"
    assert "latest" in got.aliases
    assert not wandb.Api().artifact_exists("examples/mnist:v0")


def test_saving_an_edit_w_and_b_refuses_writes_nothing(logged: str) -> None:
    # docs.wandb.ai/models/artifacts/update-an-artifact (description is text; metadata a JSON dict)
    before = snapshot()
    artifact = wandb.Api().artifact(logged)
    with pytest.raises((TypeError, ValueError), match="metadata"):
        artifact.metadata = ["not", "a", "dict"]  # type: ignore[assignment]
        artifact.save()
    assert snapshot() == before


def test_update_aliases_with_the_public_api(log_dataset) -> None:
    # docs.wandb.ai/models/artifacts/update-an-artifact (aliases.append, aliases = [...], then save)
    log_dataset("mnist", {"train.csv": b"x,y\n"})
    artifact = wandb.Api().artifact("examples/mnist:latest")
    artifact.aliases.append("best")
    artifact.save()
    assert "best" in wandb.Api().artifact("examples/mnist:best").aliases
    artifact = wandb.Api().artifact("examples/mnist:best")
    artifact.aliases = ["replaced"]
    artifact.save()
    got = wandb.Api().artifact("examples/mnist:replaced")
    assert "replaced" in got.aliases and "best" not in got.aliases
