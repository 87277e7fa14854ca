"""A scored plan: :class:`Scorecard` with its :class:`KRScore` and :class:`NodeScore` values.

:func:`okrcore.scoring.score` builds one; :meth:`Scorecard.to_dict` is the stable JSON form
(docs/cli.md).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import attrs

from .model import Kind, Measure
from .policies import Light, NodeKind

__all__ = ["KRScore", "KpiScore", "NodeScore", "Scorecard"]


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
    traffic light and ``periods`` the completions p of the last three periods, oldest first
    (fewer early in a cycle; the status policy sees every period); ``forecast`` the
    projected actual at the deadline and ``forecast_score`` its grade; ``success_bar`` is 0.7 for
    an aspirational key result and 1.0 for a committed one; ``confidence`` the latest confidence
    (0-1) a check-in stated; ``sum_of`` the key results a ``rollup: sum`` key result adds up
    (empty for any other). Values are ``None`` without data.
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
    confidence: float | None = None
    sum_of: tuple[str, ...] = ()

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
            "confidence": _r(self.confidence),
            "sum_of": list(self.sum_of),
        }


@attrs.frozen
class NodeScore:
    """The rollup of an objective, a goal or a group (owner, level, cycle).

    ``score``, ``expected`` (expected progress) and ``expected_score`` (the score on plan, to
    compare ``score`` with) are weighted means over the key results with data (``None`` when
    nothing below has data); ``completion`` is the weighted mean of the key results' C, each capped
    to [0, 1]; ``confidence`` the weighted mean of the key results' latest confidence (0-1) the
    same way. For an objective, ``parent`` is its (first) parent objective and ``parents`` all of
    them.
    """

    id: str
    kind: NodeKind  # "objective", "goal", "owner", "level" or "cycle"
    title: str
    score: float | None
    expected: float | None
    completion: float | None
    status: Light
    reason: str
    expected_score: float | None = None
    owner: str | None = None
    level: str | None = None
    cycle: str | None = None
    parent: str | None = None
    goal: str | None = None
    parents: tuple[str, ...] = ()
    confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON-ready form."""
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "score": _r(self.score),
            "expected": _r(self.expected),
            "expected_score": _r(self.expected_score),
            "completion": _r(self.completion),
            "status": self.status.value,
            "reason": self.reason,
            "confidence": _r(self.confidence),
        }
        if self.kind == "objective":
            out.update(
                owner=self.owner,
                level=self.level,
                cycle=self.cycle,
                parent=self.parent,
                parents=list(self.parents),
                goal=self.goal,
            )
        return out


@attrs.frozen
class KpiScore:
    """A KPI as of a date, against the target of the period holding that date.

    ``actual`` is the period's value so far (the sum of its readings for a cumulative KPI, the
    latest reading for a gauge); ``expected`` the bar it is judged against (the target pro-rated
    to the day for a cumulative KPI, the target for a gauge); ``previous`` the last period's
    final value and ``previous_target`` its target. ``None`` without readings.
    """

    id: str
    title: str
    unit: str
    direction: str
    measure: Measure
    period: str
    period_start: dt.date
    period_end: dt.date
    target: float
    expected: float
    actual: float | None
    status: Light
    reason: str
    last_checkin: dt.date | None
    previous: float | None
    previous_target: float
    owner: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON-ready form."""
        return {
            "id": self.id,
            "title": self.title,
            "unit": self.unit,
            "direction": self.direction,
            "measure": self.measure.value,
            "period": self.period,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "target": _r(self.target),
            "expected": _r(self.expected),
            "actual": _r(self.actual),
            "status": self.status.value,
            "reason": self.reason,
            "last_checkin": self.last_checkin.isoformat() if self.last_checkin else None,
            "previous": _r(self.previous),
            "previous_target": _r(self.previous_target),
            "owner": self.owner,
        }


@attrs.frozen
class Scorecard:
    """A plan scored as of a date: key results, objectives, goals and group rollups.

    Mappings keep plan order. ``by_owner`` groups objectives by owner, ``by_level`` by level (both
    over every objective in the group), ``by_cycle`` the top-level objectives (no parent) of each
    cycle; each is the weighted mean by ``Objective.weight``. An owner who owns key results but
    no objective has a ``by_owner`` row too, after the others: the weighted mean of those key
    results by ``KeyResult.weight``. ``kpis`` are the plan's KPIs, apart from the OKRs.
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
    confidence_scale: int = 1  # how confidences are shown: 1 (0-1) or 10 (0-10)
    kpis: Mapping[str, KpiScore] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON: ``{"as_of", "key_results", "objectives", "goals", "rollups", ...}``."""
        return {
            "as_of": self.at.isoformat(),
            "policy": {
                "grading": self.grading,
                "status": self.status_policy,
                "confidence_scale": self.confidence_scale,
            },
            "key_results": [k.to_dict() for k in self.key_results.values()],
            "objectives": [o.to_dict() for o in self.objectives.values()],
            "goals": [g.to_dict() for g in self.goals.values()],
            "rollups": {
                "owner": [n.to_dict() for n in self.by_owner.values()],
                "level": [n.to_dict() for n in self.by_level.values()],
                "cycle": [n.to_dict() for n in self.by_cycle.values()],
            },
            "kpis": [k.to_dict() for k in self.kpis.values()],
        }
