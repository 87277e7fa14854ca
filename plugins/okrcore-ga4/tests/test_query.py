"""Query and connection validation, date windows and the empty-means-zero rule (no I/O)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from ga4_helpers import key_result
from okrcore_ga4 import GA4Source, additive, parse_query
from okrcore_ga4.query import cells_for, total_window

from okrcore.model import Connection, Cycle, Measure

CYCLE = Cycle("q", dt.date(2026, 1, 1), dt.date(2026, 3, 31))
AS_OF = dt.date(2026, 2, 10)
D = dt.date


def window(
    query: dict[str, Any], measure: Measure = Measure.CUMULATIVE, as_of: dt.date = AS_OF
) -> tuple[dt.date, dt.date]:
    q, problems = parse_query(query)
    assert not problems
    assert q is not None
    return total_window(q, measure, CYCLE, as_of)


@pytest.mark.parametrize(
    ("query", "measure", "expected"),
    [
        ({"metric": "sessions"}, Measure.CUMULATIVE, (D(2026, 1, 1), AS_OF)),
        ({"metric": "sessions", "date_range": "cycle"}, Measure.GAUGE, (D(2026, 1, 1), AS_OF)),
        ({"metric": "sessions", "date_range": "yesterday"}, Measure.CUMULATIVE,
         (D(2026, 2, 9), D(2026, 2, 9))),
        ({"metric": "sessions", "date_range": "last_7_days"}, Measure.CUMULATIVE,
         (D(2026, 2, 3), D(2026, 2, 9))),
        ({"metric": "sessions", "date_range": "last_28_days"}, Measure.CUMULATIVE,
         (D(2026, 1, 13), D(2026, 2, 9))),
        ({"metric": "sessions", "date_range": "last_90_days"}, Measure.CUMULATIVE,
         (D(2025, 11, 12), D(2026, 2, 9))),
        ({"metric": "sessions", "date_range": {"start": "2025-12-01", "end": "2025-12-31"}},
         Measure.CUMULATIVE, (D(2025, 12, 1), D(2025, 12, 31))),
        ({"metric": "bounceRate", "window": 7}, Measure.GAUGE, (D(2026, 2, 4), AS_OF)),
        ({"metric": "bounceRate"}, Measure.GAUGE, (D(2026, 1, 14), AS_OF)),  # default 28 days
    ],
)
def test_total_windows(
    query: dict[str, Any], measure: Measure, expected: tuple[dt.date, dt.date]
) -> None:
    assert window(query, measure) == expected


def test_cycle_window_is_clamped_to_the_cycle_end() -> None:
    assert window({"metric": "sessions"}, as_of=D(2026, 4, 20)) == (D(2026, 1, 1), D(2026, 3, 31))


def test_cumulative_reads_the_refresh_window_so_amounts_add_up() -> None:
    q, _ = parse_query({"metric": "sessions"})
    assert q is not None
    # the refresh asks for the days since the previous check-in: only those are read
    assert total_window(q, Measure.CUMULATIVE, CYCLE, AS_OF, D(2026, 2, 8)) == (D(2026, 2, 8),
                                                                                AS_OF)
    # a window starting before the cycle is cut at the cycle start
    assert total_window(q, Measure.CUMULATIVE, CYCLE, AS_OF, D(2025, 12, 1)) == (D(2026, 1, 1),
                                                                                 AS_OF)
    # a gauge's cycle range is the cycle to date whatever the refresh window
    q, _ = parse_query({"metric": "bounceRate", "date_range": "cycle"})
    assert q is not None
    assert total_window(q, Measure.GAUGE, CYCLE, AS_OF, AS_OF) == (D(2026, 1, 1), AS_OF)


def test_series_cells_cumulative_days_and_windowed_gauge() -> None:
    q, _ = parse_query({"metric": "sessions"})
    assert q is not None
    cells = cells_for(q, Measure.CUMULATIVE, CYCLE, D(2026, 1, 5), D(2026, 1, 7), True)
    assert [(c.point, c.start, c.end) for c in cells] == [
        (D(2026, 1, d), D(2026, 1, d), D(2026, 1, d)) for d in (5, 6, 7)]
    q, _ = parse_query({"metric": "bounceRate", "window": 3})
    assert q is not None
    cells = cells_for(q, Measure.GAUGE, CYCLE, D(2026, 1, 5), D(2026, 1, 6), True)
    assert [(c.point, c.start, c.end) for c in cells] == [
        (D(2026, 1, 5), D(2026, 1, 3), D(2026, 1, 5)),
        (D(2026, 1, 6), D(2026, 1, 4), D(2026, 1, 6))]


@pytest.mark.parametrize(
    ("query", "field", "fragment"),
    [
        ({}, "metric", "metric API name is required"),
        ({"metric": "bounce rate"}, "metric", "is not a GA4 API name"),
        ({"metric": "sessions", "date_range": "last_week"}, "date_range", "unknown date range"),
        ({"metric": "sessions", "date_range": {"start": "2026-02-01"}}, "date_range",
         "{start: YYYY-MM-DD"),
        ({"metric": "sessions", "date_range": {"start": "2026-02-02", "end": "2026-02-01"}},
         "date_range", "ends (2026-02-01) before it starts"),
        ({"metric": "sessions", "window": 0}, "window", "between 1 and 3650"),
        ({"metric": "sessions", "window": 7, "date_range": "cycle"}, "window", "not both"),
        ({"metric": "sessions", "empty": "null"}, "empty", "'zero' or 'error'"),
        ({"metric": "sessions", "scale": 0}, "scale", "non-zero number"),
        ({"metric": "sessions", "metrics": "x"}, "metrics", "unknown GA4 query key"),
        ({"metric": "sessions", "filter": 3}, "filter", "must be a string"),
    ],
)
def test_query_problems(query: dict[str, Any], field: str, fragment: str) -> None:
    problems = GA4Source.validate_query(query, key_result("k"))
    assert [p.field for p in problems] == [field]
    assert fragment in problems[0].message


def test_valid_query_has_no_problems_and_connection_key_is_ignored() -> None:
    query = {"connection": "ga", "metric": "customEvent:signup_value", "window": 7,
             "filter": 'pagePath =~ "^/blog/"', "empty": "zero", "scale": 100}
    assert GA4Source.validate_query(query, key_result("k", "gauge")) == []


@pytest.mark.parametrize("extra", [{"window": 7}, {"date_range": "last_7_days"},
                                   {"date_range": "yesterday"},
                                   {"date_range": {"start": "2026-01-01", "end": "2026-01-31"}}])
def test_cumulative_key_results_take_no_trailing_or_fixed_range(extra: dict[str, Any]) -> None:
    query = {"metric": "sessions", **extra}
    [problem] = GA4Source.validate_query(query, key_result("k", "cumulative"))
    assert problem.field in ("window", "date_range")
    assert "measure: gauge" in problem.message
    assert GA4Source.validate_query(query, key_result("k", "gauge")) == []
    assert GA4Source.validate_query({"metric": "sessions", "date_range": "cycle"},
                                    key_result("k", "cumulative")) == []


@pytest.mark.parametrize(
    ("metric", "zero"),
    [("sessions", True), ("activeUsers", True), ("totalRevenue", True), ("keyEvents", True),
     ("customEvent:signup_value", True), ("screenPageViews", True),
     ("bounceRate", False), ("engagementRate", False), ("sessionKeyEventRate", False),
     ("averageSessionDuration", False), ("sessionsPerUser", False), ("calcMetric:roas", False),
     ("keyEvents:sign_up", True), ("sessionKeyEventRate:sign_up", False)],
)
def test_which_metrics_are_zero_when_empty(metric: str, zero: bool) -> None:
    assert additive(metric) is zero


def test_empty_override() -> None:
    q, _ = parse_query({"metric": "bounceRate", "empty": "zero"})
    assert q is not None
    assert q.zero_when_empty()
    q, _ = parse_query({"metric": "sessions", "empty": "error"})
    assert q is not None
    assert not q.zero_when_empty()


def conn(endpoint: str | None = None, **settings: Any) -> Connection:
    return Connection("ga", "ga4", settings=settings, endpoint=endpoint)


@pytest.mark.parametrize(
    ("settings", "endpoint", "field", "fragment"),
    [
        ({}, None, "property", "property id is required"),
        ({"property": "G-ABC123"}, None, "property", "measurement/tracking id"),
        ({"property": "12ab"}, None, "property", "digits only"),
        ({"property": "1", "anonymous": True}, None, "anonymous", "only allowed together"),
        ({"property": "1", "anonymous": True, "credentials": "k.json"}, "http://x", "anonymous",
         "not both"),
        ({"property": "1", "transport": "http"}, None, "transport", "grpc or rest"),
        ({"property": "1", "concurrency": 0}, None, "concurrency", "1 to 50"),
        ({"property": "1", "page_size": 300000}, None, "page_size", "1 to 250000"),
        ({"property": "1", "quota_reserve": {"weekly": 3}}, None, "quota_reserve", "{hourly"),
        ({"property": "1", "token": "abc"}, None, "token", "unknown ga4 setting"),
        ({"property": "1", "credentials": 5}, None, "credentials", "env:NAME"),
        ({"property": "1", "settle_days": 9}, None, "settle_days", "0 to 7"),
    ],
)
def test_connection_problems(
    settings: dict[str, Any], endpoint: str | None, field: str, fragment: str
) -> None:
    problems = GA4Source.validate_connection(conn(endpoint, **settings))
    assert [p.field for p in problems] == [field]
    assert fragment in problems[0].message


def test_good_connection_and_limits() -> None:
    c = conn("http://127.0.0.1:1", property="properties/123", anonymous=True, concurrency=3)
    assert GA4Source.validate_connection(c) == []
    src = GA4Source(c)
    assert src.settings is not None
    assert src.settings.property_name == "properties/123"
    assert src.limits().concurrency == 3
    assert src.limits().max_batch >= 50
    assert GA4Source(conn(property=5)).limits().concurrency == 4
