"""Committing an Artifact: it becomes a :class:`~quire.core.draft.Draft` and its staging
state, and :mod:`quire.core.commit` does the rest (upload, pages, the compare-and-swap
commit and its retries)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core import commit as core
from ..core.draft import Draft
from ..store import Store
from ..store.blobs import BlobWriter
from ..store.catalog import Committed

if TYPE_CHECKING:
    from .artifact import Artifact


def draft_of(artifact: Artifact) -> Draft:
    """What ``artifact`` will hold, as data."""
    return Draft(
        collection=artifact._name, type=artifact._type, manifest=artifact._manifest, removed=artifact._removed,
        incremental=artifact.incremental, parent=artifact._parent, metadata=artifact.metadata,
        description=artifact.description,
    )


def staged_of(artifact: Artifact) -> core.Staged:
    """Where ``artifact`` staged its bytes, and what it noted of the gc fence."""
    return core.Staged(artifact._store, artifact._writer, artifact._gc_epoch)


def upload(artifact: Artifact, store: Store) -> BlobWriter:
    """Give a writer every stored entry's bytes the store lacks (see :func:`quire.core.commit.upload`)."""
    return core.upload(draft_of(artifact), staged_of(artifact), store)


def commit_draft(
    artifact: Artifact, store: Store, project: str, run_id: str | None, aliases: list[str], tags: list[str],
) -> Committed:
    """Upload, store the manifest and commit ``artifact``; returns what the commit made."""
    return core.commit_draft(
        store, draft_of(artifact), staged_of(artifact), project, aliases, tags, [run_id] if run_id else []
    )
