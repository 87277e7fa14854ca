"""Scoring: progress, grades, pace, forecast, staleness and traffic lights (design brief §3-5).

:func:`score` turns a plan and its check-ins into a :class:`Scorecard` as of a date. The math is
in small pure functions (:func:`progress`, :func:`expected_progress`, :func:`least_squares`...);
the two judgement calls, how progress becomes a grade and how completion becomes a light, are
*policies* that a plugin can replace (:class:`GradingPolicy`, :class:`StatusPolicy`). The default
ones are registered by ``okrcore.default_plugins.policies`` through the
``okrcore_register_policies`` hook, like any third-party policy.

Numbers are floats (see :mod:`okrcore.model`). Bounds of ``maintain_*`` key results are
inclusive: a value equal to the bound holds. docs/scoring.md has the formulas with worked examples.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import attrs

from .errors import PlanError, Problem, ValidationError
from .model import Cadence, CheckIn, Cycle, KeyResult, Kind, Measure, Plan, as_date
from .rollup import Rollup, RollupTree, weighted_mean

if TYPE_CHECKING:
    from .plugins import PluginManager

__all__ = [
    "DefaultGrading",
    "DefaultStatus",
    "GradingPolicy",
    "KRScore",
    "Light",
    "LinearGrading",
    "LiveScore",
    "NodeScore",
    "Scorecard",
    "StatusFacts",
    "StatusPolicy",
    "daily_values",
    "expected_progress",
    "grade_columns",
    "least_squares",
    "progress",
    "score",
]

_MAINTAIN = (Kind.MAINTAIN_ABOVE, Kind.MAINTAIN_BELOW)
DEFAULT_CADENCE = Cadence.WEEKLY
DEFAULT_STALE_FACTOR = 1.5


class Light(str, enum.Enum):
    """A traffic light. ``grey`` means there is no data to judge yet."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    GREY = "grey"


# -- pure math -------------------------------------------------------------------------------


def progress(kr: KeyResult, actual: float) -> float:
    """The raw fraction of the way from baseline to target, unclamped.

    ``increase``, ``decrease``, ``count`` and ``milestone``: ``(actual - baseline) / (target -
    baseline)`` (a milestone runs from 0 to 1, so a fraction complete is its own progress).
    ``maintain_above`` / ``maintain_below``: 1.0 while the bound (the target) holds, bounds
    inclusive; with a tolerance the progress falls linearly to 0 at bound -/+ tolerance; without
    one it is 0 as soon as the bound is broken.
    """
    target = kr.effective_target
    if target is None:
        raise ValidationError(f"key result {kr.id!r} has no target")
    if kr.kind in _MAINTAIN:
        miss = target - actual if kr.kind is Kind.MAINTAIN_ABOVE else actual - target
        if miss <= 0:
            return 1.0
        tolerance = kr.tolerance or 0.0
        return 1.0 - miss / tolerance if miss < tolerance else 0.0
    base = kr.effective_baseline
    if base is None:
        raise ValidationError(f"key result {kr.id!r} has no baseline")
    return (actual - base) / (target - base)


def _clamp(x: float, low: float = 0.0, high: float = 1.0) -> float:
    return low if x < low else high if x > high else x


def _stretch_progress(kr: KeyResult) -> float | None:
    """The progress at which a key result reaches its stretch (> 1), if it has one that counts."""
    if kr.stretch is None or kr.kind in _MAINTAIN:
        return None
    return progress(kr, kr.stretch)


def _piecewise(p: float, at_stretch: float | None, target_score: float) -> float:
    if at_stretch is None:
        return _clamp(p)
    if p <= 0:
        return 0.0
    if p <= 1:
        return target_score * p
    if at_stretch <= 1 or p >= at_stretch:
        return 1.0
    return target_score + (1.0 - target_score) * (p - 1.0) / (at_stretch - 1.0)


def expected_progress(kr: KeyResult, cycle: Cycle, deadline: dt.date, at: dt.date) -> float:
    """Pace: the elapsed fraction of the cycle at ``at``, capped to the key result's deadline.

    Days elapsed count ``at`` itself: on the first day of a 90-day cycle 1/90 is expected, on its
    last day 1. For ``maintain_*`` key results the bound must hold all along, so 1.0 is expected
    from the first day on.
    """
    span = max((deadline - cycle.start).days + 1, 1)
    elapsed = min(max((at - cycle.start).days + 1, 0), span)
    if kr.kind in _MAINTAIN:
        return 1.0 if elapsed > 0 else 0.0
    return elapsed / span


