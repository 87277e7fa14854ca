"""Refresh engine throughput: 1,000 key results on ``http_json`` against a slow local server.

The server (127.0.0.1) answers every request after a fixed latency (100 ms by default). In one
run, interleaved (GC on), ``--repeats`` times each, the script times:

- okrcore: ``okrcore.refresh`` with its defaults (the ``http_json`` connection's default
  concurrency, ``memory://`` and a fresh ``sqlite://`` file store), as ``okr refresh`` runs it;
- baseline: what a competent user writes instead: a ``ThreadPoolExecutor(16)`` over the same URLs
  with one ``requests.Session`` (pool of 16), reading the value from each JSON answer and keeping
  it in a dict;
- the engine's lower bound for its limits: at most ``concurrency`` calls are in flight, so N key
  results need ceil(N / concurrency) sequential rounds of one latency each (the plan is already
  in memory for all contenders: no start-up).

The server runs in a process of its own, as a remote API does: its work is not on the
interpreter of the contenders (it used to be, which charged both sides for the server's CPU). It
prints min and median of each, the ratios okrcore / baseline and okrcore / bound, and the load
average before the run (the machine's other work slows every contender).

Run:  python benchmarks/bench_refresh.py [--krs 1000] [--latency 0.1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import requests
import requests.adapters

import okrcore
from okrcore.default_plugins.sources import HttpJsonSource
from okrcore.model import Connection, Cycle, KeyResult, Objective, Plan
from okrcore.plugins import PluginManager

BASELINE_THREADS = 16


class SlowHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real APIs
    latency = 0.1
    # Headers and body in one segment: with Nagle's algorithm a second small write on a reused
    # connection waits for the client's delayed ACK (about 40 ms), which is the server's cost.
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024

    def do_GET(self) -> None:
        time.sleep(self.latency)
        n = int(self.path.rsplit("/", 1)[-1])
        data = json.dumps({"data": {"value": n}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def make_plan(url: str, krs: int) -> Plan:
    key_results = [
        KeyResult(f"kr{i}", f"Metric {i}", baseline=0, target=10_000,
                  source={"connection": "api", "url": f"/metric/{i}", "value": "$.data.value"})
        for i in range(krs)
    ]
    today = dt.date.today()
    cycle = Cycle("now", today - dt.timedelta(days=10), today + dt.timedelta(days=80))
    objectives = [Objective(f"o{j}", f"Objective {j}", "now", key_results=key_results[j::50])
                  for j in range(min(50, krs))]
    conn = Connection("api", "http_json", {}, endpoint=url)  # defaults, as a user writes it
    return Plan(cycles=[cycle], objectives=objectives, connections={"api": conn})


def with_okrcore(plan: Plan, store_url: str, krs: int) -> float:
    store = okrcore.open_store(store_url)
    try:
        started = time.perf_counter()
        result = okrcore.refresh(plan, store, manager=PluginManager(load_entry_points=False))
        seconds = time.perf_counter() - started
        assert len(result.by_status("refreshed")) == krs, result.to_dict()["failed"][:3]
    finally:
        store.close()
    return seconds


def baseline(url: str, krs: int) -> float:
    """A thread pool with one pooled Session: the loop a competent user writes."""
    started = time.perf_counter()
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=BASELINE_THREADS)
    session.mount("http://", adapter)

    def get(i: int) -> tuple[int, float]:
        answer = session.get(f"{url}/metric/{i}", timeout=30)
        answer.raise_for_status()
        return i, float(answer.json()["data"]["value"])

    with ThreadPoolExecutor(BASELINE_THREADS) as pool:
        values = dict(pool.map(get, range(krs)))
    session.close()
    seconds = time.perf_counter() - started
    assert values == {i: float(i) for i in range(krs)}
    return seconds


def stats(times: list[float]) -> str:
    return f"min {min(times):6.2f} s  median {statistics.median(times):6.2f} s"


def serve(latency: float, port: Queue[int]) -> None:
    """The fake API, in a process of its own."""
    SlowHandler.latency = latency
    server = Server(("127.0.0.1", 0), SlowHandler)
    port.put(server.server_address[1])
    server.serve_forever(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--krs", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per answer")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    port: Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(args.latency, port), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port.get(timeout=30)}"
    plan = make_plan(url, args.krs)
    concurrency = HttpJsonSource(plan.connections["api"]).limits().concurrency
    times: dict[str, list[float]] = {"memory": [], "sqlite": [], "baseline": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in range(args.repeats):  # interleaved: the machine's load hits all alike
                times["baseline"].append(baseline(url, args.krs))
                times["memory"].append(with_okrcore(plan, "memory://", args.krs))
                db = Path(tmp) / f"okr{n}.db"
                times["sqlite"].append(with_okrcore(plan, f"sqlite:///{db}", args.krs))
    finally:
        server.terminate()

    bound = math.ceil(args.krs / concurrency) * args.latency
    base = min(times["baseline"])
    print(f"{args.krs} key results, {args.latency * 1000:.0f} ms per answer, {args.repeats} "
          f"repeats interleaved; http_json default concurrency {concurrency}; load average "
          f"before: {load}")
    print(f"  {'baseline: ThreadPoolExecutor(16) + Session':44} {stats(times['baseline'])}")
    for name in ("memory", "sqlite"):
        best = min(times[name])
        print(f"  {'okrcore.refresh, ' + name + ' store':44} {stats(times[name])}")
        print(f"  {'':44} okrcore/baseline {best / base:.2f}x, okrcore/bound {best / bound:.2f}x")
    print(f"  {f'lower bound (ceil(N / {concurrency}) x latency)':44} {bound:6.2f} s")


if __name__ == "__main__":
    main()
