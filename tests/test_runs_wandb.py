"""The run surface W&B artifact code leans on, run with ``import quire as wandb``: init's
signature, environment and resume, config, summary, log and history, disabled runs,
``Api().run`` / ``Api().runs``."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest

import quire as wandb
from quire.errors import ArtifactNotFoundError, ConfigError, ValidationError
from quire.store import open_store


def recorded(run_id: str) -> wandb.sdk.public_run.PublicRun:
    """The run as another reader sees it (a fresh Api on the test's store)."""
    return wandb.Api().run(run_id)


def run_ids() -> list[str]:
    return [r.id for r in wandb.Api().runs()] if Path(os.environ["QUIRE_STORE"]).exists() else []


# -- init ---------------------------------------------------------------------------------

#: wandb 0.31's ``init`` parameters (``inspect.signature(wandb.init)``)
WANDB_INIT = [
    "entity",
    "project",
    "dir",
    "id",
    "name",
    "notes",
    "tags",
    "config",
    "config_exclude_keys",
    "config_include_keys",
    "allow_val_change",
    "group",
    "job_type",
    "mode",
    "force",
    "reinit",
    "resume",
    "resume_from",
    "fork_from",
    "save_code",
    "tensorboard",
    "sync_tensorboard",
    "monitor_gym",
    "settings",
    "anonymous",
]


def test_init_takes_every_argument_of_wandbs_init() -> None:
    import inspect

    assert set(WANDB_INIT) <= set(inspect.signature(wandb.init).parameters)


def test_init_records_tags_notes_and_what_changes_nothing(tmp_path: Path) -> None:
    run = wandb.init(
        entity="team",
        project="p",
        dir=str(tmp_path / "runs"),
        name="first",
        notes="a baseline",
        tags=["baseline", "with space"],
        config={"lr": 0.1},
        group="g",
        job_type="train",
        mode="offline",
        reinit=True,
        save_code=True,
        sync_tensorboard=False,
        monitor_gym=False,
        settings={"console": "off"},
        force=False,
        anonymous="never",
    )
    assert (run.name, run.notes, run.tags, run.entity, run.path) == (
        "first",
        "a baseline",
        ("baseline", "with space"),
        "team",
        f"team/p/{run.id}",
    )
    run.finish()
    got = recorded(run.id)
    assert (got.name, got.notes, got.tags, got.group, got.job_type, got.config) == (
        "first",
        "a baseline",
        ["baseline", "with space"],
        "g",
        "train",
        {"lr": 0.1},
    )
    info = open_store().catalog.run(run.id).info
    assert info["entity"] == "team" and info["mode"] == "offline"
    assert (info["reinit"], info["save_code"], info["settings"], info["anonymous"]) == (
        True,
        True,
        {"console": "off"},
        "never",
    )


@pytest.mark.parametrize(
    "config",
    [
        {"lr": 0.1, "layers": 3, "secret": "x"},
        argparse.Namespace(lr=0.1, layers=3, secret="x"),
        SimpleNamespace(lr=0.1, layers=3, secret="x"),
    ],
    ids=["dict", "argparse", "object"],
)
def test_config_may_be_a_dict_a_namespace_or_an_object(config: object) -> None:
    with wandb.init(config=config, config_exclude_keys=["secret"]) as run:
        assert run.config.as_dict() == {"lr": 0.1, "layers": 3}
    with wandb.init(config=config, config_include_keys=["lr"]) as other:
        assert dict(other.config) == {"lr": 0.1}
    assert recorded(run.id).config == {"lr": 0.1, "layers": 3}


def test_a_config_that_is_not_a_mapping_is_refused_before_anything_is_written() -> None:
    with pytest.raises(ValidationError, match=r"dict, an argparse.Namespace"):
        wandb.init(config=[1, 2])
    with pytest.raises(ValidationError, match="not both"):
        wandb.init(config={"a": 1}, config_include_keys=["a"], config_exclude_keys=["b"])
    assert not Path(os.environ["QUIRE_STORE"]).exists()


@pytest.mark.parametrize(
    ("argument", "name", "given", "read"),
    [
        ("project", "PROJECT", "proj", lambda r: r.project),
        ("entity", "ENTITY", "team", lambda r: r.entity),
        ("group", "RUN_GROUP", "grp", lambda r: r.group),
        ("job_type", "JOB_TYPE", "eval", lambda r: r.job_type),
        ("name", "NAME", "nice-name", lambda r: r.name),
        ("notes", "NOTES", "some notes", lambda r: r.notes),
        ("id", "RUN_ID", "chosen1", lambda r: r.id),
    ],
)
def test_settings_come_from_the_argument_then_quire_then_wandb_variables(
    monkeypatch: pytest.MonkeyPatch, argument: str, name: str, given: str, read: object
) -> None:
    assert callable(read)
    monkeypatch.setenv(f"WANDB_{name}", f"{given}-w")
    with wandb.init() as run:
        assert read(run) == f"{given}-w"
    monkeypatch.setenv(f"QUIRE_{name}", f"{given}-q")
    with wandb.init() as run:
        assert read(run) == f"{given}-q"
    with wandb.init(**{argument: f"{given}-a"}) as run:
        assert read(run) == f"{given}-a"


def test_wandb_tags_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_TAGS", "a, b c ,d")
    with wandb.init() as run:
        assert run.tags == ("a", "b c", "d")
    assert recorded(run.id).tags == ["a", "b c", "d"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tags": "one-string"}, "list of strings"),
        ({"tags": ["ok", 7]}, "must be a string"),
        ({"tags": ["x" * 65]}, "64"),
        ({"notes": 3}, "must be a string"),
        ({"mode": "sometimes"}, "unknown mode"),
        ({"resume": "maybe"}, "unknown resume"),
        ({"name": "n" * 257}, "256"),
    ],
)
def test_bad_init_arguments_are_refused_and_write_nothing(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        wandb.init(**kwargs)  # type: ignore[arg-type]
    assert wandb.run is None
    assert not Path(os.environ["QUIRE_STORE"]).exists()


# -- disabled runs ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_a_disabled_run_does_nothing_and_writes_nothing(monkeypatch: pytest.MonkeyPatch, make_files, how: str) -> None:
    files = make_files({"data.csv": "a,b\n"})
    if how == "environment":
        monkeypatch.setenv("WANDB_MODE", "disabled")
    run = wandb.init(project="p", config={"lr": 0.1}, **({"mode": "disabled"} if how == "argument" else {}))
    assert run.disabled and wandb.run is run
    run.config.epochs = 3
    wandb.config.update({"bs": 8})
    with pytest.raises(ConfigError):  # the config still checks, as W&B's disabled run
        run.config.update({"lr": 0.2})
    wandb.log({"loss": 0.5})
    assert run.summary["loss"] == 0.5 and dict(run.config) == {"lr": 0.1, "epochs": 3, "bs": 8}
    art = wandb.Artifact("data", "dataset")
    art.add_file(str(files / "data.csv"))
    logged = run.log_artifact(art)
    assert logged.wait().version is logged  # an object that takes any call, as W&B's
    assert run.use_artifact("data:latest") is None
    assert run.log_model(str(files), name="m") is None
    run.define_metric("loss", summary="min")
    assert os.path.isdir(run.dir)
    run.finish()
    assert wandb.run is None
    assert not Path(os.environ["QUIRE_STORE"]).exists()
    assert os.listdir(".") == []  # nor a wandb/ folder in the working directory


# -- resume ----------------------------------------------------------------------------------


def _a_finished_run() -> str:
    with wandb.init(id="r1", project="p", config={"lr": 0.1}, tags=["t"]) as run:
        run.log({"loss": 1.0})
        run.log({"loss": 0.5})
        run.summary["best"] = 0.5
    return run.id


@pytest.mark.parametrize("resume", ["allow", "must", "auto", True])
def test_resume_reopens_a_run_with_its_config_summary_and_steps(resume: object) -> None:
    _a_finished_run()
    run = wandb.init(id="r1", project="p", resume=resume, config={"epochs": 2})
    assert run.resumed and run.state == "running" and recorded("r1").state == "running"
    assert dict(run.config) == {"lr": 0.1, "epochs": 2}
    assert run.summary["best"] == 0.5 and run.step == 2
    run.log({"loss": 0.25})
    run.finish()
    got = recorded("r1")
    assert got.state == "finished" and got.tags == ["t"]
    assert [(r["_step"], r["loss"]) for r in got.scan_history()] == [(0, 1.0), (1, 0.5), (2, 0.25)]
    assert got.summary["loss"] == 0.25 and got.summary["best"] == 0.5


def test_resume_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    _a_finished_run()
    monkeypatch.setenv("WANDB_RUN_ID", "r1")
    monkeypatch.setenv("WANDB_RESUME", "must")
    with wandb.init() as run:
        assert run.resumed and run.id == "r1"


def test_resume_allow_of_an_unknown_id_starts_that_run() -> None:
    with wandb.init(id="fresh1", resume="allow") as run:
        assert not run.resumed
    assert recorded("fresh1").state == "finished"


def test_resume_must_of_an_unknown_id_is_refused_and_writes_nothing() -> None:
    with pytest.raises(ValidationError, match=r"no run 'ghost1'.*resume"):
        wandb.init(id="ghost1", resume="must")
    with pytest.raises(ValidationError, match="needs the id"):
        wandb.init(resume="must")
    assert wandb.run is None and run_ids() == []


def test_resume_never_of_a_recorded_id_is_refused_and_changes_nothing() -> None:
    _a_finished_run()
    before = open_store().catalog.run("r1")
    with pytest.raises(ValidationError, match=r"exists already.*allow"):
        wandb.init(id="r1", resume="never")
    assert open_store().catalog.run("r1") == before and wandb.run is None


def test_resume_with_a_changed_config_value_needs_allow_val_change() -> None:
    _a_finished_run()
    before = open_store().catalog.run("r1")
    with pytest.raises(ConfigError, match=r'"lr" from 0.1 to 0.2'):
        wandb.init(id="r1", resume="allow", config={"lr": 0.2})
    assert open_store().catalog.run("r1") == before
    with wandb.init(id="r1", resume="allow", config={"lr": 0.2}, allow_val_change=True) as run:
        assert run.config.lr == 0.2
    assert recorded("r1").config == {"lr": 0.2}


def test_a_refused_init_leaves_the_current_run_current() -> None:
    run = wandb.init()
    with pytest.raises(ValidationError):
        wandb.init(id="ghost1", resume="must")
    assert wandb.run is run and run.state == "running"


# -- config ----------------------------------------------------------------------------------


def test_config_reads_and_writes_as_wandb_config() -> None:
    run = wandb.init(config={"lr": 0.1})
    config = wandb.config
    assert config is run.config
    config.epochs = 10
    config["batch_size"] = 32
    config.update({"--dropout": 0.5})  # a command line's dashes are dropped, as W&B does
    config.setdefaults({"lr": 0.9, "momentum": 0.8})
    config.update({"lr": 0.1})  # the same value is no change
    assert (config.lr, config["epochs"], config.get("dropout"), config.get("missing", 7)) == (0.1, 10, 0.5, 7)
    assert "momentum" in config and "nothing" not in config
    assert config.keys() == ["lr", "epochs", "batch_size", "dropout", "momentum"]
    assert (
        dict(config.items())
        == config.as_dict()
        == {
            "lr": 0.1,
            "epochs": 10,
            "batch_size": 32,
            "dropout": 0.5,
            "momentum": 0.8,
        }
    )
    with pytest.raises(AttributeError, match="nothing"):
        config.nothing
    run.finish()
    assert recorded(run.id).config == config.as_dict()


def test_changing_a_config_value_needs_allow_val_change_and_else_changes_nothing() -> None:
    run = wandb.init(config={"lr": 0.1, "bs": 8})
    with pytest.raises(ConfigError, match=r'"lr" from 0.1 to 0.2.*allow_val_change=True'):
        run.config.update({"new": 1, "lr": 0.2})
    with pytest.raises(ConfigError):
        run.config.lr = 0.3
    assert isinstance(ConfigError("x"), ValidationError)
    assert dict(run.config) == {"lr": 0.1, "bs": 8}  # not even "new"
    run.config.update({"lr": 0.2}, allow_val_change=True)
    run.finish()
    assert recorded(run.id).config == {"lr": 0.2, "bs": 8}


def test_config_changes_are_written_with_the_runs_next_write_not_each(make_files) -> None:
    run = wandb.init(id="c1", config={"start": 0})
    for i in range(100):
        setattr(run.config, f"k{i}", i)
    assert recorded("c1").config == {"start": 0}  # recorded at init (a chosen id), not each set
    art = wandb.Artifact("d", "dataset")
    art.add_file(str(make_files({"a.txt": "1"}) / "a.txt"))
    run.log_artifact(art)  # a catalog write of the run: its config is written first
    assert len(recorded("c1").config) == 101
    run.config.late = True
    run.finish()
    assert recorded("c1").config["late"] is True


def test_config_values_that_a_run_cannot_record_are_refused() -> None:
    run = wandb.init(config={"lr": 0.1})
    with pytest.raises(ValidationError, match=r"run config\['model'\].*object"):
        run.config.update({"ok": 1, "model": object()})
    with pytest.raises(ValidationError, match="strings"):
        run.config.update({3: "x"})
    assert dict(run.config) == {"lr": 0.1}


# -- log, summary, history --------------------------------------------------------------------


def test_log_steps_as_wandb_does() -> None:
    run = wandb.init()
    wandb.log({"a": 1})  # step 0
    run.log({"a": 2}, commit=False)  # step 1, open
    run.log({"b": 3})  # step 1, committed
    run.log({"c": 4}, step=5)  # step 5, open (an explicit step does not commit)
    run.log({"d": 5}, step=5)  # still step 5
    run.log({"e": 6}, step=7)  # ends step 5
    with pytest.warns(UserWarning, match="step 6, which is less than the current step 7"):
        run.log({"dropped": True}, step=6)
    run.log({"f": 7}, step=7, commit=True)
    run.finish()
    rows = [
        {k: v for k, v in r.items() if not k.startswith("_") or k == "_step"} for r in recorded(run.id).scan_history()
    ]
    assert rows == [
        {"a": 1, "_step": 0},
        {"a": 2, "b": 3, "_step": 1},
        {"c": 4, "d": 5, "_step": 5},
        {"e": 6, "f": 7, "_step": 7},
    ]
    summary = recorded(run.id).summary
    assert (summary["a"], summary["f"], summary["_step"]) == (2, 7, 7) and "dropped" not in summary


def test_log_keeps_numbers_strings_lists_numpy_and_nan() -> None:
    np = pytest.importorskip("numpy")
    run = wandb.init()
    run.log({"n": 1, "x": 0.5, "s": "text", "l": [1, 2], "d": {"in": 1}, "np": np.float32(0.25), "arr": np.arange(3)})
    run.log({"loss": float("nan"), "big": float("inf"), "i": np.int64(3)})
    run.finish()
    first, second = recorded(run.id).scan_history()
    assert (first["n"], first["s"], first["l"], first["d"], first["np"], first["arr"]) == (
        1,
        "text",
        [1, 2],
        {"in": 1},
        0.25,
        [0, 1, 2],
    )
    assert math.isnan(second["loss"]) and second["big"] == math.inf and second["i"] == 3
    assert math.isnan(recorded(run.id).summary["loss"])
    for row in open_store().catalog.history(run.id):  # what the catalog holds is strict JSON
        json.dumps(row.data, allow_nan=False)


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ([("a", 1)], TypeError, "dictionary"),
        ({1: "a"}, TypeError, "strings"),
        ({"ok": 1, "bad": object()}, ValidationError, "'bad'.*object"),
        ({"_step": 3}, ValidationError, "_step"),
    ],
)
def test_bad_log_input_is_refused_and_records_nothing(data: object, error: type[Exception], message: str) -> None:
    run = wandb.init(id="b1")
    run.log({"before": 1})
    with pytest.raises(error, match=message):
        run.log(data)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="integer"):
        run.log({"x": 1}, step="3")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="negative"):
        run.log({"x": 1}, step=-1)
    run.finish()
    assert [r["before"] for r in recorded("b1").scan_history()] == [1]
    assert "ok" not in recorded("b1").summary


