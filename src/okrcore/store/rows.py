"""Turning stored rows into check-ins, fast: a store may hold millions of them.

The rows come from the store, which checked every value on the way in, so the check-ins are built
without running :class:`~okrcore.model.CheckIn`'s converters and validators again; equal dates,
datetimes and ids are shared between check-ins instead of repeated.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import attrs

from okrcore.model import CheckIn, InitiativeChange, StrategyChange, TargetChange

from .base import CheckInRecord, encode_json

__all__ = [
    "INITIATIVE_CHANGE_COLUMNS",
    "STRATEGY_CHANGE_COLUMNS",
    "TARGET_CHANGE_COLUMNS",
    "RowReader",
    "changes_query",
    "initiative_change_from_row",
    "initiative_change_row",
    "strategy_change_from_row",
    "strategy_change_row",
    "target_change_from_row",
    "target_change_row",
    "utc_moment",
]

# Row layout: kr_id, value, as_of, source, recorded_at, author, note, confidence.
_COLUMNS = ("kr_id", "value", "as_of", "source", "recorded_at", "author", "note", "confidence")


def _slot_setters() -> list[Callable[[Any, Any], None]] | None:
    """Setters of CheckIn's slots in row order; None if CheckIn has other fields (then the
    normal constructor is used)."""
    names = [f.name for f in attrs.fields(CheckIn)]
    if sorted(names) != sorted(_COLUMNS) or "__slots__" not in CheckIn.__dict__:
        return None
    return [CheckIn.__dict__[name].__set__ for name in _COLUMNS]


_SETTERS = _slot_setters()



@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The garbage collector paused while a read builds its records. They hold no reference
    cycles, but with the collector on, building a million of them runs it over the growing
    list again and again: the read takes twice as long."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class RowReader:
    """Builds check-ins from rows of one query (the caches live as long as the query).

    ``wanted``: only rows of these key-result ids (``None``: all). Dates and datetimes may come
    as ISO text (SQLite) or as objects (drivers that convert them).
    """

    def __init__(self, wanted: set[str] | None = None) -> None:
        self.wanted = wanted
        # per query, not per process: a cache shared across queries grew to a million moments
        # during a read of everything, and emptying it cost the next history read about 0.2 s
        self._dates: dict[Any, dt.date] = {}
        self._times: dict[Any, dt.datetime] = {}
        self._text: dict[str, str] = {}

    def date(self, value: Any) -> dt.date:
        """A stored day (ISO text, or a driver's date) as a date."""
        found = self._dates.get(value)
        if found is None:
            found = dt.date.fromisoformat(value) if isinstance(value, str) else value
            self._dates[value] = found
        return found

    def moment(self, value: Any) -> dt.datetime:
        """A stored moment (ISO text, or a driver's datetime) as an aware UTC datetime."""
        found = self._times.get(value)
        if found is None:
            if isinstance(value, str):
                found = dt.datetime.fromisoformat(value)
            else:
                found = value.astimezone(dt.timezone.utc)
            self._times[value] = found
        return found

    def text(self, value: str) -> str:
        return self._text.setdefault(value, value)

    def checkin(self, row: tuple[Any, ...] | list[Any]) -> CheckIn:
        kr_id, value, as_of, source, recorded_at, author, note, confidence = row[:8]
        kr_id, source = self.text(kr_id), self.text(source)
        as_of, recorded_at = self.date(as_of), self.moment(recorded_at)
        if _SETTERS is None:
            return CheckIn(
                kr_id, value, as_of, source=source, recorded_at=recorded_at, author=author,
                note=note, confidence=confidence,
            )
        c = object.__new__(CheckIn)
        s0, s1, s2, s3, s4, s5, s6, s7 = _SETTERS
        s0(c, kr_id)
        s1(c, float(value))
        s2(c, as_of)
        s3(c, source)
        s4(c, recorded_at)
        s5(c, author)
        s6(c, note)
        s7(c, None if confidence is None else float(confidence))
        return c

    def checkins(self, rows: Iterable[tuple[Any, ...]]) -> list[CheckIn]:
        """The check-ins of rows of :data:`~okrcore.store.CHECKIN_COLUMNS` (of the ids
        wanted)."""
        with _collector_paused():
            return self._checkins(rows)

    def _checkins(self, rows: Iterable[tuple[Any, ...]]) -> list[CheckIn]:
        if _SETTERS is None:
            return [self.checkin(r) for r in rows if self.wanted is None or r[0] in self.wanted]
        # checkin() inlined: this loop runs once per stored row (millions for a whole store)
        wanted, text, dates, times = self.wanted, self._text, self._dates, self._times
        moment, day_of = self.moment, dt.date.fromisoformat
        new, s0, s1, s2, s3, s4, s5, s6, s7 = object.__new__, *_SETTERS
        out: list[CheckIn] = []
        append = out.append
        for kr_id, value, as_of, source, recorded_at, author, note, confidence in rows:
            if wanted is not None and kr_id not in wanted:
                continue
            c = new(CheckIn)
            s0(c, text.setdefault(kr_id, kr_id))
            s1(c, float(value))
            # date() inlined too: every row of one key result's history has a new day, so the
            # cache misses on each (a fifth of the time of building a 100-row history)
            day = dates.get(as_of)
            if day is None:
                day = dates[as_of] = day_of(as_of) if isinstance(as_of, str) else as_of
            s2(c, day)
            s3(c, text.setdefault(source, source))
            s4(c, times.get(recorded_at) or moment(recorded_at))
            s5(c, author)
            s6(c, note)
            s7(c, None if confidence is None else float(confidence))
            append(c)
        return out

    def history(self, rows: Iterable[tuple[Any, ...]]) -> list[CheckInRecord]:
        """Rows of check-in columns followed by run_id, reason, replaced_at."""
        with _collector_paused():
            return self._history(rows)

    def _history(self, rows: Iterable[tuple[Any, ...]]) -> list[CheckInRecord]:
        return [
            CheckInRecord(
                self.checkin(r),
                run_id=r[8],
                reason=r[9],
                replaced_at=None if r[10] is None else self.moment(r[10]),
            )
            for r in rows
            if self.wanted is None or r[0] in self.wanted
        ]


# -- target and strategy changes: the columns, the query and the rows both built-in stores use
TARGET_CHANGE_COLUMNS = "kr_id, field, old_value, new_value, reason, changed_at, author, link"
STRATEGY_CHANGE_COLUMNS = "strategy_id, field, old_json, new_json, reason, changed_at, author"


def changes_query(table: str, columns: str, key: str | None, param: str) -> str:
    """``SELECT columns FROM table`` (``WHERE key = param`` when ``key``), oldest first;
    ``param`` is the backend's parameter marker (``?``, ``%s``)."""
    where = "" if key is None else f" WHERE {key} = {param}"
    return f"SELECT {columns} FROM {table}{where} ORDER BY changed_at, seq"


def target_change_row(change: TargetChange, moment: Callable[[dt.datetime], Any]
                      ) -> tuple[Any, ...]:
    """The values of :data:`TARGET_CHANGE_COLUMNS`; ``moment`` converts ``changed_at`` for the
    database. Check the change first (:func:`~okrcore.store.check_target_change`)."""
    return (change.kr_id, change.field, change.old, change.new, change.reason,
            moment(change.changed_at), change.author, change.link)


def target_change_from_row(row: Sequence[Any]) -> TargetChange:
    """The target change of a row of :data:`TARGET_CHANGE_COLUMNS`."""
    return TargetChange(kr_id=row[0], field=row[1], old=row[2], new=row[3], reason=row[4],
                        changed_at=utc_moment(row[5]), author=row[6], link=row[7])


def strategy_change_row(change: StrategyChange, moment: Callable[[dt.datetime], Any]
                        ) -> tuple[Any, ...]:
    """The values of :data:`STRATEGY_CHANGE_COLUMNS` (``old`` and ``new`` as JSON text; a value
    JSON cannot hold raises :class:`~okrcore.StoreError`)."""
    what = f"strategy change of {change.strategy_id!r}"
    return (change.strategy_id, change.field, encode_json(change.old, what),
            encode_json(change.new, what), change.reason, moment(change.changed_at),
            change.author)


def strategy_change_from_row(row: Sequence[Any]) -> StrategyChange:
    """The strategy change of a row of :data:`STRATEGY_CHANGE_COLUMNS`."""
    return StrategyChange(strategy_id=row[0], field=row[1], old=json.loads(row[2]),
                          new=json.loads(row[3]), reason=row[4], changed_at=utc_moment(row[5]),
                          author=row[6])


# -- initiative status history -----------------------------------------------------------------
INITIATIVE_CHANGE_COLUMNS = "initiative_id, status, was, at, source, recorded_at, run_id"


def initiative_change_row(change: InitiativeChange, day: Callable[[dt.date], Any],
                          moment: Callable[[dt.datetime], Any]) -> tuple[Any, ...]:
    """The values of :data:`INITIATIVE_CHANGE_COLUMNS`; ``day`` and ``moment`` convert ``at``
    and ``recorded_at`` for the database."""
    return (change.initiative_id, change.status.value,
            None if change.was is None else change.was.value, day(change.at), change.source,
            moment(change.recorded_at), change.run_id)


def initiative_change_from_row(row: Sequence[Any]) -> InitiativeChange:
    """The record of a row of :data:`INITIATIVE_CHANGE_COLUMNS`."""
    at = row[3] if isinstance(row[3], dt.date) else dt.date.fromisoformat(row[3])
    return InitiativeChange(initiative_id=row[0], status=row[1], was=row[2], at=at,
                            source=row[4], recorded_at=utc_moment(row[5]), run_id=row[6])


def utc_moment(value: str | dt.datetime) -> dt.datetime:
    """A stored moment as an aware UTC datetime: ISO text (SQLite) or a driver's datetime."""
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value.astimezone(dt.timezone.utc)
