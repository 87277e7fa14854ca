"""Property tests for the scoring and rollup math (hypothesis)."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given, settings, strategies as st

from okrcore.model import CheckIn, Cycle, Goal, KeyResult, Objective, Plan
from okrcore.plugins import PluginManager
from okrcore.rollup import Rollup, RollupTree
from okrcore.scoring import DefaultGrading, Light, LiveScore, grade_columns, progress, score

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-3, max_value=1e5, allow_nan=False, allow_infinity=False)
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def key_results(draw: st.DrawFn) -> KeyResult:
    kind = draw(st.sampled_from(["increase", "decrease", "count", "milestone",
                                 "maintain_above", "maintain_below"]))  # fmt: skip
    if kind in ("maintain_above", "maintain_below"):
        tolerance = draw(st.none() | positive)
        return KeyResult("k", "K", kind=kind, target=draw(finite), tolerance=tolerance)
    if kind == "milestone":
        return KeyResult("k", "K", kind=kind)
    base = 0.0 if kind == "count" else draw(finite)
    gap = draw(positive)
    sign = -1.0 if kind == "decrease" else 1.0
    target = base + sign * gap
    stretch = draw(st.none() | st.floats(min_value=1.0, max_value=3.0))
    return KeyResult(
        "k", "K", kind=kind, baseline=base, target=target,
        stretch=None if stretch is None else base + sign * gap * stretch,
    )  # fmt: skip


@given(key_results(), finite)
def test_score_is_within_0_and_1(kr: KeyResult, actual: float) -> None:
    p = progress(kr, actual)
    assert math.isfinite(p)
    assert 0.0 <= DefaultGrading().grade(kr, p, actual) <= 1.0


@given(finite, positive, finite, finite)
def test_progress_monotonic_for_increase(base: float, gap: float, a: float, b: float) -> None:
    kr = KeyResult("k", "K", kind="increase", baseline=base, target=base + gap)
    low, high = sorted((a, b))
    assert progress(kr, low) <= progress(kr, high)


@given(finite, positive, finite, finite)
def test_progress_anti_monotonic_for_decrease(base: float, gap: float, a: float, b: float) -> None:
    kr = KeyResult("k", "K", kind="decrease", baseline=base, target=base - gap)
    low, high = sorted((a, b))
    assert progress(kr, low) >= progress(kr, high)


@given(key_results(), finite, finite)
def test_grade_monotonic_in_progress(kr: KeyResult, a: float, b: float) -> None:
    g = DefaultGrading()
    pa, pb = sorted((progress(kr, a), progress(kr, b)))
    assert g.grade(kr, pa, 0.0) <= g.grade(kr, pb, 0.0) + 1e-12


@given(st.lists(unit, min_size=1, max_size=30))
def test_rollup_with_equal_weights_is_the_mean(scores: list[float]) -> None:
    n = len(scores)
    tree = RollupTree(["o"], [-1], [1.0], [f"k{i}" for i in range(n)], [0] * n, [1.0] * n)
    assert Rollup(tree, scores).node("o") == pytest.approx(sum(scores) / n)


@st.composite
def trees(draw: st.DrawFn) -> tuple[RollupTree, list[float | None]]:
    n_nodes = draw(st.integers(1, 12))
    parents = [-1] + [draw(st.integers(-1, i - 1)) for i in range(1, n_nodes)]
    node_w = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0]), min_size=n_nodes,
                           max_size=n_nodes))  # fmt: skip
    n_leaves = draw(st.integers(0, 25))
    leaf_parent = [draw(st.integers(0, n_nodes - 1)) for _ in range(n_leaves)]
    leaf_w = [draw(st.sampled_from([0.0, 1.0, 3.0])) for _ in range(n_leaves)]
    values = [draw(st.none() | unit) for _ in range(n_leaves)]
    tree = RollupTree([f"n{i}" for i in range(n_nodes)], parents, node_w,
                      [f"k{i}" for i in range(n_leaves)], leaf_parent, leaf_w)  # fmt: skip
    return tree, values


def recursive(tree: RollupTree, values: list[float | None], node: int) -> float | None:
    """The straightforward definition, recomputed from scratch."""
    pairs = [(v, w) for v, p, w in zip(values, tree.leaf_parent, tree.leaf_weight, strict=True)
             if p == node]  # fmt: skip
    for child, parent in enumerate(tree.node_parent):
        if parent == node:
            pairs.append((recursive(tree, values, child), tree.node_weight[child]))
    kept = [(v, w) for v, w in pairs if v is not None and w > 0]
    total = sum(w for _, w in kept)
    return sum(v * w for v, w in kept) / total if kept else None


@given(trees(), st.lists(st.tuples(st.integers(0, 24), st.none() | unit), max_size=20))
def test_full_and_incremental_match_the_recursive_definition(
    case: tuple[RollupTree, list[float | None]], updates: list[tuple[int, float | None]]
) -> None:
    tree, values = case
    live = Rollup(tree, values)
    for i, value in updates:
        if i < len(values):
            values[i] = value
            live.update(i, value)
    for node in range(len(tree.node_ids)):
        expected = recursive(tree, values, node)
        got = live.node(node)
        assert (got is None) == (expected is None)
        if expected is not None:
            assert got == pytest.approx(expected, abs=1e-9)


@given(st.lists(st.tuples(key_results(), finite), min_size=1, max_size=20))
def test_grade_columns_equal_the_default_grading(rows: list[tuple[KeyResult, float]]) -> None:
    rows = [(k, a) for k, a in rows if k.kind.value in ("increase", "decrease", "count")]
    base = [k.effective_baseline or 0.0 for k, _ in rows]
    target = [k.effective_target or 0.0 for k, _ in rows]
    prog, scores = grade_columns(base, target, [k.stretch for k, _ in rows], [a for _, a in rows])
    for (k, a), p, s in zip(rows, prog, scores, strict=True):
        assert p == pytest.approx(progress(k, a))
        assert s == pytest.approx(DefaultGrading().grade(k, progress(k, a), a))


Q1 = Cycle("q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))
PLAN = Plan(
    cycles=[Q1],
    goals=[Goal("g", "G")],
    objectives=[
        Objective("a", "A", "q1", goal="g", key_results=[
            KeyResult("lead", "Leads", measure="cumulative", baseline=0, target=900,
                      cadence="daily"),
            KeyResult("cac", "CAC", kind="maintain_below", target=200, tolerance=50, weight=2),
        ]),
        Objective("b", "B", "q1", parent="a", weight=3, key_results=[
            KeyResult("bounce", "Bounce", kind="decrease", baseline=50, target=45, stretch=40),
        ]),
    ],
)  # fmt: skip
MANAGER = PluginManager(load_entry_points=False)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["lead", "cac", "bounce", "unknown"]),
            st.floats(min_value=0, max_value=300, allow_nan=False),
            st.integers(min_value=-5, max_value=100),
        ),
        max_size=25,
    ),
    st.integers(min_value=1, max_value=95),
)
def test_live_score_equals_a_full_score(rows: list[tuple[str, float, int]], at_day: int) -> None:
    at = Q1.start + dt.timedelta(days=at_day - 1)
    cis = [CheckIn(k, v, Q1.start + dt.timedelta(days=d)) for k, v, d in rows]
    full = score(PLAN, cis, at=at, manager=MANAGER)
    live = LiveScore(PLAN, [], at=at, manager=MANAGER)
    for ci in cis:
        live.add(ci)
    card = live.scorecard()
    assert card.key_results == full.key_results
    for oid, node in full.objectives.items():
        assert card.objectives[oid].status is node.status
        if node.score is None:
            assert card.objectives[oid].score is None
        else:
            assert card.objectives[oid].score == pytest.approx(node.score)
    for kr in full.key_results.values():
        if kr.score is not None:
            assert 0.0 <= kr.score <= 1.0
            assert kr.status is not Light.GREY


# -- the fast paths equal the straightforward ones ----------------------------------------------

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
history_rows = st.lists(
    st.tuples(st.integers(0, 40), finite, st.integers(0, 3)),  # day, value, recorded hour
    max_size=40,
)


def _history(rows: list[tuple[int, float, int]]) -> list[CheckIn]:
    return [
        CheckIn("k", v, Q1.start + dt.timedelta(days=d), recorded_at=T0 + dt.timedelta(hours=h))
        for d, v, h in rows
    ]


@given(history_rows, st.integers(0, 45))
def test_daily_values_equal_the_sorted_definition(
    rows: list[tuple[int, float, int]], end_day: int
) -> None:
    from okrcore.scoring import daily_values

    history = _history(rows)
    end = Q1.start + dt.timedelta(days=end_day)
    expected: dict[dt.date, float] = {}
    for ci in sorted(history, key=lambda c: (c.as_of, c.recorded_at)):  # stable: later wins
        if ci.as_of <= end:
            expected[ci.as_of] = ci.value
    got = daily_values(history, end)
    assert list(got.items()) == sorted(expected.items())


@given(st.lists(st.tuples(finite, finite), max_size=30), finite)
def test_least_squares_equals_the_textbook_sums(
    points: list[tuple[float, float]], x: float
) -> None:
    from okrcore.scoring import least_squares

    n = len(points)
    expected = None
    if n >= 2:
        mx = sum(p[0] for p in points) / n
        my = sum(p[1] for p in points) / n
        sxx = sum((p[0] - mx) ** 2 for p in points)
        if sxx != 0:
            sxy = sum((p[0] - mx) * (p[1] - my) for p in points)
            expected = my + sxy / sxx * (x - mx)
    assert least_squares(points, x) == expected


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 80), finite,
                       st.integers(0, 3)), max_size=40),
    st.integers(0, 95),
)
def test_score_equals_a_live_score_that_keeps_its_history(
    rows: list[tuple[str, int, float, int]], at_day: int
) -> None:
    krs = [
        KeyResult("a", "A", baseline=0, target=100, stretch=150),
        KeyResult("b", "B", kind="count", target=500, measure="cumulative", cadence="daily"),
        KeyResult("c", "C", kind="decrease", baseline=50, target=10, weight=2),
    ]
    plan = Plan(cycles=[Q1], goals=[Goal("g", "G")],
                objectives=[Objective("o", "O", "q1", goal="g", key_results=krs)])
    checkins = [
        CheckIn(k, v, Q1.start + dt.timedelta(days=d), recorded_at=T0 + dt.timedelta(hours=h))
        for k, d, v, h in rows
    ]
    at = Q1.start + dt.timedelta(days=at_day)
    manager = PluginManager(load_entry_points=False)
    fast = score(plan, checkins, at=at, manager=manager)
    kept = LiveScore(plan, checkins, at=at, manager=manager).scorecard()
    assert fast == kept