def test_a_finished_run_takes_no_more_history_or_config() -> None:
    run = wandb.init(id="f1")
    run.log({"a": 1})
    run.finish()
    with pytest.raises(ValidationError, match="f1 has finished"):
        run.log({"a": 2})
    with pytest.raises(ValidationError, match="has finished"):
        run.config.late = 1
    with pytest.raises(ValidationError, match="has finished"):
        run.summary["late"] = 1
    with pytest.raises(ValidationError, match="init"):
        wandb.log({"a": 3})
    assert [r["a"] for r in recorded("f1").scan_history()] == [1] and recorded("f1").config == {}


def test_module_level_names_before_init_say_to_call_init() -> None:
    assert wandb.run is None
    with pytest.raises(ValidationError, match="init"):
        wandb.config.lr
    with pytest.raises(ValidationError, match="init"):
        wandb.summary["x"] = 1
    with pytest.raises(ValidationError, match="init"):
        wandb.define_metric("loss")
    assert wandb.login() is True and wandb.login(key="anything", relogin=True) is True


def test_summary_is_settable_and_persisted() -> None:
    run = wandb.init()
    run.log({"acc": 0.5})
    run.log({"acc": 0.7})
    wandb.summary["best_acc"] = 0.9
    run.summary.update({"note": "good"})
    run.summary.extra = [1, 2]
    del run.summary["note"]
    run.finish()
    got = recorded(run.id).summary
    assert (got["acc"], got["best_acc"], got["extra"], "note" in got) == (0.7, 0.9, [1, 2], False)


