"""Task progress from a list of tasks: pure functions over parsed values (no I/O).

A task (a Jira issue) counts from the day it was created and is done from the day it was
completed. The metrics:

* ``percent_done``: done tasks as a share of all tasks, in percent;
* ``fraction_done``: the same share between 0 and 1 (a milestone key result's actual);
* ``completed``: tasks completed (for a cumulative key result: those completed in the window);
* ``open``: tasks not done;
* ``total``: all tasks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Sequence

import attrs

__all__ = ["METRICS", "NoTasks", "Task", "day_of", "points", "total"]

_OFFSET = re.compile(r"([+-]\d\d)(\d\d)$")
METRICS = ("percent_done", "fraction_done", "completed", "open", "total")


@attrs.frozen
class Task:
    """What progress needs of a task: when it was created and when it was done (UTC days).

    ``done`` is the task's state now; ``completed`` is ``None`` for an open task.
    """

    done: bool
    created: dt.date | None = None
    completed: dt.date | None = None


class NoTasks(ValueError):
    """A share of no tasks is undefined (not zero)."""


def day_of(stamp: str | None) -> dt.date | None:
    """The UTC day of an ISO 8601 date or date-time; ``None`` stays ``None``.

    Jira writes offsets without a colon (``+0000``), which Python 3.10 cannot read: add it.
    Raises ValueError for text that is not a date.
    """
    if stamp is None:
        return None
    text = str(stamp).strip()
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    text = _OFFSET.sub(r"\1:\2", text.replace("Z", "+00:00"))
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.date()


def _level(tasks: Sequence[Task], metric: str, day: dt.date) -> float:
    """The metric at the end of ``day``: tasks created by then, done by then.

    A done task without a completion date counts as done on every day.
    """
    existing = [t for t in tasks if t.created is None or t.created <= day]
    done = sum(1 for t in existing if t.done and (t.completed is None or t.completed <= day))
    if metric in ("percent_done", "fraction_done"):
        if not existing:
            raise NoTasks("no tasks match: the share of done tasks is undefined")
        return (100.0 if metric == "percent_done" else 1.0) * done / len(existing)
    if metric == "completed":
        return float(done)
    if metric == "open":
        return float(len(existing) - done)
    if metric == "total":
        return float(len(existing))
    raise ValueError(f"unknown metric {metric!r}")


def total(
    tasks: Sequence[Task], metric: str, start: dt.date, end: dt.date, *, cumulative: bool
) -> float:
    """One value for the window: a cumulative count of completions inside it, else the level at
    the end of ``end`` (from creation and completion dates)."""
    if cumulative and metric == "completed":
        return float(sum(1 for t in tasks if t.completed and start <= t.completed <= end))
    return _level(tasks, metric, end)


def points(
    tasks: Sequence[Task], metric: str, start: dt.date, end: dt.date, *, cumulative: bool
) -> list[tuple[dt.date, float]]:
    """A daily series: completions per day (cumulative ``completed``), else each day's level.

    A day whose share is undefined (no tasks yet) has no point.
    """
    out: list[tuple[dt.date, float]] = []
    if cumulative and metric == "completed":
        per_day: dict[dt.date, int] = {}
        for task in tasks:
            if task.completed and start <= task.completed <= end:
                per_day[task.completed] = per_day.get(task.completed, 0) + 1
    day = start
    while day <= end:
        if cumulative and metric == "completed":
            out.append((day, float(per_day.get(day, 0))))
        else:
            with contextlib.suppress(NoTasks):
                out.append((day, _level(tasks, metric, day)))
        day += dt.timedelta(days=1)
    return out
