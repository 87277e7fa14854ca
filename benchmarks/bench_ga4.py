"""Benchmark of the ga4 source: 1,000 key results over 10 GA4 properties.

Runs against the local fake GA4 Data API (plugins/okrcore-ga4/tests/fake_ga4.py) answering every
HTTP request after 150 ms, through the real google-analytics-data client (REST transport). The fake
runs in its own process so that its report arithmetic does not compete with the client for the GIL.

Three figures:

* batched: the plugin's ``batches()`` + ``fetch()``, connections in parallel and each within its
  ``limits().concurrency`` (the way the refresh engine drives a source; with ``--engine`` the real
  ``okrcore.refresh`` is used instead when it is available);
* naive: one ``runReport`` per key result in a plain loop with the same client. Sending 1,000
  requests at 150 ms takes 2.5 minutes, so by default the loop runs on a subset (``--naive N``,
  default 60) and the total is extrapolated linearly; the output says so;
* lower bound: the fewest calls that can answer the key results (distinct metrics per
  window+filter, 10 per report, 5 reports per call) and, per property, that many calls in waves of
  ``concurrency`` x 150 ms.

Usage: python benchmarks/bench_ga4.py [--krs 1000] [--properties 10] [--latency 0.15] [--naive 60]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import multiprocessing
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "okrcore-ga4" / "tests"))

from fake_ga4 import FakeGA4, row  # noqa: E402
from google.analytics.data_v1beta import BetaAnalyticsDataClient  # noqa: E402
from google.analytics.data_v1beta.types import DateRange, Metric, RunReportRequest  # noqa: E402
from google.auth.credentials import AnonymousCredentials  # noqa: E402
from okrcore_ga4 import GA4Source  # noqa: E402
from okrcore_ga4.filters import parse_filter, to_expression  # noqa: E402
from okrcore_ga4.query import parse_query, total_window  # noqa: E402

from okrcore.model import Connection, Cycle, KeyResult  # noqa: E402
from okrcore.sources import FetchRequest, Reading  # noqa: E402

CYCLE = Cycle("2026-Q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))
AS_OF = dt.date(2026, 3, 20)
METRICS = ["sessions", "activeUsers", "totalUsers", "newUsers", "keyEvents", "screenPageViews",
           "eventCount", "totalRevenue", "engagedSessions", "customEvent:signup_value"]
GAUGES = ["bounceRate", "engagementRate", "sessionKeyEventRate"]
FILTERS = [None, 'sessionDefaultChannelGroup == "Organic Search"', 'country in ["FR", "DE"]',
           'pagePath =~ "^/blog/"', 'sessionDefaultChannelGroup == "Paid Search" and not '
           'country == "US"']
RANGES: list[dict[str, Any]] = [{}, {"date_range": "last_7_days"},
                                {"date_range": "last_28_days"}, {"date_range": "yesterday"}]


def data() -> list[dict[str, Any]]:
    rows = []
    day = CYCLE.start
    while day <= CYCLE.end:
        for i, (c, h, p) in enumerate([(c, h, p) for c in ("FR", "DE", "US")
                                       for h in ("Organic Search", "Paid Search")
                                       for p in ("/blog/a", "/pricing")]):
            s = 10 + i + day.day % 5
            rows.append(row(day, country=c, sessionDefaultChannelGroup=h, pagePath=p,
                            sessions=s, engagedSessions=s // 2, keyEventSessions=2,
                            activeUsers=s - 1, totalUsers=s, newUsers=s // 3, keyEvents=3,
                            screenPageViews=2 * s, eventCount=5 * s, totalRevenue=i))
        day += dt.timedelta(days=1)
    return rows


def key_results(n: int, properties: list[str], rnd: random.Random) -> list[tuple[str, str, dict]]:
    """(kr_id, property, query): a mix of metrics, filters and date ranges."""
    out = []
    for i in range(n):
        prop = properties[i % len(properties)]
        if rnd.random() < 0.2:
            query: dict[str, Any] = {"metric": rnd.choice(GAUGES),
                                     "window": rnd.choice([7, 28])}
        else:
            query = {"metric": rnd.choice(METRICS), **rnd.choice(RANGES)}
        flt = rnd.choice(FILTERS)
        if flt:
            query["filter"] = flt
        out.append((f"kr{i:04d}", prop, query))
    return out


def fetch_request(src: GA4Source, kr_id: str, query: dict) -> FetchRequest:
    measure = "gauge" if "window" in query else "cumulative"
    kr = KeyResult(kr_id, kr_id, baseline=1, target=2, measure=measure)
    return FetchRequest(kr=kr, query=query, connection=src.connection, cycle=CYCLE,
                        start=CYCLE.start, end=AS_OF, as_of=AS_OF)


def batched(url: str, krs: list[tuple[str, str, dict]], properties: list[str],
            concurrency: int) -> tuple[float, int, int]:
    """The plugin as the engine drives it; returns (seconds, readings, failures)."""
    sources = {p: GA4Source(Connection(f"ga-{p}", "ga4", settings={
        "property": p, "anonymous": True, "transport": "rest", "concurrency": concurrency},
        endpoint=url)) for p in properties}
    by_prop: dict[str, list[FetchRequest]] = {p: [] for p in properties}
    for kr_id, prop, query in krs:
        by_prop[prop].append(fetch_request(sources[prop], kr_id, query))
    t0 = time.perf_counter()

    def run_connection(prop: str) -> list[Any]:
        src = sources[prop]
        with ThreadPoolExecutor(src.limits().concurrency) as pool:
            chunks = pool.map(lambda b: list(src.fetch(b)), src.batches(by_prop[prop]))
            return [r for chunk in chunks for r in chunk]

    with ThreadPoolExecutor(len(properties)) as pool:
        results = [r for rs in pool.map(run_connection, properties) for r in rs]
    seconds = time.perf_counter() - t0
    ok = sum(isinstance(r, Reading) for r in results)
    for src in sources.values():
        src.close()
    return seconds, ok, len(results) - ok


def naive(url: str, krs: list[tuple[str, str, dict]]) -> float:
    """One runReport per key result, one after the other."""
    client = BetaAnalyticsDataClient(transport="rest", credentials=AnonymousCredentials(),
                                     client_options={"api_endpoint": url})
    t0 = time.perf_counter()
    for _kr_id, prop, query in krs:
        q, _ = parse_query(query)
        assert q is not None
        measure = "gauge" if "window" in query else "cumulative"
        kind = KeyResult("x", "x", baseline=1, target=2, measure=measure).measure
        start, end = total_window(q, kind, CYCLE, AS_OF, CYCLE.start)
        req = RunReportRequest(property=f"properties/{prop}",
                               date_ranges=[DateRange(start_date=start.isoformat(),
                                                      end_date=end.isoformat())],
                               metrics=[Metric(name=q.metric)])
        if q.filter_text:
            req.dimension_filter = to_expression(parse_filter(q.filter_text))
        client.run_report(req)
    return time.perf_counter() - t0


def lower_bound(krs: list[tuple[str, str, dict]], properties: list[str], concurrency: int,
                latency: float) -> tuple[int, float]:
    """Fewest calls (10 metrics a report, 5 reports a call) and their time in parallel waves."""
    calls_total, waves = 0, 0
    for prop in properties:
        groups: dict[tuple, set[str]] = {}
        for _kr_id, p, query in krs:
            if p != prop:
                continue
            q, _ = parse_query(query)
            assert q is not None
            measure = KeyResult("x", "x", baseline=1, target=2,
                                measure="gauge" if "window" in query else "cumulative").measure
            key = (total_window(q, measure, CYCLE, AS_OF, CYCLE.start), q.filter_key)
            groups.setdefault(key, set()).add(q.metric)
        reports = sum(math.ceil(len(m) / 10) for m in groups.values())
        calls = math.ceil(reports / 5)
        calls_total += calls
        waves = max(waves, math.ceil(calls / concurrency))
    return calls_total, waves * latency


class Server:
    """The fake in a child process; ``stats()`` reads its counters, ``reset()`` clears them."""

    def __init__(self, properties: list[str], latency: float) -> None:
        self.conn, child = multiprocessing.Pipe()
        self.proc = multiprocessing.Process(target=_serve, args=(child, properties, latency),
                                            daemon=True)
        self.proc.start()
        self.url: str = self.conn.recv()

    def ask(self, command: str) -> Any:
        self.conn.send(command)
        return self.conn.recv()

    def stop(self) -> None:
        self.ask("stop")
        self.proc.join(5)


def _serve(conn: Any, properties: list[str], latency: float) -> None:
    rows = data()
    fake = FakeGA4(dict.fromkeys(properties, rows), delay=latency)
    conn.send(fake.start())
    while True:
        command = conn.recv()
        if command == "stats":
            reports = sum(len(c.body.get("requests", [c.body])) for c in fake.calls)
            conn.send((fake.call_count, reports, max(fake.max_in_flight.values(), default=0)))
        elif command == "reset":
            fake.calls.clear()
            fake.call_count = 0
            conn.send(None)
        else:
            fake.stop()
            conn.send(None)
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--krs", type=int, default=1000)
    parser.add_argument("--properties", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--naive", type=int, default=60, help="key results in the naive loop")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    properties = [str(100001 + i) for i in range(args.properties)]
    server = Server(properties, args.latency)
    krs = key_results(args.krs, properties, random.Random(7))
    try:
        seconds, ok, failed = batched(server.url, krs, properties, args.concurrency)
        sent, reports, max_flight = server.ask("stats")
        server.ask("reset")
        subset = krs[: min(args.naive, len(krs))]
        naive_seconds = naive(server.url, subset)
        naive_calls = server.ask("stats")[0]
    finally:
        server.stop()
    extrapolated = naive_seconds * len(krs) / len(subset)
    lb_calls, lb_seconds = lower_bound(krs, properties, args.concurrency, args.latency)

    print(f"ga4 benchmark: {len(krs)} key results over {len(properties)} properties, "
          f"{args.latency * 1000:.0f} ms per request, concurrency {args.concurrency} per property")
    print(f"  batched : {sent:5d} requests ({reports} reports), {seconds:7.2f} s wall, "
          f"{ok} readings, {failed} failures, max {max_flight} in flight per property")
    scope = "measured" if len(subset) == len(krs) else (
        f"measured on {len(subset)} KRs ({naive_calls} requests, {naive_seconds:.2f} s) "
        "and extrapolated linearly")
    print(f"  naive   : {len(krs):5d} requests, {extrapolated:7.2f} s wall ({scope})")
    print(f"  bound   : {lb_calls:5d} requests, {lb_seconds:7.2f} s wall "
          "(fewest calls; per property in waves of concurrency x latency)")
    print(f"  ratios  : requests naive/batched = {len(krs) / sent:.1f}x, "
          f"time naive/batched = {extrapolated / seconds:.1f}x, "
          f"batched/bound time = {seconds / lb_seconds:.2f}x, "
          f"requests batched/bound = {sent / lb_calls:.2f}x")


if __name__ == "__main__":
    main()