def test_many_steps_are_written_in_batches_and_all_by_finish() -> None:
    run = wandb.init(id="m1")
    for i in range(120):
        run.log({"i": i})
    seen = len(list(recorded("m1").scan_history()))
    assert 100 <= seen <= 120  # at most 50 steps wait
    run.finish()
    assert [r["i"] for r in recorded("m1").scan_history()] == list(range(120))


def test_a_logged_table_becomes_a_run_table_artifact() -> None:
    pytest.importorskip("pyarrow")
    run = wandb.init(project="p")
    table = wandb.Table(columns=["x", "y"], data=[[1, "a"], [2, "b"]])
    run.log({"preds": table, "loss": 0.1})
    run.log({"eval/preds": table})
    run.finish()
    first, second = recorded(run.id).scan_history()
    ref = first["preds"]
    assert ref["_type"] == "table-file" and ref["artifact_path"] == f"p/run-{run.id}-preds:v0"
    art = wandb.Api().artifact(ref["artifact_path"])
    assert art.type == "run_table" and art.name == f"run-{run.id}-preds:v0"
    assert art.get("preds").get_dataframe()["y"].tolist() == ["a", "b"]
    assert second["eval/preds"]["artifact_path"] == f"p/run-{run.id}-eval_preds:v0"
    logged = sorted(a.name for a in recorded(run.id).logged_artifacts())
    assert logged == [f"run-{run.id}-eval_preds:v0", f"run-{run.id}-preds:v0"]


