"""W&B's error contract: the classes ``wandb.errors`` and W&B's artifact status errors have,
with their builtin bases, and Quire's own bases kept, so ``except`` clauses written for
either keep working; every error is importable from ``quire`` and ``quire.errors``."""

from __future__ import annotations

import inspect
import pickle
import re
from pathlib import Path

import pytest

import quire
import quire as wandb
from quire import errors

#: W&B's classes and the bases W&B gives them (wandb/errors, wandb/sdk/artifacts/exceptions.py)
WANDB_BASES = {
    "Error": (Exception,),
    "CommError": (errors.Error,),
    "AuthenticationError": (errors.CommError,),
    "UsageError": (errors.Error,),
    "UnsupportedError": (errors.UsageError,),
    "ArtifactStatusError": (AttributeError,),
    "ArtifactNotLoggedError": (errors.ArtifactStatusError,),
    "ArtifactFinalizedError": (errors.ArtifactStatusError,),
    "WaitTimeoutError": (errors.Error,),
}

#: the bases Quire gave its errors before W&B's tree, which existing code catches
QUIRE_BASES = {
    "ArtifactNotFoundError": (KeyError, errors.CommError),
    "ArtifactNotLoggedError": (ValueError,),
    "ArtifactFinalizedError": (ValueError,),
    "ValidationError": (ValueError, errors.UsageError),
    "UnsupportedError": (AttributeError,),
    "StoreError": (OSError, errors.CommError),
    "PendingTimeoutError": (TimeoutError, errors.WaitTimeoutError),
    "PendingVersionError": (ValueError,),
    "MissingExtraError": (ImportError,),
    "QuireError": (errors.Error,),
}


def _error_classes() -> dict[str, type[BaseException]]:
    return {
        name: obj
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == errors.__name__
    }


@pytest.mark.parametrize("table", [WANDB_BASES, QUIRE_BASES], ids=["wandb", "quire"])
def test_bases(table: dict[str, tuple[type, ...]]) -> None:
    for name, bases in table.items():
        cls = getattr(errors, name)
        for base in bases:
            assert issubclass(cls, base), f"{name} must be a {base.__name__}"


def test_every_error_is_exported_from_quire_and_quire_errors() -> None:
    classes = _error_classes()
    assert len(classes) >= len(WANDB_BASES) + 10
    for name, cls in classes.items():
        assert name in errors.__all__, f"{name} is missing from quire.errors.__all__"
        assert name in quire.__all__, f"{name} is missing from quire.__all__"
        assert getattr(quire, name) is cls
    assert sorted(errors.__all__) == sorted(classes), "quire.errors.__all__ lists a name that is not an error"


def test_every_error_is_a_quire_error_and_a_wandb_error() -> None:
    for name, cls in _error_classes().items():
        if cls is not errors.Error:
            assert issubclass(cls, errors.QuireError), name


def test_module_docstring_tree_is_true() -> None:
    """The tree in ``quire.errors``' docstring shows every class under its real base, with
    the builtins it derives from in parentheses."""
    doc = errors.__doc__ or ""
    stack: list[str] = []
    shown: set[str] = set()
    for line in doc.splitlines():
        m = re.match(r"(\s*)(?:[│ ]   )*(?:[├└]── )?([A-Z]\w+)(?: \(([\w, ]+)\))?\s{2,}", line)
        if not m or m.group(2) not in _error_classes():
            continue
        depth = (len(line) - len(line.lstrip(" │├└─"))) // 4
        name = m.group(2)
        del stack[depth - 1 :]
        cls = getattr(errors, name)
        if stack:
            assert getattr(errors, stack[-1]) in cls.__bases__, f"{name} is not drawn under its base"
        for builtin in (m.group(3) or "").split(", "):
            if builtin:
                assert any(b.__name__ == builtin for b in cls.__mro__), f"{name} is not a {builtin}"
        stack.append(name)
        shown.add(name)
    assert shown == set(_error_classes()), f"missing from the tree: {set(_error_classes()) - shown}"


