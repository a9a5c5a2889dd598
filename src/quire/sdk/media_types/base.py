"""The base of the media types: ``Media`` (a file with W&B's fields) and the helpers
every kind uses (the private media folder, hashing, paths, Pillow and numpy on demand)."""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ...errors import MissingExtraError, ValidationError
from .. import media

if TYPE_CHECKING:
    from ..artifact import Artifact

_TMP: str | None = None


def tmp_file(ext: str, data: bytes | None = None) -> Path:
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


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pillow() -> Any:
    try:
        from PIL import Image as PILImage
    except ImportError:
        raise MissingExtraError("quire.Image (and image masks, GIF videos)", "media") from None
    return PILImage


def numpy_of(data: Any) -> Any:
    """``data`` as a numpy array: torch tensors (detached, on the CPU), TF tensors, lists."""
    import numpy as np

    if hasattr(data, "detach"):
        data = data.detach()
    if hasattr(data, "cpu"):
        data = data.cpu()
    if hasattr(data, "numpy") and not isinstance(data, np.ndarray):
        data = data.numpy()
    return np.asarray(data)


def source_path(data: Any, what: str) -> Path:
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


def extension(path: Path | str) -> str:
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
        self._ext = ext if ext is not None else extension(path)
        self._sha256 = sha256_of(path)
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
        if user_file and sha256_of(self._local()) != self._sha256:
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
        obj._ext = extension(doc["path"])
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


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as plain JSON values (or a clear error)."""
    try:
        return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"cannot store {value!r:.80} as JSON: {exc}") from None
