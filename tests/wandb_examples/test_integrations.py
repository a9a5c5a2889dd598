"""Three framework integrations' W&B call sequences, run unchanged against Quire.

The frameworks are not installed: each class below replays, call for call and with the
argument shapes they pass, what the integration does with ``wandb`` (read from their
sources: ``lightning/pytorch/loggers/wandb.py``'s ``WandbLogger``,
``wandb/integration/keras/callbacks/``'s ``WandbModelCheckpoint`` and
``WandbMetricsLogger``, and ``transformers/integrations/integration_utils.py``'s
``WandbCallback``). A simulated training loop drives them; the assertions are what a
user then sees in the store. Private calls the integrations make on the run
(``run._label(code=...)``) are kept: real integration code makes them.
"""

from __future__ import annotations

import numbers
import os
import random
from pathlib import Path
from typing import Any

import pytest

import quire as wandb
from wandb_examples.helpers import tree, write

# -- Lightning: WandbLogger(log_model=...) with a ModelCheckpoint ---------------------


class ModelCheckpoint:
    """What Lightning's ``ModelCheckpoint`` exposes to the logger after each save."""

    def __init__(self, dirpath: Path, save_top_k: int) -> None:
        self.dirpath, self.save_top_k = dirpath, save_top_k
        self.monitor, self.mode, self.save_last, self.save_weights_only = "val_loss", "min", None, False
        self._every_n_train_steps = 0
        self.best_k_models: dict[str, float] = {}
        self.best_model_path, self.best_model_score = "", None
        self.last_model_path, self.current_score = "", None
        self._clock = 1_700_000_000  # mtimes set explicitly: the scan orders by them

    def save(self, epoch: int, step: int, score: float) -> None:
        path = self.dirpath / f"epoch={epoch}-step={step}.ckpt"
        write(path, f"state dict of epoch {epoch}")
        self._clock += 10
        os.utime(path, (self._clock, self._clock))
        self.current_score = score
        self.best_k_models[str(path)] = score
        if self.save_top_k > 0 and len(self.best_k_models) > self.save_top_k:
            worst = max(self.best_k_models, key=self.best_k_models.__getitem__)
            del self.best_k_models[worst]
            Path(worst).unlink()
        self.best_model_path = min(self.best_k_models, key=self.best_k_models.__getitem__)
        self.best_model_score = self.best_k_models[self.best_model_path]


def scan_checkpoints(callback: ModelCheckpoint, logged: dict[str, float]) -> list[tuple[float, str, float, str]]:
    """Lightning's ``_scan_checkpoints``: the not yet logged checkpoints, oldest first."""
    found = {callback.last_model_path: (callback.current_score, "latest")} if callback.last_model_path else {}
    found[callback.best_model_path] = (callback.best_model_score, "best")
    found.update({path: (score, "best_k") for path, score in callback.best_k_models.items()})
    ordered = sorted((Path(p).stat().st_mtime, p, s, tag) for p, (s, tag) in found.items() if Path(p).is_file())
    return [c for c in ordered if c[1] not in logged or logged[c[1]] < c[0]]


