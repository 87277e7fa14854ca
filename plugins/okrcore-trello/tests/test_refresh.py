"""End to end: the plan of docs/plugins/trello.md through ``okr lint`` and ``okr refresh``."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from trello_fake import KEY, TOKEN, FakeTrello

from okrcore import open_store
from okrcore.cli import main
from okrcore.planfile import load_plan
from okrcore.plugins import PluginManager
from okrcore.testing import closed_port, plan_example, refresh_without_waiting

D = dt.date
DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "trello.md"
BOARD = "Vx8Zk2Qa"


@pytest.fixture(autouse=True)
def _docs_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRELLO_KEY", KEY)  # the variables the docs page names
    monkeypatch.setenv("TRELLO_TOKEN", TOKEN)
    monkeypatch.delenv("OKRCORE_LOAD_PLUGINS", raising=False)


def docs_plan(url: str, tmp_path: Path) -> Path:
    """The page's full plan example, aimed at the fake, written to a file."""
    plan = plan_example(DOCS)
    plan["connections"]["trello"]["endpoint"] = url + "/1"
    plan["connections"]["trello"]["requests_per_second"] = 1000
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


@pytest.fixture
def board(fake: FakeTrello) -> FakeTrello:
    fake.add_board(BOARD, ["Ideas", "Speakers", "Doing", "Published", "Done"])
    for i in range(60):
        published = i % 2 == 0
        fake.add_card(BOARD, D(2026, 1, 2), "Published" if published else "Doing",
                      activity=D(2026, 1, 10) + dt.timedelta(days=i) if published else None,
                      labels=["Social"] if i % 3 else ["Design"], due_complete=i % 4 == 0)
    for i in range(4):
        fake.add_card(BOARD, D(2026, 1, 2), "Speakers", checks=(5, i + 1))
    fake.add_card(BOARD, D(2026, 1, 2), "Done")
    return fake


def test_okr_refresh_runs_the_docs_plan(board: FakeTrello, tmp_path: Path) -> None:
    plan = docs_plan(board.url, tmp_path)
    store = f"sqlite:///{tmp_path / 'okr.db'}"
    args = ["refresh", str(plan), "--store", store, "--at", "2026-03-15", "--format", "json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    outcomes = {o["id"]: o for o in json.loads(result.output)["refreshed"]}
    assert outcomes["event-plan"]["value"] == pytest.approx(31 / 65)
    assert outcomes["speaker-checklists"]["value"] == pytest.approx(100 * 10 / 20)
    design = [i for i in range(60) if i % 3 == 0]
    assert outcomes["open-requests"]["value"] == sum(1 for i in design if i % 4)
    social = [D(2026, 1, 10) + dt.timedelta(days=i) for i in range(0, 60, 2) if i % 3]
    checkins = open_store(store).checkins(["posts-shipped"])
    assert sum(c.value for c in checkins) == sum(1 for d in social if d <= D(2026, 3, 15))
    assert len(board.calls) == 2  # one board: its lists and its cards, once
    assert TOKEN not in result.output
    assert KEY not in result.output


def test_one_failing_key_result_never_stops_the_others(
    board: FakeTrello, tmp_path: Path
) -> None:
    path = docs_plan(board.url, tmp_path)
    path.write_text(path.read_text().replace(
        "board: https://trello.com/b/Vx8Zk2Qa/spring-events", "board: AAAAAAAA"))
    sleeps: list[float] = []
    board.answer(429, {"error": "API_TOKEN_LIMIT_EXCEEDED", "message": "Rate limit exceeded"})
    manager = PluginManager(load_entry_points=False)
    manager.load_module("okrcore_trello.plugin")
    result = refresh_without_waiting(load_plan(path), open_store("memory://"),
                                     at=D(2026, 3, 15), manager=manager,
                                     sleep=sleeps.append)
    out = {o.kr_id: o for o in result.run.outcomes}
    assert (out["event-plan"].status, out["event-plan"].kind) == ("failed", "permanent")
    assert {out[k].status for k in ("posts-shipped", "speaker-checklists",
                                    "open-requests")} == {"refreshed"}
    assert max(sleeps) >= 10


BAD = """\
okrcore: 1
cycles:
  - {id: 2026-Q1, start: 2026-01-01, end: 2026-03-31}
connections:
  trello:
    plugin: trello
    key: env:TRELLO_KEY
    token: ATTA5f0c2a0e8ainline
objectives:
  - id: events
    title: Events
    cycle: 2026-Q1
    key_results:
      - id: posts
        title: Posts
        kind: count
        measure: cumulative
        target: 40
        source:
          connection: trello
          board: spring-events
          count: checklist
"""


def test_okr_lint_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(BAD)
    result = CliRunner().invoke(main, ["lint", str(path)])
    assert result.exit_code == 1, result.output
    assert re.search(r"plan\.yaml:8:.*token", result.output), result.output
    assert re.search(r"plan\.yaml:21:.*board is the board's URL", result.output)
    assert re.search(r"plan\.yaml:22:.*checklists fit gauges only", result.output)
    assert "ATTA5f0c2a0e8ainline" not in result.output


def test_okr_lint_online_finds_an_unknown_list(board: FakeTrello, tmp_path: Path) -> None:
    text = BAD.replace("token: ATTA5f0c2a0e8ainline",
                       f"token: env:TRELLO_TOKEN\n    endpoint: {board.url}/1")
    text = text.replace("board: spring-events\n          count: checklist",
                        f"board: {BOARD}\n          done: {{list: Shipped}}")
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["lint", "--online", str(path)])
    assert result.exit_code == 1, result.output
    (line,) = [x for x in result.output.splitlines() if "ONLINE" in x]
    assert "plan.yaml:23:" in line
    assert f"board {BOARD} has no list 'Shipped' (lists: doing, done, ideas, published, " \
           "speakers)" in line


def test_a_refused_connection_is_retried_once_only(tmp_path: Path) -> None:
    down = closed_port()
    manager = PluginManager(load_entry_points=False)
    manager.load_module("okrcore_trello.plugin")
    result = refresh_without_waiting(load_plan(docs_plan(down, tmp_path)), open_store("memory://"),
                                     at=D(2026, 3, 15), manager=manager)
    assert {o.error for o in result.run.outcomes} == {
        f"cannot reach {down}/1: no connection (refused, or an unknown host), twice"}
    conn = result.run.info["connections"]["trello"]
    assert conn["retries"] == conn["requests"]  # once each, not the engine's 4 retries
