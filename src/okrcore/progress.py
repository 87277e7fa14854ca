"""Progress and pace: the pure formulas behind a score.

:func:`progress` is the fraction of the way from baseline to target, :func:`expected_progress` the
pace at a date, :func:`least_squares` the forecast's line and :func:`grade_columns` the default
grade in column form for very large flat organisations. Numbers are floats (see
:mod:`okrcore.model`); bounds of ``maintain_*`` key results are inclusive: a value equal to the
bound holds. docs/scoring.md has the formulas with worked examples.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from .errors import ValidationError
from .model import Cycle, KeyResult, Kind, Measure

__all__ = ["expected_progress", "grade_columns", "least_squares", "plan_to_date", "progress"]

MAINTAIN = (Kind.MAINTAIN_ABOVE, Kind.MAINTAIN_BELOW)


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
    if kr.kind in MAINTAIN:
        miss = target - actual if kr.kind is Kind.MAINTAIN_ABOVE else actual - target
        if miss <= 0:
            return 1.0
        tolerance = kr.tolerance or 0.0
        return 1.0 - miss / tolerance if miss < tolerance else 0.0
    base = kr.effective_baseline
    if base is None:
        raise ValidationError(f"key result {kr.id!r} has no baseline")
    return (actual - base) / (target - base)


def clamp(x: float, low: float = 0.0, high: float = 1.0) -> float:
    return low if x < low else high if x > high else x


def stretch_progress(kr: KeyResult) -> float | None:
    """The progress at which a key result reaches its stretch (> 1), if it has one that counts."""
    if kr.stretch is None or kr.kind in MAINTAIN:
        return None
    return progress(kr, kr.stretch)


def piecewise(p: float, at_stretch: float | None, target_score: float) -> float:
    if at_stretch is None:
        return clamp(p)
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
    if kr.kind in MAINTAIN:
        return 1.0 if elapsed > 0 else 0.0
    return elapsed / span


def plan_base(kr: KeyResult) -> float:
    """Where the plan line of :func:`plan_to_date` starts."""
    maintain = kr.kind in MAINTAIN
    if kr.measure is Measure.CUMULATIVE:
        return 0.0 if maintain else (kr.effective_baseline or 0.0)
    return (kr.effective_target or 0.0) if maintain else (kr.effective_baseline or 0.0)


def plan_to_date(kr: KeyResult, start: dt.date, deadline: dt.date, at: dt.date) -> float:
    """The actual expected by ``at``: the straight line from baseline to target over the cycle.

    A gauge's bound holds all along (a ``maintain_*`` key result plans its target from day one);
    a cumulative key result plans its target, or its bound as an allowance, spread over the
    cycle's days from 0. Days elapsed count ``at`` itself, as :func:`expected_progress` does.
    """
    target = kr.effective_target
    if target is None:
        raise ValidationError(f"key result {kr.id!r} has no target")
    base = plan_base(kr)
    span = max((deadline - start).days + 1, 1)
    frac = min(max((at - start).days + 1, 0), span) / span
    return base + (target - base) * frac


def least_squares(points: Sequence[tuple[float, float]], x: float) -> float | None:
    """The ordinary least-squares line through ``points``, evaluated at ``x``.

    ``None`` for fewer than two distinct x values.
    """
    n = len(points)
    if n < 2:
        return None
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    mx = sum(xs) / n
    my = sum(ys) / n
    dx = [x_ - mx for x_ in xs]
    sxx = sum([d**2 for d in dx])
    if sxx == 0:
        return None
    sxy = sum([d * (y - my) for d, y in zip(dx, ys, strict=True)])
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
