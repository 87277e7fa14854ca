"""`rollup: sum` key results (docs/plan-format.md#sums, docs/scoring.md#sums): parts, readings,
scores, load errors, lint, reports, and the incremental path equal to the full one."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import attrs
import jsonschema
import pytest
from hypothesis import given, settings, strategies as st

from okrcore.checks import check
from okrcore.errors import PlanError, ValidationError
from okrcore.model import CheckIn, Cycle, KeyResult, Objective, Plan
from okrcore.planfile import dumps_plan, loads_plan
from okrcore.plugins import PluginManager
from okrcore.policies import Light
from okrcore.reports import render, report
from okrcore.scoring import LiveScore, daily_values, score, sum_readings
from okrcore.store import MemoryStore

ROOT = Path(__file__).resolve().parents[1]
Q1 = Cycle("q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))
AT = dt.date(2026, 1, 10)
MANAGER = PluginManager(load_entry_points=False)

PLAN = """\
okrcore: 1
cycles:
  - {id: q1, start: 2026-01-01, end: 2026-03-31}
objectives:
  - id: pipeline
    title: Fill the pipeline
    cycle: q1
    level: company
    key_results:
      - {id: leads, title: Qualified leads, unit: leads, measure: cumulative,
         baseline: 0, target: 900, rollup: sum}
      - {id: nps, title: NPS, unit: points, baseline: 30, target: 40, cadence: monthly}
  - id: emea
    title: EMEA pipeline
    cycle: q1
    parent: pipeline
    key_results:
      - {id: emea-leads, title: EMEA leads, unit: leads, measure: cumulative,
         baseline: 0, target: 500, cadence: daily}
      - {id: emea-spend, title: EMEA spend, unit: EUR, measure: cumulative,
         baseline: 0, target: 9000, cadence: daily}
  - id: apac
    title: APAC pipeline
    cycle: q1
    parents: [{id: pipeline, weight: 2}]
    key_results:
      - {id: apac-leads, title: APAC leads, unit: leads, measure: cumulative,
         baseline: 0, target: 400, cadence: daily}
