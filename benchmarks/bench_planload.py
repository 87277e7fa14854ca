"""Benchmark: load a plan of 2,000 key results from YAML, TOML and JSON.

Run: ``python benchmarks/bench_planload.py`` (``--krs 500`` for a quick run, ``--repeats N``).

The plan is generated (20 objectives of 100 key results each, every key result with a source and
its query, as a real plan has), written with :func:`okrcore.dump_plan` in each format, and then:

okrcore
    :func:`okrcore.load_plan`: parse, check every field against the plan format, build the model
    (field positions are computed only when asked for: an error or a lint finding).
baseline
    What a competent user would write to just read the file: ``yaml.load(fh, yaml.CSafeLoader)``
    (PyYAML's libyaml loader), ``json.load``, ``tomllib.load``: parsing only, no checks, no model.

The contenders run interleaved (baseline, okrcore, baseline, ...) in one process with the GC on;
the min and median of the repeats and the ratio okrcore / baseline are printed. Peak memory is
measured with tracemalloc in a separate, untimed run of each.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from okrcore import dump_plan, load_plan
from okrcore.model import Connection, Cycle, KeyResult, Objective, Plan

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

GOAL_SECONDS = 0.5


def make_plan(krs: int) -> Plan:
    per_objective = 100
    objectives = []
    for o in range((krs + per_objective - 1) // per_objective):
        key_results = [
            KeyResult(
                id=f"kr-{o}-{k}",
                title=f"Key result {k} of objective {o} moves its metric",
                kind="increase",
                measure="gauge" if k % 2 else "cumulative",
                unit="leads",
                metric=f"metric_{k}",
                baseline=100.0 + k,
                target=200.0 + k,
                owner=f"team-{o}",
                cadence="weekly",
                source={"connection": "exports", "path": "history.csv", "where": {"metric": "m"}},
            )
            for k in range(min(per_objective, krs - o * per_objective))
        ]
        objectives.append(
            Objective(
                id=f"obj-{o}",
                title=f"Objective {o}",
                owner=f"team-{o}",
                cycle="q4",
                key_results=key_results,
            )
        )
    return Plan(
        cycles=[Cycle("q4", dt.date(2026, 10, 1), dt.date(2026, 12, 31))],
        objectives=objectives,
        connections={"exports": Connection("exports", "file", {})},
    )


def timed(func: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        out.append(time.perf_counter() - start)
    return out


def peak(func: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    func()
    _current, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--krs", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    plan = make_plan(args.krs)
    with tempfile.TemporaryDirectory() as folder:
        paths = {fmt: Path(folder) / f"plan.{fmt}" for fmt in ("yaml", "toml", "json")}
        for path in paths.values():
            dump_plan(plan, path)

        def yaml_base() -> Any:
            with open(paths["yaml"], encoding="utf-8") as fh:
                return yaml.load(fh, Loader=yaml.CSafeLoader)

        def json_base() -> Any:
            with open(paths["json"], encoding="utf-8") as fh:
                return json.load(fh)

        def toml_base() -> Any:
            with open(paths["toml"], "rb") as fh:
                return tomllib.load(fh)

        baselines = {"yaml": yaml_base, "toml": toml_base, "json": json_base}
        print(
            f"plan: {args.krs:,} key results; libyaml: {yaml.__with_libyaml__}; "
            f"repeats: {args.repeats} (min / median seconds)"
        )
        print(
            f"{'format':6} {'size':>9} {'baseline':>17} {'okrcore':>17} {'ratio':>6} "
            f"{'peak MB (base/okr)':>19}"
        )
        worst = 0.0
        for fmt, path in paths.items():
            ours = lambda path=path: load_plan(path)  # noqa: E731
            base = baselines[fmt]
            ours()  # warm: imports, regex compilation
            base_times: list[float] = []
            our_times: list[float] = []
            for _ in range(args.repeats):  # interleaved
                base_times += timed(base, 1)
                our_times += timed(ours, 1)
            b_min, o_min = min(base_times), min(our_times)
            worst = max(worst, o_min)
            print(
                f"{fmt:6} {path.stat().st_size / 1e6:>7.2f}MB "
                f"{b_min:>7.3f} / {statistics.median(base_times):<7.3f} "
                f"{o_min:>7.3f} / {statistics.median(our_times):<7.3f} "
                f"{o_min / b_min:>5.1f}x "
                f"{peak(base) / 1e6:>8.1f} / {peak(ours) / 1e6:<8.1f}"
            )
        verdict = "meets" if worst < GOAL_SECONDS else "misses"
        print(f"slowest okrcore load {worst:.3f}s: {verdict} the goal of {GOAL_SECONDS}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
