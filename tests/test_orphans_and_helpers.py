"""Orphaned check-ins (a key result renamed or removed from the plan), and the helpers the code
base has one of: the loop detector and the relative-target parser."""

from __future__ import annotations

import datetime as dt
import inspect
from pathlib import Path

import pytest
from click.testing import CliRunner

import okrcore
from okrcore import _graph, checks, funnel, model, rollup
from okrcore.checks import check, orphaned_checkins
from okrcore.cli import main
from okrcore.cli.targets import parse_target
from okrcore.default_plugins import checks as builtin_checks
from okrcore.model import CheckIn
from okrcore.planfile import loads_plan, parse_relative
from okrcore.store import SQLiteStore

PLAN = """\
okrcore: 1
cycles:
  - {id: q4, start: 2026-10-01, end: 2026-12-31}
objectives:
  - id: o
    title: Grow
    cycle: q4
    key_results:
      - {id: signups, title: Signups reach 500, kind: count, target: 500, cadence: weekly}
      - {id: leads, title: Leads reach 900, kind: count, target: 900, cadence: weekly}
"""


def _checkins() -> list[CheckIn]:
    return [
        CheckIn("signups", 10, dt.date(2026, 10, 5)),
        CheckIn("sign-ups", 20, dt.date(2026, 10, 12)),  # the old id of "signups"
        CheckIn("sign-ups", 30, dt.date(2026, 10, 19)),
        CheckIn("retired", 5, dt.date(2026, 10, 7)),  # a key result removed from the plan
    ]


def test_orphaned_checkins_are_grouped_by_id_and_dated() -> None:
    orphans = orphaned_checkins(loads_plan(PLAN), _checkins())
    assert list(orphans) == ["retired", "sign-ups"]
    assert [c.as_of for c in orphans["sign-ups"]] == [dt.date(2026, 10, 12), dt.date(2026, 10, 19)]


def test_lint_with_history_reports_orphans_with_how_to_move_them() -> None:
    findings = [f for f in check(loads_plan(PLAN), _checkins()) if f.code == "OKR-H001"]
    assert [f.where for f in findings] == ["retired", "sign-ups"]
    renamed = findings[1].message
    assert "2 check-in(s) from 2026-10-12 to 2026-10-19" in renamed
    assert "(renamed to 'signups'?)" in renamed
    assert "okr checkin PLAN signups VALUE --at DATE" in renamed
    assert "okr checkin PLAN NEW-ID VALUE" in findings[0].message
    assert not [f for f in check(loads_plan(PLAN)) if f.code == "OKR-H001"]  # no history


def _store(tmp_path: Path) -> str:
    with SQLiteStore(tmp_path / "okr.db") as store:
        store.add_checkins(_checkins())
    return f"sqlite:///{tmp_path / 'okr.db'}"


def test_okr_lint_and_score_name_the_orphans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKRCORE_LOAD_PLUGINS", "")
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    url = _store(tmp_path)
    linted = CliRunner().invoke(main, ["lint", str(plan), "--store", url, "--at", "2026-11-01"])
    assert "OKR-H001" in linted.output
    assert "'sign-ups'" in linted.output
    scored = CliRunner().invoke(main, ["score", str(plan), "--store", url, "--at", "2026-11-01"])
    assert scored.exit_code == 0, scored.output
    assert "warning: 2 check-in(s)" in scored.stderr
    assert "'retired'" in scored.stderr
    assert "warning" not in scored.stdout
    as_json = CliRunner().invoke(
        main, ["score", str(plan), "--store", url, "--at", "2026-11-01", "--format", "json"]
    )
    assert as_json.stdout.lstrip().startswith("{")  # the warning stays off stdout


def test_one_loop_detector() -> None:
    assert _graph.find_loops({"a": ["b"], "b": ["a"], "c": ["c"], "d": ["a"]}) == [
        ["a", "b"],
        ["c"],
    ]
    assert _graph.find_loops({1: [0], 0: [1], 2: [1]}) == [[0, 1]]
    long_chain = {str(i): [str(i + 1)] for i in range(50_000)}  # no recursion limit
    assert _graph.find_loops(long_chain) == []
    assert builtin_checks.find_loops is _graph.find_loops
    for module in (model, rollup, builtin_checks):
        assert "find_loops" in inspect.getsource(module)
    plan_build = inspect.getsource(__import__("okrcore.planfile._build", fromlist=["x"]))
    assert "find_loops(" in plan_build


def test_one_relative_target_parser() -> None:
    relative = parse_relative(" +20 % ")
    assert relative is not None
    assert relative.resolve(1000) == 1200
    assert parse_relative("20%") is None
    assert parse_relative("+x%") is None
    assert (
        parse_target("-10%", 50.0)
        == loads_plan(
            PLAN.replace("kind: count, target: 500", "kind: decrease, baseline: 50, target: '-10%'")
        )
        .key_result("signups")
        .target
    )
    assert "re.compile" not in inspect.getsource(__import__("okrcore.cli.targets").cli.targets)


def test_no_dead_code_and_no_citation_of_the_brief() -> None:
    assert not hasattr(funnel, "COUNT_OPS")
    for module in (model, funnel, checks, builtin_checks):
        assert "design brief" not in inspect.getsource(module), module.__name__
    assert okrcore.__name__  # the package imports with every change in place
