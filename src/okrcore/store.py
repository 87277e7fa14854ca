"""The check-in store: check-ins, target and strategy changes, and the refresh run log.

:class:`Store` is the interface a backend implements (a plugin may add one through the
``okrcore_register_stores`` hook). :func:`open_store` picks a backend by URL scheme:
``sqlite:///path/to/okr.db`` (the embedded default) or ``memory://`` (tests and embedding).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import StoreError
from .model import CheckIn, RunOutcome, RunRecord, StrategyChange, TargetChange

if TYPE_CHECKING:
    from .plugins import PluginManager

__all__ = ["MemoryStore", "SQLiteStore", "Store", "open_store"]


@runtime_checkable
class Store(Protocol):
    """What every check-in store backend provides.

    Check-ins are append-only: writing one whose ``(kr_id, as_of, source)`` is already stored
    stores nothing. Lists come back in ``as_of`` (or time) order, oldest first.
    """

    def add_checkins(self, checkins: Iterable[CheckIn]) -> int:
        """Store check-ins; return how many were new."""
        ...

    def checkins(
        self,
        kr_ids: Sequence[str] | None = None,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> list[CheckIn]:
        """Check-ins of the given key results (all when ``None``) with since <= as_of <= until."""
        ...

    def add_target_change(self, change: TargetChange) -> None:
        """Record a target change."""
        ...

    def target_changes(self, kr_id: str | None = None) -> list[TargetChange]:
        """Target changes of one key result (all when ``None``), oldest first."""
        ...

    def add_strategy_change(self, change: StrategyChange) -> None:
        """Record a strategy change."""
        ...

    def strategy_changes(self, strategy_id: str | None = None) -> list[StrategyChange]:
        """Strategy changes of one strategy (all when ``None``), oldest first."""
        ...

    def record_run(self, run: RunRecord) -> None:
        """Record (or update, by ``run.id``) a refresh run."""
        ...

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The most recent refresh runs, newest first."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


def open_store(url: str, *, manager: PluginManager | None = None) -> Store:
    """Open a check-in store by URL: ``sqlite:///okr.db``, ``memory://``, or a plugin's scheme.

    A bare path (no ``scheme://``) is taken as a SQLite file.
    """
    from .plugins import default_manager

    scheme = url.split("://", 1)[0] if "://" in url else "sqlite"
    if "://" not in url:
        url = f"sqlite:///{url}"
    registry = (manager or default_manager()).stores
    if scheme not in registry:
        known = ", ".join(registry) or "none"
        raise StoreError(f"unknown store scheme {scheme!r} in {url!r} (known: {known})")
    store: Store = registry.get(scheme)(url)
    return store


# -- SQL backends -----------------------------------------------------------------------------
#
# The SQL below stays portable on purpose (a Postgres backend will reuse the statements): dates and
# datetimes are ISO text, values DOUBLE PRECISION, JSON in TEXT columns, and the only upsert form
# is ``INSERT ... ON CONFLICT DO NOTHING``. Only the DDL of the auto-numbered ``seq`` columns and
# the connection set-up (PRAGMAs) are SQLite's own.

# version -> statements; applied in order, each version once, in one transaction at open.
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
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

# More ids than this in one ``IN (...)`` are filtered in Python (SQLite's variable limit).
_MAX_IN_IDS = 500


def _utc_text(moment: dt.datetime) -> str:
    """Fixed-width UTC ISO text, so that text order is time order. Naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"cannot store a {type(value).__name__} as JSON")


def _to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default, sort_keys=True, ensure_ascii=False)


