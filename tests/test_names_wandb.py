"""Names and values as W&B accepts them: aliases and tags by W&B's rules (spaces allowed,
only ``/`` and ``:`` refused in an alias), repeats dropped with a warning, addresses with
such aliases, and metadata coerced as W&B coerces it (NaN to null, numpy, datetimes,
slices, sets, paths, ...) with W&B's limits; whatever is refused leaves the store as it was."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import math
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pytest

import quire as wandb
from quire.errors import ValidationError
from quire.sdk.names import MAX_ALIAS, MAX_METADATA_KEYS, check_metadata, parse_address
from test_bad_input import store_state

Unchanged = Callable[[], AbstractContextManager[None]]


@pytest.fixture
def file(tmp_path: Path) -> str:
    path = tmp_path / "a.txt"
    path.write_text("alpha")
    return str(path)


@pytest.fixture
def unchanged(store_url: str) -> Unchanged:
    @contextmanager
    def check() -> Iterator[None]:
        before = store_state(store_url)
        yield
        assert store_state(store_url) == before

    return check


def _log(file: str, **kwargs: Any) -> wandb.Artifact:
    metadata = kwargs.pop("metadata", None)
    with wandb.init(project="p") as run:
        art = wandb.Artifact("data", "dataset", metadata=metadata)
        art.add_file(file)
        return run.log_artifact(art, **kwargs)


# -- aliases -------------------------------------------------------------------------


def test_an_alias_with_spaces_is_logged_and_fetched_by_its_address(file: str) -> None:
    _log(file, aliases=["best model so far", "épreuve №1", "x" * MAX_ALIAS])
    fetched = wandb.Api().artifact("p/data:best model so far")
    assert fetched.version == "v0"
    assert set(fetched.aliases) == {"best model so far", "épreuve №1", "x" * MAX_ALIAS, "latest"}
    with wandb.init(project="p") as run:
        assert run.use_artifact("data:épreuve №1").version == "v0"


def test_parse_address_keeps_an_alias_with_spaces() -> None:
    address = parse_address("team/p/data:my best model")
    assert (address.project, address.name, address.version, address.index) == ("p", "data", "my best model", None)
    assert parse_address("data:v12", "q").index == 12


def test_one_alias_as_a_string(file: str) -> None:
    """W&B takes ``aliases="best"`` as one alias, not four letters."""
    assert set(_log(file, aliases="best").aliases) == {"best", "latest"}


@pytest.mark.parametrize(
    "alias, rule",
    [
        ("a/b", "'/'"),
        ("a:b", "':'"),
        ("", "1 to 128"),
        ("x" * (MAX_ALIAS + 1), "1 to 128"),
        ("v7", "version index"),
        ("nul\x00", "NUL"),
        (7, "string"),
    ],
)
def test_an_alias_w_and_b_refuses_is_refused_and_nothing_is_written(
    file: str, unchanged: Unchanged, alias: object, rule: str
) -> None:
    with wandb.init(project="p") as run, unchanged():
        art = wandb.Artifact("data", "dataset")
        art.add_file(file)
        with pytest.raises(ValidationError, match="alias") as caught:
            run.log_artifact(art, aliases=["fine", alias])  # type: ignore[list-item]
        assert rule in str(caught.value)
        assert art.is_draft()


def test_a_repeated_alias_or_tag_is_kept_once_with_a_warning(file: str) -> None:
    with pytest.warns(UserWarning, match="'best' given more than once"):
        with pytest.warns(UserWarning, match="'nlp' given more than once"):
            art = _log(file, aliases=["best", "best"], tags=["nlp", "nlp", "small"])
    assert sorted(art.aliases) == ["best", "latest"]
    assert wandb.Api().artifact("p/data:best").tags == ["nlp", "small"]


def test_an_alias_with_spaces_is_added_to_a_logged_version(file: str) -> None:
    art = _log(file)
    art.aliases.append("ready for review")
    art.save()
    assert wandb.Api().artifact("p/data:ready for review").version == "v0"


# -- tags ----------------------------------------------------------------------------


def test_tags_with_words_and_spaces(file: str) -> None:
    _log(file, tags=["image classification", "v1-final", "ok_2", "two  spaces", "x" * 128])
    tags = ["image classification", "ok_2", "two  spaces", "v1-final", "x" * 128]
    assert sorted(wandb.Api().artifact("p/data:v0").tags) == tags


@pytest.mark.parametrize("tag", ["a/b", "a:b", "", " lead", "trail ", "x" * 129, "a.b", "tab\tsep", 3])
def test_a_tag_w_and_b_refuses_is_refused_and_nothing_is_written(file: str, unchanged: Unchanged, tag: object) -> None:
    with wandb.init(project="p") as run, unchanged():
        art = wandb.Artifact("data", "dataset")
        art.add_file(file)
        with pytest.raises(ValidationError, match="tag"):
            run.log_artifact(art, tags=[tag])  # type: ignore[list-item]


# -- metadata ------------------------------------------------------------------------


class Color(enum.Enum):
    RED = 1


@dataclasses.dataclass
class Point:
    x: int
    y: float


class Named:
    def __str__(self) -> str:
        return "named thing"


def test_metadata_is_coerced_as_w_and_b_does(file: str) -> None:
    when = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC)
    metadata = {
        "nan": float("nan"),
        "np_nan": np.float32("nan"),
        "np_int": np.int64(3),
        "np_float": np.float64(2.5),
        "np_bool": np.bool_(True),
        "array": np.arange(3),
        "matrix": np.eye(2),
        "when": when,
        "day": datetime.date(2024, 5, 6),
        "slice": slice(1, 9, 2),
        "set": {3, 1, 2},
        "tuple": (1, "a"),
        "path": PurePosixPath("/data/train"),
        "enum": Color.RED,
        "decimal": decimal.Decimal("1.50"),
        "uuid": uuid.UUID(int=1),
        "bytes": b"text",
        "point": Point(1, 0.5),
        "function": math.sqrt,
        "nested": [float("nan"), {"deep": np.float64(1.0), 2: "two"}],
        "named": Named(),
    }
    expected = {
        "nan": None,
        "np_nan": None,
        "np_int": 3,
        "np_float": 2.5,
        "np_bool": True,
        "array": [0, 1, 2],
        "matrix": [[1.0, 0.0], [0.0, 1.0]],
        "when": "2024-05-06T07:08:09+00:00",
        "day": "2024-05-06",
        "slice": {"slice_start": 1, "slice_step": 2, "slice_stop": 9},
        "set": [1, 2, 3],
        "tuple": [1, "a"],
        "path": "/data/train",
        "enum": "RED",
        "decimal": "1.50",
        "uuid": "00000000-0000-0000-0000-000000000001",
        "bytes": "text",
        "point": {"x": 1, "y": 0.5},
        "function": "math.sqrt",
        "nested": [None, {"deep": 1.0, "2": "two"}],
        "named": "named thing",
    }
    art = _log(file, metadata=metadata)
    assert art.metadata == expected
    assert wandb.Api().artifact("p/data:v0").metadata == expected


def test_a_large_array_is_kept_whole() -> None:
    """W&B stores an array of more than 32 items as its truncated text; Quire keeps the list."""
    assert check_metadata({"a": np.arange(1000)})["a"] == list(range(1000))


def test_metadata_given_as_json_text() -> None:
    assert check_metadata('{"lr": 0.1, "tags": [1, 2]}') == {"lr": 0.1, "tags": [1, 2]}
    assert check_metadata("") == check_metadata(None) == {}


def test_metadata_may_hold_the_w_and_b_limit_of_keys(file: str) -> None:
    metadata = {f"k{i}": i for i in range(MAX_METADATA_KEYS)}
    assert wandb.Api().artifact(f"p/data:{_log(file, metadata=metadata).version}").metadata == metadata


class Opaque:
    pass


@pytest.mark.parametrize(
    "metadata, says",
    [
        ({"loss": float("inf")}, "infinity"),
        ({"nested": [1, {"x": -np.inf}]}, r"metadata\['nested'\]\[1\]\['x'\] is -inf"),
        ({1: "a", "1": "b"}, "two keys"),
        ({(1, 2): "a"}, "keys must be strings"),
        ({f"k{i}": i for i in range(MAX_METADATA_KEYS + 1)}, "at most 100"),
        ({"o": object()}, "type object, which has no JSON form"),
        ({"o": Opaque()}, "type Opaque, which has no JSON form"),
        ({"c": 1j}, "complex"),
        ({"b": b"\xff\xfe"}, "not UTF-8"),
        ("{not json", "not JSON"),
        ([1, 2], "must be a dict"),
    ],
)
def test_metadata_w_and_b_refuses_is_refused_and_nothing_is_written(
    file: str, unchanged: Unchanged, metadata: object, says: str
) -> None:
    with wandb.init(project="p"), unchanged():
        with pytest.raises(ValidationError, match=says):
            wandb.Artifact("data", "dataset", metadata=metadata)  # type: ignore[arg-type]
        art = wandb.Artifact("data", "dataset")
        with pytest.raises(ValidationError, match=says):
            art.metadata = metadata  # type: ignore[assignment]


def test_metadata_edited_in_place_is_checked_at_log(file: str, unchanged: Unchanged) -> None:
    with wandb.init(project="p") as run, unchanged():
        art = wandb.Artifact("data", "dataset")
        art.add_file(file)
        art.metadata["loss"] = float("inf")
        with pytest.raises(ValidationError, match="infinity"):
            run.log_artifact(art)


def test_metadata_nested_in_a_cycle_is_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValidationError, match="refers to itself"):
        check_metadata({"loop": loop})


def test_a_run_config_is_not_held_to_the_metadata_key_limit() -> None:
    """W&B's 100-key limit is on artifact metadata; a config (HF's TrainingArguments) has more."""
    config = {f"arg{i}": i for i in range(300)}
    with wandb.init(project="p", config=config) as run:
        run_id = run.id
    assert wandb.Api().run(f"p/{run_id}").config == config
