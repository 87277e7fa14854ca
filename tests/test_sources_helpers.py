"""The helpers okrcore.sources offers source authors: Retry-After parsing and the HTTP session."""

from __future__ import annotations

import datetime as dt
import email.utils

import pytest

from okrcore.sources import http_session, parse_retry_after


@pytest.mark.parametrize(("value", "expected"), [("3", 3.0), ("0.5", 0.5), ("-4", 0.0)])
def test_retry_after_in_seconds(value: str, expected: float) -> None:
    assert parse_retry_after(value) == expected


@pytest.mark.parametrize("value", [None, "", "soon"])
def test_retry_after_absent_or_unreadable(value: str | None) -> None:
    assert parse_retry_after(value) is None


@pytest.mark.parametrize("usegmt", [True, False])
def test_retry_after_as_an_http_date(usegmt: bool) -> None:
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=120)
    # usegmt=False writes "-0000", which Python reads as a date without a zone: still UTC
    value = email.utils.format_datetime(later, usegmt=usegmt)
    assert 100 < (parse_retry_after(value) or 0) <= 120


def test_retry_after_in_the_past_is_zero() -> None:
    earlier = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    assert parse_retry_after(email.utils.format_datetime(earlier, usegmt=True)) == 0.0


def test_http_session_pools_and_names_itself_without_hidden_retries() -> None:
    session = http_session("okrcore-test/1.0", pool_size=6)
    adapter = session.get_adapter("https://example.invalid/")
    assert session.headers["User-Agent"] == "okrcore-test/1.0"
    assert adapter._pool_maxsize == 6  # type: ignore[attr-defined]
    assert adapter.max_retries.total == 0  # type: ignore[attr-defined]
