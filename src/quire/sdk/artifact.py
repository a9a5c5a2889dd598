"""``Artifact``: a draft you fill, then a committed version you read.

A draft is mutable: ``add_file``, ``add_dir``, ``new_file``, ``add_reference``, ``add``,
``remove``. Logging it (``run.log_artifact``, ``save()``) commits it and turns the same
object into the committed version; its files can no longer change, but aliases, tags,
description and metadata can (``save()`` again). Committed versions come from
``run.use_artifact`` and ``Api().artifact``.
"""

from __future__ import annotations

import errno
import itertools
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..core import download as _download
from ..core import repair as _repair
from ..core.cache import Cache, cache_for
from ..core.diff import ManifestDiff, diff_manifests
from ..core.fence import NOTHING_NOTED, Note, Noted, writer_epoch
from ..core.lease import Hold, hold
from ..core.ingest import check_policy, ingest_dir, ingest_file
from ..core.manifest import Entry, Manifest, load_manifest
from ..core.names import check_alias, check_metadata, check_name, check_path, check_tag, check_text
from ..core.references import reference_entries
from ..core.repair import RepairReport
from ..errors import (
    ArtifactFinalizedError,
    ArtifactNotFoundError,
    ArtifactNotLoggedError,
    CollectionTypeError,
    QuireError,
    StoreError,
    ValidationError,
)
from ..store import Store
from ..store.blobs import BlobWriter
from ..store.catalog import VersionRecord
from . import media
from .commit import commit_draft, upload

if TYPE_CHECKING:
    from .run import PublicRun


