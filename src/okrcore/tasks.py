"""Task progress for work-tracker sources: the share of tasks done, completions per day, open and
total tasks, from a list of tasks with their creation and completion days.

Sources for Asana, Jira, Notion, Trello and the like read tasks from their service, turn each into
a :class:`Task`, and answer a key result with :func:`total` (one value for a window) or
:func:`points` (a daily series). The rules, the same for every tracker:

* a task counts from the day it was created (always, when the creation day is unknown) and is
  done from the day it was completed (every day, when it is done and the day is unknown);
* ``percent_done`` is done tasks as a share of all tasks in percent, ``fraction_done`` the same
  share between 0 and 1 (a milestone key result's actual); a share of no tasks is undefined
  (:class:`~okrcore.errors.NoTasks`), never zero;
* ``completed`` is, for a cumulative key result, the tasks completed in the window (per day in a
  series), else the tasks done by the window's end; ``open`` and ``total`` are levels.

:func:`tasks_reading` does all of it for a source's request: the series or the total, the unit,
and the failure when a share has no tasks.

Pure functions, no I/O.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from .errors import FailureKind, NoTasks
from .model import Measure
from .sources import Failure, FetchRequest, Reading

__all__ = ["METRICS", "NoTasks", "Task", "TaskCache", "day_of", "points", "tasks_reading", "total"]

METRICS = ("percent_done", "fraction_done", "completed", "open", "total")
_SHARES = ("percent_done", "fraction_done")


@attrs.frozen
class Task:
    """What progress needs of a task: whether it is done now, and its creation and completion days
    (UTC). ``completed`` is ``None`` for an open task, or when the tracker does not say."""

    done: bool
    created: dt.date | None = None
    completed: dt.date | None = None


class TaskCache:
    """The tasks of one read, each built at most once per way of reading it.

    Many key results often share one read (a project, database or search) and differ only in
    their filters: ``cache.tasks(how, indices, build)`` returns ``build(i)`` for each index,
    calling ``build`` once per ``(how, i)`` however many key results ask. ``how`` names what
    ``build`` depends on besides the item (the done rule, the completion field); an exception
    from ``build`` is raised and nothing is kept for that item. Not thread-safe: one per read.
    """

    def __init__(self) -> None:
        self._built: dict[Hashable, dict[int, Task]] = {}

    def tasks(
        self, how: Hashable, indices: Iterable[int], build: Callable[[int], Task]
    ) -> list[Task]:
        """The task of each index, in order; built on first use for this ``how``."""
        memo = self._built.setdefault(how, {})
        out: list[Task] = []
        for i in indices:
            task = memo.get(i)
            if task is None:
                task = memo[i] = build(i)
            out.append(task)
        return out


# "+0000" offsets (Jira writes them) as "+00:00", which fromisoformat needs before Python 3.11
_BARE_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")


def day_of(stamp: str | None) -> dt.date | None:
    """The UTC day of an ISO 8601 date or date-time (``Z``, ``+01:00`` or ``+0100``); ``None``
    stays ``None``.

    Raises ``ValueError`` for text that is not a date.
    """
    if stamp is None:
        return None
    text = str(stamp).strip()
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    try:  # Python 3.11 reads "Z" and "+0000" itself: the common case, without a regex
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        moment = dt.datetime.fromisoformat(
            _BARE_OFFSET.sub(r"\1:\2", text.replace("Z", "+00:00")))
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.date()


class _Levels:
    """Tasks existing and done at the end of any day, by binary search over sorted start days."""

    def __init__(self, tasks: Sequence[Task]) -> None:
        # A day that is None means "always"; a task is done only once it exists.
        self._always_exist = sum(1 for t in tasks if t.created is None)
        self._exist = sorted(t.created for t in tasks if t.created is not None)
        done = [t for t in tasks if t.done]
        self._always_done = sum(1 for t in done if t.created is None and t.completed is None)
        self._done = sorted(
            max(d for d in (t.created, t.completed) if d is not None)
            for t in done
            if t.created is not None or t.completed is not None
        )

    def at(self, day: dt.date) -> tuple[int, int]:
        """(tasks existing, tasks done) at the end of ``day``."""
        existing = self._always_exist + bisect.bisect_right(self._exist, day)
        return existing, self._always_done + bisect.bisect_right(self._done, day)


def _value(metric: str, existing: int, done: int) -> float:
    if metric in _SHARES:
        if not existing:
            raise NoTasks("no tasks match: the share of done tasks is undefined")
        return (100.0 if metric == "percent_done" else 1.0) * done / existing
    if metric == "completed":
        return float(done)
    if metric == "open":
        return float(existing - done)
    if metric == "total":
        return float(existing)
    raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")


def total(
    tasks: Sequence[Task], metric: str, start: dt.date, end: dt.date, *, cumulative: bool
) -> float:
    """One value for the window ``start``..``end``: the completions inside it for a cumulative
    ``completed``, else the metric's level at the end of ``end``."""
    if cumulative and metric == "completed":
        return float(sum(1 for t in tasks if t.completed and start <= t.completed <= end))
    return _value(metric, *_Levels(tasks).at(end))


def points(
    tasks: Sequence[Task], metric: str, start: dt.date, end: dt.date, *, cumulative: bool
) -> list[tuple[dt.date, float]]:
    """A daily series from ``start`` to ``end``: completions per day for a cumulative
    ``completed``, else each day's level. A day whose share is undefined (no tasks yet) has no
    point."""
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    if cumulative and metric == "completed":
        per_day = Counter(t.completed for t in tasks if t.completed and start <= t.completed <= end)
        return [(day, float(per_day[day])) for day in days]
    if metric not in METRICS:
        _value(metric, 1, 0)  # raises: unknown metric
    levels = _Levels(tasks)
    out: list[tuple[dt.date, float]] = []
    for day in days:
        existing, done = levels.at(day)
        if existing or metric not in _SHARES:
            out.append((day, _value(metric, existing, done)))
    return out


def tasks_reading(
    request: FetchRequest,
    tasks: Sequence[Task],
    metric: str,
    *,
    info: Mapping[str, Any],
    hint: str,
    where: str = "",
    warnings: Sequence[str] = (),
) -> Reading | Failure:
    """A tracker's answer to ``request`` from the tasks its key result selects: a daily series
    (:func:`points`) when the request asks for one, else one value (:func:`total`), cumulative
    for a cumulative key result; ``%`` as the unit of ``percent_done``. A share of no tasks is
    a permanent :class:`~okrcore.sources.Failure` reading ``"{where}: no tasks match: ...
    ({hint})"`` (without ``where``, from ``no tasks``): say where the source looked and what to
    check."""
    cumulative = request.measure is Measure.CUMULATIVE
    unit = "%" if metric == "percent_done" else None
    try:
        if request.series:
            series = points(tasks, metric, request.start, request.end, cumulative=cumulative)
            return Reading(request, series, unit=unit, warnings=warnings, info=info)
        value = total(tasks, metric, request.start, request.end, cumulative=cumulative)
    except NoTasks as exc:
        return Failure(request, FailureKind.PERMANENT,
                       f"{where + ': ' if where else ''}{exc} ({hint})")
    return Reading.total(request, value, unit=unit, warnings=warnings, info=info)
