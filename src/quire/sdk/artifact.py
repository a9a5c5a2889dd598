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
from ..core.repair import CheckReport, RepairReport
from ..errors import (
    ArtifactFinalizedError,
    ArtifactNotFoundError,
    ArtifactNotLoggedError,
    CollectionTypeError,
    EntryNotFoundError,
    ValidationError,
)
from ..store import Store
from ..store.catalog import VersionRecord
from . import collaborative, compat
from .context import CONTEXT
from .entry import ARTIFACT_SCHEME, DIGEST_ALGORITHM, ArtifactFiles, ArtifactManifestEntry
from .links import LinkMixin
from .media import MediaMixin, kinds
from .staging import Staging
from .version import Version
from .views import VIEWS

if TYPE_CHECKING:
    from .collections import ArtifactCollection
    from .public_run import PublicRun
    from .run import Run


#: W&B reserves types with this prefix for itself ...
RESERVED_TYPE_PREFIX = "wandb-"
#: ... and, for these types, names with these prefixes ("" reserves every name)
RESERVED_NAMES = {"job": "", "run_table": "run-", "code": "source-"}


def is_internal_type(name: str, type_: str) -> bool:
    """Whether ``type_`` is one of W&B's internal types for an artifact called ``name``
    (``wandb-*``; ``job``; ``run_table`` of ``run-*`` names; ``code`` of ``source-*`` ones)."""
    reserved = RESERVED_NAMES.get(type_)
    return type_.startswith(RESERVED_TYPE_PREFIX) or (reserved is not None and name.startswith(reserved))


