"""Benchmark: a weekly report and its HTML dashboard through the public API.

Run: ``python benchmarks/bench_report.py`` (``--quick`` for 1k key results only; the default
sizes are 1k, 10k and 100k: 1M would need 26M check-ins in memory and a 1.7 GB page).

A plan of N key results (objectives of five; cumulative counts, half with a stretch) with a
check-in every other day from the cycle's start to the report's date, in a memory store.

report (okrcore)
    ``okrcore.report(plan, store, "weekly", at)``: the plan in force, three scorings (the day, the
    day before, a week before), series, pace, gaps, movers. The run counts the scorings and the
    dates they are for: each date the report needs is scored once.
score once (baseline)
    ``okrcore.score(plan, store, at)``: the least any report must do, scoring the plan once.
html
    ``render(report, "html")``: the one-file dashboard with a chart per key result; its wall time,
    CPU time and size (goal at 1,000 key results: under 1 s and 2 MiB).

Contenders run interleaved with the garbage collector on; min and median of ``--repeats``.
Growth: the time at each size with the fitted exponent (time ~ n^b, n = key results; 1 is
linear).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import statistics
import time
from collections.abc import Callable
from typing import Any
from unittest import mock

import okrcore
from okrcore.model import CheckIn, Cycle, KeyResult, Objective, Plan
from okrcore.plugins import PluginManager
from okrcore.reports import render

CYCLE = Cycle("q4", dt.date(2026, 10, 1), dt.date(2026, 12, 31))
AT = dt.date(2026, 11, 20)


def make(krs: int) -> tuple[Plan, okrcore.Store]:
    objectives = []
    for o in range(krs // 5):
        items = [
            KeyResult(f"o{o}k{k}", f"Key result {o}.{k}", kind="count", target=1000,
                      stretch=1200 if k % 2 else None, unit="leads", measure="cumulative")
            for k in range(5)
        ]
        objectives.append(Objective(f"o{o}", f"Objective {o}", "q4", owner=f"team{o % 20}",
                                    key_results=items))
    plan = Plan(title="Bench", cycles=[CYCLE], objectives=objectives)
    store = okrcore.open_store("memory://")
    days = (AT - CYCLE.start).days + 1
    store.add_checkins(
        CheckIn(kr.id, 20.0 + (i * 7 + n) % 9, CYCLE.start + dt.timedelta(days=i))
        for n, kr in enumerate(plan.key_results())
        for i in range(0, days, 2)
    )
    return plan, store


def fit(points: list[tuple[int, float]]) -> float:
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args, _ = parser.parse_known_args()
    manager = PluginManager(load_entry_points=False)
    sizes = [1_000] if args.quick else [1_000, 10_000, 100_000]
    growth: dict[str, list[tuple[int, float]]] = {}
    goal: tuple[float, float, int] | None = None
    print("load average", *(f"{x:.2f}" for x in os.getloadavg()))
    print(f"{'key results':>12} {'contender':>12} {'min s':>8} {'median s':>9} {'cpu s':>7}")
    for krs in sizes:
        plan, store = make(krs)
        rep = scored_days(plan, store, manager) if krs == sizes[0] else okrcore.report(
            plan, store, "weekly", at=AT, manager=manager
        )
        runs: dict[str, Callable[[], object]] = {
            "report": lambda p=plan, s=store: okrcore.report(
                p, s, "weekly", at=AT, manager=manager
            ),
            "score once": lambda p=plan, s=store: okrcore.score(p, s, at=AT, manager=manager),
            "html": lambda r=rep: render(r, "html"),
        }
        wall: dict[str, list[float]] = {name: [] for name in runs}
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeats):  # interleaved
            for name, fn in runs.items():
                c0, t0 = time.process_time(), time.perf_counter()
                fn()
                wall[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
        for name in runs:
            growth.setdefault(name, []).append((krs, min(wall[name])))
            growth.setdefault(f"{name} (cpu)", []).append((krs, min(cpu[name])))
            print(f"{krs:>12,} {name:>12} {min(wall[name]):>8.3f} "
                  f"{statistics.median(wall[name]):>9.3f} {min(cpu[name]):>7.3f}")
        ratio = min(wall["report"]) / min(wall["score once"])
        cpu_ratio = min(cpu["report"]) / min(cpu["score once"])
        size = len(render(rep, "html").encode())
        if krs == 1_000:
            goal = min(wall["html"]), min(cpu["html"]), size
        print(f"{'':>12} {'report/score':>12} {ratio:>7.2f}x {'':>9} {cpu_ratio:>6.2f}x")
        print(f"{'':>12} {'html size':>12} {size / 2**20:>7.2f} MiB ({size / krs:,.0f} bytes a "
              f"key result)")
    print("load average", *(f"{x:.2f}" for x in os.getloadavg()))
    if goal is not None:
        seconds, cpu_s, size = goal
        verdict = "met" if seconds < 1 and size < 2 * 2**20 else "MISSED"
        print(f"goal html of 1,000 key results: {seconds:.3f} s ({cpu_s:.3f} s cpu), "
              f"{size / 2**20:.2f} MiB (under 1 s and 2 MiB: {verdict})")
    if len(sizes) > 1:
        for name, points in growth.items():
            print(f"growth {name}: time ~ n^{fit(points):.2f} "
                  f"({points[0][0]:,} to {points[-1][0]:,} key results)")


def scored_days(plan: Plan, store: okrcore.Store, manager: PluginManager) -> Any:
    """A weekly report, counting the scorings it runs and the dates they are for."""
    from okrcore.reports import build

    with mock.patch.object(build, "score", wraps=build.score) as scoring:
        rep = okrcore.report(plan, store, "weekly", at=AT, manager=manager)
    days = [call.kwargs["at"] for call in scoring.call_args_list]
    once = "each date once" if len(set(days)) == len(days) else "a date more than once"
    print(f"scorings in one weekly report: {len(days)}, {once} "
          f"({', '.join(d.isoformat() for d in sorted(days))})")
    return rep


if __name__ == "__main__":
    main()