def least_squares(points: Sequence[tuple[float, float]], x: float) -> float | None:
    """The ordinary least-squares line through ``points``, evaluated at ``x``.

    ``None`` for fewer than two distinct x values.
    """
    n = len(points)
    if n < 2:
        return None
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    if sxx == 0:
        return None
    sxy = sum((p[0] - mx) * (p[1] - my) for p in points)
    return my + sxy / sxx * (x - mx)


def grade_columns(
    baseline: Sequence[float],
    target: Sequence[float],
    stretch: Sequence[float | None],
    actual: Sequence[float | None],
    *,
    target_score: float = 0.7,
) -> tuple[list[float | None], list[float | None]]:
    """Progress and default grade for many ``increase``/``decrease``/``count`` key results at once.

    Column form of :func:`progress` and :class:`DefaultGrading` for large generated or exported
    organisations where building a :class:`~okrcore.model.KeyResult` per row would dominate the
    time. Returns ``(progress, score)`` lists; ``None`` where the actual is ``None``.
    """
    progresses: list[float | None] = []
    scores: list[float | None] = []
    add_p = progresses.append
    add_s = scores.append
    rest = 1.0 - target_score
    for b, t, s, a in zip(baseline, target, stretch, actual, strict=True):
        if a is None:
            add_p(None)
            add_s(None)
            continue
        p = (a - b) / (t - b)
        add_p(p)
        if p <= 0:
            add_s(0.0)
        elif s is None:
            add_s(p if p < 1 else 1.0)
        elif p <= 1:
            add_s(target_score * p)
        else:
            ps = (s - b) / (t - b)
            add_s(1.0 if ps <= 1 or p >= ps else target_score + rest * (p - 1.0) / (ps - 1.0))
    return progresses, scores


# -- policies --------------------------------------------------------------------------------


@runtime_checkable
class GradingPolicy(Protocol):
    """Turns a key result's progress into its 0-1 grade.

    Register one with ``register(policy)`` from an ``okrcore_register_policies`` hook; a plan
    selects it with ``policy: {grading: NAME}``. Optionally a policy has
    ``configure(settings: Mapping[str, Any]) -> GradingPolicy`` returning a copy configured from
    the plan's ``policy`` section; it should raise :class:`~okrcore.PlanError` for bad values.
    """

    @property
    def role(self) -> str:
        """Always ``"grading"``."""
        ...

    @property
    def name(self) -> str:
        """The name a plan selects it by."""
        ...

    def grade(self, kr: KeyResult, progress: float, actual: float) -> float:
        """The grade, between 0.0 and 1.0, of ``actual`` (whose progress is ``progress``)."""
        ...


@attrs.frozen
class StatusFacts:
    """Everything a status policy may look at for one key result as of a date.

    ``completion`` is the cumulative completion C; ``periods`` are the period completions p of
    every cadence period in the cycle up to the date, oldest first (``None`` where the period
    had no check-in); ``period_days`` is one period's length.
    """

    kr: KeyResult
    at: dt.date
    actual: float | None
    progress: float | None
    expected: float
    plan_to_date: float | None
    completion: float | None
    periods: tuple[float | None, ...]
    period_days: int
    checkins: int
    cycle_start: dt.date


@runtime_checkable
class StatusPolicy(Protocol):
    """Turns completion into a traffic light with its reason in words.

    ``status`` judges one key result that has data (okrcore itself answers grey, with a reason,
    when there is none); ``rollup`` judges an objective, goal or group from its weighted
    completion (each key result's C capped to [0, 1] before averaging) and its children's lights.
    Optionally ``configure(settings) -> StatusPolicy`` as for :class:`GradingPolicy`.
    """

    @property
    def role(self) -> str:
        """Always ``"status"``."""
        ...

    @property
    def name(self) -> str:
        """The name a plan selects it by."""
        ...

    def status(
        self,
        kr: KeyResult,
        completion: float | None,
        periods: Sequence[float | None],
        facts: StatusFacts,
    ) -> tuple[Light, str]:
        """The light of one key result and why."""
        ...

    def rollup(self, completion: float | None, lights: Mapping[Light, int]) -> tuple[Light, str]:
        """The light of a node from its rolled-up completion and its children's lights."""
        ...


def _setting(settings: Mapping[str, Any], key: str, default: float, low: float) -> float:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PlanError([Problem(f"policy.{key}", f"expected a number, got {value!r}")])
    if value < low:
        raise PlanError([Problem(f"policy.{key}", f"expected a number >= {low:g}, got {value!r}")])
    return float(value)


