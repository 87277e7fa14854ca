"""End to end: the plan of docs/plugins/asana.md through ``okr lint`` and ``okr refresh``."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from asana_fake import PREFIX, TOKEN, FakeAsana
from click.testing import CliRunner

from okrcore import open_store
from okrcore.cli import main
from okrcore.engine import RefreshOptions
from okrcore.planfile import load_plan
from okrcore.plugins import PluginManager
from okrcore.testing import closed_port, plan_example, refresh_without_waiting

D = dt.date
DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "asana.md"
P1, P2, P3 = "1206000000000001", "1206000000000002", "1206000000000003"


def docs_plan(url: str) -> dict[str, Any]:
    """The page's full plan example, aimed at the fake."""
    plan = plan_example(DOCS)
    plan["connections"]["asana"]["endpoint"] = url + PREFIX
    plan["connections"]["asana"]["requests_per_second"] = 1000
    return plan


@pytest.fixture(autouse=True)
def _docs_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASANA_TOKEN", TOKEN)  # the variable the docs page names


@pytest.fixture
def workspace(fake: FakeAsana) -> FakeAsana:
    fake.add_project(P1, sections=["Launch"])
    for i in range(8):
        fake.add_task(P1, created=D(2026, 1, 5), section="Launch" if i < 4 else "Later",
                      completed=D(2026, 2, 1) if i in (0, 5) else None)
    fake.add_project(P2, fields=["Channel"])
    for i in range(150):
        fake.add_task(P2, created=D(2025, 12, 1), tags=["content"] if i % 2 else [],
                      completed=D(2026, 1, 1) + dt.timedelta(days=i % 60) if i % 3 else None,
                      assignee="ana@example.com" if i % 5 == 0 else "cy@example.com",
                      custom={"Channel": ["Email"]})
    fake.add_project(P3, fields=["Priority"])
    for i in range(12):
        fake.add_task(P3, created=D(2026, 1, 2), custom={"Priority": "Urgent"},
                      completed=D(2026, 3, 1) if i < 5 else None)
    return fake


