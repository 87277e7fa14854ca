"""End to end: the plan of docs/plugins/jira.md through ``okr lint`` and ``okr refresh``."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from jira_fake import TOKEN, FakeJira, errors

from okrcore import open_store
from okrcore.cli import main
from okrcore.planfile import load_plan
from okrcore.plugins import PluginManager
from okrcore.testing import closed_port, plan_example, refresh_without_waiting

D = dt.date
DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "jira.md"


@pytest.fixture(autouse=True)
def _docs_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIRA_API_TOKEN", TOKEN)  # the variable the docs page names
    monkeypatch.delenv("OKRCORE_LOAD_PLUGINS", raising=False)


def docs_plan(url: str, tmp_path: Path) -> Path:
    """The page's full plan example, aimed at the fake, written to a file."""
    plan = plan_example(DOCS)
    plan["connections"]["jira"]["endpoint"] = url
    plan["connections"]["jira"]["requests_per_second"] = 1000
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


@pytest.fixture
def site(fake: FakeJira) -> FakeJira:
    for i in range(160):
        done = i % 2 == 0
        fake.add("MKT", D(2025, 12, 1), status="Released" if i % 4 == 0 else (
                 "Done" if done else "In Progress"),
                 resolved=D(2026, 1, 5) + dt.timedelta(days=i % 80) if done else None,
                 labels=["launch"] if i < 10 else [], issuetype="Epic" if i < 10 else "Task",
                 components=["Campaigns"] if i % 3 == 0 else [],
                 customfield_10042={"value": "Paid" if i % 5 == 0 else "Organic"})
    for i in range(12):
        fake.add("WEB", D(2026, 1, 2), issuetype="Bug", status="Done" if i < 4 else "To Do",
                 resolved=D(2026, 2, 1) if i < 4 else None)
    return fake


