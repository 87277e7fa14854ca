"""Every notifier names the platform's own error code and text (docs/reports.md): each against a
local fake answering the platform's documented error, never with the webhook URL in the message.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from okrcore_notify import (
    DingTalkNotifier,
    EmailNotifier,
    FeishuNotifier,
    LarkNotifier,
    SlackNotifier,
    TeamsNotifier,
    WebhookNotifier,
)
from pytest_httpserver import HTTPServer

from okrcore.notifiers import Channel, Message, Notifier, NotifyError

TOKEN = "tok-SECRET-in-url"
MESSAGE = Message(title="Daily OKR status", markdown="- 🔴 **leads**: 40 of 70", text="leads 40")

HTTP_CASES = [
    # notifier, platform, HTTP status, body, what the error must say
    (SlackNotifier, "Slack", 400, "invalid_blocks", "HTTP 400: invalid_blocks"),
    (SlackNotifier, "Slack", 404, "no_service", "HTTP 404: no_service"),
    (
        TeamsNotifier,
        "Microsoft Teams",
        400,
        '{"error":{"code":"TriggerInputSchemaMismatch","message":"bad input"}}',
        'HTTP 400: {"error":{"code":"TriggerInputSchemaMismatch"',
    ),
    (
        FeishuNotifier,
        "Feishu",
        200,
        '{"code":19021,"msg":"sign match fail or timestamp is not within one hour"}',
        "error code 19021: sign match fail",
    ),
    (
        LarkNotifier,
        "Lark",
        200,
        '{"code":9499,"msg":"Bad Request"}',
        "error code 9499: Bad Request",
    ),
    (
        DingTalkNotifier,
        "DingTalk",
        200,
        '{"errcode":310000,"errmsg":"keywords not in content"}',
        "errcode 310000: keywords not in content",
    ),
    (WebhookNotifier, "webhook", 422, "missing field: title", "HTTP 422: missing field: title"),
]


@pytest.mark.parametrize(
    ("cls", "platform", "status", "body", "said"), HTTP_CASES, ids=lambda v: str(v)[:20]
)
def test_http_notifiers_name_the_platform_error(
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    cls: type[Notifier],
    platform: str,
    status: int,
    body: str,
    said: str,
) -> None:
    httpserver.expect_request(f"/{TOKEN}").respond_with_data(body, status=status)
    monkeypatch.setenv("HOOK_URL", httpserver.url_for(f"/{TOKEN}"))
    settings: dict[str, Any] = {"url": "env:HOOK_URL", "retry_backoff": 0}
    with pytest.raises(NotifyError) as info:
        cls(Channel("team", cls.name, settings)).send(MESSAGE)
    text = str(info.value)
    assert text.startswith(f"channel 'team' ({platform}): ")
    assert said in text
    assert TOKEN not in text


# -- email ----------------------------------------------------------------------------------------
class Server:
    """An SMTP server that refuses the recipients in ``refuse`` and, optionally, the DATA."""

    def __init__(self, refuse: dict[str, str], data: str = "250 OK") -> None:
        self.refuse, self.data = refuse, data
        self.delivered: list[list[str]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data.startswith("250"):
            self.delivered.append(list(envelope.rcpt_tos))
        return self.data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[Any]:
    started: list[Controller] = []

    def start(handler: Server) -> int:
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        started.append(controller)
        return int(controller.port)

    yield start
    for controller in started:
        controller.stop()


def mail(port: int, to: list[str]) -> EmailNotifier:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "from": "okr@example.com",
        "to": to,
        "retries": 1,
    }
    return EmailNotifier(Channel("mail", "email", settings))


def test_email_every_recipient_refused_says_550_and_the_servers_text(smtp: Any) -> None:
    port = smtp(Server({"a@example.com": "550 5.1.1 <a@example.com>: mailbox unavailable"}))
    with pytest.raises(NotifyError) as info:
        mail(port, ["a@example.com"]).send(MESSAGE)
    assert str(info.value) == (
        f"channel 'mail' (email via 127.0.0.1:{port}): every recipient refused: "
        "a@example.com: SMTP 550 5.1.1 <a@example.com>: mailbox unavailable"
    )
    assert not info.value.transient


def test_email_some_recipients_refused_are_named_with_their_codes(smtp: Any) -> None:
    server = Server({"b@example.com": "552 5.2.2 mailbox full"})
    port = smtp(server)
    with pytest.raises(NotifyError, match="refused recipients: b@example.com: SMTP 552 5.2.2"):
        mail(port, ["a@example.com", "b@example.com"]).send(MESSAGE)
    assert server.delivered == [["a@example.com"]]  # the others got it


def test_email_greylisting_is_temporary(smtp: Any) -> None:
    port = smtp(Server({"a@example.com": "451 4.7.1 greylisted, try again later"}))
    with pytest.raises(NotifyError, match="SMTP 451 4.7.1 greylisted") as info:
        mail(port, ["a@example.com"]).send(MESSAGE)
    assert info.value.transient


def test_email_rejected_message_says_554(smtp: Any) -> None:
    port = smtp(Server({}, data="554 5.7.1 message rejected as spam"))
    with pytest.raises(NotifyError, match="SMTP 554 5.7.1 message rejected as spam"):
        mail(port, ["a@example.com"]).send(MESSAGE)
