"""Built-in notification glue: send a report when a refresh finishes.

Channels of the plan's ``notify`` section with ``after_refresh: true`` (the daily report) or
``after_refresh: KIND`` get that report, as of the run's date, once the run is recorded (not
after a backfill, which loads history rather than news). A channel
that fails does not stop the others; the failures are raised together as one
:class:`~okrcore.notifiers.NotifyError`, which the refresh reports without undoing anything.
"""

from __future__ import annotations

from typing import Any

from okrcore.hookspecs import hookimpl
from okrcore.model import Plan, RunRecord
from okrcore.notifiers import NotifyError
from okrcore.plugins import PluginManager


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
    by_kind: dict[str, list[str]] = {}
    for name, kind in wanted:
        by_kind.setdefault(kind, []).append(name)
    errors: list[str] = []
    for kind, names in by_kind.items():
        rep = report(plan, store, kind, at=run.as_of, manager=manager)
        errors += [r.error for r in send_report(plan, rep, names, manager=manager) if r.error]
    if errors:
        raise NotifyError("report after refresh not delivered: " + "; ".join(errors))
