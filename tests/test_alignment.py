"""Objectives aligned to several parents (docs/scoring.md "Rollup"): model, plan file, rollup
(full and incremental), loops, node lights and the report JSON."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from okrcore.errors import AlignmentLoopError, PlanError, ValidationError
from okrcore.model import Alignment, CheckIn, Cycle, Goal, KeyResult, Objective, Plan
from okrcore.planfile import dumps_plan, loads_plan
from okrcore.plugins import PluginManager
from okrcore.rollup import Rollup, RollupTree
from okrcore.scoring import LiveScore, score

Q1 = Cycle("q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))
AT = dt.date(2026, 2, 14)


def kr(kr_id: str) -> KeyResult:
    return KeyResult(kr_id, kr_id.upper(), baseline=0, target=100)


def diamond() -> Plan:
    """goal g <- top (kt) <- sales (ks), brand (kb) <- shared (kx: parents sales w3, brand w1)."""
    return Plan(
        cycles=[Q1],
        goals=[Goal("g", "Growth")],
        objectives=[
            Objective("top", "Top", "q1", goal="g", key_results=[kr("kt")]),
            Objective("sales", "Sales", "q1", parent="top", key_results=[kr("ks")]),
            Objective("brand", "Brand", "q1", parent="top", key_results=[kr("kb")]),
            Objective(
                "shared",
                "Shared",
                "q1",
                goal="g",
                parents=[Alignment("sales", 3), Alignment("brand", 1)],
                key_results=[kr("kx")],
            ),
        ],
    )


@pytest.fixture(scope="module")
def manager() -> PluginManager:
    return PluginManager(load_entry_points=False)


def test_each_parent_counts_the_shared_objective_with_its_own_weight(
    manager: PluginManager,
) -> None:
    values = {"kt": 40.0, "ks": 20.0, "kb": 60.0, "kx": 100.0}
    card = score(diamond(), [CheckIn(k, v, AT) for k, v in values.items()], at=AT, manager=manager)
    objectives = card.objectives
    assert objectives["shared"].score == pytest.approx(1.0)
    # sales: (0.2 * 1 + 1.0 * 3) / 4; brand: (0.6 + 1.0) / 2
    assert objectives["sales"].score == pytest.approx(0.8)
    assert objectives["brand"].score == pytest.approx(0.8)
    assert objectives["top"].score == pytest.approx((0.4 + 0.8 + 0.8) / 3)
    # the goal counts only objectives without a parent objective: shared is not counted twice
    assert card.goals["g"].score == pytest.approx(objectives["top"].score)
    assert objectives["shared"].parents == ("sales", "brand")
    assert objectives["shared"].to_dict()["parents"] == ["sales", "brand"]
    assert objectives["shared"].parent == "sales"


def test_a_shared_objective_s_light_reaches_every_parent(manager: PluginManager) -> None:
    values = {"kt": 50.0, "ks": 50.0, "kb": 50.0, "kx": 0.0}
    card = score(diamond(), [CheckIn(k, v, AT) for k, v in values.items()], at=AT, manager=manager)
    assert card.objectives["shared"].status.value == "red"
    for parent in ("sales", "brand"):
        assert "shared" in card.objectives[parent].reason


def test_incremental_updates_through_several_parents_equal_a_full_pass(
    manager: PluginManager,
) -> None:
    plan = diamond()
    live = LiveScore(plan, [], at=AT, manager=manager)
    rng = random.Random(7)
    for day in range(40):
        kr_id = rng.choice(["kt", "ks", "kb", "kx"])
        live.add(CheckIn(kr_id, rng.uniform(0, 120), Q1.start + dt.timedelta(days=day)))
        fresh = Rollup(live.tree, [live.key_result(k).score for k in live.tree.leaf_ids])
        for node, value in fresh.nodes().items():
            assert live.scores.node(node) == pytest.approx(value, abs=1e-12)


def test_tree_with_further_parents_orders_children_first_and_lists_ancestors() -> None:
    # nodes: 0 goal, 1 top, 2 sales, 3 brand, 4 shared (parents 2 w3 and 3 w1)
    tree = RollupTree(
        ["goal:g", "objective:top", "objective:sales", "objective:brand", "objective:shared"],
        [-1, 0, 1, 1, 2],
        [1, 1, 1, 1, 3],
        ["kx", "ks"],
        [4, 2],
        [1, 1],
        more_parents={4: [(3, 1.0)]},
    )
    order = tree.order
    for child in range(5):
        for parent in tree.parents(child):
            assert order.index(child) < order.index(parent)
    assert tree.ancestors("kx") == [
        "objective:shared",
        "objective:sales",
        "objective:brand",
        "objective:top",
        "goal:g",
    ]
    rollup = Rollup(tree, [1.0, 0.0])
    assert rollup.node("objective:brand") == 1.0
    assert rollup.node("objective:sales") == pytest.approx(0.75)
    rollup.update("kx", 0.0)
    assert rollup.node("objective:brand") == 0.0
    assert rollup.node("objective:top") == 0.0


def test_a_loop_through_a_second_parent_is_refused() -> None:
    with pytest.raises(AlignmentLoopError):
        Plan(
            cycles=[Q1],
            objectives=[
                Objective("a", "A", "q1", parents=["b", "c"]),
                Objective("b", "B", "q1"),
                Objective("c", "C", "q1", parent="a"),
            ],
        )
    with pytest.raises(AlignmentLoopError) as info:  # b -> a, and b -> c -> b
        RollupTree(["a", "b", "c"], [-1, 0, 1], [1, 1, 1], [], [], [], more_parents={1: [(2, 1)]})
    assert info.value.loop == ("b", "c")


def test_the_model_refuses_parent_and_parents_and_twice_the_same_parent() -> None:
    with pytest.raises(ValidationError, match="either parent or parents"):
        Objective("a", "A", "q1", parent="b", parents=["c"])
    with pytest.raises(ValidationError, match="twice"):
        Objective("a", "A", "q1", parents=["b", ("b", 2)])
    with pytest.raises(PlanError, match="unknown objective 'nope'"):
        Plan(cycles=[Q1], objectives=[Objective("a", "A", "q1", parents=["nope"])])


PLAN = """\
okrcore: 1
cycles: [{id: q1, start: 2026-01-01, end: 2026-03-31}]
objectives:
  - {id: sales, title: Sales, cycle: q1}
  - {id: brand, title: Brand, cycle: q1}
  - id: shared
    title: Shared
    cycle: q1
    parents:
      - {id: sales, weight: 3}
      - {id: brand}
