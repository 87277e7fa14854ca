"""Terminal tables at 80, 100 and 160 columns: no number cut, every key result named, nothing
past the edge (docs/reports.md, "Terminal output").

Tables are read back by their columns: a table is its header, a rule of ``─`` under each column,
and its rows; a note moved under its row is indented by four spaces.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.cells import cell_len
from rich.console import Console

from okrcore.cli import main
from okrcore.engine import refresh
from okrcore.model import Plan, StrategyChange, TargetChange
from okrcore.planfile import load_plan
from okrcore.reports import ReportKind, render, report
from okrcore.reports._format import num
from okrcore.reports._table import Col, print_table, terminal_width, wrap_width
from okrcore.store import Store, open_store

AT = dt.date(2026, 11, 20)  # the last day of the bundled history
WIDTHS = (80, 100, 160)
UTC = dt.timezone.utc
RULE = re.compile("─+")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    for name in ("marketing.yaml", "marketing-history.csv"):
        with importlib.resources.as_file(importlib.resources.files("okrcore.demo") / name) as src:
            shutil.copy(src, folder / name)
    return folder


@pytest.fixture(scope="module")
def demo(demo_dir: Path) -> Iterator[tuple[Plan, Store]]:
    """The example plan with its history, a target change and a strategy change."""
    plan = load_plan(demo_dir / "marketing.yaml")
    store = open_store("memory://")
    refresh(plan, store, backfill=(plan.cycles[0].start, AT))
    when = dt.datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
    store.add_target_change(
        TargetChange(
            "sem-leads",
            "target",
            600,
            650,
            "the new landing pages convert better than we planned for in September",
            when,
        )
    )
    strategy = next(s.id for o in plan.objectives for s in o.strategies)
    store.add_strategy_change(
        StrategyChange(strategy, "status", "active", "paused", "budget moved to events", when)
    )
    try:
        yield plan, store
    finally:
        store.close()


def normal(text: str) -> str:
    return " ".join(text.split())


def is_note(line: str) -> bool:
    """A note moved under its row: indented by four spaces (every first column is wider)."""
    return line.startswith("    ") and line[4] != " "


def column(text: str, header: str) -> list[str]:
    """The text of the column ``header`` in every table that has it, one string per table."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if not line.startswith("─") or set(line) - {"─", " "}:
            continue
        for m in RULE.finditer(line):
            a, b = m.span()
            heads = [normal(lines[i - 1][a:b]), normal(lines[i - 2][a:b] + " " + lines[i - 1][a:b])]
            if header not in heads:
                continue
            cells = []
            for row in lines[i + 1 :]:
                if not row.strip():
                    break
                if not is_note(row):
                    cells.append(row[a:b])
            found.append(normal(" ".join(cells)))
    return found


def notes(text: str) -> str:
    """Every note moved under a row, whitespace-normalised."""
    kept, inside = [], False
    for line in text.splitlines():
        inside = is_note(line) or (inside and line.startswith("    ") and line.strip() != "")
        if inside:
            kept.append(line)
    return normal(" ".join(kept))


def assert_fits(text: str, width: int) -> None:
    too_wide = [line for line in text.splitlines() if cell_len(line) > width]
    assert not too_wide, f"{len(too_wide)} line(s) wider than {width}: {too_wide[0]!r}"
    assert "…" not in text  # nothing cut


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly"])
def test_report_tables_fit_and_keep_every_number_and_name(
    demo: tuple[Plan, Store], kind: ReportKind, width: int
) -> None:
    plan, store = demo
    rep = report(plan, store, kind, at=AT)
    text = render(rep, "text", width=width)
    assert_fits(text, width)
    names = " ".join(column(text, "Key result"))
    for line in rep.key_results:
        s = line.score
        assert s.title in names, (s.title, kind, width)
        assert num(s.actual, s.unit) in " ".join(column(text, "Actual")), (s.id, kind, width)
    whys = " ".join(column(text, "Why")) + " " + notes(text)
    if kind != "monthly":
        for line in rep.key_results:
            assert normal(line.score.reason) in whys, (line.id, width)
    if kind == "monthly":
        changed = column(text, "Old → new")
        assert changed
        assert "600 → 650" in changed[0]
        assert "the new landing pages convert better" in whys
        assert "budget moved to events" in whys


