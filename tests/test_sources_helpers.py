"""The helpers okrcore.sources offers source authors: the default fetch over fetch_one, settings
checks, Retry-After parsing, pacing and the HTTP session."""

from __future__ import annotations

import datetime as dt
import email.utils

import pytest

from okrcore.model import Connection, Cycle, KeyResult
from okrcore.sources import (
    Failure,
    FailureKind,
    FetchError,
    FetchRequest,
    Reading,
    Source,
    Throttle,
    http_session,
    is_secret_reference,
    parse_retry_after,
    unknown_keys,
)

CYCLE = Cycle("q", dt.date(2026, 1, 1), dt.date(2026, 3, 31))


def request(kr_id: str) -> FetchRequest:
    kr = KeyResult(kr_id, kr_id, baseline=0, target=10)
    day = dt.date(2026, 2, 1)
    return FetchRequest(kr, {}, Connection("c", "one"), CYCLE, CYCLE.start, day, day)


class OneByOne(Source):
    name = "one"

    def fetch_one(self, request: FetchRequest) -> Reading:
        if request.kr.id == "slow":
            raise FetchError("transient", "busy", retry_after=2.0)
        return Reading.total(request, 7.0)


def test_default_fetch_calls_fetch_one_and_turns_fetch_errors_into_failures() -> None:
    ok, slow = request("ok"), request("slow")
    answers = list(OneByOne(ok.connection).fetch([ok, slow]))
    assert answers == [Reading.total(ok, 7.0), Failure(slow, FailureKind.TRANSIENT, "busy", 2.0)]


def test_a_source_without_fetch_or_fetch_one_says_so() -> None:
    with pytest.raises(NotImplementedError, match="Source implements neither"):
        list(Source(Connection("c", "x")).fetch([request("k")]))


def test_settings_checks() -> None:
    assert [is_secret_reference(v) for v in ("env:T", "file:t.txt", "abc", None, 3)] == [
        True, True, False, False, False]
    (problem,) = unknown_keys({"token": "env:T", "tokne": 1}, {"token", "timeout"})
    assert (problem.field, problem.message) == (
        "tokne", "unknown setting 'tokne' (known: timeout, token)")


def test_throttle_spaces_calls_by_the_rate() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    throttle = Throttle(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        throttle.wait()
    assert now[0] == 0.5  # calls at 0, 0.25 and 0.5 s
    unlimited = Throttle(None, clock=lambda: now[0], sleep=sleep)
    unlimited.wait()
    assert now[0] == 0.5


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
