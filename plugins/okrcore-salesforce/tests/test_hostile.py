"""Salesforce against servers that misbehave: an echoed credential, a huge answer, a redirect
elsewhere (okrcore's shared HTTP session and secret scrubbing; docs/plugins.md, "Servers that
misbehave")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import okrcore_salesforce.plugin
import pytest
from salesforce_fake import CLIENT_ID, VERSION

from okrcore.engine import RefreshOptions, refresh
from okrcore.model import Connection, Cycle, KeyResult, Objective, Plan, RunOutcome
from okrcore.plugins import PluginManager
from okrcore.store import MemoryStore
from okrcore.testing import (
    FakeServer,
    Reply,
    closed_port,
    echo_credentials,
    refresh_without_waiting,
)

CYCLE = Cycle("2026-Q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))
TOKEN = "00Dhostile!token-0001"
SECRET = "client-secret-hostile-01"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    monkeypatch.setenv("SF_HOSTILE_TOKEN", TOKEN)
    monkeypatch.setenv("SF_HOSTILE_SECRET", SECRET)
    with FakeServer() as s:
        yield s


def run(server: FakeServer, **settings: Any) -> RunOutcome:
    manager = PluginManager(load_entry_points=False)
    manager.register(okrcore_salesforce.plugin, "salesforce")
    kr = KeyResult("accounts", "Accounts", measure="gauge", baseline=0, target=5,
                   source={"connection": "sf", "soql": "SELECT COUNT() FROM Account"})
    conf = {"instance_url": "https://acme.my.salesforce.com", "api_version": VERSION,
            **settings}
    plan = Plan(cycles=[CYCLE], objectives=[Objective("o", "O", CYCLE.id, key_results=[kr])],
                connections={"sf": Connection("sf", "salesforce", conf, endpoint=server.url)})
    with MemoryStore() as store:
        result = refresh(
            plan,
            store,
            at=dt.date(2026, 2, 1),
            manager=manager,
            options=RefreshOptions(retries=0),
        )
        (recorded,) = store.runs(1)[0].outcomes
    (outcome,) = result.outcomes
    assert recorded.error == outcome.error
    return outcome


def test_an_echoed_token_never_leaves_the_refresh(server: FakeServer) -> None:
    server.handle("*", echo_credentials)
    outcome = run(server, access_token="env:SF_HOSTILE_TOKEN")
    assert server.calls
    assert outcome.status == "failed"
    assert TOKEN not in (outcome.error or "")


def test_an_echoed_client_secret_never_leaves_the_refresh(server: FakeServer) -> None:
    server.handle("*", echo_credentials)  # the token endpoint echoes the form it got
    outcome = run(server, auth="client_credentials", client_id=CLIENT_ID,
                  client_secret="env:SF_HOSTILE_SECRET", login_url=server.url)
    assert outcome.status == "failed"
    assert SECRET not in (outcome.error or "")


def test_a_huge_answer_is_permanent(server: FakeServer) -> None:
    server.route("*", Reply(body=b'{"totalSize": 1, "pad": "' + b"x" * 5_000 + b'"}'))
    outcome = run(server, access_token="env:SF_HOSTILE_TOKEN", max_response_bytes=1_000)
    assert (outcome.status, outcome.kind) == ("failed", "permanent")
    assert "larger than 1,000 bytes" in (outcome.error or "")


def test_a_redirect_elsewhere_is_refused(server: FakeServer) -> None:
    with FakeServer() as other:
        other.route("*", Reply(json={"totalSize": 999, "done": True, "records": []}))
        server.route("*", Reply(status=302, headers={"Location": other.url + "/x"}))
        outcome = run(server, access_token="env:SF_HOSTILE_TOKEN")
        assert (outcome.status, outcome.kind) == ("failed", "permanent")
        assert "redirected to" in (outcome.error or "")
        assert other.calls == []


@pytest.mark.parametrize("settings", [
    {"access_token": "env:SF_HOSTILE_TOKEN"},  # the API itself is down
    {"auth": "client_credentials", "client_id": CLIENT_ID,  # the token endpoint is down
     "client_secret": "env:SF_HOSTILE_SECRET"},
])
def test_a_refused_connection_is_retried_once_only(
    server: FakeServer, settings: dict[str, Any]
) -> None:
    down = closed_port()
    manager = PluginManager(load_entry_points=False)
    manager.register(okrcore_salesforce.plugin, "salesforce")
    kr = KeyResult("accounts", "Accounts", measure="gauge", baseline=0, target=5,
                   source={"connection": "sf", "soql": "SELECT COUNT() FROM Account"})
    conf = {"instance_url": down, "api_version": VERSION, **settings}
    plan = Plan(cycles=[CYCLE], objectives=[Objective("o", "O", CYCLE.id, key_results=[kr])],
                connections={"sf": Connection("sf", "salesforce", conf, endpoint=down)})
    result = refresh_without_waiting(plan, MemoryStore(), at=dt.date(2026, 2, 1),
                                     manager=manager)
    (outcome,) = result.run.outcomes
    assert outcome.error is not None
    assert outcome.error.startswith(f"cannot reach {down}")
    assert outcome.error.endswith(": no connection (refused, or an unknown host), twice")
    assert result.run.info["connections"]["sf"]["retries"] == 1
