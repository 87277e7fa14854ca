"""Check-in reminders: nudge the owners of key results that are due for a check-in or stale.

:func:`reminders` works out, as of a date, which key results need a check-in (a key result
checked in by hand that has gone a whole cadence period without one, or any key result that is
stale) and groups them into one :class:`Reminder` per owner, with the key results escalated to
an objective's owner after ``escalate_after`` periods without a check-in.
:func:`send_reminders` sends each reminder through the owner's channel (``owners[].notify``, else
their ``email`` through the plan's email channel), at most once per owner and reminder period:
it claims ``reminder:OWNER:PERIOD`` in the store's event-delivery record first
(:meth:`okrcore.store.Store.claim_event`), the same exactly-once record events use, so an hourly
cron job, a re-run or a second worker sends nothing twice, and a failed send is not recorded, so
the next run sends it.

docs/events.md#check-in-reminders describes the rules; this module is public.
"""

from __future__ import annotations

import datetime as dt
import html
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from .errors import NotifyError, StoreError, ValidationError
from .model import Cadence, KpiPeriod, Plan
from .notifiers import Message

if TYPE_CHECKING:
    from .plugins import PluginManager
    from .store import Store

__all__ = [
    "DEFAULT_ESCALATE_AFTER",
    "DEFAULT_EVERY",
    "DESTINATION",
    "DueCheckIn",
    "Reminder",
    "ReminderResult",
    "ReminderSettings",
    "Reminders",
    "failures",
    "owner_route",
    "period_of",
    "recipients",
    "reminder_message",
    "reminder_settings",
    "reminders",
    "send_reminders",
]

DEFAULT_EVERY = Cadence.WEEKLY
"""How often an owner may be reminded unless the plan's ``reminders.every`` says otherwise."""

DEFAULT_ESCALATE_AFTER = 2
"""Periods without a check-in after which a key result is escalated to its objective's owner."""

DESTINATION = "reminder"
"""The destination reminders are recorded under in the store's event-delivery record."""

_LEASE = dt.timedelta(minutes=30)  # as for events: a sender that died frees its claim after this


@attrs.frozen
class ReminderSettings:
    """The plan's ``reminders`` section with its defaults filled in."""

    every: Cadence = DEFAULT_EVERY
    escalate_after: int = DEFAULT_ESCALATE_AFTER
    email_channel: str | None = None


def reminder_settings(plan: Plan) -> ReminderSettings:
    """The plan's reminder settings; a malformed value raises :class:`~okrcore.ValidationError`
    naming it (plan files are checked when loaded; this guards plans built in Python)."""
    raw = plan.reminders
    unknown = sorted(set(raw) - {"every", "escalate_after", "email_channel"})
    if unknown:
        raise ValidationError(f"reminders: unknown key {unknown[0]!r}", "reminders")
    every = raw.get("every", DEFAULT_EVERY)
    try:
        cadence = Cadence(every)
    except ValueError:
        raise ValidationError(
            f"reminders.every: expected daily, weekly or monthly, got {every!r}", "reminders.every"
        ) from None
    after = raw.get("escalate_after", DEFAULT_ESCALATE_AFTER)
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise ValidationError(
            f"reminders.escalate_after: expected a whole number >= 0, got {after!r}",
            "reminders.escalate_after",
        )
    mail = raw.get("email_channel")
    if mail is not None and not isinstance(mail, str):
        raise ValidationError(
            f"reminders.email_channel: expected a channel name, got {mail!r}",
            "reminders.email_channel",
        )
    return ReminderSettings(cadence, after, mail)


def period_of(day: dt.date, every: Cadence) -> tuple[str, dt.date]:
    """The reminder period holding ``day`` as ``(id, first day)``: ``2026-11-30`` for daily,
    the ISO week ``2026-W49`` (from Monday) for weekly, ``2026-11`` for monthly."""
    if every is Cadence.DAILY:
        return day.isoformat(), day
    key, start, _ = KpiPeriod(every.value).bounds(day)  # one calendar for KPIs and reminders
    return key, start


