"""The domain model: validators, implied values, plan indexes and reference checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from okrcore import errors
from okrcore.model import (
    CheckIn,
    Connection,
    Cycle,
    FunnelSplit,
    FunnelStep,
    Goal,
    KeyResult,
    Kind,
    Objective,
    Plan,
    RunOutcome,
    StrategyChange,
    TargetChange,
    as_date,
)

Q1 = Cycle("q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))


def plan_with(*objectives: Objective, goals: tuple[Goal, ...] = ()) -> Plan:
    return Plan(cycles=[Q1], goals=goals, objectives=objectives)


def test_cycle_days_and_membership() -> None:
    assert Q1.days == 90
    assert dt.date(2026, 3, 31) in Q1
    assert dt.date(2026, 4, 1) not in Q1


def test_cycle_end_before_start_is_refused() -> None:
    with pytest.raises(ValueError, match="ends .* before it starts"):
        Cycle("bad", dt.date(2026, 2, 1), dt.date(2026, 1, 1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline": 10, "target": 10}, "must differ from the baseline"),
        ({"baseline": 10, "target": 5}, "must be above the baseline"),
        ({"kind": "decrease", "baseline": 50, "target": 55}, "must be below the baseline"),
        ({"target": 10}, "needs a baseline"),
        ({"baseline": 10}, "needs a target"),
        ({"kind": "maintain_below"}, "needs a target"),
        ({"baseline": 0, "target": 10, "floor": 12, "stretch": 11}, "beyond the stretch"),
        ({"baseline": 0, "target": 10, "floor": 11}, "floor (11) is beyond the target"),
        ({"baseline": 0, "target": 10, "stretch": 9}, "falls short of the target"),
        (
            {"kind": "decrease", "baseline": 50, "target": 45, "floor": 44},
            "floor (44) is beyond the target",
        ),
        ({"baseline": 0, "target": float("nan")}, "finite"),
        ({"baseline": 0, "target": 1, "weight": -1}, ">= 0"),
    ],
)
def test_key_result_validators(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        KeyResult("kr", "title", **kwargs)  # type: ignore[arg-type]


def test_decrease_with_elastic_range_is_valid() -> None:
    kr = KeyResult("b", "Bounce", kind="decrease", baseline=50, target=45, floor=48, stretch=40)
    assert kr.lower_is_better
    assert kr.aspirational  # a stretch makes it aspirational unless the plan says committed


def test_implied_values_of_counts_and_milestones() -> None:
    count = KeyResult("c", "Press mentions", kind=Kind.COUNT, target=3)
    milestone = KeyResult("m", "Rebrand done", kind=Kind.MILESTONE)
    assert (count.effective_baseline, count.effective_target) == (0.0, 3.0)
    assert (milestone.effective_baseline, milestone.effective_target) == (0.0, 1.0)
    assert not milestone.aspirational


def test_committed_flag_overrides_the_stretch_default() -> None:
    kr = KeyResult("k", "t", baseline=0, target=10, stretch=12, committed=True)
    assert not kr.aspirational


def test_plan_indexes_and_deadline_default() -> None:
    kr = KeyResult("leads", "Leads", kind="count", target=1000)
    late = KeyResult("late", "Late", kind="count", target=5, deadline=dt.date(2026, 2, 1))
    obj = Objective("o1", "Pipeline", "q1", key_results=[kr, late])
    plan = plan_with(obj)
    assert plan.key_result("leads") is kr
    assert plan.objective_of("leads") is obj
    assert plan.cycle_of("leads") is Q1
    assert plan.deadline_of("leads") == Q1.end
    assert plan.deadline_of("late") == dt.date(2026, 2, 1)
    assert plan.kr_path("late") == "objectives[0].key_results[1]"
    assert [k.id for k in plan.key_results()] == ["leads", "late"]


def test_plan_reports_every_reference_problem_at_once() -> None:
    kr = KeyResult("k", "t", kind="count", target=1)
    objs = [
        Objective("o1", "A", "nope", goal="g?", key_results=[kr]),
        Objective("o1", "B", "q1", parent="missing", key_results=[kr]),
    ]
    with pytest.raises(errors.PlanError) as info:
        Plan(cycles=[Q1], objectives=objs)
    paths = [p.path for p in info.value.problems]
    assert paths == [
        "objectives[1].id",
        "objectives[0].cycle",
        "objectives[0].goal",
        "objectives[1].parent",
        "objectives[1].key_results[0].id",
    ]
    assert str(info.value).startswith("5 problem(s)")


def test_alignment_loop_names_the_loop() -> None:
    objs = [
        Objective("a", "A", "q1", parent="c"),
        Objective("b", "B", "q1", parent="a"),
        Objective("c", "C", "q1", parent="b"),
    ]
    with pytest.raises(errors.AlignmentLoopError) as info:
        Plan(cycles=[Q1], objectives=objs)
    assert set(info.value.loop) == {"a", "b", "c"}
    assert "alignment loop:" in str(info.value)


def test_locate_falls_back_to_the_nearest_parent() -> None:
    plan = Plan(
        cycles=[Q1],
        objectives=[Objective("o", "O", "q1")],
        positions={"objectives[0]": (7, 3), "objectives[0].title": (8, 5)},
    )
    assert plan.locate("objectives[0].title") == (8, 5)
    assert plan.locate("objectives[0].key_results[2].target") == (7, 3)
    assert plan.locate("cycles[0]") is None


def test_with_target_changes_applies_changes_in_order() -> None:
    kr = KeyResult("k", "t", baseline=100, target=120)
    plan = plan_with(Objective("o", "O", "q1", key_results=[kr]))
    changes = [
        TargetChange("k", "target", 120, 130, reason="strong start"),
        TargetChange("k", "target", 130, 125, reason="seasonality"),
    ]
    current = plan.with_target_changes(changes)
    assert current.key_result("k").target == 125
    assert plan.key_result("k").target == 120  # the original is untouched


def test_target_change_needs_a_reason_and_a_known_field() -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        TargetChange("k", "target", 1, 2, reason="  ")
    with pytest.raises(ValueError, match="cannot retarget"):
        TargetChange("k", "owner", 1, 2, reason="x")


def test_checkin_confidence_range() -> None:
    assert CheckIn("k", 3, dt.date(2026, 1, 2), confidence=0.5).confidence == 0.5
    with pytest.raises(ValueError, match="between 0 and 1"):
        CheckIn("k", 3, dt.date(2026, 1, 2), confidence=2)


def test_funnel_parts_validate() -> None:
    with pytest.raises(ValueError, match="fraction"):
        FunnelStep("leads", "rate", 10)
    with pytest.raises(ValueError, match="sum to 0.9"):
        FunnelSplit("leads", {"a": 0.5, "b": 0.4})


def test_connection_repr_hides_settings() -> None:
    conn = Connection("crm", "hubspot", {"token": "env:HUBSPOT_TOKEN"}, endpoint="http://x")
    assert "HUBSPOT_TOKEN" not in repr(conn)


# -- values are checked where they enter ----------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Cycle("q1", "2026-01-01", dt.date(2026, 3, 31)), "Cycle.start"),
        (lambda: Cycle("q1", dt.date(2026, 1, 1), 20260331), "Cycle.end"),
        (lambda: CheckIn("kr", 1.0, "2026-01-05"), "CheckIn.as_of"),
        (lambda: CheckIn("kr", "12", dt.date(2026, 1, 5)), "CheckIn.value"),
        (
            lambda: CheckIn("kr", 1.0, dt.date(2026, 1, 5), recorded_at=dt.date(2026, 1, 5)),  # type: ignore[arg-type]
            "CheckIn.recorded_at",
        ),
        (lambda: KeyResult("kr", "t", baseline=0, target="12"), "KeyResult.target"),
        (lambda: KeyResult("kr", "t", baseline=0, target=True), "KeyResult.target"),
        (
            lambda: KeyResult("kr", "t", baseline=0, target=1, deadline="2026-03-01"),
            "KeyResult.deadline",
        ),
        (
            lambda: TargetChange("kr", "target", 1.0, 2.0, "why", changed_at="today"),  # type: ignore[arg-type]
            "TargetChange.changed_at",
        ),
    ],
)
def test_wrong_types_are_refused_naming_the_field(build: Any, field: str) -> None:
    with pytest.raises(errors.WrongTypeError, match=field.replace(".", r"\.")) as caught:
        build()
    assert isinstance(caught.value, TypeError)
    assert isinstance(caught.value, errors.OkrError)
    assert caught.value.field == field


def test_a_datetime_where_a_date_belongs_gives_its_date() -> None:
    moment = dt.datetime(2026, 1, 5, 23, 30, tzinfo=dt.timezone.utc)
    assert CheckIn("kr", 1.0, moment).as_of == dt.date(2026, 1, 5)
    cycle = Cycle("q1", dt.datetime(2026, 1, 1, 8), dt.datetime(2026, 3, 31, 8))
    assert cycle == Q1
    assert dt.date(2026, 1, 1) in cycle
    assert as_date(moment) == dt.date(2026, 1, 5)
    with pytest.raises(errors.WrongTypeError, match="^at must be a datetime.date, got str"):
        as_date("2026-01-05")


NON_FINITE = [float("nan"), float("inf"), float("-inf")]


@pytest.mark.parametrize("bad", NON_FINITE)
@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda x: CheckIn("kr", x, dt.date(2026, 1, 5)), "CheckIn.value"),
        (lambda x: CheckIn("kr", 1.0, dt.date(2026, 1, 5), confidence=x), "CheckIn.confidence"),
        (lambda x: TargetChange("kr", "target", 1.0, x, "why"), "TargetChange.new"),
        (lambda x: TargetChange("kr", "target", x, 1.0, "why"), "TargetChange.old"),
        (lambda x: StrategyChange("s", "budget", 10, x, "why"), "StrategyChange.new"),
        (lambda x: RunOutcome("kr", "refreshed", value=x), "RunOutcome.value"),
        (lambda x: KeyResult("kr", "t", baseline=0, target=x), "KeyResult.target"),
    ],
)
def test_non_finite_numbers_are_refused(build: Any, field: str, bad: float) -> None:
    with pytest.raises(errors.ValidationError, match="must be a finite number") as caught:
        build(bad)
    assert caught.value.field == field


def test_a_huge_integer_is_refused_as_a_validation_error() -> None:
    with pytest.raises(errors.ValidationError, match="too large"):
        KeyResult("kr", "t", baseline=0, target=10**400)


def test_model_validators_raise_okrcore_errors_that_are_value_errors() -> None:
    cases: list[Any] = [
        lambda: Cycle("bad", dt.date(2026, 2, 1), dt.date(2026, 1, 1)),
        lambda: KeyResult("kr", "t", baseline=5, target=5),
        lambda: KeyResult("kr", "t", baseline=0, target=1, weight=-1),
        lambda: CheckIn("kr", 1.0, dt.date(2026, 1, 5), confidence=2),
        lambda: TargetChange("kr", "colour", 1.0, 2.0, "why"),
        lambda: FunnelStep("x", "rate", 2),
        lambda: FunnelSplit("x", {"a": 0.5}),
    ]
    for build in cases:
        with pytest.raises(errors.ValidationError) as caught:
            build()
        assert isinstance(caught.value, ValueError)
        assert isinstance(caught.value, errors.OkrError)


def test_value_problem_is_the_rule_for_counts_and_amounts() -> None:
    count = KeyResult("k", "t", kind="count", target=10)
    amount = KeyResult("a", "t", measure="cumulative", baseline=0, target=10)
    level = KeyResult("g", "t", kind="maintain_below", target=10)
    assert count.value_problem(-1) == "a count cannot be negative"
    assert amount.value_problem(-1) == "an amount cannot be negative"
    assert level.value_problem(-1) is None
    assert count.value_problem(0) is None
