"""Collections in SQL beyond what a commit makes of them: listing and reading them,
renaming one, changing its description, tags, type or default TTL, deleting it.

A collection's row is its identity: a rename changes ``name`` and nothing else, so its
versions, aliases, pending versions and id (the row's key) stay as they were. Every
change locks the row, as a commit does, so it is ordered with the commits to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa

from ...errors import ArtifactNotFoundError, ValidationError
from ..catalog import NEVER, CollectionRecord, check_page
from . import links, versions
from . import schema as t

if TYPE_CHECKING:
    from .txn import Transactions

_COUNT = sa.select(sa.func.count()).where(t.versions.c.collection_id == t.collections.c.id).scalar_subquery()


def _records(
    conn: sa.Connection, project: str, where: Any, limit: int | None = None, offset: int = 0
) -> list[CollectionRecord]:
    """The collections of ``project`` that ``where`` selects, by name, with their tags
    (``offset`` of them skipped, at most ``limit``)."""
    query = (
        sa.select(t.collections, _COUNT.label("n"))
        .join(t.projects, t.projects.c.id == t.collections.c.project_id)
        .where(t.projects.c.name == project, where)
        .order_by(t.collections.c.name)
        .offset(offset or None)
    )
    rows = conn.execute(query.limit(limit) if limit is not None else query).all()
    tags: dict[int, list[str]] = {r.id: [] for r in rows}
    if rows:
        for cid, tag in conn.execute(
            sa.select(t.collection_tags.c.collection_id, t.collection_tags.c.tag)
            .where(t.collection_tags.c.collection_id.in_(list(tags)))
            .order_by(t.collection_tags.c.tag)
        ):
            tags[cid].append(tag)
    aliases: dict[int, list[str]] = {r.id: [] for r in rows}
    if rows:
        for cid, alias in conn.execute(
            sa.select(t.aliases.c.collection_id, t.aliases.c.alias)
            .where(t.aliases.c.collection_id.in_(list(aliases)))
            .order_by(t.aliases.c.alias)
        ):
            aliases[cid].append(alias)
    return [
        CollectionRecord(
            project,
            r.name,
            r.type,
            r.description,
            r.n,
            r.created_at,
            id=str(r.id),
            tags=tags[r.id],
            ttl=NEVER if r.ttl is None else int(r.ttl),
            aliases=aliases[r.id],
        )
        for r in rows
    ]


def _where(type_: str | None, after: str | None) -> Any:
    """The collections of type ``type_`` (None: any) named after ``after`` (None: all)."""
    where = [sa.true() if type_ is None else t.collections.c.type == type_]
    if after is not None:
        where.append(t.collections.c.name > after)
    return sa.and_(*where)


def _locked(conn: sa.Connection, project: str, name: str) -> sa.Row[Any]:
    """The collection's row, locked; ``ArtifactNotFoundError`` (with the names there are) if absent."""
    row = versions.collection(conn, project, name, None, lock=True)
    if row is None:
        raise ArtifactNotFoundError(f"no collection {project}/{name}", versions.collection_names(conn, project))
    return row


