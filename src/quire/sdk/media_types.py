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

import atexit
import hashlib
import io
import json
import os
import shutil
import tempfile
import warnings
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import MissingExtraError, ValidationError
from . import media

if TYPE_CHECKING:
    from .artifact import Artifact

_TMP: str | None = None


def _tmp_file(ext: str, data: bytes | None = None) -> Path:
    """A new file in this process's media folder (removed at exit), holding ``data``."""
    global _TMP
    if _TMP is None:
        _TMP = tempfile.mkdtemp(prefix="quire-media-")
        atexit.register(shutil.rmtree, _TMP, True)
    fd, name = tempfile.mkstemp(suffix="." + ext, dir=_TMP)
    with os.fdopen(fd, "wb") as f:
        if data is not None:
            f.write(data)
    return Path(name)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _pil() -> Any:
    try:
        from PIL import Image as PILImage
    except ImportError:
        raise MissingExtraError("quire.Image (and image masks, GIF videos)", "media") from None
    return PILImage


def _numpy_of(data: Any) -> Any:
    """``data`` as a numpy array: torch tensors (detached, on the CPU), TF tensors, lists."""
    import numpy as np

    if hasattr(data, "detach"):
        data = data.detach()
    if hasattr(data, "cpu"):
        data = data.cpu()
    if hasattr(data, "numpy") and not isinstance(data, np.ndarray):
        data = data.numpy()
    return np.asarray(data)


def _source_path(data: Any, what: str) -> Path:
    if isinstance(data, str) and "://" in data:
        raise ValidationError(
            f"{what}: media by reference ({data!r}) are not supported; download the file and give its path, "
            "or use artifact.add_reference for the file itself"
        )
    path = Path(data)
    if not path.exists():
        raise ValidationError(f"{what}: {str(path)!r} does not exist; give the path of an existing file")
    if not path.is_file():
        raise ValidationError(f"{what}: {str(path)!r} is not a file")
    return path


def _extension(path: Path | str) -> str:
    """The file's extension as W&B sees it (``pts.json`` counts as one)."""
    name = Path(path).name.lower()
    return "pts.json" if name.endswith(".pts.json") else name.rpartition(".")[2] if "." in name else ""


