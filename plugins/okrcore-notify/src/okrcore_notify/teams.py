"""Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received").

The payload is a ``message`` with one Adaptive Card attachment (schema 1.4). Teams limits a
message to about 28 KB (Microsoft's "Send messages using webhooks" documentation); this notifier
keeps the whole JSON body under :data:`MAX_BYTES` and trims the report at whole lines with a note.
A Workflows webhook answers 202 Accepted; errors come back as HTTP 4xx/5xx.
"""

from __future__ import annotations

from typing import Any, ClassVar

from okrcore.notifiers import Message

from ._base import HttpNotifier, fit_lines, headings_to_bold, json_size, trim_note

__all__ = ["MAX_BYTES", "TeamsNotifier", "teams_payload"]

MAX_BYTES = 27 * 1024  # under the documented ~28 KB, leaving room for the platform's wrapping


def _card(title: str, markdown: str, link: str | None) -> dict[str, Any]:
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": [
            {"type": "TextBlock", "text": title, "size": "Large", "weight": "Bolder", "wrap": True},
            {"type": "TextBlock", "text": markdown, "wrap": True},
        ],
    }
    if link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Full report", "url": link}]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def teams_payload(message: Message) -> dict[str, Any]:
    """The Adaptive Card payload for a message, under :data:`MAX_BYTES` of JSON."""
    # Adaptive Card TextBlocks render a subset of Markdown: no headings, so bold lines instead
    md = headings_to_bold(message.markdown)
    fitted = fit_lines(
        md,
        lambda text: json_size(_card(message.title, text, message.link)) <= MAX_BYTES,
        trim_note(message.link),
    )
    return _card(message.title, fitted, message.link)


class TeamsNotifier(HttpNotifier):
    """Posts a report to a Teams chat or channel through a Workflows webhook (Adaptive Card).

    Settings: ``url`` (``env:TEAMS_WEBHOOK_URL``), plus the common ``timeout``, ``retries``,
    ``retry_backoff``.
    """

    name: ClassVar[str] = "teams"
    platform: ClassVar[str] = "Microsoft Teams"

    def send(self, message: Message) -> None:
        self._check()
        self.post(self.webhook_url(), teams_payload(message))
