"""The notifier contract: what a plugin implements to push reports to a chat robot or mailbox.

A notifier is a class registered through the ``okrcore_register_notifiers`` hook. A plan's
``notify`` section names channels (``name -> {"plugin": ..., settings}``); okrcore creates one
notifier per channel and calls :meth:`Notifier.send` with a :class:`Message`.

This module is public and stable; plugins import from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import attrs

from .errors import NotifyError, ValidationError  # NotifyError: part of this contract
from .sources import QueryProblem, parse_retry_after

__all__ = [
    "MAX_WAIT",
    "Channel",
    "Message",
    "Notifier",
    "NotifyError",
    "parse_retry_after",
    "send_with_retries",
]

T = TypeVar("T")

MAX_WAIT = 60.0
"""The longest wait before another try, in seconds: a platform asking for more is not retried."""


@attrs.frozen
class Channel:
    """A named notification channel from the plan's ``notify`` section (secrets as references)."""

    name: str
    plugin: str
    settings: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)
    base_dir: str | None = attrs.field(default=None, eq=False)
    """The plan file's folder: relative paths in settings are read from there."""

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


def send_with_retries(
    attempt: Callable[[], T],
    *,
    attempts: int = 3,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    max_wait: float = MAX_WAIT,
) -> T:
    """Call ``attempt`` until it returns, at most ``attempts`` times in all, retrying only a
    transient :class:`NotifyError`.

    The wait before try *n* (from 1) is ``backoff * 2**(n-1)`` seconds, or the error's
    ``retry_after`` when longer (read a Retry-After header, seconds or an HTTP date, with
    :func:`parse_retry_after`, as the refresh engine does for sources). A wait over ``max_wait``
    is not made: the error is raised at once, saying how long the platform asked to wait. The
    last error says how many attempts were made.
    """
    if attempts < 1:
        raise ValidationError(f"attempts must be at least 1, got {attempts}")
    for n in range(attempts):
        try:
            return attempt()
        except NotifyError as exc:
            if not exc.transient:
                raise
            if n == attempts - 1:
                if attempts == 1:
                    raise
                raise NotifyError(
                    f"{exc} (gave up after {attempts} attempts)", transient=True
                ) from None
            delay = max(backoff * 2.0**n, exc.retry_after or 0.0)
            if delay > max_wait:
                raise NotifyError(
                    f"{exc} (asked to wait {delay:.0f} s before trying again, more than "
                    f"{max_wait:g} s: not retried)",
                    transient=True,
                    retry_after=delay,
                ) from None
            sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")