@attrs.frozen
class DueCheckIn:
    """A key result that needs a check-in.

    ``missed`` counts whole periods of its ``cadence`` since the last check-in (since the cycle
    started, when there is none); ``stale`` is the scorecard's staleness; ``manual`` says it is
    checked in by hand (no ``source``). ``owner`` is the key result's owner (its own, else its
    objective's), ``owner_name`` how reports name it, and ``escalated`` whether it reached the
    plan's ``escalate_after``.
    """

    kr: str
    title: str
    objective: str
    owner: str | None
    cadence: Cadence
    missed: int
    stale: bool
    manual: bool
    last_checkin: dt.date | None
    escalated: bool = False
    owner_name: str | None = None

    def describe(self) -> str:
        """One line in words: ``Leads (leads): 2 weekly periods without a check-in (last
        2026-11-02), stale``."""
        periods = "period" if self.missed == 1 else "periods"
        last = (f"last {self.last_checkin.isoformat()}" if self.last_checkin
                else "none yet")
        text = (f"{self.title} ({self.kr}): {self.missed} {self.cadence.value} {periods} "
                f"without a check-in ({last})")
        if self.stale:
            text += ", stale"
        if not self.manual:
            text += ", its source sends nothing"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kr": self.kr,
            "title": self.title,
            "objective": self.objective,
            "owner": self.owner,
            "owner_name": self.owner_name,
            "cadence": self.cadence.value,
            "missed": self.missed,
            "stale": self.stale,
            "manual": self.manual,
            "last_checkin": self.last_checkin.isoformat() if self.last_checkin else None,
            "escalated": self.escalated,
        }


@attrs.frozen
class Reminder:
    """One message to one owner for one reminder period.

    ``key_results`` are the owner's own key results that need a check-in; ``escalations`` the
    key results of others, under objectives this owner owns, that went ``escalate_after``
    periods without one. ``channel`` is where it goes (``email`` set: that channel, mailed to
    this address); ``problem`` says why the owner cannot be reached (then ``channel`` is
    ``None``). ``key`` (``reminder:OWNER:PERIOD``) is what the store records once it was sent.
    """

    owner: str
    name: str
    period: str
    key: str
    key_results: tuple[DueCheckIn, ...] = ()
    escalations: tuple[DueCheckIn, ...] = ()
    channel: str | None = None
    email: str | None = None
    problem: str | None = None

    @property
    def via(self) -> str:
        """How it reaches the owner, in words (``channel 'ann-chat'``, ``ann@example.com via
        channel 'mail'``)."""
        if self.channel is None:
            return "nowhere"
        if self.email:
            return f"{self.email} via channel {self.channel!r}"
        return f"channel {self.channel!r}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (a message's data, ``okr remind --format json``)."""
        return {
            "owner": self.owner,
            "name": self.name,
            "period": self.period,
            "key": self.key,
            "channel": self.channel,
            "email": self.email,
            "problem": self.problem,
            "key_results": [d.to_dict() for d in self.key_results],
            "escalations": [d.to_dict() for d in self.escalations],
        }


@attrs.frozen
class Reminders:
    """What :func:`reminders` found as of ``at``: one :class:`Reminder` per owner to remind, and
    ``problems``: key results that need a check-in but have no owner, or should be escalated
    to an objective that has none."""

    at: dt.date
    period: str
    period_start: dt.date
    settings: ReminderSettings
    reminders: tuple[Reminder, ...] = ()
    problems: tuple[str, ...] = ()