def test_wandb_attributes_message_context_exc() -> None:
    err = errors.CommError("the store said no", exc=OSError("down"))
    assert (err.message, err.context, str(err)) == ("the store said no", {}, "the store said no")
    assert isinstance(err.exc, OSError)
    assert errors.Error("x", context={"k": 1}).context == {"k": 1}
    assert str(errors.QuireError()) == "QuireError"


def test_errors_survive_pickling() -> None:
    """Errors cross process boundaries (Ray, multiprocessing) with their text."""
    for err in (errors.ValidationError("bad"), errors.CommError("down"), errors.StoreError("gone")):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err)


def test_a_missing_artifact_is_caught_as_comm_error_and_as_key_error() -> None:
    api = wandb.Api()
    with pytest.raises(wandb.errors.CommError) as caught:
        api.artifact("p/nothing:latest")
    assert isinstance(caught.value, KeyError)
    assert "nothing" in caught.value.message and "nothing" in str(caught.value)
    assert not str(caught.value).startswith("'"), "KeyError's quoting must not show"
    with pytest.raises(KeyError):  # what code written before W&B's tree catches
        api.artifact("p/nothing:v0")


def _logged(tmp_path: Path) -> wandb.Artifact:
    (tmp_path / "a.txt").write_text("alpha")
    with wandb.init(project="p") as run:
        art = wandb.Artifact("data", "dataset")
        art.add_file(str(tmp_path / "a.txt"))
        return run.log_artifact(art)


def test_editing_a_logged_artifact_is_an_attribute_error_and_a_value_error(tmp_path: Path) -> None:
    art = _logged(tmp_path)
    (tmp_path / "b.txt").write_text("beta")
    for catch in (AttributeError, ValueError, errors.ArtifactStatusError, errors.ArtifactFinalizedError):
        with pytest.raises(catch, match="new_draft"):
            art.add_file(str(tmp_path / "b.txt"))
    assert [e.path for e in wandb.Api().artifact("p/data:latest").files()] == ["a.txt"]


def test_reading_logged_only_fields_of_a_draft_is_not_logged_error_not_unsupported() -> None:
    """The status error is an ``AttributeError`` raised inside a property: Python then asks
    ``__getattr__``, which must raise it again, not a "not supported" error."""
    draft = wandb.Artifact("data", "dataset")
    for name in ("created_at", "version", "updated_at", "collection"):
        with pytest.raises(errors.ArtifactNotLoggedError, match="draft") as caught:
            getattr(draft, name)
        assert not isinstance(caught.value, errors.UnsupportedError)
        assert "compatibility" not in str(caught.value)
        assert isinstance(caught.value, ValueError)  # as before W&B's tree
    assert not hasattr(draft, "created_at")  # W&B: an AttributeError, so hasattr is False
    assert getattr(draft, "created_at", None) is None


def test_a_bug_inside_a_property_is_not_hidden_by_getattr(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An ``AttributeError`` from a getter reaches the caller as it was raised, on each
    object whose ``__getattr__`` maps W&B names (a broken getter is a fault the test makes)."""

    def broken(self: object) -> str:
        raise AttributeError(f"the getter of {type(self).__name__} failed")

    art = _logged(tmp_path)
    with wandb.init(project="p") as run:
        for obj in (art, run, wandb.Api(), art.logged_by()):
            # "url" is a W&B name, so a lookup that ended in __getattr__ could say "not supported"
            monkeypatch.setattr(type(obj), "url", property(broken), raising=False)
            with pytest.raises(AttributeError, match=f"the getter of {type(obj).__name__} failed") as caught:
                obj.url
            assert not isinstance(caught.value, errors.UnsupportedError)
            monkeypatch.undo()


def test_bad_input_is_a_usage_error_and_a_value_error(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("alpha")
    with wandb.init(project="p") as run:
        for catch in (ValueError, wandb.errors.UsageError, errors.ValidationError):
            art = wandb.Artifact("data", "dataset")
            art.add_file(str(tmp_path / "a.txt"))
            with pytest.raises(catch, match="alias"):
                run.log_artifact(art, aliases=["a/b"])
            assert art.is_draft()
    with pytest.raises(KeyError):
        wandb.Api().artifact("p/data:latest")
