"""End to end: okrcore.refresh over a plan with GA4 key results, against the fake."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fake_ga4 import FakeGA4
from ga4_helpers import CYCLE, PROPERTY, total

from okrcore import open_store
from okrcore.model import Connection, KeyResult, Objective, Plan
from okrcore.plugins import PluginManager
from okrcore.testing import refresh_without_waiting

D = dt.date
ORGANIC = 'sessionDefaultChannelGroup == "Organic Search"'


@pytest.fixture
def manager() -> PluginManager:
    m = PluginManager(load_entry_points=False)
    m.load_module("okrcore_ga4.plugin")
    return m


def make_plan(fake: FakeGA4, krs: list[KeyResult], **settings: Any) -> Plan:
    conn_settings = {"property": PROPERTY, "anonymous": True, "transport": "rest"} | settings
    return Plan(
        cycles=[CYCLE],
        objectives=[Objective("grow", "Grow", cycle=CYCLE.id, key_results=krs)],
        connections={"ga": Connection("ga", "ga4", settings=conn_settings, endpoint=fake.url)},
    )


def kr(kr_id: str, query: dict[str, Any], **kw: Any) -> KeyResult:
    kw.setdefault("baseline", 100)
    kw.setdefault("target", 120)
    return KeyResult(kr_id, kr_id, source={"connection": "ga", **query}, **kw)


def no_sleep(_seconds: float) -> None:
    return None


def marketing_krs() -> list[KeyResult]:
    return [
        kr("organic", {"metric": "sessions", "filter": ORGANIC}, measure="cumulative",
           baseline=10000, target=12000),
        kr("organic-events", {"metric": "keyEvents", "filter": ORGANIC}, measure="cumulative",
           baseline=100, target=150),
        kr("bounce", {"metric": "bounceRate", "window": 7, "scale": 100}, kind="decrease",
           baseline=60, target=54),
        kr("conversion", {"metric": "sessionKeyEventRate", "date_range": "cycle", "scale": 100},
           baseline=2, target=3),
        kr("typo", {"metric": "sesions"}, measure="cumulative"),
    ]


def test_refresh_stores_readings_and_fails_only_the_bad_kr(
    fake: FakeGA4, data: list[dict[str, Any]], manager: PluginManager
) -> None:
    plan = make_plan(fake, marketing_krs())
    store = open_store("memory://")
    result = refresh_without_waiting(
        plan,
        store,
        at=D(2026, 3, 31),
        manager=manager,
        sleep=no_sleep,
    )
    out = {o.kr_id: o for o in result.run.outcomes}

    organic_total = total(data, "sessions", CYCLE.start, CYCLE.end,
                          lambda r: r["sessionDefaultChannelGroup"] == "Organic Search")
    assert out["organic"].status == "refreshed"
    assert out["organic"].value == organic_total
    assert out["organic"].stored == 90  # one check-in per day of the quarter
    checkins = store.checkins(["organic"])
    assert len(checkins) == 90
    day = D(2026, 1, 2)
    assert next(c.value for c in checkins if c.as_of == day) == total(
        data, "sessions", day, day, lambda r: r["sessionDefaultChannelGroup"] == "Organic Search")
    assert next(c.value for c in checkins if c.as_of == D(2026, 2, 14)) == 0.0

    s, e = D(2026, 3, 25), D(2026, 3, 31)
    bounce = 100 * (1 - total(data, "engagedSessions", s, e) / total(data, "sessions", s, e))
    assert out["bounce"].status == "refreshed"
    assert out["bounce"].value == pytest.approx(bounce)
    assert [c.as_of for c in store.checkins(["bounce"])] == [D(2026, 3, 31)]
    conversion = 100 * (total(data, "keyEventSessions", CYCLE.start, CYCLE.end)
                        / total(data, "sessions", CYCLE.start, CYCLE.end))
    assert out["conversion"].value == pytest.approx(conversion)

    assert out["typo"].status == "failed"
    assert out["typo"].kind == "permanent"
    assert out["typo"].error is not None
    assert "'sesions'" in out["typo"].error
    assert store.checkins(["typo"]) == []

    # 4 reports in one batchRunReports call; refused for the typo, then the 3 good reports again
    assert [c.method for c in fake.calls] == ["batchRunReports", "batchRunReports"]
    assert [len(c.body["requests"]) for c in fake.calls] == [4, 3]
    by_date = fake.calls[1].body["requests"][0]
    assert by_date["dimensions"] == [{"name": "date"}]
    assert [m["name"] for m in by_date["metrics"]] == ["sessions", "keyEvents"]

    log = result.run.info["connections"]["ga"]
    assert log["info"]["quota_remaining"]["tokens_per_day"] == 200_000 - 5 * 3
    assert log["info"]["time_zone"] == "America/Los_Angeles"

    again = refresh_without_waiting(
        plan,
        store,
        at=D(2026, 3, 31),
        manager=manager,
        sleep=no_sleep,
    )
    assert {o.kr_id: o.status for o in again.run.outcomes} == {
        "organic": "unchanged", "organic-events": "unchanged", "bounce": "unchanged",
        "conversion": "unchanged", "typo": "failed"}
    assert len(store.checkins(["organic"])) == 90


def test_lint_rejects_a_bad_filter_before_anything_is_sent(
    fake: FakeGA4, manager: PluginManager
) -> None:
    plan = make_plan(fake, [kr("k", {"metric": "sessions", "filter": 'country == "FR" and'},
                               measure="cumulative")])
    result = refresh_without_waiting(
        plan,
        open_store("memory://"),
        at=D(2026, 3, 31),
        manager=manager,
        sleep=no_sleep,
    )
    [outcome] = result.run.outcomes
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert "column 20" in outcome.error
    assert fake.calls == []


def test_per_property_concurrency_is_respected(fake: FakeGA4, manager: PluginManager) -> None:
    fake.delay = 0.05
    krs = [kr(f"g{n}", {"metric": "bounceRate", "window": n}) for n in range(1, 31)]
    plan = make_plan(fake, krs, concurrency=2)
    result = refresh_without_waiting(
        plan,
        open_store("memory://"),
        at=D(2026, 3, 31),
        manager=manager,
        sleep=no_sleep,
    )
    assert all(o.status == "refreshed" for o in result.run.outcomes)
    assert len(fake.calls) == 6  # 30 reports, 5 a call
    assert all(len(c.body["requests"]) == 5 for c in fake.calls)
    assert fake.max_in_flight[PROPERTY] <= 2


def test_daily_quota_running_low_mid_refresh(fake: FakeGA4, manager: PluginManager) -> None:
    fake.set_quota(PROPERTY, day=5_030)  # 25 tokens a call: the second call leaves 4980
    krs = [kr(f"g{n}", {"metric": "bounceRate", "window": n}) for n in range(1, 21)]
    plan = make_plan(fake, krs, concurrency=1)
    result = refresh_without_waiting(
        plan,
        open_store("memory://"),
        at=D(2026, 3, 31),
        manager=manager,
        sleep=no_sleep,
    )
    statuses = [o.status for o in result.run.outcomes]
    assert statuses.count("refreshed") == 10
    failed = [o for o in result.run.outcomes if o.status == "failed"]
    assert len(failed) == 10
    assert {o.kind for o in failed} == {"quota"}
    assert failed[0].error is not None
    assert "below the reserve of 5000" in failed[0].error
    assert len(fake.calls) == 2  # the other 2 calls were never sent, and not retried


def test_auth_failure_ends_the_connection(fake: FakeGA4, manager: PluginManager) -> None:
    krs = [kr(f"g{n}", {"metric": "bounceRate", "window": n}) for n in range(1, 21)]
    plan = make_plan(fake, krs, property="777", concurrency=1)
    result = refresh_without_waiting(
        plan,
        open_store("memory://"),
        at=D(2026, 3, 31),
        manager=manager,
        sleep=no_sleep,
    )
    assert {o.kind for o in result.run.outcomes} == {"auth"}
    assert len(fake.calls) == 1
    assert result.run.outcomes[0].error is not None
    assert "Property access management" in result.run.outcomes[0].error


def test_transient_429_is_retried_by_the_engine(fake: FakeGA4, manager: PluginManager) -> None:
    fake.fail(429, "Exhausted concurrent requests quota.")
    plan = make_plan(fake, [kr("b", {"metric": "bounceRate", "window": 7})])
    slept: list[float] = []
    result = refresh_without_waiting(
        plan,
        open_store("memory://"),
        at=D(2026, 3, 31),
        manager=manager,
        sleep=slept.append,
    )
    [outcome] = result.run.outcomes
    assert outcome.status == "refreshed"
    assert "answered after 2 attempts" in outcome.warnings
    assert len(fake.calls) == 2
    assert max(slept, default=0.0) >= 1.0  # the source's retry hint is honoured


def test_backfill_of_a_windowed_gauge_and_a_cumulative(
    fake: FakeGA4, data: list[dict[str, Any]], manager: PluginManager
) -> None:
    plan = make_plan(fake, [
        kr("bounce", {"metric": "bounceRate", "window": 7}),
        kr("sessions", {"metric": "sessions"}, measure="cumulative"),
    ])
    store = open_store("memory://")
    result = refresh_without_waiting(
        plan,
        store,
        manager=manager,
        sleep=no_sleep,
        backfill=(D(2026, 3, 1), D(2026, 3, 10)),
    )
    assert {o.status for o in result.run.outcomes} == {"refreshed"}
    assert len(store.checkins(["bounce"])) == 10
    assert len(store.checkins(["sessions"])) == 10
    # 10 windowed days + 1 daily series = 11 reports in 3 calls
    assert sum(len(c.body.get("requests", [c.body])) for c in fake.calls) == 11
    assert len(fake.calls) == 3
