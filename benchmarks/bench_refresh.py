"""Refresh engine throughput: 1,000 key results on ``http_json`` against a slow local server.

The server (127.0.0.1) answers every request after a fixed latency (100 ms by default). The
script times, in the same run:

- the engine: ``okrcore.refresh`` of a plan with N gauge key results on one ``http_json``
  connection whose limits allow C concurrent calls;
- the lower bound for those limits: N / C x latency;
- a plain sequential loop of ``requests.get`` over the same URLs (on a sample of the requests,
  extrapolated to N unless ``--sequential-sample 0`` asks for all of them).

Run:  python benchmarks/bench_refresh.py [--krs 1000] [--latency 0.1] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

import okrcore
from okrcore.model import Connection, Cycle, KeyResult, Objective, Plan
from okrcore.plugins import PluginManager


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


def make_plan(url: str, krs: int, concurrency: int) -> Plan:
    key_results = [
        KeyResult(f"kr{i}", f"Metric {i}", baseline=0, target=10_000,
                  source={"connection": "api", "url": f"/metric/{i}", "value": "$.data.value"})
        for i in range(krs)
    ]
    today = dt.date.today()
    cycle = Cycle("now", today - dt.timedelta(days=10), today + dt.timedelta(days=80))
    objectives = [Objective(f"o{j}", f"Objective {j}", "now", key_results=key_results[j::50])
                  for j in range(min(50, krs))]
    conn = Connection("api", "http_json", {"concurrency": concurrency}, endpoint=url)
    return Plan(cycles=[cycle], objectives=objectives, connections={"api": conn})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--krs", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per answer")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="the connection's concurrency limit (http_json default: 8)")
    parser.add_argument("--sequential-sample", type=int, default=100,
                        help="requests timed in the sequential loop (0: all, no extrapolation)")
    args = parser.parse_args()

    SlowHandler.latency = args.latency
    server = Server(("127.0.0.1", 0), SlowHandler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        plan = make_plan(url, args.krs, args.concurrency)
        store = okrcore.open_store("memory://")
        manager = PluginManager(load_entry_points=False)
        started = time.perf_counter()
        result = okrcore.refresh(plan, store, manager=manager)
        engine = time.perf_counter() - started
        refreshed = len(result.by_status("refreshed"))
        assert refreshed == args.krs, result.to_dict()["failed"][:3]
        assert len(store.checkins()) == args.krs

        sample = args.krs if args.sequential_sample <= 0 else min(args.sequential_sample, args.krs)
        started = time.perf_counter()
        for i in range(sample):  # the naive script: one requests.get after another
            value = requests.get(f"{url}/metric/{i}", timeout=30).json()["data"]["value"]
            assert value == i
        sequential_sample = time.perf_counter() - started
        sequential = sequential_sample * args.krs / sample
    finally:
        server.shutdown()
        server.server_close()

    bound = args.krs / args.concurrency * args.latency
    print(f"{args.krs} key results, {args.latency * 1000:.0f} ms per answer, "
          f"concurrency {args.concurrency}")
    print(f"  engine (okrcore.refresh):        {engine:8.2f} s")
    print(f"  lower bound (N / C x latency):   {bound:8.2f} s   engine / bound = "
          f"{engine / bound:.3f}")
    how = "measured" if sample == args.krs else f"{sample} measured, extrapolated"
    print(f"  sequential requests.get loop:    {sequential:8.2f} s   ({how}); "
          f"sequential / engine = {sequential / engine:.1f}x")


if __name__ == "__main__":
    main()
