"""Initiative status history: recorded at refresh (plan edits) and when following a tracker,
shown by okr history."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

import attrs
from click.testing import CliRunner

from okrcore import (
    Connection,
    Cycle,
    Initiative,
    InitiativeChange,
    InitiativeStatus,
    KeyResult,
    Objective,
    Plan,
    Strategy,
    follow_initiatives,
    hookimpl,
    open_store,
    refresh,
)
from okrcore.cli import main
from okrcore.initiative_history import new_statuses, record_initiative_statuses, status_history
from okrcore.planfile import load_plan
from okrcore.plugins import PluginManager
from okrcore.sources import ItemState, Source, TrackedItem

D = dt.date
DOING, DONE = InitiativeStatus.DOING, InitiativeStatus.DONE


def _plan(streams: str = "planned", seo: str = "doing") -> Plan:
    return Plan(
        cycles=[Cycle("q4", D(2026, 10, 1), D(2026, 12, 31))],
        objectives=[Objective("o", "Grow", "q4", key_results=[
            KeyResult("leads", "Leads", baseline=0, target=100),
        ], strategies=[Strategy("s", "Content", initiatives=[
            Initiative("streams", "Four live streams a month", status=streams),
            Initiative("seo", "SEO keyword overhaul", status=seo),
        ])])],
    )


def test_new_statuses_are_the_first_seen_and_the_changed_ones() -> None:
    at = D(2026, 10, 5)
    first = new_statuses(_plan(), [], at=at)
    assert [(c.initiative_id, c.status.value, c.was) for c in first] == [
        ("streams", "planned", None), ("seo", "doing", None)
    ]
    assert new_statuses(_plan(), first, at=at) == []
    (moved,) = new_statuses(_plan(seo="done"), first, at=D(2026, 10, 9), source="tracker")
    assert (moved.initiative_id, moved.was, moved.status, moved.at, moved.source) == (
        "seo", DOING, DONE, D(2026, 10, 9), "tracker"
    )
    assert new_statuses(_plan(seo="done"), first, at=at, only={"streams"}) == []


def test_record_and_read_back() -> None:
    with open_store("memory://") as store:
        assert len(record_initiative_statuses(_plan(), store, at=D(2026, 10, 5))) == 2
        assert record_initiative_statuses(_plan(), store, at=D(2026, 10, 6)) == []
        record_initiative_statuses(_plan(streams="doing"), store, at=D(2026, 10, 7), run_id="r")
        history = status_history(store, "streams")
        assert [(c.at, c.status.value) for c in history] == [
            (D(2026, 10, 5), "planned"), (D(2026, 10, 7), "doing")
        ]
        assert history[1].run_id == "r"
        assert len(status_history(store)) == 3


PLAN = """okrcore: 1
cycles: [{id: q4, start: 2026-10-01, end: 2026-12-31}]
objectives:
  - id: o
    title: Grow
    cycle: q4
    owner: ann
    key_results:
      - {id: leads, title: Leads, baseline: 0, target: 100}
    strategies:
      - id: s
        title: Content
        initiatives:
          - {id: streams, title: Four live streams a month, status: STREAMS, due: 2026-11-15}
          - {id: jira, title: Tracked one, status: planned, tracks: {connection: j, issue: M-1}}
connections:
  j: {plugin: file}