@attrs.frozen
class DefaultGrading:
    """``clamp(progress, 0, 1)``; with a stretch, piecewise linear baseline -> 0, target ->
    ``target_score`` (0.7), stretch -> 1.0. The floor does not bend the grade.

    Setting: ``target_score``.
    """

    role: ClassVar[str] = "grading"
    name: str = "default"
    target_score: float = 0.7

    def grade(self, kr: KeyResult, progress: float, actual: float) -> float:
        """The grade of ``progress``."""
        return _piecewise(progress, _stretch_progress(kr), self.target_score)

    def configure(self, settings: Mapping[str, Any]) -> DefaultGrading:
        """A copy with ``target_score`` from the plan's policy section."""
        value = _setting(settings, "target_score", self.target_score, 0.0)
        if value > 1:
            raise PlanError([Problem("policy.target_score", f"expected <= 1, got {value:g}")])
        return attrs.evolve(self, target_score=value)


@attrs.frozen
class LinearGrading:
    """``clamp(progress, 0, 1)`` for every key result, stretch or not (registered as ``linear``)."""

    role: ClassVar[str] = "grading"
    name: str = "linear"

    def grade(self, kr: KeyResult, progress: float, actual: float) -> float:
        """The clamped progress."""
        return _clamp(progress)


def _num(x: float) -> str:
    if math.isinf(x):
        return "inf"
    if abs(x - round(x)) < 1e-9 and abs(x) < 1e15:
        return f"{round(x):,}"
    if abs(x) >= 100:
        return f"{x:,.1f}"
    return f"{x:.4g}"


def _period_word(days: int) -> tuple[str, str]:
    """(noun, adjective) for a period of ``days`` days."""
    return {1: ("day", "daily"), 7: ("week", "weekly"), 30: ("month", "monthly")}.get(
        days, (f"{days}-day period", f"{days}-day")
    )


def _detail(facts: StatusFacts) -> str:
    kr = facts.kr
    unit = f" {kr.unit}" if kr.unit else ""
    if facts.actual is None:
        return "no check-in yet"
    if kr.measure is Measure.CUMULATIVE and facts.plan_to_date is not None:
        verb = "allowed" if kr.lower_is_better else "planned"
        return f"{_num(facts.actual)} of {_num(facts.plan_to_date)} {verb}{unit} to date"
    sep = "" if kr.unit == "%" else " "
    actual = f"{_num(facts.actual)}{sep}{kr.unit}".rstrip()
    if kr.kind in _MAINTAIN:
        op = ">=" if kr.kind is Kind.MAINTAIN_ABOVE else "<="
        bound = f"{_num(kr.effective_target or 0.0)}{sep}{kr.unit}".rstrip()
        holds = "holds" if (facts.progress or 0.0) >= 1 else "broken"
        return f"{actual} against {op} {bound} ({holds})"
    return (
        f"progress {facts.progress or 0.0:.2f} against {facts.expected:.2f} expected by now "
        f"(actual {actual})"
    )


