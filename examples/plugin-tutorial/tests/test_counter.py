"""Tests of the tutorial plugin against a fake Counter API on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import okrcore_counter
import pytest

import okrcore
from okrcore.model import Connection, Cycle, KeyResult, Objective, Plan
from okrcore.plugins import PluginManager
from okrcore.testing import refresh_without_waiting, serve

TOKEN = "test-token"
AT = dt.date(2026, 3, 3)


class FakeCounterApi(BaseHTTPRequestHandler):
    """Answers like the Counter API: daily counts of the 'signups' counter, 10 + day of month."""

    calls: list[str]
    replies: list[tuple[int, Any]]  # scripted replies to use first, e.g. (429, {...})
    url: str  # set by the fixture: where the fake listens

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        self.calls.append(url.path)
        if self.replies:
            status, body = self.replies.pop(0)
        elif self.headers.get("Authorization") != f"Bearer {TOKEN}":
            status, body = 401, {"error": "bad token"}
        elif url.path != "/v1/counters/signups/daily":
            status, body = 404, {"error": "no such counter"}
        else:
            start = dt.date.fromisoformat(query["from"])
            end = dt.date.fromisoformat(query["to"])
            days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
            status = 200
            body = {"counter": "signups",
                    "days": [{"date": d.isoformat(), "count": 10 + d.day} for d in days]}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 429:
            self.send_header("Retry-After", "3")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeCounterApi]]:
    handler: type[FakeCounterApi] = type("Handler", (FakeCounterApi,), {"calls": [], "replies": []})
    monkeypatch.setenv("COUNTER_TOKEN", TOKEN)
    with serve(handler) as handler.url:
        yield handler


def make_plan(url: str, measure: str = "cumulative", counter: str = "signups") -> Plan:
    kr = KeyResult("signups", "Reach 1,000 sign-ups", measure=measure, baseline=0, target=1000,
                   source={"connection": "counter", "counter": counter})
    return Plan(
        cycles=[Cycle("q1", dt.date(2026, 3, 1), dt.date(2026, 3, 31))],
        objectives=[Objective("grow", "Grow", "q1", key_results=[kr])],
        connections={"counter": Connection("counter", "counter", {"token": "env:COUNTER_TOKEN"},
                                           endpoint=url)},
    )


@pytest.fixture
def manager() -> PluginManager:
    manager = PluginManager(load_entry_points=False)
    manager.register(okrcore_counter, "counter")
    return manager


def test_plugin_is_installed() -> None:
    names = {ep.name for ep in importlib.metadata.entry_points(group="okrcore")}
    assert "counter" in names


def test_refresh_stores_a_daily_series(api: Any, manager: PluginManager) -> None:
    store = okrcore.open_store("memory://")
    result = okrcore.refresh(make_plan(api.url), store, at=AT, manager=manager)
    assert result.ok
    assert [(c.as_of.day, c.value) for c in store.checkins()] == [(1, 11), (2, 12), (3, 13)]
    assert {c.source for c in store.checkins()} == {"counter:counter"}


def test_a_gauge_is_the_latest_count(api: Any, manager: PluginManager) -> None:
    store = okrcore.open_store("memory://")
    okrcore.refresh(make_plan(api.url, measure="gauge"), store, at=AT, manager=manager)
    assert [(c.as_of, c.value) for c in store.checkins()] == [(AT, 13)]


def test_rate_limit_is_retried_after_the_servers_wait(api: Any, manager: PluginManager) -> None:
    api.replies.append((429, {"error": "slow down"}))
    waits: list[float] = []
    store = okrcore.open_store("memory://")
    result = refresh_without_waiting(make_plan(api.url), store, at=AT, manager=manager,
                                     sleep=waits.append)
    assert result.ok
    assert waits[0] == 3.0  # then the rate limit may space the retry a little
    assert len(api.calls) == 2


def test_a_bad_token_is_an_auth_failure(
    api: Any, manager: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COUNTER_TOKEN", "wrong")
    store = okrcore.open_store("memory://")
    result = okrcore.refresh(make_plan(api.url), store, at=AT, manager=manager)
    assert [(o.status, o.kind) for o in result.outcomes] == [("failed", "auth")]
    assert store.checkins() == []


def test_an_unknown_counter_is_a_permanent_failure(api: Any, manager: PluginManager) -> None:
    store = okrcore.open_store("memory://")
    result = okrcore.refresh(make_plan(api.url, counter="nope"), store, at=AT, manager=manager)
    assert [(o.status, o.kind) for o in result.outcomes] == [("failed", "permanent")]
    assert "HTTP 404" in (result.outcomes[0].error or "")


def test_lint_reports_a_missing_counter(manager: PluginManager) -> None:
    plan = make_plan("http://127.0.0.1:9", counter="")
    findings = okrcore.check(plan, manager=manager)
    assert any("name the counter" in f.message for f in findings)


def test_the_benchmark_example_flags_a_target_far_outside_its_range() -> None:
    """okrcore_counter.benchmarks supplies ranges; a plan that loads it gets SMART-A003 for a
    key result without history whose target is far outside, citing the source."""
    from okrcore_counter.benchmarks import SOURCE

    def kr(kr_id: str, target: float, metric: str = "counter_signup_rate_search") -> KeyResult:
        return KeyResult(kr_id, kr_id, metric=metric, unit="%", baseline=1, target=target,
                         cadence="weekly")  # fmt: skip

    plan = Plan(
        cycles=[Cycle("q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))],
        objectives=[Objective("o", "O", "q1", level="company", key_results=[
            kr("far", 12), kr("fine", 5), kr("social", 1.5, "counter_signup_rate_social"),
            kr("with-history", 12),
        ])],
        plugins=["okrcore_counter.benchmarks"],
        checks={"counts": False},
    )  # fmt: skip
    manager = PluginManager(load_entry_points=False)
    history = [okrcore.CheckIn("with-history", 1.5, dt.date(2026, 1, 5))]
    findings = [f for f in okrcore.check(plan, manager=manager, checkins=history)
                if f.code == "SMART-A003"]  # fmt: skip
    assert [f.where for f in findings] == ["objectives[0].key_results[0].target"]
    assert "far above the typical sign-up rate of search visitors of 2 to 6%" in findings[0].message
    assert f"source: {SOURCE}" in findings[0].message
    assert manager.benchmarks.owner("counter-bounce-rate") == "okrcore_counter.benchmarks"
