"""The catalog in SQL: :class:`SQLCatalog` over SQLAlchemy Core, for SQLite and PostgreSQL."""

from .catalog import SQLCatalog
from .txn import damaged_catalog

__all__ = ["SQLCatalog", "damaged_catalog"]