class Media:
    """A media file with W&B's fields: the base of every media type.

    A subclass sets ``_log_type`` (W&B's ``_type``, e.g. ``image-file``) and ``_subdir``
    (the folder under ``media/``), and calls :meth:`_set_file` in its constructor.
    """

    _log_type: ClassVar[str]
    _subdir: ClassVar[str]
    suffix: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_log_type" in cls.__dict__:
            cls.suffix = f".{cls._log_type}.json"
            media.register(cls)

    def __init__(self, caption: str | None = None) -> None:
        if caption is not None and not isinstance(caption, str):
            caption = str(caption)  # W&B shows whatever it is given as text
        self._caption = caption
        self._file: Path | None = None  # the local file (fetched on demand when read back)
        self._sha256 = ""
        self._size = 0
        self._ext = ""
        self._artifact: Artifact | None = None
        self._entry_path: str | None = None  # the media file's path in the artifact it came from

    def _set_file(self, path: Path, ext: str | None = None) -> None:
        self._file = path
        self._ext = ext if ext is not None else _extension(path)
        self._sha256 = _sha256(path)
        self._size = path.stat().st_size

    # -- what W&B code reads ------------------------------------------------------------

    @property
    def caption(self) -> str | None:
        return self._caption

    @property
    def _path(self) -> str:
        """The local path of the media file (fetched from its artifact on first use)."""
        return str(self._local())

    @property
    def sha256(self) -> str:
        return self._sha256

    @property
    def size(self) -> int:
        return self._size

    @property
    def path(self) -> str:
        """The media file's path inside an artifact: ``media/<kind>/<sha256[:20]>.<ext>``."""
        if self._entry_path is not None:
            return self._entry_path
        return f"media/{self._subdir}/{self._sha256[:20]}.{self._ext}"

    @classmethod
    def get_media_subdir(cls) -> str:
        """Where W&B puts this kind's files: ``media/images``, ``media/audio``, ..."""
        return f"media/{cls._subdir}"

    @classmethod
    def captions(cls, media_items: Any) -> list[str] | bool:
        """The captions of a sequence of media (False when none has one), as W&B gives them."""
        captions = [m._caption for m in media_items]
        return False if all(c is None for c in captions) else [c or "" for c in captions]

    def file_is_set(self) -> bool:
        """Whether the object has its file (W&B's name; always true once made)."""
        return self._file is not None or self._entry_path is not None

    def _local(self) -> Path:
        if self._file is None:
            if self._artifact is None or self._entry_path is None:
                raise ValidationError(f"{type(self).__name__} {self.path!r} has no file: not read from an artifact")
            (self._file,) = media.local_files(self._artifact, [self._entry_path], named=True)
        return self._file

    def _fields(self) -> dict[str, Any]:
        """The fields of the kind, beside the common ones."""
        return {}

    def to_json(self, run_or_artifact: Any = None) -> dict[str, Any]:
        """W&B's JSON description of this object (what ``<name>.<type>.json`` holds)."""
        doc: dict[str, Any] = {"_type": self._log_type, "path": self.path, "sha256": self._sha256, "size": self._size}
        if self._caption is not None:
            doc["caption"] = self._caption
        doc.update(self._fields())
        return doc

    def _files(self) -> dict[str, Path]:
        """Every file this object stores: its path in the artifact → a local file."""
        # A user's file may have changed since it was hashed (ours, in the media folder, not).
        user_file = self._file is not None and self._artifact is None and self._file.parent != Path(_TMP or "")
        if user_file and _sha256(self._local()) != self._sha256:
            raise ValidationError(
                f"{type(self).__name__}: {str(self._file)!r} changed after the object was made; make it again"
            )
        return {self.path: self._local()}

    def _write(self, path: Path) -> dict[str, Path]:
        """Write the JSON description at ``path``; return the media files to store with it."""
        files = self._files()
        path.write_text(json.dumps(self.to_json(), sort_keys=True))
        return files

    @classmethod
    def read(cls, artifact: Artifact, path: str) -> Media:
        """The object described at ``path`` of a committed version (its file is fetched later)."""
        (file,) = media.local_files(artifact, [path])
        try:
            doc = json.loads(file.read_text())
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or doc.get("_type") != cls._log_type or not isinstance(doc.get("path"), str):
            raise ValidationError(f"{artifact.name}: {path!r} is not a {cls.__name__} description ({cls._log_type})")
        return cls._from_json(doc, artifact)

    @classmethod
    def from_json(cls, json_obj: dict[str, Any], source_artifact: Artifact) -> Media:
        """W&B's name for reading a description back."""
        return cls._from_json(json_obj, source_artifact)

    @classmethod
    def _from_json(cls, doc: dict[str, Any], artifact: Artifact | None) -> Media:
        obj = cls.__new__(cls)
        Media.__init__(obj, doc.get("caption"))
        obj._artifact = artifact
        obj._entry_path = doc["path"]
        obj._sha256 = doc.get("sha256", "")
        obj._size = doc.get("size", 0)
        obj._ext = _extension(doc["path"])
        obj._load_fields(doc)
        return obj

    def _load_fields(self, doc: dict[str, Any]) -> None:
        """Set the kind's fields from a description (the inverse of :meth:`_fields`)."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Media):
            return NotImplemented
        return type(self) is type(other) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        caption = f" {self._caption!r}" if self._caption else ""
        return f"<{type(self).__name__}{caption} {self.path}>"


# -- images ---------------------------------------------------------------------------

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
    array = _numpy_of(data)
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
        return _pil().fromarray(pixels).convert(mode)
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
            path = _source_path(data_or_path, "quire.Image")
            pil = _pil()
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
        pil = _pil()
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
        self._set_file(_tmp_file(fmt, buf.getvalue()), fmt)

    @property
    def image(self) -> Any:
        """The image as a ``PIL.Image`` (read from the file on first use)."""
        if self._image is None:
            with _pil().open(self._local()) as opened:
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
            files[self._classes_path()] = _tmp_file("json", self._classes_doc())
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
        checked[key] = {"box_data": _jsonable(layer["box_data"]), "class_labels": layer.get("class_labels") or {}}
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
    return _jsonable(list(classes))


def _jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as plain JSON values (or a clear error)."""
    try:
        return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"cannot store {value!r:.80} as JSON: {exc}") from None


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
        self._class_labels = _jsonable(val.get("class_labels") or {})
        if "path" in val:
            self._file = _source_path(val["path"], f"quire.Image masks[{key!r}]")
        else:
            array = _numpy_of(val["mask_data"])
            if array.ndim != 2 or array.dtype.kind not in "biu":
                raise ValidationError(
                    f"quire.Image: masks[{key!r}]['mask_data'] must be a 2-D array of integer class ids, "
                    f"got shape {list(array.shape)} of {array.dtype}"
                )
            buf = io.BytesIO()
            _pil().fromarray(array.astype("uint8"), mode="L").save(buf, format="PNG")
            self._file = _tmp_file("png", buf.getvalue())
        self._sha256 = _sha256(self._file)

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


