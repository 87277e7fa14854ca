"""The SQLite store through its public API against raw sqlite3 on the same schema.

Contenders run interleaved in one process, GC on, min and median of repeats, ratios printed:

- write N check-ins: ``store.add_checkins`` vs ``executemany`` of plain INSERTs into the same table;
- read all N: ``store.checkins()`` vs a raw ``SELECT ... ORDER BY`` building ``date`` objects;
- one key result's history: ``store.checkins([kr])`` vs the raw SELECT for one kr_id.

Growth over 1k, 10k, 100k (and 1M with ``--max 1000000``) with the fitted exponent.
Usage: ``python benchmarks/bench_store.py [--max N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from okrcore import CheckIn
from okrcore.store import SQLiteStore

KRS = 1000
DAY0 = dt.date(2020, 1, 1)
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def checkins(n: int) -> list[CheckIn]:
    return [CheckIn(f"kr-{i % KRS}", float(i), DAY0 + dt.timedelta(days=i // KRS),
                    source="bench", recorded_at=NOW) for i in range(n)]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def fit(sizes: list[int], seconds: list[float]) -> float:
    """The exponent k of seconds ~ size**k, least squares on logs."""
    xs, ys = [math.log(s) for s in sizes], [math.log(t) for t in seconds]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return slope / sum((x - mx) ** 2 for x in xs)


def run(n: int, repeats: int, folder: Path) -> dict[str, tuple[float, float]]:
    data = checkins(n)
    results: dict[str, list[float]] = {}
    for r in range(repeats):
        one_repeat(data, folder / f"s{n}-{r}.db", folder / f"r{n}-{r}.db", results)
    return {k: (min(v), statistics.median(v)) for k, v in results.items()}


def one_repeat(data: list[CheckIn], path: Path, raw_path: Path,
               results: dict[str, list[float]]) -> None:
    store = SQLiteStore(path)
    raw_store = SQLiteStore(raw_path)  # the same schema, written by hand below
    raw = raw_store._connection()

    def raw_write() -> None:
        raw.execute("BEGIN")
        raw.executemany(
            "INSERT INTO checkins (kr_id, as_of, source, value, recorded_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [(c.kr_id, c.as_of.isoformat(), c.source, c.value, NOW.isoformat())
             for c in data])
        raw.execute("COMMIT")

    def raw_read() -> object:
        return [(k, v, dt.date.fromisoformat(a), s, t) for k, v, a, s, t in raw.execute(
            "SELECT kr_id, value, as_of, source, recorded_at FROM checkins"
            " ORDER BY as_of, recorded_at, kr_id, source")]

    def raw_one() -> object:
        return [(v, dt.date.fromisoformat(a)) for v, a in raw.execute(
            "SELECT value, as_of FROM checkins WHERE kr_id = ? ORDER BY as_of, recorded_at",
            ("kr-7",))]

    pairs = [
        ("write", lambda: store.add_checkins(data), raw_write),
        ("read all", store.checkins, raw_read),
        ("one history", lambda: store.checkins(["kr-7"]), raw_one),
    ]
    for name, ours, theirs in pairs:
        results.setdefault(f"{name} okrcore", []).append(timed(ours))
        results.setdefault(f"{name} raw", []).append(timed(theirs))
    store.close()
    raw_store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    gc.enable()
    sizes = [s for s in (1_000, 10_000, 100_000, 1_000_000) if s <= args.max]
    growth: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            res = run(n, args.repeats, Path(tmp))
            print(f"n = {n:,}")
            for name in ("write", "read all", "one history"):
                ours, raw = res[f"{name} okrcore"], res[f"{name} raw"]
                growth.setdefault(name, []).append(ours[0])
                print(f"  {name:12} okrcore min {ours[0] * 1000:9.2f} ms med {ours[1] * 1000:9.2f}"
                      f" | raw min {raw[0] * 1000:9.2f} ms | ratio {ours[0] / raw[0]:5.2f}x")
    if len(sizes) > 1:
        for name, seconds in growth.items():
            print(f"growth of {name}: exponent {fit(sizes, seconds):.2f}")


if __name__ == "__main__":
    main()
