"""The ``okr`` command: exit codes, stderr messages, JSON shapes, through the real entry point."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import okrcore
from okrcore.cli import main
from okrcore.model import CheckIn
from okrcore.store import SQLiteStore

PLAN = """\
okrcore: 1
title: CLI test plan
cycles:
  - id: q4
    start: 2026-10-01
    end: 2026-12-31
goals:
  - id: brand
    title: Grow international brand awareness
objectives:
  - id: traffic
    title: Bring many more people to the website
    owner: growth
    level: team
    cycle: q4
    goal: brand
    key_results:
      - id: visits
        title: Organic visits reach 12,000 a month
        kind: increase
        measure: gauge
        unit: visits
        baseline: 10000
        target: 12000
        cadence: weekly
      - id: bounce
        title: Bounce rate from 50% down to 45%
        kind: decrease
        measure: gauge
        unit: "%"
        baseline: 50
        target: 45
        cadence: weekly
  - id: sales
    title: Win more customers from marketing
    owner: growth
    level: team
    cycle: q4
    goal: brand
    key_results:
      - id: leads
        title: Marketing-qualified leads reach 1,000 in Q4
        kind: increase
        measure: cumulative
        unit: leads
        baseline: 0
        target: 1000
        floor: 800
        stretch: 1200
        cadence: daily
      - id: cac
        title: Customer acquisition cost stays at or below 200
        kind: maintain_below
        unit: USD
        target: 200
        cadence: weekly
"""

BAD_PLAN = """\
okrcore: 1
cycles:
  - id: q4
    start: 2026-10-01
    end: 2026-12-31
objectives:
  - id: traffic
    title: Traffic
    cycle: q4
    key_results:
      - id: visits
        title: Visits
        kind: increase
        baseline: 100
        target: not-a-number
"""

AT = "2026-11-20"


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN, encoding="utf-8")
    return path


@pytest.fixture
def bad_plan(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_PLAN, encoding="utf-8")
    return path


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'okr.db'}"
    monkeypatch.setenv("OKRCORE_STORE", url)
    monkeypatch.setenv("OKRCORE_LOAD_PLUGINS", "")  # no installed plugins: only the built-ins
    return url


@pytest.fixture
def store(tmp_path: Path, store_url: str) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "okr.db") as opened:
        yield opened


def okr(*args: str | Path) -> Result:
    """Run a command in-process (fast); stderr is kept apart from stdout."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def okr_process(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command through ``python -m okrcore.cli``, as a user's shell would."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "okrcore.cli", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def no_traceback(text: str) -> bool:
    return "Traceback" not in text


# -- the entry point ----------------------------------------------------------------------------
def test_module_entry_point_runs(store_url: str) -> None:
    done = okr_process("--help")
    assert done.returncode == 0, done.stderr
    for command in ("lint", "score", "checkin", "history", "retarget", "decompose", "demo"):
        assert command in done.stdout


def test_bad_plan_exits_2_with_location_and_no_traceback(bad_plan: Path, store_url: str) -> None:
    for command in ("lint", "score"):
        done = okr_process(command, bad_plan)
        assert done.returncode == 2, done.stdout + done.stderr
        assert no_traceback(done.stderr)
        assert "bad.yaml:15" in done.stderr  # file and line of the bad target
        assert "objectives[0].key_results[0].target" in done.stderr
        assert done.stdout == ""


