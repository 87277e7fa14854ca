"""Events: what changed for a key result or a KPI between two scorecards, and sending each
event once.

After a refresh okrcore compares the scorecard as of the previous refresh date (the day before,
for the first one) with the scorecard as of the run's date and derives :class:`Event` values
(:func:`derive_events`, pure): a key result reached its target or its stretch, turned red,
recovered from red, went stale; a KPI went off target for its period or recovered; an
initiative became overdue. :func:`send_events` delivers them to the plan's notify channels that
ask for them (a channel's ``events`` key) and to every ``okrcore_event`` hook implementation,
each event once per destination: the store records what was sent
(:meth:`okrcore.store.Store.claim_event`), so a re-run, a backfill or a second worker sends
nothing again, and a failed delivery is not recorded, so the next run sends it.

docs/events.md describes the rules; this module is public.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from .errors import NotifyError, StoreError
from .model import Kind, Plan, RunRecord
from .notifiers import Message
from .policies import Light
from .scorecard import KRScore, Scorecard

if TYPE_CHECKING:
    from .plugins import PluginManager
    from .store import Store

__all__ = [
    "CLAIM_LEASE",
    "GROUPS",
    "Delivery",
    "Event",
    "EventKind",
    "derive_events",
    "event_message",
    "events_after_refresh",
    "routes",
    "send_events",
]

CLAIM_LEASE = dt.timedelta(minutes=30)
"""How long a claimed, unsent delivery stays claimed: after that its sender is taken to have died
and another run sends the event."""


class EventKind(str, enum.Enum):
    """What happened. The values are what a channel's ``events`` list names."""

    TARGET_REACHED = "target_reached"
    STRETCH_REACHED = "stretch_reached"
    TURNED_RED = "turned_red"
    RECOVERED = "recovered"
    WENT_STALE = "went_stale"
    INITIATIVE_OVERDUE = "initiative_overdue"
    KPI_OFF_TARGET = "kpi_off_target"
    KPI_RECOVERED = "kpi_recovered"


LABELS = {
    EventKind.TARGET_REACHED: "Target reached",
    EventKind.STRETCH_REACHED: "Stretch reached",
    EventKind.TURNED_RED: "Turned red",
    EventKind.RECOVERED: "Recovered",
    EventKind.WENT_STALE: "Went stale",
    EventKind.INITIATIVE_OVERDUE: "Initiative overdue",
    EventKind.KPI_OFF_TARGET: "KPI off target",
    EventKind.KPI_RECOVERED: "KPI recovered",
}

GROUPS: Mapping[str, tuple[EventKind, ...]] = {
    "achievements": (EventKind.TARGET_REACHED, EventKind.STRETCH_REACHED),
    "alerts": (EventKind.TURNED_RED, EventKind.WENT_STALE, EventKind.INITIATIVE_OVERDUE,
               EventKind.KPI_OFF_TARGET),
    "all": tuple(EventKind),
}
"""Names a channel's ``events`` list may use for several kinds at once."""

_MAINTAIN = (Kind.MAINTAIN_ABOVE, Kind.MAINTAIN_BELOW)


