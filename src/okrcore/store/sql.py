"""SQL that relational backends share: :class:`SQLStore` (every method whose SQL is the same on
every driver), and the helpers it is made of: the check-in queries and their filter, the run
log's statements and rows, the event deliveries' query, and the migration runner.

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
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import attrs

from okrcore.errors import StoreError
from okrcore.model import InitiativeChange, RunOutcome, RunRecord, StrategyChange, TargetChange

if TYPE_CHECKING:
    import logging

    from okrcore._log import Logger

from .base import (
    OUTCOME_COLUMNS,
    CheckInRecord,
    EventDelivery,
    StoreBase,
    check_target_change,
    encode_json,
    outcome_from_row,
    outcome_row,
)
from .rows import (
    INITIATIVE_CHANGE_COLUMNS,
    STRATEGY_CHANGE_COLUMNS,
    TARGET_CHANGE_COLUMNS,
    RowReader,
    changes_query,
    initiative_change_from_row,
    initiative_change_row,
    strategy_change_from_row,
    strategy_change_row,
    target_change_from_row,
    target_change_row,
    utc_moment,
)

__all__ = [
    "CHECKIN_COLUMNS",
    "EVENT_COLUMNS",
    "READING_ORDER",
    "RUN_COLUMNS",
    "CheckinFilter",
    "Cursor",
    "SQLStore",
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
        if len(ids) == 1:
            # one key result's history, the most frequent read: PostgreSQL plans ``= ANY`` of
            # a bound array worse (twice the time)
            where.append(f"kr_id = {mark}")
            params.append(ids[0])
        elif id_array:
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
    log: Logger | logging.Logger,
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


# -- a store on the built-in tables ----------------------------------------------------------
class SQLStore(StoreBase):
    """The store methods whose SQL is the same on every DB-API driver (changes, the initiative
    status history, the run log, events, check-in history), for a backend on the built-in
    tables (the SQLite store and the PostgreSQL plugin both use it).

    A subclass sets :attr:`mark` (and :attr:`ids_as_array`), implements :meth:`_cursor`, and
    converts datetimes and dates for its driver in :meth:`_moment` and :meth:`_day`; it writes
    and reads check-ins itself (``add_checkins``, ``add_checkins_by_kr``, ``checkins``: bulk
    loading and the counting upsert differ between dialects), and ``close``.
    """

    #: the driver's parameter marker
    mark: ClassVar[str] = "?"
    #: True: a list of key-result ids is bound as one array (``kr_id = ANY(%s)``)
    ids_as_array: ClassVar[bool] = False

    def _cursor(self, what: str, *, write: bool) -> AbstractContextManager[Cursor]:
        """A cursor for the ``with`` block: in one transaction, committed at its end, when
        ``write``; for reading otherwise. A driver's error becomes a
        :class:`~okrcore.StoreError` whose message names the store and says ``what`` failed."""
        raise NotImplementedError

    def _label(self) -> str:
        """The store in messages (never with a password)."""
        return repr(self)

    def _moment(self, moment: dt.datetime) -> Any:
        """A datetime as the driver stores it (naive means UTC)."""
        return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment

    def _day(self, day: dt.date) -> Any:
        """A date as the driver stores it."""
        return day

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read statement."""
        with self._cursor("cannot read", write=False) as cur:
            return list(cur.execute(sql, params).fetchall())

    def _filter(
        self, kr_ids: Sequence[str] | None, since: dt.date | None, until: dt.date | None
    ) -> CheckinFilter | None:
        """:func:`checkin_filter` for this driver."""
        return checkin_filter(kr_ids, since, until, mark=self.mark, day=self._day,
                              id_array=self.ids_as_array)

    def schema_version(self) -> int:
        """The schema version of the open database."""
        return int(self._query("SELECT MAX(version) FROM schema_version")[0][0])

    # -- check-ins ---------------------------------------------------------------------------
    def checkin_history(
        self,
        kr_ids: Sequence[str] | None = None,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> list[CheckInRecord]:
        """Every reading, replaced ones included (see :meth:`Store.checkin_history`)."""
        query = self._filter(kr_ids, since, until)
        if query is None:
            return []
        rows = self._query(history_query(query.where), query.params * 2)
        return RowReader(query.wanted).history(rows)

    # -- target and strategy changes ---------------------------------------------------------
    def add_target_change(self, change: TargetChange) -> None:
        """Record a target change (a non-finite value raises StoreError)."""
        self.add_target_changes([change])

    def add_target_changes(self, changes: Sequence[TargetChange]) -> None:
        """Record several target changes in one transaction: all, or none when one is refused."""
        for change in changes:
            check_target_change(change)
        rows = [target_change_row(c, self._moment) for c in changes]
        marks = _marks(self.mark, len(TARGET_CHANGE_COLUMNS.split(", ")))
        with self._cursor("cannot add a target change", write=True) as cur:
            cur.executemany(
                f"INSERT INTO target_changes ({TARGET_CHANGE_COLUMNS}) VALUES ({marks})", rows
            )

    def target_changes(self, kr_id: str | None = None) -> list[TargetChange]:
        """Target changes of one key result (all when ``None``), oldest first."""
        sql = changes_query("target_changes", TARGET_CHANGE_COLUMNS,
                            None if kr_id is None else "kr_id", self.mark)
        params = () if kr_id is None else (kr_id,)
        return [target_change_from_row(r) for r in self._query(sql, params)]

    def add_strategy_change(self, change: StrategyChange) -> None:
        """Record a strategy change; ``old`` and ``new`` are stored as JSON."""
        row = strategy_change_row(change, self._moment)
        with self._cursor("cannot add a strategy change", write=True) as cur:
            cur.execute(f"INSERT INTO strategy_changes ({STRATEGY_CHANGE_COLUMNS})"
                        f" VALUES ({_marks(self.mark, len(row))})", row)

    def strategy_changes(self, strategy_id: str | None = None) -> list[StrategyChange]:
        """Strategy changes of one strategy (all when ``None``), oldest first."""
        sql = changes_query("strategy_changes", STRATEGY_CHANGE_COLUMNS,
                            None if strategy_id is None else "strategy_id", self.mark)
        params = () if strategy_id is None else (strategy_id,)
        return [strategy_change_from_row(r) for r in self._query(sql, params)]

    # -- initiative status history -----------------------------------------------------------
    def add_initiative_changes(self, changes: Sequence[InitiativeChange]) -> None:
        """Record initiative statuses in one transaction: all, or none when one is refused."""
        rows = [initiative_change_row(c, self._day, self._moment) for c in changes]
        marks = _marks(self.mark, len(INITIATIVE_CHANGE_COLUMNS.split(", ")))
        with self._cursor("cannot add an initiative status", write=True) as cur:
            cur.executemany(
                f"INSERT INTO initiative_changes ({INITIATIVE_CHANGE_COLUMNS}) VALUES ({marks})",
                rows,
            )

    def initiative_changes(self, initiative_id: str | None = None) -> list[InitiativeChange]:
        """Status records of one initiative (all when ``None``), by ``at``, then as added."""
        where = "" if initiative_id is None else f" WHERE initiative_id = {self.mark}"
        sql = (f"SELECT {INITIATIVE_CHANGE_COLUMNS} FROM initiative_changes{where}"
               " ORDER BY at, seq")
        params = () if initiative_id is None else (initiative_id,)
        return [initiative_change_from_row(r) for r in self._query(sql, params)]

    # -- run log -----------------------------------------------------------------------------
    def record_run(self, run: RunRecord) -> None:
        """Record a refresh run, replacing an earlier record with the same ``run.id``."""
        with self._cursor(f"cannot record run {run.id!r}", write=True) as cur:
            write_run(cur, run, mark=self.mark, moment=self._moment, day=self._day)

    def record_outcomes(
        self,
        run_id: str,
        outcomes: Mapping[int, RunOutcome],
        *,
        finished_at: dt.datetime | None,
        info: Mapping[str, Any],
    ) -> None:
        """Replace the outcomes at these positions of a recorded run, and its ``finished_at``
        and ``info``, in one transaction (a distributed refresh merges a job's outcomes so,
        without rewriting the whole run). A run the store does not hold raises StoreError."""
        with self._cursor(f"cannot record run {run_id!r}", write=True) as cur:
            update_outcomes(cur, run_id, outcomes, mark=self.mark, moment=self._moment,
                            finished_at=finished_at, info=info, store=self._label())

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The most recent refresh runs, newest first."""
        return self._runs(f" ORDER BY started_at DESC, id DESC LIMIT {self.mark}",
                          (max(int(limit), 0),))

    def run(self, run_id: str, *, outcomes: bool = True) -> RunRecord | None:
        """One refresh run by its id, or ``None`` when the store has no such run;
        ``outcomes=False`` leaves its outcomes out (cheap, for a run of thousands)."""
        found = self._runs(f" WHERE id = {self.mark}", (run_id,), outcomes=outcomes)
        return found[0] if found else None

    def _runs(self, where: str, params: Sequence[Any], *, outcomes: bool = True
              ) -> list[RunRecord]:
        with self._cursor("cannot read runs", write=False) as cur:
            return read_runs(cur, where, params, mark=self.mark, outcomes=outcomes)

    # -- events ------------------------------------------------------------------------------
    def claim_event(self, delivery: EventDelivery, *, stale_before: dt.datetime) -> bool:
        """Claim an event's delivery for sending (see :meth:`Store.claim_event`)."""
        d = delivery
        row = (d.key, d.destination, d.kind, d.subject, self._day(d.at), d.token,
               self._moment(d.claimed_at), d.run_id, encode_json(d.event, f"event {d.key!r}"),
               self._moment(stale_before))
        # a claim is taken when there is no row yet, or over an unsent claim older than
        # stale_before (its sender died); a sent row or a fresh claim stays (rowcount 0)
        sql = (
            f"INSERT INTO event_deliveries (event_key, destination, kind, subject, at, token,"
            f" claimed_at, run_id, event_json) VALUES ({_marks(self.mark, 9)})"
            " ON CONFLICT (event_key, destination) DO UPDATE SET token = excluded.token,"
            " claimed_at = excluded.claimed_at, run_id = excluded.run_id,"
            " event_json = excluded.event_json"
            f" WHERE event_deliveries.sent_at IS NULL AND event_deliveries.claimed_at < {self.mark}"
        )
        with self._cursor(f"cannot claim event {d.key!r}", write=True) as cur:
            return bool(cur.execute(sql, row).rowcount > 0)

    def finish_event(
        self, key: str, destination: str, token: str, *, sent_at: dt.datetime | None
    ) -> None:
        """Record a claimed delivery as sent, or drop the claim (see :meth:`Store.finish_event`)."""
        m = self.mark
        where = f" WHERE event_key = {m} AND destination = {m} AND token = {m} AND sent_at IS NULL"
        with self._cursor(f"cannot finish event {key!r}", write=True) as cur:
            if sent_at is None:
                cur.execute("DELETE FROM event_deliveries" + where, (key, destination, token))
            else:
                cur.execute(f"UPDATE event_deliveries SET sent_at = {m}" + where,
                            (self._moment(sent_at), key, destination, token))

    def event_deliveries(
        self, *, since: dt.date | None = None, sent: bool | None = True
    ) -> list[EventDelivery]:
        """Recorded event deliveries (see :meth:`Store.event_deliveries`)."""
        sql, params = event_deliveries_query(since, sent, mark=self.mark, day=self._day)
        return [event_from_row(r) for r in self._query(sql, params)]
