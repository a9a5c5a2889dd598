"""Collections, versions, aliases and tags, in SQL: functions of a connection, run inside
the caller's transaction (see :class:`~quire.store.sql.txn.Transactions`).

Version numbers and aliases are protected by the collection row, locked for the length
of a commit (``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR UPDATE`` on PostgreSQL),
never by client-side checks.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ...errors import ArtifactNotFoundError, CollectionTypeError, MovedOnError
from ..catalog import ANY_LATEST, INHERIT, NEVER, TTL, NewVersion, VersionOrder, VersionRecord, now
from . import runs
from . import schema as t

_INDEX = re.compile(r"v(\d+)")
#: the largest version number the catalog's ``idx`` column (a 32-bit SQL integer) holds
_MAX_INDEX = 2**31 - 1


def collection(conn: sa.Connection, project: str, name: str, type_: str | None, lock: bool) -> sa.Row[Any] | None:
    """The collection row (created when ``type_`` is given), locked when asked.

    Raises:
        CollectionTypeError: it holds another type than ``type_``.
    """
    pid = runs.project_id(conn, project, create=type_ is not None)
    if pid is None:
        return None
    query = sa.select(t.collections).where(t.collections.c.project_id == pid, t.collections.c.name == name)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None and type_ is not None:
        conn.execute(t.collections.insert().values(project_id=pid, name=name, type=type_, created_at=now()))
        row = conn.execute(query.with_for_update() if lock else query).first()
    if row is not None and type_ is not None and row.type != type_:
        raise CollectionTypeError(f"{project}/{name}", row.type, type_)
    return row


def collection_names(conn: sa.Connection, project: str) -> list[str]:
    """The names of a project's collections (for "did you mean" lists)."""
    return list(
        conn.scalars(
            sa.select(t.collections.c.name)
            .join(t.projects, t.projects.c.id == t.collections.c.project_id)
            .where(t.projects.c.name == project)
            .order_by(t.collections.c.name)
        )
    )


def own_version(conn: sa.Connection, commit_id: str) -> str | None:
    """The version the commit ``commit_id`` made, if it made one."""
    return conn.scalar(sa.select(t.versions.c.id).where(t.versions.c.commit_id == commit_id))


def alias_target(conn: sa.Connection, coll_id: int, alias: str) -> str | None:
    """The id of the version ``alias`` points at in the collection, if any."""
    return conn.scalar(
        sa.select(t.aliases.c.version_id).where(t.aliases.c.collection_id == coll_id, t.aliases.c.alias == alias)
    )


def check_latest(conn: sa.Connection, coll: sa.Row[Any], expect_latest: str | None, what: str) -> None:
    """The compare of compare-and-swap: the collection's latest version is still the one
    the new version was built on (or it does not matter: :data:`ANY_LATEST`).

    Raises:
        MovedOnError: another commit got in first.
    """
    if expect_latest == ANY_LATEST:
        return
    latest = alias_target(conn, coll.id, "latest")
    if latest != expect_latest:
        raise MovedOnError(
            f"{what} was built on {'version ' + expect_latest if expect_latest else 'an empty collection'}, "
            f"but the latest version is now {latest or 'none'}: another commit got in first; nothing was committed"
        )


def add_version(
    conn: sa.Connection,
    coll: sa.Row[Any],
    new: NewVersion,
    aliases: list[str],
    tags: list[str],
    run_ids: list[str],
    commit_id: str,
) -> tuple[str, bool]:
    """Make ``new`` the collection's next version (the collection locked by the caller),
    unless its digest equals a version of the collection: that one gets the aliases, tags
    and output edges. Returns the version id and whether it is new (a new one records
    ``commit_id``).

    Either way the version committed becomes ``latest`` (the rule for ``latest``, as W&B
    shows it: the version most recently logged, see docs/design.md): logging an older
    version's files again makes that one the latest, as W&B's service does when a
    logged artifact equals one it holds."""
    same = conn.scalar(
        sa.select(t.versions.c.id)
        .where(t.versions.c.collection_id == coll.id, t.versions.c.digest == new.digest)
        .limit(1)
    )
    created = same is None
    if same is None:
        vid = insert_next(
            conn,
            coll,
            digest=new.digest,
            root=new.root,
            size=new.size,
            file_count=new.file_count,
            metadata=new.metadata,
            description=new.description,
            parent_id=new.parent_id,
            run_id=run_ids[0] if run_ids else None,
            commit_id=commit_id,
            **ttl_columns(new.ttl),
        )
    else:
        vid = same
    point(conn, coll.id, "latest", vid)
    for alias in dict.fromkeys(aliases):
        point(conn, coll.id, alias, vid)
    add_tags(conn, vid, tags)
    runs.edges(conn, run_ids, vid, "output")
    return vid, created


