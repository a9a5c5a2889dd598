"""``Artifact``: a draft you fill, then a committed version you read.

A draft is mutable: ``add_file``, ``add_dir``, ``new_file``, ``add_reference``, ``add``,
``remove``. Logging it (``run.log_artifact``, ``save()``) commits it and turns the same
object into the committed version; its files can no longer change, but aliases, tags,
description and metadata can (``save()`` again). Committed versions come from
``run.use_artifact`` and ``Api().artifact``.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..core import download as _download
from ..core.cache import Cache, cache_for
from ..core.commit import commit_draft
from ..core.diff import ManifestDiff, diff_manifests
from ..core.draft import Draft
from ..core.ingest import check_policy, ingest_dir, ingest_file
from ..core.manifest import Entry, Manifest
from ..core.names import check_aliases, check_metadata, check_name, check_path, check_tags, check_text
from ..core.references import reference_entries
from ..core.repair import RepairReport
from ..errors import (
    ArtifactFinalizedError,
    ArtifactNotFoundError,
    ArtifactNotLoggedError,
    CollectionTypeError,
    ValidationError,
)
from ..store import Store
from ..store.catalog import VersionRecord
from . import collaborative, compat
from .context import CONTEXT
from .links import LinkMixin
from .media import MediaMixin
from .staging import Staging
from .version import Version
from .views import VIEWS

if TYPE_CHECKING:
    from .collections import ArtifactCollection
    from .public_run import PublicRun
    from .run import Run


class Artifact(MediaMixin, LinkMixin):
    """A versioned set of files: a draft until logged, then a committed version.

    A facade over the draft's content (a :class:`~quire.core.draft.Draft`) and its
    :class:`~quire.sdk.staging.Staging` while it is a draft, and over a
    :class:`~quire.sdk.version.Version` once it is committed.

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
        draft = Draft(
            check_name(name),
            check_name(type, "artifact type"),
            incremental=incremental,
            metadata=check_metadata(metadata),
            description=description,
        )
        self._open(draft, Staging())

    def _open(self, draft: Draft, staging: Staging) -> None:
        self._draft: Draft | None = draft
        self._staging = staging
        self._version: Version | None = None
        self._name, self._type = draft.collection, draft.type
        self.aliases: list[str] = []
        self.tags: list[str] = []

    # -- construction from the catalog ------------------------------------------------

    @classmethod
    def _committed(cls, record: VersionRecord, store: Store) -> Artifact:
        art = cls.__new__(cls)
        art._draft, art._staging = None, Staging(store)
        art._name, art._type = record.collection, record.type
        art._bind(Version(record, store))
        return art

    def _bind(self, version: Version) -> None:
        self._version = version
        self.aliases = list(version.record.aliases)
        self.tags = list(version.record.tags)

    @property
    def _record(self) -> VersionRecord | None:
        return self._version.record if self._version else None

    @property
    def incremental(self) -> bool:
        """Whether this draft is overlaid on the collection's latest version (patch mode)."""
        return self._draft is not None and self._draft.incremental

    @incremental.setter
    def incremental(self, value: bool) -> None:
        if self._draft is not None:  # a committed version's files are fixed: nothing to overlay
            self._draft.incremental = value

    @property
    def description(self) -> str | None:
        """Free text. Set it, then ``save()`` a committed version."""
        return self._content().description

    @description.setter
    def description(self, value: str | None) -> None:
        self._content().description = value

    def _content(self) -> Draft | Version:
        """What holds the editable fields: the draft, else the committed version."""
        content = self._draft if self._draft is not None else self._version
        assert content is not None
        return content

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

    @property
    def collection(self) -> ArtifactCollection:
        """The collection this version (or draft, once logged) belongs to."""
        return VIEWS.collection(self)

    def __getattr__(self, name: str) -> Any:
        raise compat.missing(self, name)

    def __repr__(self) -> str:
        return f"<Artifact {self.qualified_name if self._record else self._name + ' (draft)'}>"

    # -- content ----------------------------------------------------------------------

    @property
    def manifest(self) -> Manifest:
        """The manifest: ``manifest.entries`` maps path → entry."""
        if self._version is not None:
            return self._version.manifest
        assert self._draft is not None
        return self._draft.manifest

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
        return self._content().metadata

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        self._content().metadata = check_metadata(value)

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
                f"{self.qualified_name} is committed and cannot change; call new_draft() to make a new version from it"
            )

    def _drafted(self) -> Draft:
        """The draft's content, if it may still change."""
        self._ensure_draft()
        assert self._draft is not None
        return self._draft

    def _cache(self) -> Cache:
        store = self._staging.store or CONTEXT.store()
        return cache_for(store.local_dir)

    def _put(self, entries: list[Entry], overwrite: bool) -> None:
        """Add entries atomically: all of them, or (on a conflict) none."""
        draft = self._drafted()
        manifest, removed = draft.manifest, draft.removed
        clashes = [
            e.path
            for e in entries
            if not overwrite and (have := manifest.get(e.path)) is not None and have.digest != e.digest
        ]
        if clashes:
            raise ValidationError(
                f"{len(clashes)} paths already hold other content in {self._name!r} "
                f"(e.g. {clashes[0]!r}); pass overwrite=True (add_dir: merge=True) to replace"
            )
        for entry in entries:
            manifest.put(entry)
            removed.discard(entry.path)

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
        held = not overwrite and not is_tmp and logical in self.manifest
        writer = self._staging.open(CONTEXT.store) if mutable and not held else None
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
        writer = self._staging.open(CONTEXT.store) if mutable else None
        self._put(ingest_dir(root, prefix, writer, self._cache().stat), overwrite=merge)

    @contextmanager
    def new_file(self, name: str, mode: str = "x", encoding: str | None = None) -> Iterator[IO[Any]]:
        """Open a new file that is added at path ``name`` when the block ends."""
        self._ensure_draft()
        logical = check_path(name)
        if logical in self.manifest:
            raise ValidationError(f"new_file: {logical!r} is already in {self._name!r}")
        if "x" not in mode and "w" not in mode:
            raise ValidationError(f"new_file: mode {mode!r} must create a file ('x' or 'w', with 'b' for bytes)")
        folder = tempfile.mkdtemp(prefix="quire-new-file-")
        path = Path(folder, Path(logical).name)
        with self._staging.own_folder(folder):
            with open(path, mode, encoding=encoding) as f:
                yield f
            self.add_file(path, logical, policy="mutable")

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

    def remove(self, item: str | Entry) -> None:
        """Remove a path, or every path below a folder (in an incremental draft, also from
        the latest version it is committed onto)."""
        draft = self._drafted()
        path = check_path(item.path if isinstance(item, Entry) else item)
        found = [e.path for e in draft.manifest.under(path)]
        if not found and not draft.incremental:
            near = [e.path for e in itertools.islice(draft.manifest, 21)]
            raise ArtifactNotFoundError(f"cannot remove {path!r}: {self.name!r} has no such path or folder", near)
        for p in found:
            draft.manifest.pop(p)
        if draft.incremental:
            draft.removed.add(path)

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
        draft = self._check_draft()
        aliases, tags = check_aliases(aliases), check_tags(tags)
        # The commit checks the type again, race-free; this check only spares the uploads.
        existing = store.catalog.collection_type(project, draft.collection)
        if existing is not None and existing != draft.type:
            raise CollectionTypeError(f"{project}/{draft.collection}", existing, draft.type)
        staged_in = self._staging.store
        if draft.parent is not None and staged_in is not None and staged_in.url != store.url:
            raise ValidationError(
                f"this draft was made from {draft.parent.collection}:{draft.parent.version} in "
                f"{staged_in.url}; log it to that store, not to {store.url}"
            )
        done = commit_draft(store, draft, self._staging, project, aliases, tags, [run_id] if run_id else [])
        self._finalize(done.version, store)
        return done.created

    def _upsert(self, run: Run, distributed_id: str | None, aliases: list[str]) -> None:
        """Add this draft's entries to a pending version as one contribution; it is final then."""
        draft = self._check_draft()
        self._upserted = collaborative.upsert(run, draft, self._staging, distributed_id, aliases)
        self._staging.done()

    def _finish(
        self,
        run: Run,
        distributed_id: str | None,
        aliases: list[str],
        expected_writers: int | None,
        timeout: float | None,
    ) -> None:
        """Merge every contribution and this draft's entries, and commit them as this version."""
        draft = self._check_draft()
        record = collaborative.finish(run, draft, self._staging, distributed_id, aliases, expected_writers, timeout)
        self._finalize(record, run.store)

    def _check_draft(self) -> Draft:
        """Refuse, before anything is written, a draft that cannot become a version."""
        draft = self._drafted()
        draft.metadata = check_metadata(draft.metadata)  # it may have been edited in place
        _check_description(draft.description)
        clashes = draft.manifest.folder_clashes()
        if clashes:
            raise ValidationError(
                f"{', '.join(map(repr, clashes[:5]))} in {self._name!r} would be both a file and "
                "a folder (a path beside paths below it); remove or rename one of them"
            )
        return draft

    def _finalize(self, record: VersionRecord, store: Store) -> None:
        """Turn this draft into the committed version ``record``."""
        self._draft = None
        self._bind(Version(record, store))  # its manifest reloaded: the commit may differ
        self._staging.done()

    # -- reading ----------------------------------------------------------------------

    def _default_root(self) -> Path:
        return Path("artifacts") / f"{self._name}:{self.version}"

    def _committed_version(self) -> Version:
        self._committed_record()
        assert self._version is not None
        return self._version

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
        version = self._committed_version()
        target = Path(root) if root is not None else self._default_root()
        version.download(
            target, check_path(path_prefix) if path_prefix else None, allow_missing_references, bool(skip_cache)
        )
        run = CONTEXT.run
        if run is not None and run.store is version.store:
            version.store.catalog.use_version(run.id, version.record.id)
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
        self._committed_version().verify(Path(root) if root is not None else self._default_root())

    def repair(self, source: str | os.PathLike[str]) -> RepairReport:
        """Check that the store holds every blob of this version intact, and store the
        damaged or missing ones again from the files below ``source`` (found by the
        entry's path there, else by digest). Nothing is committed.

        Returns:
            What was damaged, what was restored from which file, and which paths still
            lack their bytes (``report.ok`` is False then).
        """
        return self._committed_version().repair(Path(source))

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
        version = self._committed_version()
        first = min(version.runs("output"), key=lambda r: r.created_at, default=None)
        return VIEWS.public_run(first, version.store) if first else None

    def used_by(self) -> list[PublicRun]:
        """The runs that used this version."""
        version = self._committed_version()
        return [VIEWS.public_run(r, version.store) for r in version.runs("input")]

    # -- editing a committed version --------------------------------------------------

    def save(self, project: str | None = None, settings: Any = None) -> None:
        """Commit a draft (in an implicit run), or persist edits of a committed version."""
        if self._version is None:
            staged_in = self._staging.store
            CONTEXT.log(self, project, staged_in.location if staged_in else None)
            return
        aliases = [a for a in check_aliases(self.aliases) if a != "latest"]
        tags = check_tags(self.tags)
        _check_description(self.description)
        self._version.save(aliases, tags)
        self._bind(self._version)

    def wait(self, timeout: float | None = None) -> Artifact:
        """Return self: logging is synchronous, so a logged artifact is already committed."""
        self._committed_record()
        return self

    def delete(self, delete_aliases: bool = False) -> None:
        """Delete this version (its aliases too with ``delete_aliases=True``)."""
        version = self._committed_version()
        version.store.catalog.delete_version(version.record.id, delete_aliases)

    def new_draft(self) -> Artifact:
        """A draft holding this version's files, to edit (``add_*``, ``overwrite=True``,
        ``remove``) and log as the next version, whose :attr:`parent` this is (patch mode).
        Logging costs what changed: the other files need not even exist locally."""
        version = self._committed_version()
        draft, epoch = version.new_draft()
        draft.metadata = check_metadata(draft.metadata)
        art = Artifact.__new__(Artifact)
        art._open(draft, Staging(version.store, epoch))
        return art

    @property
    def parent(self) -> Artifact | None:
        """The version this one was made from (``new_draft``, incremental), else None."""
        if self._version is None:
            store, base = self._staging.store, self._draft.parent if self._draft else None
            return Artifact._committed(base, store) if base and store else None
        record, store = self._version.record, self._version.store
        if record.parent_id is None:
            return None
        try:
            return Artifact._committed(store.catalog.version_by_id(record.parent_id), store)
        except ArtifactNotFoundError:
            return None

    def diff(self, other: Artifact) -> ManifestDiff:
        """What changed from this artifact to ``other``: the paths ``other`` adds, removes
        and changes (a new digest); the manifest pages both share are not even read."""
        return diff_manifests(self.manifest, other.manifest)


def _check_description(description: object) -> None:
    if description is not None:
        check_text(description, "the description")
