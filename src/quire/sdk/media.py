"""Media kinds: objects that ``artifact.add(obj, name)`` stores and ``artifact.get(name)``
reads back (``Table`` as Parquet, ``PartitionedTable`` as a pointer, ``Image`` and the
other W&B media types of :mod:`quire.sdk.media_types` as W&B's JSON and a media file).

A kind registers itself with :func:`register`. It has a ``suffix`` appended to the name;
``obj._write(path)`` writes its main file at ``path`` and returns the other files it
stores, by their path in the artifact (an image's ``media/images/<digest>.png``, the
media cells of a table); ``kind.read(artifact, path)`` reads it back. ``add`` puts every
file of one object into the draft at once, or none of them.
"""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from ..core.cache import cache_for
from ..core.download import cached_files, named_files
from ..core.ingest import ingest_file
from ..core.names import check_path
from ..errors import ValidationError, WrongTypeError
from .context import CONTEXT

if TYPE_CHECKING:
    from ..core.manifest import Entry, Manifest
    from .artifact import Artifact


class MediaKind(Protocol):
    """What a media class provides."""

    suffix: str

    def _write(self, path: Path) -> dict[str, Path] | None: ...  # the other files it stores (None: none)

    @classmethod
    def read(cls, artifact: Artifact, path: str) -> Any: ...


KINDS: list[type[MediaKind]] = []
# Imported on first use, not with quire: they bring in pyarrow, which costs a CLI or a
# writer process a large share of its start-up.
_BUILTIN = ("quire.sdk.table", "quire.sdk.partitioned_table", "quire.sdk.media_types")


def register(kind: type[Any]) -> type[Any]:
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
    """The registered kind of ``obj``; a clear error naming its type when it has none."""
    for kind in kinds():
        if isinstance(obj, kind):
            return kind
    kind_name = type(obj).__name__
    if type(obj).__module__.split(".")[0] == "wandb":
        raise WrongTypeError(
            f"artifact.add got a wandb.{kind_name} made by the wandb package; make it with quire "
            f"(import quire as wandb; wandb.{kind_name}(...))"
        )
    names = ", ".join(sorted(k.__name__ for k in KINDS))
    raise WrongTypeError(
        f"artifact.add stores a media object ({names}), not a {kind_name}; "
        "use add_file or add_dir for files (see docs/compatibility.md)"
    )


def names_in(manifest: Manifest) -> list[str]:
    """The media names stored in a manifest (what ``get`` accepts)."""
    names = set()
    for entry in manifest:
        kind = next((k for k in kinds() if entry.path.endswith(k.suffix)), None)
        if kind is not None:
            names.add(entry.path[: -len(kind.suffix)])
    return sorted(names)


def local_files(artifact: Artifact, paths: list[str], named: bool = False) -> list[Path]:
    """The cached files holding ``paths`` of a committed version (only those are fetched).

    With ``named``, links to them that carry the paths' own names (see
    :func:`~quire.core.download.named_files`).
    """
    version = artifact._committed_version("get")
    entries = [artifact.get_entry(p) for p in paths]
    cache = cache_for(version.store.local_dir)
    files = cached_files(version.store.blobs, cache, entries)
    return named_files(cache, version.record.id, entries, files) if named else files


class MediaMixin:
    """``artifact.add(obj, name)`` and ``artifact.get(name)`` (mixed into ``Artifact``)."""

    def add(self, obj: Any, name: str, overwrite: bool = False) -> Entry:
        """Add a media object (``Table``, ``Image``, ``Audio``, ...) under ``name``; returns
        the entry of its main file (``name`` + the kind's suffix)."""
        art = _artifact(self)
        art._ensure_draft()
        kind = kind_of(obj)
        if not isinstance(name, str):
            raise ValidationError(f"artifact.add: the name must be a string, not {type(name).__name__}")
        check_path(name)  # the name itself: "a/.." must not pass as the file "a/...table.parquet"
        logical = check_path(name if name.endswith(kind.suffix) else name + kind.suffix)
        needs: list[str] = getattr(obj, "_needs", list)()  # files it points at (a JoinedTable's tables by name)
        absent = [p for p in needs if p not in art.manifest]
        if absent:
            raise ValidationError(
                f"{type(obj).__name__} points at {absent[0]!r}, which {art.name!r} does not hold; "
                "add that table to the artifact first (artifact.add(table, name))"
            )
        folder = tempfile.mkdtemp(prefix="quire-add-")
        with art._staging.own_folder(folder):
            path = Path(folder, "obj" + kind.suffix)
            files = {logical: path, **(obj._write(path) or {})}  # a kind of one file may return None
            stat = art._cache().stat
            # Hashed first and staged only once nothing clashes, so a refused add stores nothing.
            hashed = [ingest_file(p, check_path(lp), None, stat) for lp, p in files.items()]
            clashes = [
                e.path
                for e in hashed
                if not overwrite and (have := art.manifest.get(e.path)) is not None and have.digest != e.digest
            ]
            if clashes:
                raise ValidationError(
                    f"{clashes[0]!r} already holds other content in {art.name!r}; pass overwrite=True to replace it"
                )
            writer = art._staging.open(CONTEXT.store)
            entries = [ingest_file(p, e.path, writer, stat) for e, p in zip(hashed, files.values(), strict=True)]
            stat.save()
            art._put(entries, overwrite)
        return entries[0]

    def __setitem__(self, name: str, obj: Any) -> None:
        self.add(obj, name)

    def get(self, name: str) -> Any:
        """The media object stored under ``name``, or None when there is none (as W&B)."""
        art = _artifact(self)
        for kind in kinds():
            path = name if name.endswith(kind.suffix) else name + kind.suffix
            if path in art.manifest:
                return kind.read(art, path)
        return None

    def __getitem__(self, name: str) -> Any:
        return self.get(name)


def _artifact(mixin: MediaMixin) -> Artifact:
    """The ``Artifact`` a mixin method runs on (only ``Artifact`` mixes this in)."""
    return cast("Artifact", mixin)