class LightningWandbLogger:
    """The ``wandb`` calls of Lightning's ``WandbLogger``."""

    def __init__(self, project: str | None = None, log_model: str | bool = False, save_dir: str = ".") -> None:
        self._log_model = log_model
        self._experiment: Any = None
        self._logged_model_time: dict[str, float] = {}
        self._checkpoint_callback: ModelCheckpoint | None = None
        self._checkpoint_name: str | None = None
        project = project or os.environ.get("WANDB_PROJECT", "lightning_logs")
        self._wandb_init = {
            "name": None,
            "project": project,
            "dir": save_dir,
            "id": None,
            "resume": "allow",
            "anonymous": None,
        }

    @property
    def experiment(self) -> Any:
        if self._experiment is None:
            if wandb.run is not None:
                self._experiment = wandb.run
            else:
                self._experiment = wandb.init(**self._wandb_init)
                if getattr(self._experiment, "define_metric", None):
                    self._experiment.define_metric("trainer/global_step")
                    self._experiment.define_metric("*", step_metric="trainer/global_step", step_sync=True)
        self._experiment._label(code="lightning_logger")
        return self._experiment

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        self.experiment.config.update(params, allow_val_change=True)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if step is not None:
            self.experiment.log(dict(metrics, **{"trainer/global_step": step}))
        else:
            self.experiment.log(metrics)

    def after_save_checkpoint(self, checkpoint_callback: ModelCheckpoint) -> None:
        if self._log_model == "all" or (self._log_model is True and checkpoint_callback.save_top_k == -1):
            self._scan_and_log_checkpoints(checkpoint_callback)
        elif self._log_model is True:
            self._checkpoint_callback = checkpoint_callback

    def finalize(self, status: str) -> None:
        if status != "success":
            return
        if self._checkpoint_callback and self._experiment is not None:
            self._scan_and_log_checkpoints(self._checkpoint_callback)

    def _scan_and_log_checkpoints(self, checkpoint_callback: ModelCheckpoint) -> None:
        for t, p, s, _tag in scan_checkpoints(checkpoint_callback, self._logged_model_time):
            metadata = {
                "score": s,
                "original_filename": Path(p).name,
                checkpoint_callback.__class__.__name__: {
                    k: getattr(checkpoint_callback, k)
                    for k in ["monitor", "mode", "save_last", "save_top_k", "save_weights_only", "_every_n_train_steps"]
                    if hasattr(checkpoint_callback, k)
                },
            }
            if not self._checkpoint_name:
                self._checkpoint_name = f"model-{self.experiment.id}"
            artifact = wandb.Artifact(name=self._checkpoint_name, type="model", metadata=metadata)
            artifact.add_file(p, name="model.ckpt")
            aliases = ["latest", "best"] if p == checkpoint_callback.best_model_path else ["latest"]
            self.experiment.log_artifact(artifact, aliases=aliases)
            self._logged_model_time[p] = t

    @staticmethod
    def download_artifact(
        artifact: str, save_dir: str | None = None, artifact_type: str | None = None, use_artifact: bool = True
    ) -> str:
        if wandb.run is not None and use_artifact:
            found = wandb.run.use_artifact(artifact)
        else:
            found = wandb.Api().artifact(artifact, type=artifact_type)
        return found.download(root=save_dir)


def _fit(logger: LightningWandbLogger, callback: ModelCheckpoint, val_losses: list[float]) -> str:
    """A Trainer.fit: hyperparameters, then per epoch metrics and a checkpoint save."""
    logger.log_hyperparams({"lr": 0.001, "hidden_dim": 64, "optimizer": "Adam"})
    for epoch, val_loss in enumerate(val_losses):
        step = (epoch + 1) * 100 - 1
        logger.log_metrics({"train_loss": val_loss + 0.1, "epoch": epoch}, step=step)
        logger.log_metrics({"val_loss": val_loss, "epoch": epoch}, step=step)
        callback.last_model_path = ""  # save_last=None
        callback.save(epoch, step, val_loss)
        logger.after_save_checkpoint(callback)
    logger.finalize("success")
    return logger.experiment.id


@pytest.mark.parametrize("log_model", ["all", True])
def test_lightning_log_model_every_checkpoint(log_model: str | bool, tmp_path: Path) -> None:
    # lightning/pytorch/loggers/wandb.py: log_model="all" (or True with save_top_k=-1) logs each checkpoint
    logger = LightningWandbLogger(log_model=log_model)
    callback = ModelCheckpoint(tmp_path / "checkpoints", save_top_k=-1)
    run_id = _fit(logger, callback, [0.5, 0.3, 0.4])
    wandb.finish()

    api = wandb.Api()
    name = f"lightning_logs/model-{run_id}"
    assert sorted(v.version for v in api.artifacts("model", name)) == ["v0", "v1", "v2"]
    for epoch in range(3):  # v<epoch>: one version per epoch's checkpoint
        version = api.artifact(f"{name}:v{epoch}")
        assert version.metadata["original_filename"] == f"epoch={epoch}-step={(epoch + 1) * 100 - 1}.ckpt"
        assert sorted(version.manifest.entries) == ["model.ckpt"]
    best = api.artifact(f"{name}:best")
    assert best.version == "v1"
    assert best.metadata == {
        "score": 0.3,
        "original_filename": "epoch=1-step=199.ckpt",
        "ModelCheckpoint": {
            "monitor": "val_loss",
            "mode": "min",
            "save_last": None,
            "save_top_k": -1,
            "save_weights_only": False,
            "_every_n_train_steps": 0,
        },
    }
    assert api.artifact(f"{name}:latest").version == "v2"
    assert api.run(f"lightning_logs/{run_id}").config == {"lr": 0.001, "hidden_dim": 64, "optimizer": "Adam"}
    assert api.run(f"lightning_logs/{run_id}").summary["val_loss"] == 0.4


