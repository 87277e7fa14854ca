"""A generic JSON webhook: POSTs the report as data for your own service to handle.

Body: ``{"title", "text", "markdown", "report", "link"}`` where ``report`` is the report's JSON
form (docs/reports.md). Any 2xx answer is success.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from okrcore.errors import SourceError
from okrcore.notifiers import Channel, Message, NotifyError
from okrcore.sources import QueryProblem, resolve_secret

from ._base import HttpNotifier, fit_lines, json_size, trim_note

__all__ = ["WebhookNotifier", "webhook_payload"]


def webhook_payload(message: Message, *, include_report: bool = True) -> dict[str, Any]:
    """The JSON body sent to a generic webhook."""
    body: dict[str, Any] = {
        "title": message.title,
        "text": message.text,
        "markdown": message.markdown,
        "link": message.link,
    }
    if include_report:
        body["report"] = dict(message.report)
    return body


def fit_payload(message: Message, limit: int) -> dict[str, Any]:
    """The body within ``limit`` bytes: without the report data, then with the text and the
    Markdown trimmed at whole lines (each with a note); :class:`NotifyError` if even that
    cannot fit."""
    note = trim_note(message.link)

    def body(text: str, markdown: str) -> dict[str, Any]:
        return webhook_payload(
            attrs.evolve(message, text=text, markdown=markdown), include_report=False
        )

    markdown = fit_lines(message.markdown, lambda md: json_size(body("", md)) <= limit // 2, note)
    text = fit_lines(message.text, lambda t: json_size(body(t, markdown)) <= limit, note)
    payload = body(text, markdown)
    if json_size(payload) > limit:
        raise NotifyError(f"the report does not fit in max_bytes={limit}, even trimmed")
    return payload


class WebhookNotifier(HttpNotifier):
    """POSTs the report as JSON to any URL.

    Settings: ``url`` (a literal http(s) URL or an ``env:``/``file:`` reference), ``headers``
    (name -> value; values that are ``env:``/``file:`` references are resolved, e.g.
    ``Authorization: env:HOOK_AUTH``), ``include_report`` (true), ``max_bytes`` (none: a limit
    on the body; the report data is left out first, then the text and Markdown are trimmed),
    plus the common
    ``timeout``, ``retries``, ``retry_backoff``.
    """

    name: ClassVar[str] = "webhook"
    platform: ClassVar[str] = "webhook"
    url_is_secret: ClassVar[bool] = False

    @classmethod
    def validate_channel(cls, channel: Channel) -> list[QueryProblem]:
        problems = super().validate_channel(channel)
        headers = channel.settings.get("headers")
        if headers is not None and not (
            isinstance(headers, Mapping) and all(isinstance(v, str) for v in headers.values())
        ):
            problems.append(QueryProblem("headers", "expected a mapping of header name to text"))
        return problems

    def send(self, message: Message) -> None:
        self._check()
        headers: dict[str, str] = {}
        for key, value in dict(self.channel.settings.get("headers") or {}).items():
            if value.startswith(("env:", "file:")):
                value = self._resolve_header(key, value)
            headers[str(key)] = value
        include = bool(self.channel.settings.get("include_report", True))
        payload = webhook_payload(message, include_report=include)
        limit = self.channel.settings.get("max_bytes")
        if limit and json_size(payload) > int(limit):
            payload = fit_payload(message, int(limit))
        self.post(self.webhook_url(), payload, headers=headers)

    def _resolve_header(self, key: str, ref: str) -> str:
        try:
            return resolve_secret(ref, what=f"channel {self.channel.name!r} header {key!r}") or ""
        except SourceError as exc:
            raise NotifyError(str(exc)) from None
