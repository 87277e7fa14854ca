"""Servers that misbehave, against http_json and the shared HTTP session every HTTP source uses:
a slow drip, a huge answer, a gzip bomb, a redirect to another origin (docs/plugins.md, "Servers
that misbehave")."""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Iterator
from typing import Any

import pytest

from okrcore.engine import refresh
from okrcore.model import Connection, Cycle, KeyResult, Objective, Plan, RunOutcome
from okrcore.plugins import PluginManager
from okrcore.store import MemoryStore
from okrcore.testing import FakeServer, Reply

AT = dt.date(2026, 3, 10)
CYCLE = Cycle("q1", dt.date(2026, 3, 1), dt.date(2026, 3, 31))


def gzip_bomb(size: int) -> bytes:
    """A valid JSON document that inflates to ``size`` bytes (zeros inside a string)."""
    head, tail = b'{"total": 1, "pad": "', b'"}'
    return gzip.compress(head + b"0" * (size - len(head) - len(tail)) + tail, compresslevel=9)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as s:
        yield s


def run(url: str, path: str = "/v", *, timeout: float = 5, **settings: Any) -> RunOutcome:
    settings.setdefault("headers", {"X-Api-Key": "env:OKR_HOSTILE_KEY"})
    kr = KeyResult("k", "k", baseline=0, target=10,
                   source={"connection": "api", "url": path, "value": "$.total"})
    plan = Plan(cycles=[CYCLE], objectives=[Objective("o", "O", "q1", key_results=[kr])],
                connections={"api": Connection("api", "http_json", settings, endpoint=url)})
    with MemoryStore() as store:
        result = refresh(plan, store, AT, manager=PluginManager(load_entry_points=False),
                         timeout=timeout, sleep=lambda _s: None)
        assert store.checkins() == [] or result.ok
    (outcome,) = result.outcomes
    return outcome


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKR_HOSTILE_KEY", "k-3141592653")


def test_a_slow_drip_fails_at_the_timeout_not_per_read(server: FakeServer) -> None:
    # 40 bytes at 0.25 s each would take 10 s; every single read is quick
    server.route("/v", Reply(json={"total": 1, "pad": "x" * 20}, drip=0.25))
    outcome = run(server.url, timeout=1)
    assert outcome.status == "failed"
    assert outcome.kind == "transient"
    assert (outcome.error or "").endswith("no answer within 1 s, twice")
    assert len(server.calls_to("/v")) == 2


def test_an_answer_over_the_size_cap_is_permanent(server: FakeServer) -> None:
    server.route("/v", Reply(body=b'{"total": 1, "pad": "' + b"x" * 3_000 + b'"}'))
    outcome = run(server.url, max_response_bytes=1_000)
    assert (outcome.status, outcome.kind) == ("failed", "permanent")
    assert "larger than 1,000 bytes" in (outcome.error or "")
    assert "max_response_bytes of connection 'api'" in (outcome.error or "")
    assert len(server.calls_to("/v")) == 1


def test_the_default_size_cap_is_10_mb(server: FakeServer) -> None:
    server.route("/v", Reply(body=b'{"total": 1, "pad": "' + b"x" * 10_000_000 + b'"}'))
    outcome = run(server.url)
    assert (outcome.status, outcome.kind) == ("failed", "permanent")
    assert "larger than 10,000,000 bytes" in (outcome.error or "")


def test_a_gzip_bomb_is_not_inflated_past_the_cap(server: FakeServer) -> None:
    import tracemalloc

    bomb = gzip_bomb(200_000_000)  # 200 MB of zeros in about 200 KB
    server.route("/v", Reply(body=bomb, headers={"Content-Encoding": "gzip"}))
    tracemalloc.start()
    try:
        outcome = run(server.url, max_response_bytes=1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (outcome.status, outcome.kind) == ("failed", "permanent")
    assert "larger than 1,000,000 bytes" in (outcome.error or "")
    assert peak < 50_000_000  # far below the 200 MB it inflates to


def test_a_small_gzip_answer_is_read(server: FakeServer) -> None:
    server.route("/v", Reply(body=gzip.compress(b'{"total": 7}'),
                             headers={"Content-Encoding": "gzip"}))
    outcome = run(server.url)
    assert (outcome.status, outcome.value) == ("refreshed", 7.0)


def test_a_redirect_to_another_origin_is_refused_and_gets_no_credential(
    server: FakeServer,
) -> None:
    with FakeServer() as other:
        other.route("/stolen", Reply(json={"total": 999}))
        server.route("/v", Reply(status=302, headers={"Location": other.url + "/stolen?a=1"}))
        outcome = run(server.url)
        assert (outcome.status, outcome.kind) == ("failed", "permanent")
        assert f"redirected to {other.url}/stolen," in (outcome.error or "")
        assert "allow_redirects_to" in (outcome.error or "")
        assert other.calls == []


def test_an_allowed_redirect_sends_no_credential(server: FakeServer) -> None:
    with FakeServer() as other:
        other.route("/moved", Reply(json={"total": 4}))
        server.route("/v", Reply(status=302, headers={"Location": other.url + "/moved"}))
        outcome = run(server.url, allow_redirects_to=[other.url], bearer="env:OKR_HOSTILE_KEY")
        assert (outcome.status, outcome.value) == ("refreshed", 4.0)
        (call,) = other.calls
        sent = {k.lower(): v for k, v in call.headers.items()}
        assert "x-api-key" not in sent
        assert "authorization" not in sent
        assert not any("k-3141592653" in v for v in sent.values())


def test_a_redirect_on_the_same_origin_is_followed_with_its_headers(server: FakeServer) -> None:
    server.route("/v", Reply(status=301, headers={"Location": "/v2"}))
    server.route("/v2", Reply(json={"total": 3}))
    outcome = run(server.url)
    assert (outcome.status, outcome.value) == ("refreshed", 3.0)
    (call,) = server.calls_to("/v2")
    assert {k.lower(): v for k, v in call.headers.items()}["x-api-key"] == "k-3141592653"


def test_http_settings_are_validated() -> None:
    from okrcore.default_plugins.sources import HttpJsonSource

    problems = HttpJsonSource.validate_connection(Connection(
        "api", "http_json", {"max_response_bytes": 0, "allow_redirects_to": "x"},
        endpoint="https://a.example"))
    assert [p.field for p in problems] == ["max_response_bytes", "allow_redirects_to"]
