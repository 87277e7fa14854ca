"""Built-in stores, registered through the okrcore hooks: ``sqlite://`` and ``memory://``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from okrcore.hookspecs import hookimpl
from okrcore.store import MemoryStore, SQLiteStore


@hookimpl
def okrcore_register_stores(register: Callable[[str, Callable[[str], Any]], None]) -> None:
    """Register the embedded SQLite store and its in-memory variant."""
    register("sqlite", SQLiteStore.from_url)
    register("memory", MemoryStore.from_url)