def test_define_metric_is_accepted_and_recorded() -> None:
    run = wandb.init()
    step = run.define_metric("epoch")
    metric = wandb.define_metric("val/loss", step_metric=step, summary="min", goal="minimize")
    assert (metric.name, metric.step_metric, metric.summary, metric.goal, metric.hidden) == (
        "val/loss",
        "epoch",
        "min",
        "minimize",
        None,
    )
    run.finish()
    assert open_store().catalog.run(run.id).info["metrics"]["val/loss"] == {
        "step_metric": "epoch",
        "summary": "min",
        "goal": "minimize",
    }


def test_url_path_dir_and_entity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = wandb.init(project="p", dir=str(tmp_path / "out"))
    assert run.url is None and run.get_url() is None  # no web app, as W&B offline
    assert run.path == f"{run.entity}/p/{run.id}" and run.entity
    assert run.dir == str(tmp_path / "out" / "wandb" / f"run-{run.id}" / "files") and os.path.isdir(run.dir)
    run.finish()
    assert wandb.run is None
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "env"))
    with wandb.init() as other:
        assert other.dir.startswith(str(tmp_path / "env")) and os.path.isdir(other.dir)


def test_run_name_notes_and_tags_are_settable() -> None:
    run = wandb.init()
    run.name, run.notes, run.tags = "renamed", "why", ("a", "b")
    with pytest.raises(ValidationError, match="string"):
        run.tags = ["ok", 1]  # type: ignore[list-item]
    run.finish()
    got = recorded(run.id)
    assert (got.name, got.notes, got.tags) == ("renamed", "why", ["a", "b"])