"""


def test_plan_file_parents_round_trip() -> None:
    plan = loads_plan(PLAN, "yaml")
    assert plan.objective("shared").alignments == (Alignment("sales", 3), Alignment("brand", 1))
    assert [o.id for o in plan.children("brand")] == ["shared"]
    again = loads_plan(dumps_plan(plan, "yaml"), "yaml")
    assert again == plan


@pytest.mark.parametrize(
    ("edit", "path", "message"),
    [
        ("- {id: brand}", "objectives[2].parents[1].id", "unknown objective 'bran'"),
        ("- {id: brand}", "objectives[2].parents[1].id", "twice"),
        ("parents:", "objectives[2].parents", "parent or parents, not both"),
        ("- {id: brand}", "objectives[1].parent", "alignment loop"),
    ],
)
def test_plan_file_problems_name_the_field(edit: str, path: str, message: str) -> None:
    text = PLAN
    if message.startswith("unknown"):
        text = text.replace("- {id: brand}", "- {id: bran}")
    elif message == "twice":
        text = text.replace("- {id: brand}", "- {id: sales}")
    elif message.startswith("parent or"):
        text = text.replace("    parents:", "    parent: sales\n    parents:")
    else:
        brand = "{id: brand, title: Brand, cycle: q1"
        text = text.replace(brand + "}", brand + ", parent: shared}")
    with pytest.raises(PlanError) as info:
        loads_plan(text, "yaml")
    found = [(p.path, p.message) for p in info.value.problems]
    assert any(p == path and message in m for p, m in found), found
