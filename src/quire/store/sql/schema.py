"""The catalog's tables (one SQLAlchemy Core schema for SQLite and PostgreSQL) and its
named, recorded migrations."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa

metadata = sa.MetaData()

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("info", sa.JSON),  # a registry's description, visibility, ... (None: {})
)

collections = sa.Table(
    "collections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("type", sa.String(128), nullable=False),
    sa.Column("description", sa.Text),
    # Version numbers are never reused, even after a delete: the next one lives here, and
    # the row doubles as the lock that serialises commits to one collection.
    sa.Column("next_index", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("ttl", sa.BigInteger),  # the default TTL (seconds) of versions that inherit; None: never
    sa.UniqueConstraint("project_id", "name"),
)

collection_tags = sa.Table(
    "collection_tags",
    metadata,
    sa.Column("collection_id", sa.ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag", sa.String(128), primary_key=True),
)

versions = sa.Table(
    "versions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("collection_id", sa.ForeignKey("collections.id"), nullable=False),
    sa.Column("idx", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("root", sa.String(64), nullable=False),  # the digest of its manifest's root page
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("file_count", sa.Integer, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("parent_id", sa.String(32)),
    sa.Column("run_id", sa.String(64)),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    # The client-made id of the commit that made it (None before 0004): a commit whose
    # answer was lost finds its own version by it instead of making it again.
    sa.Column("commit_id", sa.String(32)),
    # Its time to live: seconds from created_at; with ttl_inherit, the collection's applies.
    sa.Column("ttl", sa.BigInteger),
    sa.Column("ttl_inherit", sa.Boolean, nullable=False, server_default=sa.true()),
    # A link (a version of a registry collection) points at its source version.
    sa.Column("source_id", sa.String(32)),
    sa.UniqueConstraint("collection_id", "idx"),
    sa.Index("ix_versions_digest", "collection_id", "digest"),
    sa.Index("ux_versions_commit_id", "commit_id", unique=True),
    sa.Index("ix_versions_source_id", "source_id"),
)

aliases = sa.Table(
    "aliases",
    metadata,
    sa.Column("collection_id", sa.ForeignKey("collections.id"), primary_key=True),
    sa.Column("alias", sa.String(128), primary_key=True),
    sa.Column("version_id", sa.ForeignKey("versions.id", ondelete="CASCADE"), nullable=False),
    # A page of versions reads its aliases by version id (0007).
    sa.Index("ix_aliases_version_id", "version_id"),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("version_id", sa.ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag", sa.String(128), primary_key=True),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("name", sa.String(256)),
    sa.Column("group_name", sa.String(256)),
    sa.Column("job_type", sa.String(256)),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("finished_at", sa.String(32)),
    # None read as empty: rows made before 0006 lack them
    sa.Column("tags", sa.JSON),
    sa.Column("notes", sa.Text),
    sa.Column("summary", sa.JSON),
    sa.Column("info", sa.JSON),
)

# What run.log recorded, one row per step.
run_history = sa.Table(
    "run_history",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("step", sa.BigInteger, primary_key=True),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
)

lineage = sa.Table(
    "lineage",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("version_id", sa.ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("direction", sa.String(8), primary_key=True),  # "input" | "output"
)

pending_versions = sa.Table(
    "pending_versions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("collection_id", sa.ForeignKey("collections.id"), nullable=False),
    sa.Column("distributed_id", sa.String(256), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # open | committed | aborted
    sa.Column("version_id", sa.String(32)),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("closed_at", sa.String(32)),
    # the commit id of the finish that committed it (its version may be an older one)
    sa.Column("commit_id", sa.String(32)),
    sa.UniqueConstraint("collection_id", "distributed_id"),
    sa.Index("ux_pending_versions_commit_id", "commit_id", unique=True),
)

contributions = sa.Table(
    "contributions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("pending_id", sa.ForeignKey("pending_versions.id", ondelete="CASCADE"), nullable=False),
    # What makes a retried upsert idempotent: the digest of the writer's entries + writer.
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("root", sa.String(64), nullable=False),
    sa.Column("file_count", sa.Integer, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    # who wrote it (rank, host, Slurm/Ray/torchrun ids), its aliases and metadata
    sa.Column("info", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.UniqueConstraint("pending_id", "key"),
)

# One row: the gc fence. A gc bumps ``epoch`` and holds ``sweep_until`` (a lease, in seconds
# since the Unix epoch) while it deletes; a commit checks, in its transaction, that neither
# moved since its writer checked which blobs the store holds (see quire.core.gc).
gc_state = sa.Table(
    "gc_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("epoch", sa.BigInteger, nullable=False),
    sa.Column("sweep_until", sa.Float),
    sa.Column("holder", sa.String(256)),  # who sweeps (host and pid), for writers that wait
)

# Writers' leases: a process staging blobs that no version references yet holds one,
# renewed while it lives; gc deletes nothing written after the start of the oldest live
# lease (times in seconds since the Unix epoch, on the database's clock).
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("holder", sa.String(256), nullable=False),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("expires", sa.Float, nullable=False),
)

# One row: the catalog's identity, a random id made with it. The blob store records the
# id of the catalog that owns it on first use, so a second catalog pointed at the same
# blobs (or a catalog.db lost and made anew beside its blobs) is refused.
identity = sa.Table(
    "identity",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("catalog_id", sa.String(32), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
)

# API keys of ``quire server`` (see quire.store.keys): only a key's hash is kept, never the
# key, so a copy of the catalog lets no one call the server.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # public: what `key ls` shows and logs name
    sa.Column("hash", sa.String(64), nullable=False, unique=True),  # sha256 hex of the whole key
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("project", sa.String(128)),  # the one project it may reach; None: all
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("revoked_at", sa.String(32)),
)

migrations_table = sa.Table(
    "migrations",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("applied_at", sa.String(32), nullable=False),
)


def _initial(conn: sa.Connection) -> None:
    metadata.create_all(conn, checkfirst=True)


def _gc_state(conn: sa.Connection) -> None:
    gc_state.create(conn, checkfirst=True)
    if conn.scalar(sa.select(sa.func.count()).select_from(gc_state)) == 0:
        conn.execute(gc_state.insert().values(id=1, epoch=0, sweep_until=None))


def _commit_ids(conn: sa.Connection) -> None:
    # By the tables' names of then (0005 renames them); a catalog made by 0001 since this
    # column was added has it already, one made since 0005 has no table "pending".
    tables = set(sa.inspect(conn).get_table_names())
    for table, index in (("versions", "ux_versions_commit_id"), ("pending", "ux_pending_commit_id")):
        if table not in tables:
            continue
        if "commit_id" not in _columns(conn, table):
            conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN commit_id VARCHAR(32)"))
        conn.execute(sa.text(f"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {table} (commit_id)"))


def _glossary(conn: sa.Connection) -> None:
    # One word per idea: the table of pending versions says so, and what a version or a
    # contribution stores is the root of its manifest, not "a manifest". A catalog made
    # since (by 0001) has the new names already.
    if "pending" in sa.inspect(conn).get_table_names():
        conn.execute(sa.text("DROP INDEX IF EXISTS ux_pending_commit_id"))
        conn.execute(sa.text("ALTER TABLE pending RENAME TO pending_versions"))
        conn.execute(
            sa.text("CREATE UNIQUE INDEX IF NOT EXISTS ux_pending_versions_commit_id ON pending_versions (commit_id)")
        )
    for table in ("versions", "contributions"):
        if "manifest" in _columns(conn, table):
            conn.execute(sa.text(f"ALTER TABLE {table} RENAME COLUMN manifest TO root"))


def _columns(conn: sa.Connection, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(conn).get_columns(table)}


def _leases_and_identity(conn: sa.Connection) -> None:
    # A new catalog has these already (0001 creates every table of today's schema).
    if "holder" not in _columns(conn, "gc_state"):
        conn.execute(sa.text("ALTER TABLE gc_state ADD COLUMN holder VARCHAR(256)"))
    leases.create(conn, checkfirst=True)
    identity.create(conn, checkfirst=True)
    if conn.scalar(sa.select(sa.func.count()).select_from(identity)) == 0:
        created = datetime.now(UTC).isoformat(timespec="microseconds")
        conn.execute(identity.insert().values(id=1, catalog_id=uuid.uuid4().hex, created_at=created))


def _wandb_surface(conn: sa.Connection) -> None:
    # What the W&B surface needs: run tags, notes, summary and history; collection tags
    # and default TTL; version TTL and links; project info. A catalog made since (by
    # 0001) has them already.
    added = {
        "projects": [("info", "JSON")],
        "collections": [("ttl", "BIGINT")],
        "runs": [("tags", "JSON"), ("notes", "TEXT"), ("summary", "JSON"), ("info", "JSON")],
        "versions": [
            ("ttl", "BIGINT"),
            ("ttl_inherit", "BOOLEAN NOT NULL DEFAULT TRUE"),
            ("source_id", "VARCHAR(32)"),
        ],
    }
    for table, columns in added.items():
        have = _columns(conn, table)
        for column, sql_type in columns:
            if column not in have:
                conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}"))
    conn.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_versions_source_id ON versions (source_id)"))
    collection_tags.create(conn, checkfirst=True)
    run_history.create(conn, checkfirst=True)


def _listing_index(conn: sa.Connection) -> None:
    # A page of a listing reads the aliases of its versions only: without this index each
    # page scanned every alias of the store. A catalog made since (by 0001) has it.
    conn.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_aliases_version_id ON aliases (version_id)"))


def _api_keys(conn: sa.Connection) -> None:
    # The server's key ring. A catalog made since (by 0001) has the table already.
    api_keys.create(conn, checkfirst=True)


#: Applied in order, each once, each recorded by name in ``migrations``. Append only.
MIGRATIONS: list[tuple[str, Callable[[sa.Connection], None]]] = [
    ("0001_initial", _initial),
    ("0002_gc_state", _gc_state),
    ("0003_leases_and_identity", _leases_and_identity),
    ("0004_commit_ids", _commit_ids),
    ("0005_glossary", _glossary),
    ("0006_wandb_surface", _wandb_surface),
    ("0007_listing_index", _listing_index),
    ("0008_api_keys", _api_keys),
]