def test_lightning_log_model_true_logs_the_top_k_at_the_end(tmp_path: Path) -> None:
    # lightning/pytorch/loggers/wandb.py: log_model=True logs the kept checkpoints once, in finalize("success")
    logger = LightningWandbLogger(project="mnist", log_model=True)
    callback = ModelCheckpoint(tmp_path / "checkpoints", save_top_k=2)
    run_id = _fit(logger, callback, [0.5, 0.3, 0.4, 0.35])
    wandb.finish()
    api = wandb.Api()
    name = f"mnist/model-{run_id}"
    logged = sorted(
        (v.version, v.metadata["original_filename"], sorted(v.aliases)) for v in api.artifacts("model", name)
    )
    assert logged == [
        ("v0", "epoch=1-step=199.ckpt", ["best"]),
        ("v1", "epoch=3-step=399.ckpt", ["latest"]),
    ]


def test_lightning_downloads_the_best_checkpoint_in_a_later_run(tmp_path: Path) -> None:
    # lightning/pytorch/loggers/wandb.py: WandbLogger.download_artifact("model-<id>:best", artifact_type="model")
    logger = LightningWandbLogger(log_model="all")
    run_id = _fit(logger, ModelCheckpoint(tmp_path / "checkpoints", save_top_k=-1), [0.5, 0.3, 0.4])
    wandb.finish()
    with wandb.init(project="lightning_logs", job_type="test") as run:
        folder = LightningWandbLogger.download_artifact(f"model-{run_id}:best", artifact_type="model")
        consumer = run.id
    assert tree(folder) == {"model.ckpt": b"state dict of epoch 1"}
    assert [r.id for r in wandb.Api().artifact(f"lightning_logs/model-{run_id}:best").used_by()] == [consumer]
    path = LightningWandbLogger.download_artifact(
        f"lightning_logs/model-{run_id}:v0", save_dir=str(tmp_path / "v0"), artifact_type="model"
    )
    assert tree(path) == {"model.ckpt": b"state dict of epoch 0"}


# -- Keras: WandbMetricsLogger and WandbModelCheckpoint -------------------------------


class KerasWandbMetricsLogger:
    """The ``wandb`` calls of ``wandb.integration.keras.WandbMetricsLogger``."""

    def __init__(self) -> None:
        if wandb.run is None:
            raise wandb.Error("You must call `wandb.init()` before WandbMetricsLogger()")
        wandb.define_metric("epoch/epoch")
        wandb.define_metric("epoch/*", step_metric="epoch/epoch")

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        logs = {f"epoch/{k}": v for k, v in logs.items()}
        logs["epoch/epoch"] = epoch
        logs["epoch/learning_rate"] = 0.001
        wandb.log(logs)


class KerasWandbModelCheckpoint:
    """The ``wandb`` calls of ``wandb.integration.keras.WandbModelCheckpoint``."""

    def __init__(self, filepath: str) -> None:
        self.filepath = filepath
        if wandb.run is None:
            raise wandb.Error("You must call `wandb.init()` before `WandbModelCheckpoint()`")

    def on_epoch_end(self, epoch: int) -> None:
        filepath = self.filepath.format(epoch=epoch + 1)
        self._log_ckpt_as_artifact(filepath, aliases=["latest", f"epoch_{epoch}"])

    def _log_ckpt_as_artifact(self, filepath: str, aliases: list[str] | None = None) -> None:
        try:
            model_checkpoint_artifact = wandb.Artifact(f"run_{wandb.run.id}_model", type="model")
            if os.path.isfile(filepath):
                model_checkpoint_artifact.add_file(filepath)
            elif os.path.isdir(filepath):
                model_checkpoint_artifact.add_dir(filepath)
            else:
                raise FileNotFoundError(f"No such file or directory {filepath}")
            wandb.log_artifact(model_checkpoint_artifact, aliases=aliases or [])
        except ValueError:
            pass  # as the integration does: a best-only save skipped this epoch