# -- audio, video ---------------------------------------------------------------------


class Audio(Media):
    """Sound: a path to an audio file, or samples (a 1-D array, or samples × channels) with
    ``sample_rate``, written as 16-bit WAV (floats are taken in [-1, 1])."""

    _log_type = "audio-file"
    _subdir = "audio"

    def __init__(self, data_or_path: Any, sample_rate: int | None = None, caption: str | None = None) -> None:
        super().__init__(caption)
        self._sample_rate = sample_rate
        self._duration: float | None = None
        if isinstance(data_or_path, (str, os.PathLike)):
            self._set_file(_source_path(data_or_path, "quire.Audio"))
            return
        if sample_rate is None:
            raise ValidationError("quire.Audio: sample_rate is required with raw audio data, e.g. sample_rate=16000")
        if not isinstance(sample_rate, int) or isinstance(sample_rate, bool) or sample_rate <= 0:
            raise ValidationError(f"quire.Audio: sample_rate must be a positive int, not {sample_rate!r}")
        self._set_file(_tmp_file("wav", _wav(_numpy_of(data_or_path), sample_rate)), "wav")
        self._duration = _numpy_of(data_or_path).shape[0] / sample_rate

    @property
    def sample_rate(self) -> int | None:
        return self._sample_rate

    @property
    def duration(self) -> float | None:
        return self._duration

    def _fields(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self._sample_rate is not None:
            doc["sample_rate"] = self._sample_rate
        if self._duration is not None:
            doc["duration"] = self._duration
        return doc

    def _load_fields(self, doc: dict[str, Any]) -> None:
        self._sample_rate, self._duration = doc.get("sample_rate"), doc.get("duration")


def _wav(samples: Any, rate: int) -> bytes:
    import numpy as np

    if samples.ndim not in (1, 2) or samples.size == 0:
        raise ValidationError(
            f"quire.Audio: samples must be a non-empty 1-D array or samples × channels, got shape {list(samples.shape)}"
        )
    if samples.dtype.kind == "f":
        pcm = (np.clip(np.nan_to_num(samples), -1, 1) * 32767).astype("<i2")
    elif samples.dtype == np.int16:
        pcm = samples.astype("<i2")
    elif samples.dtype.kind == "i":
        pcm = (samples >> (8 * samples.dtype.itemsize - 16)).astype("<i2")
    else:
        raise ValidationError(f"quire.Audio: samples of dtype {samples.dtype} are not supported; give floats or ints")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1 if pcm.ndim == 1 else pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


_VIDEO_FORMATS = ("gif", "mp4", "webm", "ogg")


class Video(Media):
    """A video: a path (gif, mp4, webm, ogg), or frames (time, channel, height, width), or
    a batch of them, encoded as a GIF with Pillow at ``fps`` (default 4, as W&B)."""

    _log_type = "video-file"
    _subdir = "videos"

    def __init__(
        self, data_or_path: Any, caption: str | None = None, fps: int | None = None, format: str | None = None
    ) -> None:
        super().__init__(caption)
        self._width: int | None = None
        self._height: int | None = None
        if isinstance(data_or_path, (str, os.PathLike)):
            path = _source_path(data_or_path, "quire.Video")
            if _extension(path) not in _VIDEO_FORMATS:
                raise ValidationError(f"quire.Video: {path.name!r} is not a {', '.join(_VIDEO_FORMATS)} file")
            self._set_file(path)
            return
        fmt = format or "gif"
        if fmt != "gif":
            raise ValidationError(
                f"quire.Video: encoding frames as {fmt} needs a video codec library Quire does not install; "
                "pass format='gif', or encode the video yourself and give its path"
            )
        frames = _video_frames(_numpy_of(data_or_path))
        self._height, self._width = frames.shape[1], frames.shape[2]
        pil = _pil()
        images = [pil.fromarray(f[:, :, 0] if f.shape[2] == 1 else f) for f in frames]
        buf = io.BytesIO()
        duration = int(1000 / (fps or 4))
        images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0)
        self._set_file(_tmp_file("gif", buf.getvalue()), "gif")

    def _fields(self) -> dict[str, Any]:
        return {k: v for k, v in (("width", self._width), ("height", self._height)) if v is not None}

    def _load_fields(self, doc: dict[str, Any]) -> None:
        self._width, self._height = doc.get("width"), doc.get("height")