def recipients(plan: Plan, settings: ReminderSettings | None = None
               ) -> dict[str, list[tuple[str, str]]]:
    """Everyone :func:`reminders` may remind, whatever the store holds: owner id -> ``(field
    path, key-result id)`` for each key result they could be reminded of, in plan order.

    The field path is the ``owner:`` field that makes them the recipient: the key result's own,
    else its objective's; for an escalation (``escalate_after`` > 0), the objective's.
    """
    settings = settings or reminder_settings(plan)
    out: dict[str, list[tuple[str, str]]] = {}
    for i, obj in enumerate(plan.objectives):
        for j, kr in enumerate(obj.key_results):
            if kr.derived:  # its initiatives or its parts take the check-ins
                continue
            owner = kr.owner or obj.owner
            if owner is not None:
                path = f"objectives[{i}].key_results[{j}].owner" if kr.owner else \
                    f"objectives[{i}].owner"
                out.setdefault(owner, []).append((path, kr.id))
            if settings.escalate_after > 0 and obj.owner is not None and obj.owner != owner:
                out.setdefault(obj.owner, []).append((f"objectives[{i}].owner", kr.id))
    return out


def _due(plan: Plan, store: Store, at: dt.date, settings: ReminderSettings,
         manager: PluginManager | None) -> list[DueCheckIn]:
    from .scoring import score

    card = score(plan, store, at=at, manager=manager)
    out = []
    for kr in plan.key_results():
        if kr.derived:  # its initiatives or its parts take the check-ins
            continue
        cycle = plan.cycle_of(kr.id)
        mine = card.key_results.get(kr.id)
        if mine is None or not cycle.start <= at <= mine.deadline:
            continue
        cadence = kr.cadence or DEFAULT_EVERY
        since = mine.last_checkin or cycle.start - dt.timedelta(days=1)
        missed = max((at - since).days, 0) // cadence.days
        manual = kr.source is None
        # by hand: due once a whole period went by; with a source: only when it went stale
        if not (mine.stale if not manual else missed >= 1):
            continue
        escalated = settings.escalate_after > 0 and missed >= settings.escalate_after
        owner = plan.kr_owner(kr.id)
        out.append(DueCheckIn(
            kr=kr.id, title=kr.title, objective=mine.objective, owner=owner,
            cadence=cadence, missed=missed, stale=mine.stale, manual=manual,
            last_checkin=mine.last_checkin, escalated=escalated,
            owner_name=plan.owner_label(owner),
        ))
    return out


def _email_channel(plan: Plan, settings: ReminderSettings) -> tuple[str | None, str | None]:
    """``(channel, None)`` or ``(None, why there is none)``."""
    if settings.email_channel is not None:
        if settings.email_channel not in plan.notify:
            return None, f"reminders.email_channel: unknown channel {settings.email_channel!r}"
        return settings.email_channel, None
    mail = [str(n) for n, e in plan.notify.items()
            if isinstance(e, Mapping) and e.get("plugin") == "email"]
    if len(mail) == 1:
        return mail[0], None
    if not mail:
        return None, "the plan has no email channel (a notify channel with plugin: email)"
    return None, (f"the plan has several email channels ({', '.join(mail)}): name one in "
                  "reminders.email_channel")


def owner_route(plan: Plan, owner: str, settings: ReminderSettings | None = None
                ) -> tuple[str | None, str | None, str | None]:
    """How a reminder reaches ``owner``: ``(channel, email, None)`` (``email`` set: mailed through
    that channel), or ``(None, None, problem)`` saying why they cannot be reached. ``okr remind``
    and the lint rule ``OKR-O003`` both use it."""
    settings = settings or reminder_settings(plan)
    found = plan.find_owner(owner)
    if found is None:
        return None, None, (f"owner {owner!r} is not in the plan's owners section: no channel "
                            "or email to reach them")
    if found.notify is not None:
        return found.notify, None, None
    if found.email is None:
        return None, None, f"owner {owner!r} has neither a notify channel nor an email"
    channel, why = _email_channel(plan, settings)
    if channel is None:
        return None, None, f"owner {owner!r} has an email but {why}"
    return channel, found.email, None


