"""Benchmark of start-up: what a cron script or an ``okr`` command pays before doing any work.

Each contender is a fresh interpreter (``python -X ... -c CODE``), so imports are counted as a
user meets them; contenders are interleaved in one run (round-robin), GC on, and each figure is
the min and median over the repeats, with the peak memory (max RSS) of the process:

* ``bare``: ``python -c pass``, the baseline every other figure is compared with;
* ``import``: ``import okrcore``;
* ``score``: ``import okrcore`` + ``open_store("memory://")`` + ``load_plan`` and ``score`` of
  examples/marketing.yaml: the Python API's first use (goal: under 100 ms more than bare);
* ``okr score``: the command line on the same plan (an empty SQLite store), through the installed
  ``okr`` script when there is one (goal: under 0.5 s).

Run it with every plugin installed (as ``nox -s bench`` does): built-in names must resolve
without importing them. The installed okrcore plugins are listed first.

Usage: python benchmarks/bench_startup.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "examples" / "marketing.yaml"
AT = "2026-11-20"

SCORE = f"""
import datetime as dt
import okrcore
store = okrcore.open_store("memory://")
plan = okrcore.load_plan({str(PLAN)!r})
card = okrcore.score(plan, store.checkins(), at=dt.date.fromisoformat({AT!r}))
assert card.key_results
"""


def contenders(store: Path) -> dict[str, list[str]]:
    script = shutil.which("okr", path=str(Path(sys.executable).parent)) or shutil.which("okr")
    okr = [script] if script else [sys.executable, "-m", "okrcore.cli"]
    return {
        "bare": [sys.executable, "-c", "pass"],
        "import": [sys.executable, "-c", "import okrcore"],
        "score": [sys.executable, "-c", SCORE],
        "okr score": [*okr, "score", str(PLAN), "--store", f"sqlite:///{store}", "--at", AT],
    }


# As a user's interpreter runs: bytecode cached (the warm-up run writes it), so that a figure
# does not include compiling okrcore's sources again on every run.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_once(command: list[str]) -> tuple[float, float, int]:
    """Wall time and CPU time (user + system) in seconds, and max RSS in KiB, of one run."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV
    )
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.stderr:
        process.stderr.close()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])}... failed ({process.returncode}):\n{stderr}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    plugins = sorted(
        f"{ep.name} ({ep.dist.name if ep.dist else '?'})"
        for ep in importlib.metadata.entry_points(group="okrcore")
    )
    print(f"installed okrcore plugins ({len(plugins)}): {', '.join(plugins) or 'none'}")
    folder = tempfile.mkdtemp(prefix="bench-startup-")
    store = Path(folder) / "okrcore.db"  # okr score opens only an existing store
    subprocess.run([sys.executable, "-c", f"import okrcore; okrcore.open_store("
                    f"{'sqlite:///' + str(store)!r}).close()"], check=True)
    commands = contenders(store)
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    memory: dict[str, list[int]] = {name: [] for name in commands}
    for command in commands.values():  # warm the file cache and the .pyc files
        run_once(command)
    for _ in range(args.repeats):
        for name, command in commands.items():
            elapsed, used, rss = run_once(command)
            times[name].append(elapsed)
            cpu[name].append(used)
            memory[name].append(rss)

    print(f"{args.repeats} runs each, interleaved; wall and CPU (user + system) time, max RSS")
    print(
        f"{'contender':<11}{'wall min':>10}{'median':>8}{'CPU min':>9}{'- bare':>8}{'x bare':>8}"
        f"{'RSS':>7}"
    )
    bare = min(cpu["bare"])
    for name in commands:
        wall, middle, used = min(times[name]), statistics.median(times[name]), min(cpu[name])
        rss = max(memory[name]) / 1024
        print(
            f"{name:<11}{wall * 1000:>8.0f}ms{middle * 1000:>6.0f}ms{used * 1000:>7.0f}ms"
            f"{(used - bare) * 1000:>6.0f}ms{used / bare:>7.1f}x{rss:>5.0f}MB"
        )
    # The goals are for an idle machine; CPU time is what a run costs whatever else runs beside.
    extra = (min(cpu["score"]) - bare) * 1000
    okr = min(cpu["okr score"])
    print(
        f"score: {extra:.0f} ms CPU more than bare (goal < 100 ms): "
        f"{'ok' if extra < 100 else 'MISSED'}"
    )
    print(f"okr score: {okr * 1000:.0f} ms CPU (goal < 500 ms): {'ok' if okr < 0.5 else 'MISSED'}")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