def _video_frames(video: Any) -> Any:
    """Frames (T, H, W, C) as uint8 from W&B's (T, C, H, W) or (B, T, C, H, W), batches
    tiled side by side."""
    import numpy as np

    if video.ndim == 4:
        video = video[None]
    if video.ndim != 5 or video.shape[2] not in (1, 3, 4) or 0 in video.shape or video.dtype.kind not in "biuf":
        raise ValidationError(
            f"quire.Video: frames must be numbers of shape (time, channel, height, width) or "
            f"(batch, time, channel, height, width) with 1, 3 or 4 channels, got {list(video.shape)} of {video.dtype}"
        )
    b, t, c, h, w = video.shape
    tiled = video.transpose(1, 3, 0, 4, 2).reshape(t, h, b * w, c)
    return np.clip(tiled, 0, 255).astype(np.uint8)


# -- documents and 3-D ----------------------------------------------------------------


class Html(Media):
    """An HTML page: a string of HTML, a file object, or a path (``str`` naming an existing
    file, or a ``Path``). ``inject`` adds a ``<head>`` whose ``<base target="_blank">``
    opens links outside the viewer, as W&B does (Quire links no external stylesheet)."""

    _log_type = "html-file"
    _subdir = "html"

    def __init__(self, data: Any, inject: bool = True, data_is_not_path: bool = False) -> None:
        super().__init__(None)
        if hasattr(data, "read"):
            data = data.read()
        is_path = isinstance(data, os.PathLike) or (
            isinstance(data, str) and not data_is_not_path and "<" not in data and Path(data).is_file()
        )
        if isinstance(data, str) and not is_path and "<" not in data and data.lower().endswith((".html", ".htm")):
            is_path = True  # a missing .html path: say so rather than store its name as a page
        if is_path:
            path = _source_path(data, "quire.Html")
            page = path.read_text()
            if not inject:
                self._html: str | None = page
                self._set_file(path, "html")
                return
        elif isinstance(data, str):
            page = data
        else:
            raise ValidationError(
                f"quire.Html takes a string of HTML, a path or a file object, not {type(data).__name__}"
            )
        self._html = _inject_head(page) if inject else page
        self._set_file(_tmp_file("html", self._html.encode()), "html")

    @property
    def html(self) -> str:
        """The page (read back from an artifact: fetched when first asked for)."""
        if self._html is None:
            self._html = self._local().read_text()
        return self._html

    def _load_fields(self, doc: dict[str, Any]) -> None:
        self._html = None


