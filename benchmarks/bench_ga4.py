"""Benchmark of the ga4 source: 1,000 key results over 10 GA4 properties.

Runs against the local fake GA4 Data API (plugins/okrcore-ga4/tests/fake_ga4.py) answering every
HTTP request after 150 ms, through the real google-analytics-data client (REST transport). The fake
runs in separate processes, one per property, so that its report arithmetic does not compete with
the client (or with other properties) for a GIL.

Key results: half cumulative (a daily series from the cycle start, as the refresh engine asks for
them), half gauges (rates and counts over yesterday, the last 7 or 28 days, a trailing window or
the cycle to date), each with one of five filters.

Three figures, interleaved in one run (``--repeats`` each, GC on; min and median):

* okrcore: ``okrcore.refresh`` (the real engine: connections in parallel, each within the source's
  ``limits().concurrency``, the plugin's ``batches()`` and ``fetch()``), stored in ``memory://``;
  the time until the last answer settled is printed apart from the time spent storing;
* baseline: what a competent user writes instead: one ``runReport`` per key result (a ``date``
  dimension for the cumulative ones) from a ``ThreadPoolExecutor(16)``, one client per property;
* lower bound: the fewest calls that can answer the key results (distinct metrics per
  window+filter, 10 per report, 5 reports per call) and, per property, that many calls in waves of
  ``concurrency`` x 150 ms.

Usage: python benchmarks/bench_ga4.py [--krs 1000] [--properties 10] [--latency 0.15] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import multiprocessing
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "okrcore-ga4" / "tests"))

from fake_ga4 import FakeGA4, row  # noqa: E402
from google.analytics.data_v1beta import BetaAnalyticsDataClient  # noqa: E402
from google.analytics.data_v1beta.types import (  # noqa: E402
    DateRange,
    Dimension,
    Metric,
    RunReportRequest,
)
from google.auth.credentials import AnonymousCredentials  # noqa: E402
from okrcore_ga4.filters import to_expression  # noqa: E402
from okrcore_ga4.query import GA4Query, parse_query, total_window  # noqa: E402

from okrcore import open_store  # noqa: E402
from okrcore.engine import refresh  # noqa: E402
from okrcore.model import Connection, Cycle, KeyResult, Measure, Objective, Plan  # noqa: E402
from okrcore.plugins import PluginManager  # noqa: E402

BASELINE_THREADS = 16
CYCLE = Cycle("2026-Q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))
AS_OF = dt.date(2026, 3, 20)
COUNTS = ["sessions", "activeUsers", "totalUsers", "newUsers", "keyEvents", "screenPageViews",
          "eventCount", "totalRevenue", "engagedSessions", "customEvent:signup_value"]
RATES = ["bounceRate", "engagementRate", "sessionKeyEventRate"]
FILTERS = [None, 'sessionDefaultChannelGroup == "Organic Search"', 'country in ["FR", "DE"]',
           'pagePath =~ "^/blog/"', 'sessionDefaultChannelGroup == "Paid Search" and not '
           'country == "US"']
GAUGE_RANGES: list[dict[str, Any]] = [{"date_range": "yesterday"}, {"date_range": "last_7_days"},
                                      {"date_range": "last_28_days"}, {"window": 7},
                                      {"date_range": "cycle"}]


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


def key_results(n: int, properties: list[str], rnd: random.Random) -> list[KeyResult]:
    """A mix of cumulative counts and gauges over several windows, with filters."""
    out = []
    for i in range(n):
        prop = properties[i % len(properties)]
        source: dict[str, Any] = {"connection": f"ga-{prop}"}
        if rnd.random() < 0.5:
            measure = "cumulative"
            source["metric"] = rnd.choice(COUNTS)
        else:
            measure = "gauge"
            source["metric"] = rnd.choice(RATES + COUNTS[:3])
            source.update(rnd.choice(GAUGE_RANGES))
        flt = rnd.choice(FILTERS)
        if flt:
            source["filter"] = flt
        out.append(KeyResult(f"kr{i:04d}", f"KR {i}", baseline=1, target=2, measure=measure,
                             source=source))
    return out


def make_plan(urls: dict[str, str], krs: list[KeyResult], properties: list[str],
              concurrency: int) -> Plan:
    connections = {f"ga-{p}": Connection(f"ga-{p}", "ga4", settings={
        "property": p, "anonymous": True, "transport": "rest", "concurrency": concurrency},
        endpoint=urls[p]) for p in properties}
    objective = Objective("o", "Grow", cycle=CYCLE.id, key_results=krs)
    return Plan(cycles=[CYCLE], objectives=[objective], connections=connections)


def with_okrcore(plan: Plan) -> tuple[float, float, int, int, int]:
    """The real refresh engine; returns (seconds, fetch seconds, refreshed, failed, check-ins)."""
    manager = PluginManager(load_entry_points=False)
    manager.load_module("okrcore_ga4.plugin")
    settled: list[float] = []
    t0 = time.perf_counter()
    result = refresh(plan, open_store("memory://"), at=AS_OF, manager=manager,
                     on_result=lambda _req, _answer: settled.append(time.perf_counter()))
    seconds = time.perf_counter() - t0
    ok = sum(o.status == "refreshed" for o in result.run.outcomes)
    stored = sum(o.stored for o in result.run.outcomes)
    return seconds, max(settled) - t0, ok, len(result.run.outcomes) - ok, stored


def window_of(kr: KeyResult) -> tuple[GA4Query, dt.date, dt.date, bool]:
    """What the engine asks for: a daily series for cumulative, a total for gauges."""
    assert kr.source is not None
    q, _ = parse_query(kr.source)
    assert q is not None
    if kr.measure is Measure.CUMULATIVE:
        return q, CYCLE.start, AS_OF, True
    start, end = total_window(q, kr.measure, CYCLE, AS_OF, CYCLE.start)
    return q, start, end, False


def baseline(urls: dict[str, str], krs: list[KeyResult]) -> float:
    """One runReport per key result from a ThreadPoolExecutor(16), one client per property (the
    client's REST transport is a pooled requests session): what a competent user writes."""
    clients = {p: BetaAnalyticsDataClient(transport="rest", credentials=AnonymousCredentials(),
                                          client_options={"api_endpoint": url})
               for p, url in urls.items()}

    def one(kr: KeyResult) -> int:
        assert kr.source is not None
        client = clients[kr.source["connection"][3:]]
        q, start, end, series = window_of(kr)
        req = RunReportRequest(property=f"properties/{kr.source['connection'][3:]}",
                               date_ranges=[DateRange(start_date=start.isoformat(),
                                                      end_date=end.isoformat())],
                               metrics=[Metric(name=q.metric)])
        if series:
            req.dimensions = [Dimension(name="date")]
        if q.filter is not None:
            req.dimension_filter = to_expression(q.filter)
        return len(client.run_report(req).rows)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(BASELINE_THREADS) as pool:
        list(pool.map(one, krs))
    return time.perf_counter() - t0


def lower_bound(krs: list[KeyResult], properties: list[str], concurrency: int,
                latency: float) -> tuple[int, float]:
    """Fewest calls (10 metrics a report, 5 reports a call) and their time in parallel waves."""
    calls_total, waves = 0, 0
    for prop in properties:
        groups: dict[tuple[Any, ...], set[str]] = {}
        for kr in krs:
            assert kr.source is not None
            if kr.source["connection"] != f"ga-{prop}":
                continue
            q, start, end, series = window_of(kr)
            groups.setdefault((start, end, series, q.filter_key), set()).add(q.metric)
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
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--krs", type=int, default=1000)
    parser.add_argument("--properties", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    properties = [str(100001 + i) for i in range(args.properties)]
    servers = {p: Server([p], args.latency) for p in properties}
    urls = {p: srv.url for p, srv in servers.items()}
    krs = key_results(args.krs, properties, random.Random(7))
    plan = make_plan(urls, krs, properties, args.concurrency)
    runs: list[tuple[float, float, int, int, int]] = []
    base: list[float] = []
    try:
        for _ in range(args.repeats):  # interleaved, GC on: the machine's load hits both alike
            for srv in servers.values():
                srv.ask("reset")
            runs.append(with_okrcore(plan))
            stats = [srv.ask("stats") for srv in servers.values()]
            for srv in servers.values():
                srv.ask("reset")
            base.append(baseline(urls, krs))
            base_calls = sum(srv.ask("stats")[0] for srv in servers.values())
    finally:
        for srv in servers.values():
            srv.stop()
    sent, reports = sum(s[0] for s in stats), sum(s[1] for s in stats)
    max_flight = max(s[2] for s in stats)
    seconds = [r[0] for r in runs]
    fetching = [r[1] for r in runs]
    storing = [r[0] - r[1] for r in runs]
    _, _, ok, failed, stored = runs[-1]
    lb_calls, lb_seconds = lower_bound(krs, properties, args.concurrency, args.latency)
    best, best_base = min(seconds), min(base)

    def mm(values: list[float]) -> str:
        return f"min {min(values):6.2f} s, median {statistics.median(values):6.2f} s"

    print(f"ga4 benchmark: {len(krs)} key results over {len(properties)} properties, "
          f"{args.latency * 1000:.0f} ms per request, concurrency {args.concurrency} per property, "
          f"{args.repeats} repeats interleaved")
    print(f"  okrcore  : {sent:5d} requests ({reports} reports), {mm(seconds)}; "
          f"{ok} refreshed, {failed} failed, max {max_flight} in flight per property")
    print(f"             answers all in after {mm(fetching)}; storing {stored} check-ins in "
          f"memory:// takes the rest, {statistics.median(storing):.2f} s "
          f"({statistics.median(storing) / statistics.median(seconds):.0%} of the run)")
    print(f"  baseline : {base_calls:5d} requests (one runReport per key result, "
          f"ThreadPoolExecutor({BASELINE_THREADS})), {mm(base)}")
    print(f"  bound    : {lb_calls:5d} requests, {lb_seconds:6.2f} s "
          "(fewest calls; per property in waves of concurrency x latency)")
    print(f"  ratios   : okrcore/baseline time {best / best_base:.2f}x, "
          f"requests baseline/okrcore {base_calls / sent:.1f}x, "
          f"okrcore/bound time {best / lb_seconds:.2f}x, requests okrcore/bound "
          f"{sent / lb_calls:.2f}x")


if __name__ == "__main__":
    main()
