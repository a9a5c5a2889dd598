"""Media types, where W&B code looks for them: ``wandb.data_types.Image``,
``wandb.data_types.PartitionedTable``, ..."""

from __future__ import annotations

from .sdk.media_types import (
    Audio,
    Bokeh,
    Classes,
    Graph,
    Histogram,
    Html,
    Image,
    Media,
    Molecule,
    Object3D,
    Plotly,
    Video,
)
from .sdk.partitioned_table import PartitionedTable
from .sdk.table import JoinedTable, Table

__all__ = [
    "Audio",
    "Bokeh",
    "Classes",
    "Graph",
    "Histogram",
    "Html",
    "Image",
    "JoinedTable",
    "Media",
    "Molecule",
    "Object3D",
    "PartitionedTable",
    "Plotly",
    "Table",
    "Video",
]
