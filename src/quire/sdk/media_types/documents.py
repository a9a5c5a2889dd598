"""``Html``, ``Object3D`` and ``Molecule``: documents and 3-D files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ...errors import ValidationError
from .base import Media, extension, numpy_of, source_path, tmp_file


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
            path = source_path(data, "quire.Html")
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
        self._set_file(tmp_file("html", self._html.encode()), "html")

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
            path = source_path(data_or_path, "quire.Object3D")
            if extension(path) not in _OBJECT3D_FORMATS:
                raise ValidationError(
                    f"quire.Object3D: {path.name!r} is not a supported 3-D file ({', '.join(_OBJECT3D_FORMATS)})"
                )
            self._set_file(path)
            return
        if isinstance(data_or_path, dict):
            raise ValidationError(
                "quire.Object3D: scene dicts (type 'lidar/beta') are not supported; give a point cloud array or a file"
            )
        points = numpy_of(data_or_path)
        if points.ndim != 2 or points.shape[1] not in (3, 4, 6) or points.dtype.kind not in "biuf":
            raise ValidationError(
                f"quire.Object3D: a point cloud must be numbers of shape (N, 3), (N, 4) or (N, 6), "
                f"got {list(points.shape)} of {points.dtype}"
            )
        self._set_file(tmp_file("pts.json", json.dumps(points.tolist(), separators=(",", ":")).encode()), "pts.json")

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
        path = source_path(data_or_path, "quire.Molecule")
        if extension(path) not in _MOLECULE_FORMATS:
            raise ValidationError(
                f"quire.Molecule: {path.name!r} is not a supported molecule file ({', '.join(_MOLECULE_FORMATS)})"
            )
        self._set_file(path)

    @classmethod
    def from_smiles(cls, *args: Any, **kwargs: Any) -> Molecule:
        raise ValidationError("quire.Molecule.from_smiles needs RDKit, which Quire does not support; save a .sdf file")

    from_rdkit = from_smiles
