"""The stores through their public API against a raw driver on the same data.

Contenders run interleaved in one process, GC on, min and median of repeats, ratios printed.
Each timed call starts from a collected heap (``gc.collect()`` before the clock starts; the
collector stays on during the call), the same for both sides: otherwise a full collection that
earlier steps made due lands in whichever call allocates next. At 1,000,000 check-ins the
process holds over a million tracked objects (mostly the benchmark's own list of check-ins to
write), one full collection of them takes 140-200 ms, and landing in the 200 history reads it
adds 0.7-1 ms to each, on the raw side as on okrcore's (whichever runs first). The full
collections that still land inside timed calls are counted and printed with their time, and
one history is also timed on each side with a full collection made due, to show what it costs.

- write N check-ins: ``store.add_checkins`` vs what a competent user writes with the driver alone
  into a bare table (kr_id, as_of, source, value, recorded_at) with the two indexes a user needs
  (the key, and reading order): sqlite3 ``executemany`` of plain INSERTs (same pragmas as the
  store: WAL, synchronous NORMAL, the same page cache); psycopg ``COPY``;
- read all N: ``store.checkins()`` vs the raw ``SELECT ... ORDER BY`` of that table giving tuples
  with ``date`` objects (psycopg converts dates and times itself; for sqlite3 the loop converts the
  date); memory is the tracemalloc peak of one untimed read on each side, results included;
- one key result's history: ``store.checkins([kr])`` vs the raw SELECT of one kr_id, the mean
  of 200 reads of different key results, in 3 rounds per repeat whose order alternates
  (okrcore first, then raw first, then okrcore first): neither side always reads right after
  the other side's read of everything. On PostgreSQL at 1,000,000 check-ins the two tables and
  their indexes (about 360 MB) do not fit in the server's default 128 MB of shared buffers
  together, and the side that read last finds its pages cached.

The data: N / 100 key results with one check-in a day for 100 days (a quarter of daily readings),
so that one history is 100 rows at every size and its time shows what the store's size costs.
SQLite always; PostgreSQL (the okrcore-postgres store) at ``--postgres URL`` (default
postgresql://postgres@127.0.0.1:5432/test; ``--postgres ''`` leaves it out; the benchmark creates
and drops its own schemas ``bench_store_*``). Growth over 1k, 10k, 100k and 1M with the fitted
exponent; ``--quick`` stops at 100k (a couple of minutes instead of a quarter of an hour).
Usage: ``python benchmarks/bench_store.py [--quick] [--max N] [--repeats R] [--postgres URL]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import math
import os
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from okrcore import CheckIn
from okrcore.store import SQLiteStore

DAYS = 100
HISTORY_READS = 200
HISTORY_ROUNDS = 3
DAY0 = dt.date(2020, 1, 1)
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
RAW_SQLITE_TABLE = """CREATE TABLE raw_checkins (
    kr_id TEXT NOT NULL, as_of TEXT NOT NULL, source TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL, recorded_at TEXT NOT NULL,
    PRIMARY KEY (kr_id, as_of, source));
CREATE INDEX raw_order ON raw_checkins (as_of, recorded_at, kr_id, source)"""
RAW_PG_TABLE = """CREATE TABLE raw_checkins (
    kr_id TEXT COLLATE "C" NOT NULL, as_of DATE NOT NULL, source TEXT COLLATE "C" NOT NULL,
    value DOUBLE PRECISION NOT NULL, recorded_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kr_id, as_of, source));
CREATE INDEX raw_order ON raw_checkins (as_of, recorded_at, kr_id, source)"""


def checkins(n: int) -> list[CheckIn]:
    krs = max(n // DAYS, 1)
    return [CheckIn(f"kr-{i % krs}", float(i), DAY0 + dt.timedelta(days=i // krs),
                    source="bench", recorded_at=NOW) for i in range(n)]


class FullCollections:
    """A ``gc.callbacks`` entry that times the collector's full (generation 2) collections."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.durations.append(time.perf_counter() - self._started)


FULL_COLLECTIONS = FullCollections()


def timed(fn: Callable[[], object]) -> tuple[float, list[float]]:
    """Seconds of one call from a collected heap (GC on during the call), and the durations of
    the full collections inside it."""
    gc.collect()
    return clocked(fn)


