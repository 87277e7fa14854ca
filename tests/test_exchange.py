"""Export to flat tables and import back: the round trip keeps the scorecard; bad cells named."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from okrcore.cli import main
from okrcore.errors import PlanError
from okrcore.exchange import (
    CHECKIN_COLUMNS,
    KEY_RESULT_COLUMNS,
    KPI_COLUMNS,
    checkins_from_rows,
    kpis_from_rows,
    plan_from_rows,
    read_tables,
    write_tables,
)
from okrcore.model import CheckIn, Cycle, Goal, KeyResult, Kpi, Objective, Plan
from okrcore.planfile import load_plan
from okrcore.scoring import score

AT = dt.date(2026, 11, 20)


def _edge_plan() -> Plan:
    """Quotes, commas, newlines and unicode in titles; an objective without key results; a goal
    without objectives; every key-result kind; committed flags and optional numbers; KPIs."""
    krs = (
        KeyResult("leads", 'Leads, "qualified"\nfrom SEM', kind="increase", measure="cumulative",
                  unit="leads", baseline=0, target=1000, floor=800, stretch=1200, cadence="daily"),
        KeyResult("bounce", "Bounce rate 降低", kind="decrease", unit="%", baseline=50.5,
                  target=45.25, tolerance=1.5, committed=True),
        KeyResult("cac", "CAC <= 200", kind="maintain_below", unit="USD", target=200, weight=2),
        KeyResult("rebrand", "Finish the rebrand", kind="milestone",
                  deadline=dt.date(2026, 11, 30)),
        KeyResult("press", "Press mentions", kind="count", target=3, owner="pr-agency"),
    )
    return Plan(
        cycles=(Cycle("q4", dt.date(2026, 10, 1), dt.date(2026, 12, 31), title="Q4"),),
        goals=(Goal("brand", "Brand, worldwide", owner="cmo"), Goal("later", "Someday")),
        objectives=(
            Objective("company", "Company objective", "q4", level="company", goal="brand"),
            Objective("mkt", "Marketing", "q4", parent="company", weight=0.5, budget=1e5,
                      key_results=krs),
        ),
        kpis=(
            Kpi("mql", 'MQLs, "qualified"', 300, measure="cumulative", unit="MQL", owner="cmo",
                targets={"2026-12": 220, "2027-01": 312.5}),
            Kpi("cpl", "Cost per lead", 40, direction="below", period="weekly", unit="USD",
                metric="cpl", tolerance=0.2),
        ),
        title="edge",
    )


def _edge_checkins() -> list[CheckIn]:
    moment = dt.datetime(2026, 11, 3, 8, 30, tzinfo=dt.timezone.utc)
    return [
        CheckIn("leads", 12.0, dt.date(2026, 11, 1), source="file", recorded_at=moment),
        CheckIn("leads", 0.1 + 0.2, dt.date(2026, 11, 2), source="file", recorded_at=moment),
        CheckIn("bounce", 48.125, dt.date(2026, 11, 2), author="ana", note='a, "b"\nc',
                confidence=0.7, recorded_at=moment),
        CheckIn("press", 1, dt.date(2026, 11, 5), recorded_at=moment),
        CheckIn("mql", 250, dt.date(2026, 10, 20), recorded_at=moment),
        CheckIn("mql", 120, dt.date(2026, 11, 8), recorded_at=moment),
        CheckIn("cpl", 43.5, dt.date(2026, 11, 18), note="after the price change",
                recorded_at=moment),
    ]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip_keeps_plan_checkins_and_scorecard(tmp_path: Path, fmt: str) -> None:
    if fmt == "parquet":
        pytest.importorskip("pyarrow", reason="Parquet export needs pyarrow")
    plan, checkins = _edge_plan(), _edge_checkins()
    card = score(plan, checkins, at=AT)
    paths = write_tables(plan, checkins, tmp_path, card=card, format=fmt)  # type: ignore[arg-type]
    assert [p.name for p in paths] == [f"key_results.{fmt}", f"checkins.{fmt}", f"kpis.{fmt}"]
    plan2, checkins2 = read_tables(tmp_path, title="edge")
    assert plan2 == plan
    assert plan2.kpis == plan.kpis
    assert checkins2 == checkins
    card2 = score(plan2, checkins2, at=AT)
    assert card2.to_dict() == card.to_dict()
    assert [k.actual for k in card2.kpis.values()] == [120, 43.5]


def test_csv_columns_are_the_documented_ones(tmp_path: Path) -> None:
    plan = _edge_plan()
    write_tables(plan, _edge_checkins(), tmp_path, card=score(plan, _edge_checkins(), at=AT))
    with (tmp_path / "key_results.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == KEY_RESULT_COLUMNS
    # goals first, then one row per key result, and the objective without key results
    assert [(r["goal"], r["objective"], r["key_result"]) for r in rows[:3]] == [
        ("brand", "", ""), ("later", "", ""), ("brand", "company", ""),
    ]
    leads = next(r for r in rows if r["key_result"] == "leads")
    assert (leads["target"], leads["baseline"], leads["as_of"]) == ("1000", "0", "2026-11-20")
    assert leads["status"] in ("green", "yellow", "red", "grey")
    header = (tmp_path / "checkins.csv").read_text().splitlines()[0]
    assert tuple(header.split(",")) == CHECKIN_COLUMNS
    with (tmp_path / "kpis.csv").open(newline="") as handle:
        kpis = list(csv.DictReader(handle))
    assert tuple(kpis[0]) == KPI_COLUMNS
    mql = kpis[0]
    assert (mql["kpi"], mql["targets"], mql["current_period"], mql["period_target"]) == (
        "mql", "2026-12=220; 2027-01=312.5", "2026-11", "300"
    )  # fmt: skip
    assert (mql["actual"], mql["as_of"], mql["status"]) == ("120", "2026-11-20", "red")
    doc = (Path(__file__).parents[1] / "docs" / "exchange.md").read_text()
    for column in KEY_RESULT_COLUMNS + CHECKIN_COLUMNS + KPI_COLUMNS:
        assert f"`{column}`" in doc, f"docs/exchange.md does not describe column {column}"


def test_bad_cells_are_named_with_file_line_and_column() -> None:
    rows = [
        {"cycle": "q4", "cycle_start": "2026-10-01", "cycle_end": "2026-12-31",
         "objective": "o", "key_result": "a", "title": "A", "baseline": "0", "target": "ten"},
        {"cycle": "q4", "cycle_start": "2026-10-01", "cycle_end": "2027-01-31",
         "objective": "o", "key_result": "b", "baseline": "0", "target": "nan"},
        {"cycle": "q4", "cycle_start": "2026-10-01", "cycle_end": "2026-12-31", "objective": "o",
         "key_result": "c", "kind": "decrease", "baseline": "1", "target": "2"},
    ]
    with pytest.raises(PlanError) as caught:
        plan_from_rows(rows, file="kr.csv")
    text = str(caught.value)
    assert "kr.csv:2: target: expected a number, got 'ten'" in text
    assert "kr.csv:3: cycle_end: '2027-01-31' differs from '2026-12-31' on line 2" in text
    assert "kr.csv:3: target: expected a finite number, got 'nan'" in text
    assert "kr.csv:4: key_result:" in text
    assert "must be below the baseline" in text


def test_bad_kpi_cells_are_named_with_line_and_column() -> None:
    rows = [
        {"kpi": "a", "target": "", "targets": "2026-02=1"},
        {"kpi": "b", "target": "5", "targets": "2026-02=ten"},
        {"kpi": "c", "target": "5", "targets": "2026-02: 4"},
        {"kpi": "d", "target": "5", "direction": "sideways"},
        {"kpi": "e", "target": "5", "period": "monthly", "targets": "2026-W02=4"},
    ]
    with pytest.raises(PlanError) as caught:
        kpis_from_rows(rows, file="kpis.csv")
    text = str(caught.value)
    assert "kpis.csv:2: target: is empty; a KPI needs a target" in text
    assert "kpis.csv:3: targets: expected a number, got 'ten'" in text
    assert "kpis.csv:4: targets: expected PERIOD=TARGET, got '2026-02: 4'" in text
    assert "kpis.csv:5: kpi:" in text
    assert "direction must be 'above' or 'below'" in text
    assert "kpis.csv:6: kpi:" in text
    assert "'2026-W02' is no monthly period" in text


def test_kpi_ids_clashing_with_key_results_are_refused(tmp_path: Path) -> None:
    write_tables(_edge_plan(), [], tmp_path)
    path = tmp_path / "kpis.csv"
    path.write_text(path.read_text().replace("\ncpl,", "\nleads,"), encoding="utf-8")
    with pytest.raises(PlanError, match="kpis.csv"):
        read_tables(tmp_path)


def test_checkin_rows_need_value_and_day() -> None:
    rows = [{"key_result": "a", "as_of": "2026-11-01", "value": ""},
            {"key_result": "a", "as_of": "11/02/2026", "value": "3"}]
    with pytest.raises(PlanError) as caught:
        checkins_from_rows(rows, file="ci.csv")
    assert "ci.csv:2: value: is empty" in str(caught.value)
    assert "ci.csv:3: as_of: expected a date as YYYY-MM-DD, got '11/02/2026'" in str(caught.value)


def test_checkins_of_unknown_key_results_are_refused(tmp_path: Path) -> None:
    write_tables(_edge_plan(), [CheckIn("gone", 1, dt.date(2026, 11, 1))], tmp_path)
    with pytest.raises(PlanError, match=r"checkins.csv:2: key_result: unknown key result 'gone'"):
        read_tables(tmp_path)


def test_cli_export_import_round_trip(tmp_path: Path, example_plan_path: Path,
                                      example_history_path: Path) -> None:
    """The example plan refreshed from its history and retargeted, exported and imported: the
    imported plan on the imported store scores the same as the original."""
    for path in (example_plan_path, example_history_path):
        shutil.copy(path, tmp_path / path.name)
    plan_file = str(tmp_path / example_plan_path.name)
    store1, store2 = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    runner = CliRunner()

    def ok(*args: str) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    ok("refresh", plan_file, "--store", store1, "--at", AT.isoformat())
    ok("retarget", plan_file, "organic-sessions", "50000", "--reason", "new channel",
       "--store", store1, "--at", "2026-11-10")
    with open(plan_file, "a", encoding="utf-8") as handle:  # KPIs, read by hand
        handle.write(
            "\nkpis:\n"
            "  - {id: mql, title: MQLs a month, target: 300, unit: MQL, measure: cumulative,\n"
            "     owner: ann, targets: {2026-10: 250}}\n"
            "  - {id: cpl, title: Cost per lead, target: 40, direction: below, unit: USD,\n"
            "     period: weekly, tolerance: 0.2}\n"
        )
    for kpi, value, day in (("mql", "240", "2026-10-15"), ("mql", "90", "2026-11-05"),
                            ("mql", "60", "2026-11-18"), ("cpl", "44", "2026-11-17")):
        ok("checkin", plan_file, kpi, value, "--at", day, "--store", store1)
    ok("checkin", plan_file, "mql", "75", "--at", "2026-11-18", "--store", store1,
       "--replace", "--reason", "a duplicate")
    out = ok("export", plan_file, "--store", store1, "--at", AT.isoformat(),
             "-o", str(tmp_path / "tables"))
    assert "key_results.csv" in out
    assert "checkins.csv" in out
    imported = str(tmp_path / "imported.yaml")
    out = ok("import", str(tmp_path / "tables"), "--store", store2, "-o", imported)
    assert "12 key result(s), 2 KPI(s)" in out
    load_plan(imported)  # a valid plan file
    cards = [
        json.loads(ok("score", path, "--store", store, "--at", AT.isoformat(), "--format", "json"))
        for path, store in ((plan_file, store1), (imported, store2))
    ]
    for card in cards:  # the imported plan has the new target as its own: compare what is in force
        for kr in card["key_results"]:
            kr.pop("original_target", None)
    assert cards[0] == cards[1]
    assert any(kr["target"] == 50000 for kr in cards[1]["key_results"])
    kpis = {k["id"]: k for k in cards[1]["kpis"]}
    assert (kpis["mql"]["actual"], kpis["mql"]["previous"]) == (165, 240)  # 90 + the corrected 75
    assert (kpis["cpl"]["actual"], kpis["mql"]["previous_target"]) == (44, 250)
    # an existing plan file is not overwritten
    again = runner.invoke(main, ["import", str(tmp_path / "tables"), "--store", store2,
                                 "-o", imported])
    assert again.exit_code == 2
    assert "exists" in again.output


def test_docs_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "exchange.md").read_text(encoding="utf-8")
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    shutil.copytree(root / "examples", tmp_path / "examples",
                    ignore=shutil.ignore_patterns("plugin-tutorial"))
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/exchange.md", "exec"), {"__name__": "__main__"})
    assert (tmp_path / "tables" / "key_results.csv").is_file()
