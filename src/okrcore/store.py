"""The check-in store: check-ins, target and strategy changes, and the refresh run log.

:class:`Store` is the interface a backend implements (a plugin may add one through the
``okrcore_register_stores`` hook). :func:`open_store` picks a backend by URL scheme:
``sqlite:///path/to/okr.db`` (the embedded default) or ``memory://`` (tests and embedding).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .errors import StoreError
from .model import CheckIn, RunRecord, StrategyChange, TargetChange

if TYPE_CHECKING:
    from .plugins import PluginManager

__all__ = ["Store", "open_store"]


@runtime_checkable
class Store(Protocol):
    """What every check-in store backend provides.

    Check-ins are append-only: writing one whose ``(kr_id, as_of, source)`` is already stored
    stores nothing. Lists come back in ``as_of`` (or time) order, oldest first.
    """

    def add_checkins(self, checkins: Iterable[CheckIn]) -> int:
        """Store check-ins; return how many were new."""
        ...

    def checkins(
        self,
        kr_ids: Sequence[str] | None = None,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> list[CheckIn]:
        """Check-ins of the given key results (all when ``None``) with since <= as_of <= until."""
        ...

    def add_target_change(self, change: TargetChange) -> None:
        """Record a target change."""
        ...

    def target_changes(self, kr_id: str | None = None) -> list[TargetChange]:
        """Target changes of one key result (all when ``None``), oldest first."""
        ...

    def add_strategy_change(self, change: StrategyChange) -> None:
        """Record a strategy change."""
        ...

    def strategy_changes(self, strategy_id: str | None = None) -> list[StrategyChange]:
        """Strategy changes of one strategy (all when ``None``), oldest first."""
        ...

    def record_run(self, run: RunRecord) -> None:
        """Record (or update, by ``run.id``) a refresh run."""
        ...

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The most recent refresh runs, newest first."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


def open_store(url: str, *, manager: PluginManager | None = None) -> Store:
    """Open a check-in store by URL: ``sqlite:///okr.db``, ``memory://``, or a plugin's scheme.

    A bare path (no ``scheme://``) is taken as a SQLite file.
    """
    from .plugins import default_manager

    scheme = url.split("://", 1)[0] if "://" in url else "sqlite"
    if "://" not in url:
        url = f"sqlite:///{url}"
    registry = (manager or default_manager()).stores
    if scheme not in registry:
        known = ", ".join(registry) or "none"
        raise StoreError(f"unknown store scheme {scheme!r} in {url!r} (known: {known})")
    store: Store = registry.get(scheme)(url)
    return store
