"""Each notifier against a local HTTP server (and a local SMTP server for email).

The servers answer with the platforms' documented success and error bodies; signatures are
recomputed here from the documented algorithms, independently of the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import urllib.parse
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from okrcore_notify import (
    DingTalkNotifier,
    EmailNotifier,
    FeishuNotifier,
    SlackNotifier,
    TeamsNotifier,
    WebhookNotifier,
    plugin as notify_plugin,
)
from pytest_httpserver import HTTPServer

from okrcore.notifiers import Channel, Message, NotifyError
from okrcore.plugins import PluginManager

SECRET = "SEC-test-secret-0123456789"
TOKEN = "tok-SECRET-in-url"

REPORT = {"kind": "daily", "summary": {"lights": {"green": 2, "yellow": 1, "red": 1, "grey": 0}}}


def message(lines: int = 5, link: str | None = "https://reports.example/daily.html") -> Message:
    body = [
        "## Objective <O1> & more",
        *[f"- 🔴 **KR {i}** leads: 40 of 70 (57%)" for i in range(lines)],
    ]
    md = "\n".join(body)
    return Message(
        title="Daily OKR status 2026-02-10", markdown=md, text=md, report=REPORT, link=link
    )


def channel(
    plugin: str, url_env: str, monkeypatch: pytest.MonkeyPatch, url: str, **settings: Any
) -> Channel:
    monkeypatch.setenv(url_env, url)
    return Channel(
        name="team",
        plugin=plugin,
        settings={"url": f"env:{url_env}", "retry_backoff": 0, **settings},
    )


def no_sleep(notifier: Any) -> list[float]:
    sleeps: list[float] = []
    notifier.sleep = sleeps.append
    return sleeps


def test_plugin_registers_every_notifier() -> None:
    pm = PluginManager(load_entry_points=False)
    pm.register(notify_plugin, "okrcore-notify")
    assert {"slack", "teams", "feishu", "lark", "dingtalk", "webhook", "email"} <= set(pm.notifiers)


# -- Slack ----------------------------------------------------------------------------------------
def test_slack_block_kit_payload(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/services/T/B/x", method="POST").respond_with_data("ok")
    ch = channel("slack", "SLACK_URL", monkeypatch, httpserver.url_for("/services/T/B/x"))
    SlackNotifier(ch).send(message())
    ((request, _),) = httpserver.log
    body = request.get_json()
    assert body["text"] == "Daily OKR status 2026-02-10"
    blocks = body["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Daily OKR status 2026-02-10", "emoji": True},
    }
    section = blocks[1]["text"]
    assert section["type"] == "mrkdwn"
    # Slack mrkdwn: escaped <>&, single-asterisk bold, heading turned bold
    assert "*Objective &lt;O1&gt; &amp; more*" in section["text"]
    assert "*KR 0*" in section["text"]
    assert "**" not in section["text"]
    assert blocks[-1]["type"] == "context"
    assert "<https://reports.example/daily.html|" in json.dumps(blocks[-1])


def test_slack_long_report_is_trimmed_within_limits(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    ch = channel("slack", "SLACK_URL", monkeypatch, httpserver.url_for("/hook"))
    SlackNotifier(ch).send(message(lines=5000))
    body = httpserver.log[0][0].get_json()
    assert len(body["blocks"]) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in body["blocks"] if b["type"] == "section")
    assert sum(len(b["text"]["text"]) for b in body["blocks"] if b["type"] == "section") <= 40000
    assert "Report trimmed" in body["blocks"][-2]["text"]["text"]


def test_slack_error_names_the_platform_error_and_hides_the_url(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request(f"/{TOKEN}").respond_with_data("invalid_blocks", status=400)
    ch = channel("slack", "SLACK_URL", monkeypatch, httpserver.url_for(f"/{TOKEN}"))
    with pytest.raises(NotifyError, match="HTTP 400: invalid_blocks") as info:
        SlackNotifier(ch).send(message())
    assert TOKEN not in str(info.value)
    assert not info.value.transient
    assert len(httpserver.log) == 1  # a 400 is not retried


def test_rate_limit_is_retried_with_retry_after(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_ordered_request("/hook").respond_with_data(
        "rate_limited", status=429, headers={"Retry-After": "7"}
    )
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    ch = channel("slack", "SLACK_URL", monkeypatch, httpserver.url_for("/hook"))
    notifier = SlackNotifier(ch)
    sleeps = no_sleep(notifier)
    notifier.send(message())
    assert len(httpserver.log) == 2
    assert sleeps == [7.0]


def test_server_errors_give_up_after_the_bounded_attempts(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/hook").respond_with_data("boom", status=503)
    ch = channel("slack", "SLACK_URL", monkeypatch, httpserver.url_for("/hook"), retries=3)
    notifier = SlackNotifier(ch)
    no_sleep(notifier)
    with pytest.raises(NotifyError, match="HTTP 503.*gave up after 3 attempts"):
        notifier.send(message())
    assert len(httpserver.log) == 3


def test_literal_webhook_url_is_refused() -> None:
    settings: dict[str, Any] = {"url": "https://hooks.slack.com/services/T/B/secret"}
    ch = Channel("team", "slack", settings)
    problems = SlackNotifier.validate_channel(ch)
    assert [p.field for p in problems] == ["url"]
    with pytest.raises(NotifyError, match="env:NAME"):
        SlackNotifier(ch).send(message())


def test_missing_env_secret_is_named_without_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_URL", raising=False)
    settings: dict[str, Any] = {"url": "env:NOPE_URL"}
    ch = Channel("team", "slack", settings)
    with pytest.raises(NotifyError, match="NOPE_URL is not set"):
        SlackNotifier(ch).send(message())


# -- Teams ----------------------------------------------------------------------------------------
def test_teams_adaptive_card(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/workflows/x").respond_with_data("", status=202)
    ch = channel("teams", "TEAMS_URL", monkeypatch, httpserver.url_for("/workflows/x"))
    TeamsNotifier(ch).send(message())
    body = httpserver.log[0][0].get_json()
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    assert card["body"][0]["text"] == "Daily OKR status 2026-02-10"
    assert card["body"][1]["text"].startswith("**Objective <O1> & more**")
    assert card["actions"][0] == {
        "type": "Action.OpenUrl",
        "title": "Full report",
        "url": "https://reports.example/daily.html",
    }


def test_teams_payload_stays_under_the_size_limit(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/wf").respond_with_data("", status=202)
    ch = channel("teams", "TEAMS_URL", monkeypatch, httpserver.url_for("/wf"))
    TeamsNotifier(ch).send(message(lines=3000))
    raw = httpserver.log[0][0].get_data()
    assert len(raw) <= 28 * 1024
    assert "Report trimmed" in raw.decode("utf-8")


def test_teams_error_status(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/wf").respond_with_json(
        {"error": {"code": "TriggerInputSchemaMismatch", "message": "bad"}}, status=400
    )
    ch = channel("teams", "TEAMS_URL", monkeypatch, httpserver.url_for("/wf"))
    with pytest.raises(NotifyError, match="TriggerInputSchemaMismatch"):
        TeamsNotifier(ch).send(message())


# -- Feishu ---------------------------------------------------------------------------------------
def expected_feishu_sign(timestamp: str, secret: str) -> str:
    # documented: key = timestamp + "\n" + secret, HMAC-SHA256 over an empty message, base64
    mac = hmac.new(f"{timestamp}\n{secret}".encode(), b"", digestmod=hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def test_feishu_signed_card(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/open-apis/bot/v2/hook/abc").respond_with_json(
        {"code": 0, "data": {}, "msg": "success"}
    )
    monkeypatch.setenv("FEISHU_SECRET", SECRET)
    ch = channel(
        "feishu",
        "FEISHU_URL",
        monkeypatch,
        httpserver.url_for("/open-apis/bot/v2/hook/abc"),
        secret="env:FEISHU_SECRET",
    )
    FeishuNotifier(ch).send(message())
    body = httpserver.log[0][0].get_json()
    assert body["sign"] == expected_feishu_sign(body["timestamp"], SECRET)
    assert body["timestamp"].isdigit()
    assert body["msg_type"] == "interactive"
    card = body["card"]
    assert card["header"]["title"] == {
        "tag": "plain_text",
        "content": "Daily OKR status 2026-02-10",
    }
    assert card["header"]["template"] == "red"  # the report has a red key result
    assert card["elements"][0]["tag"] == "markdown"
    assert "**KR 0**" in card["elements"][0]["content"]
    assert card["elements"][1]["actions"][0]["url"] == "https://reports.example/daily.html"


def test_feishu_without_secret_is_unsigned(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/h").respond_with_json({"StatusCode": 0, "StatusMessage": "success"})
    ch = channel("feishu", "FEISHU_URL", monkeypatch, httpserver.url_for("/h"))
    FeishuNotifier(ch).send(message())
    body = httpserver.log[0][0].get_json()
    assert "sign" not in body
    assert "timestamp" not in body


def test_feishu_http_200_with_error_code_is_a_failure(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/h").respond_with_json(
        {
            "code": 19021,
            "data": {},
            "msg": "sign match fail or timestamp is not within one hour from current time",
        }
    )
    monkeypatch.setenv("FEISHU_SECRET", SECRET)
    ch = channel(
        "feishu", "FEISHU_URL", monkeypatch, httpserver.url_for("/h"), secret="env:FEISHU_SECRET"
    )
    with pytest.raises(NotifyError, match="error code 19021: sign match fail") as info:
        FeishuNotifier(ch).send(message())
    assert SECRET not in str(info.value)
    assert len(httpserver.log) == 1


def test_feishu_rate_limit_code_is_retried(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_ordered_request("/h").respond_with_json(
        {"code": 11232, "msg": "frequency limited"}
    )
    httpserver.expect_ordered_request("/h").respond_with_json({"code": 0, "msg": "success"})
    ch = channel("feishu", "FEISHU_URL", monkeypatch, httpserver.url_for("/h"))
    notifier = FeishuNotifier(ch)
    no_sleep(notifier)
    notifier.send(message())
    assert len(httpserver.log) == 2


def test_feishu_body_under_20kb(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/h").respond_with_json({"code": 0, "msg": "success"})
    ch = channel("feishu", "FEISHU_URL", monkeypatch, httpserver.url_for("/h"))
    FeishuNotifier(ch).send(message(lines=2000))
    assert len(httpserver.log[0][0].get_data()) <= 20_000


# -- DingTalk -------------------------------------------------------------------------------------
def test_dingtalk_signed_markdown(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/robot/send").respond_with_json({"errcode": 0, "errmsg": "ok"})
    monkeypatch.setenv("DT_SECRET", SECRET)
    url = httpserver.url_for("/robot/send") + f"?access_token={TOKEN}"
    ch = channel("dingtalk", "DT_URL", monkeypatch, url, secret="env:DT_SECRET")
    DingTalkNotifier(ch).send(message())
    request = httpserver.log[0][0]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
    assert query["access_token"] == [TOKEN]
    timestamp = query["timestamp"][0]
    # documented: HMAC-SHA256(key=secret, msg=timestamp + "\n" + secret), base64, URL-encoded
    digest = hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    assert query["sign"] == [base64.b64encode(digest).decode()]
    raw_query = request.query_string.decode("ascii")  # as sent, not re-encoded
    assert "sign=" + urllib.parse.quote_plus(base64.b64encode(digest).decode()) in raw_query
    body = request.get_json()
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "Daily OKR status 2026-02-10"
    assert body["markdown"]["text"].startswith("### Daily OKR status 2026-02-10")
    assert "[Full report](https://reports.example/daily.html)" in body["markdown"]["text"]


def test_dingtalk_errcode_is_a_failure(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/robot/send").respond_with_json(
        {"errcode": 310000, "errmsg": "keywords not in content"}
    )
    ch = channel(
        "dingtalk", "DT_URL", monkeypatch, httpserver.url_for("/robot/send") + "?access_token=t"
    )
    with pytest.raises(NotifyError, match="errcode 310000: keywords not in content"):
        DingTalkNotifier(ch).send(message())


def test_dingtalk_too_fast_is_retried_then_reported(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/robot/send").respond_with_json(
        {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
    )
    ch = channel(
        "dingtalk",
        "DT_URL",
        monkeypatch,
        httpserver.url_for("/robot/send") + "?access_token=t",
        retries=2,
    )
    notifier = DingTalkNotifier(ch)
    sleeps = no_sleep(notifier)
    with pytest.raises(NotifyError, match="errcode 130101") as info:
        notifier.send(message())
    assert info.value.transient
    assert len(httpserver.log) == 2
    assert len(sleeps) == 1


def test_dingtalk_body_under_limit(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/robot/send").respond_with_json({"errcode": 0, "errmsg": "ok"})
    ch = channel(
        "dingtalk", "DT_URL", monkeypatch, httpserver.url_for("/robot/send") + "?access_token=t"
    )
    DingTalkNotifier(ch).send(message(lines=3000))
    assert len(httpserver.log[0][0].get_data()) <= 20_000


# -- generic webhook ------------------------------------------------------------------------------
def test_webhook_posts_report_with_resolved_headers(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_AUTH", "Bearer abc")
    httpserver.expect_request(
        "/in", method="POST", headers={"Authorization": "Bearer abc"}
    ).respond_with_json({"accepted": True})
    settings: dict[str, Any] = {
        "url": httpserver.url_for("/in"),
        "headers": {"Authorization": "env:HOOK_AUTH"},
    }
    ch = Channel("ops", "webhook", settings)
    WebhookNotifier(ch).send(message())
    body = httpserver.log[0][0].get_json()
    assert set(body) == {"title", "text", "markdown", "report", "link"}
    assert body["report"] == REPORT
    assert httpserver.log[0][1].status_code == 200


def test_webhook_connection_refused_is_transient_and_hides_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    settings: dict[str, Any] = {
        "url": f"http://127.0.0.1:{port}/{TOKEN}",
        "retries": 2,
        "retry_backoff": 0,
    }
    ch = Channel("ops", "webhook", settings)
    notifier = WebhookNotifier(ch)
    sleeps = no_sleep(notifier)
    with pytest.raises(NotifyError, match="cannot reach") as info:
        notifier.send(message())
    assert TOKEN not in str(info.value)
    assert len(sleeps) == 1


# -- email ----------------------------------------------------------------------------------------
class Sink:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


class Refuse:
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        return "550 5.1.1 mailbox unavailable"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Any:
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield sink, controller.port
    finally:
        controller.stop()


def test_email_is_delivered(smtp: Any) -> None:
    sink, port = smtp
    ch = Channel(
        "mail",
        "email",
        {
            "host": "127.0.0.1",
            "port": port,
            "from": "okr@example.com",
            "to": ["a@example.com", "b@example.com"],
        },
    )
    EmailNotifier(ch).send(message())
    (envelope,) = sink.envelopes
    assert envelope.mail_from == "okr@example.com"
    assert envelope.rcpt_tos == ["a@example.com", "b@example.com"]
    content = envelope.content.decode("utf-8")
    assert "Subject: Daily OKR status 2026-02-10" in content
    assert "Full report: https://reports.example/daily.html" in content


def test_email_refused_recipient_is_reported() -> None:
    controller = Controller(Refuse(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": controller.port,
            "from": "o@x.org",
            "to": "a@x.org",
        }
        ch = Channel("mail", "email", settings)
        with pytest.raises(NotifyError, match="refused"):
            EmailNotifier(ch).send(message())
    finally:
        controller.stop()


def test_email_password_must_be_a_reference() -> None:
    settings: dict[str, Any] = {
        "host": "h",
        "from": "o@x.org",
        "to": "a@x.org",
        "password": "hunter2",
    }
    ch = Channel("mail", "email", settings)
    problems = EmailNotifier.validate_channel(ch)
    assert [p.field for p in problems] == ["password"]
    with pytest.raises(NotifyError) as info:
        EmailNotifier(ch).send(message())
    assert "hunter2" not in str(info.value)


def test_slack_mrkdwn_from_escaped_markdown() -> None:
    from okrcore_notify.slack import to_mrkdwn

    md = "## Q4 \\*launch\\* \\[x\\](y) a\\<b\\> & **bold** [report](https://r.example/d)"
    assert (
        to_mrkdwn(md) == "*Q4 ∗launch∗ [x](y) a&lt;b&gt; &amp; *bold* <https://r.example/d|report>*"
    )


def test_dingtalk_signature_is_url_encoded() -> None:
    from okrcore_notify.dingtalk import signed_url

    # at this timestamp the base64 signature holds "+", "/" and "=": all must be encoded
    url = signed_url(
        "https://robot.example/send?access_token=t", SECRET, now=lambda: 1700000000.002
    )
    digest = hmac.new(SECRET.encode(), f"1700000000002\n{SECRET}".encode(), hashlib.sha256).digest()
    sign = base64.b64encode(digest).decode()
    assert set("+/=") <= set(sign)
    assert url == (
        "https://robot.example/send?access_token=t&timestamp=1700000000002&sign="
        + sign.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    )


def test_installed_entry_point_is_discovered() -> None:
    pm = PluginManager()  # discovers installed plugins through the "okrcore" entry-point group
    assert pm.notifiers.get("dingtalk") is DingTalkNotifier
    assert pm.notifiers.owner("slack") == "notify"


@pytest.fixture
def tls_files(tmp_path: Any) -> tuple[str, str]:
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


def test_email_starttls_and_login(
    tls_files: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    from aiosmtpd.smtp import AuthResult

    cert, key = tls_files
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[tuple[str, bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        logins.append((mechanism, data.login, data.password))
        return AuthResult(success=data.password == b"s3cret")

    sink = Sink()
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": controller.port,
        "from": "okr@example.com",
        "to": "team@example.com",
        "starttls": True,
        "ca_file": cert,
        "username": "okr",
        "password": "env:SMTP_PASSWORD",
    }
    try:
        EmailNotifier(Channel("mail", "email", settings)).send(message())
        assert len(sink.envelopes) == 1
        assert logins[0][1:] == (b"okr", b"s3cret")
        # without the private CA the server's certificate is not trusted: a permanent failure
        untrusted = EmailNotifier(Channel("mail", "email", {**settings, "ca_file": None}))
        sleeps = no_sleep(untrusted)
        with pytest.raises(NotifyError, match="TLS") as info:
            untrusted.send(message())
        assert not info.value.transient
        assert sleeps == []
        assert "s3cret" not in str(info.value)
    finally:
        controller.stop()


def test_webhook_max_bytes_drops_report_then_trims(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/in").respond_with_data("", status=204)
    settings: dict[str, Any] = {"url": httpserver.url_for("/in"), "max_bytes": 4000}
    ch = Channel("ops", "webhook", settings)
    WebhookNotifier(ch).send(message(lines=400))
    raw = httpserver.log[0][0].get_data()
    assert len(raw) <= 4000
    body = json.loads(raw)
    assert "report" not in body
    assert "Report trimmed" in body["markdown"]
    assert body["markdown"].startswith("## Objective")


def test_payloads_of_a_real_report_fit_every_platform(tmp_path: Any) -> None:
    """The example plan's monthly review, built by okrcore, through every payload builder."""
    import datetime as dt
    import importlib.resources
    import shutil

    from okrcore_notify._base import json_size
    from okrcore_notify.dingtalk import dingtalk_payload
    from okrcore_notify.feishu import feishu_payload
    from okrcore_notify.slack import slack_payload
    from okrcore_notify.teams import teams_payload

    from okrcore import refresh
    from okrcore.notify import message_for
    from okrcore.planfile import load_plan
    from okrcore.reports import report
    from okrcore.store import open_store

    for name in ("marketing.yaml", "marketing-history.csv"):
        with importlib.resources.as_file(importlib.resources.files("okrcore.demo") / name) as f:
            shutil.copy(f, tmp_path / name)
    plan = load_plan(tmp_path / "marketing.yaml")
    store = open_store("memory://")
    at = dt.date(2026, 11, 20)
    refresh(plan, store, backfill=(plan.cycles[0].start, at))
    msg = message_for(report(plan, store, "monthly", at=at), link="https://okr.example/m.html")
    slack = slack_payload(msg)
    assert len(slack["blocks"]) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in slack["blocks"] if b["type"] == "section")
    assert json_size(teams_payload(msg)) <= 28 * 1024
    assert json_size(feishu_payload(msg, secret="s")) <= 20_000
    assert json_size(dingtalk_payload(msg)) <= 20_000
    for kr in plan.key_results():  # the monthly review fits whole on every platform
        assert kr.title in json.dumps(slack, ensure_ascii=False)
        assert kr.title in dingtalk_payload(msg)["markdown"]["text"]
