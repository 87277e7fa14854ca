"""A key result's GA4 query: parsing, validation and the date windows it asks for.

All functions here are pure (no I/O), so ``okr lint`` can run them before anything is sent.

Date windows are computed from ``as_of`` and are read by GA4 in the property's time zone. The named
ranges follow GA4's own convention of complete days before "today" (here: before ``as_of``):
``yesterday`` is ``as_of - 1``, ``last_7_days`` is ``as_of - 7 .. as_of - 1``. ``cycle`` (the
default for cumulative key results) is the refresh's own window inside the cycle for a cumulative
key result and the cycle to date for a gauge; ``window: N`` is the trailing N days ending at
``as_of`` (both inclusive, the default for gauges is 28).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import attrs

from okrcore.model import Cycle, Measure
from okrcore.sources import QueryProblem

from .filters import FilterError, Node, canonical, parse_filter

__all__ = [
    "Cell",
    "GA4Query",
    "additive",
    "cells_for",
    "parse_query",
    "total_window",
]

QUERY_KEYS = ("metric", "filter", "date_range", "window", "empty", "scale")
IGNORED_KEYS = ("connection", "plugin")
NAMED_RANGES = ("cycle", "yesterday", "last_7_days", "last_28_days", "last_N_days")
GAUGE_DEFAULT_WINDOW = 28

_METRIC = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(:[A-Za-z0-9_]+)?$")
_LAST_N = re.compile(r"^last_(\d+)_days$")

# Ratios and averages whose API name does not say so (the rest is recognised by name: *Rate,
# average*, *Per*). With no rows these have no value; counts and sums are 0.
_NON_ADDITIVE = frozenset({"returnOnAdSpend"})
_NON_ADDITIVE_PREFIXES = ("calcMetric", "averageCustomEvent")


def additive(metric: str) -> bool:
    """Whether GA4 means 0 when a report for this metric has no rows.

    Counts and sums (sessions, activeUsers, keyEvents, totalRevenue, ``customEvent:`` metrics) are
    0 when nothing happened. Ratios and averages (bounceRate, engagementRate, sessionKeyEventRate,
    averageSessionDuration, sessionsPerUser...) and calculated metrics have no value without
    traffic.
    """
    base, _, _ = metric.partition(":")  # keyEvents:sign_up is judged as keyEvents
    if base in _NON_ADDITIVE or (":" in metric and base in _NON_ADDITIVE_PREFIXES):
        return False
    if base == "customEvent":
        return True  # custom metrics are event-scoped sums
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+", base)]
    return not (words[-1:] == ["rate"] or "average" in words or "per" in words)


@attrs.frozen
class GA4Query:
    """A validated key-result query."""

    metric: str
    filter_text: str | None = None
    filter: Node | None = None
    date_range: str | tuple[dt.date, dt.date] | None = None
    window: int | None = None
    empty: str | None = None  # "zero" | "error" | None (decide from the metric)
    scale: float = 1.0

    @property
    def filter_key(self) -> str:
        """The filter's canonical form, used to group key results into one report."""
        return canonical(self.filter)

    def zero_when_empty(self) -> bool:
        """Whether a report without rows means 0 for this query."""
        if self.empty is not None:
            return self.empty == "zero"
        return additive(self.metric)


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def parse_query(query: Mapping[str, Any]) -> tuple[GA4Query | None, list[QueryProblem]]:
    """Parse and validate a ``source`` mapping; returns the query or the problems found."""
    problems: list[QueryProblem] = []
    for key in query:
        if key not in QUERY_KEYS and key not in IGNORED_KEYS:
            allowed = ", ".join(QUERY_KEYS)
            problems.append(QueryProblem(str(key), f"unknown GA4 query key (allowed: {allowed})"))
    metric = query.get("metric")
    if not isinstance(metric, str) or not metric:
        problems.append(QueryProblem("metric", "a GA4 metric API name is required (e.g. sessions)"))
    elif not _METRIC.match(metric):
        problems.append(
            QueryProblem("metric", f"{metric!r} is not a GA4 API name (e.g. sessions, "
                                   "bounceRate, customEvent:signup_value)")
        )
    node: Node | None = None
    text = query.get("filter")
    if text is not None:
        if not isinstance(text, str):
            problems.append(QueryProblem("filter", "the filter must be a string expression"))
        else:
            try:
                node = parse_filter(text)
            except FilterError as exc:
                problems.append(QueryProblem("filter", f"{exc}\n{exc.pointer()}"))
    date_range: str | tuple[dt.date, dt.date] | None = None
    raw_range = query.get("date_range")
    if isinstance(raw_range, str):
        m = _LAST_N.match(raw_range)
        if raw_range in ("cycle", "yesterday") or (m and 1 <= int(m.group(1)) <= 3650):
            date_range = raw_range
        else:
            problems.append(QueryProblem(
                "date_range", f"unknown date range {raw_range!r} (cycle, yesterday, last_7_days, "
                              "last_28_days, last_N_days or {start: DATE, end: DATE})"))
    elif isinstance(raw_range, Mapping):
        start, end = _date(raw_range.get("start")), _date(raw_range.get("end"))
        extra = set(raw_range) - {"start", "end"}
        if start is None or end is None or extra:
            problems.append(QueryProblem(
                "date_range", "an explicit date range is {start: YYYY-MM-DD, end: YYYY-MM-DD}"))
        elif end < start:
            problems.append(QueryProblem("date_range", f"ends ({end}) before it starts ({start})"))
        else:
            date_range = (start, end)
    elif raw_range is not None:
        problems.append(QueryProblem("date_range", "expected a name or {start, end}"))
    window = query.get("window")
    if window is not None and (isinstance(window, bool) or not isinstance(window, int)
                               or not 1 <= window <= 3650):
        problems.append(QueryProblem("window", "window is a number of days between 1 and 3650"))
        window = None
    if window is not None and raw_range is not None:
        problems.append(QueryProblem("window", "give either window or date_range, not both"))
    empty = query.get("empty")
    if empty is not None and empty not in ("zero", "error"):
        problems.append(QueryProblem("empty", "empty is 'zero' or 'error'"))
    scale = query.get("scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale == 0:
        problems.append(QueryProblem("scale", "scale is a non-zero number (100 for percentages)"))
        scale = 1.0
    if problems:
        return None, problems
    assert isinstance(metric, str)
    return GA4Query(
        metric=metric,
        filter_text=text if isinstance(text, str) else None,
        filter=node,
        date_range=date_range,
        window=window,
        empty=empty,
        scale=float(scale),
    ), []


def total_window(
    q: GA4Query,
    measure: Measure,
    cycle: Cycle,
    as_of: dt.date,
    start: dt.date | None = None,
) -> tuple[dt.date, dt.date]:
    """The days (both inclusive) whose data gives the key result's value at ``as_of``.

    ``start`` is the start of the window the refresh asks for. A cumulative key result's check-ins
    are amounts that okrcore adds up, so by default (``cycle``) it reads exactly the refresh's
    window, kept inside the cycle: no day is counted twice. A gauge's ``cycle`` is the cycle to
    date.
    """
    rng = q.date_range
    if isinstance(rng, tuple):
        return rng
    if rng == "yesterday":
        day = as_of - dt.timedelta(days=1)
        return day, day
    if isinstance(rng, str) and (m := _LAST_N.match(rng)):
        n = int(m.group(1))
        return as_of - dt.timedelta(days=n), as_of - dt.timedelta(days=1)
    if rng == "cycle" or (rng is None and q.window is None and measure is Measure.CUMULATIVE):
        end = min(as_of, cycle.end)
        first = cycle.start
        if measure is Measure.CUMULATIVE and start is not None:
            first = max(start, cycle.start)
        return min(first, end), end
    days = q.window or GAUGE_DEFAULT_WINDOW
    return as_of - dt.timedelta(days=days - 1), as_of


@attrs.frozen
class Cell:
    """One value a request needs: the value at ``point`` comes from the window ``start..end``.

    ``by_date`` cells are single days read from one report with the ``date`` dimension.
    """

    point: dt.date
    start: dt.date
    end: dt.date

    @property
    def single_day(self) -> bool:
        """Whether the window is one day (and can come from a daily series report)."""
        return self.start == self.end


def cells_for(
    q: GA4Query,
    measure: Measure,
    cycle: Cycle,
    start: dt.date,
    end: dt.date,
    series: bool,
) -> list[Cell]:
    """The windows a request needs: one for a total, one per day for a series.

    A series point at day ``d`` has the value a total at ``as_of = d`` would have, except that a
    cumulative ``cycle`` measure gives each day's own amount (the engine sums them).
    """
    if not series:
        w_start, w_end = total_window(q, measure, cycle, end, start)
        return [Cell(end, w_start, w_end)]
    out: list[Cell] = []
    day = start
    while day <= end:
        cumulative_cycle = measure is Measure.CUMULATIVE and q.window is None and (
            q.date_range in (None, "cycle"))
        if cumulative_cycle:
            out.append(Cell(day, day, day))
        else:
            w_start, w_end = total_window(q, measure, cycle, day)
            out.append(Cell(day, w_start, w_end))
        day += dt.timedelta(days=1)
    return out


def describe_window(start: dt.date, end: dt.date) -> str:
    """``2026-01-01..2026-03-31`` (or one date)."""
    return start.isoformat() if start == end else f"{start.isoformat()}..{end.isoformat()}"
