"""``Image`` and what labels it: ``BoundingBoxes2D``, ``ImageMask``, ``Classes``."""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import ValidationError
from .. import media
from .base import Media, jsonable, numpy_of, pillow, sha256_of, source_path, tmp_file

if TYPE_CHECKING:
    from ..artifact import Artifact

_IMAGE_FORMATS = ("png", "jpg", "jpeg", "bmp")
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def _to_uint8(data: Any, normalize: bool) -> Any:
    """Pixels as uint8, normalised as W&B documents it: values all in [0, 1] are scaled by
    255, values in [-1, 1] mapped onto [0, 255], anything else outside [0, 255] clipped
    (with a warning), values in [0, 255] kept. Booleans become 0 and 255."""
    import numpy as np

    if data.dtype.kind == "b":
        return data.astype(np.uint8) * 255
    if data.size == 0:
        return data.astype(np.uint8)
    data = np.nan_to_num(data) if data.dtype.kind == "f" else data
    if not normalize:
        return np.clip(data, 0, 255).astype(np.uint8)
    low, high = float(data.min()), float(data.max())
    if low >= 0 and high <= 1:
        return (data * 255).astype(np.uint8)  # truncated, as W&B's conversion does
    if low >= -1 and high <= 1:
        return ((data + 1) * 127.5).astype(np.uint8)
    if low < 0 or high > 255:
        warnings.warn(f"image values span [{low}, {high}], outside [0, 255]: clipped to it", UserWarning, stacklevel=4)
    return np.clip(data, 0, 255).astype(np.uint8)


def _pixels_to_pil(data: Any, mode: str | None, normalize: bool, file_type: str) -> Any:
    """A PIL image of a numpy-like array of W&B's accepted shapes and dtypes."""
    typename = type(data).__module__ + "." + type(data).__name__
    array = numpy_of(data)
    if typename.startswith("torch") and array.ndim == 3:  # torch tensors are channels first
        array = array.transpose(1, 2, 0)
    if array.ndim > 2:
        array = array.squeeze()  # drop trivial dimensions, as W&B does
    shape = list(array.shape)
    if array.dtype.kind not in "biuf":
        raise ValidationError(
            f"quire.Image: pixels of dtype {array.dtype} are not supported; give numbers "
            "(uint8 in [0, 255], or floats in [0, 1] or [-1, 1]) or booleans"
        )
    channels = 1 if array.ndim == 2 else array.shape[-1] if array.ndim == 3 else 0
    if channels not in _MODES or 0 in shape:
        raise ValidationError(
            f"quire.Image: unsupported array shape {shape}; give (height, width), "
            "(height, width, 1), (height, width, 3) or (height, width, 4)"
        )
    if mode is None:
        mode = "RGB" if channels == 4 and file_type in ("jpg", "jpeg") else _MODES[channels]
    pixels = _to_uint8(array, normalize)
    if channels == 1 and pixels.ndim == 3:
        pixels = pixels[:, :, 0]
    try:
        return pillow().fromarray(pixels).convert(mode)
    except ValueError as exc:
        raise ValidationError(f"quire.Image: cannot make a {mode!r} image of shape {shape}: {exc}") from None


