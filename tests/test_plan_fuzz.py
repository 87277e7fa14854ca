"""Hostile plan files: whatever the bytes, loading, checking and scoring end in a PlanError or a
result, never another exception and never a hang (docs/limits.md).

The fuzz run mutates the example plan in YAML, JSON and TOML (byte flips, truncation, wrong types,
huge and deep values), seeded so every run sees the same cases. ``OKRCORE_FUZZ_CASES`` sets the
number of cases (default 2,000); ``OKRCORE_FUZZ_SEED`` the seed.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import time
from pathlib import Path
from types import FrameType

import pytest

import okrcore
from okrcore.errors import PlanError
from okrcore.planfile import dumps_plan, load_plan
from okrcore.plugins import PluginManager

EXAMPLE = Path(__file__).parent.parent / "examples" / "marketing.yaml"
CASES = int(os.environ.get("OKRCORE_FUZZ_CASES", "2000"))
SEED = int(os.environ.get("OKRCORE_FUZZ_SEED", "20261129"))
BUDGET = 2.0  # seconds of CPU time one case may take
WATCHDOG = 30  # seconds of wall time after which a case counts as hung

HOSTILE_VALUES = [
    "",
    "null",
    "~",
    "[]",
    "{}",
    "5",
    "-1",
    "0",
    "true",
    '"x"',
    "9" * 400,
    "9" * 5000,
    "1.0e-308",
    "1.0e+308",
    "-1.0e+308",
    ".nan",
    ".inf",
    "0001-01-01",
    "9999-12-31",
    "2026-02-30",
    "[" * 3000 + "]" * 3000,
    "{a: " * 200 + "1" + "}" * 200,
    "*undefined",
    "&a [*a]",
    "!!python/object:os.system x",
    "!!binary aGVsbG8=",
    '"+1e400%"',
    '"+' + "9" * 500 + '%"',
    "\x07",
    "x" * 100_000,
]


def _yaml_bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        aliases = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{aliases}]")
    return "\n".join(lines) + "\n"


def _seeds() -> list[tuple[str, bytes]]:
    text = EXAMPLE.read_text(encoding="utf-8")
    plan = load_plan(EXAMPLE)
    return [
        ("yaml", text.encode()),
        ("json", dumps_plan(plan, "json").encode()),
        ("toml", dumps_plan(plan, "toml").encode()),
    ]


def _mutate(rng: random.Random, fmt: str, data: bytes) -> bytes:
    """One or more mutations of ``data``."""
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        how = rng.randrange(9)
        if not data:
            data = b" "
        at = rng.randrange(len(data))
        if how == 0:  # flip a byte
            data = data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :]
        elif how == 1:  # truncate
            data = data[:at]
        elif how == 2:  # delete a run
            data = data[:at] + data[at + rng.randrange(1, 40) :]
        elif how == 3:  # duplicate a line
            lines = data.split(b"\n")
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i])
            data = b"\n".join(lines)
        elif how in (4, 5, 6):  # a hostile value in place of a value
            lines = data.split(b"\n")
            i = rng.randrange(len(lines))
            sep = b": " if fmt == "yaml" else (b" = " if fmt == "toml" else b": ")
            if sep in lines[i]:
                head = lines[i].split(sep, 1)[0]
                value = rng.choice(HOSTILE_VALUES)
                if fmt == "json":
                    value = rng.choice(
                        ["null", "[]", "{}", "5", "9" * 5000, "1e-308", "[" * 100_000]
                    )
                elif fmt == "toml" and value.startswith(("*", "&", "!", ".", "~")):
                    value = rng.choice(["[]", "{}", "nan", "inf", "0001-01-01", "9" * 5000])
                lines[i] = head + sep + value.encode()
            data = b"\n".join(lines)
        elif how == 7:  # a key removed or renamed
            lines = data.split(b"\n")
            i = rng.randrange(len(lines))
            lines[i] = lines[i].replace(b"id", rng.choice([b"idd", b"", b"target"]), 1)
            data = b"\n".join(lines)
        elif fmt == "yaml":  # an alias bomb or a deep block
            extra = rng.choice(
                [
                    _yaml_bomb(rng.randrange(5, 9)),
                    "policy:\n" + "".join(f"{' ' * i}k:\n" for i in range(1, 3000)),
                ]
            )
            data = data + b"\n" + extra.encode()
        else:
            data = data[:at] + b"\xff\xfe\xc3" + data[at:]
    return data


class _Hung(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _Hung


def _run_case(path: Path, manager: PluginManager) -> None:
    plan = load_plan(path)
    okrcore.check(plan, manager=manager)
    okrcore.score(plan, [], at=dt.date(2026, 11, 15), manager=manager)


def fuzz(cases: int, seed: int, tmp: Path) -> tuple[dict[str, str], float, int]:
    """Run ``cases`` mutated plans; return the failures by signature, the slowest case's CPU
    time and the number of PlanErrors."""
    rng = random.Random(seed)
    seeds = _seeds()
    manager = PluginManager()
    failures: dict[str, str] = {}
    slowest = 0.0
    plan_errors = 0
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for n in range(cases):
            fmt, data = seeds[n % len(seeds)]
            mutated = _mutate(rng, fmt, data)
            path = tmp / f"case.{fmt}"
            path.write_bytes(mutated)
            start = time.process_time()
            signal.alarm(WATCHDOG)
            try:
                _run_case(path, manager)
            except PlanError:
                plan_errors += 1
            except _Hung:
                failures.setdefault(f"hang ({fmt})", f"case {n}")
            except Exception as exc:  # the point of the test: anything else is a bug
                where = exc.__traceback__
                while where is not None and where.tb_next is not None:
                    where = where.tb_next
                line = f"{where.tb_frame.f_code.co_filename}:{where.tb_lineno}" if where else ""
                failures.setdefault(
                    f"{type(exc).__name__} at {line}", f"case {n} ({fmt}): {exc}"[:300]
                )
            finally:
                signal.alarm(0)
            elapsed = time.process_time() - start
            slowest = max(slowest, elapsed)
            if elapsed > BUDGET:
                failures.setdefault(f"slow ({fmt})", f"case {n}: {elapsed:.2f}s")
    finally:
        signal.signal(signal.SIGALRM, previous)
    return failures, slowest, plan_errors


@pytest.fixture
def no_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKRCORE_LOAD_PLUGINS", "")


def test_mutated_plans_end_in_plan_error_or_a_result(tmp_path: Path, no_plugins: None) -> None:
    failures, slowest, plan_errors = fuzz(CASES, SEED, tmp_path)
    report = "\n".join(f"{sig}: {example}" for sig, example in sorted(failures.items()))
    assert not failures, (
        f"{len(failures)} kinds of failure (slowest case {slowest:.2f}s):\n{report}"
    )
    assert plan_errors > CASES // 4  # the mutations do reach the checks


def test_fuzz_mutations_are_deterministic() -> None:
    seeds = _seeds()

    def run() -> list[bytes]:
        rng = random.Random(SEED)
        return [_mutate(rng, *seeds[n % 3]) for n in range(50)]

    assert run() == run()