# -- log_artifact of a path: W&B's names ----------------------------------------------------------


def test_log_artifact_of_a_path_or_file_uri_is_named_as_wandb_names_it(make_files) -> None:
    files = make_files({"data.csv": "a,b\n", "folder/x.txt": "x"})
    run = wandb.init(project="p")
    by_path = run.log_artifact(str(files / "data.csv"))
    by_folder = run.log_artifact(files / "folder")
    by_uri = run.log_artifact((files / "data.csv").as_uri())
    assert (by_path.name, by_path.type) == (f"run-{run.id}-data.csv:v0", "unspecified")
    assert by_folder.name == f"run-{run.id}-folder:v0"
    assert by_uri.name.startswith(f"run-{run.id}-data.csv:") and by_uri.type == "unspecified"
    with pytest.raises(ValidationError, match="not a file, a folder or a reference URI"):
        run.log_artifact(str(files / "missing.csv"))


# -- Api().run and Api().runs -------------------------------------------------------------------


def test_api_run_takes_wandbs_paths() -> None:
    with wandb.init(project="p", id="abc123") as run:
        pass
    api = wandb.Api()
    for path in (run.path, "p/abc123", f"{run.entity}/p/runs/abc123", "abc123"):
        assert api.run(path).id == "abc123"
    assert api.run(run.path).path == [run.entity, "p", "abc123"]
    with pytest.raises(ArtifactNotFoundError, match="project 'q'"):
        api.run("q/abc123")
    with pytest.raises(ArtifactNotFoundError):
        api.run("p/nope")