def test_the_why_text_moves_under_the_row_before_any_column_leaves(
    demo: tuple[Plan, Store],
) -> None:
    plan, store = demo
    rep = report(plan, store, "daily", at=AT)
    wide, middle = render(rep, "text", width=160), render(rep, "text", width=100)
    assert column(wide, "Why")
    assert not notes(wide)
    assert not column(middle, "Why")
    assert notes(middle).startswith("Why: ")
    for head in ("Plan to date", "Target", "Change", "Yesterday"):
        assert column(wide, head), head
        assert column(middle, head), head


def test_columns_leave_in_their_stated_order() -> None:
    cols = [
        Col("Name", "name"),
        Col("A", justify="right", drop=2),
        Col("B", justify="right", drop=1),
        Col("C", justify="right"),
        Col("Why", "note"),
    ]
    rows = [["A key result with a long title", "1,234,567", "7,654,321", "42", "because " * 10]]

    def shown(width: int) -> list[str]:
        console = Console(width=width, file=None, record=True, no_color=True)
        with console.capture() as cap:
            print_table(console, cols, rows)
        out = cap.get()
        assert_fits(out, width)
        return [c.header for c in cols if column(out, c.header)]

    assert shown(200) == ["Name", "A", "B", "C", "Why"]
    assert shown(60) == ["Name", "A", "B", "C"]  # the note first goes under the row
    assert shown(45) == ["Name", "A", "C"]  # then B (drop=1)
    assert shown(34) == ["Name", "C"]  # then A (drop=2); never the name nor C


def test_terminal_width_without_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.delenv("COLUMNS", raising=False)
    assert terminal_width(io.StringIO()) == 100
    assert wrap_width(io.StringIO()) is None  # plain lines stay whole in a pipe, for grep
    monkeypatch.setenv("COLUMNS", "80")
    assert terminal_width(io.StringIO()) == 80
    assert wrap_width(io.StringIO()) == 80


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly"])
def test_okr_report_in_a_pipe_follows_columns(demo_dir: Path, tmp_path: Path, kind: str) -> None:
    store_url = f"sqlite:///{tmp_path / 'okr.db'}"
    plan_path = str(demo_dir / "marketing.yaml")
    store = open_store(store_url)
    plan = load_plan(plan_path)
    try:
        refresh(plan, store, backfill=(plan.cycles[0].start, AT))
    finally:
        store.close()
    result = CliRunner().invoke(
        main,
        ["report", plan_path, "--kind", kind, "--store", store_url, "--at", AT.isoformat()],
        env={"COLUMNS": "80"},
    )
    assert result.exit_code == 0, result.output
    assert_fits(result.output, 80)
    names = " ".join(column(result.output, "Key result"))
    for kr in plan.key_results():
        assert kr.title in names


