"""Number and light formatting: the one place that decides how okrcore prints a number.

Every report format (text, Markdown, HTML) and every ``okr`` command print numbers with
:func:`num`, so a value reads the same wherever it appears (docs/reports.md, "Numbers").
"""

from __future__ import annotations

import decimal
import math
from typing import Any

LIGHT_ICON = {"green": "🟢", "yellow": "🟡", "red": "🔴", "grey": "⚪"}
LIGHT_STYLE = {"green": "bold green", "yellow": "bold yellow", "red": "bold red", "grey": "dim"}
MISSING = "—"
SIGNIFICANT = 4  # digits kept below 1,000; from 1,000 on, whole numbers
MAX_DECIMALS = 6
_WIDE = decimal.Context(prec=400)


def num(value: Any, unit: str = "") -> str:
    """A number for people, with its unit: thousands separators; whole numbers from 1,000 on,
    else 4 significant digits (at most 6 decimals), trailing zeros dropped, halves rounded up
    (``1,234.5`` -> ``1,235``, ``47.766`` -> ``47.77``, ``0.012345`` -> ``0.01235``).
    ``"—"`` when missing or not finite; text that is not a number is returned as it is."""
    if value is None:
        return MISSING
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if not math.isfinite(value):
        return MISSING
    exact = decimal.Decimal(repr(float(value)))  # the shortest form: 2.675 stays 2.675
    magnitude = math.floor(math.log10(abs(value))) if value else 0
    places = min(MAX_DECIMALS, max(0, SIGNIFICANT - 1 - magnitude))
    rounded = exact.quantize(  # every digit of the largest float fits: 1e308 is 309 digits
        decimal.Decimal(1).scaleb(-places), decimal.ROUND_HALF_UP, _WIDE
    )
    text = f"{rounded:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    if unit in ("%", ""):
        return f"{text}{unit}"
    return f"{text} {unit}"


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
