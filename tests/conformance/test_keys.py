"""The key ring suite on the SQL catalog's key ring (``api_keys``), on SQLite and on
PostgreSQL, with its backdoor: the table read with SQL of its own."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from quire.errors import StoreError
from quire.store.keys import KeyRing
from quire.store.keys import key_ring as key_ring_of
from quire.store.sql import SQLCatalog, schema
from quire.store.sql.keys import SQLKeyRing
from quire.testing import KeyRingTests
from quire.testing.keys import secret_of


def stored_text(engine: sa.Engine) -> str:
    """Every value of every row of ``api_keys``, as text."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM api_keys")).all()
    return "\n".join(" ".join(str(value) for value in row) for row in rows)


class SQLKeyRingTests(KeyRingTests):
    """``KeyRingTests`` on a SQL catalog, given as ``open_catalog``."""

    @pytest.fixture
    def open_key_ring(self, open_catalog: Callable[[], SQLCatalog]) -> Callable[[], KeyRing]:
        return lambda: key_ring_of(open_catalog())

    @pytest.fixture
    def key_ring_backdoor(self, open_catalog: Callable[[], SQLCatalog]) -> Callable[[], str]:
        engine = open_catalog().engine
        return lambda: stored_text(engine)

    def test_the_ring_of_a_sql_catalog_is_its_api_keys_table(self, key_ring: KeyRing) -> None:
        assert isinstance(key_ring, SQLKeyRing)

    def test_the_table_holds_the_hash_of_the_key_and_not_its_secret(
        self, key_ring: KeyRing, open_catalog: Callable[[], SQLCatalog]
    ) -> None:
        key, record = key_ring.create_key("admin", label="ops")
        with open_catalog().engine.connect() as conn:
            row = conn.execute(sa.text("SELECT * FROM api_keys")).one()._asdict()
        assert row["hash"] == hashlib.sha256(key.encode()).hexdigest()
        assert row["id"] == record.id
        assert key.startswith(f"qk_{record.id}_")
        secret = secret_of(key, record)
        assert len(secret) >= 32  # token_urlsafe(24): 192 bits
        assert not any(secret in str(value) for value in row.values())

    def test_a_catalog_of_0007_gets_the_api_keys_table(
        self, key_ring: KeyRing, open_catalog: Callable[[], SQLCatalog]
    ) -> None:
        key_ring.keys()
        with open_catalog().engine.begin() as conn:  # back to what 0007 left
            conn.execute(sa.text("DROP TABLE api_keys"))
            conn.execute(schema.migrations_table.delete().where(schema.migrations_table.c.name == "0008_api_keys"))
        reopened = key_ring_of(open_catalog())
        key, record = reopened.create_key("admin")
        assert reopened.key_for(key) == record

    def test_a_key_whose_row_is_deleted_is_refused(
        self, key_ring: KeyRing, open_catalog: Callable[[], SQLCatalog]
    ) -> None:
        key, _ = key_ring.create_key("admin")
        with open_catalog().engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM api_keys"))
        assert key_ring.key_for(key) is None


class TestSQLiteKeyRing(SQLKeyRingTests):
    @pytest.fixture
    def open_catalog(self, open_sqlite_catalog):
        return open_sqlite_catalog


class TestPostgresKeyRing(SQLKeyRingTests):
    pytestmark = pytest.mark.postgres

    @pytest.fixture
    def open_catalog(self, open_postgres_catalog):
        return open_postgres_catalog


def test_a_catalog_that_is_not_sql_holds_no_keys() -> None:
    class Elsewhere:
        url = "toy://catalog"

    with pytest.raises(StoreError, match="toy://catalog cannot hold API keys"):
        key_ring_of(Elsewhere())
