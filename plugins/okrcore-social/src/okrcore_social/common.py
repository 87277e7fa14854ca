"""Helpers shared by the social sources: today's date, values that exist only as of now, and
numbers from JSON answers."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from okrcore.sources import FailureKind, FetchError, FetchRequest

__all__ = ["current_only_problem", "number", "today"]


def today() -> dt.date:
    """The current date (UTC); current-only values cannot stand for a day before yesterday."""
    return dt.datetime.now(dt.timezone.utc).date()


def current_only_problem(request: FetchRequest, what: str, history_hint: str) -> str | None:
    """Why a value that exists only as of now cannot answer ``request``, or ``None``."""
    if request.series:
        return f"{what} is a current value with no history, so no daily series; {history_hint}"
    if request.end < today() - dt.timedelta(days=1):
        return (
            f"{what} is a current value and cannot stand for {request.end.isoformat()}; "
            f"{history_hint}"
        )
    return None


def number(value: Any, what: str) -> float:
    """A count from a JSON answer (a number, a numeric string, or a breakdown summed)."""
    if isinstance(value, Mapping):  # a breakdown such as {"US": 10, "FR": 5}
        return math.fsum(number(v, what) for v in value.values())
    if isinstance(value, bool) or value is None:
        raise FetchError(FailureKind.PERMANENT, f"{what} is {value!r}, not a number")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise FetchError(FailureKind.PERMANENT, f"{what} is {value!r}, not a number") from None
    if not math.isfinite(result):
        raise FetchError(FailureKind.PERMANENT, f"{what} is {value!r}, not a number")
    return result
