"""Building a report: score the plan from a store and gather what each report kind talks about.

Targets are the current ones: the store's target changes (up to the report's date) are applied
to the plan before scoring. Each key result carries its series (actual to date per check-in day)
and the expected pace (plan to date) over its cycle, for charts.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import attrs

from okrcore.changes import changes_until, plan_in_force
from okrcore.errors import OkrError, ValidationError
from okrcore.model import (
    CheckIn,
    KeyResult,
    Measure,
    Plan,
    RunRecord,
    StrategyChange,
    TargetChange,
    as_date,
)
from okrcore.progress import plan_to_date
from okrcore.scoring import daily_values, score, sum_readings

from .data import (
    KINDS,
    FailedSource,
    InitiativeLine,
    KRLine,
    ObjectiveLine,
    Point,
    Report,
    ReportKind,
    RunSummary,
    StrategyChangeLine,
    TargetChangeLine,
)

if TYPE_CHECKING:
    from okrcore.plugins import PluginManager
    from okrcore.store import Store

__all__ = ["actual_series", "period_start", "report"]

PACE_STEP_DAYS = 7  # pace samples: weekly, plus the cycle's first day and the deadline


def period_start(kind: ReportKind, at: dt.date) -> dt.date:
    """First day a report of ``kind`` covers: yesterday, 6 days back, or the 1st of the month."""
    if kind == "daily":
        return at - dt.timedelta(days=1)
    if kind == "weekly":
        return at - dt.timedelta(days=6)
    if kind == "monthly":
        return at.replace(day=1)
    raise OkrError(f"unknown report kind {kind!r} (expected one of: {', '.join(KINDS)})")


def actual_series(
    kr: KeyResult, checkins: Iterable[CheckIn], start: dt.date, end: dt.date
) -> tuple[Point, ...]:
    """The actual to date on each check-in day in [start, end]: the level for a gauge, the
    running total for a cumulative key result."""
    daily = {d: v for d, v in daily_values(checkins, end).items() if d >= start}
    points: list[Point] = []
    total = 0.0
    for day in sorted(daily):
        if kr.measure is Measure.CUMULATIVE:
            total += daily[day]
            points.append(Point(day, total))
        else:
            points.append(Point(day, daily[day]))
    return tuple(points)


def _pace_days(start: dt.date, deadline: dt.date) -> list[dt.date]:
    days = [start + dt.timedelta(days=i) for i in range(0, (deadline - start).days, PACE_STEP_DAYS)]
    return [*days, deadline] if deadline >= start else [start]


def report(
    plan: Plan,
    store: Store,
    kind: ReportKind = "daily",
    *,
    at: dt.date | None = None,
    manager: PluginManager | None = None,
    owner: str | None = None,
) -> Report:
    """Build a report of ``kind`` (``daily``, ``weekly`` or ``monthly``) as of ``at`` (today).

    Reads check-ins, target and strategy changes and the refresh-run log from ``store``; scores
    with the plan's policies from ``manager`` (default: the process-wide manager). With
    ``owner``, the report keeps only what that owner answers for (:meth:`Plan.answers_for
    <okrcore.model.Plan.answers_for>`); every number is still the one of the whole plan (an
    objective's score counts all its key results). An owner the plan does not know raises
    :class:`~okrcore.errors.ValidationError`.
    """
    if owner is not None:
        check_owner(plan, owner)
    at = dt.date.today() if at is None else as_date(at)
    start = period_start(kind, at)
    original = plan
    current = plan_in_force(plan, store, at=at)
    changes = changes_until(store.target_changes(), at)
    kr_ids = [kr.id for kr in current.key_results()]
    ids = kr_ids + [k.id for k in current.kpis]  # KPIs are scored beside the key results
    checkins = store.checkins(ids, until=at) if ids else []

    # each date the report needs is scored once; the pace needs no check-ins (plan to date)
    card, yesterday, week_ago = (
        score(current, checkins, at=day, manager=manager)
        for day in (at, at - dt.timedelta(days=1), at - dt.timedelta(days=7))
    )

    by_kr: dict[str, list[CheckIn]] = {k: [] for k in ids}
    for ci in checkins:
        by_kr[ci.kr_id].append(ci)
    if current.sums():  # a sum's series is its parts' added up, as scoring sees it
        for kr_id in current.sums():
            by_kr[kr_id] = []
        for ci in sum_readings(current, checkins, at=at):
            by_kr[ci.kr_id].append(ci)

    lines: list[KRLine] = []
    for kr in current.key_results():
        s = card.key_results[kr.id]
        cycle = current.cycle_of(kr.id)
        deadline = current.deadline_of(kr.id)
        series = actual_series(kr, by_kr[kr.id], cycle.start, min(at, deadline))
        if kr.progress_from is not None:  # the share of its initiatives done, as of `at`
            series = () if s.actual is None else (Point(at, s.actual),)
        prev = series[-2] if len(series) >= 2 else None
        then = week_ago.key_results[kr.id]
        pace = tuple(
            Point(d, plan_to_date(kr, cycle.start, deadline, d))
            for d in _pace_days(cycle.start, deadline)
        )
        old = original.key_result(kr.id)
        lines.append(
            KRLine(
                score=s,
                owner=kr.owner or current.objective_of(kr.id).owner,
                original={
                    "target": old.effective_target,
                    "floor": old.floor,
                    "stretch": old.stretch,
                    "baseline": old.effective_baseline,
                },
                previous_checkin=prev.date if prev else None,
                change=series[-1].value - prev.value if prev else None,
                previous_status=yesterday.key_results[kr.id].status,
                gap=_minus(s.progress, s.expected if s.progress is not None else None),
                gap_value=_minus(s.actual, s.plan_to_date),
                trend=_minus(s.actual, then.actual),
                trend_progress=_minus(s.progress, then.progress),
                series=series,
                pace=pace,
                cycle_start=cycle.start,
            )
        )

    gaps = tuple(
        line.id
        for line in sorted(
            (ln for ln in lines if ln.gap is not None), key=lambda ln: (ln.gap or 0.0, ln.id)
        )
    )
    moved = [ln for ln in lines if ln.trend_progress]  # not None and not 0
    movers = tuple(
        ln.id for ln in sorted(moved, key=lambda ln: (-abs(ln.trend_progress or 0.0), ln.id))
    )
    objectives = tuple(
        ObjectiveLine(card.objectives[o.id], tuple(kr.id for kr in o.key_results))
        for o in current.objectives
    )
    rep = Report(
        kind=kind,
        title=_title(kind, plan, at, plan.owner_label(owner)),
        plan_title=plan.title,
        at=at,
        period_start=start,
        scorecard=card,
        key_results=tuple(lines),
        objectives=objectives,
        goals=tuple(card.goals.values()),
        rollups={
            "owner": tuple(card.by_owner.values()),
            "level": tuple(card.by_level.values()),
            "cycle": tuple(card.by_cycle.values()),
        },
        gaps=gaps,
        movers=movers,
        stale=tuple(line.id for line in lines if line.score.stale),
        failed_sources=_failed(current, store, at),
        last_run=_last_run(store, at),
        target_changes=_target_changes(original, current, changes, start, at),
        strategy_changes=_strategy_changes(current, store.strategy_changes(), start, at),
        owners=plan.owners,
        initiatives=_initiatives(current, at, _status_since(current, store, at)),
        kpis=tuple(card.kpis.values()),
    )
    return rep if owner is None else _for_owner(rep, current, owner)


def _status_since(plan: Plan, store: Store, at: dt.date) -> dict[str, dt.date]:
    """Initiative id -> the day its current status was recorded as a change (up to ``at``)."""
    read = getattr(store, "initiative_changes", None)
    if read is None or not any(True for _ in plan.initiatives()):  # a store from a plugin
        return {}
    status = {ini.id: ini.status for ini in plan.initiatives()}
    since: dict[str, dt.date] = {}
    for change in read():  # oldest first: the last change to the current status wins
        if change.at > at or change.initiative_id not in status:
            continue
        if change.status is not status[change.initiative_id]:
            since.pop(change.initiative_id, None)
        elif change.was is not None:
            since[change.initiative_id] = change.at
    return since


def _initiatives(plan: Plan, at: dt.date, since: dict[str, dt.date] | None = None
                 ) -> tuple[InitiativeLine, ...]:
    since = since or {}
    out = []
    for ini in plan.initiatives():
        strategy = plan.strategy_of(ini.id)
        out.append(
            InitiativeLine(
                initiative=ini,
                strategy=strategy.id,
                strategy_title=strategy.title,
                objective=plan.initiative_objective(ini.id).id,
                owner=plan.initiative_owner(ini.id),
                days_overdue=(at - ini.due).days if ini.due and ini.overdue(at) else None,
                status_since=since.get(ini.id),
            )
        )
    return tuple(out)


def check_owner(plan: Plan, owner: str) -> None:
    """Raise :class:`~okrcore.errors.ValidationError` unless the plan knows ``owner`` (an id of
    its owners section or a name some ``owner:`` field gives), naming the owners it knows."""
    known = plan.known_owners()
    if owner not in known:
        close = difflib.get_close_matches(owner, known, n=1) if len(owner) < 100 else []
        hint = f"did you mean {close[0]!r}? " if close else ""
        names = ", ".join(known) or "none: no owner field is set"
        raise ValidationError(f"unknown owner {owner!r}; {hint}owners in the plan: {names}")


def _for_owner(rep: Report, plan: Plan, owner: str) -> Report:
    """``rep`` keeping only what ``owner`` answers for; the numbers stay those of the plan."""
    objective_ids, kr_ids = plan.answers_for(owner)
    objectives, krs = set(objective_ids), set(kr_ids)
    strategies = {
        st.id for o in plan.objectives for st in o.strategies if owner in (st.owner, o.owner)
    }
    return attrs.evolve(
        rep,
        key_results=tuple(ln for ln in rep.key_results if ln.id in krs),
        objectives=tuple(
            attrs.evolve(o, key_results=tuple(k for k in o.key_results if k in krs))
            for o in rep.objectives
            if o.node.id in objectives
        ),
        goals=tuple(g for g in rep.goals if plan.goal(g.id).owner == owner),
        rollups={  # the level and cycle rollups are the whole plan's: left out
            key: tuple(n for n in nodes if key == "owner" and n.id == owner)
            for key, nodes in rep.rollups.items()
        },
        gaps=tuple(k for k in rep.gaps if k in krs),
        movers=tuple(k for k in rep.movers if k in krs),
        stale=tuple(k for k in rep.stale if k in krs),
        failed_sources=tuple(f for f in rep.failed_sources if f.kr_id in krs),
        target_changes=tuple(c for c in rep.target_changes if c.change.kr_id in krs),
        strategy_changes=tuple(
            c for c in rep.strategy_changes if c.change.strategy_id in strategies
        ),
        initiatives=tuple(
            i
            for i in rep.initiatives
            if owner in (i.owner, plan.objective(i.objective).owner)
        ),
        kpis=tuple(k for k in rep.kpis if k.owner == owner),
        owner=owner,
    )


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _title(kind: ReportKind, plan: Plan, at: dt.date, owner: str | None = None) -> str:
    what = {
        "daily": "Daily OKR status",
        "weekly": "Weekly gap analysis",
        "monthly": "Monthly OKR review",
    }
    name = f": {plan.title}" if plan.title else ""
    whose = f", owner {owner}" if owner else ""
    return f"{what[kind]}{name}{whose} ({at.isoformat()})"


def _run(store: Store, at: dt.date) -> RunRecord | None:
    for run in store.runs(limit=50):  # newest first
        if run.as_of <= at:
            return run
    return None


def _last_run(store: Store, at: dt.date) -> RunSummary | None:
    run = _run(store, at)
    if run is None:
        return None
    counts: dict[str, int] = {}
    for outcome in run.outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return RunSummary(run.id, run.started_at, run.finished_at, run.as_of, counts)


def _failed(plan: Plan, store: Store, at: dt.date) -> tuple[FailedSource, ...]:
    run = _run(store, at)
    if run is None:
        return ()
    return tuple(
        FailedSource(
            kr_id=o.kr_id,
            title=plan.key_result(o.kr_id).title if plan.has_key_result(o.kr_id) else o.kr_id,
            connection=o.connection,
            kind=o.kind,
            error=o.error,
        )
        for o in run.outcomes
        if o.status == "failed"
    )


def _target_changes(
    original: Plan,
    current: Plan,
    changes: Sequence[TargetChange],
    start: dt.date,
    at: dt.date,
) -> tuple[TargetChangeLine, ...]:
    out = []
    for c in changes:
        if not start <= c.changed_at.date() <= at or not current.has_key_result(c.kr_id):
            continue
        before, now = original.key_result(c.kr_id), current.key_result(c.kr_id)
        out.append(TargetChangeLine(c, now.title, getattr(before, c.field), getattr(now, c.field)))
    return tuple(out)


def _strategy_changes(
    plan: Plan, changes: Iterable[StrategyChange], start: dt.date, at: dt.date
) -> tuple[StrategyChangeLine, ...]:
    where: dict[str, tuple[str, str]] = {}
    for o in plan.objectives:
        for st in o.strategies:
            where[st.id] = (st.title, o.id)
    out = []
    for c in changes:
        if start <= c.changed_at.date() <= at:
            title, objective = where.get(c.strategy_id, (c.strategy_id, None))
            out.append(StrategyChangeLine(c, title, objective))
    return tuple(out)
