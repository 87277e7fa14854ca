"""Formatting for reports: lights, scores, percentages, changes; numbers with :func:`num`.

``num`` itself lives in :mod:`okrcore._numbers` (re-exported here), so that the grading and status
policies print a number as every report does (docs/reports.md, "Numbers").
"""

from __future__ import annotations

import math
from typing import Any

from okrcore._numbers import MISSING as MISSING, num as num

LIGHT_ICON = {"green": "🟢", "yellow": "🟡", "red": "🔴", "grey": "⚪"}
LIGHT_STYLE = {"green": "bold green", "yellow": "bold yellow", "red": "bold red", "grey": "dim"}


def _missing(value: Any) -> bool:
    return (
        value is None
        or isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
    )


def signed(value: Any, unit: str = "") -> str:
    """A change with its sign (+12, -3.5)."""
    if _missing(value):
        return MISSING
    text = num(value, unit)
    return "+" + text if value > 0 and num(value) != "0" else text


def pct(value: Any) -> str:
    """A fraction as a whole percentage."""
    if _missing(value):
        return MISSING
    return f"{value * 100:.0f}%"


def pts(value: Any) -> str:
    """A difference of fractions as signed percentage points."""
    if _missing(value):
        return MISSING
    return f"{value * 100:+.0f} pts"


def fixed(value: Any) -> str:
    """A score with two decimals."""
    if _missing(value):
        return MISSING
    return f"{value:.2f}"


def confidence(value: Any, scale: int = 1) -> str:
    """A confidence (kept 0-1) on the plan's ``confidence_scale``: ``0.70``, or ``7/10``."""
    if _missing(value):
        return MISSING
    if scale == 10:  # one decimal at most: "7.5/10", "8/10"
        return f"{value * 10:.1f}".removesuffix(".0") + "/10"
    return f"{value:.2f}"


def with_confidence(score_text: str, value: Any, scale: int) -> str:
    """``score_text`` followed by the confidence, when one was stated."""
    return score_text if _missing(value) else f"{score_text}, confidence {confidence(value, scale)}"


def sum_note(sum_of: Any) -> str:
    """What a ``rollup: sum`` key result adds up (``sum of a, b``); empty for any other."""
    return f"sum of {', '.join(sum_of)}" if sum_of else ""


def kpi_bar(kpi: Any) -> str:
    """A KPI's bar with its direction: ``>= 96.77`` (a cumulative KPI's target pro-rated)."""
    return f"{'>=' if kpi.direction == 'above' else '<='} {num(kpi.expected)}"


def kpi_last(kpi: Any) -> str:
    """The last period's value against its target: ``250 of 300``, or the missing mark."""
    if _missing(kpi.previous):
        return MISSING
    return f"{num(kpi.previous)} of {num(kpi.previous_target)}"
