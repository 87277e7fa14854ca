"""Distributed refresh throughput: N http_json key results at a fixed latency, refreshed by 1 and
by 4 ``okr worker`` processes on one PostgreSQL store through the task engine (procrastinate).

The fake API runs in a process of its own (127.0.0.1) and answers each request after
``--latency`` seconds (100 ms). For each worker count W, the script starts W workers on a fresh
database (the store and its queue), waits until they are up, then times ``okrcore.workers.enqueue``
until the run is complete in the run log: reading and splitting the plan, queueing the jobs, the
workers' fetching and storing, and the merges into the run log are all inside the time. Each run
has a fresh cache of parsed plans (``OKRCORE_CACHE_DIR``), shared by the enqueuing process and
the workers, as on one machine running both; ``--cold-workers`` gives the workers a cache of
their own, as on machines that did not enqueue (they then parse the plan once between them).

The lower bound for W workers: a connection makes at most C calls at once per job (its
``concurrency``, 8 here) and a worker runs one job at a time, so at most W x C calls are in flight
and N key results need at least ceil(N / (W x C)) sequential rounds of one latency each. Before
the first call, the plan has to be read once by someone: that start-up is the time PyYAML's C
loader takes to read the file into plain dicts (measured in this run), the least any tool must
spend to know what to fetch. Splitting the run into jobs of ``--job-size`` key results is
okrcore's choice, so its rounding (100 = 12.5 rounds of 8) counts against okrcore, not in the
bound. Figures from one run; ``--repeats`` runs the contenders alternately and prints min and
median.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and the workers extra.
Run:  python benchmarks/bench_workers.py [--krs 5000] [--latency 0.1] [--repeats 1]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import psycopg
import yaml

from okrcore.store import open_store
from okrcore.workers import enqueue, open_task_engine
from okrcore.workers.runlog import find_run

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
DATABASE = f"okr_team_bench_{os.getpid()}"  # its own: runs sharing the server never meet
CONCURRENCY = 8


class SlowHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real APIs
    disable_nagle_algorithm = True
    latency = 0.1

    def do_GET(self) -> None:
        time.sleep(self.latency)
        body = json.dumps({"v": int(self.path.rsplit("/", 1)[-1])}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512


def plan_text(url: str, n: int) -> str:
    today = dt.date.today()
    krs = "\n".join(
        f"      - {{id: kr{i}, title: Metric {i}, baseline: 0, target: 100000, "
        f"source: {{connection: api, url: /m/{i}, value: $.v}}}}" for i in range(n))
    return (f"okrcore: 1\ncycles:\n  - {{id: q, start: {today - dt.timedelta(days=5)}, "
            f"end: {today + dt.timedelta(days=60)}}}\n"
            f"connections:\n  api: {{plugin: http_json, endpoint: \"{url}\", "
            f"concurrency: {CONCURRENCY}}}\n"
            f"objectives:\n  - id: o\n    title: Everything\n    cycle: q\n    key_results:\n"
            f"{krs}\n")


def fresh_database() -> str:
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    return f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"


def workers_up(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT to_regclass('procrastinate_workers')").fetchone()
        if row is None or row[0] is None:
            return 0
        count = conn.execute("SELECT COUNT(*) FROM procrastinate_workers").fetchone()
    return int(count[0]) if count else 0


def timed_run(plan: Path, workers: int, job_size: int, cold_workers: bool) -> float:
    """Seconds from enqueue to the run's completion with ``workers`` workers already up."""
    url = fresh_database()
    # a cache of parsed plans of its own: no run finds what an earlier one left
    os.environ["OKRCORE_CACHE_DIR"] = tempfile.mkdtemp(prefix="okr-bench-cache-")
    store = open_store(url, create=True)
    engine = open_task_engine(url)
    engine.defer([])  # creates the queue's tables before the workers start
    env = dict(os.environ)
    if cold_workers:
        env["OKRCORE_CACHE_DIR"] = tempfile.mkdtemp(prefix="okr-bench-workers-cache-")
    procs = [subprocess.Popen([sys.executable, "-m", "okrcore.cli", "worker", "--store", url,
                               "--name", f"w{i}"], stderr=subprocess.DEVNULL, env=env)
             for i in range(workers)]
    try:
        while workers_up(url) < workers:
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"a worker exited at start (okr worker --store {url})")
            time.sleep(0.2)
        started = time.perf_counter()
        run = enqueue(plan, store, engine, job_size=job_size)
        # the run's head only: reading 5,000 outcomes 20 times a second would take the CPU the
        # workers need (the machine has few cores)
        while find_run(store, run.id, outcomes=False).finished_at is None:
            time.sleep(0.05)
        took = time.perf_counter() - started
        done = find_run(store, run.id)
        refreshed = sum(1 for o in done.outcomes if o.status == "refreshed")
        if refreshed != len(done.outcomes):
            raise SystemExit(f"{workers} worker(s): only {refreshed} of {len(done.outcomes)} "
                             "key results refreshed")
        return took
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        store.close()


def serve(latency: float, port: Queue[int]) -> None:
    """The fake API, in a process of its own: its work is not on the benchmark's interpreter."""
    SlowHandler.latency = latency
    server = Server(("127.0.0.1", 0), SlowHandler)
    port.put(server.server_address[1])
    server.serve_forever()


def plan_read_seconds(plan: Path) -> float:
    """The least time to read the plan into plain dicts (PyYAML's C loader, best of 3)."""
    text = plan.read_text()
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        yaml.load(text, Loader=yaml.CSafeLoader)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--krs", type=int, default=5000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per answer")
    parser.add_argument("--job-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--cold-workers", action="store_true",
                        help="workers do not share the enqueuing process's plan cache")
    args = parser.parse_args()
    port: Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(args.latency, port), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port.get(timeout=30)}"
    counts = (1, 4)
    times: dict[int, list[float]] = {w: [] for w in counts}
    with tempfile.TemporaryDirectory() as folder:
        plan = Path(folder) / "okrs.yaml"
        plan.write_text(plan_text(url, args.krs))
        start_up = plan_read_seconds(plan)
        for _ in range(args.repeats):
            for w in counts:  # interleaved
                times[w].append(timed_run(plan, w, args.job_size, args.cold_workers))
    server.terminate()
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    print(f"{args.krs} http_json key results at {args.latency * 1000:g} ms, connection "
          f"concurrency {CONCURRENCY}, jobs of {args.job_size}, {args.repeats} repeat(s)"
          f"{', cold workers' if args.cold_workers else ''}; load average before: "
          f"{LOAD_BEFORE}")
    print(f"{'workers':>8} {'min s':>8} {'median s':>9} {'bound s':>8} {'vs bound':>9}")
    bounds = {}
    for w in counts:
        rounds = math.ceil(args.krs / (w * CONCURRENCY))
        bounds[w] = rounds * args.latency + start_up
        best = min(times[w])
        print(f"{w:>8} {best:>8.2f} {statistics.median(times[w]):>9.2f} {bounds[w]:>8.2f} "
              f"{best / bounds[w]:>8.2f}x")
    print(f"bound = ceil(N / (W x {CONCURRENCY})) rounds x {args.latency:g} s + reading the plan "
          f"once ({start_up:.2f} s)")
    speedup = min(times[1]) / min(times[4])
    print(f"speed-up with 4 workers: {speedup:.2f}x (goal >= 3.5x); 4 workers within "
          f"{min(times[4]) / bounds[4]:.2f}x of the lower bound (goal <= 1.3x)")


if __name__ == "__main__":
    LOAD_BEFORE = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    with contextlib.suppress(KeyboardInterrupt):
        main()
