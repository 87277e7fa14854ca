"""Hostile and extreme plan files: each ends in a PlanError placed at a file:line:col, within the
limits docs/limits.md documents, in the library and through ``okr lint``/``score``/``decompose``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

import okrcore
from okrcore.cli import main
from okrcore.errors import PlanError, Problem
from okrcore.funnel import derive_funnel
from okrcore.model import Funnel, FunnelStep
from okrcore.planfile import _read, _read_yaml, load_plan, loads_plan
from okrcore.planfile._limits import MAX_DEPTH, MAX_NODES

HEAD = "okrcore: 1\ncycles:\n  - id: q\n    start: 2026-01-01\n    end: 2026-03-31\n"
OBJ = HEAD + "objectives:\n  - id: o\n    title: O\n    cycle: q\n    key_results:\n"
KR = "      - id: k\n        title: K\n        kind: count\n        target: 5\n"


def _bomb(levels: int) -> str:
    lines = ["okrcore: 1", "policy:", "  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        lines.append(f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


# name -> (file content, extension, expected line, text in the message)
CASES: dict[str, tuple[str | bytes, str, int, str]] = {
    "empty key_results": (OBJ, "yaml", 10, "expected a list, got nothing"),
    "empty objectives": (HEAD + "objectives:\n", "yaml", 6, "expected a list, got nothing"),
    "empty connections": (HEAD + "connections:\n", "yaml", 6, "expected a mapping"),
    "depends_on null": (OBJ + KR + "        depends_on: null\n", "yaml", 15, "an id or a list"),
    "objectives: 5": (HEAD + "objectives: 5\n", "yaml", 6, "expected a list, got 5"),
    "400-digit target": (OBJ + KR.replace("5", "9" * 400), "yaml", 14, "number too large"),
    "5000-digit YAML integer": (OBJ + KR.replace("5", "9" * 5000), "yaml", 14, "5,000 digits"),
    "5000-digit JSON integer": (
        '{"okrcore": 1,\n "title": ' + "9" * 5000 + "}",
        "json",
        2,
        "5,000",
    ),
    "5000-digit TOML integer": ("okrcore = 1\ntitle = " + "9" * 5000 + "\n", "toml", 2, "5,000"),
    "3000-deep YAML flow": ("okrcore: 1\npolicy: " + "[" * 3000 + "]" * 3000, "yaml", 2, "deep"),
    "3000-deep YAML block": (
        "okrcore: 1\npolicy:\n" + "".join(f"{' ' * i}k:\n" for i in range(1, 3000)),
        "yaml",
        MAX_DEPTH + 2,
        "deep",
    ),
    "3000-deep TOML": (
        "okrcore = 1\npolicy = {a = " + "[" * 3000 + "]" * 3000 + "}",
        "toml",
        2,
        "deep",
    ),
    "100000-deep JSON": (
        '{"okrcore": 1,\n"policy": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "json",
        2,
        "deep",
    ),
    "control character in YAML": ("okrcore: 1\ntitle: a\x07b\n", "yaml", 2, "U+0007"),
    "cycle starting in year 1": (
        HEAD.replace("2026-01-01", "0001-01-01"),
        "yaml",
        4,
        "out of range",
    ),
    "cycle ending in 9999": (HEAD.replace("2026-03-31", "9999-12-31"), "yaml", 5, "out of range"),
    "deadline in 9999": (OBJ + KR + "        deadline: 9999-06-01\n", "yaml", 15, "out of range"),
    "YAML alias bomb": (_bomb(7), "yaml", 3, f"more than {MAX_NODES:,} values"),
    "YAML alias bomb, 8 levels": (_bomb(8), "yaml", 3, f"more than {MAX_NODES:,} values"),
    "non-UTF-8 byte": (b"okrcore: 1\ntitle: caf\xe9\n", "yaml", 2, "byte 0xe9 at offset 21"),
    "TOML ending inside a string": ('okrcore = 1\ntitle = "a', "toml", 2, "Unterminated string"),
    "missing okrcore": ("title: x\n", "yaml", 1, "needs 'okrcore'"),
    "empty plan": ("", "yaml", 1, "the plan is empty"),
    "missing okrcore, TOML": ('title = "x"\n', "toml", 1, "needs 'okrcore'"),
    "missing okrcore, JSON": ('{"title": "x"}', "json", 1, "needs 'okrcore'"),
    "huge relative target": (
        OBJ + KR.replace("kind: count", "baseline: 1.0e+14").replace("5", '"+900000%"'),
        "yaml",
        14,
        "too large",
    ),
    "funnel stage beyond range": (
        OBJ
        + KR
        + "funnels:\n  - id: f\n    start: revenue\n    value: 1000\n"
        + "    steps:\n      - name: deals\n        divide_by: 1.0e-308\n",
        "yaml",
        21,
        "stage 'deals' would be",
    ),
}


def _write(tmp_path: Path, content: str | bytes, ext: str) -> Path:
    path = tmp_path / f"plan.{ext}"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_plan_is_a_located_plan_error(tmp_path: Path, name: str) -> None:
    content, ext, line, text = CASES[name]
    with pytest.raises(PlanError) as info:
        load_plan(_write(tmp_path, content, ext))
    problems = info.value.problems
    assert all(p.line is not None and p.column is not None for p in problems), problems
    assert problems[0].line == line, problems
    assert text in str(info.value)
    assert len(str(info.value)) < 2000  # long values are cut in messages


@pytest.mark.parametrize("name", ["3000-deep YAML flow", "3000-deep YAML block", "YAML alias bomb"])
def test_pure_python_yaml_parser_enforces_the_same_limits(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_read_yaml, "LOADER", _read_yaml.PURE_LOADER)
    content, ext, _line, text = CASES[name]
    with pytest.raises(PlanError, match=text) as info:
        load_plan(_write(tmp_path, content, ext))
    assert info.value.problems[0].line is not None


def test_limits_leave_room_for_a_real_plan() -> None:
    levels = MAX_DEPTH - 2  # inside the plan and its policy mapping
    deep = "okrcore: 1\npolicy: {x: " + "[" * levels + "]" * levels + "}\n"
    assert loads_plan(deep).policy
    with pytest.raises(PlanError, match="nested more than"):
        loads_plan(deep.replace("[", "[[", 1).replace("]", "]]", 1))
    many = "okrcore: 1\npolicy:\n  x: [" + ", ".join(["1"] * (MAX_NODES - 10)) + "]\n"
    assert len(loads_plan(many).policy["x"]) == MAX_NODES - 10


def test_dates_at_the_edges_of_the_range_load_and_score() -> None:
    text = HEAD.replace("2026-01-01", "1970-01-01").replace("2026-03-31", "9998-01-01")
    plan = loads_plan(text + OBJ.removeprefix(HEAD) + KR)
    okrcore.check(plan)
    okrcore.score(plan, [], at=dt.date(1970, 1, 1))
    okrcore.score(plan, [], at=dt.date(9998, 1, 1))


def test_funnel_that_overflows_a_float_is_a_plan_error_not_an_overflow() -> None:
    funnel = Funnel("f", "revenue", 1e300, steps=[FunnelStep("deals", "divide_by", 1e-300)])
    with pytest.raises(PlanError, match="stage 'deals' would be inf") as info:
        derive_funnel(funnel)
    assert info.value.problems[0].path == "steps[0].divide_by"


def test_problem_positions_are_computed_only_when_asked(tmp_path: Path) -> None:
    for ext, text in (
        ("json", '{"okrcore": 1, "title": "x"}'),
        ("toml", 'okrcore = 1\ntitle = "x"'),
    ):
        plan = load_plan(_write(tmp_path, text, ext))
        assert isinstance(plan.positions, _read.LazyPositions)
        assert plan.locate("title") == ((1, 16) if ext == "json" else (2, 1))


# -- through the command line ---------------------------------------------------------------------


def _okr(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


CLI_CASES = [
    "empty key_results",
    "depends_on null",
    "5000-digit JSON integer",
    "3000-deep YAML block",
    "100000-deep JSON",
    "control character in YAML",
    "cycle starting in year 1",
    "YAML alias bomb",
    "non-UTF-8 byte",
    "funnel stage beyond range",
]


@pytest.mark.parametrize("name", CLI_CASES)
@pytest.mark.parametrize("command", ["lint", "score", "decompose"])
def test_cli_shows_hostile_plans_as_a_message(
    tmp_path: Path, name: str, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKRCORE_STORE", "memory://")
    monkeypatch.setenv("OKRCORE_LOAD_PLUGINS", "")
    content, ext, line, _text = CASES[name]
    path = _write(tmp_path, content, ext)
    code, output = _okr(command, path)
    assert code == 2, output
    assert "Traceback" not in output
    assert f"{path}:{line}:" in output


@pytest.mark.parametrize("value", ["2026W101", "2026-W10-1", "20261115", "2026-11"])
def test_cli_takes_calendar_dates_only(tmp_path: Path, value: str) -> None:
    path = _write(tmp_path, OBJ + KR, "yaml")
    code, output = _okr("score", path, "--store", "memory://", "--at", value)
    assert code == 2
    assert "YYYY-MM-DD" in output


def test_problem_without_position_is_placed_at_the_document() -> None:
    assert Problem("x", "m").describe("p.yaml") == "p.yaml: x: m"  # unchanged for other callers
    with pytest.raises(PlanError) as info:
        loads_plan("okrcore: 1\nbogus: [1]\n", name="p.yaml")
    assert str(info.value).startswith("p.yaml:2:1: bogus: unknown key")
