"""Moving part of one target to another (docs/cli.md "okr retarget", docs/scoring.md "Target
changes"): two linked changes with one reason, recorded together, totals kept, shown as linked in
`okr history` and the reports."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from okrcore.changes import move_target, plan_in_force
from okrcore.cli import main
from okrcore.errors import ValidationError
from okrcore.model import CheckIn
from okrcore.planfile import load_plan
from okrcore.plugins import PluginManager
from okrcore.reports import render, report
from okrcore.store import MemoryStore, SQLiteStore

PLAN = """\
okrcore: 1
cycles: [{id: q4, start: 2026-10-01, end: 2026-12-31}]
objectives:
  - id: leadgen
    title: Generate leads
    cycle: q4
    key_results:
      - {id: leads, title: Leads from events, kind: count, measure: cumulative, unit: leads,
         target: 1000, floor: 700}
      - {id: sem-leads, title: Leads from search ads, kind: count, measure: cumulative,
         unit: leads, target: 300}
      - {id: spend, title: Ad spend, kind: maintain_below, unit: USD, target: 5000}
"""
WHEN = dt.datetime(2026, 11, 2, 9, tzinfo=dt.timezone.utc)


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN, encoding="utf-8")
    return path


def test_a_move_is_two_linked_changes_that_keep_the_total(plan_path: Path) -> None:
    plan = load_plan(plan_path)
    out, into = move_target(plan, 200, "leads", "sem-leads", "budget to SEM", changed_at=WHEN)
    assert (out.kr_id, out.old, out.new) == ("leads", 1000.0, 800.0)
    assert (into.kr_id, into.old, into.new) == ("sem-leads", 300.0, 500.0)
    assert out.link == into.link
    assert out.link is not None
    assert out.reason == into.reason == "budget to SEM"
    store = MemoryStore()
    store.add_target_changes([out, into])
    current = plan_in_force(plan, store, at=WHEN.date())
    after = [current.key_result(k).effective_target or 0.0 for k in ("leads", "sem-leads")]
    assert after == [800.0, 500.0]
    assert sum(after) == 1300.0  # the total is kept
    # before the day of the move, the plan's targets are in force
    assert plan_in_force(plan, store, at=dt.date(2026, 11, 1)).key_result("leads").target == 1000.0


@pytest.mark.parametrize(
    ("amount", "source", "destination", "field", "message"),
    [
        (0, "leads", "sem-leads", "target", "positive number"),
        (float("nan"), "leads", "sem-leads", "target", "positive number"),
        (10, "leads", "leads", "target", "to itself"),
        (10, "leads", "nope", "target", "unknown key result 'nope'"),
        (10, "leads", "spend", "target", "same unit"),
        (10, "leads", "sem-leads", "stretch", "no stretch"),
        (400, "leads", "sem-leads", "target", "floor (700) is beyond the target (600)"),
    ],
)
def test_impossible_moves_say_why(
    plan_path: Path, amount: float, source: str, destination: str, field: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        move_target(load_plan(plan_path), amount, source, destination, "why", field=field)


@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plan_path: Path) -> Path:
    db = tmp_path / "okr.db"
    monkeypatch.setenv("OKRCORE_STORE", f"sqlite:///{db}")
    monkeypatch.setenv("OKRCORE_LOAD_PLUGINS", "")
    monkeypatch.setenv("COLUMNS", "80")
    with SQLiteStore(db) as store:
        store.add_checkins([CheckIn("leads", 300, dt.date(2026, 10, 31))])
    return db


def okr(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


def test_cli_move_records_both_and_history_shows_the_link(plan_path: Path, cli_store: Path) -> None:
    code, out = okr(
        "retarget", plan_path, "--move", "200", "--from", "leads", "--to", "sem-leads",
        "--reason", "budget shift to SEM", "--at", "2026-11-02", "--author", "ann",
    )  # fmt: skip
    assert code == 0, out
    assert "from leads (1,000 → 800) to sem-leads (300 → 500)" in out
    assert "together still 1,300 leads" in out
    with SQLiteStore(cli_store) as store:
        changes = store.target_changes()
    assert [(c.kr_id, c.new, c.author) for c in changes] == [
        ("leads", 800.0, "ann"),
        ("sem-leads", 500.0, "ann"),
    ]
    link = changes[0].link
    assert link is not None
    assert changes[1].link == link
    code, out = okr("history", plan_path, "sem-leads")
    assert code == 0, out
    assert "moved with leads 1,000 → 800" in out
    assert link in out
    assert all(len(line) <= 80 for line in out.splitlines())
    code, out = okr("history", plan_path, "leads", "--format", "json")
    (change,) = json.loads(out)["target_changes"]
    assert change["link"] == link
    assert change["linked"] == [{"kr_id": "sem-leads", "field": "target", "old": 300, "new": 500}]
    code, out = okr("history", plan_path, "leads", "--format", "md")
    assert "moved with sem-leads 300 → 500" in out


def test_cli_move_json_and_refusals(plan_path: Path, cli_store: Path) -> None:
    code, out = okr(
        "retarget", plan_path, "--move", "50", "--from", "sem-leads", "--to", "leads",
        "--reason", "back", "--format", "json",
    )  # fmt: skip
    assert code == 0, out
    data = json.loads(out)
    assert data["total"] == 1300
    assert [c["new"] for c in data["changes"]] == [250, 1050]
    assert data["changes"][0]["link"] == data["link"]
    for args, message in [
        (["--move", "5", "--from", "leads", "--to", "spend"], "same unit"),
        (["--move", "5", "--from", "leads"], "--move needs an AMOUNT, --from KR and --to KR"),
        (["leads", "900", "--move", "5", "--from", "leads", "--to", "sem-leads"], "not both"),
        ([], "give KR VALUE"),
    ]:
        code, out = okr("retarget", plan_path, *args, "--reason", "x")
        assert code == 2, out
        assert message in out
    with SQLiteStore(cli_store) as store:
        assert len(store.target_changes()) == 2  # only the first move


def test_reports_name_the_other_side_of_a_move(plan_path: Path) -> None:
    plan = load_plan(plan_path)
    store = MemoryStore()
    store.add_checkins([CheckIn("leads", 300, dt.date(2026, 10, 31))])
    moved = move_target(plan, 200, "leads", "sem-leads", "to SEM", changed_at=WHEN)
    store.add_target_changes(moved)
    manager = PluginManager(load_entry_points=False)
    rep = report(plan, store, "weekly", at=dt.date(2026, 11, 5), manager=manager)
    data = json.loads(render(rep, "json"))
    links = {c["kr_id"]: c["link"] for c in data["target_changes"]}
    assert links["leads"] == links["sem-leads"] is not None
    assert "to SEM (moved with Leads from search ads)" in render(rep, "md")
    assert "moved with Leads from events" in render(rep, "text", width=80)
    assert "moved with Leads from search ads" in render(rep, "html")
