"""The mail and the generic webhook body of a real report: readable plain text (no box drawing,
every title whole), an HTML alternative, and the RFC 5322 Date and Message-ID headers."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import importlib.resources
import json
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from okrcore_notify import EmailNotifier, WebhookNotifier
from okrcore_notify.email import build_email
from pytest_httpserver import HTTPServer

from okrcore import refresh
from okrcore.model import Plan
from okrcore.notifiers import Channel, Message
from okrcore.notify import message_for
from okrcore.planfile import load_plan
from okrcore.reports import report
from okrcore.store import open_store

AT = dt.date(2026, 11, 20)
BOX = re.compile("[\u2500-\u257f]")  # box drawing: table borders and rules
LINK = "https://okr.example/daily.html?a=1&b=2"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Plan, Message]:
    folder = tmp_path_factory.mktemp("demo")
    for name in ("marketing.yaml", "marketing-history.csv"):
        with importlib.resources.as_file(importlib.resources.files("okrcore.demo") / name) as f:
            shutil.copy(f, folder / name)
    plan = load_plan(folder / "marketing.yaml")
    store = open_store("memory://")
    refresh(plan, store, backfill=(plan.cycles[0].start, AT))
    return plan, message_for(report(plan, store, "daily", at=AT), link=LINK)


def test_the_message_text_is_plain_and_names_every_key_result(
    demo: tuple[Plan, Message],
) -> None:
    plan, msg = demo
    assert not BOX.search(msg.text)
    assert max(len(line) for line in msg.text.splitlines()) <= 78
    flat = " ".join(msg.text.split())
    for kr in plan.key_results():
        assert kr.title in flat
    assert "2,857,400 USD" in flat
    assert "**" not in msg.text
    assert "\\" not in msg.text


def test_email_is_multipart_alternative_with_date_and_message_id(
    demo: tuple[Plan, Message],
) -> None:
    plan, msg = demo
    mail = build_email(msg, "okr@example.com", ["team@example.com"])
    parsed = email.message_from_bytes(mail.as_bytes(), policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    plain, page = (part for part in parsed.iter_parts())
    assert plain.get_content_type() == "text/plain"
    assert page.get_content_type() == "text/html"
    text = plain.get_content()
    assert not BOX.search(text)
    assert text.rstrip().endswith(f"Full report: {LINK}")
    body = page.get_content()
    for kr in plan.key_results():
        assert f"<strong>{kr.title}</strong>" in body
    assert '<a href="https://okr.example/daily.html?a=1&amp;b=2">Full report</a>' in body
    when = email.utils.parsedate_to_datetime(str(parsed["Date"]))
    assert when.tzinfo is not None
    assert abs(when - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(days=1)
    assert re.fullmatch(r"<[^<>@\s]+@example\.com>", str(parsed["Message-ID"]))
    other = build_email(msg, "okr@example.com", ["team@example.com"])
    assert other["Message-ID"] != mail["Message-ID"]  # unique per mail


def test_email_without_html_is_plain_text() -> None:
    msg = Message(title="T", markdown="**x**", text="x")
    mail = build_email(msg, "okr@example.com", ["a@example.com"])
    assert mail.get_content_type() == "text/plain"


class Sink:
    def __init__(self) -> None:
        self.contents: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.contents.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def test_the_delivered_mail_has_both_parts(
    demo: tuple[Plan, Message], smtp: tuple[Sink, int]
) -> None:
    _, msg = demo
    sink, port = smtp
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "from": "okr@example.com",
        "to": "a@example.com",
    }
    EmailNotifier(Channel("mail", "email", settings)).send(msg)
    (content,) = sink.contents
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Date"]
    assert parsed["Message-ID"]
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_webhook_text_has_no_box_tables(
    demo: tuple[Plan, Message], httpserver: HTTPServer, tmp_path: Path
) -> None:
    _, msg = demo
    httpserver.expect_request("/hook").respond_with_data("ok")
    settings: dict[str, Any] = {"url": httpserver.url_for("/hook"), "include_report": False}
    WebhookNotifier(Channel("ops", "webhook", settings)).send(msg)
    ((request, _),) = httpserver.log
    body = json.loads(request.data)
    assert body["text"] == msg.text
    assert not BOX.search(body["text"])
