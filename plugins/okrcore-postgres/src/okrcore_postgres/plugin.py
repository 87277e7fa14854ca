"""The okrcore hooks of okrcore-postgres: the ``postgresql://`` and ``postgres://`` stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from okrcore import hookimpl

from .store import PostgresStore


@hookimpl
def okrcore_register_stores(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register the PostgreSQL store under both URL schemes libpq accepts."""
    register("postgresql", PostgresStore.from_url)
    register("postgres", PostgresStore.from_url)