def test_okr_refresh_runs_the_docs_plan(
    workspace: FakeAsana, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OKRCORE_LOAD_PLUGINS", raising=False)
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump(docs_plan(workspace.url)))
    store = f"sqlite:///{tmp_path / 'okr.db'}"
    args = ["refresh", str(plan), "--store", store, "--at", "2026-03-15", "--format", "json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    outcomes = {o["id"]: o for o in json.loads(result.output)["refreshed"]}
    assert outcomes["launch-plan"]["value"] == 0.25  # 1 of the 4 Launch tasks
    content = [i for i in range(150) if i % 2 and i % 3]
    by_day = [D(2026, 1, 1) + dt.timedelta(days=i % 60) for i in content]
    assert outcomes["content-shipped"]["stored"] == 74  # one check-in per day to 15 March
    assert outcomes["campaign-tasks"]["value"] == pytest.approx(
        100 * sum(1 for i in range(0, 150, 5) if i % 3) / 30)
    assert outcomes["urgent-bugs"]["value"] == 7
    checkins = open_store(store).checkins(["content-shipped"])
    assert sum(c.value for c in checkins) == sum(1 for d in by_day if d <= D(2026, 3, 15))
    # two key results share project P2: its 150 tasks were read once, in two pages
    assert len(workspace.pages(f"{PREFIX}/projects/{P2}/tasks")) == 2
    assert "ASANA" not in result.output
    assert "7f3c" not in result.output


def test_one_failing_key_result_never_stops_the_others(workspace: FakeAsana) -> None:
    raw = docs_plan(workspace.url)
    raw["objectives"][0]["key_results"][0]["source"]["project"] = "999"
    plan = load_plan_dict(raw)
    sleeps: list[float] = []
    workspace.answer(429, {"errors": [{"message": "slow down"}]}, {"Retry-After": "7"})
    manager = PluginManager(load_entry_points=False)
    manager.load_module("okrcore_asana.plugin")
    result = refresh_without_waiting(
        plan,
        open_store("memory://"),
        at=D(2026, 3, 15),
        manager=manager,
        sleep=sleeps.append,
    )
    out = {o.kr_id: o for o in result.run.outcomes}
    assert out["launch-plan"].status == "failed"
    assert out["launch-plan"].kind == "permanent"
    assert "project 999" in (out["launch-plan"].error or "")
    assert {out[k].status for k in ("content-shipped", "campaign-tasks", "urgent-bugs")} == {
        "refreshed"}
    assert max(sleeps) >= 7  # the 429's Retry-After was honoured before the retry


def test_malformed_answers_store_nothing(workspace: FakeAsana) -> None:
    plan = load_plan_dict(docs_plan(workspace.url))
    for _ in range(20):
        workspace.answer(200, {"data": "tasks"})
    manager = PluginManager(load_entry_points=False)
    manager.load_module("okrcore_asana.plugin")
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
    assert all(store.checkins([o.kr_id]) == [] for o in result.run.outcomes)


def load_plan_dict(raw: dict[str, Any]) -> Any:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plan.yaml"
        path.write_text(yaml.safe_dump(raw))
        return load_plan(path)


BAD = """\
okrcore: 1
cycles:
  - {{id: 2026-Q1, start: 2026-01-01, end: 2026-03-31}}
connections:
  asana:
    plugin: asana
    token: 2/1200000000000001/123
objectives:
  - id: launch
    title: Launch
    cycle: 2026-Q1
    key_results:
      - id: plan
        title: Plan done
        kind: milestone
        source:
          connection: asana
          project: launch-plan
      - id: shipped
        title: Shipped
        measure: cumulative
        kind: count
        target: 4
        source:
          connection: asana
          project: "{p1}"
          metric: percent_done
      - id: section
        title: Section typo
        kind: milestone
        source: {{connection: asana, project: "{p1}", section: Lanch}}
"""


def test_okr_lint_names_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OKRCORE_LOAD_PLUGINS", raising=False)
    path = tmp_path / "plan.yaml"
    path.write_text(BAD.format(p1=P1))
    result = CliRunner().invoke(main, ["lint", str(path)])
    assert result.exit_code == 1, result.output
    assert re.search(r"plan\.yaml:7:.*token", result.output), result.output
    assert re.search(r"plan\.yaml:18:.*project must be the project's gid", result.output)
    assert re.search(r"plan\.yaml:27:.*use metric completed", result.output)
    assert "2/1200000000000001/123" not in result.output


def test_okr_lint_online_finds_an_unknown_section(
    workspace: FakeAsana, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OKRCORE_LOAD_PLUGINS", raising=False)
    good = BAD.format(p1=P1).replace("token: 2/1200000000000001/123",
                                     f"token: env:ASANA_TEST_TOKEN\n    endpoint: "
                                     f"{workspace.url}{PREFIX}")
    good = good.replace("project: launch-plan", f'project: "{P1}"')
    good = good.replace("metric: percent_done", "metric: completed")
    path = tmp_path / "plan.yaml"
    path.write_text(good)
    result = CliRunner().invoke(main, ["lint", "--online", str(path)])
    assert result.exit_code == 1, result.output
    (line,) = [x for x in result.output.splitlines() if "Lanch" in x]
    assert "plan.yaml:32:" in line
    assert "has no section 'Lanch' (sections: Launch)" in line


def test_a_refused_connection_is_retried_once_only() -> None:
    down = closed_port()
    plan = load_plan_dict(docs_plan(down))
    manager = PluginManager(load_entry_points=False)
    manager.load_module("okrcore_asana.plugin")
    result = refresh_without_waiting(plan, open_store("memory://"), at=D(2026, 3, 15),
                                     manager=manager)
    assert {o.error for o in result.run.outcomes} == {
        f"cannot reach {down}{PREFIX}: no connection (refused, or an unknown host), twice"}
    conn = result.run.info["connections"]["asana"]
    assert conn["retries"] == conn["requests"] == 4  # once each, not the engine's 4 retries