class Image(Media):
    """An image: a numpy array (or torch/TF tensor), a PIL image, a path or another ``Image``.

    Args:
        data_or_path: pixels of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) (a torch
            tensor: channels first), a ``PIL.Image``, or the path of an image file.
        mode: the PIL mode to convert pixels to (default: from the channels).
        caption: text shown with the image.
        grouping: W&B's grouping number, kept.
        classes: ``[{"id": 1, "name": "cat"}, ...]``, stored as W&B's classes file.
        boxes: ``{"predictions": {"box_data": [...], "class_labels": {...}}}``.
        masks: ``{"predictions": {"mask_data": array, "class_labels": {...}}}`` (or ``"path"``).
        file_type: ``png`` (default), ``jpg``, ``jpeg`` or ``bmp``, for pixels.
        normalize: rescale pixels to [0, 255] as W&B documents it (see ``_to_uint8``).
    """

    _log_type = "image-file"
    _subdir = "images"

    def __init__(
        self,
        data_or_path: Any,
        mode: str | None = None,
        caption: str | None = None,
        grouping: int | None = None,
        classes: Any = None,
        boxes: dict[str, Any] | None = None,
        masks: dict[str, Any] | None = None,
        file_type: str | None = None,
        normalize: bool = True,
    ) -> None:
        super().__init__(caption)
        self._grouping = grouping
        self._image: Any = None
        self.format: str | None = None
        self._width: int | None = None
        self._height: int | None = None
        self._boxes = _check_boxes(boxes)
        self._masks: dict[str, ImageMask] = {
            k: v if isinstance(v, ImageMask) else ImageMask(v, k) for k, v in _check_dict(masks, "masks").items()
        }
        self._classes = _check_classes(classes, self._boxes)
        if isinstance(data_or_path, Image):
            other = data_or_path
            self._file, self._sha256, self._size, self._ext = other._local(), other._sha256, other._size, other._ext
            self.format, self._width, self._height = other.format, other._width, other._height
            self._caption = caption if caption is not None else other._caption
            return
        if isinstance(data_or_path, (str, os.PathLike)):
            path = source_path(data_or_path, "quire.Image")
            pil = pillow()
            try:
                with pil.open(path) as opened:
                    self._width, self._height = opened.size
            except (pil.UnidentifiedImageError, OSError):
                raise ValidationError(
                    f"quire.Image: {str(path)!r} is not an image Pillow can read; give a PNG, JPEG, BMP or GIF file"
                ) from None
            self._set_file(path)
            self.format = self._ext
            return
        fmt = (file_type or "png").lower()
        if fmt not in _IMAGE_FORMATS:
            raise ValidationError(f"quire.Image: file_type must be one of {', '.join(_IMAGE_FORMATS)}, not {fmt!r}")
        pil = pillow()
        is_pil = isinstance(data_or_path, pil.Image)
        image = data_or_path if is_pil else _pixels_to_pil(data_or_path, mode, normalize, fmt)
        if mode is not None and image.mode != mode:
            image = image.convert(mode)
        if fmt in ("jpg", "jpeg") and image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        buf = io.BytesIO()
        image.save(buf, format="JPEG" if fmt in ("jpg", "jpeg") else fmt.upper())
        self._image = image
        self._width, self._height = image.size
        self.format = fmt
        self._set_file(tmp_file(fmt, buf.getvalue()), fmt)

    @property
    def image(self) -> Any:
        """The image as a ``PIL.Image`` (read from the file on first use)."""
        if self._image is None:
            with pillow().open(self._local()) as opened:
                opened.load()
                self._image = opened.copy()
        return self._image

    @property
    def width(self) -> int | None:
        return self._width

    @property
    def height(self) -> int | None:
        return self._height

    def to_data_array(self) -> list[Any]:
        """The pixels as nested lists (rows of pixel values), as W&B gives them."""
        image = self.image
        values = list(image.getdata())
        return [values[i * image.width : (i + 1) * image.width] for i in range(image.height)]

    def _fields(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"format": self.format, "width": self._width, "height": self._height}
        if self._grouping is not None:
            doc["grouping"] = self._grouping
        if self._boxes:
            doc["boxes"] = {k: v["box_data"] for k, v in self._boxes.items()}
        if self._masks:
            doc["masks"] = {k: m.to_json() for k, m in self._masks.items()}
        if self._classes is not None:
            doc["classes"] = {"type": "classes-file", "path": self._classes_path(), "digest": self._classes_digest()}
        return doc

    def _classes_doc(self) -> bytes:
        return json.dumps({"_type": "classes", "class_set": self._classes}, sort_keys=True).encode()

    def _classes_digest(self) -> str:
        return hashlib.sha256(self._classes_doc()).hexdigest()

    def _classes_path(self) -> str:
        return f"media/classes/{self._classes_digest()[:20]}_cls.classes.json"

    def _files(self) -> dict[str, Path]:
        files = super()._files()
        for mask in self._masks.values():
            files.update(mask._files())
        if self._classes is not None:  # written anew: its path is its content's digest
            files[self._classes_path()] = tmp_file("json", self._classes_doc())
        return files

    def _load_fields(self, doc: dict[str, Any]) -> None:
        self._image = None
        self.format = doc.get("format", self._ext)
        self._width, self._height = doc.get("width"), doc.get("height")
        self._grouping = doc.get("grouping")
        self._boxes = {k: {"box_data": v} for k, v in (doc.get("boxes") or {}).items()}
        self._masks = {}
        for key, mdoc in (doc.get("masks") or {}).items():
            self._masks[key] = ImageMask._from_json(mdoc, self._artifact)
        self._classes = None
        classes = doc.get("classes")
        if isinstance(classes, dict) and isinstance(classes.get("path"), str) and self._artifact is not None:
            (file,) = media.local_files(self._artifact, [classes["path"]])
            self._classes = json.loads(file.read_text()).get("class_set")

    @property
    def _class_set(self) -> list[dict[str, Any]] | None:
        return self._classes