def _inject_head(html: str) -> str:
    base = '<base target="_blank">'
    if "<head>" in html:
        before, after = html.split("<head>", 1)
        return before + "<head>" + base + after
    if "<html>" in html:
        before, after = html.split("<html>", 1)
        return before + "<html><head>" + base + "</head>" + after
    return "<head>" + base + "</head>" + html


_OBJECT3D_FORMATS = ("obj", "gltf", "glb", "babylon", "stl", "pts.json")


class Object3D(Media):
    """A 3-D object: a path (obj, gltf, glb, babylon, stl, pts.json) or a point cloud, a
    numpy array of shape (N, 3) (x, y, z), (N, 4) (+ category) or (N, 6) (+ r, g, b)."""

    _log_type = "object3D-file"
    _subdir = "object3D"

    def __init__(self, data_or_path: Any, caption: str | None = None, **kwargs: Any) -> None:
        super().__init__(caption)
        if isinstance(data_or_path, (str, os.PathLike)):
            path = _source_path(data_or_path, "quire.Object3D")
            if _extension(path) not in _OBJECT3D_FORMATS:
                raise ValidationError(
                    f"quire.Object3D: {path.name!r} is not a supported 3-D file ({', '.join(_OBJECT3D_FORMATS)})"
                )
            self._set_file(path)
            return
        if isinstance(data_or_path, dict):
            raise ValidationError(
                "quire.Object3D: scene dicts (type 'lidar/beta') are not supported; give a point cloud array or a file"
            )
        points = _numpy_of(data_or_path)
        if points.ndim != 2 or points.shape[1] not in (3, 4, 6) or points.dtype.kind not in "biuf":
            raise ValidationError(
                f"quire.Object3D: a point cloud must be numbers of shape (N, 3), (N, 4) or (N, 6), "
                f"got {list(points.shape)} of {points.dtype}"
            )
        self._set_file(_tmp_file("pts.json", json.dumps(points.tolist(), separators=(",", ":")).encode()), "pts.json")

    @classmethod
    def from_numpy(cls, data: Any) -> Object3D:
        return cls(data)

    @classmethod
    def from_file(cls, data_or_path: Any, file_type: str | None = None) -> Object3D:
        return cls(data_or_path)


_MOLECULE_FORMATS = ("pdb", "pqr", "mmcif", "mcif", "cif", "sdf", "sd", "gro", "mol2", "mmtf")


class Molecule(Media):
    """A molecule: a path of a format W&B shows (pdb, pqr, mmcif, mcif, cif, sdf, sd, gro,
    mol2, mmtf)."""

    _log_type = "molecule-file"
    _subdir = "molecule"

    def __init__(self, data_or_path: Any, caption: str | None = None, **kwargs: Any) -> None:
        super().__init__(caption)
        if not isinstance(data_or_path, (str, os.PathLike)):
            raise ValidationError(
                "quire.Molecule takes the path of a molecule file; building one from RDKit or SMILES is not supported"
            )
        path = _source_path(data_or_path, "quire.Molecule")
        if _extension(path) not in _MOLECULE_FORMATS:
            raise ValidationError(
                f"quire.Molecule: {path.name!r} is not a supported molecule file ({', '.join(_MOLECULE_FORMATS)})"
            )
        self._set_file(path)

    @classmethod
    def from_smiles(cls, *args: Any, **kwargs: Any) -> Molecule:
        raise ValidationError("quire.Molecule.from_smiles needs RDKit, which Quire does not support; save a .sdf file")

    from_rdkit = from_smiles


