"""KPIs beside the OKRs (docs/kpis.md): periods, lights against the current period's target,
the plan format, check-ins, refresh from a source, `okr score` and the reports."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from okrcore.checks import orphaned_checkins
from okrcore.engine import refresh
from okrcore.errors import PlanError, ValidationError
from okrcore.kpis import score_kpi
from okrcore.model import CheckIn, Kpi, KpiPeriod
from okrcore.planfile import dumps_plan, loads_plan
from okrcore.plugins import PluginManager
from okrcore.policies import Light
from okrcore.reports import render, report
from okrcore.scoring import LiveScore, score
from okrcore.store import MemoryStore

ROOT = Path(__file__).resolve().parents[1]
MANAGER = PluginManager(load_entry_points=False)
AT = dt.date(2026, 1, 10)

PLAN = """\
okrcore: 1
cycles:
  - {id: q1, start: 2026-01-01, end: 2026-03-31}
objectives:
  - id: grow
    title: Grow the pipeline
    cycle: q1
    key_results:
      - {id: leads, title: 900 leads, unit: leads, baseline: 0, target: 900, cadence: weekly}
kpis:
  - id: mql
    title: MQLs a month
    target: 300
    unit: MQL
    measure: cumulative
    owner: ann
    targets: {2026-02: 280}
  - {id: cpl, title: Cost per lead, target: 40, direction: below, unit: EUR, tolerance: 0.2}
