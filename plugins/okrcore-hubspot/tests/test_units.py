"""Pure pieces of the hubspot source: throttle, Retry-After, aggregation, property values."""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from typing import Any

import pytest
from okrcore_hubspot.aggregate import Acc, parse_number, record_day, summarize
from okrcore_hubspot.query import Window, day_end_ms, day_start_ms

from okrcore.sources import Throttle, parse_retry_after


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_throttle_spaces_calls_at_the_declared_rate() -> None:
    clock = FakeClock()
    throttle = Throttle(4.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        throttle.wait()
    assert clock.slept == [0.25, 0.25, 0.25, 0.25]
    clock.now += 10  # after a pause, the next call goes at once
    throttle.wait()
    assert len(clock.slept) == 4


def test_retry_after_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 120, usegmt=True)
    assert 100 < (parse_retry_after(later) or 0) <= 120


def test_acc_merges_like_one_pass() -> None:
    values = [3.0, None, 1.5, 10.0, None, 4.0]
    left, right = summarize(values[:3]), summarize(values[3:])
    whole = summarize(values)
    assert left.merge(right) == whole
    assert (whole.value("count"), whole.value("sum"), whole.value("avg")) == (6.0, 18.5, 18.5 / 4)
    assert (whole.value("min"), whole.value("max")) == (1.5, 10.0)
    assert Acc().value("avg") is None
    assert Acc().value("sum") == 0.0


@pytest.mark.parametrize(("raw", "want"), [("1000", 1000.0), ("12.5", 12.5), ("", None),
                                           (None, None), (7, 7.0)])
def test_property_values(raw: Any, want: float | None) -> None:
    assert parse_number(raw) == want


@pytest.mark.parametrize("raw", ["abc", "NaN", "inf", True])
def test_non_numbers_are_refused(raw: Any) -> None:
    with pytest.raises(ValueError):
        parse_number(raw)


@pytest.mark.parametrize(("raw", "want"), [
    ("1767225600000", dt.date(2026, 1, 1)),
    ("2026-01-01T23:59:59.999Z", dt.date(2026, 1, 1)),
    ("2026-01-01T20:00:00-05:00", dt.date(2026, 1, 2)),
    ("2026-01-01", dt.date(2026, 1, 1)),
    ("", None),
])
def test_record_days_are_utc_days(raw: str, want: dt.date | None) -> None:
    assert record_day(raw) == want


def test_window_halves_cover_the_window_without_overlap() -> None:
    window = Window(day_start_ms(dt.date(2026, 1, 1)), day_end_ms(dt.date(2026, 1, 31)))
    low, high = window.halves()
    assert (low.low, high.high) == (window.low, window.high)
    assert high.low == low.high + 1
