"""Slack incoming webhooks with Block Kit.

Limits (Slack's Block Kit reference): at most 50 blocks per message, a section's text at most
3,000 characters, a header's plain text at most 150 characters, a message's ``text`` at most
40,000 characters. Longer reports are trimmed at whole lines with a note (and the link to the full
report when there is one). Slack answers ``ok`` with HTTP 200 and errors such as
``invalid_blocks`` or ``no_text`` with HTTP 400 (see docs/reports.md).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from okrcore.notifiers import Message

from ._base import HttpNotifier, fit_lines, trim_note

__all__ = ["SlackNotifier", "slack_payload", "to_mrkdwn"]

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_TEXT = 40000
_SAFE = {
    "*": "∗",
    "_": "ˍ",
    "`": "ˋ",
    "<": "&lt;",
    ">": "&gt;",
    "&": "&amp;",
}  # look-alikes that Slack does not read as markup

_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_HEADING = re.compile(r"^#{1,6}\s+(.*)$", re.MULTILINE)
_ESCAPED = re.compile(r"\\([\\*_`\[\]<>|])")


def to_mrkdwn(markdown: str) -> str:
    """Markdown to Slack mrkdwn: escape &, <, >; bold; links; headings as bold lines.

    Markdown backslash escapes (Slack has none) become the plain character; an escaped ``*``,
    ``_`` or backtick becomes a look-alike so that it cannot start Slack formatting.
    """
    escaped: list[str] = []

    def hold(m: re.Match[str]) -> str:  # keep escaped characters out of the conversions below
        escaped.append(m.group(1))
        return f"\ue000{len(escaped) - 1}\ue001"

    text = _ESCAPED.sub(hold, markdown)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _HEADING.sub(lambda m: f"**{m.group(1).strip()}**", text)
    text = _BOLD.sub(r"*\1*", text)
    text = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", text)

    def release(m: re.Match[str]) -> str:
        ch = escaped[int(m.group(1))]
        return _SAFE.get(ch, ch)

    return re.sub("\ue000([0-9]+)\ue001", release, text)


def _sections(mrkdwn: str) -> list[str]:
    """Cut text into section-sized chunks at line ends (a longer single line is hard-cut)."""
    chunks: list[str] = []
    current = ""
    for line in mrkdwn.splitlines():
        while len(line) > MAX_SECTION:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:MAX_SECTION])
            line = line[MAX_SECTION:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > MAX_SECTION:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        chunks.append(current)
    return [c for c in chunks if c.strip()]


def slack_payload(message: Message) -> dict[str, Any]:
    """The Block Kit payload for a message, within Slack's limits."""
    title = message.title.strip() or "okrcore report"  # a header's text must not be empty
    title = title if len(title) <= MAX_HEADER else title[: MAX_HEADER - 1] + "…"
    note = trim_note(message.link)
    tail = 1 if message.link else 0
    room = MAX_BLOCKS - 1 - tail  # the header, and the link context at the end

    def fits(md: str) -> bool:
        text = to_mrkdwn(md)
        return len(_sections(text)) <= room and len(text) <= MAX_TEXT - len(title) - 1

    body = to_mrkdwn(fit_lines(message.markdown, fits, note))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}}
    ]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": s}} for s in _sections(body)]
    if message.link:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"<{message.link}|Full report>"}],
            }
        )
    # `text` is the notification fallback (shown in notifications and by clients without blocks)
    return {"text": title, "blocks": blocks}


class SlackNotifier(HttpNotifier):
    """Posts a report to a Slack channel through an incoming webhook (Block Kit).

    Settings: ``url`` (``env:SLACK_WEBHOOK_URL``), plus the common ``timeout``, ``retries``,
    ``retry_backoff``.
    """

    name: ClassVar[str] = "slack"
    platform: ClassVar[str] = "Slack"

    def send(self, message: Message) -> None:
        self._check()
        self.post(self.webhook_url(), slack_payload(message))
