"""The embedded store: one SQLite file (``sqlite:///path``) or a private in-memory database
(``memory://``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from okrcore.errors import StoreError, StoreNotFoundError
from okrcore.model import (
    CheckIn,
    InitiativeChange,
    RunOutcome,
    RunRecord,
    StrategyChange,
    TargetChange,
)

from .base import (
    OUTCOME_COLUMNS,
    AddResult,
    CheckInRecord,
    EventDelivery,
    check_target_change,
    encode_json,
    latest_per_key,
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

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "MemoryStore", "SQLiteStore"]

log = logging.getLogger(__name__)

# Dates and datetimes are ISO text (datetimes fixed-width UTC, so that text order is time order),
# values DOUBLE PRECISION, JSON in TEXT columns.
#
# version -> statements; applied in order, each version once, in one BEGIN IMMEDIATE transaction
# at open (docs/stores.md#migrations). Never edit a released version: add one.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE checkins (
                kr_id TEXT NOT NULL,
                as_of TEXT NOT NULL,
                source TEXT NOT NULL,
                value DOUBLE PRECISION NOT NULL,
                recorded_at TEXT NOT NULL,
                author TEXT,
                note TEXT,
                confidence DOUBLE PRECISION,
                PRIMARY KEY (kr_id, as_of, source)
            )""",
            """CREATE TABLE target_changes (
                seq INTEGER PRIMARY KEY,
                kr_id TEXT NOT NULL,
                field TEXT NOT NULL,
                old_value DOUBLE PRECISION,
                new_value DOUBLE PRECISION,
                reason TEXT NOT NULL,
                changed_at TEXT NOT NULL,
                author TEXT
            )""",
            """CREATE TABLE strategy_changes (
                seq INTEGER PRIMARY KEY,
                strategy_id TEXT NOT NULL,
                field TEXT NOT NULL,
                old_json TEXT NOT NULL,
                new_json TEXT NOT NULL,
                reason TEXT NOT NULL,
                changed_at TEXT NOT NULL,
                author TEXT
            )""",
            """CREATE TABLE runs (
                id TEXT PRIMARY KEY,
                started_at TEXT NOT NULL,
                finished_at TEXT,
                as_of TEXT NOT NULL,
                info_json TEXT NOT NULL
            )""",
            """CREATE TABLE run_outcomes (
                run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                kr_id TEXT NOT NULL,
                status TEXT NOT NULL,
                connection TEXT,
                value DOUBLE PRECISION,
                stored INTEGER NOT NULL,
                error TEXT,
                kind TEXT,
                warnings_json TEXT NOT NULL,
                PRIMARY KEY (run_id, position)
            )""",
        ),
    ),
    (
        2,
        (
            "CREATE INDEX checkins_as_of ON checkins (as_of, recorded_at)",
            "CREATE INDEX target_changes_kr ON target_changes (kr_id, changed_at)",
            "CREATE INDEX strategy_changes_strategy ON strategy_changes (strategy_id, changed_at)",
            "CREATE INDEX runs_started ON runs (started_at)",
        ),
    ),
    (
        3,
        (
            # Revisions: `checkins` holds the readings in force; a reading replaced by a different
            # one moves to `checkin_revisions` (the trigger does it inside the same statement).
            "ALTER TABLE checkins ADD COLUMN run_id TEXT",
            "ALTER TABLE checkins ADD COLUMN reason TEXT",
            """CREATE TABLE checkin_revisions (
                seq INTEGER PRIMARY KEY,
                kr_id TEXT NOT NULL,
                as_of TEXT NOT NULL,
                source TEXT NOT NULL,
                value DOUBLE PRECISION NOT NULL,
                recorded_at TEXT NOT NULL,
                author TEXT,
                note TEXT,
                confidence DOUBLE PRECISION,
                run_id TEXT,
                reason TEXT,
                replaced_at TEXT NOT NULL
            )""",
            "CREATE INDEX checkin_revisions_key ON checkin_revisions (kr_id, as_of, source, seq)",
            """CREATE TRIGGER checkins_keep_revision BEFORE UPDATE ON checkins
            BEGIN
                INSERT INTO checkin_revisions (kr_id, as_of, source, value, recorded_at, author,
                    note, confidence, run_id, reason, replaced_at)
                VALUES (OLD.kr_id, OLD.as_of, OLD.source, OLD.value, OLD.recorded_at, OLD.author,
                    OLD.note, OLD.confidence, OLD.run_id, OLD.reason, NEW.recorded_at);
            END""",
            # The index matches checkins()'s ORDER BY, so reading everything needs no sort.
            "DROP INDEX checkins_as_of",
            "CREATE INDEX checkins_order ON checkins (as_of, recorded_at, kr_id, source)",
            "ALTER TABLE run_outcomes ADD COLUMN revised INTEGER NOT NULL DEFAULT 0",
        ),
    ),
    (
        4,
        (
            # Linked target changes: the changes of one move share a link (NULL: not linked).
            "ALTER TABLE target_changes ADD COLUMN link TEXT",
        ),
    ),
    (
        5,
        (
            # Events sent once: one row per (event, destination), a claim until sent_at is set.
            """CREATE TABLE event_deliveries (
                event_key TEXT NOT NULL,
                destination TEXT NOT NULL,
                kind TEXT NOT NULL,
                subject TEXT NOT NULL,
                at TEXT NOT NULL,
                token TEXT NOT NULL,
                claimed_at TEXT NOT NULL,
                sent_at TEXT,
                run_id TEXT,
                event_json TEXT NOT NULL,
                PRIMARY KEY (event_key, destination)
            )""",
            "CREATE INDEX event_deliveries_at ON event_deliveries (at, event_key, destination)",
        ),
    ),
    (
        6,
        (
            # Initiative status history: each status as first seen, then each change.
            """CREATE TABLE initiative_changes (
                seq INTEGER PRIMARY KEY,
                initiative_id TEXT NOT NULL,
                status TEXT NOT NULL,
                was TEXT,
                at TEXT NOT NULL,
                source TEXT NOT NULL,
                recorded_at TEXT NOT NULL,
                run_id TEXT
            )""",
            "CREATE INDEX initiative_changes_order ON initiative_changes (initiative_id, at, seq)",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

# More ids than this in one ``IN (...)`` are filtered in Python (SQLite's variable limit).
_MAX_IN_IDS = 500

_CHECKIN_COLUMNS = "kr_id, value, as_of, source, recorded_at, author, note, confidence"
_UPSERT = (
    "INSERT INTO checkins (kr_id, as_of, source, value, recorded_at, author, note, confidence,"
    " run_id, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (kr_id, as_of, source) DO UPDATE SET value = excluded.value,"
    " recorded_at = excluded.recorded_at, author = excluded.author, note = excluded.note,"
    " confidence = excluded.confidence, run_id = excluded.run_id, reason = excluded.reason"
    " WHERE checkins.value IS NOT excluded.value OR checkins.author IS NOT excluded.author"
    " OR checkins.note IS NOT excluded.note OR checkins.confidence IS NOT excluded.confidence"
)

# A claim is taken when there is no row yet, or over an unsent claim older than the last
# parameter (its sender died); a sent row or a fresh claim stays, and rowcount is then 0.
_CLAIM = (
    "INSERT INTO event_deliveries (event_key, destination, kind, subject, at, token,"
    " claimed_at, run_id, event_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (event_key, destination) DO UPDATE SET token = excluded.token,"
    " claimed_at = excluded.claimed_at, run_id = excluded.run_id,"
    " event_json = excluded.event_json"
    " WHERE event_deliveries.sent_at IS NULL AND event_deliveries.claimed_at < ?"
)

_UPDATE_OUTCOME = (
    "UPDATE run_outcomes SET kr_id = ?, status = ?, connection = ?, value = ?, stored = ?,"
    " revised = ?, error = ?, kind = ?, warnings_json = ? WHERE run_id = ? AND position = ?"
)


def utc_text(moment: dt.datetime) -> str:
    """Fixed-width UTC ISO text, so that text order is time order. Naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")



def _rows(
    checkins: Iterable[CheckIn], run_id: str | None, reason: str | None
) -> list[tuple[Any, ...]]:
    """The rows to upsert (:func:`~okrcore.store.latest_per_key`), in the order given: a write
    takes the whole file's lock, so row order cannot deadlock, and the given order (often by
    day) is the reading-order index's, which writes a large batch faster than key order."""
    # a batch has few distinct days and times (a refresh records one time): text each once
    days: dict[dt.date, str] = {}
    times: dict[dt.datetime, str] = {}
    rows = []
    for c in latest_per_key(checkins, by_key=False):
        day = days.get(c.as_of)
        if day is None:
            day = days[c.as_of] = c.as_of.isoformat()
        recorded = times.get(c.recorded_at)
        if recorded is None:
            recorded = times[c.recorded_at] = utc_text(c.recorded_at)
        rows.append(
            (c.kr_id, day, c.source, c.value, recorded, c.author, c.note, c.confidence,
             run_id, reason)
        )
    return rows


class SQLiteStore:
    """The embedded store: one SQLite file (WAL mode), or an in-memory database.

    One connection, guarded by a lock, serves every thread (the refresh engine writes from worker
    threads); other processes may use the same file (docs/stores.md#concurrency). Pending
    migrations are applied in order when the store opens. ``create=False`` refuses a file that
    is not already an okrcore store (:class:`~okrcore.StoreNotFoundError`).

    Usable as a context manager, which closes it.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = os.fspath(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        #: schema versions this open applied (empty when the store was up to date)
        self.applied_migrations: tuple[int, ...] = ()
        if not create and (self.path == ":memory:" or not os.path.isfile(self.path)):
            raise StoreNotFoundError(
                f"no store at sqlite:///{self.path}: the file does not exist (only `okr refresh`"
                " and `okr checkin` create a store; check the --store URL)"
            )
        try:
            # timeout: the busy timeout, so that a writer waits for another process's short
            # transaction instead of failing with "database is locked"
            conn = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=60.0
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store {self.path!r}: {exc}") from None
        self._conn = conn
        try:
            self._setup(conn)
            self._migrate(create)
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(f"cannot use SQLite store {self.path!r}: {exc}") from None
        except StoreError:
            self.close()
            raise

    @classmethod
    def from_url(cls, url: str, *, create: bool = True) -> SQLiteStore:
        """Open ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or ``sqlite:///:memory:``."""
        scheme, sep, rest = url.partition("://")
        if scheme != "sqlite" or not sep or not rest.startswith("/") or rest == "/":
            raise StoreError(
                f"bad SQLite store URL {url!r}: expected sqlite:///relative/path.db "
                "or sqlite:////absolute/path.db"
            )
        path = rest[1:].split("?", 1)[0]
        if path == ":memory:":
            return MemoryStore()
        return cls(path, create=create)

    # -- set-up ------------------------------------------------------------------------------
    def _setup(self, conn: sqlite3.Connection) -> None:
        cur = conn.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            mode = cur.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise StoreError(f"cannot switch {self.path!r} to WAL mode (got {mode!r})")
            cur.execute("PRAGMA synchronous = NORMAL")
            # a page cache of up to 64 MiB instead of 2: the two check-in indexes of a large
            # store fit, which halves the time of writing or reading 100,000 check-ins
            cur.execute("PRAGMA cache_size = -65536")

    def _migrate(self, create: bool) -> None:
        with self._transaction() as cur:
            exists = cur.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
            ).fetchone()
            if not exists and not create:
                raise StoreNotFoundError(
                    f"no store at sqlite:///{self.path}: the file is not an okrcore store"
                    " (check the --store URL)"
                )
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            row = cur.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = int(row[0]) if row and row[0] is not None else 0
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"store {self.path!r} has schema version {current}, newer than this okrcore "
                    f"understands ({SCHEMA_VERSION}); upgrade okrcore"
                )
            now = utc_text(dt.datetime.now(dt.timezone.utc))
            applied = []
            for version, statements in MIGRATIONS:
                if version <= current:
                    continue
                log.info("store %s: applying schema migration %d", self.path, version)
                for statement in statements:
                    cur.execute(statement)
                cur.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (version, now),
                )
                applied.append(version)
            self.applied_migrations = tuple(applied)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._connection().cursor()
            # IMMEDIATE takes the write lock at once, so two processes migrating or writing the
            # same file wait for each other instead of failing half-way.
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
            finally:
                cur.close()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"store {self.path!r} is closed")
        return self._conn

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._connection().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"store {self.path!r}: {exc}") from None

    def schema_version(self) -> int:
        """The schema version of the open database."""
        return int(self._query("SELECT MAX(version) FROM schema_version")[0][0])

    # -- check-ins -----------------------------------------------------------------------------
    def add_checkins(
        self,
        checkins: Iterable[CheckIn],
        *,
        run_id: str | None = None,
        reason: str | None = None,
    ) -> AddResult:
        """Store readings; a different reading for a stored key is a revision (see
        :class:`~okrcore.store.Store`). Returns the new and revised counts."""
        rows = _rows(checkins, run_id, reason)
        if not rows:
            return AddResult()
        try:
            with self._transaction() as cur:
                return self._upsert(cur, rows)
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path!r}: cannot add check-ins: {exc}") from None

    def add_checkins_by_kr(
        self,
        checkins: Iterable[CheckIn],
        *,
        run_id: str | None = None,
        reason: str | None = None,
    ) -> dict[str, AddResult]:
        """:meth:`add_checkins` in one transaction, counted per key result (a refresh stores
        every key result's readings with one commit and still reports each one's counts)."""
        by_kr: dict[str, list[tuple[Any, ...]]] = {}
        for row in _rows(checkins, run_id, reason):
            by_kr.setdefault(row[0], []).append(row)
        if not by_kr:
            return {}
        try:
            with self._transaction() as cur:
                counts = {kr_id: self._upsert(cur, rows) for kr_id, rows in by_kr.items()}
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path!r}: cannot add check-ins: {exc}") from None
        return counts

    def _upsert(self, cur: sqlite3.Cursor, rows: list[tuple[Any, ...]]) -> AddResult:
        conn = self._connection()
        before = conn.total_changes
        cur.executemany(_UPSERT, rows)
        written = max(cur.rowcount, 0)
        # the trigger's inserts count in total_changes, not in rowcount
        revised = conn.total_changes - before - written
        return AddResult(new=written - revised, revised=revised)

    def _where(
        self,
        kr_ids: Sequence[str] | None,
        since: dt.date | None,
        until: dt.date | None,
    ) -> tuple[str, list[Any], set[str] | None] | None:
        """The WHERE clause of a check-in query, its parameters and the ids to filter in Python
        (``None`` when no key result is asked for)."""
        where: list[str] = []
        params: list[Any] = []
        wanted: set[str] | None = None
        if kr_ids is not None:
            ids = list(dict.fromkeys(kr_ids))
            if not ids:
                return None
            if len(ids) <= _MAX_IN_IDS:
                where.append(f"kr_id IN ({', '.join('?' for _ in ids)})")
                params.extend(ids)
            else:
                wanted = set(ids)
        if since is not None:
            where.append("as_of >= ?")
            params.append(since.isoformat())
        if until is not None:
            where.append("as_of <= ?")
            params.append(until.isoformat())
        return (" WHERE " + " AND ".join(where) if where else ""), params, wanted

    def checkins(
        self,
        kr_ids: Sequence[str] | None = None,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> list[CheckIn]:
        """Readings in force of the given key results (all when ``None``) with
        since <= as_of <= until, ordered by ``as_of``, ``recorded_at``, ``kr_id``, ``source``."""
        query = self._where(kr_ids, since, until)
        if query is None:
            return []
        where, params, wanted = query
        sql = (
            f"SELECT {_CHECKIN_COLUMNS} FROM checkins{where}"
            " ORDER BY as_of, recorded_at, kr_id, source"
        )
        with self._lock:
            try:
                cursor = self._connection().execute(sql, params)
                return RowReader(wanted).checkins(cursor)
            except sqlite3.Error as exc:
                raise StoreError(f"store {self.path!r}: {exc}") from None

    def checkin_history(
        self,
        kr_ids: Sequence[str] | None = None,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> list[CheckInRecord]:
        """Every reading, replaced ones included (see :meth:`Store.checkin_history`)."""
        query = self._where(kr_ids, since, until)
        if query is None:
            return []
        where, params, wanted = query
        # the reading in force (replaced_at NULL) comes last among its key's readings
        sql = (
            f"SELECT {_CHECKIN_COLUMNS}, run_id, reason, replaced_at FROM ("
            f" SELECT {_CHECKIN_COLUMNS}, run_id, reason, replaced_at, seq"
            f" FROM checkin_revisions{where}"
            f" UNION ALL SELECT {_CHECKIN_COLUMNS}, run_id, reason, NULL, NULL"
            f" FROM checkins{where})"
            " ORDER BY as_of, kr_id, source, replaced_at IS NULL, seq"
        )
        rows = self._query(sql, params + params)
        return RowReader(wanted).history(rows)

    # -- target and strategy changes -----------------------------------------------------------
    def add_target_change(self, change: TargetChange) -> None:
        """Record a target change (a non-finite value raises StoreError)."""
        self.add_target_changes([change])

    def add_target_changes(self, changes: Sequence[TargetChange]) -> None:
        """Record several target changes in one transaction: all, or none when one is refused."""
        for change in changes:
            check_target_change(change)
        rows = [target_change_row(c, utc_text) for c in changes]
        marks = ", ".join("?" for _ in TARGET_CHANGE_COLUMNS.split(", "))
        try:
            with self._transaction() as cur:
                cur.executemany(
                    f"INSERT INTO target_changes ({TARGET_CHANGE_COLUMNS}) VALUES ({marks})", rows
                )
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path!r}: cannot add a target change: {exc}") from None

    def target_changes(self, kr_id: str | None = None) -> list[TargetChange]:
        """Target changes of one key result (all when ``None``), oldest first."""
        sql = changes_query("target_changes", TARGET_CHANGE_COLUMNS,
                            None if kr_id is None else "kr_id", "?")
        params = () if kr_id is None else (kr_id,)
        return [target_change_from_row(r) for r in self._query(sql, params)]

    def add_strategy_change(self, change: StrategyChange) -> None:
        """Record a strategy change; ``old`` and ``new`` are stored as JSON."""
        self._insert("strategy_changes", STRATEGY_CHANGE_COLUMNS,
                     strategy_change_row(change, utc_text), "a strategy change")

    def strategy_changes(self, strategy_id: str | None = None) -> list[StrategyChange]:
        """Strategy changes of one strategy (all when ``None``), oldest first."""
        sql = changes_query("strategy_changes", STRATEGY_CHANGE_COLUMNS,
                            None if strategy_id is None else "strategy_id", "?")
        params = () if strategy_id is None else (strategy_id,)
        return [strategy_change_from_row(r) for r in self._query(sql, params)]

    # -- initiative status history ---------------------------------------------------------------
    def add_initiative_changes(self, changes: Sequence[InitiativeChange]) -> None:
        """Record initiative statuses in one transaction: all, or none when one is refused."""
        rows = [initiative_change_row(c, dt.date.isoformat, utc_text) for c in changes]
        marks = ", ".join("?" for _ in INITIATIVE_CHANGE_COLUMNS.split(", "))
        sql = f"INSERT INTO initiative_changes ({INITIATIVE_CHANGE_COLUMNS}) VALUES ({marks})"
        try:
            with self._transaction() as cur:
                cur.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise StoreError(
                f"store {self.path!r}: cannot add an initiative status: {exc}"
            ) from None

    def initiative_changes(self, initiative_id: str | None = None) -> list[InitiativeChange]:
        """Status records of one initiative (all when ``None``), by ``at``, then as added."""
        where = "" if initiative_id is None else " WHERE initiative_id = ?"
        sql = (f"SELECT {INITIATIVE_CHANGE_COLUMNS} FROM initiative_changes{where}"
               " ORDER BY at, seq")
        params = () if initiative_id is None else (initiative_id,)
        return [initiative_change_from_row(r) for r in self._query(sql, params)]

    def _insert(self, table: str, columns: str, row: Sequence[Any], what: str) -> None:
        marks = ", ".join("?" for _ in row)
        try:
            with self._transaction() as cur:
                cur.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", row)
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path!r}: cannot add {what}: {exc}") from None

    # -- run log -------------------------------------------------------------------------------
    def record_run(self, run: RunRecord) -> None:
        """Record a refresh run, replacing an earlier record with the same ``run.id``."""
        info = encode_json(run.info, f"run {run.id!r}")
        outcomes = [outcome_row(run.id, i, o) for i, o in enumerate(run.outcomes)]
        try:
            with self._transaction() as cur:
                cur.execute("DELETE FROM run_outcomes WHERE run_id = ?", (run.id,))
                cur.execute("DELETE FROM runs WHERE id = ?", (run.id,))
                cur.execute(
                    "INSERT INTO runs (id, started_at, finished_at, as_of, info_json)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (
                        run.id,
                        utc_text(run.started_at),
                        None if run.finished_at is None else utc_text(run.finished_at),
                        run.as_of.isoformat(),
                        info,
                    ),
                )
                cur.executemany(
                    "INSERT INTO run_outcomes (run_id, position, kr_id, status, connection, value,"
                    " stored, revised, error, kind, warnings_json)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    outcomes,
                )
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path!r}: cannot record run {run.id!r}: {exc}") from None

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
        text = encode_json(info, f"run {run_id!r}")
        rows = [(*outcome_row(run_id, i, o)[2:], run_id, i) for i, o in outcomes.items()]
        try:
            with self._transaction() as cur:
                cur.execute(
                    "UPDATE runs SET finished_at = ?, info_json = ? WHERE id = ?",
                    (None if finished_at is None else utc_text(finished_at), text, run_id),
                )
                if cur.rowcount != 1:
                    raise StoreError(f"store {self.path!r}: no run {run_id!r} to update")
                cur.executemany(_UPDATE_OUTCOME, rows)
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path!r}: cannot record run {run_id!r}: {exc}") from None

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The most recent refresh runs, newest first."""
        heads = self._query(
            "SELECT id, started_at, finished_at, as_of, info_json FROM runs"
            " ORDER BY started_at DESC, id DESC LIMIT ?",
            (max(int(limit), 0),),
        )
        return [self._run(head) for head in heads]

    def run(self, run_id: str, *, outcomes: bool = True) -> RunRecord | None:
        """One refresh run by its id, or ``None`` when the store has no such run;
        ``outcomes=False`` leaves its outcomes out (cheap, for a run of thousands)."""
        heads = self._query(
            "SELECT id, started_at, finished_at, as_of, info_json FROM runs WHERE id = ?",
            (run_id,),
        )
        return self._run(heads[0], outcomes=outcomes) if heads else None

    def _run(self, head: tuple[Any, ...], *, outcomes: bool = True) -> RunRecord:
        run_id, started, finished, as_of, info = head
        rows = self._query(
            f"SELECT {OUTCOME_COLUMNS} FROM run_outcomes WHERE run_id = ? ORDER BY position",
            (run_id,),
        ) if outcomes else []
        return RunRecord(
            id=run_id,
            started_at=utc_moment(started),
            finished_at=None if finished is None else utc_moment(finished),
            as_of=dt.date.fromisoformat(as_of),
            outcomes=[outcome_from_row(r) for r in rows],
            info=json.loads(info),
        )

    # -- events ----------------------------------------------------------------------------------
    def claim_event(self, delivery: EventDelivery, *, stale_before: dt.datetime) -> bool:
        """Claim an event's delivery for sending (see :meth:`Store.claim_event`)."""
        d = delivery
        row = (
            d.key, d.destination, d.kind, d.subject, d.at.isoformat(), d.token,
            utc_text(d.claimed_at), d.run_id, encode_json(d.event, f"event {d.key!r}"),
        )
        try:
            with self._transaction() as cur:
                cur.execute(_CLAIM, (*row, utc_text(stale_before)))
                return cur.rowcount > 0
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path!r}: cannot claim event {d.key!r}: {exc}") from None

    def finish_event(
        self, key: str, destination: str, token: str, *, sent_at: dt.datetime | None
    ) -> None:
        """Record a claimed delivery as sent, or drop the claim (see :meth:`Store.finish_event`)."""
        where = " WHERE event_key = ? AND destination = ? AND token = ? AND sent_at IS NULL"
        try:
            with self._transaction() as cur:
                if sent_at is None:
                    cur.execute("DELETE FROM event_deliveries" + where, (key, destination, token))
                else:
                    cur.execute(
                        "UPDATE event_deliveries SET sent_at = ?" + where,
                        (utc_text(sent_at), key, destination, token),
                    )
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path!r}: cannot finish event {key!r}: {exc}") from None

    def event_deliveries(
        self, *, since: dt.date | None = None, sent: bool | None = True
    ) -> list[EventDelivery]:
        """Recorded event deliveries (see :meth:`Store.event_deliveries`)."""
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append("at >= ?")
            params.append(since.isoformat())
        if sent is not None:
            where.append("sent_at IS NOT NULL" if sent else "sent_at IS NULL")
        sql = (
            "SELECT event_key, destination, kind, subject, at, token, claimed_at, sent_at,"
            " run_id, event_json FROM event_deliveries"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY at, event_key, destination"
        )
        return [
            EventDelivery(
                key=r[0], destination=r[1], kind=r[2], subject=r[3],
                at=dt.date.fromisoformat(r[4]), token=r[5], claimed_at=utc_moment(r[6]),
                sent_at=None if r[7] is None else utc_moment(r[7]), run_id=r[8],
                event=json.loads(r[9]),
            )
            for r in self._query(sql, params)
        ]

    # -- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection; further use raises :class:`~okrcore.StoreError`."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"


class MemoryStore(SQLiteStore):
    """A private in-memory store (``memory://``): the SQLite backend on ``:memory:``.

    Each instance is its own empty database, gone when closed. For tests and embedding.
    """

    def __init__(self) -> None:
        super().__init__(":memory:")

    @classmethod
    def from_url(cls, url: str, *, create: bool = True) -> MemoryStore:
        """Open ``memory://`` (anything after the scheme is ignored). A memory store is always
        new, so ``create=False`` refuses it."""
        if not url.startswith("memory://"):
            raise StoreError(f"bad memory store URL {url!r}: expected memory://")
        if not create:
            raise StoreNotFoundError(
                f"no store at {url}: a memory store starts empty and is gone when closed"
            )
        return cls()
