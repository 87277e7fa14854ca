"""Built-in initiative history glue: after a refresh, record the initiatives' statuses that are
new or changed since the last record (the plan file edited between refreshes).

Runs for every recorded refresh that is not a backfill (loading history says nothing about the
plan's statuses then). Initiatives that follow a tracker item (``tracks``) are left out: their
history is what :func:`okrcore.follow_initiatives` records from the tracker, and the status
written in the plan file would contradict it.
"""

from __future__ import annotations

from typing import Any

from okrcore.hookspecs import hookimpl
from okrcore.model import Plan, RunRecord


@hookimpl
def okrcore_refresh_finished(run: RunRecord, plan: Plan, store: Any) -> None:
    """Record the statuses of the plan's untracked initiatives as of the run's date."""
    from okrcore.initiative_history import record_initiative_statuses

    if "backfill" in run.info:
        return
    untracked = [ini.id for ini in plan.initiatives() if ini.tracks is None]
    if untracked:
        record_initiative_statuses(plan, store, at=run.as_of, source="plan", only=untracked,
                                   run_id=run.id)
