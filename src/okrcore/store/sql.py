"""SQL that relational backends share: the check-in queries and their filter, the run log's
statements and rows, the event deliveries' query, and the migration runner.

Written for DB-API drivers whose cursors have ``execute`` (returning the cursor) and
``executemany``; ``mark`` is the driver's parameter marker (``?`` for sqlite3, ``%s`` for
psycopg). The tables are those of the built-in backends (docs/stores.md#writing-a-backend); a
backend with the same tables and columns can use all of it, one with its own dialect may use
the parts that fit. What differs between dialects (upserts that count new and revised rows,
locks, bulk loading) stays in each backend.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from okrcore.errors import StoreError
from okrcore.model import RunOutcome, RunRecord

from .base import OUTCOME_COLUMNS, EventDelivery, encode_json, outcome_from_row, outcome_row
from .rows import utc_moment

__all__ = [
    "CHECKIN_COLUMNS",
    "EVENT_COLUMNS",
    "READING_ORDER",
    "RUN_COLUMNS",
    "CheckinFilter",
    "Cursor",
    "apply_migrations",
    "checkin_filter",
    "checkins_query",
    "event_deliveries_query",
    "event_from_row",
    "history_query",
    "read_runs",
    "update_outcomes",
    "write_run",
]

# Columns of a check-in row, in the order RowReader reads them.
CHECKIN_COLUMNS = "kr_id, value, as_of, source, recorded_at, author, note, confidence"
# The order Store.checkins returns.
READING_ORDER = "as_of, recorded_at, kr_id, source"
RUN_COLUMNS = "id, started_at, finished_at, as_of, info_json"
EVENT_COLUMNS = (
    "event_key, destination, kind, subject, at, token, claimed_at, sent_at, run_id, event_json"
)
# ids bound in one ``IN (...)``: SQLite's variable limit is the lowest of the drivers'
_CHUNK = 500


class Cursor(Protocol):
    """The part of a DB-API cursor the helpers use."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, params: Sequence[Sequence[Any]], /) -> Any: ...


def _same(value: Any) -> Any:
    return value


# -- check-ins ---------------------------------------------------------------------------------
@attrs.frozen
class CheckinFilter:
    """A check-in query's ``where`` (``" WHERE ..."`` or empty), its ``params``, and the ids to
    keep in Python (``wanted``, ``None``: the SQL filters them all)."""

    where: str
    params: list[Any]
    wanted: set[str] | None = None


def checkin_filter(
    kr_ids: Sequence[str] | None,
    since: dt.date | None,
    until: dt.date | None,
    *,
    mark: str = "?",
    day: Callable[[dt.date], Any] = _same,
    id_array: bool = False,
) -> CheckinFilter | None:
    """The filter of :meth:`Store.checkins` and :meth:`Store.checkin_history`; ``None`` when no
    key result is asked for (an empty ``kr_ids``: the answer is empty).

    ``day`` converts a date for the driver (``date.isoformat`` where dates are stored as text).
    ``id_array=True`` binds the ids as one array (``kr_id = ANY(%s)``, PostgreSQL); else they
    are an ``IN`` list, and more than 500 ids are filtered in Python (``wanted``) instead.
    """
    where: list[str] = []
    params: list[Any] = []
    wanted: set[str] | None = None
    if kr_ids is not None:
        ids = list(dict.fromkeys(kr_ids))
        if not ids:
            return None
        if id_array:
            where.append(f"kr_id = ANY({mark})")
            params.append(ids)
        elif len(ids) <= _CHUNK:
            where.append(f"kr_id IN ({', '.join(mark for _ in ids)})")
            params.extend(ids)
        else:
            wanted = set(ids)
    if since is not None:
        where.append(f"as_of >= {mark}")
        params.append(day(since))
    if until is not None:
        where.append(f"as_of <= {mark}")
        params.append(day(until))
    return CheckinFilter(" WHERE " + " AND ".join(where) if where else "", params, wanted)


def checkins_query(where: str) -> str:
    """The readings in force matching ``where``, in reading order (rows of
    :data:`CHECKIN_COLUMNS` for :meth:`RowReader.checkins`)."""
    return f"SELECT {CHECKIN_COLUMNS} FROM checkins{where} ORDER BY {READING_ORDER}"


def history_query(where: str) -> str:
    """Every reading matching ``where``, replaced ones included, in history order (rows for
    :meth:`RowReader.history`). ``where`` stands twice: bind its parameters twice."""
    # the reading in force (replaced_at NULL) comes last among its key's readings
    return (
        f"SELECT {CHECKIN_COLUMNS}, run_id, reason, replaced_at FROM ("
        f" SELECT {CHECKIN_COLUMNS}, run_id, reason, replaced_at, seq"
        f" FROM checkin_revisions{where}"
        f" UNION ALL SELECT {CHECKIN_COLUMNS}, run_id, reason, NULL, NULL"
        f" FROM checkins{where}) AS h"
        " ORDER BY as_of, kr_id, source, replaced_at IS NULL, seq"
    )


# -- the run log -------------------------------------------------------------------------------
def _marks(mark: str, n: int) -> str:
    return ", ".join(mark for _ in range(n))


