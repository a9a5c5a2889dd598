"""Every error Quire raises.

Each one derives from :class:`QuireError` and, where one fits, from the builtin a caller
would already catch (``KeyError`` for things not found, ``ValueError`` for bad input), so
``except KeyError`` keeps working for code written against the W&B API::

    QuireError
    ├── ValidationError (ValueError)         bad name, path, alias, metadata, ...
    │   ├── CollectionTypeError              logging type B to a collection of type A
    │   └── InvalidDigestError               a digest that is not 64 lowercase hex characters
    ├── ArtifactNotFoundError (KeyError)     no such collection, version, alias or entry
    ├── ArtifactFinalizedError (ValueError)    editing a logged artifact
    ├── ArtifactNotLoggedError (ValueError)  reading committed-only attributes of a draft
    ├── ConflictError                        collaborative merge found one path, two digests
    ├── PendingVersionError (ValueError)     upsert/finish on a committed or aborted id
    ├── PendingTimeoutError (TimeoutError)   finish waited for writers that did not come
    ├── CorruptBlobError                     stored bytes do not match their digest
    ├── StoreError (OSError)                 store missing, unwritable, unreachable
    │   ├── ConcurrentGCError                a gc deleted blobs while a commit was prepared
    │   ├── UnsafeFolderError                a staging folder is a symlink or not private
    │   ├── CommitOutcomeUnknownError        the catalog went away before it answered a commit
    │   └── DamagedIndexError                a blob not found, maybe in a pack whose index is damaged
    └── MissingExtraError (ImportError)      an optional dependency is not installed

Messages say what was wrong and what to do; context is kept as attributes.
"""

from __future__ import annotations

from collections.abc import Iterable


class QuireError(Exception):
    """Base class of every error raised by Quire."""

    def __str__(self) -> str:
        # KeyError quotes its message; keep ours readable whatever the builtin base.
        return str(self.args[0]) if self.args else self.__class__.__name__


class ValidationError(QuireError, ValueError):
    """Input broke a rule (a name, a path, an alias, metadata); nothing was written."""


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


class ArtifactNotFoundError(QuireError, KeyError):
    """A collection, version, alias or entry does not exist."""

    def __init__(self, message: str, available: Iterable[str] = ()) -> None:
        available = list(available)
        if available:
            shown = ", ".join(available[:20]) + (", ..." if len(available) > 20 else "")
            message = f"{message}; available: {shown}"
        super().__init__(message)
        self.available = available


class ArtifactFinalizedError(QuireError, ValueError):
    """A logged artifact was edited; call ``new_draft()`` to make a changed version."""


class ArtifactNotLoggedError(QuireError, ValueError):
    """An attribute that only a committed version has was read from a draft."""


class ConflictError(QuireError):
    """Collaborative writers put different bytes at the same path."""

    def __init__(self, message: str, conflicts: dict[str, list[tuple[str, str]]]) -> None:
        super().__init__(message)
        #: path -> [(writer, digest), ...]
        self.conflicts = conflicts


class PendingVersionError(QuireError, ValueError):
    """An upsert or finish named a distributed id that is committed, aborted or absent."""


class PendingTimeoutError(QuireError, TimeoutError):
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


class StoreError(QuireError, OSError):
    """The store cannot be opened, written or reached."""


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
