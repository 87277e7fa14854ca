"""Initiatives that follow an Asana task: okrcore.follow_initiatives against the local fake."""

from __future__ import annotations

import datetime as dt

from asana_fake import FakeAsana

from okrcore import (
    Connection,
    Initiative,
    InitiativeStatus,
    Plan,
    follow_initiatives,
)
from okrcore.plugins import PluginManager
from okrcore.testing import initiatives_plan

D = dt.date


def plan(url: str, *initiatives: Initiative) -> Plan:
    conn = Connection(
        "asana",
        "asana",
        {"token": "env:ASANA_TEST_TOKEN"},
        endpoint=url + "/api/1.0",
    )
    return initiatives_plan(conn, *initiatives)


def tracking(ident: str, task: str, status: str = "planned") -> Initiative:
    return Initiative(ident, ident, status=status, tracks={"connection": "asana", "task": task})


def test_a_completed_task_is_done_and_an_open_one_keeps_or_reopens(fake: FakeAsana) -> None:
    fake.add_project("1206000000000001")
    fake.add_task("1206000000000001", created=D(2026, 1, 2), completed=D(2026, 2, 1))
    fake.add_task("1206000000000001", created=D(2026, 1, 2))
    done, open_ = "1206000000000100", "1206000000000101"
    plugins = PluginManager(load_entry_points=False)
    plugins.load_module("okrcore_asana.plugin")
    result = follow_initiatives(plan(
        fake.url, tracking("shipped", done), tracking("planned", open_),
        tracking("doing", open_, "doing"), tracking("reopened", open_, "done"),
        tracking("missing", "1206000000009999", "doing"), tracking("name", "Launch post"),
    ), manager=plugins)
    assert dict(result.statuses) == {
        "shipped": InitiativeStatus.DONE, "planned": InitiativeStatus.PLANNED,
        "doing": InitiativeStatus.DOING, "reopened": InitiativeStatus.DOING}
    assert result.problems["missing"].startswith(
        "connection 'asana': Asana 404: task: Not a recognized ID: 1206000000009999")
    assert "tracks needs task" in result.problems["name"]
    assert [c.path for c in fake.calls] == [f"/api/1.0/tasks/{g}" for g in
                                            (done, open_, open_, open_, "1206000000009999")]
    assert all(c.param("opt_fields") == "completed" for c in fake.calls)
