"""Refresh stores a reading the source restates as a revision (docs/stores.md#revisions)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from okrcore.engine import refresh
from okrcore.model import CheckIn, Connection, Cycle, KeyResult, Objective, Plan
from okrcore.plugins import PluginManager
from okrcore.store import AddResult, MemoryStore
from okrcore.testing import FakeServer, Reply

AT = dt.date(2026, 3, 10)
CYCLE = Cycle("q1", dt.date(2026, 3, 1), dt.date(2026, 3, 31))


def make_plan(url: str, source: dict[str, Any], measure: str = "gauge") -> Plan:
    kr = KeyResult("leads", "Leads", measure=measure, baseline=0, target=1000,
                   source={"connection": "api", **source})
    return Plan(cycles=[CYCLE], objectives=[Objective("o", "Grow", "q1", key_results=[kr])],
                connections={"api": Connection("api", "http_json", {}, endpoint=url)})


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as s:
        yield s


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    s = MemoryStore()
    yield s
    s.close()


def test_a_changed_reading_for_the_same_day_is_a_revision(
    server: FakeServer, store: MemoryStore
) -> None:
    manager = PluginManager(load_entry_points=False)
    plan = make_plan(server.url, {"url": "/total", "value": "$.total"})
    server.route("/total", Reply(json={"total": 583}))
    first = refresh(plan, store, at=AT, manager=manager)
    server.route("/total", Reply(json={"total": 592}))  # the day's amount, restated later
    second = refresh(plan, store, at=AT, manager=manager)
    again = refresh(plan, store, at=AT, manager=manager)

    assert [(o.status, o.stored, o.revised) for o in first.outcomes] == [("refreshed", 1, 0)]
    assert [(o.status, o.stored, o.revised) for o in second.outcomes] == [("refreshed", 0, 1)]
    assert [(o.status, o.stored, o.revised) for o in again.outcomes] == [("unchanged", 0, 0)]
    assert second.to_dict()["refreshed"] == [
        {"id": "leads", "value": 592.0, "stored": 0, "revised": 1, "connection": "api"}
    ]
    assert [c.value for c in store.checkins()] == [592.0]
    old, current = store.checkin_history()
    assert (old.checkin.value, old.run_id, old.in_force) == (583.0, first.run.id, False)
    assert (current.checkin.value, current.run_id) == (592.0, second.run.id)
    # the run log keeps the counts
    assert {r.id: [o.revised for o in r.outcomes] for r in store.runs()}[second.run.id] == [1]


def test_a_restated_backfill_updates_the_days_that_changed(
    server: FakeServer, store: MemoryStore
) -> None:
    manager = PluginManager(load_entry_points=False)
    bump = {"by": 0}

    def daily(call: Any) -> Reply:
        start = dt.date.fromisoformat(call.query["from"])
        end = dt.date.fromisoformat(call.query["to"])
        days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
        # from the 8th on, the source restates its numbers by bump["by"]
        rows = [{"day": d.isoformat(), "n": d.day + (bump["by"] if d.day >= 8 else 0)}
                for d in days]
        return Reply(json={"rows": rows})

    server.handle("/daily", daily)
    plan = make_plan(server.url, {
        "url": "/daily", "params": {"from": "{start}", "to": "{end}"},
        "series": {"items": "$.rows[*]", "date": "day", "value": "n"},
    }, measure="cumulative")
    refresh(plan, store, at=AT, manager=manager)
    bump["by"] = 100
    result = refresh(plan, store, manager=manager, backfill=(dt.date(2026, 3, 1), AT))
    assert [(o.stored, o.revised) for o in result.outcomes] == [(0, 3)]
    assert [c.value for c in store.checkins()] == [1, 2, 3, 4, 5, 6, 7, 108, 109, 110]
    assert len(store.checkin_history()) == 13


class _CountsTotalsOnly:
    """A store with only the Store protocol's add_checkins (no per-key-result counts)."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "add_checkins_by_kr":
            raise AttributeError(name)
        return getattr(self.inner, name)


def test_refresh_counts_each_key_result_alike_with_or_without_per_kr_counts(
    server: FakeServer,
) -> None:
    # 7 key results over 3 chunks: batched (per chunk, one transaction) and one add_checkins per
    # key result give the same outcomes, stored readings and history
    manager = PluginManager(load_entry_points=False)
    krs = [KeyResult(f"k{i}", f"K{i}", baseline=0, target=100,
                     source={"connection": "api", "url": f"/v{i % 3}", "value": "$.v"})
           for i in range(7)]
    plan = Plan(cycles=[CYCLE], objectives=[Objective("o", "Grow", "q1", key_results=krs)],
                connections={"api": Connection("api", "http_json", {}, endpoint=server.url)})
    batched, single = MemoryStore(), MemoryStore()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("okrcore.engine.STORE_CHUNK", 3)
        for values in ((1, 2, 3), (1, 5, 3), (1, 5, 3)):  # new, one revised, unchanged
            for i, v in enumerate(values):
                server.route(f"/v{i}", Reply(json={"v": v}))
            runs = [refresh(plan, s, at=AT, manager=manager)
                    for s in (batched, _CountsTotalsOnly(single))]
            first, second = ([(o.kr_id, o.status, o.stored, o.revised) for o in r.outcomes]
                             for r in runs)
            assert first == second
    assert [o.status for o in runs[0].outcomes] == ["unchanged"] * 7
    assert [(c.kr_id, c.value) for c in batched.checkins()] == [
        (c.kr_id, c.value) for c in single.checkins()]
    assert len(batched.checkin_history()) == len(single.checkin_history()) == 7 + 2


class _Watched:
    """A store that says when a key result's readings were stored."""

    def __init__(self, inner: MemoryStore, kr_id: str) -> None:
        self.inner, self.kr_id = inner, kr_id
        self.stored = threading.Event()

    def add_checkins_by_kr(self, checkins: Iterable[CheckIn], *, run_id: str | None = None,
                           reason: str | None = None) -> dict[str, AddResult]:
        checkins = list(checkins)
        counts = self.inner.add_checkins_by_kr(checkins, run_id=run_id, reason=reason)
        if any(c.kr_id == self.kr_id for c in checkins):
            self.stored.set()
        return counts

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_readings_are_stored_while_later_answers_are_still_coming(
    server: FakeServer, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the slow service answers only once the fast one's reading is in the store (or after 10 s,
    # which fails the test): storing does not wait for the run's last answer
    monkeypatch.setattr("okrcore.engine.STORE_EARLY", 1)
    watched = _Watched(store, "fast")
    seen: list[bool] = []

    def slow(call: Any) -> Reply:
        seen.append(watched.stored.wait(10))
        return Reply(json={"v": 2})

    server.route("/fast", Reply(json={"v": 1}))
    server.handle("/slow", slow)
    krs = [KeyResult(kr, kr, baseline=0, target=10,
                     source={"connection": "api", "url": f"/{kr}", "value": "$.v"})
           for kr in ("fast", "slow")]
    plan = Plan(cycles=[CYCLE], objectives=[Objective("o", "Grow", "q1", key_results=krs)],
                connections={"api": Connection("api", "http_json", {}, endpoint=server.url)})
    result = refresh(plan, watched, at=AT, manager=PluginManager(load_entry_points=False))
    assert seen == [True]
    assert [(o.kr_id, o.status, o.value) for o in result.outcomes] == [
        ("fast", "refreshed", 1.0), ("slow", "refreshed", 2.0)]
    assert sorted((c.kr_id, c.value) for c in store.checkins()) == [("fast", 1.0), ("slow", 2.0)]
