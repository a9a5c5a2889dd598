"""The run surface that W&B's artifact examples lean on, ported as behaviour from W&B's
"Configure experiments", "Log summary metrics" and "Export data" guides:
``init(config=...)``, ``wandb.config``, ``run.log``, ``run.summary``, and reading them
back with ``Api().run(path)``."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import quire as wandb
from wandb_examples.helpers import snapshot, write


def test_config_from_init_is_read_as_attributes_and_items() -> None:
    # docs.wandb.ai/models/track/config ("Set the configuration at initialization")
    config = {"learning_rate": 0.01, "epochs": 10, "batch_size": 32}
    with wandb.init(project="runs", config=config) as run:
        assert wandb.config.learning_rate == 0.01
        assert run.config["epochs"] == 10
        wandb.config.update({"dropout": 0.2})
        run.config.optimizer = "adam"
        run_id = run.id
    stored = wandb.Api().run(f"my-entity/runs/{run_id}").config
    assert stored == {"learning_rate": 0.01, "epochs": 10, "batch_size": 32, "dropout": 0.2, "optimizer": "adam"}


def test_config_from_argparse() -> None:
    # docs.wandb.ai/models/track/config ("Set the configuration with argparse")
    parser = argparse.ArgumentParser()
    parser.add_argument("-b", "--batch-size", type=int, default=8)
    args = parser.parse_args(["--batch-size", "64"])
    with wandb.init(project="runs", config=args) as run:
        assert wandb.config.batch_size == 64
        run_id = run.id
    assert wandb.Api().run(f"runs/{run_id}").config == {"batch_size": 64}


def test_a_config_value_changes_only_with_allow_val_change() -> None:
    # docs.wandb.ai/models/track/config ("Update the configuration": allow_val_change)
    with wandb.init(project="runs", config={"lr": 0.1}) as run:
        with pytest.raises(wandb.errors.Error, match="lr"):
            wandb.config.update({"lr": 0.2})
        assert wandb.config.lr == 0.1
        wandb.config.update({"lr": 0.2}, allow_val_change=True)
        run_id = run.id
    assert wandb.Api().run(f"runs/{run_id}").config == {"lr": 0.2}


def test_log_and_summary_are_read_back_as_history() -> None:
    # docs.wandb.ai/models/track/log ("Log objects"), docs.wandb.ai/models/track/log/log-summary
    with wandb.init(project="runs") as run:
        for epoch in range(3):
            run.log({"epoch": epoch, "loss": 1.0 / (epoch + 1)})
        run.summary["best_accuracy"] = 0.93
        run_id = run.id
    public = wandb.Api().run(f"my-entity/runs/{run_id}")
    assert public.summary["best_accuracy"] == 0.93
    assert public.summary["loss"] == pytest.approx(1 / 3)  # the last logged value
    frame = public.history()
    assert frame["loss"].tolist() == pytest.approx([1.0, 0.5, 1 / 3])
    assert frame["_step"].tolist() == [0, 1, 2]
    rows = list(public.scan_history(keys=["epoch"]))
    assert [r["epoch"] for r in rows] == [0, 1, 2]


def test_log_with_step_and_commit() -> None:
    # docs.wandb.ai/models/track/log ("Customize the step": step=, commit=False)
    with wandb.init(project="runs") as run:
        run.log({"train/loss": 0.5}, commit=False)
        run.log({"val/loss": 0.6})
        run.log({"train/loss": 0.4}, step=5)
        run_id = run.id
    rows = wandb.Api().run(f"runs/{run_id}").history(pandas=False)
    assert [(r["_step"], r.get("train/loss"), r.get("val/loss")) for r in rows] == [
        (0, 0.5, 0.6),
        (5, 0.4, None),
    ]


def test_the_current_run_and_its_path() -> None:
    # docs.wandb.ai/models/ref/python/experiments/run (wandb.run, run.path, run.dir, wandb.finish)
    assert wandb.login() is True
    run = wandb.init(project="runs", entity="my-team")
    assert wandb.run is run
    assert run.path.split("/")[-2:] == ["runs", run.id]
    assert Path(run.dir).is_dir()
    wandb.log({"x": 1})
    wandb.finish()
    assert wandb.run is None
    assert wandb.Api().run(f"runs/{run.id}").state == "finished"


def test_log_an_artifact_to_an_existing_run() -> None:
    # docs.wandb.ai/models/artifacts/artifacts-faqs ("How do I log an artifact to an existing run?": resume="allow")
    with wandb.init(project="runs") as run:
        existing_run_id = run.id
    write("my_data/file.txt", "late output")
    with wandb.init(project="runs", id=existing_run_id, resume="allow") as run:
        artifact = wandb.Artifact("artifact_name", "artifact_type")
        artifact.add_file("my_data/file.txt")
        run.log_artifact(artifact)
    assert wandb.Api().artifact("runs/artifact_name:v0").logged_by().id == existing_run_id


def test_resume_must_of_an_unknown_run_is_refused() -> None:
    # docs.wandb.ai/models/runs/resuming ("resume='must'": the run must exist)
    with pytest.raises(wandb.errors.Error, match="no-such-run"):
        wandb.init(project="runs", id="no-such-run", resume="must")
    assert wandb.run is None
    assert len(wandb.Api().runs("runs")) == 0


def test_a_disabled_run_writes_nothing(tmp_path: Path) -> None:
    # docs.wandb.ai/models/ref/python/functions/init (mode="disabled": every call is a no-op)
    write("data.csv", "x\n")
    with wandb.init(project="runs", mode="disabled", config={"lr": 1}) as run:
        run.log({"loss": 1.0})
        artifact = wandb.Artifact("never-stored", type="dataset")
        artifact.add_file("data.csv")
        run.log_artifact(artifact)
        assert wandb.config.lr == 1
    assert not (tmp_path / "store").exists()
    assert snapshot() == {}
