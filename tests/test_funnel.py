"""Funnel back-solving: the brief's worked example (design §7), what-ifs, rounding, apply."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, strategies as st

from okrcore.errors import OkrError, PlanError
from okrcore.funnel import (
    FunnelError,
    FunnelResult,
    apply_funnel,
    derive_funnel,
    rates_from_actuals,
)
from okrcore.model import (
    CheckIn,
    Cycle,
    Funnel,
    FunnelSplit,
    FunnelStep,
    KeyResult,
    Objective,
    Plan,
)

Q1 = Cycle("2026-q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))


def brief_funnel(**bind: str) -> Funnel:
    """10,000,000 new ARR / 50,000 a contract, 10% lead-to-customer, 200 a lead, 60/30/10."""
    return Funnel(
        "sales",
        "arr",
        10_000_000,
        unit="CNY",
        key_result=bind.get("arr"),
        steps=[
            FunnelStep("customers", "divide_by", 50_000, key_result=bind.get("customers")),
            FunnelStep("leads", "rate", 0.10, key_result=bind.get("leads")),
            FunnelStep("budget", "multiply_by", 200, of="leads", key_result=bind.get("budget")),
        ],
        splits=[
            FunnelSplit(
                "leads",
                {"content": 0.6, "sem": 0.3, "other": 0.1},
                {k: bind[k] for k in ("content", "sem", "other") if k in bind},
            )
        ],
    )


ALL_BOUND = {
    "arr": "kr-arr",
    "customers": "kr-customers",
    "leads": "kr-leads",
    "budget": "kr-budget",
    "content": "kr-content",
    "sem": "kr-sem",
    "other": "kr-other",
}


def brief_plan(funnel: Funnel | None = None, **positions: tuple[int, int]) -> Plan:
    krs = [
        KeyResult("kr-arr", "New ARR", unit="CNY", baseline=0, target=10_000_000),
        KeyResult("kr-customers", "New customers", kind="count", target=150),
        KeyResult("kr-leads", "Leads", kind="count", measure="cumulative", target=1_500),
        KeyResult("kr-budget", "Marketing spend", kind="maintain_below", target=300_000),
        KeyResult("kr-content", "Content leads", kind="count", target=900),
        KeyResult("kr-sem", "SEM leads", kind="count", target=450),
        KeyResult("kr-other", "Other leads", kind="count", target=150),
    ]
    return Plan(
        cycles=[Q1],
        objectives=[Objective("sales", "Win the market", Q1.id, key_results=krs)],
        funnels=[funnel or brief_funnel(**ALL_BOUND)],
        positions=positions,
    )


def test_brief_numbers_exactly() -> None:
    result = derive_funnel(brief_funnel(**ALL_BOUND))
    assert result.stages == {
        "arr": 10_000_000,
        "customers": 200,
        "leads": 2_000,
        "budget": 400_000,
    }
    assert list(result.stages) == ["arr", "customers", "leads", "budget"]
    assert result.splits == {"leads": {"content": 1_200, "sem": 600, "other": 200}}
    assert result.targets == {
        "kr-arr": 10_000_000,
        "kr-customers": 200,
        "kr-leads": 2_000,
        "kr-budget": 400_000,
        "kr-content": 1_200,
        "kr-sem": 600,
        "kr-other": 200,
    }


def test_what_if_measured_conversion() -> None:
    result = derive_funnel(brief_funnel(), {"leads": 0.08})
    assert result.stages["customers"] == 200
    assert result.stages["leads"] == 2_500
    assert result.stages["budget"] == 500_000
    assert result.splits["leads"] == {"content": 1_500, "sem": 750, "other": 250}
    assert result.values["leads"] == 0.08


def test_what_if_overrides_divide_and_multiply_steps_and_start() -> None:
    result = derive_funnel(brief_funnel(), {"customers": 40_000, "budget": 150})
    assert result.stages["customers"] == 250
    assert result.stages["leads"] == 2_500
    assert result.stages["budget"] == 375_000
    result = derive_funnel(brief_funnel(), {"arr": 5_000_000})
    assert result.stages == {"arr": 5_000_000, "customers": 100, "leads": 1_000, "budget": 200_000}


def test_needed_counts_round_up_amounts_do_not() -> None:
    funnel = Funnel(
        "f",
        "arr",
        10_000_000,
        steps=[
            FunnelStep("customers", "divide_by", 30_000),
            FunnelStep("leads", "rate", 0.07),
            FunnelStep("budget", "multiply_by", 12.5),
        ],
    )
    result = derive_funnel(funnel)
    assert result.stages["customers"] == 334  # 333.33... needs 334 to reach the ARR
    assert result.stages["leads"] == 4_772  # 334 / 0.07 = 4771.4...
    assert result.stages["budget"] == 4_772 * 12.5  # an amount: not rounded


def test_split_of_a_count_adds_up_to_the_stage() -> None:
    result = derive_funnel(brief_funnel(), {"leads": 0.07})
    leads = result.stages["leads"]
    assert leads == 2_858
    # 1714.8 / 857.4 / 285.8: the two largest remainders get the two left-over leads
    assert result.splits["leads"] == {"content": 1_715, "sem": 857, "other": 286}
    assert sum(result.splits["leads"].values()) == leads


def test_split_of_an_amount_is_share_times_value() -> None:
    funnel = Funnel(
        "f",
        "budget",
        1_000.5,
        splits=[FunnelSplit("budget", {"a": 0.5, "b": 0.5})],
    )
    assert derive_funnel(funnel).splits == {"budget": {"a": 500.25, "b": 500.25}}


@given(
    total=st.integers(min_value=0, max_value=10_000_000),
    weights=st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=6),
)
def test_apportioned_split_is_whole_and_sums_to_total(total: int, weights: list[int]) -> None:
    shares = {f"c{i}": w / sum(weights) for i, w in enumerate(weights)}
    if abs(sum(shares.values()) - 1) > 1e-9:
        return  # the model refuses such shares
    funnel = Funnel(
        "f",
        "money",
        float(total),
        steps=[FunnelStep("units", "divide_by", 1)],
        splits=[FunnelSplit("units", shares)],
    )
    channels = derive_funnel(funnel).splits["units"]
    assert sum(channels.values()) == total
    for name, value in channels.items():
        assert value.is_integer()
        assert abs(value - total * shares[name]) < 1 + 1e-6


def test_unknown_override_names_the_stages() -> None:
    with pytest.raises(FunnelError, match="no step 'lead'.*arr, customers, leads, budget"):
        derive_funnel(brief_funnel(), {"lead": 0.08})


@pytest.mark.parametrize("value", [1.5, 0, -0.1])
def test_impossible_rate_is_refused(value: float) -> None:
    with pytest.raises(FunnelError, match="leads") as info:
        derive_funnel(brief_funnel(), {"leads": value})
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, OkrError)


def test_apply_refuses_unknown_override() -> None:
    with pytest.raises(FunnelError, match="funnel 'sales' has no step 'lead'"):
        apply_funnel(brief_plan(), "sales", {"lead": 0.08})
    two = attrs.evolve(brief_plan(), funnels=[brief_funnel(), Funnel("ads", "clicks", 1_000)])
    with pytest.raises(FunnelError, match="no funnel has a step 'lead'"):
        apply_funnel(two, None, {"lead": 0.08})
    # each funnel takes the names it knows
    assert apply_funnel(two, None, {"clicks": 5, "leads": 0.08})[1] == []


@pytest.mark.parametrize("value", [-1, "many", float("nan")])
def test_impossible_start_override_is_refused(value: Any) -> None:
    with pytest.raises(FunnelError, match="what-if arr must be a number >= 0"):
        derive_funnel(brief_funnel(), {"arr": value})


def test_step_from_unknown_stage_is_a_plan_error() -> None:
    funnel = Funnel(
        "f",
        "arr",
        100,
        steps=[FunnelStep("customers", "divide_by", 10, of="revenue")],
        splits=[
            FunnelSplit("visits", {"a": 1.0}),
            FunnelSplit("arr", {"a": 1.0}),
            FunnelSplit("arr", {"b": 1.0}),
        ],
    )
    with pytest.raises(PlanError) as info:
        derive_funnel(funnel)
    paths = [p.path for p in info.value.problems]
    assert paths == ["steps[0].of", "splits[0].of", "splits[2].of"]
    assert "split twice" in info.value.problems[2].message
    assert "'revenue'" in str(info.value)


def test_apply_sets_bound_targets_and_records_changes() -> None:
    plan = brief_plan()
    new_plan, changes = apply_funnel(plan, "sales")
    by_kr = {c.kr_id: c for c in changes}
    # kr-arr already has the funnel's start value: no change recorded for it
    assert set(by_kr) == set(ALL_BOUND.values()) - {"kr-arr"}
    assert (by_kr["kr-leads"].old, by_kr["kr-leads"].new) == (1_500, 2_000)
    assert (by_kr["kr-budget"].old, by_kr["kr-budget"].new) == (300_000, 400_000)
    assert all(c.field == "target" for c in changes)
    assert by_kr["kr-content"].reason == "derived from funnel 'sales'"
    assert new_plan.key_result("kr-content").target == 1_200
    assert new_plan.key_result("kr-customers").target == 200
    assert plan.key_result("kr-content").target == 900  # the input plan is untouched
    # applying twice changes nothing more
    assert apply_funnel(new_plan, "sales")[1] == []


def test_apply_what_if_with_reason() -> None:
    plan = brief_plan()
    new_plan, changes = apply_funnel(plan, rates={"leads": 0.08})
    assert new_plan.key_result("kr-leads").target == 2_500
    assert new_plan.key_result("kr-sem").target == 750
    assert "leads=0.08" in changes[0].reason
    _, changes = apply_funnel(plan, rates={"leads": 0.08}, reason="Q1 conversion is 8%")
    assert {c.reason for c in changes} == {"Q1 conversion is 8%"}


def test_apply_changes_can_be_replayed_on_the_original_plan() -> None:
    plan = brief_plan()
    new_plan, changes = apply_funnel(plan)
    assert plan.with_target_changes(changes) == new_plan


def test_apply_unknown_key_result_names_the_funnel_path() -> None:
    funnel = brief_funnel(leads="kr-lead", sem="kr-paid")
    plan = brief_plan(funnel, **{"funnels[0].steps[1].key_result": (40, 22)})
    with pytest.raises(PlanError) as info:
        apply_funnel(plan, "sales")
    problems = {p.path: p for p in info.value.problems}
    assert set(problems) == {
        "funnels[0].steps[1].key_result",
        "funnels[0].splits[0].key_results.sem",
    }
    located = problems["funnels[0].steps[1].key_result"]
    assert (located.line, located.column) == (40, 22)
    assert "unknown key result 'kr-lead'" in located.message


def test_apply_unknown_funnel() -> None:
    with pytest.raises(PlanError, match="no funnel 'ads' \\(known: sales\\)"):
        apply_funnel(brief_plan(), "ads")


def test_apply_refuses_a_target_the_key_result_cannot_take() -> None:
    plan = brief_plan()
    krs = [
        KeyResult("kr-leads", "Leads", kind="increase", baseline=3_000, target=3_500),
    ]
    funnel = brief_funnel(leads="kr-leads")
    plan = Plan(
        cycles=[Q1],
        objectives=[Objective("sales", "Win", Q1.id, key_results=krs)],
        funnels=[funnel],
    )
    with pytest.raises(PlanError, match="derives target 2000, but .*above the baseline"):
        apply_funnel(plan)


def test_apply_refuses_one_key_result_bound_to_two_values() -> None:
    funnel = brief_funnel(leads="kr-leads", content="kr-leads")
    with pytest.raises(PlanError, match="'kr-leads' is bound twice"):
        apply_funnel(brief_plan(funnel))


def test_rates_from_actuals_feed_the_what_if() -> None:
    plan = brief_plan()
    checkins = [
        CheckIn("kr-customers", 30, dt.date(2026, 2, 1)),
        CheckIn("kr-customers", 40, dt.date(2026, 2, 28)),  # gauge: the latest reading
        CheckIn("kr-leads", 300, dt.date(2026, 1, 31)),  # cumulative: the cycle's sum
        CheckIn(
            "kr-leads",
            150,
            dt.date(2026, 2, 28),
            recorded_at=dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc),
        ),
        # a correction of the same day, recorded later, replaces the first reading
        CheckIn(
            "kr-leads",
            200,
            dt.date(2026, 2, 28),
            recorded_at=dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc),
        ),
        CheckIn("kr-leads", 999, dt.date(2025, 12, 31)),  # before the cycle: not counted
        CheckIn("kr-budget", 50_000, dt.date(2026, 2, 28)),
    ]
    rates = rates_from_actuals(plan, "sales", checkins)
    assert rates == pytest.approx({"leads": 0.08, "budget": 100})  # no ARR actual: no contract
    result = derive_funnel(plan.funnels[0], rates)
    assert result.stages["leads"] == 2_500
    # at the end of January there is no customer or spend reading yet: nothing measured
    assert rates_from_actuals(plan, "sales", checkins, at=dt.date(2026, 1, 31)) == {}


def test_result_to_dict_is_json_ready() -> None:
    data = derive_funnel(brief_funnel(**ALL_BOUND)).to_dict()
    assert data["stages"]["leads"] == 2_000
    assert data["splits"]["leads"]["sem"] == 600
    assert data["targets"]["kr-budget"] == 400_000
    assert isinstance(derive_funnel(brief_funnel()), FunnelResult)


FUNNEL_PLAN = """\
okrcore: 1
cycles:
  - {id: fy, start: 2026-01-01, end: 2026-12-31}
