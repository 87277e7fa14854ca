"""Built-in events glue: after a refresh, derive the events it brought and send each once.

Runs for every recorded refresh that is not a backfill (loading history is not news), and only
when something takes events: a channel of the plan's ``notify`` section with an ``events`` key, or
an ``okrcore_event`` hook implementation. Deliveries that fail are raised together as one
:class:`~okrcore.notifiers.NotifyError`, which the refresh reports (``okr refresh`` exits 1)
without undoing anything; they are not recorded as sent, so the next refresh sends them.
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
    """Send the events of a refresh run to the channels and hooks that take them."""
    from okrcore.events import events_after_refresh, send_events, wanted

    if "backfill" in run.info or not wanted(plan, manager):
        return
    events = events_after_refresh(plan, store, run, manager=manager)
    failed = [
        d for d in send_events(plan, store, events, manager=manager, run_id=run.id) if d.error
    ]
    if failed:
        raise NotifyError(
            "events not delivered (they are sent again on the next refresh): "
            + "; ".join(f"{len(d.events)} event(s): {d.error}" for d in failed)
        )
