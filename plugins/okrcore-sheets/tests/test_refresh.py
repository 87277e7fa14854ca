"""End to end: the plan of docs/plugins/sheets.md through ``okr lint`` and ``okr refresh``."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sheets_fake import ACCESS_TOKEN, FakeSheets, gerror

from okrcore import open_store
from okrcore.cli import main
from okrcore.planfile import load_plan
from okrcore.plugins import PluginManager
from okrcore.testing import closed_port, plan_example, refresh_without_waiting

D = dt.date
DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "sheets.md"
BOOK = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
SERIAL_2026_01_01 = 46023


@pytest.fixture(autouse=True)
def _plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OKRCORE_LOAD_PLUGINS", raising=False)


def docs_plan(url: str, tmp_path: Path, key_file: Path) -> Path:
    """The page's full plan example, aimed at the fake, with its key file next to it."""
    plan = plan_example(DOCS)
    plan["connections"]["sheets"]["endpoint"] = url
    plan["connections"]["sheets"]["requests_per_second"] = 1000
    (tmp_path / "secrets").mkdir(exist_ok=True)
    shutil.copy(key_file, tmp_path / "secrets" / "okr-reader.json")
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


@pytest.fixture
def book(fake: FakeSheets) -> FakeSheets:
    fake.put(BOOK, "Summary", "B2", 44)
    for i in range(90):
        fake.put(BOOK, "KR Data", f"A{i + 2}", SERIAL_2026_01_01 + i)
        fake.put(BOOK, "KR Data", f"B{i + 2}", 20 + i % 5)
    for w in range(13):
        day = D(2026, 1, 5) + dt.timedelta(weeks=w)
        fake.put(BOOK, "Weekly", f"A{w + 2}", day.strftime("%d/%m/%Y"))
        fake.put(BOOK, "Weekly", f"D{w + 2}", f"{38 + w * 0.5}%")
    return fake


def test_okr_refresh_runs_the_docs_plan(book: FakeSheets, key_file: Path,
                                        tmp_path: Path) -> None:
    plan = docs_plan(book.url, tmp_path, key_file)
    store = f"sqlite:///{tmp_path / 'okr.db'}"
    args = ["refresh", str(plan), "--store", store, "--at", "2026-03-15", "--format", "json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    outcomes = {o["id"]: o for o in json.loads(result.output)["refreshed"]}
    assert outcomes["nps"]["value"] == 44
    assert outcomes["open-rate"]["value"] == pytest.approx((38 + 9 * 0.5) / 100)  # 9 March
    checkins = open_store(store).checkins(["subscribers"])
    assert sum(c.value for c in checkins) == sum(20 + i % 5 for i in range(74))  # to 15 March
    api = book.api_calls()
    assert len(api) == 1  # three key results, one batchGet
    assert api[0].headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert "PRIVATE KEY" not in result.output


def test_one_failing_key_result_never_stops_the_others(
    book: FakeSheets, key_file: Path, tmp_path: Path
) -> None:
    path = docs_plan(book.url, tmp_path, key_file)
    path.write_text(path.read_text().replace("cell: Summary!B2", "cell: Summary!C2"))
    sleeps: list[float] = []
    book.answer(429, gerror(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric "
                            "'Read requests'"))
    manager = PluginManager(load_entry_points=False)
    manager.load_module("okrcore_sheets.plugin")
    result = refresh_without_waiting(load_plan(path), open_store("memory://"),
                                     at=D(2026, 3, 15), manager=manager,
                                     sleep=sleeps.append)
    out = {o.kr_id: o for o in result.run.outcomes}
    assert (out["nps"].status, out["nps"].error) == ("failed", "cell Summary!C2 is empty")
    assert {out[k].status for k in ("subscribers", "open-rate")} == {"refreshed"}
    assert max(sleeps) >= 60


BAD = """\
okrcore: 1
cycles:
  - {id: 2026-Q1, start: 2026-01-01, end: 2026-03-31}
connections:
  sheets:
    plugin: sheets
    api_key: AIzaSyInline
objectives:
  - id: growth
    title: Growth
    cycle: 2026-Q1
    key_results:
      - id: subscribers
        title: Subscribers
        kind: count
        measure: cumulative
        target: 2000
        source:
          connection: sheets
          spreadsheet: 1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789
          dates: KR Data!A2:A
          values: "'KR Data'!B2:B"
"""


def test_okr_lint_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(BAD)
    result = CliRunner().invoke(main, ["lint", str(path)])
    assert result.exit_code == 1, result.output
    assert re.search(r"plan\.yaml:7:.*api_key", result.output), result.output
    assert re.search(r"plan\.yaml:21:.*quote the sheet name: 'KR Data'!A2:A", result.output)
    assert "AIzaSyInline" not in result.output


def test_okr_lint_online_finds_an_unknown_sheet(
    book: FakeSheets, key_file: Path, tmp_path: Path
) -> None:
    text = BAD.replace("api_key: AIzaSyInline",
                       f"credentials: file:{key_file}\n    endpoint: {book.url}")
    text = text.replace("dates: KR Data!A2:A", "dates: \"'KR Dates'!A2:A\"")
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["lint", "--online", str(path)])
    assert result.exit_code == 1, result.output
    (line,) = [x for x in result.output.splitlines() if "ONLINE" in x]
    assert "plan.yaml:22:" in line
    assert f"spreadsheet {BOOK} has no sheet 'KR Dates' (sheets: KR Data, Summary, Weekly)" \
        in line


def test_a_refused_connection_is_retried_once_only(
    book: FakeSheets, key_file: Path, tmp_path: Path
) -> None:
    down = closed_port()  # the API is down; the token endpoint (the fake) answers
    path = docs_plan(down, tmp_path, key_file)
    manager = PluginManager(load_entry_points=False)
    manager.load_module("okrcore_sheets.plugin")
    result = refresh_without_waiting(load_plan(path), open_store("memory://"),
                                     at=D(2026, 3, 15), manager=manager)
    assert {o.error for o in result.run.outcomes} == {
        f"cannot reach {down}: no connection (refused, or an unknown host), twice"}
    conn = result.run.info["connections"]["sheets"]
    assert conn["retries"] == conn["requests"]  # once each, not the engine's 4 retries
