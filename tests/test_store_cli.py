"""The store through `okr`: corrections of check-ins, revisions in `okr history`, and commands
that must not create a store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from okrcore.cli import main

PLAN = """\
okrcore: 1
cycles:
  - {id: q4, start: 2026-10-01, end: 2026-12-31}
objectives:
  - id: traffic
    title: Traffic
    cycle: q4
    key_results:
      - {id: visits, title: Visits, kind: increase, measure: gauge, unit: visits,
         baseline: 100, target: 200}
"""


def okr(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OKRCORE_LOAD_PLUGINS", "")
    monkeypatch.delenv("OKRCORE_STORE", raising=False)
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN, encoding="utf-8")
    return path


def test_a_second_checkin_is_refused_unless_it_is_a_correction(
    plan: Path, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'okr.db'}"
    day = ("--at", "2026-11-01", "--store", store)
    assert okr("checkin", plan, "visits", "150", *day).exit_code == 0
    same = okr("checkin", plan, "visits", "150", *day)
    assert (same.exit_code, "nothing written" in same.stdout) == (0, True)
    other = okr("checkin", plan, "visits", "160", *day)
    assert other.exit_code == 2
    assert "already has a check-in as of 2026-11-01" in other.stderr
    assert '--replace --reason "why it was wrong"' in other.stderr
    assert okr("checkin", plan, "visits", "160", "--replace", *day).exit_code == 2
    assert okr("checkin", plan, "visits", "160", "--reason", "x", *day).exit_code == 2

    fixed = okr("checkin", plan, "visits", "160", "--replace", "--reason", "typo", *day,
                "--format", "json")
    assert fixed.exit_code == 0, fixed.output
    data = json.loads(fixed.stdout)
    assert (data["stored"], data["revised"], data["replaced"]["value"]) == (True, True, 150.0)

    hist = okr("history", plan, "visits", "--store", store, "--format", "json")
    data = json.loads(hist.stdout)
    assert [c["value"] for c in data["checkins"]] == [160.0]
    (old,) = data["replaced"]
    assert (old["value"], old["reason"], old["replaced_by_run"]) == (150.0, "typo", None)
    text = okr("history", plan, "visits", "--store", store)
    assert "revision" in text.stdout
    assert "typo" in text.stdout
    score = okr("score", plan, "--store", store, "--at", "2026-11-02", "--format", "json")
    assert json.loads(score.stdout)["key_results"][0]["actual"] == 160.0


@pytest.mark.parametrize(
    "command",
    [
        ("score", "{plan}"),
        ("report", "{plan}"),
        ("history", "{plan}", "visits"),
        ("runs",),
        ("retarget", "{plan}", "visits", "300", "--reason", "more"),
    ],
)
def test_commands_that_read_never_create_a_store(
    plan: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    missing = tmp_path / "typo.db"
    args = [a.format(plan=plan) for a in command]
    result = okr(*args, "--store", f"sqlite:///{missing}")
    assert result.exit_code == 2, result.output
    assert f"no store at sqlite:///{missing}" in result.stderr
    assert not missing.exists()


def test_an_error_wraps_at_the_terminal_width_and_stays_one_line_in_a_pipe(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["score", str(plan), "--store", "sqlite:///typo.db"]
    narrow = CliRunner().invoke(main, args, env={"COLUMNS": "80"})
    piped = CliRunner().invoke(main, args)  # no terminal, no $COLUMNS: one line for grep
    assert narrow.exit_code == piped.exit_code == 2
    assert piped.stderr.count("\n") == 1
    assert piped.stderr.startswith("Error: no store at sqlite:///typo.db: the file does not exist")
    lines = narrow.stderr.splitlines()
    assert len(lines) > 1
    assert max(len(line) for line in lines) <= 80
    assert lines[1].startswith("    ")  # continuation lines are indented
    assert " ".join(narrow.stderr.split()) == " ".join(piped.stderr.split())


def test_checkin_and_refresh_create_the_store(plan: Path, tmp_path: Path) -> None:
    first = tmp_path / "first.db"
    assert okr("checkin", plan, "visits", "1", "--store", f"sqlite:///{first}").exit_code == 0
    assert first.exists()
    second = tmp_path / "second.db"
    assert okr("refresh", plan, "--store", f"sqlite:///{second}").exit_code == 0
    assert second.exists()
    assert okr("runs", "--store", f"sqlite:///{second}").exit_code == 0
