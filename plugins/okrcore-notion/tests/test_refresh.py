"""End to end: the plan of docs/plugins/notion.md through ``okr lint`` and ``okr refresh``."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from notion_fake import TOKEN, FakeNotion, error

from okrcore import open_store
from okrcore.cli import main
from okrcore.engine import RefreshOptions
from okrcore.planfile import load_plan
from okrcore.plugins import PluginManager
from okrcore.testing import closed_port, plan_example, refresh_without_waiting

D = dt.date
DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "notion.md"
CONTENT = "1f2e3d4c-5b6a-4798-8776-655443322110"
CHECKLIST = "1f2e3d4c-5b6a-4798-8776-655443322111"
TEAM = "1f2e3d4c-5b6a-4798-8776-655443322112"


@pytest.fixture(autouse=True)
def _docs_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTION_TOKEN", TOKEN)  # the variable the docs page names
    monkeypatch.delenv("OKRCORE_LOAD_PLUGINS", raising=False)


def docs_plan(url: str, tmp_path: Path) -> Path:
    """The page's full plan example, aimed at the fake, written to a file."""
    plan = plan_example(DOCS)
    plan["connections"]["notion"]["endpoint"] = url
    plan["connections"]["notion"]["requests_per_second"] = 1000
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


@pytest.fixture
def workspace(fake: FakeNotion) -> FakeNotion:
    (content,) = fake.add_database(CONTENT, {"Name": "title", "Status": "status",
                                             "Published on": "date", "Type": "select"})
    for i in range(130):
        published = i % 2 == 0
        fake.add_page(content, D(2025, 12, 1), Status="Published" if published else "Draft",
                      Published_on=D(2026, 1, 1) + dt.timedelta(days=i % 90) if published
                      else None, Type="Article" if i % 3 else "Request")
    (checklist,) = fake.add_database(CHECKLIST, {"Name": "title", "Done": "checkbox"})
    for i in range(10):
        fake.add_page(checklist, D(2026, 1, 3), Done=i < 7)
    (team,) = fake.add_database(TEAM, {"Name": "title", "Status": "status", "Team": "select",
                                       "Quarter": "select"})
    for i in range(40):
        fake.add_page(team, D(2026, 1, 3), Status="Done" if i % 4 else "In progress",
                      Team="Growth" if i < 20 else "Brand", Quarter="Q1")
    return fake