class SQLiteStore:
    """The embedded store: one SQLite file (WAL mode), or an in-memory database.

    One connection, guarded by a lock, serves every thread (the refresh engine writes from worker
    threads). Pending migrations are applied in order when the store opens. Dates are stored as
    ISO text; datetimes as UTC ISO text and read back UTC-aware. Strategy-change values and run
    ``info`` are stored as JSON (dates come back as ISO strings).

    Usable as a context manager, which closes it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30.0
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store {self.path!r}: {exc}") from None
        self._conn = conn
        try:
            self._setup(conn)
            self._migrate()
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(f"cannot use SQLite store {self.path!r}: {exc}") from None
        except StoreError:
            self.close()
            raise

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
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
        return cls(path)

    # -- set-up ------------------------------------------------------------------------------
    def _setup(self, conn: sqlite3.Connection) -> None:
        cur = conn.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            mode = cur.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise StoreError(f"cannot switch {self.path!r} to WAL mode (got {mode!r})")
            cur.execute("PRAGMA synchronous = NORMAL")

    def _migrate(self) -> None:
        with self._transaction() as cur:
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
            now = _utc_text(dt.datetime.now(dt.timezone.utc))
            for version, statements in MIGRATIONS:
                if version <= current:
                    continue
                for statement in statements:
                    cur.execute(statement)
                cur.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (version, now),
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
    def add_checkins(self, checkins: Iterable[CheckIn]) -> int:
        """Store check-ins; return how many were new (a known (kr, as_of, source) is skipped)."""
        rows = [
            (
                c.kr_id,
                c.as_of.isoformat(),
                c.source,
                c.value,
                _utc_text(c.recorded_at),
                c.author,
                c.note,
                c.confidence,
            )
            for c in checkins
        ]
        if not rows:
            return 0
        new = 0
        try:
            with self._transaction() as cur:
                for row in rows:
                    cur.execute(
                        "INSERT INTO checkins (kr_id, as_of, source, value, recorded_at, author,"
                        " note, confidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                        " ON CONFLICT DO NOTHING",
                        row,
                    )
                    new += max(cur.rowcount, 0)
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path!r}: cannot add check-ins: {exc}") from None
        return new

    def checkins(
        self,
        kr_ids: Sequence[str] | None = None,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> list[CheckIn]:
        """Check-ins of the given key results (all when ``None``) with since <= as_of <= until,
        ordered by ``as_of`` then ``recorded_at``."""
        where: list[str] = []
        params: list[Any] = []
        wanted: set[str] | None = None
        if kr_ids is not None:
            ids = list(dict.fromkeys(kr_ids))
            if not ids:
                return []
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
        sql = (
            "SELECT kr_id, value, as_of, source, recorded_at, author, note, confidence"
            " FROM checkins"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY as_of, recorded_at, kr_id, source"
        )
        return [
            CheckIn(
                kr_id=r[0],
                value=r[1],
                as_of=dt.date.fromisoformat(r[2]),
                source=r[3],
                recorded_at=_utc(r[4]),
                author=r[5],
                note=r[6],
                confidence=r[7],
            )
            for r in self._query(sql, params)
            if wanted is None or r[0] in wanted
        ]

    # -- target and strategy changes -----------------------------------------------------------
    def add_target_change(self, change: TargetChange) -> None:
        """Record a target change."""
        try:
            with self._transaction() as cur:
                cur.execute(
                    "INSERT INTO target_changes (kr_id, field, old_value, new_value, reason,"
                    " changed_at, author) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        change.kr_id,
                        change.field,
                        change.old,
                        change.new,
                        change.reason,
                        _utc_text(change.changed_at),
                        change.author,
                    ),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path!r}: cannot add a target change: {exc}") from None

    def target_changes(self, kr_id: str | None = None) -> list[TargetChange]:
        """Target changes of one key result (all when ``None``), oldest first."""
        sql = (
            "SELECT kr_id, field, old_value, new_value, reason, changed_at, author"
            " FROM target_changes"
        )
        params: list[Any] = []
        if kr_id is not None:
            sql += " WHERE kr_id = ?"
            params.append(kr_id)
        sql += " ORDER BY changed_at, seq"
        return [
            TargetChange(
                kr_id=r[0],
                field=r[1],
                old=r[2],
                new=r[3],
                reason=r[4],
                changed_at=_utc(r[5]),
                author=r[6],
            )
            for r in self._query(sql, params)
        ]

    def add_strategy_change(self, change: StrategyChange) -> None:
        """Record a strategy change; ``old`` and ``new`` are stored as JSON."""
        try:
            old, new = _to_json(change.old), _to_json(change.new)
        except TypeError as exc:
            raise StoreError(f"strategy change of {change.strategy_id!r}: {exc}") from None
        try:
            with self._transaction() as cur:
                cur.execute(
                    "INSERT INTO strategy_changes (strategy_id, field, old_json, new_json, reason,"
                    " changed_at, author) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        change.strategy_id,
                        change.field,
                        old,
                        new,
                        change.reason,
                        _utc_text(change.changed_at),
                        change.author,
                    ),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path!r}: cannot add a strategy change: {exc}") from None

    def strategy_changes(self, strategy_id: str | None = None) -> list[StrategyChange]:
        """Strategy changes of one strategy (all when ``None``), oldest first."""
        sql = (
            "SELECT strategy_id, field, old_json, new_json, reason, changed_at, author"
            " FROM strategy_changes"
        )
        params: list[Any] = []
        if strategy_id is not None:
            sql += " WHERE strategy_id = ?"
            params.append(strategy_id)
        sql += " ORDER BY changed_at, seq"
        return [
            StrategyChange(
                strategy_id=r[0],
                field=r[1],
                old=json.loads(r[2]),
                new=json.loads(r[3]),
                reason=r[4],
                changed_at=_utc(r[5]),
                author=r[6],
            )
            for r in self._query(sql, params)
        ]

    # -- run log -------------------------------------------------------------------------------
    def record_run(self, run: RunRecord) -> None:
        """Record a refresh run, replacing an earlier record with the same ``run.id``."""
        try:
            info = _to_json(run.info)
            outcomes = [
                (
                    run.id,
                    i,
                    o.kr_id,
                    o.status,
                    o.connection,
                    o.value,
                    o.stored,
                    o.error,
                    o.kind,
                    _to_json(list(o.warnings)),
                )
                for i, o in enumerate(run.outcomes)
            ]
        except TypeError as exc:
            raise StoreError(f"run {run.id!r}: {exc}") from None
        try:
            with self._transaction() as cur:
                cur.execute("DELETE FROM run_outcomes WHERE run_id = ?", (run.id,))
                cur.execute("DELETE FROM runs WHERE id = ?", (run.id,))
                cur.execute(
                    "INSERT INTO runs (id, started_at, finished_at, as_of, info_json)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (
                        run.id,
                        _utc_text(run.started_at),
                        None if run.finished_at is None else _utc_text(run.finished_at),
                        run.as_of.isoformat(),
                        info,
                    ),
                )
                cur.executemany(
                    "INSERT INTO run_outcomes (run_id, position, kr_id, status, connection, value,"
                    " stored, error, kind, warnings_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    outcomes,
                )
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path!r}: cannot record run {run.id!r}: {exc}") from None

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The most recent refresh runs, newest first."""
        heads = self._query(
            "SELECT id, started_at, finished_at, as_of, info_json FROM runs"
            " ORDER BY started_at DESC, id DESC LIMIT ?",
            (max(int(limit), 0),),
        )
        return [self._run(head) for head in heads]

    def run(self, run_id: str) -> RunRecord | None:
        """One refresh run by its id, or ``None`` when the store has no such run."""
        heads = self._query(
            "SELECT id, started_at, finished_at, as_of, info_json FROM runs WHERE id = ?",
            (run_id,),
        )
        return self._run(heads[0]) if heads else None

    def _run(self, head: tuple[Any, ...]) -> RunRecord:
        run_id, started, finished, as_of, info = head
        rows = self._query(
            "SELECT kr_id, status, connection, value, stored, error, kind, warnings_json"
            " FROM run_outcomes WHERE run_id = ? ORDER BY position",
            (run_id,),
        )
        outcomes = [
            RunOutcome(
                kr_id=r[0],
                status=r[1],
                connection=r[2],
                value=r[3],
                stored=r[4],
                error=r[5],
                kind=r[6],
                warnings=json.loads(r[7]),
            )
            for r in rows
        ]
        return RunRecord(
            id=run_id,
            started_at=_utc(started),
            finished_at=None if finished is None else _utc(finished),
            as_of=dt.date.fromisoformat(as_of),
            outcomes=outcomes,
            info=json.loads(info),
        )

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
    def from_url(cls, url: str) -> MemoryStore:
        """Open ``memory://`` (anything after the scheme is ignored)."""
        if not url.startswith("memory://"):
            raise StoreError(f"bad memory store URL {url!r}: expected memory://")
        return cls()
