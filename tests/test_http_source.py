"""okrcore.sources.HttpSource: the shared set-up, pacing and failure rules of HTTP API sources,
run with requests against a local FakeServer."""

from __future__ import annotations

import threading
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
from okrcore.testing import Call, FakeServer, Reply, closed_port


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


class OAuthTracker(Tracker):
    """A tracker whose access tokens come from an OAuth token endpoint that also names the API's
    base URL, and expire: a 401 ``expired_token`` asks for a new one."""

    def credentials(self) -> Credentials:
        answer = self.oauth_token(f"{self.endpoint}/oauth/token?realm=r", {
            "grant_type": "client_credentials", "client_id": "app"}, what="auth app")
        return Credentials(headers={"Authorization": f"Bearer {answer['access_token']}"},
                           endpoint=str(answer["instance_url"]))

    def credentials_expired(self, response: requests.Response) -> bool:
        return response.status_code == 401 and response.json().get("error") == "expired_token"


class TokenService:
    """A token endpoint issuing numbered tokens, and an API at /inst that takes the valid ones."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.valid: set[str] = set()
        self.issued = 0
        self.lock = threading.Lock()
        server.handle("/api/oauth/token", self.token)
        server.handle("/inst/items", self.items)

    def token(self, call: Call) -> Reply:
        with self.lock:
            self.issued += 1
            token = f"tok-{self.issued}"
            self.valid.add(token)
        return Reply(json={"access_token": token, "instance_url": self.server.url + "/inst",
                           "token_type": "Bearer"})

    def items(self, call: Call) -> Reply:
        if call.headers["Authorization"].removeprefix("Bearer ") in self.valid:
            return Reply(json={"items": 1})
        return Reply(status=401, json={"error": "expired_token"})

    def expire(self) -> None:
        self.valid.clear()


def test_credentials_name_the_endpoint_and_expired_ones_are_renewed_once(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = TokenService(server)
    source = OAuthTracker(Connection("t", "tracker", {}, endpoint=server.url + "/api"))
    assert source.call_object("GET", "/items", what="items") == {"items": 1}
    service.expire()  # the next call is refused, renews the token and is repeated with it
    assert source.call_object("GET", "/items", what="items") == {"items": 1}
    token_calls = server.calls_to("/api/oauth/token")
    assert [c.method for c in token_calls] == ["POST", "POST"]
    assert token_calls[0].body == "grant_type=client_credentials&client_id=app"
    assert "Authorization" not in token_calls[0].headers
    assert [c.headers["Authorization"] for c in server.calls_to("/inst/items")] == [
        "Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    server.handle("/api/oauth/token", lambda call: Reply(json={
        "access_token": "tok-dud", "instance_url": server.url + "/inst"}))
    service.expire()  # the renewed token is refused too: error() classifies the second 401
    with pytest.raises(FetchError) as refused:
        source.call("GET", "/items", what="items")
    assert (refused.value.kind, refused.value.message) == (FailureKind.AUTH,
                                                           "Tracker 401 for items")
    assert len(server.calls_to("/inst/items")) == 5
    with pytest.raises(FetchError, match="not sent: Tracker 401 for items"):
        source.call("GET", "/items", what="items")


def test_calls_refused_the_same_expired_credentials_renew_them_once(
    server: FakeServer,
) -> None:
    service = TokenService(server)
    source = OAuthTracker(Connection("t", "tracker", {"concurrency": 8},
                                     endpoint=server.url + "/api"))
    assert source.call_object("GET", "/items", what="items") == {"items": 1}
    service.expire()
    answers: list[Any] = []
    threads = [threading.Thread(target=lambda: answers.append(
        source.call_object("GET", "/items", what="items"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [{"items": 1}] * 8
    assert service.issued == 2  # the first token, and one renewal for all eight calls


@pytest.mark.parametrize(("reply", "kind", "retry_after", "message"), [
    (Reply(status=400, json={"error": "invalid_grant", "error_description": "revoked"}),
     FailureKind.AUTH, None, "Tracker token endpoint 400 invalid_grant: revoked (auth app)"),
    (Reply(status=200, json={"token_type": "Bearer"}),
     FailureKind.AUTH, None, "Tracker token endpoint 200 OK: no description (auth app)"),
    (Reply(status=429, json={"error": "slow_down"}, headers={"Retry-After": "5"}),
     FailureKind.TRANSIENT, 5.0, "Tracker token endpoint 429 slow_down: no description (auth app)"),
    (Reply(status=503, body=b"<html>"),
     FailureKind.TRANSIENT, None,
     "Tracker token endpoint 503 Service Unavailable: no description (auth app)"),
])
def test_a_token_endpoint_refusal_is_classified(
    server: FakeServer, reply: Reply, kind: FailureKind, retry_after: float | None, message: str
) -> None:
    server.route("/api/oauth/token", reply)
    source = OAuthTracker(Connection("t", "tracker", {}, endpoint=server.url + "/api"))
    with pytest.raises(FetchError) as failed:
        source.call("GET", "/items", what="items")
    assert (failed.value.kind, failed.value.retry_after, failed.value.message) == (
        kind, retry_after, message)
    assert server.calls_to("/inst/items") == []


def test_an_unreachable_token_endpoint_is_named_without_its_query() -> None:
    down = closed_port()
    source = OAuthTracker(Connection("t", "tracker", {}, endpoint=down + "/api"))
    with pytest.raises(FetchError) as failed:
        source.call("GET", "/items", what="items")
    assert failed.value.timed_out
    assert failed.value.message == (
        f"cannot reach {down}/api/oauth/token: no connection (refused, or an unknown host)")
