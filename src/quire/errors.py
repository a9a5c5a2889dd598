"""Every error Quire raises.

The tree is W&B's (``wandb.errors`` and the artifact status errors), so ``except`` clauses
written for W&B catch what Quire raises, with :class:`QuireError` under W&B's
:class:`Error` holding everything Quire adds. Where one fits, an error also derives from
the builtin a caller would already catch (``KeyError`` for things not found,
``ValueError`` for bad input, ``AttributeError`` where W&B raises one)::

    Error                                    W&B's base: ``message``, ``context``
    └── QuireError                           every error Quire raises
        ├── CommError                        the store (W&B: the server) failed or said no
        │   ├── AuthenticationError          a server got no valid API key (HTTP 401)
        │   │   └── PermissionDeniedError (PermissionError)  the key may not do that (HTTP 403)
        │   ├── ArtifactNotFoundError (KeyError)   no such collection, version, alias or entry
        │   │   ├── EntryNotFoundError (FileNotFoundError)  no such path in an artifact
        │   │   └── ObjectNotFoundError      a stored object is missing
        │   │       └── BlobNotFoundError    a blob is in no pack and no object
        │   └── StoreError (OSError)         store missing, unwritable, unreachable
        │       ├── ConcurrentGCError        a gc deleted blobs while a commit was prepared
        │       ├── UnsafeFolderError        a staging folder is a symlink or not private
        │       ├── UnreachableError (ConnectionError)  a server, or the catalog behind it, is down (503)
        │       ├── CommitOutcomeUnknownError  the catalog went away before it answered a commit
        │       ├── DamagedIndexError        a blob not found, maybe in a pack whose index is damaged
        │       ├── MovedOnError             a compare-and-swap commit lost the race
        │       ├── MissingCapabilityError   an object store cannot do what is asked
        │       └── ReferenceChangedError (ValueError)  a reference's bytes changed since it was logged
        ├── UsageError                       the API was called wrongly
        │   ├── TooLargeError (ValueError)   a request larger than a server accepts (HTTP 413)
        │   ├── UnsupportedError (AttributeError)  a W&B call Quire does not offer
        │   └── ValidationError (ValueError)  bad name, path, alias, metadata, ...
        │       ├── CollectionTypeError      logging type B to a collection of type A
        │       ├── ConfigError              a run's config key changed without allow_val_change
        │       ├── InvalidDigestError       a digest that is not 64 lowercase hex characters
        │       └── WrongTypeError (TypeError)  an object of a type the call does not take
        ├── ArtifactStatusError (AttributeError, ValueError)  wrong state for the call
        │   ├── ArtifactNotLoggedError       reading committed-only attributes of a draft
        │   └── ArtifactFinalizedError       editing a logged artifact
        ├── WaitTimeoutError                 a wait ended before what it waited for
        │   └── PendingTimeoutError (TimeoutError)  finish waited for writers that did not come
        ├── ConflictError                    collaborative merge found one path, two digests
        ├── PendingVersionError (ValueError)  upsert/finish on a committed or aborted id
        ├── CorruptBlobError                 stored bytes do not match their digest
        └── MissingExtraError (ImportError)  an optional dependency is not installed

The status errors are ``AttributeError`` as in W&B, so ``hasattr(draft, "version")`` is
False; they stay ``ValueError`` too, as they were before, so no ``except`` breaks.
Messages say what was wrong and what to do; context is kept as attributes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "ArtifactFinalizedError",
    "ArtifactNotFoundError",
    "ArtifactNotLoggedError",
    "ArtifactStatusError",
    "AuthenticationError",
    "BlobNotFoundError",
    "CollectionTypeError",
    "CommError",
    "CommitOutcomeUnknownError",
    "ConcurrentGCError",
    "ConfigError",
    "ConflictError",
    "CorruptBlobError",
    "DamagedIndexError",
    "EntryNotFoundError",
    "Error",
    "InvalidDigestError",
    "MissingCapabilityError",
    "MissingExtraError",
    "MovedOnError",
    "ObjectNotFoundError",
    "PendingTimeoutError",
    "PendingVersionError",
    "PermissionDeniedError",
    "QuireError",
    "ReferenceChangedError",
    "StoreError",
    "TooLargeError",
    "UnreachableError",
    "UnsafeFolderError",
    "UnsupportedError",
    "UsageError",
    "ValidationError",
    "WaitTimeoutError",
    "WrongTypeError",
]


class Error(Exception):
    """W&B's base error (``wandb.Error``): ``message`` is the text, ``context`` a dict of details."""

    def __init__(self, message: str = "", context: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.context = context or {}


class QuireError(Error):
    """Base class of every error raised by Quire."""

    def __str__(self) -> str:
        # KeyError quotes its message; keep ours readable whatever the builtin base.
        return str(self.args[0]) if self.args and self.args[0] != "" else self.__class__.__name__


class CommError(QuireError):
    """The store could not do what was asked (in W&B: talking to the server failed);
    ``exc`` is the error underneath, if any."""

    def __init__(self, message: str = "", exc: Exception | None = None) -> None:
        super().__init__(message)
        self.exc = exc


class AuthenticationError(CommError):
    """W&B's login failure: a Quire server answered that no valid API key was sent (HTTP 401)."""


class PermissionDeniedError(AuthenticationError, PermissionError):
    """A Quire server refused the call: the API key lacks the scope, or is limited to
    other projects (HTTP 403). Nothing was changed."""


class UsageError(QuireError):
    """The API was called in a way it does not allow."""


class TooLargeError(UsageError, ValueError):
    """A request is larger than the server accepts (HTTP 413); nothing of it was stored."""


class UnsupportedError(UsageError, AttributeError):
    """A W&B call Quire does not offer: the message names it and points at
    ``docs/compatibility.md``. An ``AttributeError`` too, so ``hasattr`` is False for it."""

    def __init__(self, message: str, name: str | None = None, obj: object = None) -> None:
        super().__init__(message)
        self.name, self.obj = name, obj


class ValidationError(UsageError, ValueError):
    """Input broke a rule (a name, a path, an alias, metadata); nothing was written."""


class WrongTypeError(ValidationError, TypeError):
    """An object of a type the call does not take (``artifact.add`` of what is not a
    media object). W&B raises ``TypeError`` there; it stays a ``ValidationError`` (a
    ``ValueError``) too, so Quire's own ``except`` clauses keep catching it."""


class CollectionTypeError(ValidationError):
    """An artifact was logged into a collection that holds another type."""

    def __init__(self, collection: str, existing: str, given: str) -> None:
        super().__init__(
            f"collection {collection!r} holds artifacts of type {existing!r}, not {given!r}; "
            f"log it under another name or with type={existing!r}"
        )
        self.collection, self.existing, self.given = collection, existing, given


class InvalidDigestError(ValidationError):
    """A manifest entry, page reference or contribution holds a malformed digest."""


class ArtifactNotFoundError(CommError, KeyError):
    """A collection, version, alias or entry does not exist (W&B raises ``CommError``;
    ``KeyError`` is what a lookup raises)."""

    def __init__(self, message: str, available: Iterable[str] = ()) -> None:
        available = list(available)
        if available:
            shown = ", ".join(available[:20]) + (", ..." if len(available) > 20 else "")
            message = f"{message}; available: {shown}"
        super().__init__(message)
        self.available = available


class ArtifactStatusError(QuireError, AttributeError, ValueError):
    """An artifact is in the wrong state for the call (a draft, or logged already).
    As ``AttributeError`` does, it keeps the attribute's ``name`` and the ``obj``."""

    def __init__(self, message: str, name: str | None = None, obj: object = None) -> None:
        super().__init__(message)
        self.name, self.obj = name, obj


class ArtifactNotLoggedError(ArtifactStatusError):
    """An attribute that only a logged version has was read from a draft."""


class ArtifactFinalizedError(ArtifactStatusError):
    """A logged artifact was edited; call ``new_draft()`` to make a changed version."""


class WaitTimeoutError(QuireError):
    """A wait ended before what it waited for was done."""


class ConflictError(QuireError):
    """Collaborative writers put different bytes at the same path."""

    def __init__(self, message: str, conflicts: dict[str, list[tuple[str, str]]]) -> None:
        super().__init__(message)
        #: path -> [(writer, digest), ...]
        self.conflicts = conflicts


class PendingVersionError(QuireError, ValueError):
    """An upsert or finish named a distributed id that is committed, aborted or absent."""


class PendingTimeoutError(WaitTimeoutError, TimeoutError):
    """``finish_artifact(expected_writers=N, timeout=…)`` saw fewer than N contributions."""

    def __init__(self, message: str, arrived: int, expected: int) -> None:
        super().__init__(message)
        self.arrived, self.expected = arrived, expected


class CorruptBlobError(QuireError):
    """Bytes read from a store or cache do not hash to their digest."""

    def __init__(self, digest: str, where: str, set_aside: str | None = None) -> None:
        heal = (
            f"the store's copy is set aside (as {set_aside}), so logging the same file again stores "
            "it anew, and `quire artifact verify NAME --repair --from DIR` restores a version from "
            "a folder of its files"
            if set_aside
            else "run `quire artifact verify NAME`, and restore the version from a folder of its files "
            "with `--repair --from DIR`"
        )
        super().__init__(
            f"blob {digest} read from {where} is corrupt (its content does not match its "
            f"digest); it was not delivered: {heal}"
        )
        #: where the corrupt bytes were moved (a key under ``quarantine/``, or a pack's mark)
        self.set_aside = set_aside
        self.digest, self.where = digest, where


class StoreError(CommError, OSError):
    """The store cannot be opened, written or reached."""


class UnreachableError(StoreError, ConnectionError):
    """A server, or the catalog behind one, could not be reached (HTTP 503, or no answer)."""


class ReferenceChangedError(StoreError, ValueError):
    """The bytes a reference points at are no longer those that were logged (another
    digest, size or ETag); nothing of them is delivered. W&B raises ``ValueError`` for
    this ("digest mismatch"); a ``StoreError`` too, as Quire raised before."""


class ConcurrentGCError(StoreError):
    """A gc ran while a version was being prepared, so the blobs it checked may be gone.

    Writers catch it, check their blobs again (uploading what went) and retry; it reaches
    the user only when gc keeps running through every retry.
    """


class UnsafeFolderError(StoreError):
    """A folder Quire stages files in is a symlink, not a folder, another user's, or
    writable by others; it is refused, never followed or written into."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


class CommitOutcomeUnknownError(StoreError):
    """The connection to the catalog was lost after a commit was sent, and the catalog
    could not be asked again whether it arrived: the version may or may not exist.

    The commit carried a client-made id (``commit_id``); a retry finds its own write by
    it, so when the catalog answers again, repeating the call is safe.
    """

    def __init__(self, message: str, commit_id: str) -> None:
        super().__init__(message)
        self.commit_id = commit_id


class DamagedIndexError(StoreError):
    """A blob was found nowhere while some pack indexes could not be read: it may be in
    their packs. The message names the damaged index files; logging the files again
    stores them anew."""


class MissingExtraError(QuireError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, feature: str, extra: str) -> None:
        super().__init__(f"{feature} needs an optional dependency: pip install 'quire[{extra}]'")
        self.extra = extra


class MovedOnError(StoreError):
    """A compare-and-swap commit lost the race: the collection's latest version (or a
    pending version's contributions) is no longer what the new version was built on.
    Nothing was written; ``quire.core.commit`` builds it again from what is there now
    and retries, so a user sees this only when that kept failing."""


class ObjectNotFoundError(ArtifactNotFoundError):
    """A key is absent from an object store: stored bytes are missing (not a version or
    collection the user named). It derives from :class:`ArtifactNotFoundError` (and so
    ``KeyError``) because that is what a missing key raised before it existed."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key


class BlobNotFoundError(ObjectNotFoundError):
    """A blob is in no pack and no object of its blob store."""

    def __init__(self, message: str, digest: str = "") -> None:
        super().__init__(message)
        self.digest = digest


class MissingCapabilityError(StoreError):
    """An object store lacks a capability the operation needs (it declares what it can
    do in its ``capabilities``); the message names the capability."""

    def __init__(self, message: str, capability: str) -> None:
        super().__init__(message)
        self.capability = capability


class EntryNotFoundError(ArtifactNotFoundError, FileNotFoundError):
    """An artifact holds no file or folder at the path given (``remove``, ``get_entry``):
    a ``KeyError`` like every not-found error, and the ``FileNotFoundError`` that W&B's
    ``remove`` raises, so ``except`` clauses of either kind keep working."""


class ConfigError(ValidationError):
    """A run's config key would change value without ``allow_val_change`` (W&B's
    ``wandb.sdk.lib.config_util.ConfigError``); nothing of the update was applied."""
