"""Initiatives that follow a Jira issue: okrcore.follow_initiatives against the local fake."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from jira_fake import EMAIL, TOKEN, FakeJira

from okrcore import (
    Connection,
    Initiative,
    InitiativeStatus,
    Plan,
    follow_initiatives,
)
from okrcore.planfile import load_plan
from okrcore.plugins import PluginManager
from okrcore.testing import initiatives_plan, plan_example, plugin_manager

D = dt.date
DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "jira.md"


def plan(url: str, *initiatives: Initiative) -> Plan:
    conn = Connection(
        "jira",
        "jira",
        {"email": EMAIL, "token": "env:JIRA_TEST_TOKEN"},
        endpoint=url,
    )
    return initiatives_plan(conn, *initiatives)


def manager() -> PluginManager:
    return plugin_manager("okrcore_jira.plugin")


def tracking(ident: str, issue: str, status: str = "planned") -> Initiative:
    return Initiative(ident, ident, status=status, tracks={"connection": "jira", "issue": issue})


def test_statuses_follow_the_issues_status_category(fake: FakeJira) -> None:
    for status in ("To Do", "In Progress", "Done", "Won't do"):
        fake.add("MKT", D(2026, 1, 5), status=status)
    result = follow_initiatives(plan(
        fake.url, tracking("a", "MKT-1", "doing"), tracking("b", "MKT-2"),
        tracking("c", "MKT-3"), tracking("d", "10003", "dropped"),
        Initiative("untracked", "Kept", status="doing"),
    ), manager=manager())
    assert result.problems == {}
    assert dict(result.statuses) == {"a": InitiativeStatus.PLANNED,
                                     "b": InitiativeStatus.DOING,
                                     "c": InitiativeStatus.DONE, "d": InitiativeStatus.DONE}
    (strategy,) = result.plan.objectives[0].strategies
    assert [i.status.value for i in strategy.initiatives] == [
        "planned", "doing", "done", "done", "doing"]
    calls = [(c.method, c.path) for c in fake.calls]
    assert calls == [("GET", f"/rest/api/3/issue/{k}")
                     for k in ("MKT-1", "MKT-2", "MKT-3", "10003")]


def test_an_unreadable_issue_keeps_the_plans_status_and_says_why(fake: FakeJira) -> None:
    fake.add("MKT", D(2026, 1, 5), status="Done")
    result = follow_initiatives(plan(
        fake.url, tracking("gone", "MKT-99", "doing"), tracking("bad", "../myself"),
        tracking("ok", "MKT-1"),
    ), manager=manager())
    assert dict(result.statuses) == {"ok": InitiativeStatus.DONE}
    assert result.problems["gone"] == (
        "connection 'jira': Jira 404: Issue does not exist or you do not have permission to "
        "see it. (check the key of issue MKT-99)")
    assert "tracks needs issue" in result.problems["bad"]
    (strategy,) = result.plan.objectives[0].strategies
    assert strategy.initiatives[0].status is InitiativeStatus.DOING


def test_an_auth_failure_stops_the_connection(
    fake: FakeJira, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIRA_TEST_TOKEN", "wrong-token")
    fake.add("MKT", D(2026, 1, 5))
    fake.add("MKT", D(2026, 1, 5))
    result = follow_initiatives(plan(fake.url, tracking("a", "MKT-1"), tracking("b", "MKT-2")),
                                manager=manager())
    assert result.statuses == {}
    assert "Jira 401" in result.problems["a"]
    assert "not sent: Jira 401" in result.problems["b"]
    assert "wrong-token" not in " ".join(result.problems.values())
    assert len(fake.calls) == 1


def test_the_docs_plan_follows_its_issue(
    fake: FakeJira, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIRA_API_TOKEN", TOKEN)  # the variable the docs page names
    raw = plan_example(DOCS)
    raw["connections"]["jira"]["endpoint"] = fake.url
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(raw))
    fake.add("MKT", D(2026, 1, 5), status="In Progress")
    followed = follow_initiatives(load_plan(tmp_path / "plan.yaml"), manager=manager())
    assert (dict(followed.statuses), dict(followed.problems)) == (
        {"pricing-page": InitiativeStatus.DOING}, {})
