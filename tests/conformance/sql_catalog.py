"""The shipped catalog suite on :class:`~quire.store.sql.SQLCatalog`, plus what only a
SQL catalog has (migrations), and its backdoor: plain SQL behind the catalog's back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from quire.store.sql import SQLCatalog, schema
from quire.testing import CatalogTests
from quire.testing.catalog import commit as commit_version
from quire.testing.catalog import summary


class SQLBackdoor:
    """The tables of a SQL catalog, read and written with SQL of their own."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def expire_lease(self, lease_id: str) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(sa.text("UPDATE leases SET expires = 0 WHERE id = :id"), {"id": lease_id})
            assert done.rowcount == 1, f"no lease {lease_id}"

    def expire_sweep(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text("UPDATE gc_state SET sweep_until = 0 WHERE sweep_until IS NOT NULL"))

    def run_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.scalars(sa.text("SELECT id FROM runs ORDER BY id")))


class SQLCatalogTests(CatalogTests):
    """``CatalogTests`` on a SQL catalog, with its backdoor and its migrations."""

    @pytest.fixture
    def catalog_backdoor(self, open_catalog: Callable[[], SQLCatalog]) -> SQLBackdoor:
        return SQLBackdoor(open_catalog().engine)

    def test_migrations_are_recorded_once(self, open_catalog: Callable[[], SQLCatalog]) -> None:
        commit_version(open_catalog(), "a")
        reopened = open_catalog()
        reopened.migrate()
        with reopened.engine.connect() as conn:
            names = list(conn.scalars(sa.select(schema.migrations_table.c.name)))
        assert names == [name for name, _ in schema.MIGRATIONS]
        assert summary(reopened) == {"v0": ["latest"]}

    def test_a_catalog_of_0002_gets_leases_and_an_identity(self, open_catalog: Callable[[], SQLCatalog]) -> None:
        catalog = open_catalog()
        commit_version(catalog, "a")
        with catalog.engine.begin() as conn:  # back to what 0002 left
            conn.execute(sa.text("DROP TABLE leases"))
            conn.execute(sa.text("DROP TABLE identity"))
            conn.execute(sa.text("ALTER TABLE gc_state DROP COLUMN holder"))
            conn.execute(
                schema.migrations_table.delete().where(schema.migrations_table.c.name == "0003_leases_and_identity")
            )
        reopened = open_catalog()
        assert len(reopened.catalog_id) == 32
        reopened.drop_lease(reopened.open_lease("writer", lease=60))
        swept = reopened.begin_sweep(reopened.gc_epoch(), lease=60, holder="gc")
        assert reopened.sweep().holder == "gc"  # type: ignore[union-attr]
        reopened.end_sweep(swept)
        assert summary(reopened) == {"v0": ["latest"]}
