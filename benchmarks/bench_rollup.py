"""Benchmark: score and roll up a generated organisation of 1,000,000 key results.

Run: ``python benchmarks/bench_rollup.py`` (``--krs 100000`` for a quick run).

The organisation has ``--levels`` (10) levels of objectives, each objective with ``--branch`` (4)
children, under one goal; the key results hang off the bottom level (4^9 = 262,144 objectives,
3-4 key results each), so every update walks the deepest path: 10 objectives and the goal. Key
results are a mix of increases, increases with a stretch and decreases, each with one actual.

The organisation is generated straight into columns (:class:`okrcore.rollup.RollupTree` and lists
of baselines, targets, stretches, actuals): building a million attrs ``KeyResult`` objects would
measure attrs, not the math. What is timed:

full pass (okrcore)
    :func:`okrcore.scoring.grade_columns` turns every actual into its progress and grade (the
    default grading: clamp, or 0 / 0.7 / 1.0 piecewise with a stretch), then
    :meth:`okrcore.rollup.Rollup.full` computes the weighted mean of every objective and the goal.
    Compiling the tree (``RollupTree``) is done once and timed separately.
full pass (baseline)
    The same grading and weighted means as a recursive function over nested plain dicts.
incremental update (okrcore)
    One key result gets a new actual: grade it and ``Rollup.update`` it (its 11 ancestors),
    averaged over ``--updates`` random key results.
incremental update (baseline)
    The straightforward way: set the actual in the dict and run the recursive rollup again.

Peak memory is measured with tracemalloc in a separate, untimed run of each full pass (bytes
allocated by the pass itself, on top of the input columns); the maximum resident set size of the
whole okrcore path (generate, compile, one full pass) is read from a separate child process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from okrcore.model import CheckIn, Cycle, KeyResult, Objective, Plan
from okrcore.plugins import PluginManager
from okrcore.rollup import Rollup, RollupTree
from okrcore.scoring import LiveScore, grade_columns, score

TARGET_SCORE = 0.7


class Org:
    """A generated organisation in columns."""

    def __init__(self, krs: int, levels: int, branch: int, seed: int) -> None:
        rng = random.Random(seed)
        node_ids = ["goal:g"]
        node_parent = [-1]
        previous = [0]
        for level in range(levels):
            current = []
            for parent in previous:
                for _ in range(1 if level == 0 else branch):
                    current.append(len(node_ids))
                    node_ids.append(f"objective:L{level}-{len(node_ids)}")
                    node_parent.append(parent)
            previous = current
        node_weight = [float(rng.choice((1, 1, 2))) for _ in node_ids]
        self.leaf_objectives = len(previous)
        self.baseline: list[float] = []
        self.target: list[float] = []
        self.stretch: list[float | None] = []
        self.actual: list[float | None] = []
        leaf_parent = []
        leaf_weight = []
        for j in range(krs):
            leaf_parent.append(previous[j % len(previous)])
            leaf_weight.append(float(rng.choice((1, 1, 1, 2, 3))))
            base = float(rng.randrange(0, 1000))
            gap = float(rng.randrange(10, 500))
            kind = rng.random()
            if kind < 0.6:  # increase
                self.baseline.append(base)
                self.target.append(base + gap)
                self.stretch.append(None)
            elif kind < 0.8:  # increase with a stretch
                self.baseline.append(base)
                self.target.append(base + gap)
                self.stretch.append(base + 1.5 * gap)
            else:  # decrease
                self.baseline.append(base + gap)
                self.target.append(base)
                self.stretch.append(None)
            self.actual.append(base + rng.uniform(-0.2, 1.6) * gap)
        self.leaf_ids = [f"kr{j}" for j in range(krs)]
        self.node_ids, self.node_parent, self.node_weight = node_ids, node_parent, node_weight
        self.leaf_parent, self.leaf_weight = leaf_parent, leaf_weight

    def tree(self) -> RollupTree:
        return RollupTree(
            self.node_ids,
            self.node_parent,
            self.node_weight,
            self.leaf_ids,
            self.leaf_parent,
            self.leaf_weight,
        )

    def dicts(self) -> dict[str, Any]:
        """The same organisation as nested plain dicts (the baseline's input)."""
        nodes: list[dict[str, Any]] = [
            {"id": nid, "weight": w, "krs": [], "children": []}
            for nid, w in zip(self.node_ids, self.node_weight, strict=True)
        ]
        for i, p in enumerate(self.node_parent):
            if p >= 0:
                nodes[p]["children"].append(nodes[i])
        self.kr_dicts = []
        for j, p in enumerate(self.leaf_parent):
            kr = {
                "id": self.leaf_ids[j],
                "weight": self.leaf_weight[j],
                "baseline": self.baseline[j],
                "target": self.target[j],
                "stretch": self.stretch[j],
                "actual": self.actual[j],
            }
            nodes[p]["krs"].append(kr)
            self.kr_dicts.append(kr)
        return nodes[0]


def baseline_grade(kr: dict[str, Any]) -> float | None:
    a: float | None = kr["actual"]
    if a is None:
        return None
    b: float = kr["baseline"]
    t: float = kr["target"]
    s: float | None = kr["stretch"]
    p = (a - b) / (t - b)
    kr["progress"] = p
    if p <= 0:
        return 0.0
    if s is None:
        return min(p, 1.0)
    if p <= 1:
        return TARGET_SCORE * p
    ps = (s - b) / (t - b)
    return min(1.0, TARGET_SCORE + (1 - TARGET_SCORE) * (p - 1) / (ps - 1))


def baseline_rollup(node: dict[str, Any]) -> float | None:
    """Recursive weighted mean over plain dicts: the straightforward implementation."""
    total = 0.0
    weights = 0.0
    for kr in node["krs"]:
        score = baseline_grade(kr)
        kr["score"] = score
        if score is not None and kr["weight"] > 0:
            total += kr["weight"] * score
            weights += kr["weight"]
    for child in node["children"]:
        value = baseline_rollup(child)
        if value is not None and child["weight"] > 0:
            total += child["weight"] * value
            weights += child["weight"]
    value = total / weights if weights > 0 else None
    node["score"] = value
    return value


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs (garbage collector off while timing) and the result."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
        gc.enable()
    return best, result


def traced_peak(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Peak bytes allocated while ``fn`` runs (tracemalloc), and its result."""
    gc.collect()
    tracemalloc.start()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, result


def max_rss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def api_plan(krs: int, checkins_each: int) -> tuple[Plan, list[CheckIn], dt.date]:
    """A plan of ``krs`` real KeyResult objects (10 per objective, 10 objectives per parent) with
    ``checkins_each`` daily check-ins each, for timing the public ``score()``."""
    cycle = Cycle("q", dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    n_obj = max(1, krs // 10)
    objectives = []
    for i in range(n_obj):
        key_results = []
        for j in range(10):
            measure = "cumulative" if j % 2 else "gauge"
            key_results.append(
                KeyResult(
                    f"k{i}-{j}", "KR", baseline=0, target=900, cadence="daily", measure=measure
                )
            )
        parent = f"o{(i - 1) // 10}" if i else None
        objectives.append(Objective(f"o{i}", "O", "q", parent=parent, key_results=key_results))
    plan = Plan(cycles=[cycle], objectives=objectives)
    at = cycle.start + dt.timedelta(days=checkins_each - 1)
    cis = [
        CheckIn(kr.id, 8.0 + d % 5, cycle.start + dt.timedelta(days=d))
        for kr in plan.key_results()
        for d in range(checkins_each)
    ]
    return plan, cis, at


def rss_of_a_plain_run(args: argparse.Namespace) -> int:
    """Max RSS of a separate process that only generates, compiles and runs one full pass
    (no tracemalloc, no baseline): the whole footprint of okrcore's path."""
    cmd = [sys.executable, __file__, "--rss-child", "--krs", str(args.krs), "--levels",
           str(args.levels), "--branch", str(args.branch), "--seed", str(args.seed)]  # fmt: skip
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return int(out.strip())


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--krs", type=int, default=1_000_000)
    ap.add_argument("--levels", type=int, default=10)
    ap.add_argument("--branch", type=int, default=4)
    ap.add_argument("--updates", type=int, default=100_000)
    ap.add_argument("--baseline-updates", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--api-krs", type=int, default=10_000, help="0 skips the score() timing")
    ap.add_argument("--api-checkins", type=int, default=30)
    ap.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rss_child:
        org = Org(args.krs, args.levels, args.branch, args.seed)
        tree = org.tree()
        Rollup(tree, grade_columns(org.baseline, org.target, org.stretch, org.actual)[1])
        print(max_rss_bytes())
        return 0

    print(f"Python {sys.version.split()[0]} on {sys.platform}")
    # first, while this process is small: Linux keeps the max RSS high-water mark across exec
    rss = rss_of_a_plain_run(args)
    t0 = time.perf_counter()
    org = Org(args.krs, args.levels, args.branch, args.seed)
    print(
        f"generated {args.krs:,} key results under {len(org.node_ids) - 1:,} objectives "
        f"({args.levels} levels, {org.leaf_objectives:,} at the bottom) and 1 goal "
        f"in {time.perf_counter() - t0:.1f} s"
    )

    compile_s, tree = timed(org.tree, 1)
    tree_bytes, _ = traced_peak(org.tree)
    print(f"compile RollupTree (once per plan):      {compile_s:8.3f} s   peak {mib(tree_bytes)}")

    def full() -> Rollup:
        _progress, scores = grade_columns(org.baseline, org.target, org.stretch, org.actual)
        return Rollup(tree, scores)

    full_s, rollup = timed(full, args.repeat)
    full_peak, _ = traced_peak(full)

    rng = random.Random(args.seed + 1)
    picks = [rng.randrange(args.krs) for _ in range(args.updates)]
    news = [rng.uniform(0, 1500) for _ in range(args.updates)]

    def incremental() -> None:
        b, t, s, update = org.baseline, org.target, org.stretch, rollup.update
        for j, a in zip(picks, news, strict=True):
            _p, (score,) = grade_columns([b[j]], [t[j]], [s[j]], [a])
            update(j, score)

    inc_s, _ = timed(incremental, 1)
    inc_us = inc_s / args.updates * 1e6
    # the incremental result must equal a full recomputation
    for j, a in zip(picks, news, strict=True):
        org.actual[j] = a
    check = full()
    root = tree.node_index["goal:g"]
    drift = abs((rollup.node(root) or 0.0) - (check.node(root) or 0.0))

    print(f"full pass: grade + roll up               {full_s:8.3f} s   peak {mib(full_peak)}")
    print(f"process max RSS, generate + compile + full pass (own process): {mib(rss)}")
    print(f"incremental update of one key result:   {inc_us:8.2f} us (mean of {args.updates:,})")
    print(f"incremental vs full recomputation, goal score difference: {drift:.1e}")

    dicts_bytes, root_dict = traced_peak(org.dicts)
    print(f"built the baseline's nested dicts: peak {mib(dicts_bytes)}")
    sys.setrecursionlimit(max(1000, args.levels * 4 + 100))
    # first pass traced: it adds the "score" and "progress" keys; later passes overwrite them
    base_peak, _ = traced_peak(lambda: baseline_rollup(root_dict))
    base_s, base_value = timed(lambda: baseline_rollup(root_dict), args.repeat)
    same = abs((base_value or 0.0) - (check.node(root) or 0.0))
    base_updates = []
    for j in picks[: args.baseline_updates]:
        org.kr_dicts[j]["actual"] = rng.uniform(0, 1500)
        seconds, _ = timed(lambda: baseline_rollup(root_dict), 1)
        base_updates.append(seconds)
    base_inc_us = statistics.mean(base_updates) * 1e6

    print(f"baseline full pass (recursive dicts):   {base_s:8.3f} s   peak {mib(base_peak)}")
    print(
        f"baseline incremental (recompute all):   {base_inc_us:8.0f} us "
        f"(mean of {len(base_updates)})"
    )
    print(f"baseline vs okrcore goal score difference: {same:.1e}")
    print()
    print(f"full pass:   okrcore {full_s:.3f} s, baseline {base_s:.3f} s, "
          f"ratio baseline/okrcore {base_s / full_s:.2f}x")  # fmt: skip
    ours, theirs = tree_bytes + full_peak, dicts_bytes + base_peak
    ratio = theirs / max(ours, 1)
    print(f"memory over the inputs (structure + pass peak): okrcore {mib(ours)}, "
          f"baseline {mib(theirs)}, ratio baseline/okrcore {ratio:.2f}x")  # fmt: skip
    print(f"incremental: okrcore {inc_us:.2f} us, baseline {base_inc_us:,.0f} us, "
          f"ratio {base_inc_us / inc_us:,.0f}x")  # fmt: skip
    if args.api_krs:
        plan, cis, at = api_plan(args.api_krs, args.api_checkins)
        manager = PluginManager(load_entry_points=False)
        api_s, card = timed(lambda: score(plan, cis, at=at, manager=manager), 1)
        live = LiveScore(plan, cis, at, manager=manager)
        ids = [kr.id for kr in plan.key_results()]
        adds = [CheckIn(ids[i * 7919 % len(ids)], 9.0, at) for i in range(1000)]
        add_s, _ = timed(lambda: [live.add(ci) for ci in adds], 1)
        print()
        per_kr = api_s / len(ids) * 1e6
        print(f"public API on real objects: score() of {len(ids):,} key results x "
              f"{args.api_checkins} check-ins = {len(cis):,}: {api_s:.2f} s "
              f"({per_kr:.0f} us per key result: lights, forecasts, rollups)")  # fmt: skip
        print(f"LiveScore.add of one check-in (re-score its history + rollups): "
              f"{add_s / len(adds) * 1e6:.0f} us (mean of {len(adds):,})")  # fmt: skip
        assert len(card.key_results) == len(ids)
    ok = full_s < 2.0 and max(rss, full_peak) < 2**30 and inc_us < 100
    print(f"targets (full < 2 s, < 1 GiB; incremental < 100 us): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
