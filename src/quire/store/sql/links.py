"""Links, registries (projects with info) and time to live, in SQL.

A link is a row of ``versions`` in a registry collection whose ``source_id`` names the
version it points at: it has its own number and aliases and copies the source's root
(so it reads the source's files and ``roots()`` is unchanged), never a byte. A source
that links point at cannot be deleted (:func:`check_unlinked`), so no link outlives its
source, and it never expires (:meth:`LinkVerbs.expired_versions`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ...errors import ArtifactNotFoundError, ValidationError
from ..catalog import Committed, ProjectRecord, VersionRecord, now
from . import schema as t
from . import versions

if TYPE_CHECKING:
    from .txn import Transactions


def check_unlinked(conn: sa.Connection, vids: list[str], what: str) -> None:
    """Refuse to delete versions that links point at (the caller's transaction writes
    nothing then): a link must never outlive its source.

    Raises:
        ValidationError: naming the links and how to remove them.
    """
    if not vids:
        return
    # Their rows locked first (PostgreSQL): a link being made to one of them waits for
    # this delete (then finds no source), or this check waits for it and sees the link.
    conn.execute(sa.select(t.versions.c.id).where(t.versions.c.id.in_(vids)).with_for_update())
    ids = list(conn.scalars(sa.select(t.versions.c.id).where(t.versions.c.source_id.in_(vids)).limit(5)))
    if ids:
        names = ", ".join(f"{r.project}/{r.collection}:{r.version}" for r in versions.load(conn, ids))
        raise ValidationError(
            f"cannot delete {what}: registry links point at it ({names}); "
            "unlink them first (artifact.unlink() on each link), then delete it"
        )


def _lock_version(conn: sa.Connection, vid: str) -> None:
    conn.execute(sa.select(t.versions.c.id).where(t.versions.c.id == vid).with_for_update())


def _project_row(conn: sa.Connection, name: str) -> sa.Row[Any]:
    row = conn.execute(sa.select(t.projects).where(t.projects.c.name == name)).first()
    if row is None:
        have = list(conn.scalars(sa.select(t.projects.c.name).order_by(t.projects.c.name)))
        raise ArtifactNotFoundError(f"no project {name!r}", have)
    return row


def _project(row: sa.Row[Any]) -> ProjectRecord:
    return ProjectRecord(row.name, row.created_at, dict(row.info or {}))


class LinkVerbs:
    """Mixed into :class:`~quire.store.sql.SQLCatalog`, which provides ``tx``."""

    tx: Transactions
    url: str

    def project(self, name: str) -> ProjectRecord:
        """The project ``name`` (``ArtifactNotFoundError`` if it does not exist)."""
        return self.tx.read(lambda conn: _project(_project_row(conn, name)))

    def create_project(self, name: str, info: dict[str, Any] | None = None) -> ProjectRecord:
        """Make a project (a registry); ``ValidationError`` if it exists."""

        def create(conn: sa.Connection) -> ProjectRecord:
            if conn.scalar(sa.select(t.projects.c.id).where(t.projects.c.name == name)) is not None:
                raise ValidationError(f"a project named {name!r} exists already in {self.url}; choose another name")
            conn.execute(t.projects.insert().values(name=name, created_at=now(), info=dict(info or {})))
            return _project(_project_row(conn, name))

        return self.tx.write(create)

    def update_project(self, name: str, info: dict[str, Any]) -> ProjectRecord:
        """Replace a project's info."""

        def update(conn: sa.Connection) -> ProjectRecord:
            _project_row(conn, name)
            conn.execute(t.projects.update().where(t.projects.c.name == name).values(info=dict(info)))
            return _project(_project_row(conn, name))

        return self.tx.write(update)

    def delete_project(self, name: str) -> None:
        """Delete a project and everything in it (a registry's links; never a source
        version: a project holding versions that links elsewhere point at is refused)."""

        def delete(conn: sa.Connection) -> None:
            pid = _project_row(conn, name).id
            colls = sa.select(t.collections.c.id).where(t.collections.c.project_id == pid)
            vids = list(conn.scalars(sa.select(t.versions.c.id).where(t.versions.c.collection_id.in_(colls))))
            outside = (
                sa.select(t.versions.c.source_id)
                .where(t.versions.c.source_id.in_(vids), t.versions.c.collection_id.not_in(colls))
                .distinct()
            )
            check_unlinked(conn, list(conn.scalars(outside)), f"project {name!r}")
            run_ids = sa.select(t.runs.c.id).where(t.runs.c.project_id == pid)
            pendings = sa.select(t.pending_versions.c.id).where(t.pending_versions.c.collection_id.in_(colls))
            for table in (t.aliases, t.tags, t.lineage):
                conn.execute(table.delete().where(table.c.version_id.in_(vids)))
            conn.execute(t.lineage.delete().where(t.lineage.c.run_id.in_(run_ids)))
            conn.execute(t.run_history.delete().where(t.run_history.c.run_id.in_(run_ids)))
            conn.execute(t.contributions.delete().where(t.contributions.c.pending_id.in_(pendings)))
            conn.execute(t.pending_versions.delete().where(t.pending_versions.c.collection_id.in_(colls)))
            conn.execute(t.versions.delete().where(t.versions.c.id.in_(vids)))
            conn.execute(t.collection_tags.delete().where(t.collection_tags.c.collection_id.in_(colls)))
            conn.execute(t.collections.delete().where(t.collections.c.project_id == pid))
            conn.execute(t.runs.delete().where(t.runs.c.project_id == pid))
            conn.execute(t.projects.delete().where(t.projects.c.id == pid))

        self.tx.write(delete)

    def link(self, source_id: str, project: str, collection: str, aliases: list[str]) -> Committed:
        """Link a version into ``project/collection`` (see the protocol). A link of a link
        points at that link's source."""

        def link(conn: sa.Connection) -> tuple[str, bool]:
            _lock_version(conn, source_id)  # a delete of the source waits, then sees this link
            found = versions.load(conn, [source_id])
            if not found:
                raise ArtifactNotFoundError(f"no version with id {source_id!r} in {self.url} to link")
            source = found[0]
            if source.source_id is not None:  # linking a link links its source
                _lock_version(conn, source.source_id)
                source = versions.load(conn, [source.source_id])[0]
            coll = versions.collection(conn, project, collection, source.type, lock=True)
            assert coll is not None
            plain = conn.scalar(
                sa.select(t.versions.c.id)
                .where(t.versions.c.collection_id == coll.id, t.versions.c.source_id.is_(None))
                .limit(1)
            )
            if plain is not None:
                raise ValidationError(
                    f"{project}/{collection} holds logged versions, not links; link into a registry collection"
                )
            same = conn.scalar(
                sa.select(t.versions.c.id).where(
                    t.versions.c.collection_id == coll.id, t.versions.c.source_id == source.id
                )
            )
            vid = same
            if vid is None:
                vid = versions.insert_next(
                    conn,
                    coll,
                    digest=source.digest,
                    root=source.root,
                    size=source.size,
                    file_count=source.file_count,
                    metadata=source.metadata,
                    description=source.description,
                    source_id=source.id,
                    **versions.ttl_columns("never"),  # a link never expires: its source does not
                )
                versions.point(conn, coll.id, "latest", vid)
            for alias in dict.fromkeys(aliases):
                versions.point(conn, coll.id, alias, vid)
            return vid, same is None

        vid, created = self.tx.write(link)
        return Committed(self.tx.read(lambda conn: versions.load(conn, [vid])[0]), created)

    def links_to(self, source_id: str) -> list[VersionRecord]:
        """Every link pointing at a version, oldest first."""

        def read(conn: sa.Connection) -> list[VersionRecord]:
            ids = conn.scalars(
                sa.select(t.versions.c.id).where(t.versions.c.source_id == source_id).order_by(t.versions.c.created_at)
            )
            return versions.load(conn, list(ids))

        return self.tx.read(read)

    def expired_versions(self, at: str) -> list[VersionRecord]:
        """Versions whose time to live ran out by ``at``, oldest first; never a linked one."""
        linked = sa.select(t.versions.c.source_id).where(t.versions.c.source_id.is_not(None))
        mortal = (
            sa.select(t.versions.c.id)
            .join(t.collections, t.collections.c.id == t.versions.c.collection_id)
            .where(
                t.versions.c.source_id.is_(None),
                t.versions.c.id.not_in(linked),
                sa.or_(
                    sa.and_(t.versions.c.ttl_inherit.is_(False), t.versions.c.ttl.is_not(None)),
                    sa.and_(t.versions.c.ttl_inherit.is_(True), t.collections.c.ttl.is_not(None)),
                ),
            )
        )
        cutoff = datetime.fromisoformat(at)

        def read(conn: sa.Connection) -> list[VersionRecord]:
            found = versions.load(conn, list(conn.scalars(mortal)))
            gone = [v for v in found if v.expires_at is not None and datetime.fromisoformat(v.expires_at) <= cutoff]
            return sorted(gone, key=lambda v: v.created_at)

        return self.tx.read(read)
