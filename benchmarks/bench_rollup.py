"""Benchmark: weighted rollups through the public API against what a user would write instead.

Run: ``python benchmarks/bench_rollup.py`` (``--quick`` stops at 100,000 key results).

A generated organisation: levels of objectives, each with ``--branch`` (4) children, under one
goal (``--levels``; by default as many as give about four key results per bottom objective: 10 at
1,000,000); the key results hang off the bottom level, each with a weight and a score (some
without one). Every contender gets the same flat lists, built before timing and not
charged to anybody: parent index and weight of every node (objective or goal, parents before
children, as a plan or an export lists them), parent index and weight of every key result, and the
scores.

full pass
    okrcore: ``okrcore.Rollup(okrcore.RollupTree(...), scores)``, the documented public API
    (compiling the tree is timed with it). Flat lists: the 20-line loop a user writes over the same
    lists (children before parents). numpy: ``bincount`` per level (when numpy is installed).
incremental update of one key result
    okrcore: ``Rollup.update(kr_id, score)``. Baseline: the ancestor walk a user writes (keep each
    node's weighted sum and weight; adjust them from the key result up to the goal).

All results are checked to agree (to 1e-9: the sums run in different orders). Contenders run
interleaved with the garbage collector on; min and median of ``--repeats``. Memory: the tracemalloc
peak of one untimed full pass of each, the inputs excluded for all. Growth: the full pass at each
size with the fitted exponent (time ~ n^b).
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import okrcore


class Org:
    """A generated organisation as flat lists."""

    def __init__(self, krs: int, levels: int, branch: int, seed: int) -> None:
        rng = random.Random(seed)
        self.node_ids = ["goal:g"]
        self.node_parent = [-1]
        previous = [0]
        for level in range(levels):
            current = []
            for parent in previous:
                for _ in range(1 if level == 0 else branch):
                    current.append(len(self.node_ids))
                    self.node_ids.append(f"objective:L{level}-{len(self.node_ids)}")
                    self.node_parent.append(parent)
            previous = current
        self.node_weight = [float(rng.choice((1, 1, 2))) for _ in self.node_ids]
        self.leaf_ids = [f"kr{j}" for j in range(krs)]
        self.leaf_parent = [previous[j % len(previous)] for j in range(krs)]
        self.leaf_weight = [float(rng.choice((1, 1, 1, 2, 3))) for _ in range(krs)]
        self.scores: list[float | None] = [
            None if rng.random() < 0.05 else rng.random() for _ in range(krs)
        ]


def okrcore_full(org: Org) -> okrcore.Rollup:
    tree = okrcore.RollupTree(org.node_ids, org.node_parent, org.node_weight,
                              org.leaf_ids, org.leaf_parent, org.leaf_weight)  # fmt: skip
    return okrcore.Rollup(tree, org.scores)


def flat_full(
    node_parent: Sequence[int],
    node_weight: Sequence[float],
    leaf_parent: Sequence[int],
    leaf_weight: Sequence[float],
    scores: Sequence[float | None],
) -> list[float | None]:
    """What a user writes: sums per node from the key results, then children into parents."""
    total = [0.0] * len(node_parent)
    weight = [0.0] * len(node_parent)
    for p, w, s in zip(leaf_parent, leaf_weight, scores, strict=True):
        if s is not None and w > 0:
            total[p] += w * s
            weight[p] += w
    value: list[float | None] = [None] * len(node_parent)
    for i in range(len(node_parent) - 1, -1, -1):  # children come after their parents
        if weight[i] > 0:
            value[i] = total[i] / weight[i]
            p, w = node_parent[i], node_weight[i]
            if p >= 0 and w > 0:
                total[p] += w * total[i] / weight[i]
                weight[p] += w
    return value


def numpy_full(org: Org, np: Any, depth: Any) -> Any:
    """bincount of the key results into their objectives, then level by level up the tree."""
    n = len(org.node_parent)
    s = np.array([np.nan if v is None else v for v in org.scores])
    lw = np.asarray(org.leaf_weight)
    has = ~np.isnan(s) & (lw > 0)
    lp = np.asarray(org.leaf_parent)
    total = np.bincount(lp[has], weights=(lw * np.nan_to_num(s))[has], minlength=n)
    weight = np.bincount(lp[has], weights=lw[has], minlength=n)
    parent, nw = np.asarray(org.node_parent), np.asarray(org.node_weight)
    for level in range(int(depth.max()), 0, -1):
        nodes = np.nonzero((depth == level) & (weight > 0) & (nw > 0))[0]
        np.add.at(total, parent[nodes], nw[nodes] * total[nodes] / weight[nodes])
        np.add.at(weight, parent[nodes], nw[nodes])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / weight, np.nan)


def ancestor_walk_baseline(org: Org) -> tuple[list[float], list[float], Callable[[int, Any], None]]:
    """Sums and weights per node, and the update a user writes: walk up from the key result."""
    total = [0.0] * len(org.node_parent)
    weight = [0.0] * len(org.node_parent)
    contrib = [0.0] * len(org.node_parent)  # what each node adds to its parent now
    for p, w, s in zip(org.leaf_parent, org.leaf_weight, org.scores, strict=True):
        if s is not None and w > 0:
            total[p] += w * s
            weight[p] += w
    active = [False] * len(org.node_parent)
    for i in range(len(org.node_parent) - 1, 0, -1):
        if weight[i] > 0 and org.node_weight[i] > 0:
            contrib[i] = total[i] / weight[i]
            active[i] = True
            total[org.node_parent[i]] += org.node_weight[i] * contrib[i]
            weight[org.node_parent[i]] += org.node_weight[i]
    scores = list(org.scores)

    def update(j: int, new: float | None) -> None:
        old, w, i = scores[j], org.leaf_weight[j], org.leaf_parent[j]
        scores[j] = new
        if w <= 0:
            return
        if old is not None:
            total[i] -= w * old
            weight[i] -= w
        if new is not None:
            total[i] += w * new
            weight[i] += w
        while i > 0:  # re-derive this node's contribution to its parent, up to the goal
            p, nw = org.node_parent[i], org.node_weight[i]
            if nw <= 0:
                return
            if active[i]:
                total[p] -= nw * contrib[i]
                weight[p] -= nw
            active[i] = weight[i] > 0
            if active[i]:
                contrib[i] = total[i] / weight[i]
                total[p] += nw * contrib[i]
                weight[p] += nw
            i = p

    return total, weight, update


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return (a is None) == (b is None or math.isnan(b))
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def peak(fn: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    result = fn()
    size = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del result
    return size


def fit(points: list[tuple[int, float]]) -> float:
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levels", type=int, default=0,
                    help="levels of objectives (default: about 4 key results per bottom one)")
    ap.add_argument("--branch", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--updates", type=int, default=20_000)
    ap.add_argument("--quick", action="store_true", help="stop at 100,000 key results")
    args, _ = ap.parse_known_args()
    try:
        import numpy as np
    except ModuleNotFoundError:
        np = None
    sizes = [1_000, 10_000, 100_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000]
    growth: dict[str, list[tuple[int, float]]] = {}
    print(f"{'key results':>12} {'contender':>10} {'min s':>8} {'median s':>9} {'peak MiB':>9} "
          f"{'vs okrcore':>10}")
    for krs in sizes:
        levels = args.levels or max(2, round(math.log(krs / 4, args.branch)) + 1)
        org = Org(krs, levels, args.branch, seed=7)
        lists = (org.node_parent, org.node_weight, org.leaf_parent, org.leaf_weight, org.scores)
        runs: dict[str, Callable[[], object]] = {
            "okrcore": lambda o=org: okrcore_full(o),
            "flat": lambda a=lists: flat_full(*a),
        }
        if np is not None:
            depth = np.zeros(len(org.node_parent), dtype=int)
            for i in range(1, len(org.node_parent)):  # input building, free for numpy too
                depth[i] = depth[org.node_parent[i]] + 1
            runs["numpy"] = lambda o=org, d=depth: numpy_full(o, np, d)
        rollup = okrcore_full(org)
        flat = flat_full(*lists)
        assert all(close(rollup.node(i), flat[i]) for i in range(len(flat)))
        if np is not None:
            nums = runs["numpy"]()
            assert all(close(rollup.node(i), float(v)) for i, v in enumerate(nums))  # type: ignore[attr-defined]
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, fn in runs.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        ours = min(times["okrcore"])
        for name, fn in runs.items():
            growth.setdefault(name, []).append((krs, min(times[name])))
            print(f"{krs:>12,} {name:>10} {min(times[name]):>8.3f} "
                  f"{statistics.median(times[name]):>9.3f} {peak(fn) / 2**20:>9.1f} "
                  f"{min(times[name]) / ours:>9.2f}x")

        # incremental: one key result changes; both walk its ancestors
        rng = random.Random(krs)
        picks = [(rng.randrange(krs), rng.random()) for _ in range(args.updates)]
        _total, _weight, walk = ancestor_walk_baseline(org)
        ids = org.leaf_ids
        t_ok, t_walk = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            for j, v in picks:
                rollup.update(ids[j], v)
            t_ok.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for j, v in picks:
                walk(j, v)
            t_walk.append(time.perf_counter() - t0)
        root = rollup.node(0)
        walked = _total[0] / _weight[0] if _weight[0] else None
        assert close(root, walked), (root, walked)
        ok_us, walk_us = min(t_ok) / len(picks) * 1e6, min(t_walk) / len(picks) * 1e6
        print(f"{'':>12} {'update':>10} okrcore {ok_us:.2f} us, ancestor walk {walk_us:.2f} us "
              f"({ok_us / walk_us:.2f}x) per key result, {levels + 1} ancestors")
    for name, points in growth.items():
        print(f"growth {name}: full pass time ~ n^{fit(points):.2f}")


if __name__ == "__main__":
    main()
