"""Benchmark: ``okrcore.score()`` against the function a competent user would write instead.

Run: ``python benchmarks/bench_score.py`` (``--quick`` for 1k and 10k key results only,
``--big`` to add 1M key results, about 5 GiB of memory and several minutes).

Both sides get the same input, built before timing: a :class:`~okrcore.model.Plan` (objectives of
five key results aligned under one goal; a mix of gauges, gauges with a stretch and cumulative
counts, weekly cadence, weights 1 and 2) and a list of :class:`~okrcore.model.CheckIn`. Both
compute, as of day 60 of a 90-day cycle, each key result's actual, progress, grade (0.7 at the
target with a stretch), expected progress, completion C, its traffic light with the three-period
rule, the least-squares forecast at the deadline, and the weighted rollup of every objective and
the goal. The baseline is the straightforward code for exactly those fields (one pass to group the
check-ins, one loop per key result, one loop per objective); okrcore's :func:`~okrcore.score` also
writes every reason in words and every rollup by owner, level and cycle. The two results are
checked to agree (key-result fields exactly; rolled-up means to 1e-12, as their sums run in a
different order) before anything is timed.

Contenders run interleaved in one process with the garbage collector on; the minimum and median
of ``--repeats`` runs are printed with the ratio okrcore / baseline, and the minimum CPU time
with its ratio (steadier than wall time on a loaded machine). Memory is the tracemalloc
peak of one untimed run of each, counted the same way (bytes allocated by the call, results
included). The goals are the ratios at 10k x 30 and 100k x 10: within 3x on time and on memory.
Growth: the time at 1k, 10k, 100k (and, with ``--big``, 1M) key results of 10 check-ins each,
with the fitted exponent b of time ~ n^b (n = key results; 1 is linear).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import math
import os
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

from okrcore import score
from okrcore.model import CheckIn, Cycle, Goal, KeyResult, Objective, Plan
from okrcore.plugins import PluginManager

START = dt.date(2026, 1, 1)
END = dt.date(2026, 3, 31)  # 90 days
AT = START + dt.timedelta(days=59)  # day 60
TARGET_SCORE, RED, GREEN, PERIODS, WEEK = 0.7, 0.7, 1.0, 3, 7


def make(krs: int, per_kr: int, seed: int = 7) -> tuple[Plan, list[CheckIn]]:
    """A plan of ``krs`` key results with ``per_kr`` check-ins each, spread up to day 60."""
    rng = random.Random(seed)
    objectives = []
    checkins: list[CheckIn] = []
    step = max(60 // per_kr, 1)
    for o in range(krs // 5):
        items = []
        for k in range(5):
            kr_id = f"o{o}-k{k}"
            weight = float(rng.choice((1, 1, 2)))
            flavour = (o + k) % 3
            pace = rng.uniform(0.5, 1.4)
            if flavour == 2:  # a cumulative count: amounts per check-in
                items.append(KeyResult(kr_id, kr_id, kind="count", measure="cumulative",
                                       target=900, cadence="weekly", weight=weight))
                values = [10 * step * pace * rng.uniform(0.6, 1.4) for _ in range(per_kr)]
            else:  # a gauge from 100 to 200, half of them with a stretch at 250
                items.append(KeyResult(kr_id, kr_id, baseline=100, target=200, cadence="weekly",
                                       stretch=250 if flavour == 1 else None, weight=weight))
                values = [100 + 100 * pace * (i + 1) * step / 90 + rng.uniform(-3, 3)
                          for i in range(per_kr)]
            for i, value in enumerate(values):
                checkins.append(CheckIn(kr_id, value, START + dt.timedelta(days=i * step)))
        objectives.append(Objective(f"o{o}", f"Objective {o}", "q1", owner=f"team{o % 50}",
                                    goal="g", weight=float(1 + o % 2), key_results=items))
    plan = Plan(cycles=[Cycle("q1", START, END)], goals=[Goal("g", "Goal")],
                objectives=objectives)
    rng.shuffle(checkins)  # a store or an export gives them in no useful order
    return plan, checkins


# -- what a competent user writes instead -----------------------------------------------------


def baseline(plan: Plan, checkins: Sequence[CheckIn], at: dt.date) -> dict[str, Any]:
    """The same fields, the straightforward way."""
    by_kr: dict[str, list[CheckIn]] = {}
    for c in checkins:
        if c.as_of <= at:
            by_kr.setdefault(c.kr_id, []).append(c)
    krs: dict[str, tuple[float | None, float | None, float | None, str, float | None]] = {}
    objectives: dict[str, float | None] = {}
    goal_sum = goal_weight = 0.0
    for obj in plan.objectives:
        cycle = plan.cycle_of(obj.key_results[0].id)
        total = weights = 0.0
        for kr in obj.key_results:
            result = _one(kr, cycle.start, cycle.end, by_kr.get(kr.id, []), at)
            krs[kr.id] = result
            if result[1] is not None and kr.weight > 0:
                total += kr.weight * result[1]
                weights += kr.weight
        mean = total / weights if weights else None
        objectives[obj.id] = mean
        if mean is not None:
            goal_sum += obj.weight * mean
            goal_weight += obj.weight
    return {"krs": krs, "objectives": objectives, "goal": goal_sum / goal_weight}


def _one(
    kr: KeyResult, start: dt.date, deadline: dt.date, history: list[CheckIn], at: dt.date
) -> tuple[float | None, float | None, float | None, str, float | None]:
    """(progress, score, completion, light, forecast) of one key result."""
    end = min(at, deadline)
    daily: dict[dt.date, float] = {}
    for c in sorted(history, key=lambda c: (c.as_of, c.recorded_at)):
        daily[c.as_of] = c.value  # a later check-in for a day corrects an earlier one
    cumulative = kr.measure.value == "cumulative"
    days = sorted(d for d in daily if d >= start) if cumulative else sorted(daily)
    if not days:
        return None, None, None, "grey", None
    base, target = kr.effective_baseline or 0.0, kr.target or 0.0
    span = (deadline - start).days + 1
    elapsed = min(max((at - start).days + 1, 0), span)
    expected = elapsed / span
    plan_to_date = base + (target - base) * (elapsed / span)
    actual = sum(daily[d] for d in days) if cumulative else daily[days[-1]]
    prog = (actual - base) / (target - base)
    completion = actual / plan_to_date if cumulative else prog / expected
    # the last three weekly periods, counted back from the end
    amounts = [0.0] * PERIODS
    latest: list[dt.date | None] = [None] * PERIODS
    for d in days:
        k = (end - d).days // WEEK
        if k < PERIODS:
            amounts[k] += daily[d]
            latest[k] = d
    periods = []
    for k in range(PERIODS):
        day = latest[k]
        if day is None:
            periods.append(None)
        elif cumulative:
            periods.append(amounts[k] / ((target - base) / span * WEEK))
        else:
            pace = ((day - start).days + 1) / span
            periods.append((daily[day] - base) / (target - base) / pace)
    if completion < RED or all(p is not None and p < RED for p in periods):
        light = "red"
    else:
        light = "green" if completion >= GREEN else "yellow"
    # least squares over (day index, value), the running total for a count from (0, 0)
    if cumulative:
        xs, ys, running = [0.0], [0.0], 0.0
        for d in days:
            running += daily[d]
            xs.append(float((d - start).days + 1))
            ys.append(running)
    else:
        xs = [float((d - start).days + 1) for d in days if d >= start]
        ys = [daily[d] for d in days if d >= start]
    forecast = actual
    n = len(xs)
    if n >= 2 and at < deadline:
        mx, my = sum(xs) / n, sum(ys) / n
        sxx = sum((x - mx) ** 2 for x in xs)
        if sxx:
            sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
            forecast = my + sxy / sxx * ((deadline - start).days + 1 - mx)
    grade = _grade(kr, prog)
    return prog, grade, completion, light, forecast


def _grade(kr: KeyResult, p: float) -> float:
    if kr.stretch is None:
        return min(max(p, 0.0), 1.0)
    at_stretch = (kr.stretch - (kr.effective_baseline or 0.0)) / ((kr.target or 0.0) - (
        kr.effective_baseline or 0.0))
    if p <= 0:
        return 0.0
    if p <= 1:
        return TARGET_SCORE * p
    if p >= at_stretch:
        return 1.0
    return TARGET_SCORE + (1 - TARGET_SCORE) * (p - 1) / (at_stretch - 1)


# -- checking and timing ----------------------------------------------------------------------


def agree(plan: Plan, checkins: list[CheckIn], manager: PluginManager) -> None:
    card = score(plan, checkins, at=AT, manager=manager)
    mine = baseline(plan, checkins, AT)
    for kr_id, (prog, grade, completion, light, forecast) in mine["krs"].items():
        k = card.key_results[kr_id]
        got = (k.progress, k.score, k.completion, k.status.value, k.forecast)
        assert got == (prog, grade, completion, light, forecast), (kr_id, got, mine["krs"][kr_id])
    for obj_id, value in mine["objectives"].items():
        assert math.isclose(card.objectives[obj_id].score or 0, value or 0, rel_tol=1e-12)
    assert math.isclose(card.goals["g"].score or 0, mine["goal"], rel_tol=1e-12)


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of one call (on a loaded machine the CPU time is the steadier)."""
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def peak(fn: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    result = fn()
    size = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del result
    return size


def fit(points: list[tuple[int, float]]) -> float:
    """The exponent b of time = a * n^b, least squares in log-log."""
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1k and 10k key results only")
    parser.add_argument("--big", action="store_true", help="add 1M key results x 10")
    args, _ = parser.parse_known_args()
    manager = PluginManager(load_entry_points=False)
    # the growth series (10 check-ins a key result) and the goal sizes, 10k x 30 and 100k x 10
    sizes = [(1_000, 10), (10_000, 10), (10_000, 30), (100_000, 10)]
    if args.quick:
        sizes = sizes[:3]
    if args.big:
        sizes.append((1_000_000, 10))
    growth: dict[str, list[tuple[int, float]]] = {
        "okrcore": [], "baseline": [], "okrcore (cpu)": [], "baseline (cpu)": []
    }
    ratios: dict[tuple[int, int], tuple[float, float, float]] = {}
    print("load average", *(f"{x:.2f}" for x in os.getloadavg()))
    print(f"{'key results':>12} {'check-ins':>10} {'contender':>9} {'min s':>8} {'median s':>9} "
          f"{'peak MiB':>9} {'cpu s':>7}")
    for krs, per_kr in sizes:
        plan, checkins = make(krs, per_kr)
        agree(plan, checkins, manager)
        runs: dict[str, Callable[[], object]] = {
            "okrcore": lambda p=plan, c=checkins: score(p, c, at=AT, manager=manager),
            "baseline": lambda p=plan, c=checkins: baseline(p, c, AT),
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeats):  # interleaved
            for name, fn in runs.items():
                wall_s, cpu_s = timed(fn)
                times[name].append(wall_s)
                cpu[name].append(cpu_s)
        memory = {name: peak(fn) for name, fn in runs.items()}
        del plan, checkins, runs  # the next size is built with this one freed
        for name in times:
            if per_kr == 10:
                growth[name].append((krs, min(times[name])))
                growth[f"{name} (cpu)"].append((krs, min(cpu[name])))
            print(f"{krs:>12,} {krs * per_kr:>10,} {name:>9} {min(times[name]):>8.3f} "
                  f"{statistics.median(times[name]):>9.3f} {memory[name] / 2**20:>9.1f} "
                  f"{min(cpu[name]):>7.3f}")
        ratio = min(times["okrcore"]) / min(times["baseline"])
        cpu_ratio = min(cpu["okrcore"]) / min(cpu["baseline"])
        ratios[krs, per_kr] = ratio, cpu_ratio, memory["okrcore"] / memory["baseline"]
        print(f"{'':>12} {'':>10} {'ratio':>9} {ratio:>8.2f}x {'':>9} "
              f"{memory['okrcore'] / memory['baseline']:>8.2f}x {cpu_ratio:>6.2f}x")
    print("load average", *(f"{x:.2f}" for x in os.getloadavg()))
    for (krs, per_kr), (t, c, m) in ratios.items():
        if (krs, per_kr) in ((10_000, 30), (100_000, 10)):
            # wall time on a loaded machine is mostly waiting for a core: both are shown
            within = [name for name, r in (("wall", t), ("cpu", c), ("memory", m)) if r <= 3]
            print(f"goal {krs:,} x {per_kr}: time {t:.2f}x (cpu {c:.2f}x), memory {m:.2f}x; "
                  f"within 3x: {', '.join(within) or 'none'}")
    for name, points in growth.items():
        print(f"growth {name}: time ~ n^{fit(points):.2f} "
              f"({points[0][0]:,} to {points[-1][0]:,} key results x 10)")


if __name__ == "__main__":
    main()
