"""The check-in store: check-ins and their revisions, target and strategy changes, and the refresh
run log.

:class:`Store` is the interface a backend implements (a plugin may add one through the
``okrcore_register_stores`` hook). :func:`open_store` picks a backend by URL scheme:
``sqlite:///path/to/okr.db`` (the embedded default), ``memory://`` (tests and embedding), or a
plugin's (``postgresql://`` with okrcore-postgres). docs/stores.md describes the rules.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from okrcore.errors import StoreError

from .base import (
    OUTCOME_COLUMNS,
    AddResult,
    CheckInRecord,
    EventDelivery,
    Store,
    StoreBase,
    check_run,
    check_target_change,
    checkin_key,
    differs,
    encode_json,
    latest_per_key,
    outcome_from_row,
    outcome_row,
    require_finite,
)
from .rows import (
    INITIATIVE_CHANGE_COLUMNS,
    STRATEGY_CHANGE_COLUMNS,
    TARGET_CHANGE_COLUMNS,
    RowReader,
    changes_query,
    initiative_change_from_row,
    initiative_change_row,
    strategy_change_from_row,
    strategy_change_row,
    target_change_from_row,
    target_change_row,
    utc_moment,
)
from .sql import (
    CHECKIN_COLUMNS,
    EVENT_COLUMNS,
    READING_ORDER,
    RUN_COLUMNS,
    CheckinFilter,
    Cursor,
    SQLStore,
    apply_migrations,
    checkin_filter,
    checkins_query,
    event_deliveries_query,
    event_from_row,
    history_query,
    read_runs,
    update_outcomes,
    write_run,
)
from .sqlite import MIGRATIONS, SCHEMA_VERSION, MemoryStore, SQLiteStore

if TYPE_CHECKING:
    from okrcore.plugins import PluginManager

    from .copy import SECTIONS, CopyReport, Section, copy_store, store_content

# ``okr store copy``'s names are imported on first use: a script that only opens a store and reads
# it does not pay for them at start-up
_COPY_NAMES = frozenset({"SECTIONS", "CopyReport", "Section", "copy_store", "store_content"})


def __getattr__(name: str) -> object:
    if name in _COPY_NAMES:
        from . import copy

        return getattr(copy, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "CHECKIN_COLUMNS",
    "EVENT_COLUMNS",
    "INITIATIVE_CHANGE_COLUMNS",
    "MIGRATIONS",
    "OUTCOME_COLUMNS",
    "READING_ORDER",
    "RUN_COLUMNS",
    "SCHEMA_VERSION",
    "SECTIONS",
    "STRATEGY_CHANGE_COLUMNS",
    "TARGET_CHANGE_COLUMNS",
    "AddResult",
    "CheckInRecord",
    "CheckinFilter",
    "CopyReport",
    "Cursor",
    "EventDelivery",
    "MemoryStore",
    "RowReader",
    "SQLStore",
    "SQLiteStore",
    "Section",
    "Store",
    "StoreBase",
    "apply_migrations",
    "changes_query",
    "check_run",
    "check_target_change",
    "checkin_filter",
    "checkin_key",
    "checkins_query",
    "copy_store",
    "differs",
    "encode_json",
    "event_deliveries_query",
    "event_from_row",
    "history_query",
    "initiative_change_from_row",
    "initiative_change_row",
    "latest_per_key",
    "open_store",
    "outcome_from_row",
    "outcome_row",
    "read_runs",
    "require_finite",
    "store_content",
    "strategy_change_from_row",
    "strategy_change_row",
    "target_change_from_row",
    "target_change_row",
    "update_outcomes",
    "utc_moment",
    "write_run",
]


def open_store(
    url: str, *, create: bool = True, manager: PluginManager | None = None
) -> Store:
    """Open a check-in store by URL: ``sqlite:///okr.db``, ``memory://``, or a plugin's scheme.

    A bare path (no ``scheme://``) is taken as a SQLite file. ``create=False`` opens only a store
    that exists (else :class:`~okrcore.StoreNotFoundError`, also a ``FileNotFoundError``), so
    that a mistyped URL is not silently a new, empty store. Pending schema migrations are applied
    on open.
    """
    from okrcore.plugins import default_manager

    scheme = url.split("://", 1)[0] if "://" in url else "sqlite"
    if "://" not in url:
        url = f"sqlite:///{url}"
    registry = (manager or default_manager()).stores
    if scheme not in registry:
        known = ", ".join(registry) or "none"
        raise StoreError(f"unknown store scheme {scheme!r} in {url!r} (known: {known})")
    factory = registry.get(scheme)
    # a factory written before ``create`` existed always opens (or creates)
    store: Store = factory(url, create=create) if _takes_create(factory) else factory(url)
    return store


def _takes_create(factory: object) -> bool:
    try:
        parameters = inspect.signature(factory).parameters  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return "create" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )
