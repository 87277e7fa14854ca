"""Built-in notification glue: the ``markdown-file`` notifier, and sending a report when a
refresh finishes.

The ``markdown-file`` notifier appends each message, as Markdown, to the file its channel's
``path`` names (relative to the plan's folder): a local channel for trying notifications out,
for the offline demo, or for a log another tool picks up.

Channels of the plan's ``notify`` section with ``after_refresh: true`` (the daily report) or
``after_refresh: KIND`` get that report, as of the run's date, once the run is recorded (not
after a backfill, which loads history rather than news). A channel
that fails does not stop the others; the failures are raised together as one
:class:`~okrcore.notifiers.NotifyError`, which the refresh reports without undoing anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from okrcore.hookspecs import hookimpl
from okrcore.model import Plan, RunRecord
from okrcore.notifiers import Channel, Message, Notifier, NotifyError
from okrcore.plugins import PluginManager
from okrcore.sources import QueryProblem

if TYPE_CHECKING:
    from okrcore.reports import ReportKind


class FileNotifier(Notifier):
    """Appends each message to a Markdown file: a heading with the time, then the message."""

    name: ClassVar[str] = "markdown-file"

    @classmethod
    def validate_channel(cls, channel: Channel) -> list[QueryProblem]:
        path = channel.settings.get("path")
        if not isinstance(path, str) or not path.strip():
            return [QueryProblem("path", "expected the file to append messages to")]
        return []

    def path(self) -> Path:
        path = Path(str(self.channel.settings["path"])).expanduser()
        return path if path.is_absolute() else Path(self.channel.base_dir or ".") / path

    def send(self, message: Message) -> None:
        path = self.path()
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        body = message.markdown.strip()
        link = f"\n\nFull report: {message.link}" if message.link else ""
        try:
            with path.open("a", encoding="utf-8") as f:
                f.write(f"<!-- {stamp} -->\n{body}{link}\n\n")
        except OSError as exc:
            raise NotifyError(
                f"channel {self.channel.name!r} (markdown-file): cannot write {path}:"
                f" {exc.strerror}"
            ) from None


@hookimpl
def okrcore_register_notifiers(register: Callable[[type[Any]], None]) -> None:
    """The built-in ``markdown-file`` notifier."""
    register(FileNotifier)


@hookimpl
def okrcore_refresh_finished(
    run: RunRecord, plan: Plan, store: Any, manager: PluginManager
) -> None:
    """Send the reports the plan asks for after a refresh."""
    from okrcore.notify import after_refresh_channels, send_report
    from okrcore.reports import report

    wanted = after_refresh_channels(plan)
    if not wanted or "backfill" in run.info:  # loading history is not news for the team
        return
    by_kind: dict[ReportKind, list[str]] = {}
    for name, kind in wanted:
        by_kind.setdefault(kind, []).append(name)
    errors: list[str] = []
    for kind, names in by_kind.items():
        rep = report(plan, store, kind, at=run.as_of, manager=manager)
        errors += [r.error for r in send_report(plan, rep, names, manager=manager) if r.error]
    if errors:
        raise NotifyError("report after refresh not delivered: " + "; ".join(errors))
