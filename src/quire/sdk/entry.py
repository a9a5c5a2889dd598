"""Entries and file listings as W&B shows them: ``artifact.get_entry(path)`` and
``artifact.files()``.

The stored data of a file stays the core :class:`~quire.core.manifest.Entry`; an
:class:`ArtifactManifestEntry` is that entry bound to the artifact it was read from, so
that it can download itself, name its parent and build its W&B-style URLs. Digests stay
Quire's: ``digest`` is the BLAKE3 hex of the bytes (W&B's is a base64 MD5), because that
is what the store addresses and checks every file by; ``md5`` gives the real MD5, computed
from the bytes, for code that needs W&B's value.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import mimetypes
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from ..core.cache import cache_for
from ..core.download import cached_files
from ..core.manifest import Entry
from ..core.names import check_path
from ..errors import ArtifactNotLoggedError, ValidationError
from ..hashing import new_hasher, read_chunks
from . import compat

if TYPE_CHECKING:
    from .artifact import Artifact

#: the scheme of W&B's ``ref_url()``: ``wandb-artifact://<version id>/<path>``
ARTIFACT_SCHEME = "wandb-artifact"
#: what every digest of Quire is (``digest_algorithm()``); W&B's are MD5 or XXH128
DIGEST_ALGORITHM = "BLAKE3"


class ArtifactManifestEntry(Entry):
    """One file of an artifact, bound to it (W&B's ``ArtifactManifestEntry``).

    Attributes:
        path: the path inside the artifact (posix); ``name`` is the same.
        digest: BLAKE3 hex of the bytes (W&B shows a base64 MD5 here: see :attr:`md5`);
            for a reference without checksum, a hash of its URI.
        size: bytes (None for a reference whose size is unknown).
        ref: for a reference, the URI its bytes stay at; None for stored bytes.
        extra: details of a reference (an object-store version id, an ETag, ...).
        local_path: in a draft, the file the bytes were read from.
    """

    _artifact: Artifact

    @classmethod
    def of(cls, entry: Entry, artifact: Artifact) -> ArtifactManifestEntry:
        """``entry`` bound to ``artifact`` (a copy: the manifest's own entry is not touched)."""
        bound = cls(entry.path, entry.digest, entry.size, entry.ref, dict(entry.extra), entry.local_path)
        bound._artifact = artifact
        return bound

    @property
    def name(self) -> str:
        """The path inside the artifact (W&B's older name for :attr:`path`, and a file's
        ``name`` in ``artifact.files()``)."""
        return self.path

    @property
    def birth_artifact_id(self) -> None:
        """None: Quire does not record which version first held a file (two versions
        holding the same bytes share them whatever their history)."""
        return None

    @property
    def skip_cache(self) -> bool:
        """False: every file of a committed version goes through the local cache unless a
        download passes ``skip_cache=True``."""
        return False

    @property
    def mimetype(self) -> str | None:
        """The media type guessed from the path's extension (None when unknown)."""
        return mimetypes.guess_type(self.path)[0]

    @property
    def md5(self) -> str | None:
        """The base64 MD5 of the bytes, W&B's digest format, computed from the bytes
        themselves: of a committed version, its cached copy (fetched first if need be); of
        a draft, the local file, if it still holds the bytes added. None for a reference:
        its bytes are not in the store."""
        if not self.stored:
            return None
        artifact = self._artifact
        if not artifact.is_draft():
            version = artifact._committed_version("md5")
            cached = cached_files(version.store.blobs, cache_for(version.store.local_dir), [self])[0]
            md5, _ = _md5_and_digest(cached)  # the cache verified these bytes already
            return md5
        if self.local_path is None:
            raise ArtifactNotLoggedError(f"{self.path!r} of the draft {artifact.name!r} has no local file to hash")
        md5, digest = _md5_and_digest(self.local_path)
        if digest != self.digest:
            raise ValidationError(
                f"{self.local_path} changed since it was added as {self.path!r}: its MD5 would not be of the "
                "bytes the draft holds; log the artifact first, or add the file again"
            )
        return md5

    def parent_artifact(self) -> Artifact:
        """The artifact this entry was read from."""
        return self._artifact

    def digest_algorithm(self) -> str:
        """``"BLAKE3"``: how :attr:`digest` was computed (W&B: MD5 or XXH128)."""
        return DIGEST_ALGORITHM

    def download(
        self,
        root: str | os.PathLike[str] | None = None,
        skip_cache: bool | None = None,
        executor: Any = None,
        *,
        replace: bool | None = None,
        exist_ok: bool | None = None,
    ) -> str:
        """Download this one file below ``root`` (default: the artifact's default root,
        ``$WANDB_ARTIFACT_DIR/<name>:<vN>``); returns the file's path.

        ``executor`` (W&B's thread pool for multipart transfers) is accepted and ignored.
        So are ``replace`` and ``exist_ok``, the arguments of the ``File`` objects W&B's
        ``files()`` yields: a file already there with the right bytes is kept, any other
        is replaced, and the path is returned (W&B's ``File`` returns an open file).
        """
        artifact = self._artifact
        if artifact.is_draft():
            where = f"; its bytes are at {self.local_path}" if self.local_path else ""
            raise ArtifactNotLoggedError(
                f"cannot download {self.path!r}: {artifact.name!r} is a draft, log it "
                f"(run.log_artifact or .save()) first{where}"
            )
        target = artifact._place(root, skip_cache=skip_cache, paths=[self.path])
        return os.path.join(target, self.path)

    def ref_target(self) -> str:
        """The URI a reference's bytes stay at.

        Raises:
            ValidationError (a ``ValueError``): this entry holds stored bytes, not a reference.
        """
        if self.ref is None:
            raise ValidationError(
                f"{self.path!r} holds stored bytes, not a reference: only reference entries have a "
                "ref_target(); download() it to get its file"
            )
        return self.ref

    def ref_url(self) -> str:
        """``wandb-artifact://<version id>/<path>``, the address W&B gives a file of a
        committed version: another draft's ``add_reference`` takes it (sharing the bytes)."""
        artifact = self._artifact
        if artifact.id is None:
            raise ArtifactNotLoggedError(
                f"{self.path!r} belongs to the draft {artifact.name!r}: log it before asking for its ref_url()"
            )
        return f"{ARTIFACT_SCHEME}://{artifact.id}/{self.path}"

    def to_json(self) -> dict[str, Any]:
        """The entry's fields as a dict, those that are None left out (W&B's form)."""
        fields = {
            "path": self.path,
            "digest": self.digest,
            "ref": self.ref,
            "size": self.size,
            "extra": self.extra,
            "local_path": self.local_path,
            "skip_cache": False,
        }
        return {k: v for k, v in fields.items() if v is not None}

    def __getattr__(self, name: str) -> Any:
        raise compat.missing(self, name)

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.to_json().items() if k != "extra" or v}  # W&B's form
        return f"ArtifactManifestEntry({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


class ArtifactFiles:
    """The files of a committed version, page by page (W&B's ``artifact.files()``).

    Iterate it (entries, in path order), take ``len()`` (every file of the version, as
    W&B's total count), index or slice it. A page holds ``per_page`` entries; ``cursor``
    is where the next page starts, so a later ``artifact.files(start=cursor)`` resumes
    there. Pages are cut from one walk of the manifest: listing a 100,000-file version
    reads each manifest page once, and a page of 50 files only the pages that hold them.
    """

    def __init__(self, artifact: Artifact, names: list[str] | None, per_page: int, start: str | None) -> None:
        if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
            raise ValidationError(f"per_page must be a positive whole number of files, not {per_page!r}")
        if start is not None and not isinstance(start, str):
            raise ValidationError(f"start must be a cursor string (a listing's .cursor), not {type(start).__name__}")
        self.artifact = artifact
        self.per_page = per_page
        self.objects: list[ArtifactManifestEntry] = []
        self.index = -1
        self._start = start
        self._cursor = start
        manifest = artifact.manifest
        if names is None:
            found: Iterator[Entry] = manifest.after(start)
            self._count = artifact.file_count
        else:
            if isinstance(names, str | bytes) or not isinstance(names, list | tuple | set | frozenset):
                raise ValidationError(f"names must be a list of paths in the artifact, not {type(names).__name__}")
            paths = sorted({check_path(n) for n in names})  # a bad path is refused, not matched against
            held = [e for e in map(manifest.get, paths) if e is not None]
            found = iter([e for e in held if start is None or e.path > start])
            self._count = len(held)
        self._source = found
        self._next: Entry | None = next(found, None)

    @property
    def more(self) -> bool:
        """Whether another page is left to load."""
        return self._next is not None

    @property
    def cursor(self) -> str | None:
        """Where the next page starts (the last path loaded): pass it as ``start=``."""
        return self._cursor

    @property
    def path(self) -> list[str | None]:
        """``[entity, project, name]`` of the version (Quire has no entities: None)."""
        return [None, self.artifact.project, self.artifact.name]

    def _load_page(self) -> bool:
        """Load the next page; False when none is left."""
        if self._next is None:
            return False
        page = [self._next, *itertools.islice(self._source, self.per_page - 1)]
        self._next = next(self._source, None)
        self.objects.extend(ArtifactManifestEntry.of(e, self.artifact) for e in page)
        self._cursor = page[-1].path
        return True

    def __iter__(self) -> ArtifactFiles:
        self.index = -1
        return self

    def __next__(self) -> ArtifactManifestEntry:
        self.index += 1
        while len(self.objects) <= self.index:
            if not self._load_page():
                raise StopIteration
        return self.objects[self.index]

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> ArtifactManifestEntry: ...
    @overload
    def __getitem__(self, index: slice) -> list[ArtifactManifestEntry]: ...

    def __getitem__(self, index: int | slice) -> ArtifactManifestEntry | list[ArtifactManifestEntry]:
        # the last position needed: a slice's stop is exclusive (so no page past it is loaded)
        stop = index + 1 if isinstance(index, int) else index.stop
        if stop is None or stop < 0 or (stop == 0 and isinstance(index, int)):  # from the end: all pages
            while self._load_page():
                pass
        while stop is not None and stop > len(self.objects) and self._load_page():
            pass
        return self.objects[index]

    def __repr__(self) -> str:
        return f"<ArtifactFiles {self.artifact.project}/{self.artifact.name} ({len(self)})>"


def _md5_and_digest(path: str | Path) -> tuple[str, str]:
    """The base64 MD5 and the BLAKE3 hex of a file's bytes, in one read."""
    md5, blake = hashlib.md5(), new_hasher()
    for chunk in read_chunks(path):
        md5.update(chunk)
        blake.update(chunk)
    return base64.b64encode(md5.digest()).decode(), blake.hexdigest()