@attrs.frozen
class DefaultStatus:
    """The brief's traffic light.

    Red when C < ``red_below`` (0.7), or when p < ``red_below`` in each of the last
    ``red_periods`` (3) periods; otherwise green when C >= ``green_at`` (1.0); otherwise yellow.
    ``red_periods: 0`` switches the period rule off. A node (objective, goal, group) is judged on
    its rolled-up completion with the same thresholds.
    """

    role: ClassVar[str] = "status"
    name: str = "default"
    red_below: float = 0.7
    green_at: float = 1.0
    red_periods: int = 3

    def configure(self, settings: Mapping[str, Any]) -> DefaultStatus:
        """A copy with ``red_below``, ``green_at`` and ``red_periods`` from the plan."""
        red = _setting(settings, "red_below", self.red_below, 0.0)
        green = _setting(settings, "green_at", self.green_at, 0.0)
        periods = _setting(settings, "red_periods", self.red_periods, 0.0)
        if red > green:
            message = f"red_below ({red:g}) must not be above green_at ({green:g})"
            raise PlanError([Problem("policy.red_below", message)])
        if periods != int(periods):
            raise PlanError([Problem("policy.red_periods", f"expected a whole number: {periods}")])
        return attrs.evolve(self, red_below=red, green_at=green, red_periods=int(periods))

    def status(
        self,
        kr: KeyResult,
        completion: float | None,
        periods: Sequence[float | None],
        facts: StatusFacts,
    ) -> tuple[Light, str]:
        """Red / yellow / green with the reason in words."""
        detail = _detail(facts)
        if completion is None:
            return Light.GREY, f"nothing to compare yet: {detail}"
        red, green, n = self.red_below, self.green_at, self.red_periods
        c = _num(completion) if math.isinf(completion) else f"{completion:.2f}"
        if completion < red:
            return Light.RED, f"C = {c} < {red:.2f}: {detail}"
        last = list(periods[-n:]) if n else []
        if n and len(last) == n and all(p is not None and p < red for p in last):
            noun, adjective = _period_word(facts.period_days)
            plural = noun if n == 1 else f"{noun}s"
            what = "plan" if kr.measure is Measure.CUMULATIVE else "pace"
            shown = ", ".join(f"{p:.2f}" for p in last if p is not None)
            return Light.RED, (
                f"below {red:.0%} of the {adjective} {what} for {n} {plural} in a row "
                f"(p = {shown}) although C = {c}: {detail}"
            )
        if completion >= green:
            return Light.GREEN, f"C = {c} >= {green:.2f}: {detail}"
        return Light.YELLOW, f"C = {c}, between {red:.2f} and {green:.2f}: {detail}"

    def rollup(self, completion: float | None, lights: Mapping[Light, int]) -> tuple[Light, str]:
        """A node's light from its weighted completion (each child capped at 1.0)."""
        counts = ", ".join(f"{lights[light]} {light.value}" for light in Light if lights.get(light))
        counts = f" ({counts})" if counts else ""
        if completion is None:
            return Light.GREY, f"no key result with data yet{counts}"
        c = f"{completion:.2f}"
        if completion < self.red_below:
            return Light.RED, f"weighted C = {c} < {self.red_below:.2f}{counts}"
        if completion >= self.green_at:
            return Light.GREEN, f"weighted C = {c} >= {self.green_at:.2f}{counts}"
        return (
            Light.YELLOW,
            f"weighted C = {c}, between {self.red_below:.2f} and {self.green_at:.2f}{counts}",
        )


# -- results ---------------------------------------------------------------------------------


def _r(x: float | None) -> float | None:
    """A float for JSON: rounded to 6 decimals; ``None`` for missing or infinite values."""
    if x is None or not math.isfinite(x):
        return None
    return round(x, 6)


@attrs.frozen
class KRScore:
    """One key result's numbers as of a date.

    ``progress`` is unclamped; ``score`` the graded 0-1 value; ``expected`` the pace (expected
    progress by now); ``plan_to_date`` the actual expected by now; ``completion`` the C of the
    traffic light and ``periods`` the period completions p, oldest first; ``forecast`` the
    projected actual at the deadline and ``forecast_score`` its grade; ``success_bar`` is 0.7 for
    an aspirational key result and 1.0 for a committed one. Values are ``None`` without data.
    """

    id: str
    title: str
    objective: str
    unit: str
    kind: Kind
    measure: Measure
    weight: float
    baseline: float | None
    target: float | None
    floor: float | None
    stretch: float | None
    deadline: dt.date
    actual: float | None
    progress: float | None
    score: float | None
    expected: float
    expected_score: float | None
    plan_to_date: float | None
    completion: float | None
    periods: tuple[float | None, ...]
    status: Light
    reason: str
    forecast: float | None
    forecast_score: float | None
    stale: bool
    below_floor: bool
    aspirational: bool
    success_bar: float
    last_checkin: dt.date | None
    checkins: int

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON-ready form (see docs/cli.md)."""
        return {
            "id": self.id,
            "title": self.title,
            "objective": self.objective,
            "unit": self.unit,
            "kind": self.kind.value,
            "measure": self.measure.value,
            "weight": self.weight,
            "baseline": self.baseline,
            "target": self.target,
            "floor": self.floor,
            "stretch": self.stretch,
            "deadline": self.deadline.isoformat(),
            "actual": _r(self.actual),
            "progress": _r(self.progress),
            "score": _r(self.score),
            "expected": _r(self.expected),
            "expected_score": _r(self.expected_score),
            "plan_to_date": _r(self.plan_to_date),
            "completion": _r(self.completion),
            "recent_periods": [_r(p) for p in self.periods[-3:]],
            "status": self.status.value,
            "reason": self.reason,
            "forecast": _r(self.forecast),
            "forecast_score": _r(self.forecast_score),
            "stale": self.stale,
            "below_floor": self.below_floor,
            "aspirational": self.aspirational,
            "success_bar": self.success_bar,
            "last_checkin": self.last_checkin.isoformat() if self.last_checkin else None,
            "checkins": self.checkins,
        }


@attrs.frozen
class NodeScore:
    """The rollup of an objective, a goal or a group (owner, level, cycle).

    ``score`` and ``expected`` are weighted means (``None`` when nothing below has data);
    ``completion`` is the weighted mean of the key results' C, each capped to [0, 1].
    """

    id: str
    kind: str  # "objective", "goal", "owner", "level" or "cycle"
    title: str
    score: float | None
    expected: float | None
    completion: float | None
    status: Light
    reason: str
    owner: str | None = None
    level: str | None = None
    cycle: str | None = None
    parent: str | None = None
    goal: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON-ready form."""
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "score": _r(self.score),
            "expected": _r(self.expected),
            "completion": _r(self.completion),
            "status": self.status.value,
            "reason": self.reason,
        }
        if self.kind == "objective":
            out.update(
                owner=self.owner,
                level=self.level,
                cycle=self.cycle,
                parent=self.parent,
                goal=self.goal,
            )
        return out


