"""Scoring math with hand-computed expectations (docs/scoring.md).

The cycle used throughout is Q1 2026: 1 January to 31 March, 90 days. Day n of the cycle is
1 January + (n - 1) days; "expected" at day n is n / 90.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest

from okrcore.errors import PlanError, PluginError
from okrcore.hookspecs import hookimpl
from okrcore.model import CheckIn, Cycle, KeyResult, Objective, Plan
from okrcore.plugins import PluginManager
from okrcore.scoring import (
    DefaultGrading,
    DefaultStatus,
    GradingPolicy,
    KRScore,
    Light,
    LinearGrading,
    LiveScore,
    NodeFacts,
    StatusFacts,
    StatusPolicy,
    expected_progress,
    grade_columns,
    least_squares,
    progress,
    score,
)

Q1 = Cycle("q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))


def day(n: int) -> dt.date:
    """Day n of Q1 (day 1 = 1 January)."""
    return Q1.start + dt.timedelta(days=n - 1)


@pytest.fixture(scope="module")
def manager() -> PluginManager:
    return PluginManager(load_entry_points=False)


def plan_of(*krs: KeyResult, policy: Mapping[str, Any] | None = None) -> Plan:
    return Plan(
        cycles=[Q1],
        objectives=[Objective("o", "Objective", "q1", key_results=krs)],
        policy=policy or {},
    )


def score_one(
    kr: KeyResult,
    checkins: Sequence[tuple[int, float]],
    at: int,
    manager: PluginManager,
    policy: Mapping[str, Any] | None = None,
) -> KRScore:
    cis = [CheckIn(kr.id, value, day(n)) for n, value in checkins]
    card = score(plan_of(kr, policy=policy), cis, at=day(at), manager=manager)
    return card.key_results[kr.id]


def leads(cadence: str = "daily", **kw: Any) -> KeyResult:
    # 900 leads over the 90-day cycle: a plan of 10 a day
    return KeyResult(
        "leads", "Leads", measure="cumulative", baseline=0, target=900, unit="leads",
        cadence=cadence, **kw,
    )  # fmt: skip


# -- progress by kind ------------------------------------------------------------------------


def test_increase_progress_is_unclamped_and_score_clamped() -> None:
    kr = KeyResult("t", "Traffic", kind="increase", baseline=100, target=150)
    assert progress(kr, 130) == pytest.approx(0.6)  # 30 of the 50 to go
    assert progress(kr, 160) == pytest.approx(1.2)  # over-achievement shows
    assert progress(kr, 90) == pytest.approx(-0.2)
    grading = DefaultGrading()
    assert grading.grade(kr, 1.2, 160) == 1.0
    assert grading.grade(kr, -0.2, 90) == 0.0


def test_bounce_rate_50_to_45_read_at_47_scores_0_6(manager: PluginManager) -> None:
    kr = KeyResult("bounce", "Bounce rate -10%", kind="decrease", baseline=50, target=45, unit="%")
    result = score_one(kr, [(45, 47.0)], at=45, manager=manager)
    assert result.progress == pytest.approx(0.6)  # (47 - 50) / (45 - 50)
    assert result.score == pytest.approx(0.6)
    assert result.unit == "%"


def test_count_and_milestone_progress() -> None:
    mentions = KeyResult("m", "3 press mentions", kind="count", target=3)
    assert progress(mentions, 2) == pytest.approx(2 / 3)  # implied baseline 0
    rebrand = KeyResult("r", "Finish the rebrand", kind="milestone")
    assert progress(rebrand, 0) == 0.0
    assert progress(rebrand, 1) == 1.0
    assert progress(rebrand, 0.4) == pytest.approx(0.4)  # fraction complete


def test_cac_cap_bound_is_inclusive() -> None:
    cac = KeyResult("cac", "CAC <= 200", kind="maintain_below", target=200)
    assert progress(cac, 200) == 1.0  # equal to the bound holds
    assert progress(cac, 150) == 1.0
    assert progress(cac, 201) == 0.0  # no tolerance: broken at once


def test_cac_cap_tolerance_falls_off_linearly() -> None:
    cac = KeyResult("cac", "CAC <= 200", kind="maintain_below", target=200, tolerance=20)
    assert progress(cac, 200) == 1.0
    assert progress(cac, 205) == pytest.approx(0.75)  # 5 of 20 over
    assert progress(cac, 210) == pytest.approx(0.5)
    assert progress(cac, 220) == 0.0  # bound + tolerance
    assert progress(cac, 250) == 0.0


def test_maintain_above_bound_and_tolerance() -> None:
    roi = KeyResult("roi", "ROI >= 3", kind="maintain_above", target=3)
    assert progress(roi, 3) == 1.0
    assert progress(roi, 2.99) == 0.0
    soft = KeyResult("roi", "ROI >= 3", kind="maintain_above", target=3, tolerance=0.5)
    assert progress(soft, 2.75) == pytest.approx(0.5)
    assert progress(soft, 2.5) == 0.0


# -- grading ---------------------------------------------------------------------------------


def test_elastic_range_grading() -> None:
    # "Q3 leads: 800 to 1000": floor 800, target 1000, stretch 1200
    kr = KeyResult("q3", "Q3 leads", baseline=0, floor=800, target=1000, stretch=1200)
    g = DefaultGrading()

    def grade(actual: float) -> float:
        return g.grade(kr, progress(kr, actual), actual)

    assert grade(-10) == 0.0
    assert grade(500) == pytest.approx(0.35)  # 0.7 * 0.5
    assert grade(900) == pytest.approx(0.63)  # 0.7 * 0.9
    assert grade(1000) == pytest.approx(0.7)  # target -> 0.7
    assert grade(1100) == pytest.approx(0.85)  # halfway to the stretch
    assert grade(1200) == pytest.approx(1.0)
    assert grade(1500) == 1.0
    assert kr.aspirational


def test_stretch_grading_for_a_decrease() -> None:
    kr = KeyResult("b", "Bounce", kind="decrease", baseline=50, target=45, stretch=40)
    # 42.5 is progress 1.5, halfway from target (1.0) to stretch (2.0): 0.7 + 0.3 * 0.5
    assert DefaultGrading().grade(kr, progress(kr, 42.5), 42.5) == pytest.approx(0.85)


def test_linear_grading_ignores_the_stretch_and_target_score_is_configurable() -> None:
    kr = KeyResult("q3", "Q3 leads", baseline=0, target=1000, stretch=1200)
    assert LinearGrading().grade(kr, 0.9, 900) == pytest.approx(0.9)
    assert DefaultGrading().configure({"target_score": 0.6}).grade(kr, 0.5, 500) == 0.3


def test_floor_flags_but_does_not_bend_the_grade(manager: PluginManager) -> None:
    kr = KeyResult("q3", "Q3 leads", baseline=0, floor=800, target=1000, stretch=1200)
    at_deadline = score_one(kr, [(90, 700.0)], at=90, manager=manager)
    assert at_deadline.score == pytest.approx(0.49)  # 0.7 * 0.7, as without a floor
    assert at_deadline.below_floor
    assert at_deadline.aspirational
    assert at_deadline.success_bar == 0.7
    above = score_one(kr, [(90, 850.0)], at=90, manager=manager)
    assert not above.below_floor


def test_floor_judged_on_the_forecast_before_the_deadline(manager: PluginManager) -> None:
    kr = KeyResult("q3", "Q3 leads", baseline=0, floor=800, target=1000)
    # 5 on day 1, 10 on day 2: slope 5 a day, so 5 + 5 * 89 = 450 at day 90 < 800
    result = score_one(kr, [(1, 5.0), (2, 10.0)], at=2, manager=manager)
    assert result.forecast == pytest.approx(450.0)
    assert result.below_floor
    assert not result.aspirational  # committed: no stretch
    assert result.success_bar == 1.0


# -- pace, measures, forecast, staleness -----------------------------------------------------


def test_expected_progress_is_the_elapsed_fraction_including_today() -> None:
    kr = KeyResult("t", "T", baseline=0, target=1)
    assert expected_progress(kr, Q1, Q1.end, day(1)) == pytest.approx(1 / 90)
    assert expected_progress(kr, Q1, Q1.end, day(45)) == pytest.approx(0.5)
    assert expected_progress(kr, Q1, Q1.end, dt.date(2025, 12, 31)) == 0.0
    assert expected_progress(kr, Q1, Q1.end, dt.date(2026, 5, 1)) == 1.0
    # capped to a deadline of 28 February: 31 + 28 = 59 days
    assert expected_progress(kr, Q1, dt.date(2026, 2, 28), day(30)) == pytest.approx(30 / 59)
    assert expected_progress(kr, Q1, dt.date(2026, 2, 28), day(70)) == 1.0
    bound = KeyResult("c", "C", kind="maintain_below", target=200)
    assert expected_progress(bound, Q1, Q1.end, day(1)) == 1.0


def test_gauge_actual_is_the_latest_reading_on_or_before_at(manager: PluginManager) -> None:
    kr = KeyResult("f", "Followers", baseline=1000, target=2000)
    result = score_one(kr, [(3, 1100.0), (10, 1300.0), (20, 1900.0)], at=15, manager=manager)
    assert result.actual == 1300.0  # day 20 is after `at`
    assert result.progress == pytest.approx(0.3)
    assert result.last_checkin == day(10)
    assert result.plan_to_date == pytest.approx(1000 + 1000 * 15 / 90)


def test_cumulative_actual_sums_the_cycle_and_plan_is_spread_evenly(
    manager: PluginManager,
) -> None:
    kr = leads()
    cis = [
        CheckIn("leads", 50, dt.date(2025, 12, 31)),  # before the cycle: not counted
        CheckIn("leads", 30, day(1)),
        CheckIn("leads", 40, day(2)),
        CheckIn("leads", 999, day(30)),  # after `at`
    ]
    card = score(plan_of(kr), cis, at=day(10), manager=manager)
    result = card.key_results["leads"]
    assert result.actual == 70.0
    assert result.plan_to_date == pytest.approx(100.0)  # 900 * 10 / 90
    assert result.expected == pytest.approx(10 / 90)
    assert result.completion == pytest.approx(0.7)


def test_a_later_recorded_check_in_corrects_the_same_day(manager: PluginManager) -> None:
    t0 = dt.datetime(2026, 1, 2, 8, tzinfo=dt.timezone.utc)
    cis = [
        CheckIn("leads", 30, day(1), recorded_at=t0 + dt.timedelta(hours=1)),
        CheckIn("leads", 25, day(1), recorded_at=t0),
    ]
    result = score(plan_of(leads()), cis, at=day(1), manager=manager).key_results["leads"]
    assert result.actual == 30.0


def test_least_squares() -> None:
    # (0,0), (1,1), (2,3): slope 1.5 through the mean (1, 4/3); at x = 4: 4/3 + 1.5 * 3
    assert least_squares([(0, 0), (1, 1), (2, 3)], 4) == pytest.approx(4 / 3 + 4.5)
    assert least_squares([(1, 5)], 3) is None
    assert least_squares([(1, 5), (1, 6)], 3) is None


def test_forecast_gauge_and_cumulative(manager: PluginManager) -> None:
    gauge = KeyResult("f", "Followers", baseline=0, target=200)
    # (1, 10) and (11, 20): one a day, so 10 + 89 = 99 on day 90
    result = score_one(gauge, [(1, 10.0), (11, 20.0)], at=11, manager=manager)
    assert result.forecast == pytest.approx(99.0)
    assert result.forecast_score == pytest.approx(99 / 200)
    one = score_one(gauge, [(5, 40.0)], at=11, manager=manager)
    assert one.forecast == 40.0  # no trend from a single reading
    # cumulative: 6 a day for 10 days is a running total on the line 6x through (0, 0)
    cum = score_one(leads(), [(n, 6.0) for n in range(1, 11)], at=10, manager=manager)
    assert cum.forecast == pytest.approx(540.0)
    assert cum.forecast_score == pytest.approx(0.6)
    # at the deadline the forecast is the actual
    done = score_one(gauge, [(1, 10.0), (90, 150.0)], at=95, manager=manager)
    assert done.forecast == 150.0


def test_staleness_is_1_5_cadences_without_a_check_in(manager: PluginManager) -> None:
    weekly = KeyResult("f", "Followers", baseline=0, target=200)  # no cadence: weekly
    assert not score_one(weekly, [(1, 5.0)], at=11, manager=manager).stale  # 10 <= 10.5 days
    assert score_one(weekly, [(1, 5.0)], at=12, manager=manager).stale  # 11 > 10.5 days
    daily = KeyResult("f", "Followers", baseline=0, target=200, cadence="daily")
    assert not score_one(daily, [(1, 5.0)], at=2, manager=manager).stale
    assert score_one(daily, [(1, 5.0)], at=3, manager=manager).stale
    # no check-in at all: the grace period runs from the cycle's start
    assert not score_one(weekly, [], at=10, manager=manager).stale
    assert score_one(weekly, [], at=12, manager=manager).stale
    factor = {"stale_factor": 3}
    assert not score_one(daily, [(1, 5.0)], at=4, manager=manager, policy=factor).stale


# -- traffic lights --------------------------------------------------------------------------


def test_red_when_completion_below_0_7_with_reason(manager: PluginManager) -> None:
    result = score_one(leads(), [(n, 6.0) for n in range(1, 11)], at=10, manager=manager)
    assert result.completion == pytest.approx(0.6)  # 60 of 100
    assert result.status is Light.RED
    assert result.reason == "C = 0.60 < 0.70: 60 of 100 planned leads to date"


def test_leads_below_70_percent_of_daily_plan_three_days_in_a_row_is_red(
    manager: PluginManager,
) -> None:
    # 12 a day for 7 days, then 6, 6, 6 against a plan of 10 a day: C = 102 / 100 = 1.02,
    # but p = 0.6 on each of the last 3 days
    cis = [(n, 12.0) for n in range(1, 8)] + [(8, 6.0), (9, 6.0), (10, 6.0)]
    result = score_one(leads(), cis, at=10, manager=manager)
    assert result.completion == pytest.approx(1.02)
    assert result.periods == pytest.approx((0.6, 0.6, 0.6))  # the last three
    assert result.status is Light.RED
    assert "below 70% of the daily plan for 3 days in a row" in result.reason
    assert "102 of 100 planned leads to date" in result.reason


def test_two_low_days_are_not_enough(manager: PluginManager) -> None:
    # 12 a day for 8 days then 6, 6: C = 108 / 100, last three p = 1.2, 0.6, 0.6
    cis = [(n, 12.0) for n in range(1, 9)] + [(9, 6.0), (10, 6.0)]
    result = score_one(leads(), cis, at=10, manager=manager)
    assert result.status is Light.GREEN
    assert result.reason == "C = 1.08 >= 1.00: 108 of 100 planned leads to date"


def test_a_day_without_check_in_breaks_the_low_streak(manager: PluginManager) -> None:
    # day 9 missing: its p is unknown, so the last three are not all known to be low
    cis = [(n, 13.0) for n in range(1, 8)] + [(8, 6.0), (10, 6.0)]
    result = score_one(leads(), cis, at=10, manager=manager)
    low, missing, low_again = result.periods
    assert low == pytest.approx(0.6)
    assert missing is None
    assert low_again == pytest.approx(0.6)
    assert result.completion == pytest.approx(1.03)
    assert result.status is Light.GREEN


def test_weekly_periods_for_a_cumulative_key_result(manager: PluginManager) -> None:
    # weekly cadence, 70 planned per week; at day 21 the three weeks are days 1-7, 8-14, 15-21
    cis = [(1, 140.0), (8, 40.0), (15, 40.0), (21, 0.0)]
    result = score_one(leads("weekly"), cis, at=21, manager=manager)
    assert result.periods == pytest.approx((2.0, 40 / 70, 40 / 70))
    assert result.completion == pytest.approx(220 / 210)
    assert result.status is Light.GREEN  # the first week's 140 was not in a low period
    cis = [(1, 30.0), (8, 40.0), (15, 40.0)]
    low = score_one(leads("weekly"), cis, at=21, manager=manager)
    assert low.status is Light.RED
    assert low.reason.startswith("C = 0.52 < 0.70")  # 110 / 210


def test_yellow_between_thresholds(manager: PluginManager) -> None:
    result = score_one(leads(), [(1, 40.0), (10, 45.0)], at=10, manager=manager)
    assert result.completion == pytest.approx(0.85)
    assert result.status is Light.YELLOW
    assert result.reason == "C = 0.85, between 0.70 and 1.00: 85 of 100 planned leads to date"


def test_thresholds_come_from_the_plan(manager: PluginManager) -> None:
    cis = [(1, 40.0), (10, 45.0)]
    policy = {"status": "default", "red_below": 0.9, "green_at": 1.2, "red_periods": 2}
    result = score_one(leads(), cis, at=10, manager=manager, policy=policy)
    assert result.status is Light.RED
    assert result.reason.startswith("C = 0.85 < 0.90")
    nested = {"status": {"name": "default", "green_at": 0.8}}
    assert score_one(leads(), cis, at=10, manager=manager, policy=nested).status is Light.GREEN


def test_bad_thresholds_name_the_field(manager: PluginManager) -> None:
    with pytest.raises(PlanError, match=r"policy\.red_below"):
        score_one(leads(), [], at=10, manager=manager, policy={"red_below": "high"})
    with pytest.raises(PlanError, match="must not be above green_at"):
        score_one(leads(), [], at=10, manager=manager, policy={"red_below": 1.1})


def test_gauge_completion_is_progress_over_pace(manager: PluginManager) -> None:
    kr = KeyResult("bounce", "Bounce", kind="decrease", baseline=50, target=45, unit="%")
    # day 45: 0.5 expected; progress 0.6 -> C = 1.2
    result = score_one(kr, [(45, 47.0)], at=45, manager=manager)
    assert result.completion == pytest.approx(1.2)
    assert result.status is Light.GREEN
    assert result.reason == (
        "C = 1.20 >= 1.00: progress 0.60 against 0.50 expected by now (actual 47%)"
    )
    # day 18: 0.2 expected; 49.5 is progress 0.1 -> C = 0.5
    behind = score_one(kr, [(18, 49.5)], at=18, manager=manager)
    assert behind.completion == pytest.approx(0.5)
    assert behind.status is Light.RED


def test_gauge_period_completion_is_c_at_each_check_in(manager: PluginManager) -> None:
    kr = KeyResult("f", "Followers", baseline=0, target=900, cadence="daily")
    # day 8: 8 expected 80 -> C 1.0 ... then 50, 55, 60 on days 9-11 against 90, 100, 110
    cis = [(8, 80.0), (9, 50.0), (10, 55.0), (11, 60.0)]
    result = score_one(kr, cis, at=11, manager=manager)
    assert result.periods == pytest.approx((50 / 90, 0.55, 60 / 110))
    assert result.status is Light.RED  # C = 60/110 = 0.545 < 0.7 already
    assert result.reason.startswith("C = 0.55 < 0.70")


def test_cac_cap_light(manager: PluginManager) -> None:
    cac = KeyResult("cac", "CAC", kind="maintain_below", target=200, unit="USD")
    held = score_one(cac, [(10, 200.0)], at=10, manager=manager)
    assert held.status is Light.GREEN
    assert held.reason == "C = 1.00 >= 1.00: 200 USD against <= 200 USD (holds)"
    broken = score_one(cac, [(10, 201.0)], at=10, manager=manager)
    assert broken.status is Light.RED
    assert broken.score == 0.0


def test_grey_without_data_or_before_the_cycle(manager: PluginManager) -> None:
    none = score_one(leads(), [], at=10, manager=manager)
    assert none.status is Light.GREY
    assert none.reason == "no check-in yet"
    assert none.actual is None
    assert none.score is None
    assert none.forecast is None
    early = score(
        plan_of(leads()), [CheckIn("leads", 5, dt.date(2025, 12, 20))], at=dt.date(2025, 12, 25),
        manager=manager,
    )  # fmt: skip
    assert early.key_results["leads"].status is Light.GREY
    assert early.key_results["leads"].reason == "the cycle starts on 2026-01-01"


# -- the whole scorecard ---------------------------------------------------------------------


def test_score_ignores_unknown_key_results_and_later_check_ins(manager: PluginManager) -> None:
    kr = KeyResult("f", "Followers", baseline=0, target=100)
    cis = [
        CheckIn("f", 10, day(5)),
        CheckIn("other-plan-kr", 99, day(5)),
        CheckIn("f", 80, day(20)),
    ]
    card = score(plan_of(kr), cis, at=day(10), manager=manager)
    assert list(card.key_results) == ["f"]
    assert card.key_results["f"].actual == 10.0


def test_to_dict_is_stable_json(manager: PluginManager) -> None:
    kr = KeyResult("bounce", "Bounce", kind="decrease", baseline=50, target=45, unit="%")
    card = score(plan_of(kr), [CheckIn("bounce", 47, day(45))], at=day(45), manager=manager)
    data = json.loads(json.dumps(card.to_dict()))
    assert data["as_of"] == "2026-02-14"
    (k,) = data["key_results"]
    required = {"id", "actual", "progress", "score", "expected", "status", "reason"}
    assert required | {"forecast", "stale", "unit"} <= set(k)
    assert k["score"] == 0.6
    assert k["status"] == "green"
    assert k["unit"] == "%"
    (o,) = data["objectives"]
    assert {"id", "score", "status"} <= set(o)
    assert o["score"] == 0.6
    assert data["goals"] == []


def test_live_score_matches_a_full_score(manager: PluginManager) -> None:
    krs = [leads(), KeyResult("f", "Followers", baseline=0, target=900)]
    plan = plan_of(*krs)
    cis = [CheckIn("leads", 6 + n % 3, day(n)) for n in range(1, 12)]
    cis += [CheckIn("f", 10.0 * n, day(n)) for n in (2, 6, 11)]
    live = LiveScore(plan, [], at=day(11), manager=manager)
    for ci in cis:
        live.add(ci)
    assert live.add(CheckIn("nope", 1, day(3))) is None
    assert live.add(CheckIn("f", 1, day(30))) is None  # after `at`
    full = score(plan, cis, at=day(11), manager=manager)
    assert live.scorecard().key_results == full.key_results
    assert live.objective_score("o") == pytest.approx(full.objectives["o"].score)


# -- policies as plugins ---------------------------------------------------------------------


class HalfGrading:
    role: ClassVar[str] = "grading"
    name = "half"

    def grade(self, kr: KeyResult, progress: float, actual: float) -> float:
        return 0.5


class AlwaysRed:
    role: ClassVar[str] = "status"
    name = "always-red"

    def status(
        self,
        kr: KeyResult,
        completion: float | None,
        periods: Sequence[float | None],
        facts: StatusFacts,
    ) -> tuple[Light, str]:
        return Light.RED, f"red by policy ({facts.checkins} check-ins)"

    def rollup(
        self, completion: float | None, lights: Mapping[Light, int], facts: NodeFacts
    ) -> tuple[Light, str]:
        return Light.RED, f"red by policy ({len(facts.children)} children)"


class StrictPolicies:
    @hookimpl
    def okrcore_register_policies(self, register: Any) -> None:
        register(HalfGrading())
        register(AlwaysRed())


def test_a_plugin_replaces_the_policies() -> None:
    pm = PluginManager(load_entry_points=False)
    pm.register(StrictPolicies(), "strict")
    kr = KeyResult("f", "Followers", baseline=0, target=100)
    plan = plan_of(kr, policy={"grading": "half", "status": "always-red"})
    card = score(plan, [CheckIn("f", 100, day(5))], at=day(5), manager=pm)
    assert card.key_results["f"].score == 0.5
    assert card.key_results["f"].status is Light.RED
    assert card.key_results["f"].reason == "red by policy (1 check-ins)"
    assert card.objectives["o"].status is Light.RED
    assert card.objectives["o"].reason == "red by policy (1 children)"
    assert (card.grading, card.status_policy) == ("half", "always-red")
    assert isinstance(HalfGrading(), GradingPolicy)
    assert isinstance(AlwaysRed(), StatusPolicy)


def test_policies_passed_in_win_and_unknown_names_fail() -> None:
    pm = PluginManager(load_entry_points=False)
    kr = KeyResult("f", "Followers", baseline=0, target=100)
    card = score(
        plan_of(kr), [CheckIn("f", 50, day(5))], at=day(5),
        grading=HalfGrading(), status=DefaultStatus(green_at=0.1),
    )  # fmt: skip
    assert card.key_results["f"].score == 0.5
    assert card.key_results["f"].status is Light.GREEN
    with pytest.raises(PluginError, match="unknown policy 'grading:nope'"):
        score(plan_of(kr, policy={"grading": "nope"}), [], at=day(5), manager=pm)


def test_grade_columns_match_the_default_grading() -> None:
    rows = [(0.0, 1000.0, 1200.0, 1100.0), (50.0, 45.0, None, 47.0), (0.0, 10.0, None, -3.0)]
    prog, scores = grade_columns(
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]
    )
    assert prog == pytest.approx([1.1, 0.6, -0.3])
    assert scores == pytest.approx([0.85, 0.6, 0.0])
    assert grade_columns([0.0], [1.0], [None], [None]) == ([None], [None])


def test_spend_cap_is_an_allowance_spread_over_the_cycle(manager: PluginManager) -> None:
    # ad spend <= 9,000 for the quarter: 100 a day allowed, 1,000 by day 10
    cap = KeyResult("spend", "Ad spend", kind="maintain_below", measure="cumulative",
                    target=9000, unit="USD", cadence="daily")  # fmt: skip
    under = score_one(cap, [(1, 200.0), (5, 300.0)], at=10, manager=manager)
    assert under.actual == 500.0
    assert under.plan_to_date == pytest.approx(1000.0)
    assert under.completion == pytest.approx(2.0)  # plan / actual: under the allowance
    assert under.status is Light.GREEN
    assert under.reason == "C = 2.00 >= 1.00: 500 of 1,000 allowed USD to date"
    over = score_one(cap, [(1, 1200.0), (10, 800.0)], at=10, manager=manager)
    assert over.completion == pytest.approx(0.5)
    assert over.status is Light.RED
    assert over.score == 1.0  # 2,000 is still within the quarter's bound
    nothing = score_one(cap, [(1, 0.0)], at=10, manager=manager)
    assert nothing.status is Light.GREEN
    assert nothing.to_dict()["completion"] is None  # infinite: nothing spent


def test_period_rule_can_be_switched_off(manager: PluginManager) -> None:
    cis = [(n, 12.0) for n in range(1, 8)] + [(8, 6.0), (9, 6.0), (10, 6.0)]
    result = score_one(leads(), cis, at=10, manager=manager, policy={"red_periods": 0})
    assert result.status is Light.GREEN
    two = score_one(leads(), [*cis[:-1], (10, 12.0)], at=10, manager=manager,
                    policy={"red_periods": 2})  # fmt: skip
    assert two.status is Light.GREEN  # days 8 and 9 low, day 10 not
    assert score_one(leads(), cis, at=10, manager=manager, policy={"red_periods": 2}).status is (
        Light.RED
    )


def test_builtin_policies_are_registered_through_the_hook(manager: PluginManager) -> None:
    policies = manager.policies
    assert isinstance(policies.get("grading:default"), DefaultGrading)
    assert isinstance(policies.get("grading:linear"), LinearGrading)
    assert isinstance(policies.get("status:default"), DefaultStatus)
    assert policies.owner("status:default") == "okrcore.default_plugins.policies"


def test_policies_are_their_own_contract_module() -> None:
    # a policy author imports the contract from okrcore.policies; scoring re-exports it unchanged
    import okrcore.policies as policies
    import okrcore.scoring as scoring

    for name in policies.__all__:
        assert getattr(scoring, name) is getattr(policies, name)
    assert isinstance(policies.DefaultStatus(), policies.StatusPolicy)
    assert isinstance(policies.DefaultGrading(), policies.GradingPolicy)


def test_scoring_sources_cite_docs_not_the_design_brief() -> None:
    import pathlib

    import okrcore

    root = pathlib.Path(okrcore.__file__).parent
    for name in ("scoring.py", "policies.py", "progress.py", "scorecard.py", "rollup.py"):
        text = (root / name).read_text(encoding="utf-8")
        assert "design brief" not in text, name
        assert "the brief" not in text, name
