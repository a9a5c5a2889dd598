"""Media types, where W&B code looks for them: ``wandb.data_types.Image``,
``wandb.data_types.PartitionedTable``, ..."""

from __future__ import annotations

from .sdk.media_types import (
    Audio,
    BoundingBoxes2D,
    Classes,
    Histogram,
    Html,
    Image,
    ImageMask,
    Media,
    Molecule,
    Object3D,
    Video,
)
from .sdk.partitioned_table import PartitionedTable
from .sdk.table import JoinedTable, Table

__all__ = [
    "Audio",
    "BoundingBoxes2D",
    "Classes",
    "Histogram",
    "Html",
    "Image",
    "ImageMask",
    "JoinedTable",
    "Media",
    "Molecule",
    "Object3D",
    "PartitionedTable",
    "Table",
    "Video",
]
