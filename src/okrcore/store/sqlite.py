"""The embedded store: one SQLite file (``sqlite:///path``) or a private in-memory database
(``memory://``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from okrcore._log import get_logger
from okrcore.errors import StoreError, StoreNotFoundError
from okrcore.model import CheckIn

from .base import (
    AddResult,
    latest_per_key,
)
from .rows import (
    RowReader,
)
from .sql import (
    SQLStore,
    apply_migrations,
    checkins_query,
)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "MemoryStore", "SQLiteStore"]

log = get_logger(__name__)

# A reading replaced by a different one moves to checkin_revisions, inside the same statement
# (created by migration 3, again by 7 on the rebuilt table).
_KEEP_REVISION = """CREATE TRIGGER checkins_keep_revision BEFORE UPDATE ON checkins
BEGIN
    INSERT INTO checkin_revisions (kr_id, as_of, source, value, recorded_at, author,
        note, confidence, run_id, reason, replaced_at)
    VALUES (OLD.kr_id, OLD.as_of, OLD.source, OLD.value, OLD.recorded_at, OLD.author,
        OLD.note, OLD.confidence, OLD.run_id, OLD.reason, NEW.recorded_at);
END"""

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
            _KEEP_REVISION,
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
    (
        7,
        (
            # Check-ins clustered by key result: the table becomes a WITHOUT ROWID table keyed by
            # (kr_id, as_of, source), so one key result's history is a few adjacent pages instead
            # of one page per reading; the reading-order index covers every column checkins()
            # reads, so reading everything is one index scan with no lookup per row. Renaming
            # the old table keeps its trigger and indexes on it, and dropping it drops them.
            "ALTER TABLE checkins RENAME TO checkins_before_7",
            """CREATE TABLE checkins (
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
                PRIMARY KEY (kr_id, as_of, source)
            ) WITHOUT ROWID""",
            "INSERT INTO checkins (kr_id, as_of, source, value, recorded_at, author, note,"
            " confidence, run_id, reason) SELECT kr_id, as_of, source, value, recorded_at,"
            " author, note, confidence, run_id, reason FROM checkins_before_7"
            " ORDER BY kr_id, as_of, source",
            "DROP TABLE checkins_before_7",
            "CREATE INDEX checkins_order ON checkins (as_of, recorded_at, kr_id, source, value,"
            " author, note, confidence)",
            _KEEP_REVISION,
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

_INSERT = (
    "INSERT INTO checkins (kr_id, as_of, source, value, recorded_at, author, note, confidence,"
    " run_id, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT = (
    _INSERT +
    " ON CONFLICT (kr_id, as_of, source) DO UPDATE SET value = excluded.value,"
    " recorded_at = excluded.recorded_at, author = excluded.author, note = excluded.note,"
    " confidence = excluded.confidence, run_id = excluded.run_id, reason = excluded.reason"
    " WHERE checkins.value IS NOT excluded.value OR checkins.author IS NOT excluded.author"
    " OR checkins.note IS NOT excluded.note OR checkins.confidence IS NOT excluded.confidence"
)

def utc_text(moment: dt.datetime) -> str:
    """Fixed-width UTC ISO text, so that text order is time order. Naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")



def _rows(
    checkins: Iterable[CheckIn], run_id: str | None, reason: str | None
) -> list[tuple[Any, ...]]:
    """The rows to write (:func:`~okrcore.store.latest_per_key`), in the order given: a write
    takes the whole file's lock, so row order cannot deadlock and needs no sorting."""
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


class SQLiteStore(SQLStore):
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
            now = utc_text(dt.datetime.now(dt.timezone.utc))
            self.applied_migrations = apply_migrations(
                cur, MIGRATIONS, current, store=self.path, software="okrcore", log=log,
                record=lambda version: (
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (version, now),
                ),
            )

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

    @contextlib.contextmanager
    def _cursor(self, what: str, *, write: bool) -> Iterator[sqlite3.Cursor]:
        """A cursor in one BEGIN IMMEDIATE transaction when ``write``, else for reading (see
        :meth:`SQLStore._cursor`)."""
        try:
            if write:
                with self._transaction() as cur:
                    yield cur
                return
            with self._lock:
                cur = self._connection().cursor()
                try:
                    yield cur
                finally:
                    cur.close()
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path!r}: {what}: {exc}") from None

    def _label(self) -> str:
        return repr(self.path)

    def _moment(self, moment: dt.datetime) -> str:
        return utc_text(moment)

    def _day(self, day: dt.date) -> str:
        return day.isoformat()

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
                if self._insert_new(cur, rows):
                    return AddResult(new=len(rows))
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
        rows = _rows(checkins, run_id, reason)
        by_kr: dict[str, list[tuple[Any, ...]]] = {}
        for row in rows:
            by_kr.setdefault(row[0], []).append(row)
        if not by_kr:
            return {}
        try:
            with self._transaction() as cur:
                if self._insert_new(cur, rows):
                    return {kr_id: AddResult(new=len(mine)) for kr_id, mine in by_kr.items()}
                return {kr_id: self._upsert(cur, mine) for kr_id, mine in by_kr.items()}
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path!r}: cannot add check-ins: {exc}") from None

    @staticmethod
    def _insert_new(cur: sqlite3.Cursor, rows: list[tuple[Any, ...]]) -> bool:
        """Insert rows none of whose keys is stored yet (an import, a day's first refresh) with
        a plain INSERT, a third faster than the upsert, which looks every key up before
        writing it; False, with nothing written, when a key is stored (then the upsert
        compares them)."""
        cur.execute("SAVEPOINT okrcore_new")
        try:
            cur.executemany(_INSERT, rows)
        except sqlite3.IntegrityError:
            cur.execute("ROLLBACK TO okrcore_new")
            cur.execute("RELEASE okrcore_new")
            return False
        cur.execute("RELEASE okrcore_new")
        return True

    def _upsert(self, cur: sqlite3.Cursor, rows: list[tuple[Any, ...]]) -> AddResult:
        conn = self._connection()
        before = conn.total_changes
        cur.executemany(_UPSERT, rows)
        written = max(cur.rowcount, 0)
        # the trigger's inserts count in total_changes, not in rowcount
        revised = conn.total_changes - before - written
        return AddResult(new=written - revised, revised=revised)

    def checkins(
        self,
        kr_ids: Sequence[str] | None = None,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> list[CheckIn]:
        """Readings in force of the given key results (all when ``None``) with
        since <= as_of <= until, ordered by ``as_of``, ``recorded_at``, ``kr_id``, ``source``."""
        query = self._filter(kr_ids, since, until)
        if query is None:
            return []
        with self._lock:
            try:
                cursor = self._connection().execute(checkins_query(query.where), query.params)
                return RowReader(query.wanted).checkins(cursor)
            except sqlite3.Error as exc:
                raise StoreError(f"store {self.path!r}: {exc}") from None

    # -- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection; further use raises :class:`~okrcore.StoreError`."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

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
