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
from .sdk.links import ArtifactTTL
from .sdk.run import Run, finish, init
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
    "errors",
    "finish",
    "init",
    "log_artifact",
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
    # ``quire.run`` is the current run, as ``wandb.run`` is; it changes, so it is computed.
    if name == "run":
        return _current_run()
    # Tables need pyarrow: imported when first asked for, so `import quire` stays light.
    if name in _DATA_TYPES or name == "data_types":
        data_types = importlib.import_module(".data_types", __name__)
        return data_types if name == "data_types" else getattr(data_types, name)
    raise AttributeError(f"module 'quire' has no attribute {name!r}")