def test_history_as_a_frame_rows_and_samples() -> None:
    pytest.importorskip("pandas")
    run = wandb.init(id="h1")
    for i in range(10):
        run.log({"loss": 1.0 / (i + 1), **({"acc": i / 10} if i % 2 else {})})
    run.finish()
    got = recorded("h1")
    frame = got.history()
    assert list(frame["_step"]) == list(range(10)) and {"loss", "acc", "_runtime", "_timestamp"} <= set(frame.columns)
    assert [r["_step"] for r in got.history(samples=3, pandas=False)] == [0, 4, 9]  # evenly spread, ends kept
    acc = got.history(keys=["acc"], pandas=False)
    assert [(r["_step"], r["acc"]) for r in acc] == [(i, i / 10) for i in range(1, 10, 2)]
    with pytest.raises(ValidationError, match="system"):
        got.history(stream="system")


def test_scan_history_pages_keys_and_step_range() -> None:
    run = wandb.init(id="s1")
    for i in range(25):
        run.log({"i": i, **({"odd": True} if i % 2 else {})})
    run.finish()
    got = recorded("s1")
    assert [r["i"] for r in got.scan_history(page_size=4)] == list(range(25))
    assert [r["i"] for r in got.scan_history(min_step=5, max_step=9, page_size=2)] == [5, 6, 7, 8]
    assert list(got.scan_history(keys=["odd", "i"], max_step=5)) == [{"odd": True, "i": 1}, {"odd": True, "i": 3}]
    with pytest.raises(ValidationError, match="page_size"):
        got.scan_history(page_size=0)
    with pytest.raises(ValidationError, match="keys"):
        got.scan_history(keys="i")  # type: ignore[arg-type]


def test_a_public_runs_edits_are_written_by_update() -> None:
    with wandb.init(id="u1", config={"lr": 0.1}) as run:
        run.log({"acc": 0.5})
    got = recorded("u1")
    got.config["lr"] = 0.01
    got.summary["acc"] = 0.99
    got.tags.append("reviewed")
    got.notes, got.name = "looked at", "best-run"
    assert recorded("u1").config == {"lr": 0.1}  # nothing written before update()
    got.update()
    again = recorded("u1")
    assert (again.config, again.summary["acc"], again.tags, again.notes, again.name) == (
        {"lr": 0.01},
        0.99,
        ["reviewed"],
        "looked at",
        "best-run",
    )
    again.tags = ["ok", 3]  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="strings"):
        again.update()
    assert recorded("u1").tags == ["reviewed"]


def test_a_public_run_records_lineage_with_use_and_log_artifact(make_files) -> None:
    files = make_files({"a.txt": "1"})
    with wandb.init(project="p") as maker:
        art = wandb.Artifact("data", "dataset")
        art.add_file(str(files / "a.txt"))
        maker.log_artifact(art)
    with wandb.init(project="p", id="later1"):
        pass
    api = wandb.Api()
    public = api.run("p/later1")
    logged = api.artifact("p/data:v0")
    assert public.use_artifact(logged) is logged
    again = public.log_artifact(logged, aliases=["blessed"])
    assert "blessed" in again.aliases
    assert [a.name for a in api.run("p/later1").used_artifacts()] == ["data:v0"]
    assert [a.name for a in api.run("p/later1").logged_artifacts()] == ["data:v0"]
    assert len(api.artifact("p/data:latest").manifest.entries) == 1 and api.artifact("p/data:blessed").version == "v0"
    draft = wandb.Artifact("draft", "dataset")
    with pytest.raises(ValidationError, match="draft"):
        public.log_artifact(draft)
    with pytest.raises(TypeError, match="Artifact"):
        public.log_artifact("p/data:v0")  # type: ignore[arg-type]
    with wandb.init(project="other", id="elsewhere"):
        pass
    with pytest.raises(ValidationError, match="another project"):
        api.run("elsewhere").log_artifact(logged)


