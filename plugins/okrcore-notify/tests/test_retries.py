"""Notifiers retry with okrcore's rule (okrcore.notifiers.send_with_retries): Retry-After in
seconds or as an HTTP date, a floor over the exponential backoff, a wait over 60 s not made."""

from __future__ import annotations

import datetime as dt
import email.utils
import socket
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from okrcore_notify import EmailNotifier, SlackNotifier, TeamsNotifier
from pytest_httpserver import HTTPServer

from okrcore.notifiers import Channel, Message, NotifyError

MESSAGE = Message(title="Daily OKR status", markdown="- leads: 40 of 70", text="leads 40")


def notifier(cls: Any, url: str, **settings: Any) -> tuple[Any, list[float]]:
    sleeps: list[float] = []
    n = cls(Channel("team", cls.name, {"url": url, "retry_backoff": 0.5, **settings}))
    n.sleep = sleeps.append
    return n, sleeps


@pytest.fixture
def hook_url(monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer) -> str:
    monkeypatch.setenv("HOOK_URL", httpserver.url_for("/hook"))
    return "env:HOOK_URL"


def test_retry_after_as_an_http_date_is_honoured(httpserver: HTTPServer, hook_url: str) -> None:
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)
    date = email.utils.format_datetime(when, usegmt=True)
    httpserver.expect_ordered_request("/hook").respond_with_data(
        "rate_limited", status=429, headers={"Retry-After": date}
    )
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    slack, sleeps = notifier(SlackNotifier, hook_url)
    slack.send(MESSAGE)
    assert len(httpserver.log) == 2
    (waited,) = sleeps
    assert 25 <= waited <= 30  # the date, not the 0.5 s backoff


def test_retry_after_is_a_floor_over_the_backoff(httpserver: HTTPServer, hook_url: str) -> None:
    for wait in ("0", "3"):
        httpserver.expect_ordered_request("/hook").respond_with_data(
            "busy", status=503, headers={"Retry-After": wait}
        )
    httpserver.expect_ordered_request("/hook").respond_with_data("", status=202)
    teams, sleeps = notifier(TeamsNotifier, hook_url)
    teams.send(MESSAGE)
    assert sleeps == [0.5, 3.0]  # backoff 0.5 (Retry-After 0 is shorter), then Retry-After 3


def test_a_wait_over_a_minute_is_not_made(httpserver: HTTPServer, hook_url: str) -> None:
    httpserver.expect_request("/hook").respond_with_data(
        "rate_limited", status=429, headers={"Retry-After": "3600"}
    )
    slack, sleeps = notifier(SlackNotifier, hook_url)
    with pytest.raises(NotifyError, match=r"HTTP 429: rate_limited \(asked to wait 3600 s"):
        slack.send(MESSAGE)
    assert sleeps == []
    assert len(httpserver.log) == 1


class Greylist:
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        return "451 4.7.1 greylisted, try again later"


def test_email_retries_with_the_same_rule() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    controller = Controller(Greylist(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": port,
            "from": "okr@example.com",
            "to": "a@example.com",
            "retries": 3,
            "retry_backoff": 0.5,
        }
        mail = EmailNotifier(Channel("mail", "email", settings))
        sleeps: list[float] = []
        mail.sleep = sleeps.append
        with pytest.raises(NotifyError, match=r"SMTP 451 4.7.1 .*gave up after 3 attempts"):
            mail.send(MESSAGE)
        assert sleeps == [0.5, 1.0]
    finally:
        controller.stop()
