"""Initiatives whose status follows an item in a work tracker (a task, card, page or issue).

An initiative with ``tracks: {connection: jira, issue: MKT-12}`` takes its status from the
item: :func:`follow_initiatives` asks each connection's source (:meth:`Source.item_states`) for
the state of every item it tracks, in one call per connection, and returns the plan with those
statuses. The rules:

* the tracker's state replaces the status written in the plan: ``planned``, ``doing``,
  ``done`` or ``dropped``;
* a tracker that says only "open" (Asana: not completed) keeps an open status of the plan
  (``planned`` or ``doing``) and turns a closed one into ``doing`` (the work was reopened);
* an item that cannot be read (unknown connection, a plugin that follows no items, a remote
  error) keeps the plan's status and is listed in :attr:`FollowResult.problems`, naming the
  initiative, the connection and the error (secrets scrubbed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .model import Initiative, InitiativeChange, InitiativeStatus, Plan, Strategy
from .sources import ItemState, Scrubber, TrackedItem

if TYPE_CHECKING:
    from .plugins import PluginManager
    from .store import Store

__all__ = ["FollowResult", "follow_initiatives"]

_STATES = ("open", *(s.value for s in InitiativeStatus))


@attrs.frozen
class FollowResult:
    """The plan with followed statuses, each initiative's new status, and what failed."""

    plan: Plan
    statuses: Mapping[str, InitiativeStatus]
    """Initiative id -> its status now, for each initiative whose item was read."""
    problems: Mapping[str, str]
    """Initiative id -> why its item could not be read (its status stays as planned)."""
    recorded: tuple[InitiativeChange, ...] = ()
    """With a store: the statuses recorded in it (new or changed since the last record)."""


def follow_initiatives(
    plan: Plan,
    *,
    manager: PluginManager | None = None,
    timeout: float | None = None,
    store: Store | None = None,
    at: dt.date | None = None,
) -> FollowResult:
    """Read the state of every item the plan's initiatives track and return the plan with the
    statuses those states give (see the module's rules). ``timeout`` (seconds) bounds each
    remote call; ``manager`` gives the source plugins (default: the installed ones). With a
    ``store``, the statuses read are recorded in its initiative history (source ``tracker``,
    as of ``at``, default today) when they are new or changed."""
    from .plugins import default_manager

    manager = manager or default_manager()
    tracked = [ini for ini in _initiatives(plan) if ini.tracks is not None]
    by_connection: dict[str, list[Initiative]] = {}
    problems: dict[str, str] = {}
    for ini in tracked:
        assert ini.tracks is not None
        name = str(ini.tracks.get("connection"))
        conn = plan.connections.get(name)
        if conn is None:
            known = ", ".join(sorted(plan.connections)) or "none"
            problems[ini.id] = f"tracks an unknown connection {name!r} (known: {known})"
        elif conn.plugin not in manager.sources:
            problems[ini.id] = (f"connection {name!r} uses plugin {conn.plugin!r}, which no "
                                "installed plugin provides")
        else:
            by_connection.setdefault(name, []).append(ini)
    states: dict[str, ItemState] = {}
    for name, initiatives in by_connection.items():
        conn = plan.connections[name]
        scrub = Scrubber.for_connection(conn)
        items = [TrackedItem(ini.id, _query(ini.tracks)) for ini in initiatives]
        source = manager.sources.get(conn.plugin)(conn)
        if timeout is not None:
            source.timeout = timeout
        try:
            answered = source.item_states(items)
        except Exception as exc:  # a plugin's bug must not hide the other connections
            answered = [ItemState(item, None, f"{type(exc).__name__}: {exc}") for item in items]
        finally:
            source.close()
        for state in answered:
            states[state.item.initiative] = state
        for ini in initiatives:
            state = states.get(ini.id)
            if state is None or state.status not in _STATES:
                why = ("the source gave no answer" if state is None else state.problem
                       or f"the source answered an unknown state {state.status!r}")
                problems[ini.id] = f"connection {name!r}: {scrub(why)}"
    statuses = {
        ini.id: _status(ini.status, states[ini.id].status)
        for ini in tracked
        if ini.id in states and ini.id not in problems
    }
    followed = _with_statuses(plan, statuses)
    recorded: list[InitiativeChange] = []
    if store is not None and statuses:
        from .initiative_history import record_initiative_statuses

        recorded = record_initiative_statuses(followed, store, at=at or dt.date.today(),
                                              source="tracker", only=set(statuses))
    return FollowResult(followed, statuses, problems, tuple(recorded))


def _status(planned: InitiativeStatus, state: str | None) -> InitiativeStatus:
    if state == "open":
        return planned if planned.open else InitiativeStatus.DOING
    return InitiativeStatus(state)


def _query(tracks: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (tracks or {}).items() if k != "connection"}


def _initiatives(plan: Plan) -> list[Initiative]:
    return [ini for obj in plan.objectives for st in obj.strategies for ini in st.initiatives]


def _with_statuses(plan: Plan, statuses: Mapping[str, InitiativeStatus]) -> Plan:
    if not statuses:
        return plan

    def strategy(st: Strategy) -> Strategy:
        return attrs.evolve(st, initiatives=[
            attrs.evolve(ini, status=statuses[ini.id]) if ini.id in statuses else ini
            for ini in st.initiatives])

    objectives = [attrs.evolve(obj, strategies=[strategy(st) for st in obj.strategies])
                  for obj in plan.objectives]
    return attrs.evolve(plan, objectives=objectives)