# -- values without a file -------------------------------------------------------------


class Histogram:
    """A histogram: of a sequence (``np.histogram`` with ``num_bins``, at most 512) or of
    ``np_histogram=(values, bins)``. Stored as W&B's JSON alone (``<name>.histogram.json``)."""

    suffix = ".histogram.json"
    MAX_LENGTH = 512

    def __init__(self, sequence: Any = None, np_histogram: Any = None, num_bins: int = 64) -> None:
        import numpy as np

        if np_histogram is not None:
            if len(np_histogram) != 2:
                raise ValidationError("quire.Histogram: np_histogram must be (values, bins), as np.histogram returns")
            values, bins = (list(np.asarray(x).tolist()) for x in np_histogram)
            if len(bins) != len(values) + 1:
                raise ValidationError("quire.Histogram: np_histogram needs one more bin edge than values")
        elif sequence is not None:
            array = _numpy_of(sequence)
            if array.dtype.kind not in "biuf":
                raise ValidationError(f"quire.Histogram: values of dtype {array.dtype} are not numbers")
            counts, edges = np.histogram(array, bins=num_bins)
            values, bins = counts.tolist(), edges.tolist()
        else:
            raise ValidationError("quire.Histogram needs a sequence or np_histogram=(values, bins)")
        if len(values) > self.MAX_LENGTH:
            raise ValidationError(f"quire.Histogram: at most {self.MAX_LENGTH} bins, got {len(values)}")
        self.histogram, self.bins = values, bins

    def to_json(self, run_or_artifact: Any = None) -> dict[str, Any]:
        return {"_type": "histogram", "values": self.histogram, "bins": self.bins}

    def _write(self, path: Path) -> dict[str, Path]:
        path.write_text(json.dumps(self.to_json()))
        return {}

    @classmethod
    def read(cls, artifact: Artifact, path: str) -> Histogram:
        (file,) = media.local_files(artifact, [path])
        doc = json.loads(file.read_text())
        if not isinstance(doc, dict) or doc.get("_type") != "histogram":
            raise ValidationError(f"{artifact.name}: {path!r} is not a histogram")
        return cls(np_histogram=(doc["values"], doc["bins"]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Histogram):
            return NotImplemented
        return self.histogram == other.histogram and self.bins == other.bins

    __hash__ = None  # type: ignore[assignment]


media.register(Histogram)


class _Unsupported:
    """A W&B data type Quire does not store: making one says so, naming it."""

    _hint: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise ValidationError(
            f"wandb.{type(self).__name__} is not supported by Quire (see docs/compatibility.md); {self._hint}"
        )


class Plotly(_Unsupported):
    _hint = "save the figure with fig.write_html(path) and add quire.Html(path)"


class Bokeh(_Unsupported):
    _hint = "save the plot as HTML (bokeh.io.save) and add quire.Html(path)"


class Graph(_Unsupported):
    _hint = "store the graph as a file (add_file) or a Table of edges"


MEDIA_TYPES: tuple[type[Media], ...] = (Image, Audio, Video, Html, Object3D, Molecule)
_BY_TYPE = {kind._log_type: kind for kind in MEDIA_TYPES}


def media_from_cell(cell: dict[str, Any], source: Artifact | None) -> Media:
    """The media object a table's media cell describes (its file read from ``source``)."""
    doc = json.loads(cell["meta"])
    kind = _BY_TYPE.get(doc.get("_type"))
    if kind is None:
        raise ValidationError(f"a media cell of unknown type {doc.get('_type')!r}: {cell['path']!r}")
    return kind._from_json(doc, source)