"""


def _write(path: Path, streams: str) -> Path:
    path.write_text(PLAN.replace("STREAMS", streams), encoding="utf-8")
    return path


def test_a_refresh_records_plan_edits_and_leaves_tracked_initiatives_out(tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.yaml"
    url = f"sqlite:///{tmp_path / 'okr.db'}"
    with open_store(url, create=True) as store:
        first = refresh(load_plan(_write(plan_path, "planned")), store, at=D(2026, 10, 5))
        refresh(load_plan(plan_path), store, at=D(2026, 10, 6))  # nothing changed
        done = refresh(load_plan(_write(plan_path, "done")), store, at=D(2026, 10, 20))
        # a backfill and a dry run record nothing
        refresh(load_plan(_write(plan_path, "dropped")), store, at=D(2026, 10, 21),
                backfill=(D(2026, 10, 1), D(2026, 10, 21)))
        refresh(load_plan(plan_path), store, at=D(2026, 10, 21), dry_run=True)
        history = store.initiative_changes()
    assert [(c.initiative_id, c.at, c.status.value, c.was and c.was.value, c.run_id)
            for c in history] == [
        ("streams", D(2026, 10, 5), "planned", None, first.run.id),
        ("streams", D(2026, 10, 20), "done", "planned", done.run.id),
    ]
    assert first.hook_errors == ()


def test_okr_history_of_an_initiative(tmp_path: Path) -> None:
    plan_path = _write(tmp_path / "plan.yaml", "doing")
    url = f"sqlite:///{tmp_path / 'okr.db'}"
    with open_store(url, create=True) as store:
        t = dt.datetime(2026, 10, 5, 8, tzinfo=dt.timezone.utc)
        store.add_initiative_changes([
            InitiativeChange("streams", "planned", at=D(2026, 10, 5), recorded_at=t),
            InitiativeChange("streams", "doing", "planned", at=D(2026, 10, 12),
                             recorded_at=t + dt.timedelta(days=7), source="tracker"),
        ])
    runner = CliRunner()
    out = runner.invoke(main, ["history", str(plan_path), "streams", "--store", url],
                        env={"COLUMNS": "80"})
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0] == "streams: Four live streams a month"
    assert lines[1] == "Status in the plan: doing; due 2026-11-15"
    assert any("2026-10-12" in line and "doing" in line and "tracker" in line for line in lines)
    assert all(len(line) <= 80 for line in lines)
    data = json.loads(runner.invoke(main, ["history", str(plan_path), "streams", "--store", url,
                                           "--format", "json"]).output)
    assert [(c["at"], c["status"], c["was"]) for c in data["changes"]] == [
        ("2026-10-05", "planned", None), ("2026-10-12", "doing", "planned")
    ]
    assert data["owner"] == "ann"
    md = runner.invoke(main, ["history", str(plan_path), "jira", "--store", url, "--format", "md"])
    assert "No status recorded yet" in md.output
    # an unknown id still names the key results
    bad = runner.invoke(main, ["history", str(plan_path), "nope", "--store", url])
    assert bad.exit_code == 2
    assert "no key result 'nope'" in bad.output


class Board(Source):
    name = "board"
    states: ClassVar[dict[str, str]] = {"t1": "done", "t2": "open"}

    def item_states(self, items: Sequence[TrackedItem]) -> list[ItemState]:
        return [
            ItemState(i, self.states[str(i.query["card"])]) if i.query["card"] in self.states
            else ItemState(i, None, "no such card")
            for i in items
        ]


class BoardPlugin:
    @hookimpl
    def okrcore_register_sources(self, register: Callable[[type[Source]], None]) -> None:
        register(Board)


def test_following_a_tracker_with_a_store_records_its_statuses() -> None:
    manager = PluginManager(load_entry_points=False)
    manager.register(BoardPlugin(), name="board")
    plan = attrs.evolve(_plan(), connections={"b": Connection("b", "board")})
    tracked = [Initiative(i, i, status=status, tracks={"connection": "b", "card": card})
               for i, card, status in (("a", "t1", "doing"), ("b", "t2", "planned"),
                                       ("c", "t9", "planned"))]
    objective = attrs.evolve(plan.objectives[0],
                             strategies=[Strategy("s", "Launch", initiatives=tracked)])
    plan = attrs.evolve(plan, objectives=[objective])
    with open_store("memory://") as store:
        result = follow_initiatives(plan, manager=manager, store=store, at=D(2026, 1, 10))
        assert [(c.initiative_id, c.status.value, c.source) for c in result.recorded] == [
            ("a", "done", "tracker"), ("b", "planned", "tracker")
        ]  # c could not be read: nothing recorded
        again = follow_initiatives(plan, manager=manager, store=store, at=D(2026, 1, 11))
        assert again.recorded == ()
        assert [c.at for c in store.initiative_changes()] == [D(2026, 1, 10)] * 2
    assert attrs.evolve(result, recorded=()) == follow_initiatives(plan, manager=manager)


def test_reports_say_since_when_an_initiative_has_its_status() -> None:
    from okrcore import report

    with open_store("memory://") as store:
        record_initiative_statuses(_plan(), store, at=D(2026, 10, 5))  # first seen: no change
        record_initiative_statuses(_plan(streams="doing"), store, at=D(2026, 10, 12))
        rep = report(_plan(streams="doing"), store, "monthly", at=D(2026, 10, 20))
        lines = {line.id: line for line in rep.initiatives}
        assert lines["streams"].status_since == D(2026, 10, 12)
        assert lines["streams"].state == "doing since 2026-10-12"
        assert lines["seo"].status_since is None
        assert lines["seo"].state == "doing"
        data = rep.to_dict()["initiatives"]
        assert [i["status_since"] for i in data] == ["2026-10-12", None]
        # as of a date before the change, or with the plan saying otherwise: no "since"
        earlier = report(_plan(streams="doing"), store, "daily", at=D(2026, 10, 10))
        assert earlier.initiatives[0].status_since is None
        edited = report(_plan(streams="done"), store, "daily", at=D(2026, 10, 20))
        assert edited.initiatives[0].status_since is None
