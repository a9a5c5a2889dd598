"""W&B's model and registry guides, ported as behaviour: ``log_model``, ``use_model``,
``link_model``, ``link_artifact`` and ``Artifact.link`` into ``wandb-registry-<name>/…``
collections, reading through a link, and ``Api`` registries."""

from __future__ import annotations

from pathlib import Path

import pytest

import quire as wandb
from wandb_examples.helpers import paths, snapshot, tree, write


def test_log_model_then_use_model() -> None:
    # docs.wandb.ai/models/track/log/log-models ("Log a model to a W&B run", "Download and use a logged model")
    write("model.pt", b"weights v1")
    with wandb.init(project="models") as run:
        run.log_model(path="./model.pt", name="mnist-model")
    got = wandb.Api().artifact("models/mnist-model:latest")
    assert (got.type, got.version, paths(got)) == ("model", "v0", ["model.pt"])
    with wandb.init(project="models") as run:
        downloaded = run.use_model(name="mnist-model:latest")  # one file: its own path
        consumer = run.id
    assert Path(downloaded).name == "model.pt"
    assert Path(downloaded).read_bytes() == b"weights v1"
    assert [r.id for r in wandb.Api().artifact("models/mnist-model:v0").used_by()] == [consumer]


def test_log_model_names_the_artifact_after_the_run_and_the_path() -> None:
    # docs.wandb.ai/models/ref/python/experiments/run (log_model: name defaults to the path's basename with the run id)
    write("checkpoints/final/weights.bin", b"w")
    with wandb.init(project="models") as run:
        run.log_model(path="checkpoints/final", aliases=["best"])
        run_id = run.id
    got = wandb.Api().artifact(f"models/run-{run_id}-final:best")
    assert got.type == "model" and paths(got) == ["weights.bin"]


def test_use_model_refuses_an_artifact_that_is_not_a_model(log_dataset) -> None:
    # docs.wandb.ai/models/ref/python/experiments/run (use_model: the type must contain "model")
    log_dataset("images", {"a.png": b"a"}, project="models")
    with wandb.init(project="models") as run:
        # W&B raises a bare AssertionError here, and no wandb code catches it. Quire raises
        # its ValidationError (a ValueError) as for every other bad input: an
        # AssertionError says a program's own invariant broke (what `assert` and pytest
        # raise), not that the caller passed the wrong artifact, and catching it would
        # also swallow real assertion failures.
        with pytest.raises(wandb.errors.ValidationError, match="model") as caught:
            run.use_model(name="images:latest")
        assert isinstance(caught.value, ValueError)


def test_link_model_into_the_model_registry() -> None:
    # docs.wandb.ai/models/ref/python/experiments/run (link_model: log, then link to registered_model_name)
    write("model/weights.bin", b"weights")
    write("model/config.json", "{}")
    with wandb.init(project="models") as run:
        linked = run.link_model(path="model", registered_model_name="mnist-classifier", aliases=["staging"])
    assert linked.is_link
    got = wandb.Api().artifact("model-registry/mnist-classifier:staging")
    assert got.is_link and got.version == "v0"
    assert sorted(got.aliases) == ["latest", "staging"]
    assert tree(got.download()) == {"config.json": b"{}", "weights.bin": b"weights"}
    assert got.source_artifact.project == "models"


def test_link_artifact_to_a_registry_collection() -> None:
    # docs.wandb.ai/models/registry/link_version ("Link an artifact version with the Python SDK": run.link_artifact)
    write("model.pt", b"weights")
    with wandb.init(project="models") as run:
        artifact = wandb.Artifact(name="classifier", type="model")
        artifact.add_file(local_path="model.pt")
        run.log_artifact(artifact)
        run.link_artifact(artifact=artifact, target_path="wandb-registry-model/mnist", aliases=["production"])
    api = wandb.Api()
    linked = api.artifact("wandb-registry-model/mnist:production")
    source = api.artifact("models/classifier:v0")
    assert linked.is_link and not source.is_link
    assert (linked.source_name, linked.source_project, linked.source_version) == ("classifier:v0", "models", "v0")
    assert linked.source_artifact.id == source.id
    assert [a.name for a in source.linked_artifacts] == ["mnist:v0"]
    assert linked.digest == source.digest  # the same files: a link copies no bytes


def test_link_artifact_of_a_draft_logs_it_first() -> None:
    # docs.wandb.ai/models/ref/python/experiments/run (link_artifact example: a new Artifact linked at once)
    write("model.pt", b"weights")
    with wandb.init(project="models") as run:
        artifact = wandb.Artifact(name="classifier", type="model")
        artifact.add_file(local_path="model.pt")
        run.link_artifact(artifact=artifact, target_path="wandb-registry-model/mnist")
    assert wandb.Api().artifact("models/classifier:latest").version == "v0"
    assert wandb.Api().artifact("wandb-registry-model/mnist:latest").source_name == "classifier:v0"


def test_a_registry_collection_numbers_its_own_versions() -> None:
    # docs.wandb.ai/models/registry/link_version ("the latest alias is applied to the most recent linked version")
    for content in ("one", "two", "three"):
        write("model.pt", content)
        with wandb.init(project="models") as run:
            artifact = wandb.Artifact("classifier", type="model")
            artifact.add_file("model.pt")
            run.log_artifact(artifact)
    api = wandb.Api()
    api.artifact("models/classifier:v2").link("wandb-registry-model/mnist")
    api.artifact("models/classifier:v0").link("my-org/wandb-registry-model/mnist", aliases=["legacy"])
    assert api.artifact("wandb-registry-model/mnist:v0").source_version == "v2"
    assert api.artifact("wandb-registry-model/mnist:latest").source_version == "v0"
    assert api.artifact("wandb-registry-model/mnist:legacy").version == "v1"


def test_use_a_model_from_the_registry() -> None:
    # docs.wandb.ai/models/registry/download_use_artifact (wandb-registry-{REGISTRY}/{COLLECTION}:{ALIAS})
    write("model.pt", b"registered weights")
    with wandb.init(project="models") as run:
        artifact = wandb.Artifact("classifier", type="model")
        artifact.add_file("model.pt")
        run.log_artifact(artifact)
        artifact.link("wandb-registry-model/mnist", aliases=["production"])
    with wandb.init(project="serving") as run:
        model = run.use_artifact("wandb-registry-model/mnist:production")
        folder = model.download()
    assert tree(folder) == {"model.pt": b"registered weights"}


def test_create_and_find_a_registry() -> None:
    # docs.wandb.ai/models/registry/create_registry ("Create a registry with the Python SDK")
    api = wandb.Api()
    registry = api.create_registry(
        name="vision",
        visibility="organization",
        description="Models for the vision team",
        artifact_types=["model"],
    )
    assert (registry.name, registry.description, registry.visibility) == (
        "vision",
        "Models for the vision team",
        "organization",
    )
    assert "vision" in [r.name for r in wandb.Api().registries()]
    assert list(wandb.Api().registry("vision").artifact_types) == ["model"]


def test_a_registry_refuses_a_type_it_does_not_allow() -> None:
    # docs.wandb.ai/models/registry/create_registry ("artifact types the registry accepts")
    wandb.Api().create_registry(name="vision", visibility="organization", artifact_types=["model"])
    write("data.csv", "x\n")
    with wandb.init(project="models") as run:
        artifact = wandb.Artifact("images", type="dataset")
        artifact.add_file("data.csv")
        run.log_artifact(artifact)
        before = snapshot()
        with pytest.raises(ValueError, match="dataset"):
            run.link_artifact(artifact, "wandb-registry-vision/images")
    assert snapshot() == before
