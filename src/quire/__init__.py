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
from typing import TYPE_CHECKING, Any

from . import errors
from .core.progress import reporting
from .errors import (
    ArtifactFinalizedError,
    ArtifactNotFoundError,
    ConflictError,
    QuireError,
    StoreError,
    ValidationError,
)
from .sdk.api import Api
from .sdk.artifact import Artifact
from .sdk.config import Config
from .sdk.links import ArtifactTTL
from .sdk.run import PreInit as _PreInit
from .sdk.run import Run, define_metric, finish, init, log, login
from .sdk.run import current_run as _current_run

if TYPE_CHECKING:
    from . import data_types
    from .sdk.media_types import Audio, Histogram, Html, Image, Molecule, Object3D, Video
    from .sdk.partitioned_table import PartitionedTable
    from .sdk.table import JoinedTable, Table

# Names served by ``quire.data_types``, imported on first use (tables need pyarrow, images Pillow).
_DATA_TYPES = {"Table", "PartitionedTable", "Image", "Audio", "Video", "Html", "Object3D", "Molecule", "Histogram"}
_DATA_TYPES |= {"JoinedTable", "Classes", "Plotly", "Bokeh", "Graph"}

__version__ = "0.1.0"

__all__ = [
    "Api",
    "Artifact",
    "ArtifactFinalizedError",
    "ArtifactNotFoundError",
    "ArtifactTTL",
    "Audio",
    "Config",
    "ConflictError",
    "Histogram",
    "Html",
    "Image",
    "JoinedTable",
    "Molecule",
    "Object3D",
    "PartitionedTable",
    "QuireError",
    "Run",
    "StoreError",
    "Table",
    "ValidationError",
    "Video",
    "__version__",
    "data_types",
    "define_metric",
    "errors",
    "finish",
    "init",
    "log",
    "log_artifact",
    "login",
    "reporting",
    "use_artifact",
]


def log_artifact(artifact: Artifact | str, **kwargs: Any) -> Artifact:
    """Log through the current run (started with :func:`init` when there is none)."""
    return (_current_run() or init()).log_artifact(artifact, **kwargs)


def use_artifact(artifact_or_name: Artifact | str, **kwargs: Any) -> Artifact:
    """Use through the current run (started with :func:`init` when there is none)."""
    return (_current_run() or init()).use_artifact(artifact_or_name, **kwargs)


def __getattr__(name: str) -> Any:
    # The current run's surface, as ``wandb.run``, ``wandb.config`` and ``wandb.summary``:
    # it changes with the run, so it is computed (before init: an object that says so).
    if name in ("run", "config", "summary"):
        run = _current_run()
        if name == "run" or run is not None:
            return getattr(run, name) if name != "run" else run
        return _PreInit(name)
    # Tables need pyarrow: imported when first asked for, so `import quire` stays light.
    if name in _DATA_TYPES or name == "data_types":
        data_types = importlib.import_module(".data_types", __name__)
        return data_types if name == "data_types" else getattr(data_types, name)
    raise AttributeError(f"module 'quire' has no attribute {name!r}")
