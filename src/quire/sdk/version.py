"""``Version``: a committed version as the sdk reads it, its record plus its store.

The manifest is loaded on first use (of a large version, only the pages asked for are
read). Reading verbs (download, verify, check_store, repair) and edits of what a committed version
may still change (aliases, tags, description, metadata) live here; the
W&B-compatible :class:`~quire.sdk.artifact.Artifact` is a facade over it.
"""

from __future__ import annotations

import errno
import itertools
import tempfile
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from ..core import download as _download
from ..core import repair as _repair
from ..core.cache import Cache, cache_for
from ..core.draft import Draft
from ..core.fence import Noted, writer_epoch
from ..core.manifest import Entry, Manifest, load_manifest
from ..core.names import check_metadata
from ..core.repair import CheckReport, RepairReport
from ..errors import ArtifactNotFoundError, QuireError, StoreError
from ..store import Store
from ..store.catalog import INHERIT, TTL, Direction, RunRecord, VersionRecord
from .links import check_ttl


class Version:
    """A committed version.

    Attributes:
        record: what the catalog holds of it.
        store: the store it is in.
        description, metadata: its editable fields, as edited (``save`` persists them).
        ttl: its time to live as set since the last save (None: unchanged).
    """

    def __init__(self, record: VersionRecord, store: Store) -> None:
        self.store = store
        self._manifest: Manifest | None = None
        self.record = record
        self.description = record.description
        self.metadata: dict[str, Any] = dict(record.metadata)
        self.ttl: TTL | None = None

    @property
    def manifest(self) -> Manifest:
        """Its manifest, loaded on first use."""
        if self._manifest is None:
            self._manifest = load_manifest(self.store.blobs, self.record.root)
        return self._manifest

    def download(
        self,
        target: Path,
        allow_missing_references: bool,
        skip_cache: bool,
        prefix: str | None = None,
        paths: list[str] | None = None,
    ) -> None:
        """Place the files in ``target``: all, those whose path starts with the string
        ``prefix``, or those at ``paths``; ``skip_cache`` takes every blob from the store
        and leaves the local cache as it was.

        Raises:
            ArtifactNotFoundError: ``prefix`` matches no path (nothing is written).
        """
        if self._manifest is None and not skip_cache:  # its pages through the cache too
            self._manifest = load_manifest(cache_for(self.store.local_dir).pages(self.store.blobs), self.record.root)
        with _download.paused_gc():  # a large version's entries: see paused_gc
            entries = self._chosen(prefix, paths)
            with tempfile.TemporaryDirectory(prefix="quire-nocache-") if skip_cache else nullcontext() as scratch:
                cache = Cache(Path(scratch)) if scratch else cache_for(self.store.local_dir)
                try:
                    _download.download(self.store.blobs, cache, entries, target, allow_missing_references)
                except QuireError:
                    raise
                except OSError as exc:  # the folder's or the cache's file system refused a write
                    raise _download_error(exc, target, cache.root) from exc

    def _chosen(self, prefix: str | None, paths: list[str] | None) -> list[Entry]:
        """The entries a download places (see :meth:`download`)."""
        manifest = self.manifest
        if paths is not None:
            return [e for e in map(manifest.get, paths) if e is not None]
        if not prefix:
            return list(manifest)
        entries = manifest.starting_with(prefix)
        if not entries:
            folder = prefix.rpartition("/")[0]
            near = manifest.under(folder) if folder else itertools.islice(manifest, 21)
            raise ArtifactNotFoundError(
                f"no path of {self.record.collection}:{self.record.version} starts with {prefix!r}; "
                "path_prefix is the start of a path inside the artifact (such as 'images/' or 'im')",
                [e.path for e in near][:21],
            )
        return entries

    def verify(self, root: Path) -> None:
        """Raise ``ValueError`` unless ``root`` holds exactly this version's bytes."""
        _download.verify(self.manifest, root)

    def check_store(self) -> CheckReport:
        """Check the store's copy: its pages and every stored blob, read and hashed there."""
        return _repair.check(self.store.blobs, self.record.root)

    def repair(self, source: Path) -> RepairReport:
        """Check the store's copy, storing damaged or missing blobs again from ``source``."""
        return _repair.repair(self.store.blobs, self.record.root, source)

    def runs(self, direction: Direction) -> list[RunRecord]:
        """The runs that made (``output``) or used (``input``) it."""
        return self.store.catalog.runs_of(self.record.id, direction)

    def save(self, aliases: list[str], tags: list[str]) -> None:
        """Persist the aliases, tags, description, metadata and TTL (all checked already)."""
        if self.ttl is not None:  # again: a link may have come since it was set
            check_ttl(self.store, self.record, self.ttl)
        self.record = self.store.catalog.update_version(
            self.record.id,
            aliases=aliases,
            tags=tags,
            description=self.description,
            metadata=check_metadata(self.metadata),
            ttl=self.ttl,
        )
        self.description, self.metadata = self.record.description, dict(self.record.metadata)
        self.ttl = None

    def new_draft(self) -> tuple[Draft, Noted]:
        """A draft holding this version's files, and the gc epoch its commit is fenced with."""
        # Before the base's manifest is read: a gc from now on makes the commit check that
        # the base still exists (else its pages and blobs may be gone).
        epoch = Noted(self.store, writer_epoch(self.store))
        draft = Draft(
            self.record.collection,
            self.record.type,
            # From the stored root, not self.manifest: that may have been loaded whole.
            manifest=load_manifest(self.store.blobs, self.record.root),
            parent=self.record,
            metadata=dict(self.metadata),
            description=self.description,
            ttl=self.record.ttl if self.record.source_id is None else INHERIT,  # as W&B's new_draft
        )
        return draft, epoch


def _download_error(exc: OSError, target: Path, cache: Path) -> StoreError:
    """A one-line error for an OS error while downloading into ``target``, by its errno
    (the class of a disk full or a name too long)."""
    into = _shown(str(target))
    where = f" ({_shown(str(exc.filename))})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreError(
            f"no space left to download into {into}{where}; free some space: "
            f"`quire cache cleanup SIZE` shrinks the cache in {cache}, and download(skip_cache=True) "
            "does not keep files in it"
        )
    if exc.errno == errno.ENAMETOOLONG:
        return StoreError(
            f"cannot download into {into}: a path is too long for the file system{where}; "
            "download into a folder with a shorter path (root=...)"
        )
    return StoreError(f"cannot download into {into}: {exc.strerror or exc}{where}")


def _shown(path: str, keep: int = 120) -> str:
    """``path`` for a message: its start and end when it is very long."""
    return path if len(path) <= 2 * keep else f"{path[:keep]}...{path[-keep:]}"