def write_run(
    cur: Cursor, run: RunRecord, *, mark: str, moment: Callable[[dt.datetime], Any],
    day: Callable[[dt.date], Any] = _same,
) -> None:
    """Record ``run``, replacing a run with its id, in the caller's transaction. ``moment``
    and ``day`` convert datetimes and dates for the driver. A non-finite value, or info JSON
    cannot hold, raises :class:`~okrcore.StoreError` before anything is written."""
    info = encode_json(run.info, f"run {run.id!r}")
    outcomes = [outcome_row(run.id, i, o) for i, o in enumerate(run.outcomes)]
    finished = None if run.finished_at is None else moment(run.finished_at)
    cur.execute(f"DELETE FROM run_outcomes WHERE run_id = {mark}", (run.id,))
    cur.execute(f"DELETE FROM runs WHERE id = {mark}", (run.id,))
    cur.execute(
        f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({_marks(mark, 5)})",
        (run.id, moment(run.started_at), finished, day(run.as_of), info),
    )
    if outcomes:
        cur.executemany(
            f"INSERT INTO run_outcomes (run_id, position, {OUTCOME_COLUMNS})"
            f" VALUES ({_marks(mark, 11)})",
            outcomes,
        )


def update_outcomes(
    cur: Cursor, run_id: str, outcomes: Mapping[int, RunOutcome], *, mark: str,
    moment: Callable[[dt.datetime], Any], finished_at: dt.datetime | None,
    info: Mapping[str, Any], store: str,
) -> None:
    """Replace the outcomes at these positions of a recorded run, and its ``finished_at`` and
    ``info``, in the caller's transaction (``Store.record_outcomes``); a run the store does not
    hold raises :class:`~okrcore.StoreError` naming ``store``."""
    text = encode_json(info, f"run {run_id!r}")
    rows = [(*outcome_row(run_id, i, o)[2:], run_id, i) for i, o in outcomes.items()]
    found = cur.execute(
        f"UPDATE runs SET finished_at = {mark}, info_json = {mark} WHERE id = {mark}",
        (None if finished_at is None else moment(finished_at), text, run_id),
    )
    if found.rowcount != 1:
        raise StoreError(f"store {store}: no run {run_id!r} to update")
    columns = ", ".join(f"{c} = {mark}" for c in OUTCOME_COLUMNS.split(", "))
    cur.executemany(
        f"UPDATE run_outcomes SET {columns} WHERE run_id = {mark} AND position = {mark}", rows
    )


def read_runs(
    cur: Cursor, where: str, params: Sequence[Any], *, mark: str, outcomes: bool = True
) -> list[RunRecord]:
    """The runs of ``SELECT ... FROM runs{where}`` (``where`` may end with ORDER BY and LIMIT),
    in that order, with their outcomes unless ``outcomes=False``."""
    heads = cur.execute(f"SELECT {RUN_COLUMNS} FROM runs{where}", params).fetchall()
    by_run: dict[str, list[RunOutcome]] = {}
    ids = [h[0] for h in heads] if outcomes else []
    for start in range(0, len(ids), _CHUNK):
        part = ids[start:start + _CHUNK]
        rows = cur.execute(
            f"SELECT run_id, {OUTCOME_COLUMNS} FROM run_outcomes"
            f" WHERE run_id IN ({_marks(mark, len(part))}) ORDER BY run_id, position",
            part,
        ).fetchall()
        for r in rows:
            by_run.setdefault(r[0], []).append(outcome_from_row(r[1:]))
    return [
        RunRecord(
            id=run_id, started_at=utc_moment(started),
            finished_at=None if finished is None else utc_moment(finished),
            as_of=dt.date.fromisoformat(as_of) if isinstance(as_of, str) else as_of,
            outcomes=by_run.get(run_id, []), info=json.loads(info),
        )
        for run_id, started, finished, as_of, info in heads
    ]


# -- events ------------------------------------------------------------------------------------
def event_deliveries_query(
    since: dt.date | None, sent: bool | None, *, mark: str, day: Callable[[dt.date], Any] = _same
) -> tuple[str, list[Any]]:
    """The query of :meth:`Store.event_deliveries` (rows for :func:`event_from_row`) and its
    parameters."""
    where: list[str] = []
    params: list[Any] = []
    if since is not None:
        where.append(f"at >= {mark}")
        params.append(day(since))
    if sent is not None:
        where.append("sent_at IS NOT NULL" if sent else "sent_at IS NULL")
    sql = (
        f"SELECT {EVENT_COLUMNS} FROM event_deliveries"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY at, event_key, destination"
    )
    return sql, params


def event_from_row(r: Sequence[Any]) -> EventDelivery:
    """The delivery of a row of :data:`EVENT_COLUMNS` (dates as ISO text or objects)."""
    return EventDelivery(
        key=r[0], destination=r[1], kind=r[2], subject=r[3],
        at=dt.date.fromisoformat(r[4]) if isinstance(r[4], str) else r[4], token=r[5],
        claimed_at=utc_moment(r[6]), sent_at=None if r[7] is None else utc_moment(r[7]),
        run_id=r[8], event=json.loads(r[9]),
    )


# -- migrations --------------------------------------------------------------------------------
def apply_migrations(
    cur: Cursor,
    migrations: Sequence[tuple[int, Sequence[str]]],
    current: int,
    *,
    record: Callable[[int], tuple[str, Sequence[Any]]],
    store: str,
    software: str,
    log: logging.Logger,
) -> tuple[int, ...]:
    """Apply the migrations newer than ``current`` in order, on ``cur`` in the caller's
    transaction (taken under the backend's lock), each recorded by the statement and parameters
    ``record(version)`` returns; returns the versions applied. A store newer than the last
    migration raises :class:`~okrcore.StoreError` (upgrade ``software``). Each migration is
    logged at INFO level naming ``store`` (never with a password)."""
    latest = migrations[-1][0]
    if current > latest:
        raise StoreError(
            f"store {store} has schema version {current}, newer than this {software} "
            f"understands ({latest}); upgrade {software}"
        )
    applied = []
    for version, statements in migrations:
        if version <= current:
            continue
        log.info("store %s: applying schema migration %d", store, version)
        for statement in statements:
            cur.execute(statement)
        cur.execute(*record(version))
        applied.append(version)
    return tuple(applied)