def insert_next(conn: sa.Connection, coll: sa.Row[Any], **columns: Any) -> str:
    """Insert a version as the collection's next one (its row locked by the caller), with
    ``columns``; returns the new version's id."""
    vid = uuid.uuid4().hex
    stamp = now()
    conn.execute(
        t.versions.insert().values(
            id=vid, collection_id=coll.id, idx=coll.next_index, created_at=stamp, updated_at=stamp, **columns
        )
    )
    conn.execute(t.collections.update().where(t.collections.c.id == coll.id).values(next_index=coll.next_index + 1))
    return vid


def ttl_columns(ttl: TTL) -> dict[str, Any]:
    """The ``versions`` columns that hold a TTL."""
    if ttl == INHERIT:
        return {"ttl": None, "ttl_inherit": True}
    return {"ttl": None if ttl == NEVER else int(ttl), "ttl_inherit": False}


def expiry(created_at: str, seconds: int | None) -> str | None:
    """When a version made at ``created_at`` with a TTL of ``seconds`` expires (None: never)."""
    if seconds is None:
        return None
    return (datetime.fromisoformat(created_at) + timedelta(seconds=int(seconds))).isoformat(timespec="microseconds")


def point(conn: sa.Connection, coll_id: int, alias: str, vid: str) -> None:
    """Move ``alias`` of the collection to ``vid``."""
    conn.execute(t.aliases.delete().where(t.aliases.c.collection_id == coll_id, t.aliases.c.alias == alias))
    conn.execute(t.aliases.insert().values(collection_id=coll_id, alias=alias, version_id=vid))


def add_tags(conn: sa.Connection, vid: str, new_tags: list[str]) -> None:
    """Tag ``vid`` with those of ``new_tags`` it lacks."""
    have = set(conn.scalars(sa.select(t.tags.c.tag).where(t.tags.c.version_id == vid)))
    for tag in dict.fromkeys(new_tags):
        if tag not in have:
            conn.execute(t.tags.insert().values(version_id=vid, tag=tag))


def load(conn: sa.Connection, ids: list[str]) -> list[VersionRecord]:
    """Full records of the given version ids, in the given order."""
    if not ids:
        return []
    query = (
        sa.select(
            t.versions,
            t.collections.c.name.label("cname"),
            t.collections.c.type,
            t.collections.c.ttl.label("default_ttl"),
            t.projects.c.name.label("pname"),
        )
        .join(t.collections, t.collections.c.id == t.versions.c.collection_id)
        .join(t.projects, t.projects.c.id == t.collections.c.project_id)
        .where(t.versions.c.id.in_(ids))
    )
    found = {}
    for r in conn.execute(query):
        found[r.id] = VersionRecord(
            id=r.id,
            project=r.pname,
            collection=r.cname,
            type=r.type,
            index=r.idx,
            digest=r.digest,
            root=r.root,
            size=r.size,
            file_count=r.file_count,
            metadata=r.metadata,
            description=r.description,
            parent_id=r.parent_id,
            run_id=r.run_id,
            created_at=r.created_at,
            updated_at=r.updated_at,
            ttl=INHERIT if r.ttl_inherit else (NEVER if r.ttl is None else int(r.ttl)),
            expires_at=expiry(r.created_at, r.default_ttl if r.ttl_inherit else r.ttl),
            source_id=r.source_id,
        )
    for vid, alias in conn.execute(
        sa.select(t.aliases.c.version_id, t.aliases.c.alias)
        .where(t.aliases.c.version_id.in_(ids))
        .order_by(t.aliases.c.alias)
    ):
        found[vid].aliases.append(alias)
    for vid, tag in conn.execute(
        sa.select(t.tags.c.version_id, t.tags.c.tag).where(t.tags.c.version_id.in_(ids)).order_by(t.tags.c.tag)
    ):
        found[vid].tags.append(tag)
    return [found[i] for i in ids if i in found]