def test_okr_refresh_runs_the_docs_plan(workspace: FakeNotion, tmp_path: Path) -> None:
    plan = docs_plan(workspace.url, tmp_path)
    store = f"sqlite:///{tmp_path / 'okr.db'}"
    args = ["refresh", str(plan), "--store", store, "--at", "2026-03-15", "--format", "json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    outcomes = {o["id"]: o for o in json.loads(result.output)["refreshed"]}
    assert outcomes["launch-checklist"]["value"] == 0.7
    assert outcomes["growth-tasks"]["value"] == 75
    assert outcomes["open-requests"]["value"] == sum(1 for i in range(130)
                                                     if i % 2 and not i % 3)
    articles = [D(2026, 1, 1) + dt.timedelta(days=i % 90) for i in range(0, 130, 2) if i % 3]
    checkins = open_store(store).checkins(["articles-published"])
    assert sum(c.value for c in checkins) == sum(1 for d in articles if d <= D(2026, 3, 15))
    # two key results share the content database: 130 pages, read once in two pages
    assert len(workspace.queries(workspace.databases[CONTENT][0])) == 2
    assert TOKEN not in result.output


def test_one_failing_key_result_never_stops_the_others(
    workspace: FakeNotion, tmp_path: Path
) -> None:
    plan = load_plan(docs_plan(workspace.url, tmp_path))
    workspace.databases.pop(CHECKLIST)  # no longer shared with the connection
    sleeps: list[float] = []
    workspace.answer(429, error(429, "rate_limited", "Slow down and try again."),
                     {"Retry-After": "6"})
    manager = PluginManager(load_entry_points=False)
    manager.load_module("okrcore_notion.plugin")
    result = refresh_without_waiting(
        plan,
        open_store("memory://"),
        at=D(2026, 3, 15),
        manager=manager,
        sleep=sleeps.append,
    )
    out = {o.kr_id: o for o in result.run.outcomes}
    assert (out["launch-checklist"].status, out["launch-checklist"].kind) == (
        "failed", "permanent")
    assert "share the database with the connection" in (out["launch-checklist"].error or "")
    assert {out[k].status for k in ("articles-published", "growth-tasks", "open-requests")} == {
        "refreshed"}
    assert max(sleeps) >= 6


def test_malformed_answers_store_nothing(workspace: FakeNotion, tmp_path: Path) -> None:
    plan = load_plan(docs_plan(workspace.url, tmp_path))
    for _ in range(20):
        workspace.answer(200, {"object": "list", "results": None})
    manager = PluginManager(load_entry_points=False)
    manager.load_module("okrcore_notion.plugin")
    store = open_store("memory://")
    result = refresh_without_waiting(
        plan,
        store,
        at=D(2026, 3, 15),
        manager=manager,
        sleep=lambda _s: None,
        options=RefreshOptions(retries=0),
    )
    assert {o.status for o in result.run.outcomes} == {"failed"}
    assert store.checkins() == []


BAD = """\
okrcore: 1
cycles:
  - {id: 2026-Q1, start: 2026-01-01, end: 2026-03-31}
connections:
  notion:
    plugin: notion
    token: ntn_4471_inline
objectives:
  - id: content
    title: Content
    cycle: 2026-Q1
    key_results:
      - id: articles
        title: Articles
        kind: count
        measure: cumulative
        target: 24
        source:
          connection: notion
          database: content-calendar
      - id: checklist
        title: Checklist
        kind: milestone
        source:
          connection: notion
          database: 1f2e3d4c5b6a47988776655443322111
          done: {property: Done, equal: true}
"""


def test_okr_lint_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(BAD)
    result = CliRunner().invoke(main, ["lint", str(path)])
    assert result.exit_code == 1, result.output
    assert re.search(r"plan\.yaml:7:.*token", result.output), result.output
    assert re.search(r"plan\.yaml:20:.*database must be a Notion id", result.output)
    assert re.search(r"plan\.yaml:1[78]:.*completed_on", result.output)
    assert re.search(r"plan\.yaml:2[67]:.*unknown key 'equal'", result.output), result.output
    assert "ntn_4471_inline" not in result.output


def test_okr_lint_online_finds_an_unknown_property(
    workspace: FakeNotion, tmp_path: Path
) -> None:
    text = BAD.replace("token: ntn_4471_inline",
                       f"token: env:NOTION_TOKEN\n    endpoint: {workspace.url}")
    text = text.replace("database: content-calendar",
                        f"database: {CONTENT}\n          completed_on: Published")
    text = text.replace("done: {property: Done, equal: true}", "done: {property: Finished}")
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["lint", "--online", str(path)])
    assert result.exit_code == 1, result.output
    lines = [x for x in result.output.splitlines() if "ONLINE" in x]
    assert len(lines) == 2, result.output
    assert "plan.yaml:22:" in lines[0]
    assert "the database has no property 'Published' (properties: Name, Published on, " \
           "Status, Type)" in lines[0]
    assert "plan.yaml:29:" in lines[1]
    assert "no property 'Finished' (properties: Done, Name)" in lines[1]




def test_a_refused_connection_is_retried_once_only(tmp_path: Path) -> None:
    down = closed_port()
    manager = PluginManager(load_entry_points=False)
    manager.load_module("okrcore_notion.plugin")
    result = refresh_without_waiting(load_plan(docs_plan(down, tmp_path)), open_store("memory://"),
                                     at=D(2026, 3, 15), manager=manager)
    assert {o.error for o in result.run.outcomes} == {
        f"cannot reach {down}: no connection (refused, or an unknown host), twice"}
    conn = result.run.info["connections"]["notion"]
    assert conn["retries"] == conn["requests"]  # once each, not the engine's 4 retries