def okr(width: int, *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def demo_store(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store with the example's history, a long check-in note and a target change."""
    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'okr.db'}"
    plan = load_plan(demo_dir / "marketing.yaml")
    store = open_store(url)
    try:
        refresh(plan, store, backfill=(plan.cycles[0].start, AT))
        store.add_target_change(
            TargetChange(
                "sales",
                "target",
                5_000_000,
                5_500_000,
                "a new sales channel opened in November, approved by the board",
                dt.datetime(2026, 11, 10, 9, 0, tzinfo=UTC),
                author="ceo",
            )
        )
    finally:
        store.close()
    return url


@pytest.mark.parametrize("width", WIDTHS)
def test_okr_score_fits(demo_dir: Path, demo_store: str, width: int) -> None:
    plan = load_plan(demo_dir / "marketing.yaml")
    out = okr(
        width,
        "score",
        str(demo_dir / "marketing.yaml"),
        "--store",
        demo_store,
        "--at",
        "2026-11-20",
    )
    assert_fits(out, width)
    ids = column(out, "key result")[0].split()
    assert ids == [kr.id for kr in plan.key_results()]
    assert "2,857,400 USD" in column(out, "actual")[0]
    titles = column(out, "title")[0]
    for obj in plan.objectives:
        assert obj.title in titles


@pytest.mark.parametrize("width", WIDTHS)
def test_okr_history_fits(demo_dir: Path, demo_store: str, width: int) -> None:
    out = okr(width, "history", str(demo_dir / "marketing.yaml"), "sales", "--store", demo_store)
    assert_fits(out, width)
    assert "5,500,000 USD" in " ".join(column(out, "new"))
    reasons = " ".join(column(out, "reason")) + " " + notes(out)
    assert "a new sales channel opened in November, approved by the board" in reasons
    assert column(out, "value")


@pytest.mark.parametrize("width", WIDTHS)
def test_okr_runs_wraps_at_the_width_keeping_words_whole(tmp_path: Path, width: int) -> None:
    from okrcore.model import RunOutcome, RunRecord

    url = f"sqlite:///{tmp_path / 'okr.db'}"
    store = open_store(url)
    error = (
        "HTTP 429 from https://analyticsdata.googleapis.com/v1beta/properties/123456789:runReport:"
        " quota exceeded for the property's tokens per hour; retry after 3,600 s"
    )
    start = dt.datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    try:
        store.record_run(
            RunRecord(
                "20261120T060000-0ee24cdf",
                start,
                start + dt.timedelta(seconds=3),
                AT,
                (
                    RunOutcome("organic-sessions", "failed", "ga4-main", error=error, kind="quota"),
                    RunOutcome("leads", "refreshed", "hubspot", value=583, stored=1),
                ),
            )
        )
    finally:
        store.close()
    out = okr(width, "runs", "--store", url)
    long_word = "https://analyticsdata.googleapis.com/v1beta/properties/123456789:runReport:"
    assert all(cell_len(line) <= width or long_word in line for line in out.splitlines())
    assert "20261120T060000-0ee24cdf" in out
    assert normal(error) in normal(out)
    assert long_word in out  # a word longer than the line stays whole


@pytest.mark.parametrize("width", WIDTHS)
def test_okr_refresh_wraps_failed_lines_keeping_the_key_result_first(
    tmp_path: Path, width: int
) -> None:
    from okrcore.testing import FakeServer, Reply

    body = {"error": "the token was revoked by an administrator of the workspace on 2026-11-19; "
                     "ask them for a new one and set it in OKR_API_TOKEN"}
    with FakeServer() as server:
        server.route("/leads", Reply(status=403, json=body))
        plan = tmp_path / "plan.yaml"
        plan.write_text(
            "okrcore: 1\ntitle: Wrap\n"
            "cycles: [{id: q4, start: 2026-10-01, end: 2026-12-31}]\n"
            "objectives:\n  - id: o\n    title: Grow\n    cycle: q4\n    key_results:\n"
            "      - id: qualified-leads-from-partner-webinars\n        title: Leads reach 100\n"
            "        kind: increase\n        baseline: 0\n        target: 100\n"
            "        source: {connection: api, url: /leads, value: $.n}\n"
            f"connections:\n  api: {{plugin: http_json, endpoint: '{server.url}'}}\n",
            encoding="utf-8",
        )
        result = CliRunner().invoke(
            main,
            ["refresh", str(plan), "--store", f"sqlite:///{tmp_path / 'okr.db'}", "--at",
             "2026-11-20"],
            env={"COLUMNS": str(width), "OKRCORE_LOAD_PLUGINS": ""},
        )
    assert result.exit_code != 0  # a failed key result fails the run
    lines = result.output.splitlines()
    failed = [i for i, line in enumerate(lines) if line.startswith("FAILED")]
    assert len(failed) == 1
    assert lines[failed[0]].startswith("FAILED  qualified-leads-from-partner-webinars [api]")
    assert all(cell_len(line) <= width for line in lines if "://" not in line)
    assert normal(body["error"]) in normal(result.output)
    if width == 80:  # the error does not fit on one line: it goes on, indented
        assert lines[failed[0] + 1].startswith("        ")
