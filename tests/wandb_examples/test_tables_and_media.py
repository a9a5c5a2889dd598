"""W&B's "Log tables" and "Log media" guides for artifacts, ported as behaviour:
``Table`` added to an artifact and read back, ``Image`` cells in a table, ``artifact.add``
/ ``artifact.get`` of media, and what ``add`` refuses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quire as wandb
from wandb_examples.helpers import snapshot


def _pixels(seed: int) -> object:
    return np.random.default_rng(seed).integers(0, 256, size=(8, 6, 3), dtype=np.uint8)


def test_log_a_table_in_an_artifact_and_read_it_back() -> None:
    # docs.wandb.ai/models/tables/tables-walkthrough ("Log a table to an artifact", "Retrieve a table")
    table = wandb.Table(columns=["a", "b", "c"], data=[["1a", "1b", "1c"], ["2a", "2b", "2c"]])
    with wandb.init(project="tables") as run:
        artifact = wandb.Artifact("my_table_artifact", type="dataset")
        artifact.add(table, "my_table")
        run.log_artifact(artifact)
    with wandb.init(project="tables") as run:
        got = run.use_artifact("my_table_artifact:latest").get("my_table")
    assert got.columns == ["a", "b", "c"]
    assert got.data == [["1a", "1b", "1c"], ["2a", "2b", "2c"]]
    assert got.get_dataframe()["b"].tolist() == ["1b", "2b"]


def test_add_data_and_add_column() -> None:
    # docs.wandb.ai/models/tables/log_tables ("Add data": add_data, add_column)
    table = wandb.Table(columns=["id", "label"])
    table.add_data(0, "cat")
    table.add_data(1, "dog")
    table.add_column("score", [0.9, 0.4])
    artifact = wandb.Artifact("scored", type="predictions")
    artifact.add(table, "scores")
    artifact.save()
    got = wandb.Api().artifact("scored:v0").get("scores")
    assert got.columns == ["id", "label", "score"]
    assert got.get_column("score") == [0.9, 0.4]


def test_images_in_a_table_come_back_as_images() -> None:
    # docs.wandb.ai/models/tables/visualize-tables ("images in a table": wandb.Image cells)
    pixels = [_pixels(0), _pixels(1)]
    table = wandb.Table(columns=["image", "label"])
    for i, array in enumerate(pixels):
        table.add_data(wandb.Image(array, caption=f"sample {i}"), i)
    with wandb.init(project="tables") as run:
        artifact = wandb.Artifact("samples", type="dataset")
        artifact.add(table, "predictions")
        run.log_artifact(artifact)
    got = wandb.Api().artifact("tables/samples:latest").get("predictions")
    images = got.get_column("image")
    assert all(isinstance(img, wandb.Image) for img in images)
    assert [np.asarray(img.image).tolist() for img in images] == [a.tolist() for a in pixels]
    assert got.get_column("label") == [0, 1]


def test_add_and_get_an_image() -> None:
    # docs.wandb.ai/models/artifacts/construct-an-artifact ("Add a W&B object": artifact.add(wandb.Image(...)))
    array = _pixels(2)
    with wandb.init(project="tables") as run:
        artifact = wandb.Artifact("one-image", type="dataset")
        artifact.add(wandb.Image(array, caption="a sample"), "sample")
        run.log_artifact(artifact)
    image = wandb.Api().artifact("tables/one-image:v0").get("sample")
    assert isinstance(image, wandb.Image)
    assert np.asarray(image.image).tolist() == array.tolist()


def test_get_of_a_missing_object_is_none() -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (Artifact.get: "None if not found")
    artifact = wandb.Artifact("empty-ish", type="dataset")
    artifact.add(wandb.Table(columns=["x"], data=[[1]]), "t")
    artifact.save()
    assert wandb.Api().artifact("empty-ish:v0").get("not-there") is None


def test_add_refuses_what_is_not_media_and_names_it() -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (Artifact.add: "TypeError" for other objects)
    artifact = wandb.Artifact("refused", type="dataset")
    with pytest.raises(TypeError, match="dict"):
        artifact.add({"not": "media"}, "config")
    assert list(artifact.manifest.entries) == []
    assert snapshot() == {}


def test_an_image_of_an_unsupported_shape_is_refused() -> None:
    # docs.wandb.ai/models/ref/python/data-types/image (2-D grey, or 3-D with 1, 3 or 4 channels)
    with pytest.raises(ValueError, match=r"shape|dimension"):
        wandb.Image(np.zeros((2, 3, 4, 5), dtype=np.uint8))


def test_a_table_from_a_dataframe() -> None:
    # docs.wandb.ai/models/tables/log_tables ("Create a table from a pandas DataFrame")
    frame = pd.DataFrame({"id": [1, 2, 3], "label": ["cat", "dog", "cow"], "score": [0.5, 0.25, 0.125]})
    with wandb.init(project="tables") as run:
        artifact = wandb.Artifact("from-frame", type="dataset")
        artifact.add(wandb.Table(dataframe=frame), "frame")
        run.log_artifact(artifact)
    got = wandb.Api().artifact("tables/from-frame:v0").get("frame")
    assert got.columns == ["id", "label", "score"]
    assert got.get_dataframe().to_dict("list") == frame.to_dict("list")


def test_a_table_logged_to_the_run_becomes_a_run_table_artifact() -> None:
    # docs.wandb.ai/models/tables/log_tables ("Log a table": run.log({"key": table}) stores it as an artifact)
    table = wandb.Table(columns=["id", "label"], data=[[0, "cat"], [1, "dog"]])
    with wandb.init(project="tables") as run:
        run.log({"predictions": table})
        run_id = run.id
    got = wandb.Api().artifact(f"tables/run-{run_id}-predictions:latest")
    assert got.type == "run_table"
    assert got.get("predictions").data == [[0, "cat"], [1, "dog"]]
    logged = wandb.Api().run(f"tables/{run_id}").logged_artifacts()
    assert [a.name for a in logged] == [f"run-{run_id}-predictions:v0"]