def reminders(
    plan: Plan,
    store: Store,
    *,
    at: dt.date | None = None,
    manager: PluginManager | None = None,
) -> Reminders:
    """Who to remind of which key results as of ``at`` (default: today); reads the store, sends
    nothing.

    A key result is due for a check-in when its cycle has started and its deadline has not
    passed, and either it is checked in by hand (no ``source``) and a whole period of its
    cadence (weekly by default) went by since its last check-in (since the day before the
    cycle started, when there is none), or it is stale (docs/scoring.md#staleness; for a key
    result with a source, its source stopped sending). Key results that take their progress
    from initiatives are never due. One :class:`Reminder` per owner lists their key results;
    one whose periods without a check-in reached the plan's ``escalate_after`` is also listed
    in its objective's owner's reminder (when that is someone else).
    """
    at = at or dt.date.today()
    settings = reminder_settings(plan)
    period, start = period_of(at, settings.every)
    own: dict[str, list[DueCheckIn]] = {}
    escalated: dict[str, list[DueCheckIn]] = {}
    problems: list[str] = []
    for due in _due(plan, store, at, settings, manager):
        if due.owner is None:
            problems.append(f"key result {due.kr!r} needs a check-in and has no owner to remind")
        else:
            own.setdefault(due.owner, []).append(due)
        if not due.escalated:
            continue
        boss = plan.objective(due.objective).owner
        if boss is None:
            problems.append(
                f"key result {due.kr!r} went {due.missed} {due.cadence.value} periods without"
                f" a check-in: its objective {due.objective!r} has no owner to escalate to"
            )
        elif boss != due.owner:
            escalated.setdefault(boss, []).append(due)
    out = []
    for owner in dict.fromkeys([*own, *escalated]):
        channel, email, problem = owner_route(plan, owner, settings)
        out.append(Reminder(
            owner=owner,
            name=plan.owner_label(owner) or owner,
            period=period,
            key=f"reminder:{owner}:{period}",
            key_results=tuple(own.get(owner, ())),
            escalations=tuple(escalated.get(owner, ())),
            channel=channel,
            email=email,
            problem=problem,
        ))
    return Reminders(at, period, start, settings, tuple(out), tuple(problems))


def reminder_message(reminder: Reminder, *, title: str | None = None,
                     link: str | None = None) -> Message:
    """The message an owner gets: their key results that need a check-in, then the escalated
    ones, one line each, as Markdown, text and HTML; the data is ``{"reminder": {...}}``."""
    count = len(reminder.key_results) + len(reminder.escalations)
    # the recipient is named: a shared channel (or the demo's file) holds several owners' reminders
    head = (f"{title or 'OKR'}: check-in reminder for {reminder.name} "
            f"({count} key result{'s' if count != 1 else ''})")
    sections = []
    if reminder.key_results:
        sections.append(("Your key results need a check-in", reminder.key_results, False))
    if reminder.escalations:
        sections.append(("Escalated: key results under your objectives without a check-in",
                         reminder.escalations, True))
    md, text, page = [f"## {head}", ""], [head, ""], [f"<h2>{html.escape(head)}</h2>"]
    for heading, items, others in sections:
        lines = [d.describe() + (f" (owner: {d.owner_name or d.owner})" if others else "")
                 for d in items]
        md += [f"**{heading}**", "", *(f"- {line}" for line in lines), ""]
        text += [f"{heading}:", *(f"- {line}" for line in lines), ""]
        page += [f"<p><strong>{html.escape(heading)}</strong></p><ul>",
                 *(f"<li>{html.escape(line)}</li>" for line in lines), "</ul>"]
    return Message(
        title=head,
        markdown="\n".join(md),
        text="\n".join(text),
        report={"reminder": reminder.to_dict()},
        link=link,
        html="<html><body>" + "".join(page) + "</body></html>",
    )


