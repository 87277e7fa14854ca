"""KPIs: health metrics beside the OKRs, judged against the target of the current period
(docs/kpis.md). A KPI never completes: each period starts afresh."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from ._numbers import num
from .model import CheckIn, Kpi, Measure, Plan
from .policies import Light
from .scorecard import KpiScore

__all__ = ["kpi_value", "score_kpi", "score_kpis"]


def _daily(history: Iterable[CheckIn], start: dt.date, end: dt.date) -> dict[dt.date, float]:
    """One value per day in [start, end]; a later-recorded check-in for a day corrects one."""
    value: dict[dt.date, float] = {}
    recorded: dict[dt.date, dt.datetime] = {}
    for ci in history:
        if start <= ci.as_of <= end:
            when = recorded.get(ci.as_of)
            if when is None or ci.recorded_at >= when:
                value[ci.as_of], recorded[ci.as_of] = ci.value, ci.recorded_at
    return {d: value[d] for d in sorted(value)}


def kpi_value(kpi: Kpi, history: Iterable[CheckIn], start: dt.date, end: dt.date) -> float | None:
    """The KPI's value over [start, end]: the sum of the days' readings (cumulative) or the
    latest reading (gauge); ``None`` without a reading in the range."""
    daily = _daily(history, start, end)
    if not daily:
        return None
    if kpi.measure is Measure.CUMULATIVE:
        return sum(daily.values())
    return daily[next(reversed(daily))]


def _light(kpi: Kpi, actual: float, bar: float) -> Light:
    band = kpi.tolerance * abs(bar)
    gap = actual - bar if kpi.direction == "above" else bar - actual  # >= 0: healthy
    if gap >= 0:
        return Light.GREEN
    return Light.YELLOW if -gap <= band else Light.RED


def score_kpi(kpi: Kpi, checkins: Sequence[CheckIn], *, at: dt.date) -> KpiScore:
    """The KPI as of ``at``, against the target of the period holding ``at``, from its
    check-ins (those of other ids are not told apart: pass the KPI's own)."""
    history = checkins
    key, start, end = kpi.period.bounds(at)
    target = kpi.target_for(key)
    cumulative = kpi.measure is Measure.CUMULATIVE
    elapsed = (at - start).days + 1
    days = (end - start).days + 1
    expected = target * elapsed / days if cumulative else target
    actual = kpi_value(kpi, history, start, at)
    prev_key, prev_start, prev_end = kpi.period.bounds(start - dt.timedelta(days=1))
    previous = kpi_value(kpi, history, prev_start, prev_end)
    last = max((ci.as_of for ci in history if ci.as_of <= at), default=None)
    unit = kpi.unit
    relation = ">=" if kpi.direction == "above" else "<="
    if actual is None:
        light, reason = Light.GREY, f"no reading in {key} yet"
    else:
        light = _light(kpi, actual, expected)
        bar = (
            f"{num(expected, unit)} ({num(target)} for {key}, pro-rated to day {elapsed} of "
            f"{days})"
            if cumulative
            else f"{num(target, unit)} for {key}"
        )
        if light is Light.GREEN:
            reason = f"{num(actual, unit)} {relation} {bar}"
        else:
            missed = "<" if kpi.direction == "above" else ">"
            within = "within" if light is Light.YELLOW else "beyond"
            reason = (
                f"{num(actual, unit)} {missed} {bar}, {within} the {kpi.tolerance:.0%} tolerance"
            )
    return KpiScore(
        id=kpi.id,
        title=kpi.title,
        unit=unit,
        direction=kpi.direction,
        measure=kpi.measure,
        period=key,
        period_start=start,
        period_end=end,
        target=target,
        expected=expected,
        actual=actual,
        status=light,
        reason=reason,
        last_checkin=last,
        previous=previous,
        previous_target=kpi.target_for(prev_key),
        owner=kpi.owner,
    )


def score_kpis(
    plan: Plan, histories: Mapping[str, Sequence[CheckIn]], *, at: dt.date
) -> dict[str, KpiScore]:
    """Every KPI of the plan as of ``at``, in plan order, from its check-ins by id."""
    return {k.id: score_kpi(k, histories.get(k.id, ()), at=at) for k in plan.kpis}
