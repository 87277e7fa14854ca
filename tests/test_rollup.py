"""Weighted rollups (docs/scoring.md), full and incremental, with hand-computed expectations."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from okrcore.errors import AlignmentLoopError, PlanError
from okrcore.model import CheckIn, Cycle, Goal, KeyResult, Objective, Plan
from okrcore.plugins import PluginManager
from okrcore.rollup import Rollup, RollupTree, weighted_mean
from okrcore.scoring import Light, LiveScore, score

Q1 = Cycle("q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))
AT = dt.date(2026, 2, 14)  # day 45 of 90: expected progress 0.5


def kr(kr_id: str, weight: float = 1.0) -> KeyResult:
    # progress = actual / 100, so a check-in of 50 scores 0.5
    return KeyResult(kr_id, kr_id.upper(), baseline=0, target=100, weight=weight)


def org() -> Plan:
    """goal g <- company c (k1 w1, k2 w3) <- team t (weight 2; k3) <- person p (k4)
    goal g <- marketing m (no parent, weight 1; k5); goal h has nothing with data."""
    return Plan(
        cycles=[Q1],
        goals=[Goal("g", "Brand"), Goal("h", "Other")],
        objectives=[
            Objective("c", "Company", "q1", owner="ceo", level="company", goal="g",
                      key_results=[kr("k1"), kr("k2", weight=3)]),
            Objective("t", "Team", "q1", owner="ann", level="team", parent="c", goal="g",
                      weight=2, key_results=[kr("k3")]),
            Objective("p", "Person", "q1", owner="ann", level="individual", parent="t",
                      key_results=[kr("k4")]),
            Objective("m", "Marketing", "q1", owner="bob", level="team", goal="g",
                      key_results=[kr("k5")]),
            Objective("x", "Unaligned", "q1", owner="bob", level="team", goal="h",
                      key_results=[kr("k6")]),
        ],
    )  # fmt: skip


@pytest.fixture(scope="module")
def manager() -> PluginManager:
    return PluginManager(load_entry_points=False)


def checkins(**values: float) -> list[CheckIn]:
    return [CheckIn(k, v, AT) for k, v in values.items()]


def test_weighted_mean_leaves_out_missing_values_and_zero_weights() -> None:
    assert weighted_mean([(0.5, 1), (1.0, 3)]) == pytest.approx(0.875)
    assert weighted_mean([(0.5, 1), (None, 5), (0.0, 0)]) == 0.5
    assert weighted_mean([(None, 1)]) is None
    assert weighted_mean([]) is None


def test_objective_and_goal_rollup(manager: PluginManager) -> None:
    card = score(org(), checkins(k1=50, k2=100, k3=20, k4=80, k5=40), at=AT, manager=manager)
    obj = card.objectives
    assert obj["p"].score == pytest.approx(0.8)
    assert obj["t"].score == pytest.approx((0.2 + 0.8) / 2)  # k3 and child p, weight 1 each
    # company: k1 0.5 (w1), k2 1.0 (w3), team 0.5 (w2) -> (0.5 + 3 + 1) / 6
    assert obj["c"].score == pytest.approx(4.5 / 6)
    # goal g: only objectives without a parent count: c (0.75) and m (0.4), weight 1 each
    assert card.goals["g"].score == pytest.approx((0.75 + 0.4) / 2)
    # nothing with data under goal h
    assert card.goals["h"].score is None
    assert card.goals["h"].status is Light.GREY
    # expected progress rolls up the same way: 0.5 everywhere it has members
    assert obj["c"].expected == pytest.approx(0.5)
    assert card.goals["g"].expected == pytest.approx(0.5)


def test_key_results_without_data_are_left_out(manager: PluginManager) -> None:
    card = score(org(), checkins(k1=50, k5=40), at=AT, manager=manager)
    assert card.objectives["c"].score == pytest.approx(0.5)  # k2 and team t have no data
    assert card.objectives["t"].score is None
    assert card.goals["g"].score == pytest.approx((0.5 + 0.4) / 2)


def test_rollups_by_owner_level_and_cycle(manager: PluginManager) -> None:
    card = score(org(), checkins(k1=50, k2=100, k3=20, k4=80, k5=40, k6=10), at=AT, manager=manager)
    assert card.by_owner["ceo"].score == pytest.approx(0.75)
    # ann owns t (0.5, weight 2) and p (0.8, weight 1)
    assert card.by_owner["ann"].score == pytest.approx((0.5 * 2 + 0.8) / 3)
    assert card.by_owner["bob"].score == pytest.approx((0.4 + 0.1) / 2)
    assert card.by_level["team"].score == pytest.approx((0.5 * 2 + 0.4 + 0.1) / 4)
    assert card.by_level["individual"].score == pytest.approx(0.8)
    # cycle: the top-level objectives c, m and x
    assert card.by_cycle["q1"].score == pytest.approx((0.75 + 0.4 + 0.1) / 3)
    data = card.to_dict()["rollups"]
    assert [r["id"] for r in data["owner"]] == ["ceo", "ann", "bob"]


def test_node_status_rolls_up_capped_completion(manager: PluginManager) -> None:
    # at day 45 expected is 0.5: k1 = 50 -> C 1.0 (green); k2 = 100 -> C 2.0, capped to 1.0;
    # k3 = 20 -> C 0.4 (red); k4 = 80 -> C 1.6 -> 1.0
    card = score(org(), checkins(k1=50, k2=100, k3=20, k4=80), at=AT, manager=manager)
    t = card.objectives["t"]
    assert t.completion == pytest.approx((0.4 + 1.0) / 2)
    assert t.status is Light.YELLOW
    assert t.reason == "weighted C = 0.70, between 0.70 and 1.00 (1 green; 1 red: k3)"
    # c: k1 1.0 (w1), k2 1.0 (w3), t 0.7 (w2) -> 5.4 / 6 = 0.9
    assert card.objectives["c"].completion == pytest.approx(0.9)
    assert card.objectives["c"].status is Light.YELLOW
    assert card.objectives["p"].status is Light.GREEN


def one_objective(policy: dict[str, object] | None = None) -> Plan:
    """Objective o with k1, k2 (weight 3), k3 and k4 (which never checks in)."""
    krs = [kr("k1"), kr("k2", weight=3), kr("k3"), kr("k4")]
    objective = Objective("o", "O", "q1", owner="ann", key_results=krs)
    return Plan(cycles=[Q1], objectives=[objective], policy=policy or {})


def test_an_objective_is_never_green_while_a_child_is_red_or_yellow(manager: PluginManager) -> None:
    # green from C >= 0.8: k1 C 1.0, k2 C 1.0 (w3), k3 C 0.4 (red): (1 + 3 + 0.4) / 5 = 0.88
    plan = one_objective({"green_at": 0.8})
    card = score(plan, checkins(k1=50, k2=60, k3=20), at=AT, manager=manager)
    o = card.objectives["o"]
    assert o.completion == pytest.approx(0.88)
    assert card.key_results["k3"].status is Light.RED
    assert o.status is Light.YELLOW
    assert o.reason == "weighted C = 0.88 >= 0.80, but k3 is red (2 green; 1 red: k3; 1 grey: k4)"
    # the same objective without the red key result is green, and names its grey one
    card = score(plan, checkins(k1=50, k2=60, k3=50), at=AT, manager=manager)
    assert card.objectives["o"].status is Light.GREEN
    assert card.objectives["o"].reason == "weighted C = 1.00 >= 0.80 (3 green; 1 grey: k4)"


def test_goals_and_groups_follow_the_same_rule(manager: PluginManager) -> None:
    plan = one_objective({"green_at": 0.8})
    plan = Plan(cycles=[Q1], goals=[Goal("g", "G")], policy=plan.policy,
                objectives=[attrs.evolve(plan.objectives[0], goal="g")])
    card = score(plan, checkins(k1=50, k2=60, k3=20), at=AT, manager=manager)
    assert card.goals["g"].status is Light.YELLOW  # its objective is yellow
    assert card.goals["g"].reason == "weighted C = 0.88 >= 0.80, but o is yellow (1 yellow: o)"
    assert card.by_owner["ann"].status is Light.YELLOW


def test_weakest_child_light_is_an_option(manager: PluginManager) -> None:
    plan = one_objective({"objective_light": "weakest"})
    card = score(plan, checkins(k1=50, k2=60, k3=20), at=AT, manager=manager)
    # k3 (C 0.4) is red: the rolled-up C is 0.88 (yellow by default), the weakest child red
    assert score(one_objective(), checkins(k1=50, k2=60, k3=20), at=AT, manager=manager).objectives[
        "o"
    ].status is Light.YELLOW
    o = card.objectives["o"]
    assert o.status is Light.RED
    assert o.reason == "weakest child is red (2 green; 1 red: k3; 1 grey: k4)"
    card = score(plan, checkins(k1=50, k2=50, k3=50), at=AT, manager=manager)
    assert card.objectives["o"].status is Light.GREEN
    card = score(plan, [], at=AT, manager=manager)
    assert card.objectives["o"].status is Light.GREY
    assert card.objectives["o"].reason == "no key result with data yet (4 grey: k1, k2, k3, k4)"


def test_an_unknown_objective_light_is_a_plan_error(manager: PluginManager) -> None:
    with pytest.raises(PlanError, match="policy.objective_light: expected rollup or weakest"):
        score(one_objective({"objective_light": "worst"}), [], at=AT, manager=manager)


def test_nodes_compare_score_with_expected_score(manager: PluginManager) -> None:
    # a stretch bends the grade: on plan at day 45 (progress 0.5) the grade is 0.7 x 0.5 = 0.35
    stretchy = KeyResult("k1", "K1", baseline=0, target=100, stretch=150)
    objective = Objective("o", "O", "q1", key_results=[stretchy, kr("k2"), kr("k3")])
    plan = Plan(cycles=[Q1], objectives=[objective])
    card = score(plan, checkins(k1=50, k2=50), at=AT, manager=manager)
    o = card.objectives["o"]
    assert card.key_results["k1"].expected_score == pytest.approx(0.35)
    assert o.score == pytest.approx((0.35 + 0.5) / 2)
    assert o.expected_score == pytest.approx((0.35 + 0.5) / 2)  # k3 has no data: left out
    assert o.to_dict()["expected_score"] == pytest.approx(0.425)
    assert card.by_cycle["q1"].expected_score == pytest.approx(0.425)


def test_incremental_update_touches_only_ancestors(manager: PluginManager) -> None:
    plan = org()
    live = LiveScore(plan, checkins(k1=50, k2=100, k3=20, k4=80, k5=40), at=AT, manager=manager)
    assert live.tree.ancestors("k4") == ["objective:p", "objective:t", "objective:c", "goal:g"]
    live.add(CheckIn("k4", 20, AT + dt.timedelta(days=0), note="correction"))
    # p 0.2; t (0.2 + 0.2) / 2 = 0.2; c (0.5 + 3 + 0.4) / 6 = 0.65; g (0.65 + 0.4) / 2
    assert live.objective_score("p") == pytest.approx(0.2)
    assert live.objective_score("t") == pytest.approx(0.2)
    assert live.objective_score("c") == pytest.approx(3.9 / 6)
    assert live.goal_score("g") == pytest.approx((3.9 / 6 + 0.4) / 2)
    assert live.objective_score("m") == pytest.approx(0.4)
    fresh = score(plan, checkins(k1=50, k2=100, k3=20, k4=20, k5=40), at=AT, manager=manager)
    snapshot = live.scorecard()
    for oid, node in fresh.objectives.items():
        assert snapshot.objectives[oid].score == pytest.approx(node.score)
        assert snapshot.objectives[oid].status is node.status


def tree() -> RollupTree:
    # nodes: 0 root, 1 child of 0 (weight 2), 2 child of 1, 3 alone
    return RollupTree(
        ["root", "mid", "leafnode", "alone"],
        [-1, 0, 1, -1],
        [1.0, 2.0, 1.0, 1.0],
        ["a", "b", "c", "d", "z"],
        [0, 1, 2, 2, 3],
        [1.0, 1.0, 1.0, 3.0, 0.0],
    )


def test_rollup_full_and_update_by_hand() -> None:
    r = Rollup(tree(), [0.9, 0.3, 0.2, 0.6, 0.5])
    assert r.node("leafnode") == pytest.approx((0.2 + 1.8) / 4)  # 0.5
    assert r.node("mid") == pytest.approx((0.3 + 0.5) / 2)  # 0.4
    assert r.node("root") == pytest.approx((0.9 + 2 * 0.4) / 3)
    assert r.node("alone") is None  # its only leaf has weight 0
    r.update("c", None)  # c loses its value: leafnode = d alone
    assert r.node("leafnode") == pytest.approx(0.6)
    assert r.node("mid") == pytest.approx(0.45)
    assert r.node("root") == pytest.approx((0.9 + 0.9) / 3)
    r.update("d", None)
    assert r.node("leafnode") is None
    assert r.node("mid") == pytest.approx(0.3)  # b only
    r.update("d", 1.0)
    assert r.nodes()["leafnode"] == 1.0
    assert r.leaf("d") == 1.0
    assert r.leaf(3) == 1.0


def test_incremental_equals_full_after_many_updates() -> None:
    t = tree()
    live = Rollup(t, [None] * 5)
    values = [0.1, 0.7, None, 0.35, 0.9]
    for step in range(50):
        i = step % 5
        values[i] = None if step % 7 == 0 else (step * 0.137) % 1.0
        live.update(t.leaf_ids[i], values[i])
    full = Rollup(t, values)
    for node_id in t.node_ids:
        expected = full.node(node_id)
        got = live.node(node_id)
        assert (got is None) == (expected is None)
        if expected is not None:
            assert got == pytest.approx(expected)


def test_tree_refuses_loops_and_bad_indexes() -> None:
    with pytest.raises(AlignmentLoopError, match="a -> b -> a"):
        RollupTree(["a", "b"], [1, 0], [1.0, 1.0], [], [], [])
    with pytest.raises(ValueError, match="out of range"):
        RollupTree(["a"], [5], [1.0], [], [], [])
    with pytest.raises(ValueError, match="differ in length"):
        RollupTree(["a"], [-1], [1.0], ["x"], [0], [])
    with pytest.raises(ValueError, match="expected 1 leaf values"):
        Rollup(RollupTree(["a"], [-1], [1.0], ["x"], [0], [1.0]), [])
