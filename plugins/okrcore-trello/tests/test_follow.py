"""Initiatives that follow a Trello card: okrcore.follow_initiatives against the local fake."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from trello_fake import KEY, TOKEN, FakeTrello

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
DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "trello.md"


def plan(url: str, *initiatives: Initiative) -> Plan:
    conn = Connection(
        "trello",
        "trello",
        {"key": "env:TRELLO_TEST_KEY", "token": "env:TRELLO_TEST_TOKEN"},
        endpoint=url + "/1",
    )
    return initiatives_plan(conn, *initiatives)


def manager() -> PluginManager:
    return plugin_manager("okrcore_trello.plugin")


def tracking(ident: str, card: str, status: str = "planned", **more: Any) -> Initiative:
    return Initiative(ident, ident, status=status,
                      tracks={"connection": "trello", "card": card, **more})


def test_a_card_in_the_done_list_is_done_an_archived_one_dropped(fake: FakeTrello) -> None:
    fake.add_board("kR8mQ2zP", ["To do", "Doing", "Done", "Shipped"])
    done = fake.add_card("kR8mQ2zP", D(2026, 1, 5), "Done")
    doing = fake.add_card("kR8mQ2zP", D(2026, 1, 5), "Doing", due_complete=True)
    archived = fake.add_card("kR8mQ2zP", D(2026, 1, 5), "To do", closed=True)
    archived_done = fake.add_card("kR8mQ2zP", D(2026, 1, 5), "Done", closed=True)
    shipped = fake.add_card("kR8mQ2zP", D(2026, 1, 5), "Shipped")
    result = follow_initiatives(plan(
        fake.url,
        tracking("done", f"https://trello.com/c/{done}/12-launch-post"),
        tracking("planned", doing), tracking("reopened", doing, "done"),
        tracking("dropped", archived, "doing"), tracking("archived-done", archived_done),
        tracking("by-id", fake.card(shipped)["id"], done={"list": ["Done", "Shipped"]}),
        tracking("due", doing, done="due_complete"),
    ), manager=manager())
    assert result.problems == {}
    assert dict(result.statuses) == {
        "done": InitiativeStatus.DONE, "planned": InitiativeStatus.PLANNED,
        "reopened": InitiativeStatus.DOING, "dropped": InitiativeStatus.DROPPED,
        "archived-done": InitiativeStatus.DONE, "by-id": InitiativeStatus.DONE,
        "due": InitiativeStatus.DONE}
    assert [c.path for c in fake.calls] == [
        f"/1/cards/{c}" for c in (done, doing, doing, archived, archived_done,
                                  fake.card(shipped)["id"], doing)]
    first = fake.calls[0].query
    assert (first["fields"], first["list"]) == (["closed,dueComplete,idList"], ["true"])


def test_unreadable_cards_keep_the_plans_status_and_say_why(fake: FakeTrello) -> None:
    fake.add_board("kR8mQ2zP", ["To do", "Done"])
    card = fake.add_card("kR8mQ2zP", D(2026, 1, 5), "Done")
    fake.answer(200, {"id": "x", "closed": "no"})  # the first card's answer is malformed
    result = follow_initiatives(plan(
        fake.url, tracking("malformed", card, "doing"), tracking("gone", "zzzzzzzz"),
        tracking("name", "Launch post"), tracking("bad-done", card, done="Done"),
        tracking("typo", card, dne={"list": "Done"}), tracking("ok", card),
    ), manager=manager())
    assert dict(result.statuses) == {"ok": InitiativeStatus.DONE}
    assert result.problems == {
        "malformed": "connection 'trello': Trello answered card "
                     f"{card} without closed or dueComplete",
        "gone": "connection 'trello': Trello 404: The requested resource was not found. "
                "(card zzzzzzzz: check the card's link, and that the token's user is a member of "
                "its board)",
        "name": "connection 'trello': tracks needs card: the card's URL "
                "(https://trello.com/c/<short link>/...), short link or id",
        "bad-done": "connection 'trello': tracks' done is {list: NAME or [NAMES]} or "
                    "due_complete",
        "typo": "connection 'trello': tracks has unknown key(s) dne (known: card, done)",
    }
    (strategy,) = result.plan.objectives[0].strategies
    assert strategy.initiatives[0].status is InitiativeStatus.DOING
    assert len(fake.calls) == 3  # the malformed, the unknown and the good card


def test_an_auth_failure_stops_the_connection(
    fake: FakeTrello, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRELLO_TEST_TOKEN", "wrong-token")
    fake.add_board("kR8mQ2zP", ["Done"])
    a = fake.add_card("kR8mQ2zP", D(2026, 1, 5), "Done")
    b = fake.add_card("kR8mQ2zP", D(2026, 1, 5), "Done")
    result = follow_initiatives(plan(fake.url, tracking("a", a), tracking("b", b)),
                                manager=manager())
    assert result.statuses == {}
    assert result.problems["a"].startswith("connection 'trello': Trello 401: invalid token")
    assert "not sent: Trello 401: invalid token" in result.problems["b"]
    assert "wrong-token" not in " ".join(result.problems.values())
    assert len(fake.calls) == 1


def test_the_docs_plan_follows_its_card(
    fake: FakeTrello, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRELLO_KEY", KEY)  # the variables the docs page names
    monkeypatch.setenv("TRELLO_TOKEN", TOKEN)
    raw = plan_example(DOCS)
    raw["connections"]["trello"]["endpoint"] = fake.url + "/1"
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(raw))
    fake.add_board("Vx8Zk2Qa", ["Speakers", "Done"])
    card = fake.card(fake.add_card("Vx8Zk2Qa", D(2026, 1, 5), "Done"))
    card["shortLink"] = "Qm3Lp9Xa"  # the card the page links to
    followed = follow_initiatives(load_plan(tmp_path / "plan.yaml"), manager=manager())
    assert (dict(followed.statuses), dict(followed.problems)) == (
        {"keynote": InitiativeStatus.DONE}, {})
