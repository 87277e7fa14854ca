"""Distributed refresh throughput: N http_json key results at a fixed latency, refreshed by 1 and
by 4 ``okr worker`` processes on one PostgreSQL store through the task engine (procrastinate).

The fake API (127.0.0.1) answers each request after ``--latency`` seconds (100 ms). For each
worker count W, the script starts W workers on a fresh database (the store and its queue), waits
until they are up, then times ``okrcore.workers.enqueue`` until the run is complete in the run log.
The lower bound for W workers is N x latency / (W x C), C being the connection's concurrency (8,
the http_json default) with one job per worker at a time. Figures from one run; ``--repeats``
runs the contenders alternately and prints min and median.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and the workers extra.
Run:  python benchmarks/bench_workers.py [--krs 5000] [--latency 0.1] [--repeats 1]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg

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


def timed_run(plan: Path, workers: int, job_size: int) -> float:
    """Seconds from enqueue to the run's completion with ``workers`` workers already up."""
    url = fresh_database()
    store = open_store(url, create=True)
    engine = open_task_engine(url)
    engine.defer([])  # creates the queue's tables before the workers start
    procs = [subprocess.Popen([sys.executable, "-m", "okrcore.cli", "worker", "--store", url,
                               "--name", f"w{i}"], stderr=subprocess.DEVNULL)
             for i in range(workers)]
    try:
        while workers_up(url) < workers:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--krs", type=int, default=5000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per answer")
    parser.add_argument("--job-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    SlowHandler.latency = args.latency
    server = Server(("127.0.0.1", 0), SlowHandler)
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    counts = (1, 4)
    times: dict[int, list[float]] = {w: [] for w in counts}
    with tempfile.TemporaryDirectory() as folder:
        plan = Path(folder) / "okrs.yaml"
        plan.write_text(plan_text(url, args.krs))
        for _ in range(args.repeats):
            for w in counts:  # interleaved
                times[w].append(timed_run(plan, w, args.job_size))
    server.shutdown()
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    print(f"{args.krs} http_json key results at {args.latency * 1000:g} ms, connection "
          f"concurrency {CONCURRENCY}, jobs of {args.job_size}, {args.repeats} repeat(s)")
    print(f"{'workers':>8} {'min s':>8} {'median s':>9} {'bound s':>8} {'vs bound':>9}")
    for w in counts:
        bound = args.krs * args.latency / (w * CONCURRENCY)
        best = min(times[w])
        print(f"{w:>8} {best:>8.2f} {statistics.median(times[w]):>9.2f} {bound:>8.2f} "
              f"{best / bound:>8.2f}x")
    speedup = min(times[1]) / min(times[4])
    print(f"speed-up with 4 workers: {speedup:.2f}x (goal >= 3.5x); 4 workers within "
          f"{min(times[4]) / (args.krs * args.latency / (4 * CONCURRENCY)):.2f}x of the lower "
          "bound (goal <= 1.3x)")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