objectives:
  - id: sales
    title: Win the market
    cycle: fy
    key_results:
      - {id: leads, title: Leads, kind: count, target: 1500}
      - {id: content-leads, title: Content leads, kind: count, target: 900}
funnels:
  - id: sales
    start: arr
    value: 10000000
    steps:
      - {name: customers, divide_by: 50000}
      - {name: leads, rate: 0.10, key_result: leads}
      - {name: budget, multiply_by: 200, of: leads}
    splits:
      - of: leads
        shares: {content: 0.6, sem: 0.3, other: 0.1}
        key_results: {content: content-leads}
"""


def test_funnel_from_a_yaml_plan() -> None:
    from okrcore import planfile
    plan = planfile.loads_plan(FUNNEL_PLAN, name="funnel.yaml")
    result = derive_funnel(plan.funnels[0])
    assert result.stages == {"arr": 10_000_000, "customers": 200, "leads": 2_000, "budget": 400_000}
    assert result.splits == {"leads": {"content": 1_200, "sem": 600, "other": 200}}
    new_plan, changes = apply_funnel(plan, rates={"leads": 0.08})
    assert {c.kr_id: c.new for c in changes} == {"leads": 2_500, "content-leads": 1_500}
    assert new_plan.key_result("leads").target == 2_500


def test_the_documented_funnel_loads_and_gives_the_documented_targets() -> None:
    from okrcore import planfile
    docs = Path(__file__).resolve().parents[1] / "docs" / "funnel.md"
    (block,) = re.findall(r"```yaml\n(.*?)```", docs.read_text(encoding="utf-8"), re.S)
    krs = "".join(
        f"      - {{id: {kr}, title: {kr}, kind: count, target: 1}}\n"
        for kr in ("new-arr", "new-customers", "leads", "spend", "content-leads", "sem-leads")
    )
    head = (
        "okrcore: 1\ncycles:\n  - {id: fy, start: 2026-01-01, end: 2026-12-31}\n"
        "objectives:\n  - id: sales\n    title: Win\n    cycle: fy\n    key_results:\n"
    )
    plan = planfile.loads_plan(head + krs + block)
    assert derive_funnel(plan.funnels[0]).targets == {
        "new-arr": 10_000_000,
        "new-customers": 200,
        "leads": 2_000,
        "spend": 400_000,
        "content-leads": 1_200,
        "sem-leads": 600,
    }