def test_keras_model_checkpoint_logs_each_epoch_and_dedups_an_unchanged_best() -> None:
    # wandb/integration/keras/callbacks/model_checkpoint.py: artifact run_<id>_model, aliases latest, epoch_<n>
    rng = random.Random(12)
    run = wandb.init(project="keras", config={"epochs": 4, "batch_size": 32})
    metrics = KerasWandbMetricsLogger()
    checkpoint = KerasWandbModelCheckpoint("models/best.keras")  # save_best_only: one path
    best = float("inf")
    for epoch, val_loss in enumerate([0.9, 0.6, 0.7, 0.5]):
        if val_loss < best:  # Keras rewrites the file only when the monitored value improves
            best = val_loss
            write("models/best.keras", f"weights {epoch} {rng.random()}")
        metrics.on_epoch_end(epoch, {"loss": val_loss + 0.1, "val_loss": val_loss})
        checkpoint.on_epoch_end(epoch)
    run_id = run.id
    wandb.finish()

    api = wandb.Api()
    name = f"keras/run_{run_id}_model"
    versions = {v.version: sorted(v.aliases) for v in api.artifacts("model", name)}
    assert versions == {"v0": ["epoch_0"], "v1": ["epoch_1", "epoch_2"], "v2": ["epoch_3", "latest"]}
    assert sorted(api.artifact(f"{name}:epoch_2").manifest.entries) == ["best.keras"]
    history = api.run(f"keras/{run_id}").history()
    assert history["epoch/val_loss"].tolist() == [0.9, 0.6, 0.7, 0.5]


def test_keras_model_checkpoint_of_a_saved_model_folder() -> None:
    # wandb/integration/keras/callbacks/model_checkpoint.py: a SavedModel folder is added with add_dir
    run = wandb.init(project="keras")
    checkpoint = KerasWandbModelCheckpoint("models/model_{epoch:02d}")
    write("models/model_01/saved_model.pb", b"graph")
    write("models/model_01/variables/variables.index", b"index")
    checkpoint.on_epoch_end(0)
    run_id = run.id
    wandb.finish()
    got = wandb.Api().artifact(f"keras/run_{run_id}_model:epoch_0")
    assert sorted(got.manifest.entries) == ["saved_model.pb", "variables/variables.index"]


def test_keras_callbacks_need_a_run() -> None:
    # wandb/integration/keras/callbacks/model_checkpoint.py: wandb.Error without wandb.init()
    assert wandb.run is None
    with pytest.raises(wandb.Error, match=r"wandb\.init"):
        KerasWandbModelCheckpoint("models/best.keras")


# -- Hugging Face: transformers' WandbCallback with WANDB_LOG_MODEL --------------------


class TrainingArguments:
    def __init__(self, output_dir: str, run_name: str | None = None) -> None:
        self.output_dir, self.run_name = output_dir, run_name
        self.load_best_model_at_end, self.metric_for_best_model = False, None

    def to_dict(self) -> dict[str, Any]:
        return {"output_dir": self.output_dir, "run_name": self.run_name, "learning_rate": 5e-05, "seed": 42}


class TrainerState:
    def __init__(self) -> None:
        self.global_step, self.epoch, self.is_world_process_zero, self.trial_name = 0, 0.0, True, None


class TinyConfig:
    def to_dict(self) -> dict[str, Any]:
        return {"model_type": "bert", "hidden_size": 32, "num_labels": 2}


class TinyModel:
    """What the callback reads of a ``PreTrainedModel``."""

    config = TinyConfig()

    @staticmethod
    def num_parameters() -> int:
        return 4242

    def __str__(self) -> str:
        return "TinyModel(hidden_size=32)"


def save_model_architecture_to_file(model: TinyModel, output_dir: str) -> None:
    with open(f"{output_dir}/model_architecture.txt", "w") as f:
        print(model, file=f)


