"""Media kinds: objects that ``artifact.add(obj, name)`` stores as a file and
``artifact.get(name)`` reads back (``Table`` as Parquet, ``PartitionedTable`` as a pointer).

A kind registers itself with :func:`register`; it has a ``suffix`` appended to the name,
writes itself with ``obj._write(path)`` and is read by ``kind.read(artifact, path)``.
"""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from ..core.cache import cache_for
from ..core.download import cached_files, named_files
from ..core.names import check_path
from ..errors import ArtifactNotFoundError, ValidationError

if TYPE_CHECKING:
    from ..core.manifest import Entry, Manifest
    from .artifact import Artifact


class MediaKind(Protocol):
    """What a media class provides."""

    suffix: str

    def _write(self, path: Any) -> None: ...

    @classmethod
    def read(cls, artifact: Artifact, path: str) -> Any: ...


KINDS: list[type[MediaKind]] = []
# Imported on first use, not with quire: they bring in pyarrow, which costs a CLI or a
# writer process a large share of its start-up.
_BUILTIN = ("quire.sdk.table", "quire.sdk.partitioned_table")


def register(kind: type[MediaKind]) -> type[MediaKind]:
    """Class decorator: make ``kind`` storable with ``artifact.add``."""
    KINDS.append(kind)
    # Longest suffix first, so ".partitioned-table.json" is tried before any ".json".
    KINDS.sort(key=lambda k: -len(k.suffix))
    return kind


def kinds() -> list[type[MediaKind]]:
    """Every registered kind, longest suffix first (the built-in ones are loaded now)."""
    for module in _BUILTIN:
        importlib.import_module(module)
    return KINDS


def kind_of(obj: object) -> type[MediaKind]:
    """The registered kind of ``obj``."""
    for kind in kinds():
        if isinstance(obj, kind):
            return kind
    names = ", ".join(k.__name__ for k in KINDS)
    raise ValidationError(
        f"artifact.add takes a media object ({names}), not {type(obj).__name__}; use add_file for files"
    )


def names_in(manifest: Manifest) -> list[str]:
    """The media names stored in a manifest (what ``get`` accepts)."""
    return sorted(e.path[: -len(k.suffix)] for e in manifest for k in kinds() if e.path.endswith(k.suffix))


def local_files(artifact: Artifact, paths: list[str], named: bool = False) -> list[Path]:
    """The cached files holding ``paths`` of a committed version (only those are fetched).

    With ``named``, links to them that carry the paths' own names (see
    :func:`~quire.core.download.named_files`).
    """
    version = artifact._committed_version()
    entries = [artifact.get_entry(p) for p in paths]
    cache = cache_for(version.store.local_dir)
    files = cached_files(version.store.blobs, cache, entries)
    return named_files(cache, version.record.id, entries, files) if named else files


class MediaMixin:
    """``artifact.add(obj, name)`` and ``artifact.get(name)`` (mixed into ``Artifact``)."""

    def add(self, obj: Any, name: str, overwrite: bool = False) -> Entry:
        """Add a media object (a ``Table``, a ``PartitionedTable``) under ``name``."""
        art = _artifact(self)
        art._ensure_draft()
        kind = kind_of(obj)
        logical = check_path(name if name.endswith(kind.suffix) else name + kind.suffix)
        folder = tempfile.mkdtemp(prefix="quire-add-")
        with art._staging.own_folder(folder):
            path = Path(folder, "obj" + kind.suffix)
            obj._write(path)
            entry = art.add_file(path, logical, policy="mutable", overwrite=overwrite)
        return entry

    def __setitem__(self, name: str, obj: Any) -> None:
        self.add(obj, name)

    def get(self, name: str) -> Any:
        """The media object (``Table``, ``PartitionedTable``) stored under ``name``."""
        art = _artifact(self)
        for kind in kinds():
            path = name if name.endswith(kind.suffix) else name + kind.suffix
            if path in art.manifest:
                return kind.read(art, path)
        raise ArtifactNotFoundError(f"{art.name} holds no table or other object named {name!r}", names_in(art.manifest))

    def __getitem__(self, name: str) -> Any:
        return self.get(name)


def _artifact(mixin: MediaMixin) -> Artifact:
    """The ``Artifact`` a mixin method runs on (only ``Artifact`` mixes this in)."""
    return cast("Artifact", mixin)