def timed_due(fn: Callable[[], object]) -> tuple[float, list[float]]:
    """:func:`timed` from a heap on which a full collection is due, the state a process is in
    after steps that left long-lived objects: a quarter of the heap in new ones (CPython's
    trigger), so the next collection to run is a full one."""
    gc.collect()
    keep: list[list[None]] = [[] for _ in range(len(gc.get_objects()) // 4 + 1)]
    for _ in range(gc.get_threshold()[2] + 1):
        gc.collect(1)  # into the oldest generation, counted as new long-lived objects
    try:
        return clocked(fn)
    finally:
        del keep


def clocked(fn: Callable[[], object]) -> tuple[float, list[float]]:
    FULL_COLLECTIONS.durations.clear()
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    return seconds, list(FULL_COLLECTIONS.durations)


def peak(fn: Callable[[], object]) -> int:
    """Bytes allocated at the peak of one call, its result included."""
    gc.collect()
    tracemalloc.start()
    result = fn()
    size = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del result
    return size


def fit(sizes: list[int], seconds: list[float]) -> float:
    """The exponent k of seconds ~ size**k, least squares on logs."""
    xs, ys = [math.log(s) for s in sizes], [math.log(t) for t in seconds]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return slope / sum((x - mx) ** 2 for x in xs)


Pairs = list[tuple[str, Callable[[], object], Callable[[], object]]]


def history_ids(n: int) -> list[str]:
    krs = max(n // DAYS, 1)
    return [f"kr-{(i * 7919) % krs}" for i in range(HISTORY_READS)]


def sqlite_pairs(data: list[CheckIn], folder: Path, tag: str) -> tuple[Pairs, Callable[[], None]]:
    store = SQLiteStore(folder / f"s{tag}.db")
    raw = sqlite3.connect(folder / f"r{tag}.db", isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "cache_size = -65536"):
        raw.execute(f"PRAGMA {pragma}")
    raw.executescript(RAW_SQLITE_TABLE)
    ids = history_ids(len(data))

    def raw_write() -> None:
        raw.execute("BEGIN")
        raw.executemany(
            "INSERT INTO raw_checkins (kr_id, as_of, source, value, recorded_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [(c.kr_id, c.as_of.isoformat(), c.source, c.value, NOW.isoformat())
             for c in data])
        raw.execute("COMMIT")

    def raw_read() -> object:
        return [(k, v, dt.date.fromisoformat(a), s, t) for k, v, a, s, t in raw.execute(
            "SELECT kr_id, value, as_of, source, recorded_at FROM raw_checkins"
            " ORDER BY as_of, recorded_at, kr_id, source")]

    def raw_one() -> object:
        return [[(v, dt.date.fromisoformat(a)) for v, a in raw.execute(
            "SELECT value, as_of FROM raw_checkins WHERE kr_id = ? ORDER BY as_of, recorded_at",
            (kr,))] for kr in ids]

    def close() -> None:
        store.close()
        raw.close()

    return [
        ("write", lambda: store.add_checkins(data), raw_write),
        ("read all", store.checkins, raw_read),
        ("one history", lambda: [store.checkins([kr]) for kr in ids], raw_one),
    ], close


def postgres_pairs(data: list[CheckIn], url: str, tag: str) -> tuple[Pairs, Callable[[], None]]:
    import psycopg
    from okrcore_postgres import PostgresStore

    schema, raw_schema = f"bench_store_{tag}", f"bench_store_raw_{tag}"
    admin = psycopg.connect(url, autocommit=True)
    for name in (schema, raw_schema):
        admin.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    admin.execute(f"CREATE SCHEMA {raw_schema}")
    store = PostgresStore(f"{url}?schema={schema}")
    raw = psycopg.connect(url, options=f"-c search_path={raw_schema}")
    raw.execute(RAW_PG_TABLE)
    raw.commit()
    ids = history_ids(len(data))

    def raw_write() -> None:
        with raw.cursor() as cur, cur.copy(
            "COPY raw_checkins (kr_id, as_of, source, value, recorded_at) FROM STDIN"
        ) as copy:
            for c in data:
                copy.write_row((c.kr_id, c.as_of, c.source, c.value, c.recorded_at))
        raw.commit()

    def raw_read() -> object:
        rows: list[tuple[Any, ...]] = raw.execute(
            "SELECT kr_id, value, as_of, source, recorded_at FROM raw_checkins"
            " ORDER BY as_of, recorded_at, kr_id, source").fetchall()
        raw.commit()
        return rows

    def raw_one() -> object:
        out = [raw.execute(
            "SELECT value, as_of FROM raw_checkins WHERE kr_id = %s ORDER BY as_of, recorded_at",
            (kr,)).fetchall() for kr in ids]
        raw.commit()
        return out

    def close() -> None:
        store.close()
        raw.close()
        for name in (schema, raw_schema):
            admin.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        admin.close()

    return [
        ("write", lambda: store.add_checkins(data), raw_write),
        ("read all", store.checkins, raw_read),
        ("one history", lambda: [store.checkins([kr]) for kr in ids], raw_one),
    ], close


def run(n: int, repeats: int, folder: Path, postgres: str | None) -> dict[str, list[float]]:
    data = checkins(n)
    results: dict[str, list[float]] = {}
    backends: list[tuple[str, Callable[[str], tuple[Pairs, Callable[[], None]]]]] = [
        ("sqlite", lambda tag: sqlite_pairs(data, folder, tag))]
    if postgres:
        backends.append(("postgres", lambda tag: postgres_pairs(data, postgres, tag)))
    for r in range(repeats):
        for backend, make in backends:
            pairs, close = make(f"{n}_{r}")
            try:
                for name, ours, theirs in pairs:  # interleaved: ours, raw, next operation
                    sides = [("okrcore", ours), ("raw", theirs)]
                    if name == "one history":  # rounds: ours, raw; raw, ours; ours, raw
                        sides = [side for k in range(HISTORY_ROUNDS)
                                 for side in (sides if k % 2 == 0 else sides[::-1])]
                    for side, fn in sides:
                        seconds, full = timed(fn)
                        results.setdefault(f"{backend} {name} {side}", []).append(seconds)
                        results.setdefault(f"{backend} {name} {side} full gc", []).extend(full)
                if r == 0:  # memory of reading everything, counted alike on both sides
                    _, read_ours, read_raw = pairs[1]
                    results[f"{backend} memory okrcore"] = [peak(read_ours)]
                    results[f"{backend} memory raw"] = [peak(read_raw)]
                    # what a full collection landing in the history reads costs, each side alike
                    _, history_ours, history_raw = pairs[2]
                    for side, fn in (("okrcore", history_ours), ("raw", history_raw)):
                        seconds, full = timed_due(fn)
                        results[f"{backend} due history {side}"] = [seconds]
                        results[f"{backend} due history {side} full gc"] = full
            finally:
                close()
    return results


def full_gc(durations: list[float]) -> str:
    """How many full collections, and their total time when there were some."""
    if not durations:
        return "0"
    return f"{len(durations)} ({sum(durations) * 1000:.0f} ms)"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
# the goals (docs/stores.md#performance): ratio to the raw driver, or a time per history read
GOALS = {"write": "1.5x", "read all": "2x", "one history": "0.5 ms", "read memory": "2x"}


def postgres_url(args: argparse.Namespace) -> str | None:
    """The PostgreSQL URL to use, or None: an unreachable default server is left out (said so),
    an unreachable URL given on purpose ends the benchmark."""
    if not args.postgres:
        return None
    import psycopg

    try:
        psycopg.connect(args.postgres, connect_timeout=5).close()
    except psycopg.Error as exc:
        if args.postgres_given:
            raise SystemExit(f"bench_store: cannot connect to {args.postgres}: {exc}") from None
        print(f"PostgreSQL left out: no server at {args.postgres} ({str(exc).strip()})")
        return None
    return str(args.postgres)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="stop at 100,000 check-ins")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", default=None,
                        help=f"a PostgreSQL URL (default {DEFAULT_POSTGRES}; '' leaves it out)")
    args = parser.parse_args()
    args.postgres_given = args.postgres is not None
    if args.postgres is None:
        args.postgres = DEFAULT_POSTGRES
    gc.enable()
    gc.callbacks.append(FULL_COLLECTIONS)
    top = min(args.max, 100_000) if args.quick else args.max
    sizes = [s for s in (1_000, 10_000, 100_000, 1_000_000) if s <= top]
    postgres = postgres_url(args)
    backends = ["sqlite"] + (["postgres"] if postgres else [])
    growth: dict[str, list[float]] = {}
    print(f"load average {load()}; history = {DAYS} rows, time per read (mean of {HISTORY_READS})")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            res = run(n, args.repeats if n < 1_000_000 else 1, Path(tmp), postgres)
            print(f"n = {n:,}")
            for backend in backends:
                for name in ("write", "read all", "one history"):
                    scale = 1000 / HISTORY_READS if name == "one history" else 1000
                    ours = res[f"{backend} {name} okrcore"]
                    raw = res[f"{backend} {name} raw"]
                    growth.setdefault(f"{backend} {name}", []).append(min(ours))
                    print(f"  {backend:8} {name:12} okrcore min {min(ours) * scale:9.3f} ms"
                          f" med {statistics.median(ours) * scale:9.3f} | raw min"
                          f" {min(raw) * scale:9.3f} ms | ratio {min(ours) / min(raw):5.2f}x"
                          f" (goal {GOALS[name]})")
                ours_mem = res[f"{backend} memory okrcore"][0]
                raw_mem = res[f"{backend} memory raw"][0]
                print(f"  {backend:8} {'read memory':12} okrcore {ours_mem / 2**20:9.1f} MiB"
                      f" | raw {raw_mem / 2**20:9.1f} MiB | ratio {ours_mem / raw_mem:5.2f}x"
                      f" (goal {GOALS['read memory']})")
                print(f"  {backend:8} full collections inside the timed calls, okrcore / raw:"
                      + ",".join(f" {name} {full_gc(res[f'{backend} {name} okrcore full gc'])}"
                                 f" / {full_gc(res[f'{backend} {name} raw full gc'])}"
                                 for name in ("write", "read all", "one history")))
                due = {}
                for side in ("okrcore", "raw"):
                    key = f"{backend} due history {side}"
                    due[side] = (f"{res[key][0] * 1000 / HISTORY_READS:.3f} ms"
                                 f" (full collections {full_gc(res[f'{key} full gc'])})")
                print(f"  {backend:8} one history with a full collection due: okrcore"
                      f" {due['okrcore']} | raw {due['raw']}")
    print(f"load average {load()}")
    if len(sizes) > 1:
        for name, seconds in growth.items():
            print(f"growth of {name}: exponent {fit(sizes, seconds):.2f} (goal <= 1)")


if __name__ == "__main__":
    main()