class HuggingFaceWandbCallback:
    """The ``wandb`` calls of transformers' ``WandbCallback`` (WANDB_LOG_MODEL=checkpoint|end)."""

    SINGLE_VALUE_SCALARS = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss")

    def __init__(self) -> None:
        self._wandb = wandb
        self._initialized = False
        self._log_model = os.getenv("WANDB_LOG_MODEL", "false")

    def _model_name(self, args: TrainingArguments) -> str:
        if args.run_name is None or args.run_name == args.output_dir:
            return f"model-{self._wandb.run.id}"
        return f"model-{self._wandb.run.name}"

    def setup(self, args: TrainingArguments, state: TrainerState, model: TinyModel, tmp: Path) -> None:
        self._initialized = True
        combined_dict = {**model.config.to_dict(), **args.to_dict()}
        init_args = {"name": args.run_name} if args.run_name is not None else {}
        if self._wandb.run is None:
            self._wandb.init(project=os.getenv("WANDB_PROJECT", "huggingface"), **init_args)
        self._wandb.config.update(combined_dict, allow_val_change=True)
        if getattr(self._wandb, "define_metric", None):
            self._wandb.define_metric("train/global_step")
            self._wandb.define_metric("*", step_metric="train/global_step", step_sync=True)
        self._wandb.run._label(code="transformers_trainer")
        self._wandb.config["model/num_parameters"] = model.num_parameters()
        if self._log_model in ("checkpoint", "end"):
            temp_dir = tmp / "base"
            temp_dir.mkdir()
            model_artifact = self._wandb.Artifact(
                name=self._model_name(args),
                type="model",
                metadata={
                    "model_config": model.config.to_dict(),
                    "num_parameters": self._wandb.config.get("model/num_parameters"),
                    "initial_model": True,
                },
            )
            save_model_architecture_to_file(model, str(temp_dir))
            for f in Path(temp_dir).glob("*"):
                if f.is_file():
                    with model_artifact.new_file(f.name, mode="wb") as fa:
                        fa.write(f.read_bytes())
            self._wandb.run.log_artifact(model_artifact, aliases=["base_model"])
            self.badge_markdown = f"[Visualize in Weights & Biases]({self._wandb.run.get_url()})"

    def on_log(self, args: TrainingArguments, state: TrainerState, logs: dict[str, float]) -> None:
        for k, v in logs.items():
            if k in self.SINGLE_VALUE_SCALARS:
                self._wandb.run.summary[k] = v
        non_scalar_logs = {f"train/{k}": v for k, v in logs.items() if k not in self.SINGLE_VALUE_SCALARS}
        self._wandb.log({**non_scalar_logs, "train/global_step": state.global_step})

    def on_save(self, args: TrainingArguments, state: TrainerState) -> None:
        if self._log_model == "checkpoint" and self._initialized and state.is_world_process_zero:
            checkpoint_metadata = {
                k: v
                for k, v in dict(self._wandb.summary).items()
                if isinstance(v, numbers.Number) and not k.startswith("_")
            }
            checkpoint_metadata["model/num_parameters"] = self._wandb.config.get("model/num_parameters")
            ckpt_dir = f"checkpoint-{state.global_step}"
            artifact_path = os.path.join(args.output_dir, ckpt_dir)
            artifact = self._wandb.Artifact(name=self._model_name(args), type="model", metadata=checkpoint_metadata)
            artifact.add_dir(artifact_path)
            self._wandb.log_artifact(
                artifact, aliases=[f"epoch_{round(state.epoch, 2)}", f"checkpoint_global_step_{state.global_step}"]
            )

    def on_train_end(self, args: TrainingArguments, state: TrainerState, model: TinyModel, tmp: Path) -> None:
        if self._log_model in ("checkpoint", "end") and self._initialized and state.is_world_process_zero:
            temp_dir = tmp / "final"
            write(temp_dir / "model.safetensors", b"final weights")
            write(temp_dir / "config.json", '{"model_type": "bert"}')
            metadata = {
                k: v
                for k, v in dict(self._wandb.summary).items()
                if isinstance(v, numbers.Number) and not k.startswith("_")
            }
            metadata["final_model"] = True
            save_model_architecture_to_file(model, str(temp_dir))
            artifact = self._wandb.Artifact(name=self._model_name(args), type="model", metadata=metadata)
            for f in Path(temp_dir).glob("*"):
                if f.is_file():
                    with artifact.new_file(f.name, mode="wb") as fa:
                        fa.write(f.read_bytes())
            self._wandb.run.log_artifact(artifact, aliases=["final_model"])