"""


def d(day: int, month: int = 1) -> dt.date:
    return dt.date(2026, month, day)


@pytest.mark.parametrize(
    ("period", "day", "expected"),
    [
        ("weekly", d(1), ("2026-W01", dt.date(2025, 12, 29), d(4))),
        ("monthly", d(28, 2), ("2026-02", d(1, 2), d(28, 2))),
        ("monthly", d(31, 12), ("2026-12", d(1, 12), d(31, 12))),
        ("quarterly", d(15, 11), ("2026-Q4", d(1, 10), d(31, 12))),
        ("quarterly", d(1, 4), ("2026-Q2", d(1, 4), d(30, 6))),
    ],
)
def test_periods(period: str, day: dt.date, expected: tuple[str, dt.date, dt.date]) -> None:
    assert KpiPeriod(period).bounds(day) == expected


def test_a_cumulative_kpi_is_judged_on_its_target_pro_rated_to_the_day() -> None:
    kpi = Kpi("mql", "MQLs", target=310, measure="cumulative", unit="MQL")
    history = [CheckIn("mql", 20, d(day)) for day in range(1, 11)]  # 200 by 10 January
    s = score_kpi(kpi, history, at=AT)
    assert (s.period, s.period_start, s.period_end) == ("2026-01", d(1), d(31))
    assert s.actual == 200
    assert s.expected == pytest.approx(100)  # 310 x 10 / 31
    assert s.status is Light.GREEN
    assert s.reason == "200 MQL >= 100 MQL (310 for 2026-01, pro-rated to day 10 of 31)"
    behind = score_kpi(kpi, history[:9], at=AT)  # 180 by the 9th: still green
    assert behind.status is Light.GREEN
    slow = [CheckIn("mql", 9.5, d(day)) for day in range(1, 11)]  # 95: within 10% of 100
    assert score_kpi(kpi, slow, at=AT).status is Light.YELLOW
    assert score_kpi(kpi, slow[:8], at=AT).status is Light.RED  # 76
    # a new month starts afresh; January's total is the previous period's value
    feb = score_kpi(kpi, history, at=d(1, 2))
    assert (feb.period, feb.actual, feb.status) == ("2026-02", None, Light.GREY)
    assert (feb.previous, feb.previous_target) == (200, 310)
    assert feb.reason == "no reading in 2026-02 yet"


def test_a_gauge_kpi_below_takes_the_period_s_latest_reading_and_its_own_target() -> None:
    kpi = Kpi("cpl", "CPL", target=40, direction="below", unit="EUR", targets={"2026-02": 50})
    history = [CheckIn("cpl", 39, d(3)), CheckIn("cpl", 43, d(9))]
    s = score_kpi(kpi, history, at=AT)
    assert (s.actual, s.expected, s.status) == (43, 40, Light.YELLOW)  # within 10% of 40
    assert s.reason == "43 EUR > 40 EUR for 2026-01, within the 10% tolerance"
    assert score_kpi(kpi, [CheckIn("cpl", 45, d(9))], at=AT).status is Light.RED
    feb = score_kpi(kpi, [*history, CheckIn("cpl", 45, d(2, 2))], at=d(3, 2))
    assert (feb.target, feb.status, feb.previous) == (50, Light.GREEN, 43)


def test_a_corrected_reading_replaces_the_day_s_earlier_one() -> None:
    kpi = Kpi("mql", "MQLs", target=300, measure="cumulative")
    t0 = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
    history = [
        CheckIn("mql", 50, d(4), recorded_at=t0),
        CheckIn("mql", 500, d(4), recorded_at=t0 + dt.timedelta(hours=1)),
    ]
    assert score_kpi(kpi, history, at=AT).actual == 500


def test_model_rules() -> None:
    with pytest.raises(ValidationError, match="direction must be 'above' or 'below'"):
        Kpi("k", "K", target=1, direction="up")
    with pytest.raises(ValidationError, match="'2026-13' is no monthly period"):
        Kpi("k", "K", target=1, targets={"2026-13": 5})
    with pytest.raises(ValidationError, match="is no weekly period .like 2026-W07"):
        Kpi("k", "K", target=1, period="weekly", targets={"2026-02": 5})
    kr = Kpi("k", "K", target=3, direction="below", measure="cumulative").as_key_result()
    assert (kr.kind.value, kr.measure.value, kr.target) == ("maintain_below", "cumulative", 3)
    assert kr.value_problem(-1) == "an amount cannot be negative"


def test_plan_file_round_trip_and_errors() -> None:
    plan = loads_plan(PLAN, "yaml")
    assert [k.id for k in plan.kpis] == ["mql", "cpl"]
    assert plan.kpi("mql").target_for("2026-02") == 280
    assert plan.has_kpi("cpl")
    assert not plan.has_kpi("leads")
    assert [kr.id for kr in plan.measured()] == ["leads", "mql", "cpl"]
    assert loads_plan(dumps_plan(plan, "yaml"), "yaml") == plan
    cases = [
        (PLAN.replace("{2026-02: 280}", "{2026-2: 280}"), "kpis[0].targets", 17),
        (PLAN.replace("{id: cpl,", "{id: leads,"), "kpis[1].id", 18),
        (PLAN.replace("tolerance: 0.2}", "tolerance: 0.2, source: {connection: crm}}"),
         "kpis[1].source.connection", 18),
    ]  # fmt: skip
    for text, path, line in cases:
        with pytest.raises(PlanError) as info:
            loads_plan(text, "yaml", name="plan.yaml")
        found = [(p.path, p.line) for p in info.value.problems]
        assert (path, line) in found, found


def test_scoring_live_and_full_and_orphans() -> None:
    plan = loads_plan(PLAN, "yaml")
    checkins = [CheckIn("mql", 30, d(day)) for day in range(2, 9)]
    checkins += [CheckIn("cpl", 47, d(6)), CheckIn("leads", 50, d(6))]
    card = score(plan, checkins, at=AT, manager=MANAGER)
    assert list(card.kpis) == ["mql", "cpl"]
    assert card.kpis["mql"].actual == 210
    assert card.kpis["cpl"].status is Light.YELLOW  # 47 within 20% of 40
    assert "mql" not in card.key_results
    live = LiveScore(plan, [], at=AT, manager=MANAGER)
    for ci in checkins:
        live.add(ci)
    assert live.scorecard().kpis == card.kpis
    assert not orphaned_checkins(plan, checkins)
    data = card.to_dict()
    assert [k["id"] for k in data["kpis"]] == ["mql", "cpl"]


def test_refresh_reads_a_kpi_from_its_source(tmp_path: Path) -> None:
    (tmp_path / "history.csv").write_text(
        "date,metric,value\n2025-12-31,mql,99\n2026-01-02,mql,40\n2026-01-05,mql,60\n"
        "2026-01-05,cpl,38\n",
        encoding="utf-8",
    )
    text = PLAN.replace(
        "    targets: {2026-02: 280}",
        "    targets: {2026-02: 280}\n"
        "    source: {connection: exports, path: history.csv, where: {metric: mql}}",
    ).replace(
        "tolerance: 0.2}",
        "tolerance: 0.2,\n     source: {connection: exports, path: history.csv, "
        "where: {metric: cpl}}}",
    )
    text += "connections:\n  exports: {plugin: file}\n"
    plan = loads_plan(text, "yaml", base_dir=str(tmp_path))
    store = MemoryStore()
    manager = PluginManager()
    result = refresh(plan, store, at=AT, manager=manager)
    outcomes = {o.kr_id: o.status for o in result.run.outcomes}
    assert outcomes == {"leads": "manual", "mql": "refreshed", "cpl": "refreshed"}
    stored = {(c.kr_id, c.as_of): c.value for c in store.checkins()}
    assert stored == {("mql", d(2)): 40, ("mql", d(5)): 60, ("cpl", d(5)): 38}  # this month
    card = score(plan, store, at=AT, manager=manager)
    assert (card.kpis["mql"].actual, card.kpis["cpl"].status) == (100, Light.GREEN)


def test_checkin_score_and_reports(tmp_path: Path, okr_cli: Callable[..., tuple[int, str]]) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN, encoding="utf-8")
    okr = okr_cli

    assert okr("checkin", str(path), "mql", "250", "--at", "2025-12-20")[0] == 0
    assert okr("checkin", str(path), "mql", "120", "--at", "2026-01-08")[0] == 0
    assert okr("checkin", str(path), "cpl", "55", "--at", "2026-01-08")[0] == 0
    code, out = okr("checkin", str(path), "mqls", "1")
    assert code == 2
    assert "no key result or KPI 'mqls'" in out
    code, out = okr("score", str(path), "--at", "2026-01-10")
    assert code == 0, out
    assert "KPIs (apart from the OKRs)" in out
    assert "250 of 300" in out  # December's total against its target
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert "warning" not in out
    code, out = okr("score", str(path), "--at", "2026-01-10", "--format", "md")
    assert "### KPIs" in out
    assert "| `cpl` | 2026-01 | 55 EUR | <= 40 |" in out
    code, out = okr("score", str(path), "--at", "2026-01-10", "--owner", "ann", "--format", "json")
    assert [k["id"] for k in json.loads(out)["kpis"]] == ["mql"]

    plan = loads_plan(PLAN, "yaml")
    store = MemoryStore()
    store.add_checkins([CheckIn("mql", 120, d(8)), CheckIn("cpl", 55, d(8))])
    schema = json.loads((ROOT / "docs" / "report.schema.json").read_text(encoding="utf-8"))
    for kind in ("daily", "weekly", "monthly"):
        rep = report(plan, store, kind, at=AT, manager=MANAGER)
        assert [k.id for k in rep.kpis] == ["mql", "cpl"]
        text = render(rep, "text", width=80)
        assert "KPIs (apart from the OKRs)" in text
        assert all(len(line) <= 80 for line in text.splitlines()), text
        assert "55 EUR" in text
        data = json.loads(render(rep, "json"))
        jsonschema.validate(data, schema)
        assert data["kpis"][1]["status"] == "red"
        assert data["summary"]["key_results"] == 1  # KPIs are apart from the OKRs
    md = render(report(plan, store, "daily", at=AT, manager=MANAGER), "md")
    assert "**Cost per lead**: 55 EUR in 2026-01" in md
    html = render(report(plan, store, "monthly", at=AT, manager=MANAGER), "html")
    assert 'id="kpis"' in html
    assert "Cost per lead" in html
    mine = report(plan, store, "daily", at=AT, manager=MANAGER, owner="ann")
    assert [k.id for k in mine.kpis] == ["mql"]


def test_history_of_a_kpi(tmp_path: Path, okr_cli: Callable[..., tuple[int, str]]) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN, encoding="utf-8")
    okr = okr_cli

    plan = str(path)
    note = "from the weekly CRM export, webinar sign-ups included for the first time"
    assert okr("checkin", plan, "mql", "250", "--at", "2025-12-20")[0] == 0
    assert okr("checkin", plan, "mql", "1200", "--at", "2026-01-08", "--note", note)[0] == 0
    assert okr("checkin", plan, "mql", "30", "--at", "2026-01-09")[0] == 0
    fix = ("--replace", "--reason", "the webinar sign-ups were counted twice")
    assert okr("checkin", plan, "mql", "130", "--at", "2026-01-08", *fix)[0] == 0
    assert okr("checkin", plan, "leads", "99", "--at", "2026-01-08")[0] == 0

    code, out = okr("history", plan, "mql")
    assert code == 0, out
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert "…" not in out
    assert "mql: MQLs a month (KPI)" in out
    assert "Target 300 MQL a month (at or above, cumulative); 2026-02: 280 MQL" in out
    assert "1,200 MQL" in out  # the replaced reading stays, with why it was replaced
    assert "the webinar sign-ups were counted twice" in out
    assert "99" not in out  # another id's readings
    periods = out[out.index("Periods") :]
    assert "250 MQL" in periods
    assert "160 MQL" in periods  # January: 130 (the correction) + 30

    code, out = okr("history", plan, "mql", "--format", "md")
    assert code == 0, out
    assert "### Readings" in out
    assert "| 2026-01 | 2026-01-01 | 2026-01-31 | 160 MQL | 300 MQL | 2 |" in out

    code, out = okr("history", plan, "mql", "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert (data["id"], data["type"], data["period"], data["targets"]) == (
        "mql", "kpi", "monthly", {"2026-02": 280.0}
    )  # fmt: skip
    assert [(c["as_of"], c["value"]) for c in data["checkins"]] == [
        ("2025-12-20", 250.0), ("2026-01-08", 130.0), ("2026-01-09", 30.0)
    ]  # fmt: skip
    [replaced] = data["replaced"]
    assert (replaced["value"], replaced["reason"]) == (
        1200.0, "the webinar sign-ups were counted twice"
    )  # fmt: skip
    assert [(p["period"], p["value"], p["target"]) for p in data["periods"]] == [
        ("2025-12", 250.0, 300.0), ("2026-01", 160.0, 300.0)
    ]  # fmt: skip

    code, out = okr("history", plan, "cpl")
    assert code == 0, out
    assert "Target 40 EUR a month (at or below, gauge)" in out
    assert out.count("No readings yet.") == 1
    code, out = okr("history", plan, "cpll")
    assert code == 2
    out = " ".join(out.split())  # the error wraps at 80 columns, where the path falls
    assert "no key result or KPI 'cpll'" in out
    assert "did you mean 'cpl'?" in out