def test_okr_refresh_runs_the_docs_plan(site: FakeJira, tmp_path: Path) -> None:
    plan = docs_plan(site.url, tmp_path)
    store = f"sqlite:///{tmp_path / 'okr.db'}"
    args = ["refresh", str(plan), "--store", store, "--at", "2026-03-15", "--format", "json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    outcomes = {o["id"]: o for o in json.loads(result.output)["refreshed"]}
    assert outcomes["launch-ready"]["value"] == 0.5  # epics 0, 2, 4, 6, 8 resolved in January
    paid = list(range(0, 160, 5))
    paid_done = [i for i in paid if i % 2 == 0
                 and D(2026, 1, 5) + dt.timedelta(days=i % 80) <= D(2026, 3, 15)]
    assert outcomes["paid-done"]["value"] == pytest.approx(100 * len(paid_done) / len(paid))
    assert outcomes["site-bugs"]["value"] == 8
    shipped = [D(2026, 1, 5) + dt.timedelta(days=i % 80) for i in range(0, 160, 6)]
    checkins = open_store(store).checkins(["campaigns-shipped"])
    assert sum(c.value for c in checkins) == sum(1 for d in shipped if d <= D(2026, 3, 15))
    # three key results share "project = MKT": 160 issues, one search of two pages
    assert [c.body["jql"] for c in site.searches()].count("project = MKT") == 2
    assert TOKEN not in result.output


def test_one_failing_key_result_never_stops_the_others(site: FakeJira, tmp_path: Path) -> None:
    path = docs_plan(site.url, tmp_path)
    path.write_text(path.read_text().replace("project = WEB AND issuetype = Bug",
                                             "project = WEB AND fixVersion ~ 2"))
    plan = load_plan(path)
    sleeps: list[float] = []
    site.answer(429, "", {"Retry-After": "9", "RateLimit-Reason": "jira-burst-based"})
    manager = PluginManager(load_entry_points=False)
    manager.load_module("okrcore_jira.plugin")
    result = refresh_without_waiting(
        plan,
        open_store("memory://"),
        at=D(2026, 3, 15),
        manager=manager,
        sleep=sleeps.append,
    )
    out = {o.kr_id: o for o in result.run.outcomes}
    assert (out["site-bugs"].status, out["site-bugs"].kind) == ("failed", "permanent")
    assert "Error in the JQL Query" in (out["site-bugs"].error or "")
    assert {out[k].status for k in ("launch-ready", "campaigns-shipped", "paid-done")} == {
        "refreshed"}
    assert max(sleeps) >= 9


def test_a_quota_is_not_retried_and_stores_nothing(site: FakeJira, tmp_path: Path) -> None:
    plan = load_plan(docs_plan(site.url, tmp_path))
    for _ in range(2):
        site.answer(429, errors("Rate limit exceeded."),
                    {"Retry-After": "3600", "RateLimit-Reason": "jira-quota-global-based"})
    manager = PluginManager(load_entry_points=False)
    manager.load_module("okrcore_jira.plugin")
    store = open_store("memory://")
    sleeps: list[float] = []
    result = refresh_without_waiting(
        plan,
        store,
        at=D(2026, 3, 15),
        manager=manager,
        sleep=sleeps.append,
    )
    failed = result.run.outcomes
    assert {o.kind for o in failed} == {"quota"}
    assert len(site.searches()) == 2  # one per JQL, never retried
    assert sleeps == []
    assert store.checkins() == []


BAD = """\
okrcore: 1
cycles:
  - {id: 2026-Q1, start: 2026-01-01, end: 2026-03-31}
connections:
  jira:
    plugin: jira
    email: ana@example.com
    token: ATATT3xFfGF0inline
objectives:
  - id: launch
    title: Launch
    cycle: 2026-Q1
    key_results:
      - id: ready
        title: Ready
        kind: milestone
        source:
          connection: jira
          jql: ORDER BY created
      - id: shipped
        title: Shipped
        kind: count
        measure: cumulative
        target: 30
        source:
          connection: jira
          jql: project = MKT
          where: {Sprint name: 5}
"""


def test_okr_lint_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(BAD)
    result = CliRunner().invoke(main, ["lint", str(path)])
    assert result.exit_code == 1, result.output
    assert re.search(r"plan\.yaml:[56]:.*set site", result.output), result.output
    assert re.search(r"plan\.yaml:8:.*token", result.output)
    assert re.search(r"plan\.yaml:19:.*without a restriction", result.output)
    assert re.search(r"plan\.yaml:2[78]:.*expected a field id", result.output), result.output
    assert "ATATT3xFfGF0inline" not in result.output


def test_okr_lint_online_names_the_id_of_a_field_given_by_name(
    site: FakeJira, tmp_path: Path
) -> None:
    text = BAD.replace("token: ATATT3xFfGF0inline",
                       f"token: env:JIRA_API_TOKEN\n    site: {site.url}")
    text = text.replace("jql: ORDER BY created", "jql: project = MKT AND sprint ~ 5")
    text = text.replace("where: {Sprint name: 5}", "where: {Sprint: 5}")
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["lint", "--online", str(path)])
    assert result.exit_code == 1, result.output
    lines = [x for x in result.output.splitlines() if "ONLINE" in x]
    assert len(lines) == 2, result.output
    assert "plan.yaml:20:" in lines[0]
    assert "Error in the JQL Query: cannot parse 'sprint ~ 5'" in lines[0]
    assert "plan.yaml:29:" in lines[1]
    assert "Jira has no field 'Sprint' (the field named so has the id customfield_10020)" \
        in lines[1]


def test_a_refused_connection_is_retried_once_only(tmp_path: Path) -> None:
    down = closed_port()
    manager = PluginManager(load_entry_points=False)
    manager.load_module("okrcore_jira.plugin")
    result = refresh_without_waiting(load_plan(docs_plan(down, tmp_path)), open_store("memory://"),
                                     at=D(2026, 3, 15), manager=manager)
    assert {o.error for o in result.run.outcomes} == {
        f"cannot reach {down}: no connection (refused, or an unknown host), twice"}
    conn = result.run.info["connections"]["jira"]
    assert conn["retries"] == conn["requests"]  # once each, not the engine's 4 retries