@attrs.frozen
class Event:
    """One change worth telling the team about.

    ``subject`` is the key result's id (the initiative's, for ``initiative_overdue``; the KPI's,
    for ``kpi_*``) and ``title`` its title; ``at`` the date the change shows in the scorecard;
    ``summary`` one line in words. ``key`` identifies the event: an event is sent once per key
    and destination. It is ``KIND:SUBJECT:WHAT``, where WHAT is the target (or stretch) reached,
    so that reaching a raised target is news again; the date of the change for turning red and
    recovering; the last check-in date for going stale; the due date for an overdue initiative
    (a new due date missed is news again); the KPI's period (``2026-01``) for a KPI, so that each
    is sent at most once per period. ``data`` holds the numbers (``actual``, ``target``,
    ``stretch``, ``unit``, ``status``, ``was``, ``last_checkin``); for an initiative ``due``,
    ``status``, ``strategy``, ``key_results`` and ``days_overdue``; for a KPI ``period``,
    ``actual``, ``expected`` (the bar), ``target``, ``unit``, ``direction``, ``status``, ``was``
    and ``last_checkin``.
    """

    kind: EventKind
    subject: str
    title: str
    at: dt.date
    summary: str
    key: str
    objective: str | None = None
    owner: str | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def label(self) -> str:
        """The kind in words ("Target reached")."""
        return LABELS[self.kind]

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON-ready form (the ``events`` of a message's data, ``okr events``)."""
        return {
            "kind": self.kind.value,
            "key": self.key,
            "subject": self.subject,
            "title": self.title,
            "objective": self.objective,
            "owner": self.owner,
            "at": self.at.isoformat(),
            "summary": self.summary,
            "data": dict(self.data),
        }


@attrs.frozen
class Delivery:
    """What happened at one destination: the events it was sent (or failed to take).

    ``destination`` is a channel name or ``plugin:NAME``; ``error`` is ``None`` when delivered.
    """

    destination: str
    events: tuple[Event, ...]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


# -- deriving ------------------------------------------------------------------------------------
def _reached(value: float | None, bound: float | None, lower_is_better: bool) -> bool:
    if value is None or bound is None:
        return False
    return value <= bound if lower_is_better else value >= bound


def _lower_is_better(kr: KRScore) -> bool:
    return kr.kind in (Kind.DECREASE, Kind.MAINTAIN_BELOW)


def _target_reached(kr: KRScore | None) -> bool:
    return kr is not None and kr.progress is not None and kr.progress >= 1.0


def _event(kind: EventKind, kr: KRScore, was: KRScore | None, at: dt.date, what: str,
           summary: str, owner: str | None) -> Event:
    return Event(
        kind=kind,
        subject=kr.id,
        title=kr.title,
        at=at,
        summary=f"{kr.title}: {summary}",
        key=f"{kind.value}:{kr.id}:{what}",
        objective=kr.objective,
        owner=owner,
        data={
            "actual": kr.actual,
            "target": kr.target,
            "stretch": kr.stretch,
            "unit": kr.unit,
            "status": kr.status.value,
            "was": was.status.value if was else None,
            "last_checkin": kr.last_checkin.isoformat() if kr.last_checkin else None,
        },
    )


def derive_events(
    before: Scorecard, after: Scorecard, plan: Plan | None = None
) -> list[Event]:
    """The events between two scorecards of one plan, in plan order (pure).

    A key result **reached its target** when its progress is at least 1 now and was not before
    (``maintain_*`` key results hold a bound rather than reach one: no target or stretch events);
    **reached its stretch** when its actual is at or beyond the stretch now and was not before;
    **turned red** when its light is red now and was not; **recovered** when it was red and is
    green or yellow now; **went stale** when it is stale now and was not. A key result missing
    from ``before`` counts as having had no data. A KPI is judged on its current period: it
    **went off target** when it is red now (beyond its tolerance of the period's bar) and was not
    red before in the same period (an earlier period, or grey, green or yellow); it **recovered**
    when it was red before in the same period and is green or yellow now (a new period starts
    afresh: no recovery across periods). ``plan`` adds the owners, and the initiatives: one
    **became overdue** when it is open (planned or doing) after its due date as of ``after.at``
    and was not as of ``before.at``.
    """
    from .reports._format import num

    out: list[Event] = []
    for kr in after.key_results.values():
        was = before.key_results.get(kr.id)
        owner = None
        if plan is not None and plan.has_key_result(kr.id):
            owner = plan.key_result(kr.id).owner or plan.objective(kr.objective).owner

        def event(kind: EventKind, what: str, summary: str, kr: KRScore = kr,
                  was: KRScore | None = was, owner: str | None = owner) -> None:
            out.append(_event(kind, kr, was, after.at, what, summary, owner))

        unit = f" {kr.unit}" if kr.unit else ""
        actual = f"{num(kr.actual)}{unit}" if kr.actual is not None else "no value"
        if kr.kind not in _MAINTAIN:
            if _target_reached(kr) and not _target_reached(was):
                event(EventKind.TARGET_REACHED, f"{kr.target!r}",
                      f"reached its target of {num(kr.target)}{unit} ({actual})")
            lower = _lower_is_better(kr)
            if _reached(kr.actual, kr.stretch, lower) and not (
                was is not None and _reached(was.actual, was.stretch, lower)
            ):
                event(EventKind.STRETCH_REACHED, f"{kr.stretch!r}",
                      f"reached its stretch of {num(kr.stretch)}{unit} ({actual})")
        was_status = was.status if was is not None else Light.GREY
        if kr.status is Light.RED and was_status is not Light.RED:
            event(EventKind.TURNED_RED, after.at.isoformat(),
                  f"turned red ({kr.reason}; {actual})")
        elif was_status is Light.RED and kr.status in (Light.GREEN, Light.YELLOW):
            event(EventKind.RECOVERED, after.at.isoformat(),
                  f"recovered from red to {kr.status.value} ({kr.reason}; {actual})")
        if kr.stale and not (was is not None and was.stale):
            last = kr.last_checkin.isoformat() if kr.last_checkin else "none"
            seen = f"last check-in {last}" if kr.last_checkin else "no check-in yet"
            event(EventKind.WENT_STALE, last, f"went stale ({seen})")
    out += _kpi_events(before, after)
    if plan is not None:
        out += _overdue_initiatives(plan, before.at, after.at)
    return out


def _kpi_events(before: Scorecard, after: Scorecard) -> list[Event]:
    out = []
    for k in after.kpis.values():
        was = before.kpis.get(k.id)
        if was is not None and was.period != k.period:
            was = None  # a new period starts afresh
        was_red = was is not None and was.status is Light.RED
        if k.status is Light.RED and not was_red:
            kind, summary = EventKind.KPI_OFF_TARGET, f"off target ({k.reason})"
        elif was_red and k.status in (Light.GREEN, Light.YELLOW):
            kind = EventKind.KPI_RECOVERED
            summary = f"recovered from red to {k.status.value} ({k.reason})"
        else:
            continue
        out.append(Event(
            kind=kind,
            subject=k.id,
            title=k.title,
            at=after.at,
            summary=f"{k.title}: {summary}",
            key=f"{kind.value}:{k.id}:{k.period}",
            owner=k.owner,
            data={
                "period": k.period,
                "actual": k.actual,
                "expected": k.expected,
                "target": k.target,
                "unit": k.unit,
                "direction": k.direction,
                "status": k.status.value,
                "was": was.status.value if was is not None else None,
                "last_checkin": k.last_checkin.isoformat() if k.last_checkin else None,
            },
        ))
    return out


def _overdue_initiatives(plan: Plan, before: dt.date, after: dt.date) -> list[Event]:
    out = []
    for ini in plan.initiatives():
        if not ini.overdue(after) or ini.overdue(before):
            continue
        assert ini.due is not None  # overdue needs a due date
        days = (after - ini.due).days
        out.append(Event(
            kind=EventKind.INITIATIVE_OVERDUE,
            subject=ini.id,
            title=ini.title,
            at=after,
            summary=(f"{ini.title}: overdue since {ini.due.isoformat()} ({ini.status.value}, "
                     f"{days} day{'s' if days != 1 else ''} past its due date)"),
            key=f"{EventKind.INITIATIVE_OVERDUE.value}:{ini.id}:{ini.due.isoformat()}",
            objective=plan.initiative_objective(ini.id).id,
            owner=plan.initiative_owner(ini.id),
            data={
                "due": ini.due.isoformat(),
                "status": ini.status.value,
                "strategy": plan.strategy_of(ini.id).id,
                "key_results": list(ini.key_results),
                "days_overdue": days,
            },
        ))
    return out


def events_after_refresh(
    plan: Plan, store: Store, run: RunRecord, *, manager: PluginManager | None = None
) -> list[Event]:
    """The events a refresh run brought: the scorecard as of the latest earlier refresh date
    (a run that was not a backfill, with an ``as_of`` before this run's; the day before when
    there is none) compared with the scorecard as of the run's date, both from the store."""
    from .scoring import score

    earlier = [
        r.as_of for r in store.runs(limit=50)
        if r.id != run.id and r.as_of < run.as_of and "backfill" not in r.info
    ]
    since = max(earlier, default=run.as_of - dt.timedelta(days=1))
    before = score(plan, store, at=since, manager=manager)
    after = score(plan, store, at=run.as_of, manager=manager)
    return derive_events(before, after, plan)


# -- routing and sending ---------------------------------------------------------------------------
def _kinds(name: str, value: Any) -> frozenset[EventKind]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise NotifyError(f"notify.{name}.events: expected a list of event kinds or groups")
    known = {k.value: (k,) for k in EventKind} | dict(GROUPS)
    kinds: set[EventKind] = set()
    for n in names:
        if n not in known:
            raise NotifyError(
                f"notify.{name}.events: unknown event kind {n!r} (known: {', '.join(known)})"
            )
        kinds.update(known[n])
    return frozenset(kinds)


def routes(plan: Plan) -> dict[str, frozenset[EventKind]]:
    """The plan's channels that want events (a channel's ``events`` key) and the kinds each
    takes; a malformed ``events`` value raises :class:`~okrcore.NotifyError` naming it."""
    out = {}
    for name, entry in plan.notify.items():
        value = entry.get("events") if isinstance(entry, Mapping) else None
        if value is not None and value is not False:
            out[str(name)] = _kinds(str(name), value)
    return out


def _lower_first(label: str) -> str:
    """A label inside a sentence: "target reached", but "KPI off target"."""
    word = label.split(" ", 1)[0]
    return label if len(word) > 1 and word.isupper() else label[:1].lower() + label[1:]


def event_message(events: Sequence[Event], *, title: str | None = None,
                  link: str | None = None) -> Message:
    """The message a notifier sends for events: one line each, as Markdown, text and HTML; the
    data is ``{"events": [...]}`` (:meth:`Event.to_dict`)."""
    import html

    head = title or "OKR events"
    if len(events) == 1:
        head = f"{head}: {_lower_first(events[0].label)}"
    else:
        head = f"{head}: {len(events)} events"
    markdown = "\n".join(f"- **{e.label}**: {e.summary}" for e in events)
    text = "\n".join(f"- {e.label}: {e.summary}" for e in events)
    items = "".join(
        f"<li><strong>{html.escape(e.label)}</strong>: {html.escape(e.summary)}</li>"
        for e in events
    )
    return Message(
        title=head,
        markdown=f"## {head}\n\n{markdown}\n",
        text=f"{head}\n\n{text}\n",
        report={"events": [e.to_dict() for e in events]},
        link=link,
        html=f"<html><body><h2>{html.escape(head)}</h2><ul>{items}</ul></body></html>",
    )


class _Sender:
    """Claims, sends and records the deliveries of one call of :func:`send_events`."""

    def __init__(self, store: Store, run_id: str | None, now: dt.datetime | None) -> None:
        for method in ("claim_event", "finish_event"):
            if not callable(getattr(store, method, None)):
                raise StoreError(
                    f"store {store!r} cannot record sent events (no {method}); events are not"
                    " sent, so that none is sent twice"
                )
        self.store = store
        self.run_id = run_id
        self.token = uuid.uuid4().hex
        self.now = now

    def _now(self) -> dt.datetime:
        return self.now or dt.datetime.now(dt.timezone.utc)

    def claim(self, events: Iterable[Event], destination: str) -> list[Event]:
        from .store import EventDelivery

        now = self._now()
        return [
            e for e in events
            if self.store.claim_event(
                EventDelivery(key=e.key, destination=destination, kind=e.kind.value,
                              subject=e.subject, at=e.at, token=self.token, claimed_at=now,
                              run_id=self.run_id, event=e.to_dict()),
                stale_before=now - CLAIM_LEASE,
            )
        ]

    def finish(self, events: Iterable[Event], destination: str, error: str | None) -> None:
        sent_at = None if error else self._now()
        for e in events:
            self.store.finish_event(e.key, destination, self.token, sent_at=sent_at)


def send_events(
    plan: Plan,
    store: Store,
    events: Sequence[Event],
    *,
    manager: PluginManager | None = None,
    run_id: str | None = None,
    now: dt.datetime | None = None,
) -> list[Delivery]:
    """Send events not sent before: to each channel whose ``events`` key takes their kind (one
    message per channel), and to each ``okrcore_event`` hook implementation (one call per
    event). Each (event, destination) is claimed in the store first, so concurrent senders send
    it once, and recorded as sent only when delivered; a failed delivery is released (the next
    run tries again) and returned with its error. Destinations with nothing new are left out.
    """
    from .notify import deliver
    from .plugins import default_manager, load_plugin_modules

    manager = manager or default_manager()
    if plan.plugins:
        load_plugin_modules(manager, plan.plugins)
    sender = _Sender(store, run_id, now)
    out: list[Delivery] = []
    for name, kinds in routes(plan).items():
        claimed = sender.claim((e for e in events if e.kind in kinds), name)
        if not claimed:
            continue
        link = plan.notify[name].get("link")
        message = event_message(claimed, title=plan.title,
                                link=link if isinstance(link, str) else None)
        error = deliver(plan, name, message, manager=manager)
        sender.finish(claimed, name, error)
        out.append(Delivery(name, tuple(claimed), error))
    for plugin, call in manager.hook_callers("okrcore_event"):
        destination = f"plugin:{plugin}"
        for e in sender.claim(events, destination):
            error = None
            try:
                call(event=e, plan=plan, store=store, manager=manager)
            except Exception as exc:  # reported; other events and destinations still go
                error = f"plugin {plugin!r}: okrcore_event: {type(exc).__name__}: {exc}"
            sender.finish([e], destination, error)
            out.append(Delivery(destination, (e,), error))
    return out


def wanted(plan: Plan, manager: PluginManager) -> bool:
    """True when any destination takes events (a channel with ``events``, or a hook)."""
    return bool(routes(plan)) or bool(manager.hook_callers("okrcore_event"))
