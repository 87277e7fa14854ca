"""Facebook (Graph API) and YouTube against servers that misbehave: a slow drip, a huge answer, a
gzip bomb, a redirect elsewhere (okrcore's shared HTTP session; docs/plugins.md, "Servers that
misbehave")."""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
from okrcore_social import FacebookSource, YouTubeSource

from okrcore.engine import RefreshOptions
from okrcore.model import Connection, Cycle, KeyResult
from okrcore.sources import Failure, FailureKind, FetchRequest, Reading, Source
from okrcore.testing import FakeServer, Reply, closed_port

CYCLE = Cycle("2025-Q4", dt.date(2025, 10, 1), dt.date(2025, 12, 31))
TODAY = dt.datetime.now(dt.timezone.utc).date()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    monkeypatch.setenv("FB_TEST_TOKEN", "EAAB-hostile-token-0001")
    monkeypatch.setenv("YT_TEST_KEY", "AIza-hostile-key-0001")
    monkeypatch.setenv("FB_TEST_APP_SECRET", "app-secret-hostile-01")
    with FakeServer() as s:
        yield s


def make(service: str, server: FakeServer, **settings: Any) -> tuple[Source, dict[str, Any]]:
    if service == "facebook":
        conf = {"access_token": "env:FB_TEST_TOKEN", "page_id": "1234567890", **settings}
        return (FacebookSource(Connection("fb", "facebook", conf, endpoint=server.url)),
                {"field": "followers_count"})
    conf = {"api_key": "env:YT_TEST_KEY", "channel": "UC" + "a" * 22, **settings}
    return (YouTubeSource(Connection("yt", "youtube", conf, endpoint=server.url)),
            {"metric": "subscriberCount"})


def fetch(service: str, server: FakeServer, **settings: Any) -> Failure:
    src, query = make(service, server, **settings)
    src.timeout = 1
    kr = KeyResult("kr", "t", measure="gauge", baseline=1, target=2)
    request = FetchRequest(kr, query, Connection("c", "x", {}), CYCLE, CYCLE.start, TODAY, TODAY)
    try:
        (answer,) = list(src.fetch([request]))
    finally:
        src.close()
    assert not isinstance(answer, Reading), answer
    return answer


SERVICES = ["facebook", "youtube"]


@pytest.mark.parametrize("service", SERVICES)
def test_a_slow_drip_is_a_timeout(service: str, server: FakeServer) -> None:
    server.route("*", Reply(json={"followers_count": 1, "items": [], "pad": "x" * 30},
                            drip=0.25))
    got = fetch(service, server)
    assert (got.kind, got.timed_out) == (FailureKind.TRANSIENT, True)


@pytest.mark.parametrize("service", SERVICES)
def test_a_huge_answer_and_a_gzip_bomb_are_permanent(service: str, server: FakeServer) -> None:
    server.route("*", Reply(body=b'{"followers_count": 1, "pad": "' + b"x" * 5_000 + b'"}'))
    got = fetch(service, server, max_response_bytes=1_000)
    assert got.kind is FailureKind.PERMANENT
    assert "larger than 1,000 bytes" in got.message
    bomb = gzip.compress(b'{"followers_count": 1, "pad": "' + b"0" * 50_000_000 + b'"}')
    server.route("*", Reply(body=bomb, headers={"Content-Encoding": "gzip"}))
    got = fetch(service, server)
    assert got.kind is FailureKind.PERMANENT
    assert "larger than 10,000,000 bytes" in got.message


@pytest.mark.parametrize("service", SERVICES)
def test_a_redirect_elsewhere_is_refused(service: str, server: FakeServer) -> None:
    with FakeServer() as other:
        other.route("*", Reply(json={"followers_count": 999}))
        server.route("*", Reply(status=302, headers={"Location": other.url + "/x"}))
        got = fetch(service, server)
        assert got.kind is FailureKind.PERMANENT
        assert "redirected to" in got.message
        assert other.calls == []


@pytest.mark.parametrize("service", ["facebook", "instagram", "youtube"])
def test_an_echoed_credential_never_leaves_the_refresh(service: str, server: FakeServer) -> None:
    import okrcore_social.plugin

    from okrcore.engine import refresh
    from okrcore.model import Objective, Plan
    from okrcore.plugins import PluginManager
    from okrcore.store import MemoryStore
    from okrcore.testing import echo_credentials

    server.handle("*", echo_credentials)
    manager = PluginManager(load_entry_points=False)
    manager.register(okrcore_social.plugin, "social")
    settings, query = {
        "facebook": ({"access_token": "env:FB_TEST_TOKEN", "page_id": "1234567890",
                      "app_secret": "env:FB_TEST_APP_SECRET"}, {"field": "followers_count"}),
        "instagram": ({"access_token": "env:FB_TEST_TOKEN", "ig_user_id": "17841400000000001"},
                      {"field": "followers_count"}),
        "youtube": ({"api_key": "env:YT_TEST_KEY", "channel": "UC" + "a" * 22},
                    {"metric": "subscriberCount"}),
    }[service]
    kr = KeyResult("kr", "t", measure="gauge", baseline=1, target=2,
                   source={"connection": "c", **query})
    conn = Connection("c", service, settings, endpoint=server.url)
    now = Cycle("now", TODAY - dt.timedelta(days=30), TODAY + dt.timedelta(days=30))
    plan = Plan(cycles=[now], objectives=[Objective("o", "O", now.id, key_results=[kr])],
                connections={"c": conn})
    with MemoryStore() as store:
        result = refresh(plan, store, at=TODAY, manager=manager, options=RefreshOptions(retries=0))
        (outcome,) = result.outcomes
        recorded = store.runs(1)[0].outcomes[0].error or ""
    assert server.calls, outcome  # the fake did echo the credential
    assert outcome.status == "failed"
    text = (outcome.error or "") + recorded
    for secret in ("EAAB-hostile-token-0001", "AIza-hostile-key-0001", "app-secret-hostile-01"):
        assert secret not in text


@pytest.mark.parametrize("service", SERVICES)
def test_a_refused_connection_is_no_answer_retried_once(
    service: str, server: FakeServer
) -> None:
    down = closed_port()
    got = fetch(service, cast(FakeServer, SimpleNamespace(url=down)))
    assert (got.kind, got.timed_out) == (FailureKind.TRANSIENT, True)  # the engine retries once
    assert got.message == f"cannot reach {down}: no connection (refused, or an unknown host)"
