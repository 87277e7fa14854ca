"""Helpers for the GA4 plugin tests: a quarter of daily rows, connections, requests (named
uniquely so that every plugin's tests can run in one pytest session)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Mapping
from typing import Any

from fake_ga4 import FakeGA4, row
from okrcore_ga4 import GA4Source

from okrcore.model import Connection, Cycle, KeyResult
from okrcore.sources import FetchRequest

PROPERTY = "1001"
CYCLE = Cycle("2026-Q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))
# "Now" for the source's clock: well after the cycle, so no day is partial.
NOW = dt.datetime(2026, 4, 15, 12, 0, tzinfo=dt.timezone.utc)
COUNTRIES = ("FR", "DE", "US")
CHANNELS = ("Organic Search", "Paid Search", "Direct")
PAGES = ("/blog/okrs", "/blog/kpis", "/pricing")


def dataset(
    start: dt.date = CYCLE.start, end: dt.date = dt.date(2026, 3, 31)
) -> list[dict[str, Any]]:
    """Daily rows; values vary with the day and the dimensions. No traffic on 2026-02-14."""
    rows = []
    day = start
    while day <= end:
        n = (day - start).days
        if day != dt.date(2026, 2, 14):
            for (ci, c), (hi, h), (pi, p) in itertools.product(
                enumerate(COUNTRIES), enumerate(CHANNELS), enumerate(PAGES)
            ):
                sessions = 10 + (n % 7) + 3 * ci + 2 * hi + pi
                rows.append(row(
                    day, country=c, sessionDefaultChannelGroup=h, pagePath=p,
                    deviceCategory="mobile" if (n + pi) % 2 else "desktop",
                    sessions=sessions,
                    engagedSessions=sessions // 2 + ci,
                    keyEventSessions=1 + (n + ci) % 3,
                    activeUsers=sessions - 2,
                    keyEvents=2 + (n % 3),
                    totalRevenue=5 * ci + hi,
                    screenPageViews=sessions * 2,
                ))
        day += dt.timedelta(days=1)
    return rows


def total(rows: list[dict[str, Any]], column: str, start: dt.date, end: dt.date,
          where: Callable[[Mapping[str, Any]], bool] = lambda r: True) -> float:
    """Independent sum of a base column over a window (for expected values)."""
    lo, hi = start.strftime("%Y%m%d"), end.strftime("%Y%m%d")
    return float(sum(r.get(column, 0) for r in rows if lo <= r["date"] <= hi and where(r)))


def connection(fake: FakeGA4, **settings: Any) -> Connection:
    base: dict[str, Any] = {"property": PROPERTY, "anonymous": True, "transport": "rest"}
    base.update(settings)
    return Connection("ga", "ga4", settings=base, endpoint=fake.url)


def source(fake: FakeGA4, clock: dt.datetime = NOW, **settings: Any) -> GA4Source:
    return GA4Source(connection(fake, **settings), clock=lambda: clock)


def key_result(kr_id: str, measure: str = "cumulative", **kw: Any) -> KeyResult:
    return KeyResult(kr_id, f"KR {kr_id}", baseline=kw.pop("baseline", 100),
                     target=kw.pop("target", 120), measure=measure, **kw)


def request(
    src: GA4Source,
    kr_id: str,
    query: Mapping[str, Any],
    *,
    measure: str = "cumulative",
    as_of: dt.date = dt.date(2026, 3, 31),
    start: dt.date | None = None,
    series: bool = False,
) -> FetchRequest:
    return FetchRequest(
        kr=key_result(kr_id, measure),
        query=dict(query),
        connection=src.connection,
        cycle=CYCLE,
        start=start or CYCLE.start,
        end=as_of,
        as_of=as_of,
        series=series,
    )


def run(src: GA4Source, requests: list[FetchRequest]) -> dict[str, Any]:
    """Batch like the engine does, fetch every batch, index results by key-result id."""
    out: dict[str, Any] = {}
    for batch in src.batches(requests):
        results = list(src.fetch(batch))
        assert len(results) == len(batch)
        assert {id(r.request) for r in results} == {id(r) for r in batch}
        for result in results:
            out[result.request.kr.id] = result
    return out
