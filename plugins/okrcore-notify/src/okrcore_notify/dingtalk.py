"""DingTalk custom robots: a ``markdown`` message, with the optional signed URL.

Signature (security setting "加签"): ``string_to_sign = timestamp + "\\n" + secret`` with
``timestamp`` in milliseconds; HMAC-SHA256 with the secret as key over that string, base64, then
URL-encoded; ``&timestamp=...&sign=...`` are appended to the webhook URL. A robot may send 20
messages a minute. DingTalk answers HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``; any other
errcode is a failure, e.g. 310000 (keyword, signature or IP check failed) or 130101 (sending too
fast, retried). Messages are kept under 20,000 bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, ClassVar

from okrcore.notifiers import Message, NotifyError

from ._base import HttpNotifier, Reply, fit_lines, json_size, trim_note

__all__ = ["DingTalkNotifier", "dingtalk_payload", "dingtalk_sign", "signed_url"]

MAX_BYTES = 20_000
TRANSIENT_CODES = frozenset({-1, 130101})  # system busy; sending too fast


def dingtalk_sign(timestamp_ms: int, secret: str) -> str:
    """The documented DingTalk signature for ``timestamp_ms`` (base64, not yet URL-encoded)."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(url: str, secret: str, *, now: Callable[[], float] = time.time) -> str:
    """The webhook URL with ``timestamp`` and ``sign`` appended."""
    ts = int(now() * 1000)
    sign = urllib.parse.quote_plus(dingtalk_sign(ts, secret))
    return f"{url}{'&' if '?' in url else '?'}timestamp={ts}&sign={sign}"


def dingtalk_payload(message: Message) -> dict[str, Any]:
    """The markdown message payload, under :data:`MAX_BYTES` of JSON."""
    link = f"\n\n[Full report]({message.link})" if message.link else ""

    def build(text: str) -> dict[str, Any]:
        return {"msgtype": "markdown", "markdown": {"title": message.title, "text": text + link}}

    head = f"### {message.title}\n\n"
    fitted = fit_lines(
        head + message.markdown,
        lambda text: json_size(build(text)) <= MAX_BYTES,
        trim_note(message.link),
    )
    return build(fitted)


class DingTalkNotifier(HttpNotifier):
    """Posts a report to a DingTalk group through a custom robot.

    Settings: ``url`` (``env:DINGTALK_WEBHOOK_URL``, the URL with ``access_token``), optional
    ``secret`` (``env:DINGTALK_SECRET``) for signed robots, plus the common ``timeout``,
    ``retries``, ``retry_backoff``.
    """

    name: ClassVar[str] = "dingtalk"
    platform: ClassVar[str] = "DingTalk"

    def send(self, message: Message) -> None:
        self._check()
        url, secret = self.webhook_url(), self.secret("secret")
        # a signature stays valid for an hour: signing once covers the retries
        target = signed_url(url, secret) if secret else url
        self.post(target, dingtalk_payload(message), check=self._check_body)

    def _check_body(self, reply: Reply) -> None:
        data = reply.data if isinstance(reply.data, dict) else {}
        code = data.get("errcode")
        if code == 0:
            return
        if not data:
            raise NotifyError(f"{self.where()}: unexpected answer (not JSON): {reply.text[:200]!r}")
        raise NotifyError(
            f"{self.where()}: errcode {code}: {data.get('errmsg', '')}",
            transient=code in TRANSIENT_CODES,
        )
