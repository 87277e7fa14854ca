"""Initiatives that follow a Notion page: okrcore.follow_initiatives against the local fake."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from notion_fake import TOKEN, FakeNotion

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
DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "notion.md"
DB = "1f2e3d4c-5b6a-4798-8776-655443322110"
SCHEMA = {"Name": "title", "Status": "status", "Done": "checkbox"}


def plan(url: str, *initiatives: Initiative) -> Plan:
    conn = Connection(
        "notion",
        "notion",
        {"token": "env:NOTION_TEST_TOKEN"},
        endpoint=url,
    )
    return initiatives_plan(conn, *initiatives)


def manager() -> PluginManager:
    return plugin_manager("okrcore_notion.plugin")


def tracking(ident: str, page: str, status: str = "planned", **more: Any) -> Initiative:
    return Initiative(ident, ident, status=status,
                      tracks={"connection": "notion", "page": page, **more})


def test_a_done_page_is_done_a_trashed_one_dropped(fake: FakeNotion) -> None:
    (ds,) = fake.add_database(DB, SCHEMA)
    done = fake.add_page(ds, D(2026, 1, 5), Status="Done")
    doing = fake.add_page(ds, D(2026, 1, 5), Status="In progress", Done=True)
    trashed = fake.add_page(ds, D(2026, 1, 5), Status="Not started", trashed=True)
    result = follow_initiatives(plan(
        fake.url, tracking("done", f"https://www.notion.so/acme/Launch-{done.replace('-', '')}"),
        tracking("planned", doing), tracking("reopened", doing, "done"),
        tracking("dropped", trashed, "doing"),
        tracking("checkbox", doing, done={"property": "Done"}),
        tracking("either", doing, done={"property": "Status", "equals": ["Done", "In progress"]}),
    ), manager=manager())
    assert result.problems == {}
    assert dict(result.statuses) == {
        "done": InitiativeStatus.DONE, "planned": InitiativeStatus.PLANNED,
        "reopened": InitiativeStatus.DOING, "dropped": InitiativeStatus.DROPPED,
        "checkbox": InitiativeStatus.DONE, "either": InitiativeStatus.DONE}
    assert [(c.method, c.path) for c in fake.calls] == [
        ("GET", f"/v1/pages/{p}") for p in (done, doing, doing, trashed, doing, doing)]
    assert all(c.headers["notion-version"] == "2025-09-03" for c in fake.calls)


def test_unreadable_pages_keep_the_plans_status_and_say_why(fake: FakeNotion) -> None:
    (ds,) = fake.add_database(DB, SCHEMA)
    page = fake.add_page(ds, D(2026, 1, 5), Status="Done")
    gone = "8a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9"
    result = follow_initiatives(plan(
        fake.url, tracking("gone", gone, "doing"), tracking("name", "Launch post"),
        tracking("no-property", page, done={"property": "Shipped"}),
        tracking("not-a-checkbox", page, done={"property": "Status"}),
        tracking("typo", page, dne=1), tracking("ok", page),
    ), manager=manager())
    assert dict(result.statuses) == {"ok": InitiativeStatus.DONE}
    assert result.problems == {
        "gone": f"connection 'notion': Notion 404 object_not_found: Could not find page with "
                f"ID: {gone}. Make sure the relevant pages and databases are shared with your "
                f"integration. (page {gone}: share the page with the connection under its ••• "
                "menu → Connections)",
        "name": "connection 'notion': invalid tracks: page: name the page by its URL or id "
                "(32 hex digits)",
        "no-property": f"connection 'notion': page {page}: pages have no property 'Shipped' "
                       "(set done)",
        "not-a-checkbox": f"connection 'notion': page {page}: done property 'Status' is a "
                          "status, not a checkbox: say which values mean done with done.equals",
        "typo": "connection 'notion': invalid tracks: dne: unknown key 'dne' (known: done, "
                "page)",
    }
    (strategy,) = result.plan.objectives[0].strategies
    assert strategy.initiatives[0].status is InitiativeStatus.DOING
    assert len(fake.calls) == 4  # gone, no-property, not-a-checkbox, ok


def test_an_auth_failure_stops_the_connection(
    fake: FakeNotion, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTION_TEST_TOKEN", "ntn_wrong")
    (ds,) = fake.add_database(DB, SCHEMA)
    a, b = (fake.add_page(ds, D(2026, 1, 5), Status="Done") for _ in range(2))
    result = follow_initiatives(plan(fake.url, tracking("a", a), tracking("b", b)),
                                manager=manager())
    assert result.statuses == {}
    assert result.problems["a"].startswith("connection 'notion': Notion 401 unauthorized")
    assert "not sent: Notion 401" in result.problems["b"]
    assert "ntn_wrong" not in " ".join(result.problems.values())
    assert len(fake.calls) == 1


def test_the_docs_plan_follows_its_page(
    fake: FakeNotion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTION_TOKEN", TOKEN)  # the variable the docs page names
    raw = plan_example(DOCS)
    raw["connections"]["notion"]["endpoint"] = fake.url
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(raw))
    (ds,) = fake.add_database(DB, {"Name": "title", "Status": "status"})
    fake.add_page(ds, D(2026, 1, 5), Status="Published")
    fake.pages[ds][-1]["id"] = "8a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9"  # the page the docs link
    followed = follow_initiatives(load_plan(tmp_path / "plan.yaml"), manager=manager())
    assert (dict(followed.statuses), dict(followed.problems)) == (
        {"stories-hub": InitiativeStatus.DONE}, {})
