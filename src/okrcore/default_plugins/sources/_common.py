"""Helpers shared by the built-in sources: numbers and dates from raw values, reducing dated
values to the reading a request asks for, date placeholders, per-connection limits."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from okrcore.model import Connection, Measure
from okrcore.sources import FetchRequest, Limits, QueryProblem, Reading

__all__ = [
    "base_dir",
    "connection_limits",
    "describe_bad",
    "fill_dates",
    "finite_number",
    "limit_problems",
    "reduce_rows",
    "to_date",
]


def finite_number(value: Any) -> float | None:
    """A finite float from a JSON/DB value that is a number (not a bool, not a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def describe_bad(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value!r}, not a finite number"
    return f"{value!r} ({type(value).__name__}), not a number"


def to_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return dt.date.fromisoformat(text[:10])
        except ValueError:
            return None
    return None


def reduce_rows(
    request: FetchRequest, rows: Iterable[tuple[dt.date, float]]
) -> Reading | str:
    """Turn dated values into the reading the request asks for, or say why not.

    A series gets one point per day of the window (several values of one day are summed for a
    cumulative key result; the last one counts for a gauge). A total is the sum over the window
    (cumulative) or the latest value in the window (gauge), dated the day it was measured: an old
    reading is never passed off as one of the window's end, so staleness stays visible.
    """
    cumulative = request.measure is Measure.CUMULATIVE
    days: dict[dt.date, float] = {}
    latest: tuple[dt.date, float] | None = None
    for day, value in rows:
        if request.start <= day <= request.end and (latest is None or day >= latest[0]):
            latest = (day, value)
        if request.start <= day <= request.end:
            days[day] = days.get(day, 0.0) + value if cumulative else value
    if request.series:
        return Reading(request, sorted(days.items()))
    if cumulative:
        if not days:
            return f"no data between {request.start} and {request.end}"
        return Reading.total(request, sum(days.values()))
    if latest is None:
        return f"no data between {request.start} and {request.end}"
    return Reading(request, (latest,))


def fill_dates(value: Any, request: FetchRequest) -> Any:
    """Replace ``{start}``, ``{end}`` and ``{as_of}`` in strings (recursively) with ISO dates."""
    if isinstance(value, str):
        return (
            value.replace("{start}", request.start.isoformat())
            .replace("{end}", request.end.isoformat())
            .replace("{as_of}", request.as_of.isoformat())
        )
    if isinstance(value, Mapping):
        return {k: fill_dates(v, request) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_dates(v, request) for v in value]
    return value


def base_dir(connection: Connection) -> Path:
    base = Path(connection.base_dir or ".")
    setting = connection.settings.get("base")
    if isinstance(setting, str):
        base = base / Path(setting).expanduser()
    return base


def connection_limits(connection: Connection, default: Limits) -> Limits:
    s = connection.settings
    return Limits(
        max_batch=int(s.get("max_batch", default.max_batch)),
        concurrency=int(s.get("concurrency", default.concurrency)),
        rate=float(s["rate"]) if s.get("rate") is not None else default.rate,
    )


def limit_problems(settings: Mapping[str, Any]) -> list[QueryProblem]:
    problems = []
    for key in ("max_batch", "concurrency"):
        value = settings.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            problems.append(QueryProblem(key, f"expected a whole number >= 1, got {value!r}"))
    rate = settings.get("rate")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float))
                             or rate <= 0):
        problems.append(QueryProblem("rate", f"expected calls per second > 0, got {rate!r}"))
    return problems