def named(conn: sa.Connection, project: str, name: str, version: str) -> VersionRecord:
    """The version of ``project/name`` named ``vN`` or by an alias."""
    coll = collection(conn, project, name, None, lock=False)
    if coll is None:
        raise ArtifactNotFoundError(f"no artifact {project}/{name}", collection_names(conn, project))
    m = _INDEX.fullmatch(version)
    vid: str | None
    if m and (len(m.group(1)) > 10 or int(m.group(1)) > _MAX_INDEX):
        vid = None  # no such version, and no SQL integer to look for it with
    elif m:
        vid = conn.scalar(
            sa.select(t.versions.c.id).where(t.versions.c.collection_id == coll.id, t.versions.c.idx == int(m.group(1)))
        )
    else:
        vid = alias_target(conn, coll.id, version)
    if vid is None:
        have = [
            f"v{i}"
            for i in conn.scalars(
                sa.select(t.versions.c.idx).where(t.versions.c.collection_id == coll.id).order_by(t.versions.c.idx)
            )
        ]
        have += sorted(conn.scalars(sa.select(t.aliases.c.alias).where(t.aliases.c.collection_id == coll.id)))
        raise ArtifactNotFoundError(f"no version {version!r} of {project}/{name}", have)
    return load(conn, [vid])[0]


def _existing(conn: sa.Connection, project: str, name: str) -> sa.Row[Any]:
    coll = collection(conn, project, name, None, lock=False)
    if coll is None:
        raise ArtifactNotFoundError(f"no artifact {project}/{name}", collection_names(conn, project))
    return coll


def _tagged(coll_id: int, tags: list[str] | None) -> list[Any]:
    """The conditions on ``versions`` selecting the collection's versions holding every tag
    (each an EXISTS on the tags table's key, so no join multiplies rows)."""
    where: list[Any] = [t.versions.c.collection_id == coll_id]
    for tag in dict.fromkeys(tags or []):
        held = sa.select(t.tags.c.version_id).where(t.tags.c.version_id == t.versions.c.id, t.tags.c.tag == tag)
        where.append(held.exists())
    return where


def of_collection(
    conn: sa.Connection,
    project: str,
    name: str,
    *,
    order: VersionOrder = "index",
    descending: bool = False,
    tags: list[str] | None = None,
    after: tuple[Any, int] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[VersionRecord]:
    """A page of a collection's versions (see ``Catalog.versions``): one query for the
    ids, by ``(order, idx)`` from the key ``after`` on, then the page's records."""
    coll = _existing(conn, project, name)
    column = t.versions.c.idx if order == "index" else t.versions.c[order]
    where = _tagged(coll.id, tags)
    if after is not None:
        value, index = after
        beyond = (column < value) if descending else (column > value)
        same = (t.versions.c.idx < index) if descending else (t.versions.c.idx > index)
        where.append(sa.or_(beyond, sa.and_(column == value, same)))
    keys = [column] if order == "index" else [column, t.versions.c.idx]
    query = sa.select(t.versions.c.id).where(*where).order_by(*(k.desc() if descending else k for k in keys))
    query = query.offset(offset or None)
    ids = list(conn.scalars(query.limit(limit) if limit is not None else query))
    return load(conn, ids)


def count_of_collection(conn: sa.Connection, project: str, name: str, tags: list[str] | None) -> int:
    """How many versions of the collection hold every tag in ``tags``."""
    coll = _existing(conn, project, name)
    return int(conn.scalar(sa.select(sa.func.count()).select_from(t.versions).where(*_tagged(coll.id, tags))) or 0)