def test_api_runs_lists_filters_and_orders_a_projects_runs() -> None:
    for run_id, lr, state, tags in (("a1", 0.1, 0, ["base"]), ("a2", 0.2, 1, ["big", "x"]), ("a3", 0.3, 0, [])):
        with pytest.raises(RuntimeError) if state else contextlib.nullcontext():
            with wandb.init(project="p", id=run_id, config={"lr": lr}, tags=tags) as run:
                run.log({"acc": lr * 2})
                if state:
                    raise RuntimeError("boom")
    with wandb.init(project="q", id="b1"):
        pass
    api = wandb.Api()
    assert [r.id for r in api.runs("p")] == ["a1", "a2", "a3"]
    assert [r.id for r in api.runs("team/p", order="-created_at")] == ["a3", "a2", "a1"]
    assert [r.id for r in api.runs("p", filters={"state": "crashed"})] == ["a2"]
    assert [r.id for r in api.runs("p", filters={"config.lr": 0.1})] == ["a1"]
    assert [r.id for r in api.runs("p", filters={"config.lr": {"$gte": 0.2}})] == ["a2", "a3"]
    assert [r.id for r in api.runs("p", filters={"tags": {"$in": ["base", "x"]}})] == ["a1", "a2"]
    assert [r.id for r in api.runs("p", filters={"tags": "big"})] == ["a2"]
    assert [r.id for r in api.runs("p", filters={"$or": [{"config.lr": 0.1}, {"state": "crashed"}]})] == ["a1", "a2"]
    assert [r.id for r in api.runs("p", order="-summary_metrics.acc")] == ["a3", "a2", "a1"]
    assert api.runs("nowhere") == []
    with pytest.raises(ValidationError, match="cannot filter or order by 'heartbeat'"):
        api.runs("p", filters={"heartbeat": 1})
    with pytest.raises(ValidationError, match="operator"):
        api.runs("p", filters={"config.lr": {"$regex": "x"}})


def test_warnings_module_is_quiet_for_a_normal_run() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with wandb.init() as run:
            run.log({"a": 1})
            run.log({"a": 2}, step=1)


def test_reinit_returns_the_previous_run_finishes_it_or_makes_a_new_one() -> None:
    first = wandb.init(id="one111")
    assert wandb.init(id="ignored", reinit="return_previous") is first and run_ids() == ["one111"]
    side = wandb.init(id="side11", reinit="create_new")
    assert wandb.run is first and side.state == "running"
    side.finish()
    assert wandb.run is first
    second = wandb.init(id="two222", reinit="finish_previous")
    assert first.state == "finished" and wandb.run is second
    third = wandb.init()  # Quire finishes the current run by default (W&B outside notebooks returns it)
    assert second.state == "finished" and wandb.run is third


def test_other_logged_media_are_stored_in_an_artifact_of_the_run() -> None:
    from quire.sdk import media

    class Note:  # a media kind as Image & co. are: artifact.add-able, registered
        suffix = ".note.txt"

        def __init__(self, text: str) -> None:
            self.text = text

        def _write(self, path: Path) -> None:
            Path(path).write_text(self.text)

        @classmethod
        def read(cls, artifact: object, path: str) -> Note:
            return cls(media.local_files(artifact, [path])[0].read_text())  # type: ignore[arg-type]

    media.register(Note)  # type: ignore[arg-type]
    try:
        run = wandb.init(project="p")
        run.log({"sample": Note("hello"), "loss": 0.1})
        run.finish()
        (row,) = recorded(run.id).scan_history()
        assert row["sample"] == {
            "_type": "note-file",
            "artifact_path": f"p/run-{run.id}-sample:v0",
            "path": "sample.note.txt",
        }
        art = wandb.Api().artifact(row["sample"]["artifact_path"])
        assert art.type == "run_media" and art.get("sample").text == "hello"
    finally:
        media.KINDS.remove(Note)  # type: ignore[arg-type]
