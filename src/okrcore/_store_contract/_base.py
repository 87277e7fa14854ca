"""The store contract's base class and helpers: opening a store for a test, and the records the
tests write. :class:`okrcore.testing.StoreContract` is built on it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator
from typing import Any, ClassVar

from okrcore.model import CheckIn, RunRecord
from okrcore.plugins import PluginManager
from okrcore.store import EventDelivery, MemoryStore, Store, copy_store, open_store, store_content

UTC = dt.timezone.utc
D = dt.date
T0 = dt.datetime(2026, 2, 1, 6, 0, tzinfo=UTC)


def _ci(kr: str, value: float, day: int, **kw: Any) -> CheckIn:
    return CheckIn(kr, value, D(2026, 1, day), **kw)


@contextlib.contextmanager
def _refused(error: type[Exception], pattern: str) -> Iterator[None]:
    """Like pytest.raises(error, match=pattern), without importing pytest here."""
    try:
        yield
    except error as exc:
        if not re.search(pattern, str(exc)):
            raise AssertionError(f"{exc!r} does not match {pattern!r}") from exc
    else:
        raise AssertionError(f"{error.__name__} not raised")


def _run(run_id: str, hour: int, **kw: Any) -> RunRecord:
    start = dt.datetime(2026, 4, 1, hour, tzinfo=UTC)
    return RunRecord(run_id, start, start + dt.timedelta(seconds=3), D(2026, 3, 31), **kw)


def _delivery(key: str, token: str, *, at: dt.datetime = T0, **kw: Any) -> EventDelivery:
    return EventDelivery(
        key=key, destination=kw.pop("destination", "team-chat"), kind="target_reached",
        subject="leads", at=D(2026, 1, 31), token=token, claimed_at=at, **kw,
    )


def _copies_intact(store: Store) -> None:
    """Copy ``store`` into a memory store, which must then read back the same."""
    with MemoryStore() as copy:
        copy_store(store, copy)
        copied = store_content(copy)
        for name, records in store_content(store).items():
            assert copied[name] == records, f"the copy's {name} differ"


class ContractBase:
    """What every part of the store contract builds on: the backend's plugin manager and a way
    to open its stores that checks each one survives a copy."""

    #: False for a backend whose data is gone when closed: reopening tests are skipped
    persistent: ClassVar[bool] = True

    def manager(self) -> PluginManager:
        """The plugin manager the stores are opened with (default: installed plugins)."""
        return PluginManager()

    @contextlib.contextmanager
    def opened(self, url: str, *, create: bool = True) -> Iterator[Store]:
        """Open ``url`` for the ``with`` block; when the block succeeds, the store is copied
        to a memory store, which must then hold the same records."""
        store = open_store(url, create=create, manager=self.manager())
        try:
            yield store
            _copies_intact(store)
        finally:
            store.close()

    def _skip_unless_persistent(self) -> None:
        if not self.persistent:
            import pytest

            pytest.skip("the backend keeps no data once closed")
