"""Number and light formatting shared by the report renderers."""

from __future__ import annotations

import math

LIGHT_ICON = {"green": "🟢", "yellow": "🟡", "red": "🔴", "grey": "⚪"}
LIGHT_STYLE = {"green": "bold green", "yellow": "bold yellow", "red": "bold red", "grey": "dim"}
KIND_HEADING = {
    "daily": "Daily status",
    "weekly": "Weekly gap analysis",
    "monthly": "Monthly review",
}


def num(value: float | None, unit: str = "") -> str:
    """A value with thousands separators, at most 2 decimals, and its unit ("—" when missing)."""
    if value is None or not math.isfinite(value):
        return "—"
    text = f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:,.0f}"
    if unit in ("%", ""):
        return f"{text}{unit}"
    return f"{text} {unit}"


def signed(value: float | None, unit: str = "") -> str:
    """A change with its sign (+12, -3.5)."""
    if value is None or not math.isfinite(value):
        return "—"
    return ("+" if value > 0 else "") + num(value, unit)


def pct(value: float | None) -> str:
    """A fraction as a whole percentage."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value * 100:.0f}%"


def pts(value: float | None) -> str:
    """A difference of fractions as signed percentage points."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value * 100:+.0f} pts"


def fixed(value: float | None) -> str:
    """A score with two decimals."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.2f}"
