"""W&B's media types: ``Image``, ``Audio``, ``Video``, ``Html``, ``Object3D``, ``Molecule``
and ``Histogram``, stored in an artifact as W&B lays them out.

``artifact.add(quire.Image(pixels), "sample")`` stores two files, as W&B does: the media
file under ``media/<kind>/<sha256[:20]>.<ext>`` (named by its content, so two images
with the same pixels are stored once) and ``sample.image-file.json``, W&B's description
of it (``_type``, ``path``, ``sha256``, ``size``, ``caption`` and the fields of the kind,
e.g. ``width``, ``height``, ``format``). ``artifact.get("sample")`` reads the JSON back
into an ``Image`` whose file is fetched from the artifact only when its pixels are asked
for (``.image``, ``._path``).

A media object is checked and encoded when it is made (an unsupported array shape, a
missing path, a file that is not an image raise there), so a bad one never reaches a
draft. Arrays are encoded into a private temporary folder, as W&B does; a path is read
where it is and hashed, and its bytes are stored when it is added.

Pillow (the ``media`` extra) is imported only by what needs it: images, image masks and
GIF videos. WAV audio is written with the standard library; other formats are taken as
files (mp4/webm video encoding needs a codec library Quire does not bring in).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ...errors import ValidationError
from .audio_video import Audio, Video
from .base import Media
from .documents import Html, Molecule, Object3D
from .image import BoundingBoxes2D, Classes, Image, ImageMask
from .values import Histogram

if TYPE_CHECKING:
    from ..artifact import Artifact

__all__ = [
    "MEDIA_TYPES",
    "Audio",
    "BoundingBoxes2D",
    "Classes",
    "Histogram",
    "Html",
    "Image",
    "ImageMask",
    "Media",
    "Molecule",
    "Object3D",
    "Video",
    "media_from_cell",
]

MEDIA_TYPES: tuple[type[Media], ...] = (Image, Audio, Video, Html, Object3D, Molecule)
_BY_TYPE = {kind._log_type: kind for kind in MEDIA_TYPES}


def media_from_cell(cell: dict[str, Any], source: Artifact | None) -> Media:
    """The media object a table's media cell describes (its file read from ``source``)."""
    doc = json.loads(cell["meta"])
    kind = _BY_TYPE.get(doc.get("_type"))
    if kind is None:
        raise ValidationError(f"a media cell of unknown type {doc.get('_type')!r}: {cell['path']!r}")
    return kind._from_json(doc, source)
