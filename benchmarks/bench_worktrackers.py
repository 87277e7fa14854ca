"""Benchmark of the notion and jira sources: 200 key results over 5 Notion databases and 5 Jira
projects with 2,000 items each, every request answered after 100 ms.

Runs against the local fakes of the plugins' tests (plugins/okrcore-notion/tests/notion_fake.py,
plugins/okrcore-jira/tests/jira_fake.py), each in its own process so that their JSON encoding
does not compete with the client for a GIL. Half the key results are cumulative completion
counts (a daily series from the cycle start, as the refresh engine asks for them), half gauges
(share done, open items), each filtered by one property of its database or project.

Three figures:

* okrcore: ``okrcore.refresh`` (the real engine and plugins: one connection per service with
  ``concurrency`` 5 and ``requests_per_second`` raised to ``--rate``, so that the run measures
  the paging rather than the pacing), stored in ``memory://``;
* baseline: what a competent user writes without okrcore: a ``ThreadPoolExecutor`` of 5 threads
  over a shared ``requests.Session``, reading each key result's database or JQL to the end (with
  its filter sent to the service) and counting. It sends far more requests, so by default it runs
  on a subset (``--baseline N`` key results, default 20) and its total is extrapolated linearly;
  the output says so;
* lower bound: the fewest requests the paging rules allow (per Notion database: one read of its
  data sources and 2,000 / 100 query pages; per Jira JQL: 2,000 / 100 search pages, Jira's page
  size when fields are asked for) and the time of the longest chain of dependent pages (cursor
  paging is sequential), or of all requests at ``--rate``, whichever is longer. With 5
  databases and 5 projects read 5 at a time per connection, the chain is one database's: its
  data sources, then its 20 pages one after another, 21 x 100 ms = 2.1 s. The bound counts the
  latency only: what the fakes spend building and encoding an answer, what the client spends
  decoding it and computing 200 key results from 20,000 items, and storing 8,000 check-ins
  are all in the measured time and none in the bound, so time okrcore/bound is an upper
  estimate of okrcore's own overhead (it grows with the machine's load: the output gives it).

Usage: python benchmarks/bench_worktrackers.py [--items 2000] [--latency 0.1] [--rate 100]
       [--baseline 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import math
import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "okrcore-notion" / "tests"))
sys.path.insert(0, str(ROOT / "plugins" / "okrcore-jira" / "tests"))

import jira_fake  # noqa: E402
import notion_fake  # noqa: E402

from okrcore import open_store  # noqa: E402
from okrcore.engine import refresh  # noqa: E402
from okrcore.model import Connection, Cycle, KeyResult, Objective, Plan  # noqa: E402
from okrcore.plugins import PluginManager  # noqa: E402
from okrcore.testing import serve  # noqa: E402

CYCLE = Cycle("2026-Q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))
AS_OF = dt.date(2026, 3, 20)
SETS = 5  # databases, and projects
KRS_PER_SET = 20  # per database and per project: 200 in all
TEAMS = ["Growth", "Brand", "Content", "Web"]
SCHEMA = {"Name": "title", "Status": "status", "Team": "select", "Completed": "date"}


def database_id(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def day(i: int, spread: int) -> dt.date:
    return dt.date(2026, 1, 1) + dt.timedelta(days=i % spread)


def fill_notion(fake: notion_fake.FakeNotion, items: int) -> None:
    for d in range(SETS):
        (ds,) = fake.add_database(database_id(d), SCHEMA)
        for i in range(items):
            done = i % 3 != 0
            fake.add_page(ds, day(i, 40), Name=f"Task {i}", Status="Done" if done else "To do",
                          Team=TEAMS[i % 4], Completed=day(i + 20, 70) if done else None)


def fill_jira(fake: jira_fake.FakeJira, items: int) -> None:
    for p in range(SETS):
        for i in range(items):
            done = i % 3 != 0
            fake.add(f"P{p}", day(i, 40), status="Done" if done else "In Progress",
                     resolved=day(i + 20, 70) if done else None, labels=[TEAMS[i % 4].lower()])


def key_results() -> list[KeyResult]:
    out = []
    for s in range(SETS):
        for k in range(KRS_PER_SET):
            cumulative = k % 2 == 0
            team = TEAMS[k % 4]
            notion: dict[str, Any] = {"connection": "notion", "database": database_id(s),
                                      "where": {"Team": team}}
            jira: dict[str, Any] = {"connection": "jira", "jql": f"project = P{s}",
                                    "where": {"labels": team.lower()}}
            for system, source in (("n", notion), ("j", jira)):
                if cumulative:
                    source["completed_on"] = "Completed" if system == "n" else "resolutiondate"
                    measure = "cumulative"
                else:
                    source["metric"] = "percent_done" if k % 4 == 1 else "open"
                    measure = "gauge"
                out.append(KeyResult(f"{system}{s}-{k:02d}", f"KR {system}{s}-{k}", baseline=0,
                                     target=100, measure=measure, source=source))
    return out


def make_plan(urls: dict[str, str], krs: list[KeyResult], rate: float) -> Plan:
    common = {"concurrency": SETS, "requests_per_second": rate}
    connections = {
        "notion": Connection("notion", "notion", {"token": "env:BENCH_NOTION_TOKEN", **common},
                             endpoint=urls["notion"]),
        "jira": Connection("jira", "jira", {"email": jira_fake.EMAIL,
                                            "token": "env:BENCH_JIRA_TOKEN", **common},
                           endpoint=urls["jira"]),
    }
    objective = Objective("o", "Ship", cycle=CYCLE.id, key_results=krs)
    return Plan(cycles=[CYCLE], objectives=[objective], connections=connections)


def with_okrcore(plan: Plan) -> tuple[float, int, int]:
    """The real refresh engine; returns (seconds, refreshed, failed)."""
    manager = PluginManager(load_entry_points=False)
    manager.load_module("okrcore_notion.plugin")
    manager.load_module("okrcore_jira.plugin")
    t0 = time.perf_counter()
    result = refresh(plan, open_store("memory://"), at=AS_OF, manager=manager)
    seconds = time.perf_counter() - t0
    ok = sum(o.status == "refreshed" for o in result.run.outcomes)
    return seconds, ok, len(result.run.outcomes) - ok


def baseline(urls: dict[str, str], krs: list[KeyResult]) -> float:
    """Each key result's items read to the end, 5 at a time over one Session."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=SETS)
    session.mount("http://", adapter)
    notion_headers = {"Authorization": f"Bearer {notion_fake.TOKEN}",
                      "Notion-Version": "2025-09-03"}
    jira_headers = {"Authorization": jira_fake.BASIC}
    sources: dict[str, str] = {}

    def one(kr: KeyResult) -> int:
        assert kr.source is not None
        src = kr.source
        items = 0
        if src["connection"] == "notion":
            db = src["database"]
            if db not in sources:
                answer = session.get(f"{urls['notion']}/v1/databases/{db}",
                                     headers=notion_headers).json()
                sources[db] = answer["data_sources"][0]["id"]
            body: dict[str, Any] = {"page_size": 100, "filter": {
                "property": "Team", "select": {"equals": src["where"]["Team"]}}}
            while True:
                page = session.post(f"{urls['notion']}/v1/data_sources/{sources[db]}/query",
                                    json=body, headers=notion_headers).json()
                items += len(page["results"])
                if not page["has_more"]:
                    return items
                body["start_cursor"] = page["next_cursor"]
        body = {"jql": f"{src['jql']} AND labels = {src['where']['labels']}",
                "fields": ["status", "created", "resolutiondate"], "maxResults": 5000}
        while True:
            page = session.post(f"{urls['jira']}/rest/api/3/search/jql", json=body,
                                headers=jira_headers).json()
            items += len(page["issues"])
            if page.get("isLast", True):
                return items
            body["nextPageToken"] = page["nextPageToken"]

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=SETS) as pool:
        list(pool.map(one, krs))
    return time.perf_counter() - t0