@attrs.frozen
class Scorecard:
    """A plan scored as of a date: key results, objectives, goals and group rollups.

    Mappings keep plan order. ``by_owner`` groups objectives by owner, ``by_level`` by level (both
    over every objective in the group), ``by_cycle`` the top-level objectives (no parent) of each
    cycle; each is the weighted mean by ``Objective.weight``.
    """

    at: dt.date
    key_results: Mapping[str, KRScore]
    objectives: Mapping[str, NodeScore]
    goals: Mapping[str, NodeScore]
    by_owner: Mapping[str, NodeScore]
    by_level: Mapping[str, NodeScore]
    by_cycle: Mapping[str, NodeScore]
    grading: str = "default"
    status_policy: str = "default"

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON: ``{"as_of", "key_results", "objectives", "goals", "rollups", ...}``."""
        return {
            "as_of": self.at.isoformat(),
            "policy": {"grading": self.grading, "status": self.status_policy},
            "key_results": [k.to_dict() for k in self.key_results.values()],
            "objectives": [o.to_dict() for o in self.objectives.values()],
            "goals": [g.to_dict() for g in self.goals.values()],
            "rollups": {
                "owner": [n.to_dict() for n in self.by_owner.values()],
                "level": [n.to_dict() for n in self.by_level.values()],
                "cycle": [n.to_dict() for n in self.by_cycle.values()],
            },
        }


# -- scoring one key result ------------------------------------------------------------------


def daily_values(history: Iterable[CheckIn], end: dt.date) -> dict[dt.date, float]:
    """One value per day up to ``end``; a later-recorded check-in for a day corrects an earlier."""
    out: dict[dt.date, float] = {}
    for ci in sorted(history, key=lambda c: (c.as_of, c.recorded_at)):
        if ci.as_of <= end:
            out[ci.as_of] = ci.value
    return out


def _ratio(actual: float, plan: float, lower_is_better: bool) -> float | None:
    if lower_is_better:
        if actual <= 0:
            return math.inf if plan > 0 else None
        return plan / actual
    return actual / plan if plan > 0 else None


def _score_kr(
    kr: KeyResult,
    objective: str,
    cycle: Cycle,
    deadline: dt.date,
    history: Sequence[CheckIn],
    at: dt.date,
    grading: GradingPolicy,
    status: StatusPolicy,
    stale_factor: float,
) -> KRScore:
    start = cycle.start
    end = min(at, deadline)
    span = max((deadline - start).days + 1, 1)
    frac = min(max((at - start).days + 1, 0), span) / span
    expected = expected_progress(kr, cycle, deadline, at)
    cumulative = kr.measure is Measure.CUMULATIVE
    maintain = kr.kind in _MAINTAIN
    lower = kr.lower_is_better
    target = kr.effective_target
    assert target is not None  # the model refuses key results without one

    daily = daily_values(history, end)
    if cumulative:
        daily = {d: v for d, v in daily.items() if d >= start}
    days = sorted(daily)
    last_checkin = max((ci.as_of for ci in history if ci.as_of <= end), default=None)

    # plan to date: the straight line from baseline to target over the cycle (a bound holds all
    # along for a gauge; a cumulative bound is an allowance spread over the cycle's days)
    if cumulative:
        base = 0.0 if maintain else (kr.effective_baseline or 0.0)
    else:
        base = target if maintain else (kr.effective_baseline or 0.0)
    plan_to_date = base + (target - base) * frac

    actual: float | None = None
    if days:
        actual = sum(daily[d] for d in days) if cumulative else daily[days[-1]]

    prog = score_ = completion = forecast = forecast_score = None
    if actual is not None:
        prog = progress(kr, actual)
        score_ = grading.grade(kr, prog, actual)
        if cumulative:
            completion = _ratio(actual, plan_to_date, lower)
        elif expected > 0:
            completion = prog / expected
        forecast = _forecast(daily, days, cumulative, start, deadline, at, actual)
        forecast_score = grading.grade(kr, progress(kr, forecast), forecast)
    expected_score = grading.grade(kr, progress(kr, plan_to_date), plan_to_date)

    period_days = (kr.cadence or DEFAULT_CADENCE).days
    periods = _period_completions(
        kr, daily, start, end, span, period_days, cumulative, base, target, cycle, deadline
    )

    below_floor = False
    judged = forecast if forecast is not None else actual
    if kr.floor is not None and judged is not None:
        below_floor = judged > kr.floor if lower else judged < kr.floor

    stale = False
    if end >= start:
        since = max(last_checkin, start - dt.timedelta(days=1)) if last_checkin else None
        since = since or start - dt.timedelta(days=1)
        stale = (end - since).days > stale_factor * period_days

    facts = StatusFacts(
        kr=kr,
        at=at,
        actual=actual,
        progress=prog,
        expected=expected,
        plan_to_date=plan_to_date,
        completion=completion,
        periods=periods,
        period_days=period_days,
        checkins=len(days),
        cycle_start=start,
    )
    if actual is None:
        light = Light.GREY
        reason = "no check-in yet" if at >= start else f"the cycle starts on {start.isoformat()}"
    elif at < start:
        light, reason = Light.GREY, f"the cycle starts on {start.isoformat()}"
    else:
        light, reason = status.status(kr, completion, periods, facts)

    return KRScore(
        id=kr.id,
        title=kr.title,
        objective=objective,
        unit=kr.unit,
        kind=kr.kind,
        measure=kr.measure,
        weight=kr.weight,
        baseline=kr.effective_baseline,
        target=target,
        floor=kr.floor,
        stretch=kr.stretch,
        deadline=deadline,
        actual=actual,
        progress=prog,
        score=score_,
        expected=expected,
        expected_score=expected_score,
        plan_to_date=plan_to_date,
        completion=completion,
        periods=periods,
        status=light,
        reason=reason,
        forecast=forecast,
        forecast_score=forecast_score,
        stale=stale,
        below_floor=below_floor,
        aspirational=kr.aspirational,
        success_bar=0.7 if kr.aspirational else 1.0,
        last_checkin=last_checkin,
        checkins=len(days),
    )


def _forecast(
    daily: Mapping[dt.date, float],
    days: Sequence[dt.date],
    cumulative: bool,
    start: dt.date,
    deadline: dt.date,
    at: dt.date,
    actual: float,
) -> float:
    """Least squares over the history (the running total for cumulative key results), projected
    to the deadline. Day index 1 is the cycle's first day; a cumulative total is 0 at index 0.
    """
    if at >= deadline:
        return actual
    x_end = (deadline - start).days + 1
    if cumulative:
        points = [(0.0, 0.0)]
        total = 0.0
        for d in days:
            total += daily[d]
            points.append((float((d - start).days + 1), total))
    else:
        points = [(float((d - start).days + 1), daily[d]) for d in days if d >= start]
    projected = least_squares(points, float(x_end))
    return actual if projected is None else projected


def _period_completions(
    kr: KeyResult,
    daily: Mapping[dt.date, float],
    start: dt.date,
    end: dt.date,
    span: int,
    length: int,
    cumulative: bool,
    base: float,
    target: float,
    cycle: Cycle,
    deadline: dt.date,
) -> tuple[float | None, ...]:
    """p for every period of ``length`` days in [start, end], counted back from ``end``."""
    window = (end - start).days + 1
    if window <= 0:
        return ()
    count = -(-window // length)
    amounts = [0.0] * count
    seen = [False] * count
    latest: list[dt.date | None] = [None] * count
    for d, v in daily.items():
        if not start <= d <= end:
            continue
        k = (end - d).days // length
        amounts[k] += v
        seen[k] = True
        if latest[k] is None or d > latest[k]:  # type: ignore[operator]
            latest[k] = d
    per_day = (target - base) / span
    out: list[float | None] = []
    for k in range(count - 1, -1, -1):
        if not seen[k]:
            out.append(None)
        elif cumulative:
            days_in = length if k < count - 1 else window - length * (count - 1)
            out.append(_ratio(amounts[k], per_day * days_in, kr.lower_is_better))
        else:
            day = latest[k]
            assert day is not None
            pace = expected_progress(kr, cycle, deadline, day)
            out.append(progress(kr, daily[day]) / pace if pace > 0 else None)
    return tuple(out)


# -- the whole plan --------------------------------------------------------------------------


def _resolve(
    plan: Plan,
    manager: PluginManager | None,
    grading: GradingPolicy | None,
    status: StatusPolicy | None,
) -> tuple[GradingPolicy, StatusPolicy]:
    if grading is not None and status is not None:
        return grading, status
    if manager is None:
        from .plugins import default_manager

        manager = default_manager()
    if plan.plugins:
        from .plugins import load_plugin_modules

        load_plugin_modules(manager, plan.plugins)
    section = plan.policy
    shared = {k: v for k, v in section.items() if k not in ("grading", "status")}

    def pick(role: str) -> Any:
        spec = section.get(role, "default")
        settings = dict(shared)
        if isinstance(spec, Mapping):
            settings.update({k: v for k, v in spec.items() if k != "name"})
            spec = spec.get("name", "default")
        policy = manager.policies.get(f"{role}:{spec}")
        configure = getattr(policy, "configure", None)
        return configure(settings) if configure is not None and settings else policy

    return (
        grading if grading is not None else pick("grading"),
        status if status is not None else pick("status"),
    )


class LiveScore:
    """A scored plan that takes new check-ins one at a time.

    :meth:`add` re-scores only the key result concerned and updates the rollups of its objective
    and their ancestors in ``O(depth)`` (:class:`~okrcore.rollup.Rollup`); :meth:`scorecard`
    takes an immutable snapshot. :func:`score` is ``LiveScore(...).scorecard()``.
    """

    def __init__(
        self,
        plan: Plan,
        checkins: Iterable[CheckIn] = (),
        at: dt.date | None = None,
        *,
        manager: PluginManager | None = None,
        grading: GradingPolicy | None = None,
        status: StatusPolicy | None = None,
    ) -> None:
        self.plan = plan
        self.at = at or dt.date.today()
        self.grading, self.status = _resolve(plan, manager, grading, status)
        factor = plan.policy.get("stale_factor", DEFAULT_STALE_FACTOR)
        self.stale_factor = _setting({"stale_factor": factor}, "stale_factor", 1.5, 0.0)
        self.tree = RollupTree.from_plan(plan)
        self._history: dict[str, list[CheckIn]] = {kr_id: [] for kr_id in self.tree.leaf_ids}
        for ci in checkins:
            if ci.as_of <= self.at and ci.kr_id in self._history:
                self._history[ci.kr_id].append(ci)
        self._krs: dict[str, KRScore] = {kr_id: self._score(kr_id) for kr_id in self.tree.leaf_ids}
        ordered = [self._krs[kr_id] for kr_id in self.tree.leaf_ids]
        self.scores = Rollup(self.tree, [k.score for k in ordered])
        self.expected = Rollup(self.tree, [_expected_leaf(k) for k in ordered])
        self.completion = Rollup(self.tree, [_completion_leaf(k) for k in ordered])

    def _score(self, kr_id: str) -> KRScore:
        plan = self.plan
        return _score_kr(
            plan.key_result(kr_id),
            plan.objective_of(kr_id).id,
            plan.cycle_of(kr_id),
            plan.deadline_of(kr_id),
            self._history[kr_id],
            self.at,
            self.grading,
            self.status,
            self.stale_factor,
        )

    def add(self, checkin: CheckIn) -> KRScore | None:
        """Take one new check-in; ``None`` (and nothing changes) for an unknown key result or
        a check-in after the scoring date."""
        history = self._history.get(checkin.kr_id)
        if history is None or checkin.as_of > self.at:
            return None
        bisect.insort(history, checkin, key=lambda c: (c.as_of, c.recorded_at))
        kr = self._score(checkin.kr_id)
        self._krs[kr.id] = kr
        self.scores.update(kr.id, kr.score)
        self.expected.update(kr.id, _expected_leaf(kr))
        self.completion.update(kr.id, _completion_leaf(kr))
        return kr

    def key_result(self, kr_id: str) -> KRScore:
        """The current score of one key result."""
        return self._krs[kr_id]

    def objective_score(self, objective_id: str) -> float | None:
        """The current rolled-up score of one objective."""
        return self.scores.node(f"objective:{objective_id}")

    def goal_score(self, goal_id: str) -> float | None:
        """The current rolled-up score of one goal."""
        return self.scores.node(f"goal:{goal_id}")

    def scorecard(self) -> Scorecard:
        """An immutable snapshot of everything."""
        plan, tree, policy = self.plan, self.tree, self.status
        lights: list[dict[Light, int]] = [{} for _ in tree.node_ids]
        for kr_id, p in zip(tree.leaf_ids, tree.leaf_parent, strict=True):
            light = self._krs[kr_id].status
            lights[p][light] = lights[p].get(light, 0) + 1
        node_status: list[tuple[Light, str]] = [(Light.GREY, "")] * len(tree.node_ids)
        for i in tree.order:  # children before parents
            node_status[i] = policy.rollup(self.completion.node(i), lights[i])
            parent = tree.node_parent[i]
            if parent >= 0:
                light = node_status[i][0]
                lights[parent][light] = lights[parent].get(light, 0) + 1

        def node(i: int, kind: str, title: str, **extra: Any) -> NodeScore:
            light, reason = node_status[i]
            return NodeScore(
                id=tree.node_ids[i].split(":", 1)[1],
                kind=kind,
                title=title,
                score=self.scores.node(i),
                expected=self.expected.node(i),
                completion=self.completion.node(i),
                status=light,
                reason=reason,
                **extra,
            )

        goals = {g.id: node(i, "goal", g.title) for i, g in enumerate(plan.goals)}
        offset = len(plan.goals)
        objectives = {
            o.id: node(
                offset + i,
                "objective",
                o.title,
                owner=o.owner,
                level=o.level.value,
                cycle=o.cycle,
                parent=o.parent,
                goal=o.goal,
            )
            for i, o in enumerate(plan.objectives)
        }
        by_owner: dict[str, list[str]] = {}
        by_level: dict[str, list[str]] = {}
        by_cycle: dict[str, list[str]] = {}
        for o in plan.objectives:
            if o.owner is not None:
                by_owner.setdefault(o.owner, []).append(o.id)
            by_level.setdefault(o.level.value, []).append(o.id)
            if o.parent is None:
                by_cycle.setdefault(o.cycle, []).append(o.id)
        return Scorecard(
            at=self.at,
            key_results=dict(self._krs),
            objectives=objectives,
            goals=goals,
            by_owner={k: self._group(k, "owner", v, objectives) for k, v in by_owner.items()},
            by_level={k: self._group(k, "level", v, objectives) for k, v in by_level.items()},
            by_cycle={k: self._group(k, "cycle", v, objectives) for k, v in by_cycle.items()},
            grading=self.grading.name,
            status_policy=self.status.name,
        )

    def _group(
        self, key: str, kind: str, members: list[str], objectives: Mapping[str, NodeScore]
    ) -> NodeScore:
        weights = [self.plan.objective(m).weight for m in members]
        nodes = [objectives[m] for m in members]
        completion = weighted_mean((n.completion, w) for n, w in zip(nodes, weights, strict=True))
        lights: dict[Light, int] = {}
        for n in nodes:
            lights[n.status] = lights.get(n.status, 0) + 1
        light, reason = self.status.rollup(completion, lights)
        return NodeScore(
            id=key,
            kind=kind,
            title=key,
            score=weighted_mean((n.score, w) for n, w in zip(nodes, weights, strict=True)),
            expected=weighted_mean((n.expected, w) for n, w in zip(nodes, weights, strict=True)),
            completion=completion,
            status=light,
            reason=reason,
        )


def _expected_leaf(kr: KRScore) -> float | None:
    # same members as the score rollup, so a node's score and pace compare like for like
    return None if kr.score is None else kr.expected


def _completion_leaf(kr: KRScore) -> float | None:
    return None if kr.completion is None else _clamp(kr.completion)


def score(
    plan: Plan,
    checkins: Iterable[CheckIn],
    at: dt.date | None = None,
    *,
    manager: PluginManager | None = None,
    grading: GradingPolicy | None = None,
    status: StatusPolicy | None = None,
) -> Scorecard:
    """Score a plan as of ``at`` (default today) from its check-ins.

    Check-ins after ``at`` and check-ins of key results the plan does not have are ignored.
    Policies not passed in are looked up by the names in ``plan.policy`` (``grading`` and
    ``status``, ``"default"`` when absent) in ``manager.policies`` (default: the process-wide
    :func:`~okrcore.plugins.default_manager`) and configured from the rest of that section
    (``red_below``, ``green_at``, ``red_periods``, ``target_score``); ``stale_factor`` (1.5)
    sets staleness. Policies passed in are used as they are.
    """
    at = None if at is None else as_date(at)  # a datetime gives its date; a string is refused
    return LiveScore(
        plan, checkins, at, manager=manager, grading=grading, status=status
    ).scorecard()