class Artifact:
    """A versioned set of files: a draft until logged, then a committed version.

    Args:
        name: 1–128 of ``A-Z a-z 0-9 _ . -``; the collection the version joins.
        type: the kind of artifact (``dataset``, ``model``, ...); fixed per collection.
        description: free text.
        metadata: a JSON-serialisable dict (no NaN or infinity).
        incremental: overlay this draft's entries on the collection's latest version at
            commit time (patch mode).
    """

    #: where an upsert put this draft's files (it is then final, not yet committed)
    _upserted: str | None = None

    def __init__(
        self,
        name: str,
        type: str,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        incremental: bool = False,
        use_as: str | None = None,
    ) -> None:
        self._name = check_name(name)
        self._type = check_name(type, "artifact type")
        self.description = description
        self._metadata = check_metadata(metadata)
        self.incremental = incremental
        self._manifest = Manifest()
        self._removed: set[str] = set()
        self._parent: VersionRecord | None = None
        self._record: VersionRecord | None = None
        self._store: Store | None = None
        self._writer: BlobWriter | None = None
        self._gc_epoch: Note = NOTHING_NOTED  # noted before this draft first checks what its store holds
        self._lease: Hold | None = None  # held while it stages blobs (see quire.core.lease)
        self.aliases: list[str] = []
        self.tags: list[str] = []
        self._tmp_dirs: list[str] = []  # the files of new_file and add, kept until the commit

    # -- construction from the catalog ------------------------------------------------

    @classmethod
    def _committed(cls, record: VersionRecord, store: Store) -> Artifact:
        art = cls.__new__(cls)
        art._name, art._type = record.collection, record.type
        art.incremental = False
        art._removed, art._parent, art._writer, art._tmp_dirs = set(), None, None, []
        art._gc_epoch, art._lease = NOTHING_NOTED, None
        art._manifest = None  # type: ignore[assignment]  # loaded on first use
        art._bind(record, store)
        return art

    def _bind(self, record: VersionRecord, store: Store) -> None:
        self._record, self._store = record, store
        self.description = record.description
        self._metadata = dict(record.metadata)
        self.aliases = list(record.aliases)
        self.tags = list(record.tags)

    # -- identity ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The collection name, with ``:vN`` once committed."""
        return f"{self._name}:{self._record.version}" if self._record else self._name

    @property
    def source_name(self) -> str:
        """Same as :attr:`name`."""
        return self.name

    @property
    def collection_name(self) -> str:
        """The collection's name, without a version."""
        return self._name

    @property
    def qualified_name(self) -> str:
        """``project/name:vN``."""
        return f"{self._committed_record().project}/{self.name}"

    @property
    def type(self) -> str:
        """The artifact type."""
        return self._type

    @property
    def project(self) -> str | None:
        """The project of a committed version (None for a draft)."""
        return self._record.project if self._record else None

    @property
    def entity(self) -> str | None:
        """Always None: Quire stores have no entities (accepted in addresses, ignored)."""
        return None

    @property
    def version(self) -> str:
        """``vN`` of a committed version."""
        return self._committed_record().version

    @property
    def id(self) -> str | None:
        """The version id (None for a draft)."""
        return self._record.id if self._record else None

    @property
    def state(self) -> str:
        """``PENDING`` for a draft, ``COMMITTED`` once logged."""
        return "COMMITTED" if self._record else "PENDING"

    @property
    def created_at(self) -> str:
        """When the version was committed (ISO 8601, UTC)."""
        return self._committed_record().created_at

    @property
    def updated_at(self) -> str:
        """When the version's aliases, tags or metadata last changed."""
        return self._committed_record().updated_at

    def is_draft(self) -> bool:
        """Whether this is an uncommitted draft."""
        return self._record is None

    def _committed_record(self) -> VersionRecord:
        if self._record is None:
            raise ArtifactNotLoggedError(
                f"artifact {self._name!r} is a draft: log it (run.log_artifact or .save()) first"
            )
        return self._record

    def __repr__(self) -> str:
        return f"<Artifact {self.qualified_name if self._record else self._name + ' (draft)'}>"

    # -- content ----------------------------------------------------------------------

    @property
    def manifest(self) -> Manifest:
        """The manifest: ``manifest.entries`` maps path → entry."""
        if self._manifest is None:
            assert self._record is not None and self._store is not None
            self._manifest = load_manifest(self._store.blobs, self._record.root)
        return self._manifest

    @property
    def digest(self) -> str:
        """The version digest: a hash over the (path, entry digest) pairs."""
        return self._record.digest if self._record else self.manifest.digest

    @property
    def size(self) -> int:
        """Total bytes of the files."""
        return self._record.size if self._record else self.manifest.size

    @property
    def file_count(self) -> int:
        """How many entries."""
        return self._record.file_count if self._record else len(self.manifest)

    @property
    def metadata(self) -> dict[str, Any]:
        """User metadata (JSON). Replace it or edit it, then ``save()`` a committed version."""
        return self._metadata

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        self._metadata = check_metadata(value)

    def get_entry(self, name: str) -> Entry:
        """The entry at path ``name`` (of a large version, only its pages are read)."""
        path = check_path(name)
        entry = self.manifest.get(path)
        if entry is None:
            folder = path.rpartition("/")[0]
            near = self.manifest.under(folder) if folder else itertools.islice(self.manifest, 21)
            raise ArtifactNotFoundError(f"{self.name} has no entry {path!r}", [e.path for e in near][:21])
        return entry

    # -- drafting ---------------------------------------------------------------------

    def _ensure_draft(self) -> None:
        if self._upserted is not None:
            raise ArtifactFinalizedError(
                f"{self._name!r} was upserted into {self._upserted} and cannot change; "
                "put more files in a new Artifact and upsert that"
            )
        if self._record is not None:
            raise ArtifactFinalizedError(
                f"{self.qualified_name} is committed and cannot change; "
                "call new_draft() to make a new version from it"
            )

    def _staging(self) -> tuple[Store, BlobWriter]:
        """The store a mutable draft writes into now: its parent's, else the current run's."""
        if self._writer is None:
            self._store = self._store or _current_store()
            self._lease = hold(self._store)  # before anything is staged: gc keeps what comes after
            epoch = writer_epoch(self._store)
            if self._parent is None:  # a patch keeps the epoch noted before its base was read
                self._gc_epoch = Noted(self._store, epoch)
            self._writer = self._store.blobs.writer()
        assert self._store is not None
        return self._store, self._writer

    def _cache(self) -> Cache:
        store = self._store or _current_store()
        return cache_for(store.local_dir)

    def _put(self, entries: list[Entry], overwrite: bool) -> None:
        """Add entries atomically: all of them, or (on a conflict) none."""
        clashes = [
            e.path for e in entries
            if not overwrite and (have := self._manifest.get(e.path)) is not None and have.digest != e.digest
        ]
        if clashes:
            raise ValidationError(
                f"{len(clashes)} paths already hold other content in {self._name!r} "
                f"(e.g. {clashes[0]!r}); pass overwrite=True (add_dir: merge=True) to replace"
            )
        for entry in entries:
            self._manifest.put(entry)
            self._removed.discard(entry.path)

    def add_file(
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        is_tmp: bool | None = False,
        skip_cache: bool | None = False,
        policy: str = "mutable",
        overwrite: bool = False,
    ) -> Entry:
        """Add one file at path ``name`` (default: the file's name); returns its entry."""
        self._ensure_draft()
        check_policy(policy)
        path = Path(local_path)
        if not path.exists():
            raise ValidationError(f"add_file: {path} does not exist")
        if not path.is_file():
            raise ValidationError(f"add_file: {path} is not a file (use add_dir for folders)")
        logical = check_path(name if name is not None else path.name)
        mutable = policy == "mutable" and not skip_cache
        # A path already held, without overwrite: hash only, so a refused file stores nothing.
        held = not overwrite and not is_tmp and logical in self._manifest
        writer = self._staging()[1] if mutable and not held else None
        cache = self._cache()
        entry = ingest_file(path, logical, writer, cache.stat)
        cache.stat.save()
        if is_tmp:  # a temporary file's name is made unique by its content
            stem, dot, ext = logical.rpartition(".")
            entry.path = f"{stem}.{entry.digest[:20]}.{ext}" if dot else f"{ext}.{entry.digest[:20]}"
        self._put([entry], overwrite)
        return entry

    def add_dir(
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        skip_cache: bool | None = False,
        policy: str = "mutable",
        merge: bool = False,
    ) -> None:
        """Add every file below a folder, under the folder ``name`` (default: the root)."""
        self._ensure_draft()
        check_policy(policy)
        root = Path(local_path)
        if not root.exists():
            raise ValidationError(f"add_dir: {root} does not exist")
        if not root.is_dir():
            raise ValidationError(f"add_dir: {root} is not a folder (use add_file for files)")
        prefix = check_path(name) if name else None
        mutable = policy == "mutable" and not skip_cache
        writer = self._staging()[1] if mutable else None
        self._put(ingest_dir(root, prefix, writer, self._cache().stat), overwrite=merge)

    @contextmanager
    def new_file(self, name: str, mode: str = "x", encoding: str | None = None) -> Iterator[IO[Any]]:
        """Open a new file that is added at path ``name`` when the block ends."""
        self._ensure_draft()
        logical = check_path(name)
        if logical in self._manifest:
            raise ValidationError(f"new_file: {logical!r} is already in {self._name!r}")
        if "x" not in mode and "w" not in mode:
            raise ValidationError(f"new_file: mode {mode!r} must create a file ('x' or 'w', with 'b' for bytes)")
        folder = tempfile.mkdtemp(prefix="quire-new-file-")
        path = Path(folder, Path(logical).name)
        with self._own_folder(folder):
            with open(path, mode, encoding=encoding) as f:
                yield f
            self.add_file(path, logical, policy="mutable")

    @contextmanager
    def _own_folder(self, folder: str) -> Iterator[None]:
        """Keep ``folder`` (files this draft made) until the commit, or remove it now if
        the block fails. The file is the bytes' only copy outside the store: should its
        staged blob be lost before the commit (a gc after this process's lease ran out),
        the commit stores it again from there."""
        try:
            yield
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._tmp_dirs.append(folder)
        weakref.finalize(self, shutil.rmtree, folder, True)  # a draft dropped unlogged

    def add_reference(
        self,
        uri: str,
        name: str | None = None,
        checksum: bool = True,
        max_objects: int | None = None,
    ) -> list[Entry]:
        """Add a reference to bytes that stay at ``uri`` (``file://``, ``http(s)://``)."""
        self._ensure_draft()
        entries = reference_entries(uri, name, checksum, max_objects)
        self._put(entries, overwrite=False)
        return entries

    def add(self, obj: Any, name: str, overwrite: bool = False) -> Entry:
        """Add a media object (a ``Table``, a ``PartitionedTable``) under ``name``."""
        self._ensure_draft()
        kind = media.kind_of(obj)
        logical = check_path(name if name.endswith(kind.suffix) else name + kind.suffix)
        folder = tempfile.mkdtemp(prefix="quire-add-")
        with self._own_folder(folder):
            path = Path(folder, "obj" + kind.suffix)
            obj._write(path)
            entry = self.add_file(path, logical, policy="mutable", overwrite=overwrite)
        return entry

    def __setitem__(self, name: str, obj: Any) -> None:
        self.add(obj, name)

    def get(self, name: str) -> Any:
        """The media object (``Table``, ``PartitionedTable``) stored under ``name``."""
        for kind in media.kinds():
            path = name if name.endswith(kind.suffix) else name + kind.suffix
            if path in self.manifest:
                return kind.read(self, path)
        raise ArtifactNotFoundError(f"{self.name} holds no table or other object named {name!r}",
                                    media.names_in(self.manifest))

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def remove(self, item: str | Entry) -> None:
        """Remove a path, or every path below a folder (in an incremental draft, also from
        the latest version it is committed onto)."""
        self._ensure_draft()
        path = check_path(item.path if isinstance(item, Entry) else item)
        found = [e.path for e in self._manifest.under(path)]
        if not found and not self.incremental:
            near = [e.path for e in itertools.islice(self._manifest, 21)]
            raise ArtifactNotFoundError(f"cannot remove {path!r}: {self.name!r} has no such path or folder", near)
        for p in found:
            self._manifest.pop(p)
        if self.incremental:
            self._removed.add(path)

    # -- committing -------------------------------------------------------------------

    def _commit(
        self,
        store: Store,
        project: str,
        run_id: str | None,
        aliases: list[str],
        tags: list[str],
    ) -> bool:
        """Upload what the store lacks, then commit; returns whether a new version was made."""
        self._check_draft()
        aliases = [check_alias(a) if a != "latest" else a for a in aliases]
        tags = [check_tag(t) for t in tags]
        # The commit checks the type again, race-free; this check only spares the uploads.
        existing = store.catalog.collection_type(project, self._name)
        if existing is not None and existing != self._type:
            raise CollectionTypeError(f"{project}/{self._name}", existing, self._type)
        if self._parent is not None and self._store is not None and self._store.url != store.url:
            raise ValidationError(
                f"this draft was made from {self._parent.collection}:{self._parent.version} in "
                f"{self._store.url}; log it to that store, not to {store.url}"
            )
        done = commit_draft(self, store, project, run_id, aliases, tags)
        self._finalize(done.version, store)
        return done.created

    def _check_draft(self) -> None:
        """Refuse, before anything is written, a draft that cannot become a version."""
        self._ensure_draft()
        self._metadata = check_metadata(self._metadata)  # it may have been edited in place
        _check_description(self.description)
        clashes = self._manifest.folder_clashes()
        if clashes:
            raise ValidationError(
                f"{', '.join(map(repr, clashes[:5]))} in {self._name!r} would be both a file and "
                "a folder (a path beside paths below it); remove or rename one of them"
            )

    def _stage(self, store: Store) -> str:
        """Upload what the store lacks and the manifest, durably; returns its digest."""
        writer = self._upload(store)
        # One blob (format 1), in the same pack as the files: a contribution is read whole.
        digest = writer.add_bytes(self._manifest.to_bytes())
        writer.flush()
        return digest

    def _finalize(self, record: VersionRecord, store: Store) -> None:
        """Turn this draft into the committed version ``record``."""
        self._writer = None
        self._manifest = None  # type: ignore[assignment]  # reload: the commit may differ
        self._bind(record, store)
        self._staged()

    def _mark_upserted(self, where: str) -> None:
        """This draft is now a contribution to the pending version ``where`` (final)."""
        self._upserted = where
        self._staged()

    def _staged(self) -> None:
        """What this draft staged is referenced now: drop its lease and its own files."""
        if self._lease is not None:
            self._lease.release()
            self._lease = None
        for folder in self._tmp_dirs:
            shutil.rmtree(folder, ignore_errors=True)
        self._tmp_dirs.clear()

    def _upload(self, store: Store) -> BlobWriter:
        """Give a writer every stored entry's bytes the store lacks (see :func:`upload`)."""
        return upload(self, store)

    # -- reading ----------------------------------------------------------------------

    def _default_root(self) -> Path:
        return Path("artifacts") / f"{self._name}:{self.version}"

    def download(
        self,
        root: str | os.PathLike[str] | None = None,
        allow_missing_references: bool = False,
        skip_cache: bool | None = None,
        path_prefix: str | None = None,
    ) -> str:
        """Place the files in ``root`` (default ``./artifacts/<name>:<vN>``); returns it.

        ``skip_cache=True`` takes every blob from the store rather than the local cache,
        and leaves the cache as it was.
        """
        record = self._committed_record()
        assert self._store is not None
        target = Path(root) if root is not None else self._default_root()
        if self._manifest is None and not skip_cache:  # its pages through the cache too
            self._manifest = load_manifest(cache_for(self._store.local_dir).pages(self._store.blobs), record.root)
        with tempfile.TemporaryDirectory(prefix="quire-nocache-") if skip_cache else nullcontext() as scratch:
            cache = Cache(Path(scratch)) if scratch else cache_for(self._store.local_dir)
            try:
                _download.download(
                    self._store.blobs, cache, self.manifest, target,
                    check_path(path_prefix) if path_prefix else None, allow_missing_references,
                )
            except QuireError:
                raise
            except OSError as exc:  # the folder's or the cache's file system refused a write
                raise _download_error(exc, target, cache.root) from exc
        from .run import current_run

        run = current_run()
        if run is not None and run.store is self._store:
            self._store.catalog.use_version(run.id, record.id)
        return str(target)

    def checkout(self, root: str | os.PathLike[str] | None = None) -> str:
        """Make ``root`` hold exactly this version: download, then delete other files."""
        target = Path(self.download(root))
        paths = {e.path for e in self.manifest}  # one pass, not a page lookup per file
        for rel in _download.files_below(target):
            if rel not in paths:
                (target / rel).unlink()
        return str(target)

    def verify(self, root: str | os.PathLike[str] | None = None) -> None:
        """Raise ``ValueError`` unless ``root`` holds exactly this version's bytes."""
        self._committed_record()
        _download.verify(self.manifest, Path(root) if root is not None else self._default_root())

    def repair(self, source: str | os.PathLike[str]) -> RepairReport:
        """Check that the store holds every blob of this version intact, and store the
        damaged or missing ones again from the files below ``source`` (found by the
        entry's path there, else by digest). Nothing is committed.

        Returns:
            What was damaged, what was restored from which file, and which paths still
            lack their bytes (``report.ok`` is False then).
        """
        record = self._committed_record()
        assert self._store is not None
        return _repair.repair(self._store.blobs, record.root, Path(source))

    def file(self, root: str | os.PathLike[str] | None = None) -> str:
        """Download a one-file artifact; returns the file's path."""
        if len(self.manifest) != 1:
            raise ValidationError(f"{self.name} holds {len(self.manifest)} files; file() needs exactly one")
        target = Path(self.download(root))
        return str(target / next(iter(self.manifest)).path)

    def files(self, names: list[str] | None = None, per_page: int = 50) -> list[Entry]:
        """The entries (all, or those at the given paths)."""
        if names is None:
            return sorted(self.manifest, key=lambda e: e.path)
        return [self.get_entry(n) for n in names]

    def logged_by(self) -> PublicRun | None:
        """The run that committed this version."""
        from .run import PublicRun

        record = self._committed_record()
        runs = self._store.catalog.runs_of(record.id, "output")  # type: ignore[union-attr]
        first = min(runs, key=lambda r: r.created_at, default=None)
        return PublicRun(first, self._store) if first else None  # type: ignore[arg-type]

    def used_by(self) -> list[PublicRun]:
        """The runs that used this version."""
        from .run import PublicRun

        record = self._committed_record()
        return [PublicRun(r, self._store) for r in self._store.catalog.runs_of(record.id, "input")]  # type: ignore[union-attr, arg-type]

    # -- editing a committed version --------------------------------------------------

    def save(self, project: str | None = None, settings: Any = None) -> None:
        """Commit a draft (in an implicit run), or persist edits of a committed version."""
        if self._record is None:
            from .run import log_in_implicit_run

            log_in_implicit_run(self, project)
            return
        aliases = [check_alias(a) for a in self.aliases if a != "latest"]
        tags = [check_tag(t) for t in self.tags]
        _check_description(self.description)
        record = self._store.catalog.update_version(  # type: ignore[union-attr]
            self._record.id, aliases=aliases, tags=tags,
            description=self.description, metadata=check_metadata(self._metadata),
        )
        self._bind(record, self._store)  # type: ignore[arg-type]

    def wait(self, timeout: float | None = None) -> Artifact:
        """Return self: logging is synchronous, so a logged artifact is already committed."""
        self._committed_record()
        return self

    def delete(self, delete_aliases: bool = False) -> None:
        """Delete this version (its aliases too with ``delete_aliases=True``)."""
        record = self._committed_record()
        self._store.catalog.delete_version(record.id, delete_aliases)  # type: ignore[union-attr]

    def new_draft(self) -> Artifact:
        """A draft holding this version's files, to edit (``add_*``, ``overwrite=True``,
        ``remove``) and log as the next version, whose :attr:`parent` this is (patch mode).
        Logging costs what changed: the other files need not even exist locally."""
        record = self._committed_record()
        draft = Artifact(self._name, self._type, self.description, dict(self._metadata))
        # Before the base's manifest is read: a gc from now on makes the commit check that
        # the base still exists (else its pages and blobs may be gone).
        draft._gc_epoch = Noted(self._store, writer_epoch(self._store))  # type: ignore[arg-type]
        # From the stored root, not self.manifest: that may have been loaded whole.
        draft._manifest = load_manifest(self._store.blobs, record.root)  # type: ignore[union-attr]
        draft._parent = record
        draft._store = self._store
        return draft

    @property
    def parent(self) -> Artifact | None:
        """The version this one was made from (``new_draft``, incremental), else None."""
        store = self._store
        if self._record is None:
            return Artifact._committed(self._parent, store) if self._parent and store else None
        if self._record.parent_id is None or store is None:
            return None
        try:
            return Artifact._committed(store.catalog.version_by_id(self._record.parent_id), store)
        except ArtifactNotFoundError:
            return None

    def diff(self, other: Artifact) -> ManifestDiff:
        """What changed from this artifact to ``other``: the paths ``other`` adds, removes
        and changes (a new digest); the manifest pages both share are not even read."""
        return diff_manifests(self.manifest, other.manifest)


def _current_store() -> Store:
    from .run import current_store

    return current_store()


def _check_description(description: object) -> None:
    if description is not None:
        check_text(description, "the description")


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
