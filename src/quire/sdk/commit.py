"""Committing a draft: upload the bytes the store lacks, store the manifest, commit.

Kept apart from :class:`~quire.sdk.artifact.Artifact` (which calls these) so each part
stays small. A patch (``new_draft``) uploads only its changed entries and writes only
the manifest pages they touch; an incremental draft is overlaid on the collection's
latest version inside the commit transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.manifest import load_manifest, overlay, save_manifest
from ..errors import ArtifactNotFoundError
from ..store import Store
from ..store.blobs import BlobWriter
from ..store.catalog import NewVersion, VersionRecord

if TYPE_CHECKING:
    from .artifact import Artifact


def upload(artifact: Artifact, store: Store) -> BlobWriter:
    """Give a writer every stored entry's bytes the store lacks (a patch's: only its
    changed ones); returns the writer, durable once the caller flushes it."""
    own = artifact._writer
    writer = own if own is not None and artifact._store is store else store.blobs.writer()
    staged = own if own is not writer else None  # staged in another store
    if staged is not None:
        staged.flush()
    by_digest = {e.digest: e for e in artifact._manifest.fresh_entries() if e.stored}
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


def commit_draft(
    artifact: Artifact, store: Store, project: str, run_id: str | None, aliases: list[str], tags: list[str],
    epoch: int,
) -> tuple[VersionRecord, bool]:
    """Upload, store the manifest and commit ``artifact`` under the gc ``epoch``; returns
    the version and whether it is new (``ConcurrentGCError``: retry, see ``commit_fenced``)."""
    writer = upload(artifact, store)
    # An incremental draft's manifest is made inside the transaction, from the latest.
    saved = None if artifact.incremental else save_manifest(store.blobs, artifact._manifest, writer)
    writer.flush()  # the files and the manifest pages in one pack, durable
    parent = artifact._parent

    def build(latest: VersionRecord | None) -> NewVersion:
        digest, parent_id = saved, parent.id if parent else None
        if artifact.incremental and latest is not None:
            digest = overlay(store.blobs, latest.root, artifact._removed, artifact._manifest)
            parent_id = latest.id
        digest = digest or save_manifest(store.blobs, artifact._manifest)
        manifest = load_manifest(store.blobs, digest)  # its root page holds the totals
        return NewVersion(
            digest=manifest.digest, root=digest, size=manifest.size, file_count=len(manifest),
            metadata=artifact.metadata, description=artifact.description, parent_id=parent_id,
        )

    return store.catalog.commit_version(
        project, artifact.collection_name, artifact.type, build, aliases=aliases, tags=tags,
        run_id=run_id, gc_epoch=epoch,
    )
