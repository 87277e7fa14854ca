"""Initiative status history: when each initiative's status changed, kept in the store.

:func:`record_initiative_statuses` compares each initiative's status in a plan with the last one
the store recorded for it and records what is new (:class:`~okrcore.model.InitiativeChange`):
the first status seen, then every change. A refresh records the plan's statuses (the plan file
edited between refreshes), :func:`okrcore.follow_initiatives` with a store the statuses a tracker
gives; :func:`status_history` reads them back for reports and ``okr history``.

docs/plan-format.md#initiatives describes the rules; this module is public.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from .errors import StoreError
from .model import InitiativeChange, Plan

if TYPE_CHECKING:
    from .store import Store

__all__ = ["new_statuses", "record_initiative_statuses", "status_history"]


def new_statuses(
    plan: Plan,
    recorded: Sequence[InitiativeChange],
    *,
    at: dt.date,
    source: str = "plan",
    only: Collection[str] | None = None,
    run_id: str | None = None,
    now: dt.datetime | None = None,
) -> list[InitiativeChange]:
    """The records to add for the plan's initiatives (all, or those in ``only``), given the
    records already kept (``recorded``, oldest first): one for each initiative with none yet
    (``was`` ``None``) and one for each whose status differs from its last record (pure)."""
    last = {c.initiative_id: c.status for c in recorded}
    moment = now or dt.datetime.now(dt.timezone.utc)
    out = []
    for ini in plan.initiatives():
        if only is not None and ini.id not in only:
            continue
        was = last.get(ini.id)
        if was is ini.status:
            continue
        out.append(InitiativeChange(ini.id, ini.status, was, at=at, source=source,
                                    recorded_at=moment, run_id=run_id))
    return out


def _require(store: Store) -> None:
    for method in ("add_initiative_changes", "initiative_changes"):
        if not callable(getattr(store, method, None)):
            raise StoreError(f"store {store!r} cannot record initiative statuses (no {method})")


def record_initiative_statuses(
    plan: Plan,
    store: Store,
    *,
    at: dt.date,
    source: str = "plan",
    only: Collection[str] | None = None,
    run_id: str | None = None,
    now: dt.datetime | None = None,
) -> list[InitiativeChange]:
    """Record in the store the statuses of the plan's initiatives (all, or those in ``only``)
    that are new or changed since the last record, as seen on ``at`` from ``source``
    (``plan`` or ``tracker``); returns what was recorded (all in one write)."""
    _require(store)
    if not any(True for _ in plan.initiatives()):
        return []
    changes = new_statuses(plan, store.initiative_changes(), at=at, source=source, only=only,
                           run_id=run_id, now=now)
    if changes:
        store.add_initiative_changes(changes)
    return changes


def status_history(store: Store, initiative_id: str | None = None) -> list[InitiativeChange]:
    """The recorded statuses of one initiative (all when ``None``), by day then as recorded."""
    _require(store)
    return store.initiative_changes(initiative_id)