def check_user_type(name: str, type_: str) -> str:
    """``type_``, unless W&B keeps it for its own artifacts named so (``ValidationError``,
    a ``ValueError`` as W&B's)."""
    if is_internal_type(name, type_):
        raise ValidationError(
            f"artifact type {type_!r} is reserved for W&B's internal use for {name!r} (types starting with "
            f"{RESERVED_TYPE_PREFIX!r}, 'job', 'run_table' of 'run-' names, 'code' of 'source-' names); "
            "choose another type, e.g. 'dataset' or 'model'"
        )
    return type_


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
        use_as: accepted and ignored (deprecated in W&B, where it changes nothing either).
        storage_region: accepted and ignored: the bytes go to the store's blob store,
            wherever that is.
        digest_algorithm: W&B's ``"MD5"`` or ``"XXH128"``, accepted and ignored: Quire
            addresses and checks every file by its BLAKE3 digest (see
            :attr:`digest_algorithm`; an entry's ``md5`` gives the real MD5).
    """

    #: where an upsert put this draft's files (it is then final, not yet committed)
    _upserted: str | None = None
    #: whether delete() deleted this version
    _deleted = False
    #: of a new_draft(): its source's project, where save() outside a run logs it (W&B's)
    _source_project: str | None = None

    def __init__(
        self,
        name: str,
        type: str,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        incremental: bool = False,
        use_as: str | None = None,
        storage_region: str | None = None,
        digest_algorithm: str = "MD5",
    ) -> None:
        draft = Draft(
            check_name(name),
            check_user_type(check_name(name), check_name(type, "artifact type")),
            incremental=incremental,
            metadata=check_metadata(metadata),
            description=description,
        )
        self._open(draft, Staging())

    @classmethod
    def _internal(cls, name: str, type: str) -> Artifact:
        """A draft of one of W&B's internal types (a run's ``run_table`` of a ``run-``
        name), which a user's ``Artifact(name, type)`` is refused."""
        art = cls.__new__(cls)
        art._open(Draft(check_name(name), check_name(type, "artifact type")), Staging())
        return art

    def _open(self, draft: Draft, staging: Staging) -> None:
        self._draft: Draft | None = draft
        self._staging = staging
        self._version: Version | None = None
        self._name, self._type = draft.collection, draft.type
        self.aliases: list[str] = []
        self.tags: list[str] = []
        self._final = False
        self._distributed_id: str | None = None
        #: local path as given to add_file / add_dir → its path in the artifact
        self._added: dict[str, str] = {}

    # -- construction from the catalog ------------------------------------------------

    @classmethod
    def _committed(cls, record: VersionRecord, store: Store) -> Artifact:
        art = cls.__new__(cls)
        art._draft, art._staging = None, Staging(store)
        art._name, art._type = record.collection, record.type
        art._final, art._added, art._distributed_id = False, {}, None
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
    def distributed_id(self) -> str | None:
        """The id that the writers of one collaborative version share: what
        ``upsert_artifact`` and ``finish_artifact`` use when they are given none (before
        the run's ``group``); set by them when they are."""
        return self._distributed_id

    @distributed_id.setter
    def distributed_id(self, value: str | None) -> None:
        if value is not None and not isinstance(value, str):
            raise ValidationError(f"distributed_id must be a string, not {type(value).__name__}")
        self._distributed_id = value

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
    def collection_name(self) -> str:
        """The collection's name, without a version."""
        return self._name

    @property
    def qualified_name(self) -> str:
        """``project/name:vN``."""
        return f"{self._committed_record('qualified_name').project}/{self.name}"

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
        return self._committed_record("version").version

    @property
    def id(self) -> str | None:
        """The version id (None for a draft)."""
        return self._record.id if self._record else None

    @property
    def state(self) -> str:
        """``PENDING`` for a draft, ``COMMITTED`` once logged, ``DELETED`` after ``delete()``."""
        if self._deleted:
            return "DELETED"
        return "COMMITTED" if self._record else "PENDING"

    @property
    def created_at(self) -> str:
        """When the version was committed (ISO 8601, UTC)."""
        return self._committed_record("created_at").created_at

    @property
    def updated_at(self) -> str:
        """When the version's aliases, tags or metadata last changed."""
        return self._committed_record("updated_at").updated_at

    def is_draft(self) -> bool:
        """Whether this is an uncommitted draft."""
        return self._record is None

    def _committed_record(self, what: str) -> VersionRecord:
        """The committed version's record; of a draft, W&B's error naming ``what`` (the
        field or method a draft cannot have: ``'Artifact.version' used prior to logging``)."""
        if self._record is None:
            raise ArtifactNotLoggedError(
                f"'Artifact.{what}' used prior to logging artifact {self._name!r}, a draft: "
                "log it first (run.log_artifact(artifact) or artifact.save())",
                name=what,
                obj=self,
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
        """The version digest: a hex hash over the (path, entry digest, reference) terms,
        so the same files give the same digest. Hex like W&B's, which is an MD5 over its
        manifest; Quire's is BLAKE3-based and independent of how the manifest is paged."""
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

    # -- drafting ---------------------------------------------------------------------

    def _ensure_draft(self, editing: bool = True) -> None:
        """Refuse a change to what is no longer a draft (``editing=False``: a commit,
        which a finalized draft still allows)."""
        if self._upserted is not None:
            raise ArtifactFinalizedError(
                f"{self._name!r} was upserted into {self._upserted} and cannot change; "
                "put more files in a new Artifact and upsert that"
            )
        if self._record is not None:
            raise ArtifactFinalizedError(
                f"{self.qualified_name} is committed and cannot change; call new_draft() to make a new version from it"
            )
        if self._final and editing:
            raise ArtifactFinalizedError(
                f"{self._name!r} was finalized (finalize()) and its files cannot change; log it, "
                "or put more files in a new Artifact"
            )

    def _drafted(self, editing: bool = True) -> Draft:
        """The draft's content, if it may still change (``editing=False``: be committed)."""
        self._ensure_draft(editing)
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
            if entry.local_path is not None:
                self._added[entry.local_path] = entry.path

    def add_file(
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        is_tmp: bool | None = False,
        skip_cache: bool | None = False,
        policy: str = "mutable",
        overwrite: bool = False,
    ) -> ArtifactManifestEntry:
        """Add one file at path ``name`` (default: the file's name); returns its entry.

        A path the draft holds already, with other bytes, is refused unless
        ``overwrite=True``; ``is_tmp=True`` makes the name unique by the file's digest.
        ``skip_cache`` and ``policy="immutable"`` store nothing now: the file is read at
        commit time, so it must not change before then.
        """
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
        if is_tmp:  # as W&B: the name's first dot-part becomes 20 hex digits of the digest
            folder, slash, file_name = logical.rpartition("/")
            _, dot, rest = file_name.partition(".")
            entry.path = f"{folder}{slash}{entry.digest[:20]}{dot}{rest}"
        self._put([entry], overwrite)
        return ArtifactManifestEntry.of(entry, self)

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
    def new_file(
        self, name: str, mode: str = "x", encoding: str | None = None, policy: str = "mutable"
    ) -> Iterator[IO[Any]]:
        """Open a new file that is added at path ``name`` when the block ends.

        Mode ``"x"`` (the default) refuses a path the draft holds already; ``"w"``
        replaces it, as W&B's ``overwrite``. ``policy`` is accepted: the file is Quire's
        own temporary copy either way.
        """
        self._ensure_draft()
        check_policy(policy)
        logical = check_path(name)
        if "x" not in mode and "w" not in mode:
            raise ValidationError(f"new_file: mode {mode!r} must create a file ('x' or 'w', with 'b' for bytes)")
        overwrite = "x" not in mode
        if not overwrite and logical in self.manifest:
            raise ValidationError(
                f"new_file: {logical!r} is already in {self._name!r}; open it with mode='w' to replace it"
            )
        folder = tempfile.mkdtemp(prefix="quire-new-file-")
        path = Path(folder, Path(logical).name)
        with self._staging.own_folder(folder):
            with open(path, mode, encoding=encoding) as f:
                yield f
            self.add_file(path, logical, policy="mutable", overwrite=overwrite)

    def add_reference(
        self,
        uri: str,
        name: str | None = None,
        checksum: bool = True,
        max_objects: int | None = None,
    ) -> list[ArtifactManifestEntry]:
        """Add a reference to bytes that stay at ``uri`` (``file://``, ``http(s)://``,
        ``s3://``); returns its entries (a folder's: one per file).

        A ``wandb-artifact://<version id>/<path>`` URI (an entry's ``ref_url()``) adds that
        file of another version of this store, under ``name`` (default: its path there).
        Its bytes are shared, not copied, and the new entry holds them as stored bytes:
        it does not depend on the other version being kept (W&B's entry stays a reference
        to it).
        """
        self._ensure_draft()
        if uri.startswith(f"{ARTIFACT_SCHEME}://"):
            entries = [self._entry_of_version(uri, name)]
        else:
            entries = reference_entries(uri, name, checksum, max_objects)
        self._put(entries, overwrite=False)
        return [ArtifactManifestEntry.of(e, self) for e in entries]

    def _entry_of_version(self, uri: str, name: str | None) -> Entry:
        """The entry a ``wandb-artifact://`` URI names, at ``name`` (see :meth:`add_reference`)."""
        vid, _, path = uri[len(ARTIFACT_SCHEME) + 3 :].partition("/")
        if not vid or not path:
            raise ValidationError(
                f"invalid reference {uri!r}: expected {ARTIFACT_SCHEME}://<version id>/<path> (an entry's ref_url())"
            )
        store = self._staging.store or CONTEXT.store()
        source = Artifact._committed(store.catalog.version_by_id(vid), store).get_entry(path)
        if not source.stored:  # a reference of that version: this one points at the same URI
            return Entry(check_path(name or source.path), source.digest, source.size, source.ref, dict(source.extra))
        return Entry(check_path(name or source.path), source.digest, source.size)

    def remove(self, item: str | os.PathLike[str] | Entry) -> None:
        """Remove a path (a string, a ``Path`` or an entry), or every path below a folder
        (in an incremental draft, also from the latest version it is committed onto).

        Raises:
            EntryNotFoundError: the draft holds no such path or folder (a
                ``FileNotFoundError``, as in W&B, and a ``KeyError``); nothing is removed.
        """
        draft = self._drafted()
        path = check_path(item.path if isinstance(item, Entry) else _text(item))
        found = [e.path for e in draft.manifest.under(path)]
        if not found and not draft.incremental:
            near = [e.path for e in itertools.islice(draft.manifest, 21)]
            raise EntryNotFoundError(f"cannot remove {path!r}: {self.name!r} has no such path or folder", near)
        for p in found:
            draft.manifest.pop(p)
        if draft.incremental:
            draft.removed.add(path)

    def finalize(self) -> None:
        """Fix the draft's files: later ``add_*`` and ``remove`` raise
        ``ArtifactFinalizedError``. Logging it still commits it (logging finalizes a draft
        by itself; call this to guard against later edits before that)."""
        self._final = True

    def get_added_local_path_name(self, local_path: str | os.PathLike[str]) -> str | None:
        """The path inside the artifact of a file added from ``local_path`` (by
        ``add_file`` or ``add_dir``, the local path spelled as then, or absolute), else None."""
        given = os.fspath(local_path)
        if given in self._added:
            return self._added[given]
        absolute = os.path.abspath(given)
        return next((p for local, p in self._added.items() if os.path.abspath(local) == absolute), None)

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
        distributed_id = distributed_id if distributed_id is not None else self._distributed_id
        self._upserted = collaborative.upsert(run, draft, self._staging, distributed_id, aliases)
        self._distributed_id = distributed_id
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
        distributed_id = distributed_id if distributed_id is not None else self._distributed_id
        record = collaborative.finish(run, draft, self._staging, distributed_id, aliases, expected_writers, timeout)
        self._finalize(record, run.store)
        self._distributed_id = distributed_id

    def _check_draft(self) -> Draft:
        """Refuse, before anything is written, a draft that cannot become a version."""
        draft = self._drafted(editing=False)
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

    def _default_root(self, include_version: bool = True) -> str:
        """W&B's default folder: ``<artifact dir>/<name>:<vN>`` (``checkout``: no ``:vN``)."""
        name = self.source_name if include_version else self.source_name.split(":")[0]
        return default_root(name)

    def _committed_version(self, what: str) -> Version:
        """The committed version; of a draft, :meth:`_committed_record`'s error."""
        self._committed_record(what)
        assert self._version is not None
        return self._version

    def download(
        self,
        root: str | os.PathLike[str] | None = None,
        allow_missing_references: bool = False,
        skip_cache: bool | None = None,
        path_prefix: str | os.PathLike[str] | None = None,
        multipart: bool | None = None,
    ) -> str:
        """Place the files in ``root``; returns it. Files already there with the right
        bytes are kept, others replaced; files of no entry are left (see :meth:`checkout`).

        Args:
            root: the folder; by default ``./artifacts/<name>:<vN>`` made absolute, below
                ``$QUIRE_ARTIFACT_DIR`` or else ``$WANDB_ARTIFACT_DIR`` when set (the path
                returned is then absolute; a ``root`` given is returned as given, as W&B does).
            allow_missing_references: skip references whose bytes are gone.
            skip_cache: take every blob from the store rather than the local cache, and
                leave the cache as it was.
            path_prefix: only the files whose path starts with this string (``"im"``
                matches ``images/a.png`` and ``imx.txt``; ``"images/"`` only the folder).
            multipart: accepted and ignored (W&B's parallel parts of large files: Quire's
                transfers are already chunked by its blob store).

        Raises:
            ArtifactNotLoggedError: a draft (log it first).
            ValidationError: ``path_prefix`` leaves the artifact (``..``, absolute).
            ArtifactNotFoundError: no path starts with ``path_prefix``; nothing is written.
        """
        self._committed_record("download")
        return self._place(root, skip_cache, allow_missing_references, prefix=_check_prefix(path_prefix))

    def _place(
        self,
        root: str | os.PathLike[str] | None,
        skip_cache: bool | None,
        allow_missing_references: bool = False,
        prefix: str | None = None,
        paths: list[str] | None = None,
    ) -> str:
        """Download all files, a prefix's or those at ``paths`` into ``root`` (default:
        :meth:`_default_root`); returns the folder as :meth:`download` does."""
        version = self._committed_version("download")
        target = os.fspath(root) if root is not None else self._default_root()
        version.download(Path(target), allow_missing_references, bool(skip_cache), prefix, paths)
        run = CONTEXT.run
        if run is not None and run.store is version.store:
            version.store.catalog.use_version(run.id, version.record.id)
        return target

    def checkout(self, root: str | os.PathLike[str] | None = None) -> str:
        """Make ``root`` hold exactly this version: download, then delete other files.
        The default root is W&B's: ``<artifact dir>/<name>``, without the version, so
        checking out another version replaces this one's files."""
        self._committed_record("checkout")
        target = self.download(root if root is not None else self._default_root(include_version=False))
        paths = {e.path for e in self.manifest}  # one pass, not a page lookup per file
        for rel in _download.files_below(Path(target)):
            if rel not in paths:
                (Path(target) / rel).unlink()
        return target

    def verify(self, root: str | os.PathLike[str] | None = None) -> None:
        """Raise ``ValueError`` unless ``root`` (default: :meth:`download`'s) holds
        exactly this version's bytes, checked against their BLAKE3 digests."""
        self._committed_version("verify").verify(Path(root) if root is not None else Path(self._default_root()))

    def check_store(self) -> CheckReport:
        """Check that the store holds every blob of this version intact, reading each
        from the store (not the local cache) and hashing it; nothing is written to disk.

        Each pack is read once, in order, and packs and large blobs in parallel. A blob
        found corrupt is set aside, as every read does (see :mod:`quire.store.blobs`):
        it then counts as missing, so the next log of its bytes stores them again, and
        :meth:`repair` can restore it from a folder of the files.

        Returns:
            The damaged files by path (``report.ok`` is False when there are any).

        Raises:
            CorruptBlobError, ArtifactNotFoundError: the manifest's own pages cannot be
                read (:meth:`repair` makes them again from a folder of the files).
        """
        return self._committed_version("check_store").check_store()

    def repair(self, source: str | os.PathLike[str]) -> RepairReport:
        """Check that the store holds every blob of this version intact, and store the
        damaged or missing ones again from the files below ``source`` (found by the
        entry's path there, else by digest). Nothing is committed.

        Returns:
            What was damaged, what was restored from which file, and which paths still
            lack their bytes (``report.ok`` is False then).
        """
        return self._committed_version("repair").repair(Path(source))

    def file(self, root: str | os.PathLike[str] | None = None) -> str:
        """Download a one-file artifact; returns the file's path. The default root is
        W&B's for this call: ``./artifacts/<name>:<vN>``, relative, whatever the
        artifact dir."""
        self._committed_record("file")
        if len(self.manifest) != 1:
            raise ValidationError(
                f"{self.name} holds {len(self.manifest)} files; file() needs exactly one: call download() "
                "for all of them, or get_entry(path).download() for one"
            )
        entry = self.get_entry(next(iter(self.manifest)).path)
        return entry.download(root if root is not None else os.path.join(".", "artifacts", self.source_name))

    def get_entry(self, name: str | os.PathLike[str]) -> ArtifactManifestEntry:
        """The entry at path ``name``, bound to this artifact (it can ``download()``
        itself); a media object's name without its suffix finds it too (``"table"`` for
        ``table.table.parquet``). Of a large version, only the pages it needs are read.

        Raises:
            ValidationError: ``name`` leaves the artifact (``..``, absolute).
            EntryNotFoundError: no such entry (a ``KeyError``, as in W&B).
        """
        path = check_path(_text(name))
        entry = self.manifest.get(path)
        if entry is None:
            entry = next((e for k in kinds() if (e := self.manifest.get(path + k.suffix)) is not None), None)
        if entry is None:
            folder = path.rpartition("/")[0]
            near = self.manifest.under(folder) if folder else itertools.islice(self.manifest, 21)
            raise EntryNotFoundError(f"{self.name} has no entry {path!r}", [e.path for e in near][:21])
        return ArtifactManifestEntry.of(entry, self)

    def get_path(self, name: str | os.PathLike[str]) -> ArtifactManifestEntry:
        """W&B's older name for :meth:`get_entry`."""
        return self.get_entry(name)

    def files(self, names: list[str] | None = None, per_page: int = 50, start: str | None = None) -> ArtifactFiles:
        """The entries (all, or those at the paths ``names`` that exist), in path order,
        loaded ``per_page`` at a time; ``start`` is an earlier listing's ``cursor``, to
        resume after it. Each has W&B's file fields (``name``, ``size``, ``mimetype``,
        ``md5``, ``download()``)."""
        return ArtifactFiles(self, names, per_page, start)

    @property
    def digest_algorithm(self) -> str:
        """``"BLAKE3"``: what the files' digests and the version digest are made with.
        W&B shows MD5 (or XXH128) here; Quire keeps BLAKE3, the digest its store
        addresses and verifies every file by (``entry.md5`` computes a real MD5)."""
        return DIGEST_ALGORITHM

    def json_encode(self) -> dict[str, Any]:
        """The reference to this version that W&B puts in a run's config."""
        record = self._committed_record("json_encode")
        return {
            "_type": "artifactVersion",
            "_version": "v0",
            "id": record.id,
            "version": record.version,
            "sequenceName": self.source_name.split(":")[0],
            "usedAs": None,  # W&B's use_as is deprecated and always None
        }

    def logged_by(self) -> PublicRun | None:
        """The run that committed this version."""
        version = self._committed_version("logged_by")
        first = min(version.runs("output"), key=lambda r: r.created_at, default=None)
        return VIEWS.public_run(first, version.store) if first else None

    def used_by(self) -> list[PublicRun]:
        """The runs that used this version."""
        version = self._committed_version("used_by")
        return [VIEWS.public_run(r, version.store) for r in version.runs("input")]

    # -- editing a committed version --------------------------------------------------

    def save(self, project: str | None = None, settings: Any = None) -> None:
        """Commit a draft (in an implicit run), or persist edits of a committed version."""
        if self._version is None:
            staged_in = self._staging.store
            if project is None and CONTEXT.run is None:
                project = self._source_project
            CONTEXT.log(self, project, staged_in.location if staged_in else None)
            return
        # latest moves here only when it was added since this version was read: a stale
        # copy that held it must not take it back from a newer version.
        held = "latest" in self._version.record.aliases
        aliases = [a for a in check_aliases(self.aliases) if a != "latest" or not held]
        tags = check_tags(self.tags)
        _check_description(self.description)
        self._version.save(aliases, tags)
        self._bind(self._version)

    def wait(self, timeout: float | None = None) -> Artifact:
        """Return self: logging is synchronous, so a logged artifact is already committed."""
        self._committed_record("wait")
        return self

    def delete(self, delete_aliases: bool = False) -> None:
        """Delete this version (its aliases too with ``delete_aliases=True``)."""
        version = self._committed_version("delete")
        try:
            version.store.catalog.delete_version(version.record.id, delete_aliases)
        except ArtifactNotFoundError as e:  # the catalog knows only the id: name the version
            raise ArtifactNotFoundError(
                f"{self.qualified_name} does not exist: it was deleted already (or by another process)"
            ) from e
        self._deleted = True

    def new_draft(self) -> Artifact:
        """A draft holding this version's files, to edit (``add_*``, ``overwrite=True``,
        ``remove``) and log as the next version, whose :attr:`parent` this is (patch mode).
        Logging costs what changed: the other files need not even exist locally."""
        version = self._committed_version("new_draft")
        draft, epoch = version.new_draft()
        draft.metadata = check_metadata(draft.metadata)
        art = Artifact.__new__(Artifact)
        art._open(draft, Staging(version.store, epoch))
        art._source_project = self.source_project
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


def artifact_dir() -> str:
    """Where default download roots go: ``$QUIRE_ARTIFACT_DIR``, else W&B's
    ``$WANDB_ARTIFACT_DIR``, else ``./artifacts``; absolute."""
    return os.path.abspath(os.environ.get("QUIRE_ARTIFACT_DIR") or os.environ.get("WANDB_ARTIFACT_DIR") or "artifacts")


def default_root(name: str) -> str:
    """The default folder of the version ``name`` (``name:vN``) below :func:`artifact_dir`.

    Windows refuses ``:`` in a file name, so there ``name:v0`` becomes ``name-v0``, as in
    W&B; a folder of either spelling that exists already is used as it is (a drive shared
    between systems keeps finding its files).
    """
    base = artifact_dir()
    plain, safe = os.path.join(base, name), os.path.join(base, name.replace(":", "-"))
    for candidate in (plain, safe):
        if os.path.exists(candidate):
            return candidate
    return safe if os.name == "nt" else plain


def _check_prefix(prefix: str | os.PathLike[str] | None) -> str | None:
    """A download's ``path_prefix`` as a string prefix of paths (None: every file),
    refused when it would leave the artifact. A trailing ``/`` is kept: ``"images/"``
    matches only the folder's files, ``"images"`` also ``images.txt``."""
    if prefix is None:
        return None
    text = _text(prefix)
    if not isinstance(text, str):
        raise ValidationError(f"invalid entry path {text!r}: path_prefix must be a string")
    text = text.replace("\\", "/")
    if not text:
        return None  # W&B: an empty prefix selects every file
    folder = text.endswith("/")
    return check_path(text.rstrip("/") or text) + ("/" if folder else "")


def _text(path: object) -> object:
    """A ``Path`` (any ``os.PathLike``) as its string; anything else as it is, for
    :func:`~quire.core.names.check_path` to accept or refuse by name."""
    return os.fspath(path) if isinstance(path, os.PathLike) else path
