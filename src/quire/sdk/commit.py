"""Committing a draft: upload the bytes the store lacks, store the manifest, commit.

Kept apart from :class:`~quire.sdk.artifact.Artifact` (which calls these) so each part
stays small. A patch (``new_draft``) uploads only its changed entries and writes only
the manifest pages they touch; an incremental draft is overlaid on the collection's
latest version inside the commit transaction.
"""

from __future__ import annotations

from ..core.draft import Draft
from ..core.manifest import load_manifest, overlay, save_manifest
from ..errors import ArtifactNotFoundError
from ..store import Store
from ..store.blobs import BlobWriter
from ..store.catalog import NewVersion, VersionRecord
from .staging import Staging


def upload(draft: Draft, staging: Staging, store: Store) -> BlobWriter:
    """Give a writer every stored entry's bytes the store lacks (a patch's: only its
    changed ones); returns the writer, durable once the caller flushes it."""
    own = staging.writer
    writer = own if own is not None and staging.store is store else store.blobs.writer()
    staged = own if own is not writer else None  # staged in another store
    if staged is not None:
        staged.flush()
    by_digest = {e.digest: e for e in draft.manifest.fresh_entries() if e.stored}
    sizes = {d: e.size or 0 for d, e in by_digest.items()}
    for digest in store.blobs.missing(sizes) if sizes else ():
        entry = by_digest[digest]
        if writer.holds(digest, sizes[digest]):
            continue
        if staged is not None and staged.holds(digest, sizes[digest]):
            writer.add_bytes(staged.blobs.read(digest), digest)
        elif entry.local_path:
            writer.add_file(entry.local_path, expected=digest)
        else:
            raise ArtifactNotFoundError(
                f"the bytes of {entry.path!r} are in no store and no local file; add it again"
            )
    return writer


def stage(draft: Draft, staging: Staging, store: Store) -> str:
    """Upload what the store lacks and the manifest, durably; returns its digest."""
    writer = upload(draft, staging, store)
    # One blob (format 1), in the same pack as the files: a contribution is read whole.
    digest = writer.add_bytes(draft.manifest.to_bytes())
    writer.flush()
    return digest


def commit_draft(
    draft: Draft, staging: Staging, store: Store, project: str, run_id: str | None, aliases: list[str],
    tags: list[str], epoch: int,
) -> tuple[VersionRecord, bool]:
    """Upload, store the manifest and commit ``draft`` under the gc ``epoch``; returns
    the version and whether it is new (``ConcurrentGCError``: retry, see ``commit_fenced``)."""
    writer = upload(draft, staging, store)
    # An incremental draft's manifest is made inside the transaction, from the latest.
    saved = None if draft.incremental else save_manifest(store.blobs, draft.manifest, writer)
    writer.flush()  # the files and the manifest pages in one pack, durable
    parent = draft.parent

    def build(latest: VersionRecord | None) -> NewVersion:
        digest, parent_id = saved, parent.id if parent else None
        if draft.incremental and latest is not None:
            digest = overlay(store.blobs, latest.root, draft.removed, draft.manifest)
            parent_id = latest.id
        digest = digest or save_manifest(store.blobs, draft.manifest)
        manifest = load_manifest(store.blobs, digest)  # its root page holds the totals
        return NewVersion(
            digest=manifest.digest, root=digest, size=manifest.size, file_count=len(manifest),
            metadata=draft.metadata, description=draft.description, parent_id=parent_id,
        )

    return store.catalog.commit_version(
        project, draft.collection, draft.type, build, aliases=aliases, tags=tags,
        run_id=run_id, gc_epoch=epoch,
    )