class CollectionVerbs:
    """Mixed into :class:`~quire.store.sql.SQLCatalog`, which provides ``tx``."""

    tx: Transactions
    url: str

    def projects(self) -> list[str]:
        """Every project name."""
        return self.tx.read(lambda conn: list(conn.scalars(sa.select(t.projects.c.name).order_by(t.projects.c.name))))

    def collections(
        self,
        project: str,
        type_: str | None = None,
        *,
        after: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[CollectionRecord]:
        """The collections of a project, optionally of one type, by name: those named
        after ``after``, ``offset`` of them skipped, at most ``limit`` (None: all)."""
        check_page(limit, offset)
        if after is not None and not isinstance(after, str):
            raise ValidationError(f"after must be a collection's name, not {after!r:.40}")
        where = _where(type_, after)
        return self.tx.read(lambda conn: _records(conn, project, where, limit, offset))

    def count_collections(self, project: str, type_: str | None = None) -> int:
        """How many collections a project holds (of one type)."""
        query = (
            sa.select(sa.func.count())
            .select_from(t.collections)
            .join(t.projects, t.projects.c.id == t.collections.c.project_id)
            .where(t.projects.c.name == project, _where(type_, None))
        )
        return self.tx.read(lambda conn: int(conn.scalar(query) or 0))

    def collection_type(self, project: str, name: str) -> str | None:
        """The type of ``project/name``, or None when there is no such collection."""
        row = self.tx.read(lambda conn: versions.collection(conn, project, name, None, lock=False))
        return row.type if row is not None else None

    def collection(self, project: str, name: str) -> CollectionRecord:
        """One collection (``ArtifactNotFoundError`` if absent)."""

        def read(conn: sa.Connection) -> CollectionRecord:
            found = _records(conn, project, t.collections.c.name == name)
            if not found:
                raise ArtifactNotFoundError(f"no collection {project}/{name}", versions.collection_names(conn, project))
            return found[0]

        return self.tx.read(read)

    def update_collection(
        self,
        project: str,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        tags: list[str] | None = None,
        type_: str | None = None,
        ttl: int | Literal["never"] | None = None,
    ) -> CollectionRecord:
        """Rename it, or replace its description, tags, type or default TTL (None: unchanged).

        An empty description clears it. A registry collection (one holding links) keeps
        its type: its links share their sources' type.

        Raises:
            ArtifactNotFoundError: there is no such collection.
            ValidationError: ``new_name`` is taken in the project, or the type of a
                collection of links was to change.
        """

        def update(conn: sa.Connection) -> str:
            row = _locked(conn, project, name)
            values: dict[str, Any] = {}
            if new_name is not None and new_name != name:
                # Checked, not left to the unique key: a write is retried on integrity errors.
                if versions.collection(conn, project, new_name, None, lock=False) is not None:
                    raise ValidationError(
                        f"cannot rename {project}/{name} to {new_name!r}: the project has a collection "
                        "of that name already; choose another name, or delete that collection first"
                    )
                values["name"] = new_name
            if description is not None:
                values["description"] = description or None
            if type_ is not None and type_ != row.type:
                linked = conn.scalar(
                    sa.select(t.versions.c.id)
                    .where(t.versions.c.collection_id == row.id, t.versions.c.source_id.is_not(None))
                    .limit(1)
                )
                if linked is not None:
                    raise ValidationError(
                        f"cannot change the type of {project}/{name}: it holds registry links, which "
                        f"keep their sources' type {row.type!r}; change the type of the source collection"
                    )
                values["type"] = type_
            if ttl is not None:
                values["ttl"] = None if ttl == NEVER else int(ttl)
            if values:
                conn.execute(t.collections.update().where(t.collections.c.id == row.id).values(**values))
            if tags is not None:
                conn.execute(t.collection_tags.delete().where(t.collection_tags.c.collection_id == row.id))
                new = [{"collection_id": row.id, "tag": tag} for tag in dict.fromkeys(tags)]
                if new:
                    conn.execute(t.collection_tags.insert(), new)
            return str(values.get("name", name))

        return self.collection(project, self.tx.write(update))

    def delete_collection(self, project: str, name: str) -> None:
        """Delete a collection with every version, alias, tag, lineage edge and pending
        version in it; what only they referenced is then gc's to collect.

        Raises:
            ArtifactNotFoundError: there is no such collection (deleted already?).
            ValidationError: registry links (in other collections) point at its versions.
        """

        def delete(conn: sa.Connection) -> None:
            row = _locked(conn, project, name)
            ids = sa.select(t.versions.c.id).where(t.versions.c.collection_id == row.id)
            links.check_unlinked(conn, list(conn.scalars(ids)), f"{project}/{name}")
            pending = sa.select(t.pending_versions.c.id).where(t.pending_versions.c.collection_id == row.id)
            conn.execute(t.contributions.delete().where(t.contributions.c.pending_id.in_(pending)))
            conn.execute(t.pending_versions.delete().where(t.pending_versions.c.collection_id == row.id))
            conn.execute(t.aliases.delete().where(t.aliases.c.collection_id == row.id))
            for table in (t.tags, t.lineage):
                conn.execute(table.delete().where(table.c.version_id.in_(ids)))
            conn.execute(t.versions.delete().where(t.versions.c.collection_id == row.id))
            conn.execute(t.collection_tags.delete().where(t.collection_tags.c.collection_id == row.id))
            conn.execute(t.collections.delete().where(t.collections.c.id == row.id))

        self.tx.write(delete)
