"""The notifier contract: what a plugin implements to push reports to a chat robot or mailbox.

A notifier is a class registered through the ``okrcore_register_notifiers`` hook. A plan's
``notify`` section names channels (``name -> {"plugin": ..., settings}``); okrcore creates one
notifier per channel and calls :meth:`Notifier.send` with a :class:`Message`.

This module is public and stable; plugins import from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from .errors import NotifyError  # re-exported: part of this contract
from .sources import QueryProblem

__all__ = ["Channel", "Message", "Notifier", "NotifyError"]


@attrs.frozen
class Channel:
    """A named notification channel from the plan's ``notify`` section (secrets as references)."""

    name: str
    plugin: str
    settings: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)

    def __repr__(self) -> str:  # settings hold webhook URLs and secrets: keep them out of reprs
        return f"Channel(name={self.name!r}, plugin={self.plugin!r})"


@attrs.frozen
class Message:
    """What a notifier sends: a title, the report as Markdown, plain text and HTML, and as data.

    ``text`` is plain text without tables or markup (headings and lists, wrapped at 78
    characters); ``html`` a small HTML document with inline styles, for a mail's HTML part (empty
    when the sender built none); ``report`` is the JSON form of the report (see docs/reports.md)
    for notifiers that build rich cards; ``link`` points at the full report when one is published.
    """

    title: str
    markdown: str
    text: str
    report: Mapping[str, Any] = attrs.field(factory=dict)
    link: str | None = None
    html: str = ""


class Notifier:
    """Base class of notifiers. Subclass it, set :attr:`name`, implement :meth:`send`."""

    name: ClassVar[str] = ""
    """The name plans use in a channel's ``plugin`` key."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    @classmethod
    def validate_channel(cls, channel: Channel) -> list[QueryProblem]:
        """Problems with a channel's settings, found without any I/O. Default: none."""
        return []

    def send(self, message: Message) -> None:
        """Deliver the message; raise :class:`NotifyError` naming the platform's error."""
        raise NotImplementedError
