"""Task progress for work-tracker sources: the sweep over sorted days agrees with counting every
task on every day, on random task lists."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from hypothesis import given, settings, strategies as st

from okrcore.errors import NoTasks, OkrError
from okrcore.tasks import METRICS, Task, TaskCache, day_of, points, total

START = dt.date(2026, 10, 1)
days = st.one_of(st.none(), st.dates(dt.date(2026, 9, 1), dt.date(2026, 12, 31)))
tasks = st.lists(st.builds(Task, done=st.booleans(), created=days, completed=days), max_size=40)


def naive(tasks: list[Task], metric: str, day: dt.date) -> float | None:
    """The rule as written: tasks created by the end of the day, done by then."""
    existing = [t for t in tasks if t.created is None or t.created <= day]
    done = sum(1 for t in existing if t.done and (t.completed is None or t.completed <= day))
    if metric in ("percent_done", "fraction_done"):
        if not existing:
            return None
        return (100.0 if metric == "percent_done" else 1.0) * done / len(existing)
    return float({"completed": done, "open": len(existing) - done, "total": len(existing)}[metric])


@settings(max_examples=200, deadline=None)
@given(tasks=tasks, metric=st.sampled_from(METRICS), length=st.integers(0, 60))
def test_levels_match_counting_every_day(tasks: list[Task], metric: str, length: int) -> None:
    end = START + dt.timedelta(days=length)
    expected = [(START + dt.timedelta(days=i), naive(tasks, metric, START + dt.timedelta(days=i)))
                for i in range(length + 1)]
    assert points(tasks, metric, START, end, cumulative=False) == [
        (day, value) for day, value in expected if value is not None
    ]
    last = expected[-1][1]
    if last is None:
        with pytest.raises(NoTasks):
            total(tasks, metric, START, end, cumulative=False)
    else:
        assert total(tasks, metric, START, end, cumulative=False) == last


@settings(max_examples=100, deadline=None)
@given(tasks=tasks, length=st.integers(0, 60))
def test_cumulative_completions_per_day_sum_to_the_total(tasks: list[Task], length: int) -> None:
    end = START + dt.timedelta(days=length)
    series = points(tasks, "completed", START, end, cumulative=True)
    assert [d for d, _ in series] == [START + dt.timedelta(days=i) for i in range(length + 1)]
    assert sum(v for _, v in series) == total(tasks, "completed", START, end, cumulative=True)
    assert total(tasks, "completed", START, end, cumulative=True) == sum(
        1 for t in tasks if t.completed is not None and START <= t.completed <= end
    )


def test_a_share_of_no_tasks_is_undefined_not_zero() -> None:
    with pytest.raises(NoTasks, match="undefined") as caught:
        total([], "percent_done", START, START, cumulative=False)
    assert isinstance(caught.value, OkrError)
    assert total([], "total", START, START, cumulative=False) == 0.0
    done = Task(done=True, created=START, completed=START + dt.timedelta(days=1))
    assert points([done], "percent_done", START, START + dt.timedelta(days=1),
                  cumulative=False) == [(START, 0.0), (START + dt.timedelta(days=1), 100.0)]


def test_unknown_metric() -> None:
    with pytest.raises(ValueError, match="unknown metric 'velocity'"):
        points([], "velocity", START, START, cumulative=False)


@pytest.mark.parametrize(
    ("stamp", "day"),
    [
        (None, None),
        ("2026-11-02", dt.date(2026, 11, 2)),
        ("2026-11-02T23:30:00Z", dt.date(2026, 11, 2)),
        ("2026-11-02T23:30:00-02:00", dt.date(2026, 11, 3)),
        ("2026-11-02T10:00:00.123+00:00", dt.date(2026, 11, 2)),
        ("2026-11-02T23:30:00.000+0000", dt.date(2026, 11, 2)),  # Jira's offsets, no colon
        ("2026-11-02T23:30:00.000-0230", dt.date(2026, 11, 3)),
    ],
)
def test_day_of(stamp: str | None, day: dt.date | None) -> None:
    assert day_of(stamp) == day


def test_day_of_rejects_text_that_is_not_a_date() -> None:
    with pytest.raises(ValueError):
        day_of("next Tuesday")


def test_task_cache_builds_each_item_once_per_way_of_reading() -> None:
    built: list[tuple[str, int]] = []

    def build(how: str) -> Callable[[int], Task]:
        def one(i: int) -> Task:
            built.append((how, i))
            if i == 3:
                raise ValueError("item 3 is malformed")
            return Task(how == "status" and i % 2 == 0, START + dt.timedelta(days=i))
        return one

    cache = TaskCache()
    first = cache.tasks("status", [0, 1, 2], build("status"))
    again = cache.tasks("status", [2, 0], build("status"))
    other = cache.tasks("checkbox", [0], build("checkbox"))
    assert [t.done for t in first] == [True, False, True]
    assert again == [first[2], first[0]]
    assert other == [Task(False, START)]
    assert built == [("status", 0), ("status", 1), ("status", 2), ("checkbox", 0)]
    for _ in range(2):  # a failure is raised each time, never kept
        with pytest.raises(ValueError, match="item 3"):
            cache.tasks("status", [1, 3], build("status"))
    assert built[-2:] == [("status", 3), ("status", 3)]


def test_tasks_reading_answers_a_request_as_every_tracker_does() -> None:
    from okrcore.model import Connection, Cycle, KeyResult
    from okrcore.sources import Failure, FetchRequest, Reading
    from okrcore.tasks import tasks_reading

    cycle = Cycle("q4", START, dt.date(2026, 12, 31))
    end = START + dt.timedelta(days=2)

    def request(measure: str, series: bool) -> FetchRequest:
        kr = KeyResult("kr", "t", measure=measure, baseline=0, target=10)
        return FetchRequest(kr, {}, Connection("c", "x", {}), cycle, START, end, end, series)

    done = [Task(True, START, START + dt.timedelta(days=1)), Task(False, START)]
    series = tasks_reading(request("cumulative", True), done, "completed", info={"requests": 1},
                           hint="h", warnings=["w"])
    assert isinstance(series, Reading)
    assert ([v for _, v in series.points], series.unit, series.warnings, series.info) == (
        [0.0, 1.0, 0.0], None, ("w",), {"requests": 1})
    share = tasks_reading(request("gauge", False), done, "percent_done", info={}, hint="h")
    assert isinstance(share, Reading)
    assert (share.points, share.unit) == (((end, 50.0),), "%")
    none = tasks_reading(request("gauge", False), [], "percent_done", info={},
                         where="project 12", hint="check the filters")
    assert isinstance(none, Failure)
    assert (none.kind.value, none.message) == (
        "permanent", "project 12: no tasks match: the share of done tasks is undefined "
        "(check the filters)")
    bare = tasks_reading(request("gauge", False), [], "fraction_done", info={}, hint="jql: x")
    assert isinstance(bare, Failure)
    assert bare.message == "no tasks match: the share of done tasks is undefined (jql: x)"
