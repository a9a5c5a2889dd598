"""The compatibility page and the map it is written from (``quire.sdk.compat``) stay true:
every W&B name the map calls supported or ignored is on the Quire object, every name it
calls not supported raises the error that names the call and points at the page, no row is
left unknown, and ``docs/compatibility.md`` is what the generator writes."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import quire as wandb
from quire.errors import UnsupportedError
from quire.sdk import compat

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def quire_objects(tmp_path: Path) -> Iterator[dict[str, object]]:
    """A real Quire object for each W&B surface: the module, an active run, a logged
    artifact, the Api, the run read back, the artifact's collection and its type."""
    (tmp_path / "a.txt").write_text("alpha")
    run = wandb.init(project="p")
    art = wandb.Artifact("data", "dataset")
    art.add_file(str(tmp_path / "a.txt"))
    art = run.log_artifact(art)
    api = wandb.Api()
    objects: dict[str, object] = {"wandb": wandb, "Run": run, "Artifact": art, "Api": api}
    made = {
        "PublicRun": lambda: api.run(f"p/{run.id}"),
        "ArtifactCollection": lambda: art.collection,
        "ArtifactType": lambda: api.artifact_type("dataset", "p"),
    }
    for surface, make in made.items():
        try:
            objects[surface] = make()
        except (AttributeError, NotImplementedError) as exc:  # not built yet: that surface's tests say so
            objects[surface] = exc
    yield objects
    run.finish()


def _has(obj: object, name: str) -> bool:
    """Whether ``obj`` offers ``name``, without running a property's code (a module's
    computed names, such as ``quire.run``, are asked for)."""
    if isinstance(obj, type(wandb)):
        return hasattr(obj, name)
    try:
        inspect.getattr_static(obj, name)
    except AttributeError:
        return False
    return True


@pytest.mark.parametrize("surface", list(compat.SURFACES))
def test_supported_and_ignored_names_are_on_the_quire_object(quire_objects: dict[str, object], surface: str) -> None:
    obj = quire_objects[surface]
    assert not isinstance(obj, Exception), f"no Quire object for W&B's {surface} yet: {obj!r}"
    absent = [
        name
        for name, row in compat.SURFACES[surface].rows.items()
        if row.status != "unsupported" and not _has(obj, name)
    ]
    assert not absent, f"{surface}: the map says these work, but Quire has no {absent}"


@pytest.mark.parametrize("surface", list(compat.SURFACES))
def test_unsupported_names_raise_the_error_that_points_at_the_page(
    quire_objects: dict[str, object], surface: str
) -> None:
    obj = quire_objects[surface]
    assert not isinstance(obj, Exception), f"no Quire object for W&B's {surface} yet: {obj!r}"
    wrong = []
    for name, row in compat.SURFACES[surface].rows.items():
        if row.status != "unsupported":
            continue
        try:
            getattr(obj, name)
        except UnsupportedError as exc:
            text = str(exc)
            if f".{name} is W&B API that Quire does not support" not in text or compat.PAGE not in text:
                wrong.append(f"{name}: {text}")
            elif row.note not in text or exc.name != name:
                wrong.append(f"{name}: the message or the error's name lacks the map's note: {text}")
        except AttributeError as exc:
            wrong.append(f"{name}: a bare {type(exc).__name__}: {exc}")
        else:
            wrong.append(f"{name}: Quire has it now; mark it supported in quire.sdk.compat")
        if hasattr(obj, name):
            wrong.append(f"{name}: hasattr must be False")
    assert not wrong, f"{surface}:\n" + "\n".join(wrong)


def test_the_error_names_the_call() -> None:
    with pytest.raises(UnsupportedError, match=r"^wandb\.watch is W&B API .*log_model .*docs/compatibility\.md"):
        wandb.watch  # type: ignore[attr-defined]
    with pytest.raises(UnsupportedError, match=r"^Api\.create_team is W&B API"):
        wandb.Api().create_team  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match=r"^Artifact\.use_as is W&B API"):
        wandb.Artifact("data", "dataset").use_as  # type: ignore[attr-defined]


def test_a_name_w_and_b_lacks_is_pythons_usual_attribute_error() -> None:
    draft = wandb.Artifact("data", "dataset")
    with pytest.raises(AttributeError) as caught:
        draft.no_such_thing  # type: ignore[attr-defined]
    assert type(caught.value) is AttributeError
    assert str(caught.value) == "'Artifact' object has no attribute 'no_such_thing'"
    with pytest.raises(AttributeError, match="Did you mean: 'add_file'"):
        draft.add_fil  # type: ignore[attr-defined]
    with pytest.raises(AttributeError) as caught:
        wandb.no_such_thing  # type: ignore[attr-defined]
    assert type(caught.value) is AttributeError
    assert "module 'quire' has no attribute 'no_such_thing'" in str(caught.value)


def test_no_row_is_unknown() -> None:
    for surface in compat.SURFACES.values():
        assert surface.rows, surface.title
        for name, row in surface.rows.items():
            assert row.status in ("supported", "ignored", "unsupported"), f"{surface.title} {name}: {row.status}"
            if row.status != "supported":
                assert row.note, f"{surface.title} {name}: say why it is {row.status}"


def test_the_page_is_what_the_generator_writes() -> None:
    page = (ROOT / "docs" / "compatibility.md").read_text(encoding="utf-8")
    assert page == compat.page(), "run: python -m quire.sdk.compat_page > docs/compatibility.md"
    written = subprocess.run(
        [sys.executable, "-m", "quire.sdk.compat_page"], capture_output=True, check=True, encoding="utf-8"
    )
    assert (written.stdout, written.stderr) == (page, "")
    assert "## Where Quire differs on purpose" in page
    for surface in compat.SURFACES.values():
        assert f"## {surface.title}" in page


def test_the_readme_links_the_page() -> None:
    assert "(docs/compatibility.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_looking_a_name_up_in_the_map_does_not_import_wandb() -> None:
    """The map is data written once from wandb; wandb is no dependency of Quire."""
    code = "import sys, quire\ntry: quire.watch\nexcept AttributeError: pass\nprint('wandb' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