"""


def day(n: int) -> dt.date:
    return Q1.start + dt.timedelta(days=n - 1)


def pipeline_checkins() -> list[CheckIn]:
    out = [CheckIn("emea-leads", 30, day(d)) for d in range(5, 9)]
    out += [CheckIn("apac-leads", 20, day(d)) for d in range(5, 9)]
    return out


def test_parts_are_the_child_objectives_key_results_in_the_sum_s_unit() -> None:
    plan = loads_plan(PLAN, "yaml")
    assert plan.sum_parts("leads") == ("emea-leads", "apac-leads")
    assert plan.sum_parts("nps") == ()
    assert plan.sums() == ["leads"]


def test_a_cumulative_sum_adds_up_each_day_and_is_scored_on_its_own_target() -> None:
    plan = loads_plan(PLAN, "yaml")
    card = score(plan, pipeline_checkins(), at=AT, manager=MANAGER)
    leads = card.key_results["leads"]
    parts = [card.key_results[k] for k in ("emea-leads", "apac-leads")]
    assert leads.actual == 200 == sum(p.actual or 0 for p in parts)
    assert leads.progress == pytest.approx(200 / 900)
    assert leads.plan_to_date == pytest.approx(100)  # day 10 of 90, of 900
    assert leads.completion == pytest.approx(2.0)
    assert leads.status is Light.GREEN
    assert leads.sum_of == ("emea-leads", "apac-leads")
    assert leads.checkins == 4  # one derived reading per day with a part's reading
    # the objective's score is still the weighted mean: leads and nps (no data), then the
    # children emea (weight 1) and apac (weight 2)
    emea, apac = card.objectives["emea"].score, card.objectives["apac"].score
    assert emea is not None
    assert apac is not None
    assert leads.score is not None
    expected = (leads.score + emea + 2 * apac) / 4
    assert card.objectives["pipeline"].score == pytest.approx(expected)


def test_a_sum_s_own_checkins_are_ignored_and_refused() -> None:
    plan = loads_plan(PLAN, "yaml")
    own = CheckIn("leads", 5000, day(9))
    card = score(plan, [*pipeline_checkins(), own], at=AT, manager=MANAGER)
    assert card.key_results["leads"].actual == 200
    live = LiveScore(plan, pipeline_checkins(), at=AT, manager=MANAGER)
    assert live.add(own) is None
    problem = plan.key_result("leads").value_problem(5)
    assert problem is not None
    assert "check in its parts" in problem


def test_a_gauge_sum_counts_a_silent_part_at_its_baseline() -> None:
    plan = Plan(
        cycles=[Q1],
        objectives=[
            Objective("all", "All", "q1", rollup="sum", key_results=[
                KeyResult("users", "Users", unit="users", baseline=150, target=300),
            ]),
            Objective("a", "A", "q1", parent="all", key_results=[
                KeyResult("a-users", "A users", unit="users", baseline=100, target=200),
            ]),
            Objective("b", "B", "q1", parent="all", key_results=[
                KeyResult("b-users", "B users", unit="users", baseline=50, target=100),
            ]),
        ],
    )  # fmt: skip
    assert plan.key_result("users").rollup == "sum"  # the objective's rollup: sum
    assert score(plan, [], at=AT, manager=MANAGER).key_results["users"].actual is None
    checkins = [CheckIn("a-users", 120, day(3)), CheckIn("b-users", 70, day(6)),
                CheckIn("a-users", 130, day(8))]  # fmt: skip
    readings = sum_readings(plan, checkins, at=AT)
    assert [(c.as_of, c.value, c.source) for c in readings] == [
        (day(3), 170.0, "sum"),  # b has no reading yet: its baseline, 50
        (day(6), 190.0, "sum"),
        (day(8), 200.0, "sum"),
    ]
    users = score(plan, checkins, at=AT, manager=MANAGER).key_results["users"]
    assert users.actual == 200
    assert users.progress == pytest.approx((200 - 150) / (300 - 150))


def test_sums_of_sums_and_explicit_parts() -> None:
    plan = Plan(
        cycles=[Q1],
        objectives=[
            Objective("co", "Company", "q1", key_results=[
                KeyResult("total", "Total", unit="leads", measure="cumulative", baseline=0,
                          target=60, rollup="sum", sum_of=["region", "solo"]),
            ]),
            Objective("r", "Region", "q1", parent="co", key_results=[
                KeyResult("region", "Region", unit="leads", measure="cumulative", baseline=0,
                          target=40, rollup="sum", sum_of=["t1", "t2"]),
                KeyResult("t1", "T1", unit="leads", measure="cumulative", baseline=0, target=20),
                KeyResult("t2", "T2", unit="leads", measure="cumulative", baseline=0, target=20),
            ]),
            Objective("s", "Solo", "q1", key_results=[
                KeyResult("solo", "Solo", unit="leads", measure="cumulative", baseline=0,
                          target=20),
            ]),
        ],
    )  # fmt: skip
    assert plan.sums() == ["region", "total"]  # parts first
    checkins = [CheckIn("t1", 3, day(2)), CheckIn("t2", 4, day(2)), CheckIn("solo", 5, day(3))]
    card = score(plan, checkins, at=AT, manager=MANAGER)
    assert card.key_results["region"].actual == 7
    assert card.key_results["total"].actual == 12


def edit(old: str, new: str) -> str:
    assert old in PLAN
    return PLAN.replace(old, new)


@pytest.mark.parametrize(
    ("text", "line", "path", "message"),
    [
        (  # mixed units: an explicit part in EUR
            edit("target: 900, rollup: sum}", "target: 900, rollup: sum,\n"
                 "         sum_of: [emea-leads, emea-spend]}"),
            12, "objectives[0].key_results[0].sum_of[1]",
            "key result 'emea-spend' is in 'EUR', the sum 'leads' in 'leads': mixed units",
        ),
        (  # mixed measures, found by unit
            edit("{id: apac-leads, title: APAC leads, unit: leads, measure: cumulative",
                 "{id: apac-leads, title: APAC leads, unit: leads, measure: gauge"),
            11, "objectives[0].key_results[0].rollup",
            "'apac-leads' is gauge, the sum 'leads' cumulative",
        ),
        (
            edit("rollup: sum}", "rollup: sum, sum_of: [emea-lead]}"),
            11, "objectives[0].key_results[0].sum_of[0]", "unknown key result 'emea-lead'",
        ),
        (  # two key results in leads in one child objective
            edit("unit: EUR", "unit: leads"),
            11, "objectives[0].key_results[0].rollup",
            "child objective 'emea' has 2 key results in 'leads' (emea-leads, emea-spend)",
        ),
        (
            edit("unit: leads, measure: cumulative,\n         baseline: 0, target: 900",
                 "unit: MQL, measure: cumulative,\n         baseline: 0, target: 900"),
            11, "objectives[0].key_results[0].rollup", "no objective aligned to 'pipeline'",
        ),
        (
            edit("rollup: sum}", "rollup: sum, source: {connection: crm}}"),
            11, "objectives[0].key_results[0].rollup", "cannot have a source",
        ),
        (
            edit("rollup: sum}", "rollup: total}"),
            11, "objectives[0].key_results[0].rollup", "expected one of",
        ),
    ],
)
def test_plan_file_errors_name_file_line_and_field(
    text: str, line: int, path: str, message: str
) -> None:
    if "connection: crm" in text:
        text = text.replace("objectives:", "connections: {crm: {plugin: file}}\nobjectives:")
        line += 1
    with pytest.raises(PlanError) as info:
        loads_plan(text, "yaml", name="plan.yaml")
    found = [(p.path, p.line, p.message) for p in info.value.problems]
    assert any(p == path and n == line and message in m for p, n, m in found), found
    assert f"plan.yaml:{line}:" in str(info.value)


def test_loops_and_parts_counted_twice_are_refused() -> None:
    def krs(*items: KeyResult) -> list[KeyResult]:
        return list(items)

    def c(kr_id: str, **kw: object) -> KeyResult:
        return KeyResult(kr_id, kr_id, unit="x", measure="cumulative", baseline=0, target=10,
                         **kw)  # type: ignore[arg-type]  # fmt: skip

    with pytest.raises(PlanError, match="sum loop: a -> b -> a"):
        Plan(cycles=[Q1], objectives=[Objective("o", "O", "q1", key_results=krs(
            c("a", rollup="sum", sum_of=["b"]), c("b", rollup="sum", sum_of=["a"])))])  # fmt: skip
    with pytest.raises(PlanError, match="counts 'p' more than once"):
        Plan(cycles=[Q1], objectives=[Objective("o", "O", "q1", key_results=krs(
            c("p"), c("q"), c("mid", rollup="sum", sum_of=["p", "q"]),
            c("top", rollup="sum", sum_of=["mid", "p"])))])  # fmt: skip
    with pytest.raises(ValidationError, match="sum_of names the key result itself"):
        c("a", rollup="sum", sum_of=["a"])
    with pytest.raises(ValidationError, match="sum_of needs rollup: sum"):
        c("a", sum_of=["b"])
    with pytest.raises(ValidationError, match="has rollup: sum, so .*not a milestone"):
        Objective("o", "O", "q1", rollup="sum", key_results=[KeyResult("m", "M", kind="milestone")])


def test_plan_file_round_trip_keeps_sums() -> None:
    text = edit("rollup: sum}", "rollup: sum, sum_of: [emea-leads, apac-leads]}")
    plan = loads_plan(text, "yaml")
    again = loads_plan(dumps_plan(plan, "yaml"), "yaml")
    assert again == plan
    assert again.key_result("leads").sum_of == ("emea-leads", "apac-leads")


def test_lint_flags_a_target_its_parts_do_not_add_up_to() -> None:
    plan = loads_plan(edit("baseline: 0, target: 400", "baseline: 0, target: 450"), "yaml")
    findings = [f for f in check(plan, manager=MANAGER) if f.code.startswith("OKR-S")]
    assert [(f.code, f.where) for f in findings] == [
        ("OKR-S001", "objectives[0].key_results[0].target")
    ]
    assert "add up to 950, not 900 (emea-leads 500, apac-leads 450)" in findings[0].message
    quiet = attrs.evolve(plan, checks={"sums": {"tolerance": 0.06}})
    assert not [f for f in check(quiet, manager=MANAGER) if f.code.startswith("OKR-S")]
    exact = loads_plan(PLAN, "yaml")
    assert not [f for f in check(exact, manager=MANAGER) if f.code.startswith(("OKR-S", "SMART-M"))]


def test_reports_mark_a_sum_with_its_parts() -> None:
    plan = loads_plan(PLAN, "yaml")
    store = MemoryStore()
    store.add_checkins(pipeline_checkins())
    for kind in ("daily", "weekly", "monthly"):
        rep = report(plan, store, kind, at=AT, manager=MANAGER)
        text = render(rep, "text", width=80)
        assert all(len(line) <= 80 for line in text.splitlines()), text
        if kind != "weekly":
            words = " ".join(text.split())  # the title may wrap in its column
            assert "Qualified leads (sum of" in words
            assert "emea-leads, apac-leads)" in words
        data = json.loads(render(rep, "json"))
        schema = json.loads((ROOT / "docs" / "report.schema.json").read_text(encoding="utf-8"))
        jsonschema.validate(data, schema)
        sums = {k["id"]: k["sum_of"] for k in data["key_results"]}
        assert sums["leads"] == ["emea-leads", "apac-leads"]
        assert sums["nps"] == []
        assert [k["actual"] for k in data["key_results"] if k["id"] == "leads"] == [200]
    md = render(report(plan, store, "daily", at=AT, manager=MANAGER), "md")
    assert "(plan to date 100 leads), sum of emea-leads, apac-leads" in md
    html = render(report(plan, store, "monthly", at=AT, manager=MANAGER), "html")
    assert '<span class="badge">sum of emea-leads, apac-leads</span>' in html
    line = report(plan, store, "monthly", at=AT, manager=MANAGER).key_result("leads")
    assert [p.value for p in line.series][-1] == 200  # the running total of the summed amounts


def test_okr_score_and_checkin(tmp_path: Path, okr_cli: Callable[..., tuple[int, str]]) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN, encoding="utf-8")
    okr = okr_cli

    code, out = okr("checkin", str(path), "leads", "5", "--at", "2026-01-05")
    assert code == 2
    assert "check in its parts" in out
    for d in ("2026-01-05", "2026-01-06"):
        assert okr("checkin", str(path), "emea-leads", "30", "--at", d)[0] == 0
        assert okr("checkin", str(path), "apac-leads", "20", "--at", d)[0] == 0
    code, out = okr("score", str(path), "--at", "2026-01-10")
    assert code == 0, out
    assert "why: sum of emea-leads, apac-leads ·" in out
    assert all(len(line) <= 80 for line in out.splitlines())
    code, out = okr("score", str(path), "--at", "2026-01-10", "--format", "json")
    leads = next(k for k in json.loads(out)["key_results"] if k["id"] == "leads")
    assert leads["actual"] == 100
    assert leads["sum_of"] == ["emea-leads", "apac-leads"]


# -- the incremental path equals the full one, and both the definition -----------------------

PROPERTY_PLAN = Plan(
    cycles=[Q1],
    objectives=[
        Objective("co", "Company", "q1", key_results=[
            KeyResult("total", "Total", unit="u", measure="cumulative", baseline=0, target=900,
                      rollup="sum", sum_of=["mid", "c"]),
            KeyResult("level", "Level", unit="v", baseline=10, target=500, rollup="sum"),
        ]),
        Objective("t", "Team", "q1", parent="co", key_results=[
            KeyResult("mid", "Mid", unit="u", measure="cumulative", baseline=0, target=600,
                      rollup="sum", sum_of=["a", "b"]),
            KeyResult("a", "A", unit="u", measure="cumulative", baseline=0, target=300),
            KeyResult("b", "B", unit="u", measure="cumulative", baseline=0, target=300,
                      cadence="daily"),
            KeyResult("c", "C", unit="u", measure="cumulative", baseline=0, target=300),
            KeyResult("g1", "G1", unit="v", baseline=5, target=250),
        ]),
        Objective("t2", "Team 2", "q1", parent="co", key_results=[
            KeyResult("g2", "G2", unit="v", baseline=5, target=250),
        ]),
    ],
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "g1", "g2", "total", "mid"]),
            st.floats(min_value=0, max_value=300, allow_nan=False),
            st.integers(min_value=-5, max_value=100),
            st.integers(0, 3),
        ),
        max_size=25,
    ),
    st.integers(min_value=1, max_value=95),
)
def test_live_sums_equal_a_full_score_and_the_definition(
    rows: list[tuple[str, float, int, int]], at_day: int
) -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    at = day(at_day)
    cis = [CheckIn(k, v, day(d), recorded_at=t0 + dt.timedelta(hours=h)) for k, v, d, h in rows]
    full = score(PROPERTY_PLAN, cis, at=at, manager=MANAGER)
    live = LiveScore(PROPERTY_PLAN, [], at=at, manager=MANAGER)
    for ci in cis:
        live.add(ci)
    card = live.scorecard()
    assert card.key_results == full.key_results
    for oid, node in full.objectives.items():
        assert card.objectives[oid].status is node.status
        assert card.objectives[oid].score == pytest.approx(node.score)
    # the straightforward definition: a cumulative sum's actual is its parts' actuals added up
    # (within the cycle); a gauge sum's is each part's latest level, or its baseline. Readings
    # after the deadline count for no key result, so for no sum either.
    end = min(at, Q1.end)
    kept = [c for c in cis if c.as_of <= end]

    def amount(kr_id: str) -> float | None:
        if kr_id in ("mid", "total"):
            got = [amount(p) for p in PROPERTY_PLAN.sum_parts(kr_id)]
            return None if all(g is None for g in got) else sum(g or 0.0 for g in got)
        daily = daily_values([c for c in kept if c.kr_id == kr_id], end)
        inside = [v for d, v in daily.items() if d >= Q1.start]
        return sum(inside) if inside else None

    for kr_id in ("mid", "total"):
        expected = amount(kr_id)
        got = full.key_results[kr_id].actual
        assert (got is None) == (expected is None)
        if expected is not None:
            assert got == pytest.approx(expected)
    levels = [daily_values([c for c in kept if c.kr_id == k], end) for k in ("g1", "g2")]
    if any(levels):
        expected_level = sum(list(lv.values())[-1] if lv else 5.0 for lv in levels)
        assert full.key_results["level"].actual == pytest.approx(expected_level)
    else:
        assert full.key_results["level"].actual is None
