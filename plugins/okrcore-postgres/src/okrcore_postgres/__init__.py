"""okrcore check-in store on PostgreSQL: ``okrcore.open_store("postgresql://user@host/db")``.

See :class:`~okrcore_postgres.store.PostgresStore` and okrcore's docs/stores.md.
"""

from __future__ import annotations

from .store import MIGRATIONS, SCHEMA_VERSION, PostgresStore

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgresStore"]
