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
import sys
from typing import TYPE_CHECKING, Any

from . import errors
from .core.progress import reporting
from .errors import *  # noqa: F403 - every error Quire raises (quire.errors.__all__)
from .sdk.api import Api
from .sdk.artifact import Artifact
from .sdk.run import Run, finish, init
from .sdk.run import current_run as _current_run

if TYPE_CHECKING:
    from . import data_types
    from .sdk.partitioned_table import PartitionedTable
    from .sdk.table import Table

__version__ = "0.1.0"

__all__ = [
    "Api",
    "Artifact",
    "PartitionedTable",
    "Run",
    "Table",
    "__version__",
    "data_types",
    "errors",
    "finish",
    "init",
    "log_artifact",
    "reporting",
    "use_artifact",
]
__all__ += errors.__all__
__all__.sort()  # one sorted list, the errors among the rest


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
    if name in ("Table", "PartitionedTable", "data_types"):
        data_types = importlib.import_module(".data_types", __name__)
        return data_types if name == "data_types" else getattr(data_types, name)
    from .sdk import compat  # here, not at the top: the sdk imports it, after quire.errors

    raise compat.missing(sys.modules[__name__], name)