def _check_dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValidationError(f"quire.Image: {what} must be a dict of layer name → {what[:-1]} data, not {value!r:.80}")
    return value


def _check_boxes(boxes: Any) -> dict[str, dict[str, Any]]:
    checked = {}
    for key, layer in _check_dict(boxes, "boxes").items():
        if isinstance(layer, BoundingBoxes2D):
            layer = layer._val
        if not isinstance(layer, dict) or not isinstance(layer.get("box_data"), list):
            raise ValidationError(f"quire.Image: boxes[{key!r}] must be a dict with a 'box_data' list (W&B's layout)")
        for box in layer["box_data"]:
            if not isinstance(box, dict) or not isinstance(box.get("position"), dict):
                raise ValidationError(
                    f"quire.Image: each box of boxes[{key!r}] needs a 'position' dict, got {box!r:.80}"
                )
        checked[key] = {"box_data": jsonable(layer["box_data"]), "class_labels": layer.get("class_labels") or {}}
    return checked


def _check_classes(classes: Any, boxes: dict[str, dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The class set: given, or gathered from the boxes' class labels as W&B does."""
    if classes is None:
        labels = {int(k): v for layer in boxes.values() for k, v in layer["class_labels"].items()}
        return [{"id": k, "name": v} for k, v in sorted(labels.items())] or None
    if isinstance(classes, Classes):
        return classes._class_set
    if not isinstance(classes, (list, tuple)) or not all(isinstance(c, dict) and "id" in c for c in classes):
        raise ValidationError('quire.Image: classes must be a list of {"id": ..., "name": ...} dicts')
    return jsonable(list(classes))


class BoundingBoxes2D:
    """One box layer of an ``Image``, as W&B's: ``{"box_data": [...], "class_labels": {...}}``."""

    def __init__(self, val: dict[str, Any], key: str) -> None:
        self._key = key
        self._val = _check_boxes({key: val})[key]


class Classes:
    """W&B's class set: ``Classes([{"id": 1, "name": "cat"}])``."""

    def __init__(self, class_set: list[dict[str, Any]]) -> None:
        checked = _check_classes(list(class_set), {})
        self._class_set = checked or []


class ImageMask:
    """One mask layer of an ``Image``: ``mask_data`` (a 2-D array of class ids) or a ``path``."""

    def __init__(self, val: Any, key: str) -> None:
        if not isinstance(val, dict) or ("mask_data" not in val and "path" not in val):
            raise ValidationError(f"quire.Image: masks[{key!r}] must be a dict with 'mask_data' (an array) or 'path'")
        self._file: Path | None = None
        self._entry_path: str | None = None
        self._artifact: Artifact | None = None
        self._class_labels = jsonable(val.get("class_labels") or {})
        if "path" in val:
            self._file = source_path(val["path"], f"quire.Image masks[{key!r}]")
        else:
            array = numpy_of(val["mask_data"])
            if array.ndim != 2 or array.dtype.kind not in "biu":
                raise ValidationError(
                    f"quire.Image: masks[{key!r}]['mask_data'] must be a 2-D array of integer class ids, "
                    f"got shape {list(array.shape)} of {array.dtype}"
                )
            buf = io.BytesIO()
            pillow().fromarray(array.astype("uint8"), mode="L").save(buf, format="PNG")
            self._file = tmp_file("png", buf.getvalue())
        self._sha256 = sha256_of(self._file)

    @property
    def path(self) -> str:
        return self._entry_path or f"media/images/mask/{self._sha256[:20]}.png"

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"_type": "mask", "path": self.path, "sha256": self._sha256}
        if self._class_labels:
            doc["class_labels"] = self._class_labels
        return doc

    def _files(self) -> dict[str, Path]:
        if self._file is None:
            assert self._artifact is not None and self._entry_path is not None
            (self._file,) = media.local_files(self._artifact, [self._entry_path])
        return {self.path: self._file}

    @classmethod
    def _from_json(cls, doc: dict[str, Any], artifact: Artifact | None) -> ImageMask:
        mask = cls.__new__(cls)
        mask._file, mask._artifact, mask._entry_path = None, artifact, doc.get("path")
        mask._sha256, mask._class_labels = doc.get("sha256", ""), doc.get("class_labels") or {}
        return mask