def test_missing_plan_file_exits_2(tmp_path: Path, store_url: str) -> None:
    result = okr("score", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert "nope.yaml" in result.stderr


def test_unknown_store_scheme_exits_2(plan: Path, store_url: str) -> None:
    result = okr("score", plan, "--store", "nosuch://x", "--at", AT)
    assert result.exit_code == 2
    assert "unknown store scheme 'nosuch'" in result.stderr


def test_bad_date_exits_2(plan: Path, store_url: str) -> None:
    result = okr("score", plan, "--at", "20-11-2026")
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.stderr


# -- lint ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["text", "json", "md"])
def test_lint_exit_code_follows_error_findings(plan: Path, store_url: str, fmt: str) -> None:
    as_json = okr("lint", plan, "--format", "json")
    data = json.loads(as_json.stdout)
    assert set(data) == {"plan", "findings", "counts"}
    has_errors = any(f["severity"] == "error" for f in data["findings"])
    assert data["counts"]["error"] == sum(f["severity"] == "error" for f in data["findings"])
    result = okr("lint", plan, "--format", fmt)
    assert result.exit_code == (1 if has_errors else 0), result.output
    for finding in data["findings"]:
        assert set(finding) >= {"code", "severity", "message", "where", "line", "column"}
        if fmt == "text" and finding["line"] is not None:
            assert f"{plan}:{finding['line']}" in result.stdout


def test_lint_plan_with_an_error_finding_exits_1(tmp_path: Path, store_url: str) -> None:
    # a key result whose deadline falls after its cycle's end: a time-bound error
    text = PLAN.replace(
        "        cadence: daily\n", "        cadence: daily\n        deadline: 2027-03-01\n"
    )
    path = tmp_path / "late.yaml"
    path.write_text(text, encoding="utf-8")
    result = okr("lint", path, "--format", "json")
    data = json.loads(result.stdout)
    errors = [f for f in data["findings"] if f["severity"] == "error"]
    assert errors, data
    assert result.exit_code == 1
    subprocess_result = okr_process("lint", path)
    assert subprocess_result.returncode == 1
    assert no_traceback(subprocess_result.stderr)


# -- check-ins and scores -----------------------------------------------------------------------
def test_checkin_then_score_json(plan: Path, store: SQLiteStore) -> None:
    first = okr("checkin", plan, "visits", "11000", "--at", "2026-11-01", "--note", "from GA")
    assert first.exit_code == 0, first.output
    assert "Stored visits" in first.stdout
    again = okr("checkin", plan, "visits", "11500", "--at", "2026-11-01")
    assert again.exit_code == 2  # refused: a correction says so (docs/stores.md#revisions)
    assert "--replace --reason" in again.stderr
    assert "11,000 visits" in again.stderr  # the value that stays
    stored = store.checkins(["visits"])
    assert [(c.value, c.note, c.source) for c in stored] == [(11000.0, "from GA", "manual")]

    okr("checkin", plan, "visits", "11800", "--at", "2026-11-15")
    result = okr("score", plan, "--at", AT, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["as_of"] == AT
    krs = {k["id"]: k for k in data["key_results"]}
    assert set(krs) == {"visits", "bounce", "leads", "cac"}
    for entry in krs.values():
        assert set(entry) >= {
            "id",
            "actual",
            "progress",
            "score",
            "expected",
            "status",
            "reason",
            "forecast",
            "stale",
            "unit",
            "target",
            "original_target",
        }
    visits = krs["visits"]
    assert visits["actual"] == 11800.0  # a gauge's actual is its latest reading
    assert visits["progress"] == pytest.approx((11800 - 10000) / (12000 - 10000))
    assert visits["unit"] == "visits"
    assert krs["bounce"]["unit"] == "%"
    assert {o["id"] for o in data["objectives"]} == {"traffic", "sales"}
    assert all(set(o) >= {"id", "score", "status"} for o in data["objectives"])
    assert [g["id"] for g in data["goals"]] == ["brand"]
    assert all(set(g) >= {"id", "score"} for g in data["goals"])


@pytest.mark.parametrize("fmt", ["text", "md"])
def test_score_text_and_markdown_carry_units(plan: Path, store_url: str, fmt: str) -> None:
    okr("checkin", plan, "visits", "11800", "--at", "2026-11-15")
    okr("checkin", plan, "bounce", "47", "--at", "2026-11-15")
    result = okr("score", plan, "--at", AT, "--format", fmt)
    assert result.exit_code == 0, result.output
    assert "11,800 visits" in result.stdout
    assert "47%" in result.stdout
    for kr in ("visits", "bounce", "leads", "cac"):
        assert kr in result.stdout
    if fmt == "md":
        assert "| key result |" in result.stdout


def test_score_through_the_process(plan: Path, store_url: str) -> None:
    okr("checkin", plan, "visits", "11000", "--at", "2026-11-01")
    done = okr_process("score", plan, "--at", AT, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["as_of"] == AT


def test_checkin_unknown_kr_names_the_closest(plan: Path, store: SQLiteStore) -> None:
    result = okr("checkin", plan, "visit", "5")
    assert result.exit_code == 2
    assert "no key result 'visit'" in result.stderr
    assert "'visits'" in result.stderr
    assert store.checkins() == []
    far = okr("checkin", plan, "zzzzzz", "5")
    assert far.exit_code == 2
    assert "known: visits, bounce, leads, cac" in far.stderr


def test_checkin_negative_value_and_options(plan: Path, store: SQLiteStore) -> None:
    result = okr(
        "checkin",
        plan,
        "cac",
        "-3",
        "--at",
        "2026-11-02",
        "--author",
        "ana",
        "--confidence",
        "0.5",
        "--source",
        "crm-export",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["stored"] is True
    assert data["checkin"]["value"] == -3.0
    assert data["warnings"] == []
    (stored,) = store.checkins(["cac"])
    assert (stored.author, stored.confidence, stored.source) == ("ana", 0.5, "crm-export")
    assert stored.as_of == dt.date(2026, 11, 2)


def test_checkin_rejects_bad_values(plan: Path, store: SQLiteStore) -> None:
    assert okr("checkin", plan, "visits", "lots").exit_code == 2
    assert okr("checkin", plan, "visits", "5", "--confidence", "2").exit_code == 2
    assert store.checkins() == []


def test_checkin_outside_the_cycle_warns(plan: Path, store: SQLiteStore) -> None:
    result = okr("checkin", plan, "visits", "5", "--at", "2027-02-01")
    assert result.exit_code == 0
    assert "outside cycle 'q4'" in result.stderr


# -- history and retargeting --------------------------------------------------------------------
def test_retarget_relative_and_history(plan: Path, store: SQLiteStore) -> None:
    result = okr("retarget", plan, "visits", "+30%", "--reason", "bigger budget", "--author", "bo")
    assert result.exit_code == 0, result.output
    assert "12,000 visits → 13,000 visits" in result.stdout
    (change,) = store.target_changes("visits")
    assert (change.field, change.old, change.new, change.reason, change.author) == (
        "target",
        12000.0,
        13000.0,
        "bigger budget",
        "bo",
    )
    # the old value of a second change is the current one, and the original is still shown
    second = okr("retarget", plan, "visits", "12500", "--reason", "too ambitious")
    assert "13,000 visits → 12,500 visits (original 12,000 visits)" in second.stdout
    assert [c.old for c in store.target_changes("visits")] == [12000.0, 13000.0]

    history = okr("history", plan, "visits", "--format", "json")
    data = json.loads(history.stdout)
    assert data["original"]["target"] == 12000.0
    assert data["current"]["target"] == 12500.0
    assert [c["reason"] for c in data["target_changes"]] == ["bigger budget", "too ambitious"]

    today = dt.datetime.now(dt.timezone.utc).date().isoformat()  # changes are dated now
    score = json.loads(okr("score", plan, "--at", today, "--format", "json").stdout)
    visits = next(k for k in score["key_results"] if k["id"] == "visits")
    assert (visits["original_target"], visits["target"]) == (12000.0, 12500.0)
    text = okr("score", plan, "--at", today)
    assert "12,000 visits → 12,500 visits" in text.stdout
    # scored at a day before the changes, the plan's own target applies
    yesterday = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()
    before = json.loads(okr("score", plan, "--at", yesterday, "--format", "json").stdout)
    visits = next(k for k in before["key_results"] if k["id"] == "visits")
    assert (visits["original_target"], visits["target"]) == (12000.0, 12000.0)


def test_retarget_negative_relative_value_and_other_fields(plan: Path, store: SQLiteStore) -> None:
    result = okr("retarget", plan, "bounce", "-20%", "--reason", "stretch goal", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["changed"] is True
    assert data["current"] == pytest.approx(40.0)
    floor = okr("retarget", plan, "leads", "850", "--field", "floor", "--reason", "safer")
    assert floor.exit_code == 0, floor.output
    assert [c.field for c in store.target_changes("leads")] == ["floor"]


def test_retarget_refuses_impossible_or_unexplained_values(plan: Path, store: SQLiteStore) -> None:
    impossible = okr("retarget", plan, "bounce", "60", "--reason", "x")
    assert impossible.exit_code == 2
    assert "below the baseline" in impossible.stderr
    assert okr("retarget", plan, "visits", "12500").exit_code == 2  # no --reason
    assert okr("retarget", plan, "visits", "12500", "--reason", "  ").exit_code == 2
    assert okr("retarget", plan, "visits", "lots", "--reason", "x").exit_code == 2
    assert okr("retarget", plan, "nope", "1", "--reason", "x").exit_code == 2
    assert store.target_changes() == []
    same = okr("retarget", plan, "visits", "12000", "--reason", "x")
    assert same.exit_code == 0
    assert "nothing recorded" in same.stdout
    assert store.target_changes() == []


@pytest.mark.parametrize("fmt", ["text", "md"])
def test_history_lists_checkins_in_order(plan: Path, store_url: str, fmt: str) -> None:
    okr("checkin", plan, "leads", "20", "--at", "2026-11-03")
    okr("checkin", plan, "leads", "10", "--at", "2026-11-01", "--note", "first day")
    result = okr("history", plan, "leads", "--format", fmt)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("2026-11-01") < out.index("2026-11-03")
    assert "first day" in out
    assert "No target changes." in out


# -- demo ---------------------------------------------------------------------------------------
def test_demo_runs_offline_and_twice(tmp_path: Path, store_url: str) -> None:
    folder = tmp_path / "demo"
    first = okr_process("demo", "--dir", folder)
    assert first.returncode == 0, first.stderr
    assert no_traceback(first.stderr)
    for name in ("marketing.yaml", "marketing-history.csv", "okrcore.db"):
        assert (folder / name).is_file()
    assert str(folder) in first.stdout
    assert "okr score" in first.stdout
    with SQLiteStore(folder / "okrcore.db") as db:
        count = len(db.checkins())
    assert count > 0
    second = okr_process("demo", "--dir", folder)
    assert second.returncode == 0, second.stderr
    with SQLiteStore(folder / "okrcore.db") as db:
        assert len(db.checkins()) == count  # the same refresh stores nothing new
    # the same date gives the same scorecard
    assert _scorecard_part(first.stdout) == _scorecard_part(second.stdout)


def _scorecard_part(text: str) -> str:
    start = text.index("Scorecard")
    return text[start : text.index("Quality findings", start)]


def test_demo_json_scores_are_reproducible(tmp_path: Path, store_url: str) -> None:
    folder = tmp_path / "demo"
    assert okr("demo", "--dir", str(folder)).exit_code == 0
    url = f"sqlite:///{folder / 'okrcore.db'}"
    data: dict[str, Any] = json.loads(
        okr(
            "score",
            str(folder / "marketing.yaml"),
            "--store",
            url,
            "--at",
            "2026-11-20",
            "--format",
            "json",
        ).stdout
    )
    assert data["as_of"] == "2026-11-20"
    assert data["key_results"]
    assert any(k["actual"] is not None for k in data["key_results"])


# -- lint --online --------------------------------------------------------------------------------
ONLINE_PLUGIN = """
from okrcore.hookspecs import hookimpl
from okrcore.sources import QueryProblem, Source


class FakeOnline(Source):
    name = "fake-online"

    def check_online(self, queries):
        return [
            (kr.id, QueryProblem("metric", f"unknown metric {query.get('metric')!r}"))
            for kr, query in queries
            if query.get("metric") != "sessions"
        ]

    def fetch(self, requests):
        return []


class Unreachable(FakeOnline):
    name = "fake-unreachable"

    def check_online(self, queries):
        raise ConnectionError("connection refused by 127.0.0.1:9")


@hookimpl
def okrcore_register_sources(register):
    register(FakeOnline)
    register(Unreachable)
"""

ONLINE_PLAN = (
    PLAN.replace(
        "goals:\n",
        """plugins: [okr_fake_online_plugin]
connections:
  web:
    plugin: fake-online
  down:
    plugin: fake-unreachable
goals:
""",
    )
    .replace(
        "        target: 12000\n",
        """        target: 12000
        source:
          connection: web
          metric: sessionz
""",
    )
    .replace(
        "        target: 45\n",
        """        target: 45
        source:
          connection: web
          metric: sessions
""",
    )
    .replace(
        "        target: 200\n",
        """        target: 200
        source:
          connection: down
          metric: cac
""",
    )
)


def test_lint_online_reports_live_problems(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "okr_fake_online_plugin.py").write_text(ONLINE_PLUGIN, encoding="utf-8")
    path = tmp_path / "online.yaml"
    path.write_text(ONLINE_PLAN, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), *sys.path]))
    offline = okr_process("lint", path, "--format", "json")
    online = okr_process("lint", path, "--online", "--format", "json")
    assert offline.returncode in (0, 1), offline.stderr
    assert not [f for f in json.loads(offline.stdout)["findings"] if f["code"].startswith("ONLINE")]
    assert online.returncode == 1, online.stderr
    found = [f for f in json.loads(online.stdout)["findings"] if f["code"].startswith("ONLINE")]
    by_code = {f["code"]: f for f in found}
    assert len(found) == 2
    metric = by_code["ONLINE-002"]
    assert "visits" in metric["message"]
    assert "'sessionz'" in metric["message"]
    assert metric["where"] == "objectives[0].key_results[0].source.metric"
    assert metric["line"] is not None
    down = by_code["ONLINE-001"]
    assert "'down'" in down["message"]
    assert "connection refused" in down["message"]
    assert no_traceback(online.stderr)


def test_lint_online_says_which_connections_have_no_online_check(
    tmp_path: Path, store_url: str
) -> None:
    path = tmp_path / "files.yaml"
    path.write_text(
        PLAN.replace(
            "goals:\n", "connections:\n  exports:\n    plugin: file\n    path: data.csv\ngoals:\n"
        ).replace(
            "        target: 12000\n",
            "        target: 12000\n        source: {connection: exports, column: visits}\n",
        ),
        encoding="utf-8",
    )
    result = okr("lint", path, "--online")
    assert "No findings." not in result.stdout
    assert (
        "info ONLINE-000 connection 'exports': plugin 'file' has no online check; 1 query was "
        "checked offline only"
    ) in result.stdout


def test_retarget_at_a_date_applies_from_that_day(plan: Path, store: SQLiteStore) -> None:
    result = okr("retarget", plan, "visits", "13000", "--reason", "q4 push", "--at", "2026-11-10")
    assert result.exit_code == 0, result.output
    (change,) = store.target_changes()
    assert change.changed_at.date() == dt.date(2026, 11, 10)

    def target_at(day: str) -> float:
        data = json.loads(okr("score", plan, "--at", day, "--format", "json").stdout)
        return float(next(k["target"] for k in data["key_results"] if k["id"] == "visits"))

    assert target_at("2026-11-09") == 12000.0
    assert target_at("2026-11-10") == 13000.0
    assert target_at(AT) == 13000.0


def test_demo_next_commands_all_work(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = okr("demo", "--dir", "my-demo")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    commands = [line.strip() for line in lines[lines.index("Next, try:") + 1 :]]
    assert len(commands) >= 5
    for command in commands:
        args = shlex.split(command)
        assert args[0] == "okr"
        done = okr(*args[1:])
        expected = (0, 1) if args[1] == "lint" else (0,)
        assert done.exit_code in expected, (command, done.output)
    # the retarget it suggests shows in the score it suggests
    retarget = next(shlex.split(c) for c in commands if c.startswith("okr retarget"))
    kr = retarget[3]
    score = next(shlex.split(c) for c in commands if c.startswith("okr score"))
    data = json.loads(okr(*score[1:-2], "--format", "json").stdout)
    entry = next(k for k in data["key_results"] if k["id"] == kr)
    assert entry["target"] != entry["original_target"]
    assert entry["target"] == float(retarget[4])


# -- decompose ----------------------------------------------------------------------------------
FUNNEL_PLAN = """\
okrcore: 1
cycles:
  - id: q4
    start: 2026-10-01
    end: 2026-12-31
objectives:
  - id: growth
    title: Win customers through marketing
    cycle: q4
    key_results:
      - id: customers
        title: Win 150 new customers
        kind: increase
        measure: cumulative
        unit: customers
        baseline: 0
        target: 150
        cadence: weekly
      - id: leads
        title: Generate 1,500 leads
        kind: increase
        measure: cumulative
        unit: leads
        baseline: 0
        target: 1500
        cadence: daily
      - id: sem-leads
        title: Search ads bring 450 leads
        kind: increase
        measure: cumulative
        unit: leads
        baseline: 0
        target: 450
        cadence: daily
funnels:
  - id: arr
    start: new_arr
    value: 10000000
    unit: USD
    steps:
      - name: customers
        divide_by: 50000
        unit: customers
        key_result: customers
      - name: leads
        rate: 0.10
        unit: leads
        key_result: leads
      - name: budget
        of: leads
        multiply_by: 200
        unit: USD
    splits:
      - of: leads
        shares: {content: 0.6, sem: 0.3, other: 0.1}
        key_results: {sem: sem-leads}
"""


@pytest.fixture
def funnel_plan(tmp_path: Path) -> Path:
    path = tmp_path / "funnel.yaml"
    path.write_text(FUNNEL_PLAN, encoding="utf-8")
    return path


def test_decompose_reproduces_the_brief(funnel_plan: Path, store: SQLiteStore) -> None:
    result = okr("decompose", funnel_plan, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["stages"] == {
        "new_arr": 10_000_000,
        "customers": 200,
        "leads": 2000,
        "budget": 400_000,
    }
    assert data["splits"] == {"leads": {"content": 1200, "sem": 600, "other": 200}}
    assert data["targets"] == {"customers": 200, "leads": 2000, "sem-leads": 600}
    assert "applied" not in data
    assert store.target_changes() == []  # without --apply nothing is written
    what_if = json.loads(
        okr("decompose", funnel_plan, "--rate", "leads=8%", "--format", "json").stdout
    )
    assert what_if["rates"] == {"leads": 0.08}
    assert what_if["stages"]["leads"] == 2500
    for fmt in ("text", "md"):
        shown = okr("decompose", funnel_plan, "--rate", "leads=0.08", "--format", fmt)
        assert shown.exit_code == 0
        assert "2,500 leads" in shown.stdout
        assert "500,000 USD" in shown.stdout


def test_decompose_apply_records_target_changes_once(funnel_plan: Path, store: SQLiteStore) -> None:
    assert okr("decompose", funnel_plan, "--apply").exit_code == 2  # --reason is required
    first = okr("decompose", funnel_plan, "--apply", "--reason", "board plan", "--format", "json")
    assert first.exit_code == 0, first.output
    applied = json.loads(first.stdout)["applied"]
    assert {(c["kr_id"], c["old"], c["new"]) for c in applied} == {
        ("customers", 150, 200),
        ("leads", 1500, 2000),
        ("sem-leads", 450, 600),
    }
    assert {c.reason for c in store.target_changes()} == {"board plan"}
    again = okr("decompose", funnel_plan, "--apply", "--reason", "board plan")
    assert again.exit_code == 0
    assert "nothing recorded" in again.stdout
    assert len(store.target_changes()) == 3


def test_decompose_measured_rates_from_actuals(funnel_plan: Path, store: SQLiteStore) -> None:
    # 40 customers from 500 leads: a measured 8% conversion, so 2,500 leads are needed
    store.add_checkins(
        [
            CheckIn("customers", 40, dt.date(2026, 11, 1)),
            CheckIn("leads", 500, dt.date(2026, 11, 1)),
        ]
    )
    result = okr("decompose", funnel_plan, "--measured", "--at", AT, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["rates"] == {"leads": pytest.approx(0.08)}
    assert data["stages"]["leads"] == 2500


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "lead=0.08"], "no step 'lead'"),
        (["--rate", "leads=1.5"], "rate"),
        (["--rate", "leads"], "NAME=VALUE"),
        (["--rate", "leads=many"], "expected a number"),
        (["--funnel", "nope"], "no funnel 'nope'"),
    ],
)
def test_decompose_bad_arguments_exit_2(
    funnel_plan: Path, store_url: str, args: list[str], message: str
) -> None:
    result = okr("decompose", funnel_plan, *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_decompose_without_funnel_exits_2(plan: Path, store_url: str) -> None:
    result = okr("decompose", plan)
    assert result.exit_code == 2
    assert "declares no funnel" in result.stderr


def test_unreadable_store_exits_2_without_traceback(plan: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database " * 200)
    done = okr_process("score", plan, "--store", f"sqlite:///{junk}", "--at", AT)
    assert done.returncode == 2
    assert "junk.db" in done.stderr
    assert no_traceback(done.stderr)


def test_lint_reads_a_store_only_when_given(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OKRCORE_STORE", raising=False)
    assert okr("lint", plan).exit_code in (0, 1)
    assert not (tmp_path / "okrcore.db").exists()
    url = f"sqlite:///{tmp_path / 'history.db'}"
    assert (
        okr("checkin", plan, "visits", "10100", "--at", "2026-10-05", "--store", url).exit_code == 0
    )
    with_history = okr("lint", plan, "--store", url, "--at", AT, "--format", "json")
    assert with_history.exit_code in (0, 1)
    assert "findings" in json.loads(with_history.stdout)


def test_okr_without_the_cli_extra_says_what_to_install() -> None:
    # sys.modules[name] = None makes the import fail as if the package were not installed
    code = "import sys; sys.modules['click'] = None; import okrcore.cli"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "okr needs click, part of the command-line extra: pip install 'okrcore[cli]'"
    )


def test_checkin_refuses_a_non_finite_confidence(plan: Path, store: SQLiteStore) -> None:
    result = okr("checkin", plan, "visits", "5", "--confidence", "nan")
    assert result.exit_code == 2
    assert "--confidence must be a number from 0 to 1, got nan" in result.stderr
    assert store.checkins() == []


def test_checkin_refuses_a_negative_amount_as_refresh_does(plan: Path, store: SQLiteStore) -> None:
    result = okr("checkin", plan, "leads", "-3")
    assert result.exit_code == 2
    assert "an amount cannot be negative" in result.stderr
    assert store.checkins() == []


def test_an_okrcore_error_any_command_lets_through_is_a_message(
    store_url: str,
) -> None:
    @main.command("raise-for-test")
    def raise_for_test() -> None:
        raise okrcore.ValidationError("CheckIn.value must be a finite number, got nan")

    @main.command("fail-for-test")
    def fail_for_test() -> None:
        raise okrcore.StoreError("the store went away")

    try:
        usage = okr("raise-for-test")
        failed = okr("fail-for-test")
    finally:
        del main.commands["raise-for-test"], main.commands["fail-for-test"]
    assert (usage.exit_code, usage.stderr) == (
        2,
        "Error: CheckIn.value must be a finite number, got nan\n",
    )
    assert (failed.exit_code, failed.stderr) == (1, "Error: the store went away\n")


def test_every_command_is_in_the_lazy_command_map() -> None:
    # okr imports a command's module only when it runs: the map must name every command
    import importlib
    import pkgutil

    import okrcore.cli
    from okrcore.cli._common import COMMAND_MODULES

    for info in pkgutil.iter_modules(okrcore.cli.__path__):
        importlib.import_module(f"okrcore.cli.{info.name}")
    defined = {
        name: command.callback.__module__.rsplit(".", 1)[-1]
        for name, command in main.commands.items()
        if command.callback is not None and command.callback.__module__.startswith("okrcore.cli")
    }
    assert defined == COMMAND_MODULES