@attrs.frozen
class ReminderResult:
    """What happened to one reminder: ``status`` is ``sent``, ``already sent`` (this period,
    by an earlier run), ``would send`` (dry run), ``failed`` (``error`` says why: the owner
    cannot be reached, or the channel failed) or ``being sent`` (another run holds the claim)."""

    reminder: Reminder
    status: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def _send(plan: Plan, reminder: Reminder, message: Message, manager: PluginManager) -> str | None:
    from .notify import _channel, _notifier, deliver

    assert reminder.channel is not None
    if reminder.email is None:
        return deliver(plan, reminder.channel, message, manager=manager)
    name = reminder.channel
    try:  # the email channel, addressed to this owner only
        channel = _channel(plan, name, plan.notify[name])
        channel = attrs.evolve(channel, settings={**channel.settings, "to": [reminder.email]})
        _notifier(manager, channel).send(message)
    except NotifyError as exc:
        return str(exc)
    except Exception as exc:  # a notifier bug must not hide the other owners' results
        return f"channel {name!r}: {type(exc).__name__}: {exc}"
    return None


def send_reminders(
    plan: Plan,
    store: Store,
    found: Reminders,
    *,
    manager: PluginManager | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    run_id: str | None = None,
) -> list[ReminderResult]:
    """Send each reminder not sent in its period yet, one message per owner; returns one
    :class:`ReminderResult` per reminder, in order.

    Each reminder is claimed in the store first (key ``reminder:OWNER:PERIOD``, destination
    ``reminder``), so concurrent or repeated runs send it once, and recorded as sent only when
    the channel took it; a failed send is released (the next run tries again). An owner who
    cannot be reached fails without touching the store. ``dry_run`` sends and records nothing
    (it reports ``already sent`` for reminders the store has).
    """
    from .plugins import default_manager, load_plugin_modules
    from .store import EventDelivery

    for method in ("claim_event", "finish_event", "event_deliveries"):
        if not callable(getattr(store, method, None)):
            raise StoreError(f"store {store!r} cannot record sent reminders (no {method}); "
                             "reminders are not sent, so that none is sent twice")
    manager = manager or default_manager()
    if plan.plugins:
        load_plugin_modules(manager, plan.plugins)
    sent = {d.key for d in store.event_deliveries(since=found.period_start)
            if d.destination == DESTINATION}
    token = uuid.uuid4().hex
    out = []
    for reminder in found.reminders:
        if reminder.key in sent:
            out.append(ReminderResult(reminder, "already sent"))
            continue
        if reminder.channel is None:
            out.append(ReminderResult(reminder, "failed", reminder.problem))
            continue
        if dry_run:
            out.append(ReminderResult(reminder, "would send"))
            continue
        moment = now or dt.datetime.now(dt.timezone.utc)
        claimed = store.claim_event(
            EventDelivery(key=reminder.key, destination=DESTINATION, kind="reminder",
                          subject=reminder.owner, at=found.at, token=token, claimed_at=moment,
                          run_id=run_id, event=reminder.to_dict()),
            stale_before=moment - _LEASE,
        )
        if not claimed:  # sent meanwhile, or another run is sending it now
            done = any(d.key == reminder.key and d.sent
                       for d in store.event_deliveries(since=found.period_start, sent=True))
            out.append(ReminderResult(reminder, "already sent" if done else "being sent"))
            continue
        entry = plan.notify.get(reminder.channel)
        link = entry.get("link") if isinstance(entry, Mapping) else None
        message = reminder_message(reminder, title=plan.title,
                                   link=link if isinstance(link, str) else None)
        error = _send(plan, reminder, message, manager)
        finished = None if error else (now or dt.datetime.now(dt.timezone.utc))
        store.finish_event(reminder.key, DESTINATION, token, sent_at=finished)
        out.append(ReminderResult(reminder, "failed" if error else "sent", error))
    return out


def failures(found: Reminders, results: Sequence[ReminderResult]) -> list[str]:
    """Every failure in words: the problems :func:`reminders` found, then each failed reminder
    (``owner 'ann': channel 'ann-chat' (slack): HTTP 503 ...``)."""
    out = list(found.problems)
    for r in results:
        if r.ok:
            continue
        if r.reminder.channel is None:  # the problem names the owner
            out.append(str(r.error))
        else:  # the error names the channel
            mail = f" ({r.reminder.email})" if r.reminder.email else ""
            out.append(f"owner {r.reminder.owner!r}{mail}: {r.error}")
    return out
