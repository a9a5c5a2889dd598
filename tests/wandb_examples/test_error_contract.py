"""W&B's error contract as its examples rely on it: ``wandb.errors.CommError`` for an
artifact that is not there (which ``except KeyError`` still catches), the artifact
status errors (``AttributeError`` subclasses), and calls Quire does not support."""

from __future__ import annotations

import pytest

import quire as wandb


def test_a_missing_artifact_is_a_comm_error(log_dataset) -> None:
    # docs.wandb.ai/models/ref/python/public-api/api (Api.artifact raises wandb.errors.CommError)
    log_dataset("present", {"a.txt": b"a"})
    api = wandb.Api()
    with pytest.raises(wandb.errors.CommError, match="absent"):
        api.artifact("examples/absent:latest")
    with pytest.raises(wandb.CommError, match="v7"):
        api.artifact("examples/present:v7")
    assert issubclass(wandb.errors.CommError, wandb.errors.Error)


def test_except_key_error_still_catches_it(log_dataset) -> None:
    # docs.wandb.ai/models/artifacts/download-and-use-an-artifact (code that guards a lookup with except KeyError)
    log_dataset("present", {"a.txt": b"a"})
    try:
        wandb.Api().artifact("examples/present:no-such-alias")
    except KeyError as error:
        assert isinstance(error, wandb.errors.CommError)
        assert "no-such-alias" in str(error)
    else:
        raise AssertionError("a missing alias must raise")
    with wandb.init(project="examples") as run:
        with pytest.raises(KeyError, match="absent"):
            run.use_artifact("absent:latest")


def test_artifact_exists_answers_instead_of_raising(log_dataset) -> None:
    # docs.wandb.ai/models/ref/python/public-api/api (Api.artifact_exists)
    log_dataset("present", {"a.txt": b"a"})
    api = wandb.Api()
    assert api.artifact_exists("examples/present:v0")
    assert not api.artifact_exists("examples/present:v1")
    assert not api.artifact_exists("examples/absent")


def test_a_drafts_logged_only_fields_raise_artifact_not_logged() -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (ArtifactNotLoggedError, an AttributeError)
    draft = wandb.Artifact("draft", type="dataset")
    with pytest.raises(wandb.errors.ArtifactNotLoggedError, match="version") as caught:
        draft.version
    assert isinstance(caught.value, AttributeError)
    assert "compatibility" not in str(caught.value)  # not mistaken for an unsupported name
    assert not hasattr(draft, "version")


def test_editing_a_logged_artifact_raises_artifact_finalized(log_dataset) -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (ArtifactFinalizedError, an AttributeError)
    log_dataset("present", {"a.txt": b"a"})
    artifact = wandb.Api().artifact("examples/present:v0")
    with pytest.raises(wandb.errors.ArtifactFinalizedError) as caught:
        with artifact.new_file("late.txt", mode="w") as f:
            f.write("late")
    assert isinstance(caught.value, AttributeError)
    assert sorted(wandb.Api().artifact("examples/present:v0").manifest.entries) == ["a.txt"]


def test_a_w_and_b_call_quire_does_not_support_names_itself() -> None:
    # docs.wandb.ai/models/ref/python/public-api/api (Api.sweep: W&B Sweeps, not part of Quire)
    api = wandb.Api()
    with pytest.raises(AttributeError, match=r"sweep.*compatibility") as caught:
        api.sweep("my-entity/examples/abc123")
    assert isinstance(caught.value, wandb.errors.UnsupportedError)
    assert not hasattr(api, "sweep")
    with pytest.raises(AttributeError) as plain:
        api.no_such_method_anywhere
    assert "compatibility" not in str(plain.value)
