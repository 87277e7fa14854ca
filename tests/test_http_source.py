"""okrcore.sources.HttpSource: the shared set-up, pacing and failure rules of HTTP API sources,
run with requests against a local FakeServer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from okrcore.model import Connection
from okrcore.sources import (
    Credentials,
    FailureKind,
    FetchError,
    HttpSource,
    could_not_connect,
)
from okrcore.testing import FakeServer, Reply, closed_port


class Tracker(HttpSource):
    """A minimal tracker: bearer token and key parameter, errors named by status."""

    name = "tracker"
    service = "Tracker"
    user_agent = "okrcore-tracker/1"
    default_rate = None
    secrets = (("token", "a Tracker token"),)
    extra_settings = ("workspace",)

    def credentials(self) -> Credentials:
        return Credentials(headers={"Authorization": f"Bearer {self.required_secret('token')}"},
                           params={"key": "k1"})

    def error(self, response: requests.Response, what: str) -> FetchError:
        status = response.status_code
        if status == 401:
            return FetchError(FailureKind.AUTH, f"Tracker 401 for {what}")
        if status == 429:
            return FetchError(FailureKind.TRANSIENT, "Tracker 429",
                              float(response.headers.get("Retry-After", "0")))
        return FetchError(FailureKind.PERMANENT, f"Tracker {status} for {what}")


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        yield fake


def tracker(url: str, monkeypatch: pytest.MonkeyPatch, **settings: Any) -> Tracker:
    monkeypatch.setenv("TRACKER_TOKEN", "tok-123")
    return Tracker(Connection("t", "tracker", {"token": "env:TRACKER_TOKEN", **settings},
                              endpoint=url + "/api/"))


def test_calls_carry_credentials_read_once_and_the_user_agent(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.route("/api/items", Reply(json=[{"id": 1}]))
    server.route("/api/item", Reply(json={"id": 1}))
    source = tracker(server.url, monkeypatch)
    assert source.call_list("GET", "/items", what="items", params={"q": "x"}) == [{"id": 1}]
    monkeypatch.delenv("TRACKER_TOKEN")  # read once: later calls need it no more
    assert source.call_object("POST", "/item", what="item", json={"a": 1}) == {"id": 1}
    first, second = server.calls
    assert first.query == {"q": "x", "key": "k1"}
    assert first.headers["Authorization"] == "Bearer tok-123"
    assert first.headers["User-Agent"] == "okrcore-tracker/1"
    assert (second.method, second.body) == ("POST", {"a": 1})
    source.close()


def test_an_auth_failure_stops_every_later_call_of_the_connection(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.route("*", Reply(status=401, json={}))
    source = tracker(server.url, monkeypatch)
    with pytest.raises(FetchError) as first:
        source.call("GET", "/a", what="a")
    with pytest.raises(FetchError) as second:
        source.call("GET", "/b", what="b")
    assert (first.value.kind, first.value.message) == (FailureKind.AUTH, "Tracker 401 for a")
    assert (second.value.kind, second.value.message) == (
        FailureKind.AUTH, "not sent: Tracker 401 for a")
    assert len(server.calls) == 1


def test_a_missing_secret_fails_as_auth_naming_the_setting(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Tracker(Connection("t", "tracker", {"token": "env:TRACKER_NO_SUCH_VAR"},
                                endpoint=server.url))
    with pytest.raises(FetchError) as failed:
        source.call("GET", "/a", what="a")
    assert failed.value.kind is FailureKind.AUTH
    assert "TRACKER_NO_SUCH_VAR is not set" in failed.value.message
    assert server.calls == []


def test_retry_after_holds_the_connections_next_call(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.route("/api/a", Reply(status=429, headers={"Retry-After": "7"}), Reply(json={}))
    slept: list[float] = []
    monkeypatch.setattr("okrcore.sources._http_source.time.sleep", slept.append)
    source = tracker(server.url, monkeypatch)
    with pytest.raises(FetchError) as failed:
        source.call("GET", "/a", what="a")
    assert (failed.value.kind, failed.value.retry_after) == (FailureKind.TRANSIENT, 7.0)
    assert slept == []
    assert source.call_object("GET", "/a", what="a") == {}
    assert len(slept) == 1
    assert 6.0 < slept[0] <= 7.0


def test_malformed_answers_and_network_failures_are_transient(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.route("/api/text", Reply(body=b"<html>"))
    server.route("/api/hang", Reply(hang=True))
    source = tracker(server.url, monkeypatch, timeout=0.2)
    with pytest.raises(FetchError, match="Tracker answered 200 for text with a body that is not"):
        source.call_object("GET", "/text", what="text")
    with pytest.raises(FetchError, match="Tracker answered text without a list of objects"):
        source.call_list("GET", "/text", what="text")
    with pytest.raises(FetchError) as hung:
        source.call("GET", "/hang", what="hang")
    assert hung.value.timed_out
    assert hung.value.message == "Tracker did not answer within 0.2 s"
    server.route("/api/reset", Reply(reset=True))
    with pytest.raises(FetchError) as reset:
        source.call("GET", "/reset", what="reset")
    assert not reset.value.timed_out  # it connected: the answer broke off
    assert reset.value.message.endswith(": ConnectionError")
    down = closed_port()
    gone = tracker(down, monkeypatch)
    with pytest.raises(FetchError) as refused:
        gone.call("GET", "/a", what="a")
    assert refused.value.timed_out  # no connection: retried like a hang, timeout_retries times
    assert refused.value.message == (
        f"cannot reach {down}/api: no connection (refused, or an unknown host)")


def test_could_not_connect_tells_a_refusal_from_a_broken_answer(server: FakeServer) -> None:
    server.route("/reset", Reply(reset=True))
    errors = []
    for url in (closed_port() + "/x", server.url + "/reset"):
        with pytest.raises(requests.RequestException) as caught:
            requests.get(url, timeout=5)
        errors.append(caught.value)
    assert [could_not_connect(e) for e in errors] == [True, False]
    assert not could_not_connect(ValueError("no"))


def test_settings_are_read_and_validated() -> None:
    good = Connection("t", "tracker", {"token": "env:X", "workspace": "w", "concurrency": 3,
                                       "timeout": 5, "max_response_bytes": 1000})
    assert Tracker.validate_connection(good) == []
    source = Tracker(good)
    assert (source.limits().concurrency, source.call_timeout) == (3, (5.0, 5.0))
    bad = Connection("t", "tracker", {"token": "tok", "colour": 1, "requests_per_second": 0})
    assert [(p.field, p.message) for p in Tracker.validate_connection(bad)] == [
        ("colour", "unknown setting 'colour' (known: allow_redirects_to, concurrency, "
                   "max_response_bytes, requests_per_second, timeout, token, workspace)"),
        ("token", "set token to 'env:NAME' or 'file:PATH' holding a Tracker token"),
        ("requests_per_second", "requests_per_second must be a positive number"),
    ]
    assert Tracker(Connection("t", "tracker", {})).call_timeout == (10.0, 30.0)
