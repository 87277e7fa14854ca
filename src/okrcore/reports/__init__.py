"""Reports as data: the daily status, the weekly gap analysis and the monthly review.

:func:`report` scores a plan from a store and gathers what each report kind talks about into a
:class:`Report`; every renderer (``text``, ``md``, ``json``, ``html``) and every notifier works
from that one structure. :meth:`Report.to_dict` is the stable JSON form documented in
docs/reports.md (``"schema": "okrcore.report/1"``).

Every report holds every section; the kind decides the period and what the renderers put first:

``daily``
    each key result's light and reason, the change since its previous check-in and its light the
    day before, stale key results, failed sources of the last refresh run.
``weekly``
    the gap analysis: actual vs plan to date per key result, largest gaps first, the trend over
    the last 7 days and the forecast at the deadline; the key results that moved most.
``monthly``
    scores and rollups per objective, goal, owner and level; forecasts; every target and strategy
    change since the first of the month, with its reason and the original vs current target.

Targets are the current ones: the store's target changes (up to ``at``) are applied to the plan
before scoring. Each key result carries its series (actual to date per check-in day) and the
expected pace (plan to date) over its cycle, for charts.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from okrcore.errors import OkrError
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
from okrcore.scoring import KRScore, Light, NodeScore, Scorecard, daily_values, score

if TYPE_CHECKING:
    from okrcore.plugins import PluginManager
    from okrcore.store import Store

__all__ = [
    "KINDS",
    "SCHEMA",
    "FailedSource",
    "KRLine",
    "ObjectiveLine",
    "Point",
    "Report",
    "RunSummary",
    "StrategyChangeLine",
    "TargetChangeLine",
    "render",
    "report",
]

SCHEMA = "okrcore.report/1"
KINDS = ("daily", "weekly", "monthly")
FORMATS = ("text", "md", "json", "html")
PACE_STEP_DAYS = 7  # pace samples: weekly, plus the cycle's first day and the deadline


def _r(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(x, 6)


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return _r(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


@attrs.frozen
class Point:
    """One point of a chart: a day and a value in the key result's unit."""

    date: dt.date
    value: float

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "value": _r(self.value)}


@attrs.frozen
class KRLine:
    """One key result in a report: its score plus what the reports add.

    ``change`` is the actual now minus the actual at the previous check-in day
    (``previous_checkin``); ``previous_status`` the light the day before the report's date;
    ``gap`` the progress minus the expected progress (fractions of the way from baseline to
    target; negative is behind, whatever the direction); ``gap_value`` the actual minus the plan
    to date in the unit; ``trend`` the change of the actual over the last 7 days and
    ``trend_progress`` that of the progress; ``series`` the actual to date on each check-in day
    of the cycle and ``pace`` the plan to date over the cycle; ``original`` the plan's target,
    floor, stretch and baseline before any recorded change.
    """

    score: KRScore
    owner: str | None
    original: Mapping[str, float | None]
    previous_checkin: dt.date | None
    change: float | None
    previous_status: Light | None
    gap: float | None
    gap_value: float | None
    trend: float | None
    trend_progress: float | None
    series: tuple[Point, ...]
    pace: tuple[Point, ...]
    cycle_start: dt.date

    @property
    def id(self) -> str:
        return self.score.id

    def to_dict(self) -> dict[str, Any]:
        out = self.score.to_dict()
        out.update(
            owner=self.owner,
            original={k: _r(v) for k, v in self.original.items()},
            previous_checkin=self.previous_checkin.isoformat() if self.previous_checkin else None,
            change=_r(self.change),
            previous_status=self.previous_status.value if self.previous_status else None,
            gap=_r(self.gap),
            gap_value=_r(self.gap_value),
            trend=_r(self.trend),
            trend_progress=_r(self.trend_progress),
            cycle_start=self.cycle_start.isoformat(),
            series=[p.to_dict() for p in self.series],
            pace=[p.to_dict() for p in self.pace],
        )
        return out


@attrs.frozen
class ObjectiveLine:
    """An objective's rollup and the ids of its key results (plan order)."""

    node: NodeScore
    key_results: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**self.node.to_dict(), "key_results": list(self.key_results)}


@attrs.frozen
class FailedSource:
    """A key result whose source failed in the last refresh run."""

    kr_id: str
    title: str
    connection: str | None
    kind: str | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class RunSummary:
    """The last refresh run (as of the report's date): when, for which day, and its counts."""

    id: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    as_of: dt.date
    counts: Mapping[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "as_of": self.as_of.isoformat(),
            "counts": dict(sorted(self.counts.items())),
        }


@attrs.frozen
class TargetChangeLine:
    """A target change with the plan's original and the current value of that field."""

    change: TargetChange
    title: str
    original: float | None
    current: float | None

    def to_dict(self) -> dict[str, Any]:
        c = self.change
        return {
            "kr_id": c.kr_id,
            "title": self.title,
            "field": c.field,
            "old": _r(c.old),
            "new": _r(c.new),
            "original": _r(self.original),
            "current": _r(self.current),
            "reason": c.reason,
            "changed_at": c.changed_at.isoformat(),
            "author": c.author,
        }


@attrs.frozen
class StrategyChangeLine:
    """A strategy change, with the strategy's title and objective when the plan has it."""

    change: StrategyChange
    title: str
    objective: str | None

    def to_dict(self) -> dict[str, Any]:
        c = self.change
        return {
            "strategy_id": c.strategy_id,
            "title": self.title,
            "objective": self.objective,
            "field": c.field,
            "old": _json_value(c.old),
            "new": _json_value(c.new),
            "reason": c.reason,
            "changed_at": c.changed_at.isoformat(),
            "author": c.author,
        }


