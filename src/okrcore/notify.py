"""Sending reports to notification channels (the plan's ``notify`` section).

The section maps a channel name to its settings: ``plugin`` (a registered notifier's name) and
that notifier's settings, secrets only as ``env:NAME`` / ``file:PATH`` references. Two keys are
okrcore's own and are not passed to the notifier:

``after_refresh``
    send a report when a refresh finishes: ``true`` (the daily report) or a report kind
    (``daily``, ``weekly``, ``monthly``).
``link``
    the URL where the full report is published; chat messages that must be trimmed point there.
``events``
    the events (:mod:`okrcore.events`) to post on this channel: a list of event kinds or groups
    (``achievements``, ``alerts``, ``all``).

Example::

    notify:
      team-chat: {plugin: slack, url: env:SLACK_WEBHOOK_URL, after_refresh: daily,
                  link: https://okr.example.com/dashboard.html}
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from .model import Plan
from .notifiers import Channel, Message, Notifier, NotifyError
from .reports import KINDS, Report, ReportKind

if TYPE_CHECKING:
    from .plugins import PluginManager

__all__ = [
    "SendResult",
    "after_refresh_channels",
    "channels",
    "deliver",
    "message_for",
    "send_report",
]

OWN_KEYS = ("plugin", "after_refresh", "link", "events")


@attrs.frozen
class SendResult:
    """What happened on one channel: ``error`` is ``None`` when the message was delivered."""

    channel: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def channels(plan: Plan) -> dict[str, Channel]:
    """The plan's channels by name; a malformed entry raises :class:`NotifyError` naming it."""
    return {str(name): _channel(plan, str(name), entry) for name, entry in plan.notify.items()}


def _channel(plan: Plan, name: str, entry: Any) -> Channel:
    if not isinstance(entry, Mapping):
        raise NotifyError(f"notify.{name}: expected a mapping with 'plugin' and settings")
    plugin = entry.get("plugin")
    if not isinstance(plugin, str) or not plugin:
        raise NotifyError(f"notify.{name}: a channel needs 'plugin' (e.g. slack, dingtalk)")
    settings = {k: v for k, v in entry.items() if k not in OWN_KEYS}
    base = os.path.dirname(plan.source_path) if plan.source_path else None
    return Channel(name, plugin, settings, base_dir=base)


def _unknown(plan: Plan, name: str) -> str:
    known = sorted(str(n) for n in plan.notify)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    listed = ", ".join(known) or "none: add a 'notify' section to the plan"
    return f"unknown channel {name!r} ({hint}the plan has: {listed})"


def _entry(plan: Plan, name: str) -> Mapping[str, Any]:
    entry = plan.notify.get(name)
    return entry if isinstance(entry, Mapping) else {}


def after_refresh_channels(plan: Plan) -> list[tuple[str, ReportKind]]:
    """``(channel, report kind)`` for every channel that wants a report after a refresh."""
    out: list[tuple[str, ReportKind]] = []
    for name in plan.notify:
        value = _entry(plan, name).get("after_refresh")
        if value is True:
            out.append((str(name), "daily"))
        elif isinstance(value, str) and value in KINDS:
            out.append((str(name), value))
        elif value not in (None, False):
            raise NotifyError(
                f"notify.{name}.after_refresh: expected true or one of {', '.join(KINDS)}"
            )
    return out


def message_for(report: Report, *, link: str | None = None) -> Message:
    """The message a notifier sends for a report: Markdown, plain text, HTML and the JSON form."""
    from .reports.markdown import render_html_mail, render_markdown, render_plain

    return Message(
        title=report.title,
        markdown=render_markdown(report),
        text=render_plain(report),
        report=report.to_dict(),
        link=link,
        html=render_html_mail(report),
    )


def _notifier(manager: PluginManager, channel: Channel) -> Notifier:
    registry = manager.notifiers
    if channel.plugin not in registry:
        known = ", ".join(registry) or "none (install okrcore-notify)"
        raise NotifyError(
            f"channel {channel.name!r}: unknown notifier {channel.plugin!r} (known: {known})"
        )
    cls = registry.get(channel.plugin)
    problems = cls.validate_channel(channel)
    if problems:
        detail = "; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in problems)
        raise NotifyError(f"channel {channel.name!r} ({channel.plugin}): {detail}")
    notifier: Notifier = cls(channel)
    return notifier


def send_report(
    plan: Plan,
    report: Report,
    names: Sequence[str] | Iterable[str],
    *,
    manager: PluginManager | None = None,
) -> list[SendResult]:
    """Send a report to the named channels, each on its own: a failing or unknown channel does
    not stop the others. Returns one :class:`SendResult` per name, in order; the error of an
    unknown name lists the plan's channels.
    """
    from .plugins import default_manager, load_plugin_modules

    manager = manager or default_manager()
    if plan.plugins:
        load_plugin_modules(manager, plan.plugins)
    results = []
    for name in names:
        if name not in plan.notify:
            results.append(SendResult(name, _unknown(plan, name)))
            continue
        link = _entry(plan, name).get("link")
        message = message_for(report, link=link if isinstance(link, str) else None)
        results.append(SendResult(name, deliver(plan, name, message, manager=manager)))
    return results


def deliver(
    plan: Plan, name: str, message: Message, *, manager: PluginManager
) -> str | None:
    """Send ``message`` on the plan's channel ``name``: ``None`` when delivered, else the error
    (naming the channel); never raises for the channel's own failure."""
    if name not in plan.notify:
        return _unknown(plan, name)
    try:
        _notifier(manager, _channel(plan, name, plan.notify[name])).send(message)
    except NotifyError as exc:
        return str(exc)
    except Exception as exc:  # a notifier bug must not hide the other channels' results
        return f"channel {name!r}: {type(exc).__name__}: {exc}"
    return None