def lower_bound(items: int, latency: float, rate: float) -> tuple[int, int, float]:
    """(Notion requests, Jira requests, seconds): the paging rules' minimum and its time."""
    pages = math.ceil(items / 100)
    notion_calls, jira_calls = SETS * (1 + pages), SETS * pages
    chain = (1 + pages) * latency  # one database: discovery, then its pages one after another
    pacing = max(notion_calls, jira_calls) / rate  # each connection paces its own calls
    return notion_calls, jira_calls, max(chain, pacing)


class Server:
    """One fake in a child process; ``ask("stats")`` counts its calls, ``ask("reset")``."""

    def __init__(self, kind: str, items: int, latency: float) -> None:
        self.conn, child = multiprocessing.Pipe()
        self.proc = multiprocessing.Process(target=_serve, args=(child, kind, items, latency),
                                            daemon=True)
        self.proc.start()
        self.url: str = self.conn.recv()

    def ask(self, command: str) -> Any:
        self.conn.send(command)
        return self.conn.recv()


def _serve(conn: Any, kind: str, items: int, latency: float) -> None:
    if kind == "notion":
        fake: Any = notion_fake.FakeNotion()
        fill_notion(fake, items)
        handler: Any = notion_fake.Handler
    else:
        fake = jira_fake.FakeJira()
        fill_jira(fake, items)
        handler = jira_fake.Handler
    fake.delay = latency
    with serve(type("H", (handler,), {"fake": fake})) as url:
        conn.send(url)
        while True:
            command = conn.recv()
            if command == "stats":
                conn.send(len(fake.calls))
            elif command == "reset":
                fake.calls.clear()
                conn.send(None)
            else:
                conn.send(None)
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000, help="items per database/project")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--rate", type=float, default=100.0, help="requests_per_second")
    parser.add_argument("--baseline", type=int, default=20, help="key results in the baseline")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    os.environ["BENCH_NOTION_TOKEN"] = notion_fake.TOKEN
    os.environ["BENCH_JIRA_TOKEN"] = jira_fake.TOKEN
    servers = {k: Server(k, args.items, args.latency) for k in ("notion", "jira")}
    urls = {k: s.url for k, s in servers.items()}
    krs = key_results()
    plan = make_plan(urls, krs, args.rate)
    # the baseline's subset keeps the mix: alternate Notion and Jira key results
    subset = [kr for pair in zip(krs[0::2], krs[1::2], strict=True) for kr in pair][: args.baseline]
    ours: list[float] = []
    theirs: list[float] = []
    sent: dict[str, int] = {}
    ok = failed = base_calls = 0
    try:
        for _ in range(args.repeats):  # interleaved: okrcore, then the baseline, each repeat
            gc.collect()
            seconds, ok, failed = with_okrcore(plan)
            ours.append(seconds)
            sent = {k: s.ask("stats") for k, s in servers.items()}
            for s in servers.values():
                s.ask("reset")
            gc.collect()
            theirs.append(baseline(urls, subset))
            base_calls = sum(s.ask("stats") for s in servers.values())
            for s in servers.values():
                s.ask("reset")
    finally:
        for s in servers.values():
            s.ask("stop")
    n_notion, n_jira, bound = lower_bound(args.items, args.latency, args.rate)
    scale = len(krs) / len(subset)
    best, median = min(ours), statistics.median(ours)
    base_best = min(theirs) * scale

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"worktrackers benchmark: {len(krs)} key results over {SETS} Notion databases and "
          f"{SETS} Jira projects, {args.items} items each, {args.latency * 1000:.0f} ms per "
          f"request, concurrency {SETS}, {args.rate:g} requests/s per connection, "
          f"{args.repeats} repeats; load average {load} on {os.cpu_count()} CPUs")
    print(f"  okrcore : {sent['notion']:5d} Notion + {sent['jira']:5d} Jira requests, "
          f"min {best:6.2f} s, median {median:6.2f} s wall; {ok} refreshed, {failed} failed")
    print(f"  baseline: {round(base_calls * scale):5d} requests, min {base_best:6.2f} s wall "
          f"(measured on {len(subset)} KRs: {base_calls} requests, {min(theirs):.2f} s; "
          "extrapolated linearly)")
    print(f"  bound   : {n_notion:5d} Notion + {n_jira:5d} Jira requests, {bound:6.2f} s wall "
          "(paging minimum; longest chain of dependent pages, or all requests at the rate)")
    total = sent["notion"] + sent["jira"]
    print(f"  ratios  : requests okrcore/bound = {total / (n_notion + n_jira):.2f}x, "
          f"time okrcore/bound = {best / bound:.2f}x (median {median / bound:.2f}x), "
          f"time baseline/okrcore = {base_best / best:.1f}x")


if __name__ == "__main__":
    main()
