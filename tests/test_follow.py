"""okrcore.follow_initiatives: the rules that turn a tracker's item state into an initiative's
status, with a source plugin written for the test (no network)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import pytest

from okrcore import (
    Connection,
    Cycle,
    Initiative,
    InitiativeStatus,
    Objective,
    Plan,
    Strategy,
    follow_initiatives,
    hookimpl,
)
from okrcore.plugins import PluginManager
from okrcore.sources import ItemState, Source, TrackedItem

STATES = {"t1": "done", "t2": "open", "t3": "open", "t4": "dropped", "t5": "weird"}


class Board(Source):
    name = "board"

    def item_states(self, items: Sequence[TrackedItem]) -> list[ItemState]:
        out = []
        for item in items:
            ident = str(item.query.get("card"))
            if ident == "boom":
                raise RuntimeError("the plugin broke")
            if ident not in STATES:
                out.append(ItemState(item, None, f"no card {ident} (token s3cret-token)"))
            else:
                out.append(ItemState(item, STATES[ident]))
        return out


class Plugin:
    @hookimpl
    def okrcore_register_sources(self, register: Callable[[type[Source]], None]) -> None:
        register(Board)


def make_plan(*initiatives: Initiative, settings: dict[str, str] | None = None) -> Plan:
    strategy = Strategy("s", "Launch", initiatives=list(initiatives))
    objective = Objective("o", "Grow", cycle="q1", strategies=[strategy])
    conns = {"board": Connection("board", "board", settings or {}),
             "sheet": Connection("sheet", "file", {})}
    return Plan(cycles=[Cycle("q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))],
                objectives=[objective], connections=conns)


def ini(ident: str, card: str, status: str = "planned", conn: str = "board") -> Initiative:
    return Initiative(ident, ident, status=status, tracks={"connection": conn, "card": card})


def manager() -> PluginManager:
    plugins = PluginManager(load_entry_points=False)
    plugins.register(Plugin(), name="board")
    return plugins


def test_states_become_statuses_by_the_documented_rules() -> None:
    result = follow_initiatives(make_plan(
        ini("done", "t1", "doing"), ini("open", "t2", "planned"), ini("reopen", "t3", "done"),
        ini("drop", "t4"), ini("weird", "t5", "doing"), ini("gone", "t9", "doing"),
        ini("nowhere", "t1", conn="nope"), ini("file", "t1", conn="sheet"),
        Initiative("free", "Free", status="doing"),
    ), manager=manager())
    assert dict(result.statuses) == {
        "done": InitiativeStatus.DONE, "open": InitiativeStatus.PLANNED,
        "reopen": InitiativeStatus.DOING, "drop": InitiativeStatus.DROPPED}
    assert result.problems["weird"] == (
        "connection 'board': the source answered an unknown state 'weird'")
    assert result.problems["gone"] == "connection 'board': no card t9 (token s3cret-token)"
    assert result.problems["nowhere"].startswith("tracks an unknown connection 'nope'")
    assert result.problems["file"] == (
        "connection 'sheet': the file source cannot follow an item's state")
    (strategy,) = result.plan.objectives[0].strategies
    assert {i.id: i.status.value for i in strategy.initiatives} == {
        "done": "done", "open": "planned", "reopen": "doing", "drop": "dropped",
        "weird": "doing", "gone": "doing", "nowhere": "planned", "file": "planned",
        "free": "doing"}


def test_secrets_are_scrubbed_and_a_broken_plugin_fails_only_its_items(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOARD_TOKEN", "s3cret-token")
    plan = make_plan(ini("gone", "t9"), settings={"token": "env:BOARD_TOKEN"})
    result = follow_initiatives(plan, manager=manager())
    assert result.problems["gone"] == "connection 'board': no card t9 (token [secret])"
    broken = follow_initiatives(make_plan(ini("a", "boom")), manager=manager())
    assert broken.problems == {"a": "connection 'board': RuntimeError: the plugin broke"}
    assert broken.plan == make_plan(ini("a", "boom"))


def test_a_plan_without_tracked_initiatives_is_returned_as_is() -> None:
    plan = make_plan(Initiative("free", "Free"))
    result = follow_initiatives(plan, manager=manager())
    assert result.plan is plan
    assert (dict(result.statuses), dict(result.problems)) == ({}, {})
