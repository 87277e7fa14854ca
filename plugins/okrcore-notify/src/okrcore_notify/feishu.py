"""Feishu (and Lark) custom bots: an interactive card with the report as Markdown.

Signature (optional, when the bot's security setting "signature verification" is on): the string
``timestamp + "\\n" + secret`` is the HMAC-SHA256 *key*, the message is empty, and the digest is
base64-encoded; ``timestamp`` (seconds, as a string) and ``sign`` go into the JSON body.
The request body may be at most 20 KB (Feishu's custom-bot guide). Feishu answers HTTP 200 with
``{"code": 0, "msg": "success"}`` (older bots: ``{"StatusCode": 0}``); any other code is a
failure, e.g. 19021 (signature mismatch or timestamp more than an hour off) or 11232 (rate
limited, retried).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from okrcore.notifiers import Message, NotifyError

from ._base import HttpNotifier, Reply, fit_lines, headings_to_bold, json_size, trim_note

__all__ = ["FeishuNotifier", "LarkNotifier", "feishu_payload", "feishu_sign"]

MAX_BYTES = 20_000
TRANSIENT_CODES = frozenset({11232})  # frequency limited


def feishu_sign(timestamp: int, secret: str) -> str:
    """The documented Feishu/Lark custom-bot signature for ``timestamp`` (seconds)."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def _template(report: Mapping[str, Any]) -> str:
    lights = (report.get("summary") or {}).get("lights") or {}
    if lights.get("red"):
        return "red"
    if lights.get("yellow"):
        return "orange"
    if lights.get("green"):
        return "green"
    return "blue"


def _card(message: Message, markdown: str) -> dict[str, Any]:
    elements: list[dict[str, Any]] = [{"tag": "markdown", "content": markdown}]
    if message.link:
        elements.append(
            {
                "tag": "action",
                "actions": [
                    {
                        "tag": "button",
                        "text": {"tag": "plain_text", "content": "Full report"},
                        "type": "primary",
                        "url": message.link,
                    }
                ],
            }
        )
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {
                "title": {"tag": "plain_text", "content": message.title},
                "template": _template(message.report),
            },
            "elements": elements,
        },
    }


def feishu_payload(
    message: Message, *, secret: str | None = None, now: Callable[[], float] = time.time
) -> dict[str, Any]:
    """The card payload (signed when ``secret`` is given), under :data:`MAX_BYTES` of JSON."""
    signature: dict[str, str] = {}
    if secret:
        ts = int(now())
        signature = {"timestamp": str(ts), "sign": feishu_sign(ts, secret)}
    md = headings_to_bold(message.markdown)  # card Markdown has no headings
    fitted = fit_lines(
        md,
        lambda text: json_size({**signature, **_card(message, text)}) <= MAX_BYTES,
        trim_note(message.link),
    )
    return {**signature, **_card(message, fitted)}


class FeishuNotifier(HttpNotifier):
    """Posts a report card to a Feishu group through a custom bot webhook.

    Settings: ``url`` (``env:FEISHU_WEBHOOK_URL``), optional ``secret`` (``env:FEISHU_SECRET``)
    when signature verification is on, plus the common ``timeout``, ``retries``,
    ``retry_backoff``.
    """

    name: ClassVar[str] = "feishu"
    platform: ClassVar[str] = "Feishu"

    def send(self, message: Message) -> None:
        self._check()
        url, secret = self.webhook_url(), self.secret("secret")
        # a signature stays valid for an hour: signing once covers the retries
        self.post(url, feishu_payload(message, secret=secret), check=self._check_body)

    def _check_body(self, reply: Reply) -> None:
        data = reply.data if isinstance(reply.data, dict) else {}
        code = data.get("code", data.get("StatusCode"))
        if code == 0:
            return
        if not data:
            raise NotifyError(f"{self.where()}: unexpected answer (not JSON): {reply.text[:200]!r}")
        msg = data.get("msg") or data.get("StatusMessage") or ""
        raise NotifyError(
            f"{self.where()}: error code {code}: {msg}", transient=code in TRANSIENT_CODES
        )


class LarkNotifier(FeishuNotifier):
    """Lark (Feishu's international edition): the same custom-bot API on Lark's domain."""

    name: ClassVar[str] = "lark"
    platform: ClassVar[str] = "Lark"
