"""Quire: versioned artifacts for machine learning, with the Weights & Biases artifact API,
on storage you own.

``import quire as wandb`` runs W&B artifact code unchanged::

    with quire.init(project="demo") as run:
        artifact = quire.Artifact("mnist", "dataset")
        artifact.add_dir("data/")
        run.log_artifact(artifact, aliases=["best"])
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

from . import errors
from .errors import *  # noqa: F403 - every error Quire raises (quire.errors.__all__)

if TYPE_CHECKING:
    from . import data_types
    from .core.progress import reporting
    from .sdk.api import Api
    from .sdk.artifact import Artifact
    from .sdk.config import Config
    from .sdk.links import ArtifactTTL
    from .sdk.media_types import Audio, Histogram, Html, Image, Molecule, Object3D, Video
    from .sdk.partitioned_table import PartitionedTable
    from .sdk.run import Run, define_metric, finish, init, log, login
    from .sdk.table import JoinedTable, Table

# The sdk's names, by the module that defines them, imported on first use of any of them:
# the sdk with the core and store beneath it costs several times what Python's own
# start-up does, and a program that only imports quire (a CLI's --help, a script's
# argument check) should not pay for it. All load at once, in this order, so that the
# run module is always there to register the implicit run (quire.sdk.context).
_SDK = {
    ".core.progress": ("reporting",),
    ".sdk.api": ("Api",),
    ".sdk.artifact": ("Artifact",),
    ".sdk.config": ("Config",),
    ".sdk.links": ("ArtifactTTL",),
    ".sdk.run": ("Run", "define_metric", "finish", "init", "log", "login"),
}
_SDK_NAMES = {name for names in _SDK.values() for name in names}

# Names served by ``quire.data_types``, imported on first use (tables need pyarrow, images Pillow).
_DATA_TYPES = {"Table", "PartitionedTable", "Image", "Audio", "Video", "Html", "Object3D", "Molecule", "Histogram"}
_DATA_TYPES |= {"JoinedTable", "Classes"}

__version__ = "0.1.0"

__all__ = [
    "Api",
    "Artifact",
    "ArtifactTTL",
    "Audio",
    "Config",
    "Histogram",
    "Html",
    "Image",
    "JoinedTable",
    "Molecule",
    "Object3D",
    "PartitionedTable",
    "Run",
    "Table",
    "Video",
    "__version__",
    "data_types",
    "define_metric",
    "errors",
    "finish",
    "init",
    "link_model",
    "log",
    "log_artifact",
    "log_model",
    "login",
    "reporting",
    "use_artifact",
    "use_model",
]
__all__ += errors.__all__
__all__.sort()  # one sorted list, the errors among the rest


def _sdk() -> None:
    """Import the sdk's names into this module (once: later lookups find them here)."""
    for module, names in _SDK.items():
        loaded = importlib.import_module(module, __name__)
        globals().update((name, getattr(loaded, name)) for name in names)


def _run() -> Run:
    """The current run, started with :func:`init` when there is none."""
    from .sdk.run import current_run, init

    return current_run() or init()


def log_artifact(artifact: Artifact | str, **kwargs: Any) -> Artifact:
    """Log through the current run (started with :func:`init` when there is none)."""
    return _run().log_artifact(artifact, **kwargs)


def use_artifact(artifact_or_name: Artifact | str, **kwargs: Any) -> Artifact:
    """Use through the current run (started with :func:`init` when there is none)."""
    return _run().use_artifact(artifact_or_name, **kwargs)


def log_model(path: str | os.PathLike[str], name: str | None = None, aliases: list[str] | None = None) -> None:
    """``run.log_model`` of the current run (started with :func:`init` when there is none)."""
    _run().log_model(path, name, aliases)


def use_model(name: str) -> str:
    """``run.use_model`` of the current run (started with :func:`init` when there is none)."""
    return _run().use_model(name)


def link_model(
    path: str | os.PathLike[str],
    registered_model_name: str,
    name: str | None = None,
    aliases: list[str] | None = None,
) -> Artifact:
    """``run.link_model`` of the current run (started with :func:`init` when there is none)."""
    return _run().link_model(path, registered_model_name, name, aliases)


def __getattr__(name: str) -> Any:
    if name in _SDK_NAMES:
        _sdk()
        return globals()[name]
    # The current run's surface, as ``wandb.run``, ``wandb.config`` and ``wandb.summary``:
    # it changes with the run, so it is computed (before init: an object that says so).
    if name in ("run", "config", "summary"):
        _sdk()
        from .sdk.run import PreInit, current_run

        run = current_run()
        if name == "run" or run is not None:
            return getattr(run, name) if name != "run" else run
        return PreInit(name)
    # Tables need pyarrow: imported when first asked for, so `import quire` stays light.
    if name in _DATA_TYPES or name == "data_types":
        data_types = importlib.import_module(".data_types", __name__)
        return data_types if name == "data_types" else getattr(data_types, name)
    from .sdk import compat  # here, not at the top: the sdk imports it, after quire.errors

    raise compat.missing(sys.modules[__name__], name)


def __dir__() -> list[str]:
    # the lazy names are attributes too, loaded or not
    return sorted(set(globals()) | set(__all__))