@attrs.frozen
class Report:
    """A report as data. Sequences keep plan order except ``gaps`` (largest gap first) and
    ``movers`` (the key results whose progress moved most over the last 7 days, either way)."""

    kind: str
    title: str
    plan_title: str | None
    at: dt.date
    period_start: dt.date
    scorecard: Scorecard
    key_results: tuple[KRLine, ...]
    objectives: tuple[ObjectiveLine, ...]
    goals: tuple[NodeScore, ...]
    rollups: Mapping[str, tuple[NodeScore, ...]]
    gaps: tuple[str, ...]
    movers: tuple[str, ...]
    stale: tuple[str, ...]
    failed_sources: tuple[FailedSource, ...]
    last_run: RunSummary | None
    target_changes: tuple[TargetChangeLine, ...]
    strategy_changes: tuple[StrategyChangeLine, ...]

    def key_result(self, kr_id: str) -> KRLine:
        """The line of one key result."""
        for line in self.key_results:
            if line.id == kr_id:
                return line
        raise KeyError(kr_id)

    @property
    def lights(self) -> dict[str, int]:
        """How many key results have each light (every light present, zeros included)."""
        counts = {light.value: 0 for light in Light}
        for line in self.key_results:
            counts[line.score.status.value] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form (docs/reports.md): plain types, ISO dates, floats rounded."""
        card = self.scorecard
        return {
            "schema": SCHEMA,
            "kind": self.kind,
            "title": self.title,
            "plan": self.plan_title,
            "as_of": self.at.isoformat(),
            "period": {"start": self.period_start.isoformat(), "end": self.at.isoformat()},
            "policy": {"grading": card.grading, "status": card.status_policy},
            "summary": {
                "lights": self.lights,
                "key_results": len(self.key_results),
                "stale": len(self.stale),
                "failed_sources": len(self.failed_sources),
                "target_changes": len(self.target_changes),
                "strategy_changes": len(self.strategy_changes),
            },
            "objectives": [o.to_dict() for o in self.objectives],
            "goals": [g.to_dict() for g in self.goals],
            "rollups": {k: [n.to_dict() for n in v] for k, v in self.rollups.items()},
            "key_results": [k.to_dict() for k in self.key_results],
            "gaps": list(self.gaps),
            "movers": list(self.movers),
            "stale": list(self.stale),
            "failed_sources": [f.to_dict() for f in self.failed_sources],
            "last_run": self.last_run.to_dict() if self.last_run else None,
            "target_changes": [c.to_dict() for c in self.target_changes],
            "strategy_changes": [c.to_dict() for c in self.strategy_changes],
        }


# -- building ------------------------------------------------------------------------------------


def period_start(kind: str, at: dt.date) -> dt.date:
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
    kind: str = "daily",
    at: dt.date | None = None,
    *,
    manager: PluginManager | None = None,
) -> Report:
    """Build a report of ``kind`` (``daily``, ``weekly`` or ``monthly``) as of ``at`` (today).

    Reads check-ins, target and strategy changes and the refresh-run log from ``store``; scores
    with the plan's policies from ``manager`` (default: the process-wide manager).
    """
    at = dt.date.today() if at is None else as_date(at)
    start = period_start(kind, at)
    original = plan
    changes = [c for c in store.target_changes() if c.changed_at.date() <= at]
    current = plan.with_target_changes(changes)
    kr_ids = [kr.id for kr in current.key_results()]
    checkins = store.checkins(kr_ids, until=at) if kr_ids else []

    def card_at(day: dt.date) -> Scorecard:
        return score(current, checkins, day, manager=manager)

    card = card_at(at)
    yesterday = card_at(at - dt.timedelta(days=1))
    week_ago = card_at(at - dt.timedelta(days=7))

    # pace: plan to date sampled over each cycle, from the very scoring the lights use
    pace_days: set[dt.date] = set()
    for kr in current.key_results():
        pace_days.update(_pace_days(current.cycle_of(kr.id).start, current.deadline_of(kr.id)))
    pace_cards = {d: card_at(d) for d in sorted(pace_days)}

    by_kr: dict[str, list[CheckIn]] = {k: [] for k in kr_ids}
    for ci in checkins:
        by_kr[ci.kr_id].append(ci)

    lines: list[KRLine] = []
    for kr in current.key_results():
        s = card.key_results[kr.id]
        cycle = current.cycle_of(kr.id)
        deadline = current.deadline_of(kr.id)
        series = actual_series(kr, by_kr[kr.id], cycle.start, min(at, deadline))
        prev = series[-2] if len(series) >= 2 else None
        then = week_ago.key_results[kr.id]
        pace = tuple(
            Point(d, pt)
            for d in _pace_days(cycle.start, deadline)
            if (pt := pace_cards[d].key_results[kr.id].plan_to_date) is not None
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
    return Report(
        kind=kind,
        title=_title(kind, plan, at),
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
    )


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _title(kind: str, plan: Plan, at: dt.date) -> str:
    what = {
        "daily": "Daily OKR status",
        "weekly": "Weekly gap analysis",
        "monthly": "Monthly OKR review",
    }
    name = f": {plan.title}" if plan.title else ""
    return f"{what[kind]}{name} ({at.isoformat()})"


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


def render(rep: Report, fmt: str, *, color: bool = False, width: int | None = None) -> str:
    """Render a report as ``text``, ``md``, ``json`` or ``html`` (html needs the ``html`` extra)."""
    if fmt == "json":
        import json

        return json.dumps(rep.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if fmt == "md":
        from .markdown import render_markdown

        return render_markdown(rep)
    if fmt == "text":
        from .text import render_text

        return render_text(rep, color=color, width=width)
    if fmt == "html":
        from .html import render_html

        return render_html(rep)
    raise OkrError(f"unknown report format {fmt!r} (expected one of: {', '.join(FORMATS)})")
