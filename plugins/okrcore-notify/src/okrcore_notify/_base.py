"""What every notifier of this package shares: settings, secrets, HTTP with retries, trimming.

Error messages name the channel, the platform and the platform's own error code; they never
contain a webhook URL (it carries the token) or a secret.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import attrs

from okrcore.errors import SourceError
from okrcore.notifiers import Channel, Notifier, NotifyError, send_with_retries
from okrcore.sources import QueryProblem, parse_retry_after, resolve_secret

if TYPE_CHECKING:  # imported where it is used, so that listing plugins stays fast
    import requests

__all__ = ["HttpNotifier", "Reply", "fit_lines", "json_size"]

T = TypeVar("T")

TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@attrs.frozen
class Reply:
    """An HTTP answer: status, body text and the parsed JSON body (``None`` when not JSON)."""

    status: int
    text: str
    data: Any = None


def json_size(payload: Any) -> int:
    """Size in bytes of the payload as sent (compact UTF-8 JSON)."""
    return len(json_bytes(payload))


def json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def fit_lines(text: str, fits: Callable[[str], bool], note: Callable[[int, int], str]) -> str:
    """The longest prefix of ``text`` (whole lines) that ``fits`` once the note is appended.

    ``note(shown, total)`` words the trimming note (lines shown of total). Returns ``text``
    unchanged when it fits as it is. Lines are only cut whole, so Markdown stays well formed.
    """
    if fits(text):
        return text
    lines = text.splitlines()
    lo, hi = 0, len(lines)
    # binary search over the number of lines kept: fits() is monotonic in the prefix length
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(_join(lines[:mid], note(mid, len(lines)))):
            lo = mid
        else:
            hi = mid - 1
    candidate = _join(lines[:lo], note(lo, len(lines)))
    if fits(candidate):
        return candidate
    # even the note alone does not fit: cut characters (a last resort for absurd limits)
    out = note(0, len(lines))
    while out and not fits(out):
        out = out[: len(out) // 2]
    return out


def _join(lines: list[str], note: str) -> str:
    body = "\n".join(lines).rstrip()
    return f"{body}\n\n{note}" if body else note


def trim_note(link: str | None) -> Callable[[int, int], str]:
    """The note appended to a trimmed report, pointing at the full one when there is a link."""

    def note(shown: int, total: int) -> str:
        where = f" Full report: {link}" if link else " Run `okr report` for the full report."
        return (
            f"_(Report trimmed to fit the platform's size limit: {shown} of {total} lines.{where})_"
        )

    return note


_HEADING = re.compile(r"^#{1,6}\s+(.*)$", re.MULTILINE)


def headings_to_bold(markdown: str) -> str:
    """Chat cards that do not render Markdown headings get bold lines instead."""
    return _HEADING.sub(lambda m: f"**{m.group(1).strip()}**", markdown)


class HttpNotifier(Notifier):
    """Base of the webhook notifiers: resolves settings, posts JSON, retries transient errors.

    Settings common to every webhook notifier: ``url`` (the webhook; an ``env:NAME`` or
    ``file:PATH`` reference), ``timeout`` seconds (10), ``retries`` (3 attempts in all) and
    ``retry_backoff`` seconds (1.0, doubled after each attempt).
    """

    platform: ClassVar[str] = "webhook"
    url_is_secret: ClassVar[bool] = True
    """Whether the webhook URL itself is the credential (then it must be a reference)."""

    def __init__(self, channel: Channel, *, session: requests.Session | None = None) -> None:
        import requests

        super().__init__(channel)
        self.session = session or requests.Session()
        self.sleep: Callable[[float], None] = time.sleep

    # -- settings ------------------------------------------------------------------------------
    @classmethod
    def validate_channel(cls, channel: Channel) -> list[QueryProblem]:
        problems: list[QueryProblem] = []
        url = channel.settings.get("url")
        if not url:
            problems.append(QueryProblem("url", f"a {cls.name} channel needs a webhook 'url'"))
        elif not isinstance(url, str):
            problems.append(QueryProblem("url", "expected a string"))
        elif not url.startswith(("env:", "file:")) and (
            cls.url_is_secret or not url.startswith(("http://", "https://"))
        ):
            problems.append(
                QueryProblem(
                    "url",
                    "the webhook URL carries the token: reference it as 'env:NAME' or 'file:PATH'"
                    if cls.url_is_secret
                    else "expected an http(s) URL or an 'env:NAME' / 'file:PATH' reference",
                )
            )
        for key in ("timeout", "retry_backoff"):
            value = channel.settings.get(key)
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                problems.append(QueryProblem(key, "expected a number >= 0"))
        retries = channel.settings.get("retries")
        if retries is not None and (not isinstance(retries, int) or retries < 1):
            problems.append(QueryProblem("retries", "expected a whole number >= 1"))
        return problems

    def _check(self) -> None:
        problems = self.validate_channel(self.channel)
        if problems:
            raise NotifyError(
                f"channel {self.channel.name!r} ({self.name}): "
                + "; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in problems)
            )

    def secret(self, key: str) -> str | None:
        """A setting that holds a secret reference, resolved; errors name the setting only."""
        value = self.channel.settings.get(key)
        base = self.channel.settings.get("base_dir")
        try:
            return resolve_secret(
                value,
                what=f"channel {self.channel.name!r} setting {key!r}",
                base=Path(base) if isinstance(base, str) else None,
            )
        except SourceError as exc:
            raise NotifyError(str(exc)) from None

    def webhook_url(self) -> str:
        url = self.channel.settings.get("url")
        if isinstance(url, str) and not url.startswith(("env:", "file:")):
            return url
        resolved = self.secret("url")
        if not resolved:
            raise NotifyError(f"channel {self.channel.name!r}: no webhook url")
        return resolved

    # -- HTTP ----------------------------------------------------------------------------------
    def where(self) -> str:
        return f"channel {self.channel.name!r} ({self.platform})"

    def post(
        self,
        url: str,
        payload: Any,
        *,
        check: Callable[[Reply], None] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """POST JSON with bounded retries of transient errors; ``check`` judges a 2xx body.

        ``check`` raises :class:`NotifyError` (``transient=True`` when worth retrying) for a
        platform that answers HTTP 200 with an error code in the body.
        """
        import requests

        timeout = float(self.channel.settings.get("timeout", 10.0))
        body = json_bytes(payload)
        all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}

        def attempt() -> Reply:
            try:
                response = self.session.post(url, data=body, headers=all_headers, timeout=timeout)
            except requests.Timeout:
                raise NotifyError(
                    f"{self.where()}: timed out after {timeout:g} s", transient=True
                ) from None
            except requests.RequestException as exc:
                # the exception text holds the URL (and so the token): name its type only
                raise NotifyError(
                    f"{self.where()}: cannot reach the webhook ({type(exc).__name__})",
                    transient=True,
                ) from None
            reply = _reply(response)
            error = self._judge(reply, check)
            if error is not None:
                error.retry_after = parse_retry_after(response.headers.get("Retry-After"))
                raise error
            return reply

        return self.with_retries(attempt)

    def with_retries(self, attempt: Callable[[], T]) -> T:
        """``attempt`` under okrcore's retry rule (:func:`okrcore.notifiers.send_with_retries`)
        with this channel's ``retries`` and ``retry_backoff``."""
        settings = self.channel.settings
        return send_with_retries(
            attempt,
            attempts=int(settings.get("retries", 3)),
            backoff=float(settings.get("retry_backoff", 1.0)),
            sleep=self.sleep,
        )

    def _judge(self, reply: Reply, check: Callable[[Reply], None] | None) -> NotifyError | None:
        if reply.status in TRANSIENT_STATUS:
            return NotifyError(
                f"{self.where()}: HTTP {reply.status}{_excerpt(reply)}", transient=True
            )
        if not 200 <= reply.status < 300:
            return NotifyError(f"{self.where()}: HTTP {reply.status}{_excerpt(reply)}")
        if check is not None:
            try:
                check(reply)
            except NotifyError as exc:
                return exc
        return None


def _reply(response: requests.Response) -> Reply:
    text = response.text
    try:
        data = response.json() if text.strip() else None
    except ValueError:
        data = None
    return Reply(response.status_code, text, data)


def _excerpt(reply: Reply) -> str:
    text = " ".join(reply.text.split())
    if not text:
        return ""
    return f": {text[:300]}{'…' if len(text) > 300 else ''}"
