"""HubSpot against servers that misbehave: a slow drip, a huge answer, a gzip bomb, a redirect
elsewhere (okrcore's shared HTTP session; docs/plugins.md, "Servers that misbehave")."""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
from okrcore_hubspot import HubSpotSource

from okrcore.engine import RefreshOptions
from okrcore.model import Connection, Cycle, KeyResult
from okrcore.sources import Failure, FailureKind, FetchRequest, Reading
from okrcore.testing import FakeServer, Reply, closed_port

CYCLE = Cycle("2026-Q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))
QUERY = {"object": "deals", "filters": [{"property": "dealstage", "operator": "EQ",
                                         "value": "closedwon"}]}


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    monkeypatch.setenv("HUBSPOT_TEST_TOKEN", "pat-na1-hostile-0001")
    with FakeServer() as s:
        yield s


def fetch(server: FakeServer, **settings: Any) -> Failure:
    conf = {"token": "env:HUBSPOT_TEST_TOKEN", "requests_per_second": 1000, **settings}
    src = HubSpotSource(Connection("crm", "hubspot", conf, endpoint=server.url))
    src.timeout = 1
    kr = KeyResult("kr1", "Sales", measure="gauge", baseline=0, target=5)
    request = FetchRequest(kr, QUERY, Connection("crm", "hubspot", {}), CYCLE, CYCLE.start,
                           dt.date(2026, 2, 1), dt.date(2026, 2, 1))
    try:
        (answer,) = list(src.fetch([request]))
    finally:
        src.close()
    assert not isinstance(answer, Reading), answer
    return answer


def test_a_slow_drip_is_a_timeout(server: FakeServer) -> None:
    server.route("*", Reply(json={"total": 1, "results": [], "pad": "x" * 30}, drip=0.25))
    got = fetch(server)
    assert (got.kind, got.timed_out) == (FailureKind.TRANSIENT, True)


def test_a_huge_answer_and_a_gzip_bomb_are_permanent(server: FakeServer) -> None:
    server.route("*", Reply(body=b'{"total": 1, "pad": "' + b"x" * 5_000 + b'"}'))
    got = fetch(server, max_response_bytes=1_000)
    assert got.kind is FailureKind.PERMANENT
    assert "larger than 1,000 bytes" in got.message
    bomb = gzip.compress(b'{"total": 1, "pad": "' + b"0" * 50_000_000 + b'"}')
    server.route("*", Reply(body=bomb, headers={"Content-Encoding": "gzip"}))
    got = fetch(server)
    assert got.kind is FailureKind.PERMANENT
    assert "larger than 10,000,000 bytes" in got.message


def test_a_redirect_elsewhere_is_refused_without_sending_the_token(server: FakeServer) -> None:
    with FakeServer() as other:
        other.route("*", Reply(json={"total": 999, "results": []}))
        server.route("*", Reply(status=307, headers={"Location": other.url + "/x"}))
        got = fetch(server)
        assert got.kind is FailureKind.PERMANENT
        assert "redirected to" in got.message
        assert other.calls == []


def test_an_echoed_token_never_leaves_the_refresh(server: FakeServer) -> None:
    import okrcore_hubspot.plugin

    from okrcore.engine import refresh
    from okrcore.model import Objective, Plan
    from okrcore.plugins import PluginManager
    from okrcore.store import MemoryStore
    from okrcore.testing import echo_credentials

    server.handle("*", echo_credentials)
    manager = PluginManager(load_entry_points=False)
    manager.register(okrcore_hubspot.plugin, "hubspot")
    kr = KeyResult("kr1", "Sales", measure="gauge", baseline=0, target=5,
                   source={"connection": "crm", **QUERY})
    conn = Connection("crm", "hubspot", {"token": "env:HUBSPOT_TEST_TOKEN"}, endpoint=server.url)
    plan = Plan(cycles=[CYCLE], objectives=[Objective("o", "O", CYCLE.id, key_results=[kr])],
                connections={"crm": conn})
    with MemoryStore() as store:
        result = refresh(
            plan,
            store,
            at=dt.date(2026, 2, 1),
            manager=manager,
            options=RefreshOptions(retries=0),
        )
        (outcome,) = result.outcomes
        recorded = store.runs(1)[0].outcomes[0].error or ""
    assert server.calls  # the fake did echo the token
    assert outcome.status == "failed"
    assert "pat-na1-hostile-0001" not in (outcome.error or "") + recorded
    assert "[secret]" in (outcome.error or "")


def test_a_refused_connection_is_no_answer_retried_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_TEST_TOKEN", "pat-na1-hostile-0001")
    down = closed_port()
    got = fetch(cast(FakeServer, SimpleNamespace(url=down)))
    assert (got.kind, got.timed_out) == (FailureKind.TRANSIENT, True)  # the engine retries once
    assert got.message == f"cannot reach {down}: no connection (refused, or an unknown host)"