def _train(callback: HuggingFaceWandbCallback, args: TrainingArguments, tmp: Path) -> str:
    """A Trainer.train of 2 epochs, 20 steps each, logging every 10 and saving every 20."""
    state, model = TrainerState(), TinyModel()
    callback.setup(args, state, model, tmp)
    for step in range(1, 41):
        state.global_step, state.epoch = step, step / 20
        if step % 10 == 0:
            callback.on_log(args, state, {"loss": round(1 / step, 4), "learning_rate": 5e-05 * (1 - step / 40)})
        if step % 20 == 0:
            write(Path(args.output_dir) / f"checkpoint-{step}" / "model.safetensors", f"weights at {step}")
            write(Path(args.output_dir) / f"checkpoint-{step}" / "trainer_state.json", f'{{"global_step": {step}}}')
            callback.on_save(args, state)
    callback.on_log(args, state, {"train_runtime": 12.5, "train_loss": 0.05})
    callback.on_train_end(args, state, model, tmp)
    return wandb.run.id


def test_hugging_face_log_model_checkpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # transformers/integrations/integration_utils.py: WandbCallback with WANDB_LOG_MODEL=checkpoint
    monkeypatch.setenv("WANDB_LOG_MODEL", "checkpoint")
    monkeypatch.setenv("WANDB_PROJECT", "hf-glue")
    args = TrainingArguments(output_dir=str(tmp_path / "out"))
    run_id = _train(HuggingFaceWandbCallback(), args, tmp_path)
    wandb.finish()

    api = wandb.Api()
    name = f"hf-glue/model-{run_id}"
    logged = sorted((v.version, sorted(v.aliases)) for v in api.artifacts("model", name))
    assert logged == [
        ("v0", ["base_model"]),
        ("v1", ["checkpoint_global_step_20", "epoch_1.0"]),
        ("v2", ["checkpoint_global_step_40", "epoch_2.0"]),
        ("v3", ["final_model", "latest"]),
    ]
    base = api.artifact(f"{name}:base_model")
    assert base.metadata == {
        "model_config": {"model_type": "bert", "hidden_size": 32, "num_labels": 2},
        "num_parameters": 4242,
        "initial_model": True,
    }
    assert tree(base.download()) == {"model_architecture.txt": b"TinyModel(hidden_size=32)\n"}
    checkpoint = api.artifact(f"{name}:checkpoint_global_step_40")
    assert tree(checkpoint.download()) == {
        "model.safetensors": b"weights at 40",
        "trainer_state.json": b'{"global_step": 40}',
    }
    assert checkpoint.metadata["model/num_parameters"] == 4242
    assert checkpoint.metadata["train/loss"] == 0.025
    assert checkpoint.metadata["train/global_step"] == 40
    final = api.artifact(f"{name}:final_model")
    assert final.metadata["final_model"] is True and final.metadata["train_loss"] == 0.05
    assert sorted(final.manifest.entries) == ["config.json", "model.safetensors", "model_architecture.txt"]
    public = api.run(f"hf-glue/{run_id}")
    assert public.config["model/num_parameters"] == 4242
    assert public.config["learning_rate"] == 5e-05
    assert public.summary["train_runtime"] == 12.5


def test_hugging_face_log_model_end_with_a_run_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # transformers/integrations/integration_utils.py: WANDB_LOG_MODEL=end, model-<run name>, default project
    monkeypatch.setenv("WANDB_LOG_MODEL", "end")
    args = TrainingArguments(output_dir=str(tmp_path / "out"), run_name="bert-sst2")
    _train(HuggingFaceWandbCallback(), args, tmp_path)
    wandb.finish()
    api = wandb.Api()
    logged = sorted((v.version, sorted(v.aliases)) for v in api.artifacts("model", "huggingface/model-bert-sst2"))
    assert logged == [("v0", ["base_model"]), ("v1", ["final_model", "latest"])]
    with wandb.init(project="huggingface", job_type="inference") as run:
        folder = run.use_artifact("model-bert-sst2:final_model").download()
    assert tree(folder)["model.safetensors"] == b"final weights"
