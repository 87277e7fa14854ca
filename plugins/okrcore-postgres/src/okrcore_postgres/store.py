"""The PostgreSQL check-in store, on psycopg 3 with a connection pool.

Behaves exactly as okrcore's SQLite store (both pass okrcore.testing.StoreContract): the same
revisions, ordering and refusals. Bulk writes go through COPY into a temporary table and one
``INSERT ... ON CONFLICT`` (unique keys make concurrent writers from any number of processes
safe); reads of all check-ins stream rows from the server.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import itertools
import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from okrcore import (
    CheckIn,
    InitiativeChange,
    RunRecord,
    StoreError,
    StrategyChange,
    TargetChange,
)
from okrcore.errors import StoreNotFoundError
from okrcore.model import RunOutcome
from okrcore.store import (
    INITIATIVE_CHANGE_COLUMNS,
    OUTCOME_COLUMNS,
    STRATEGY_CHANGE_COLUMNS,
    TARGET_CHANGE_COLUMNS,
    AddResult,
    CheckInRecord,
    EventDelivery,
    RowReader,
    changes_query,
    check_target_change,
    encode_json,
    initiative_change_from_row,
    initiative_change_row,
    latest_per_key,
    outcome_from_row,
    outcome_row,
    strategy_change_from_row,
    strategy_change_row,
    target_change_from_row,
    target_change_row,
    utc_moment,
)

if TYPE_CHECKING:  # imported where it is used, so that listing plugins stays fast
    import psycopg

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgresStore"]

# under okrcore.store, like the built-in stores: `okr -v` and an application's filter on
# "okrcore.store" show every backend's migrations
log = logging.getLogger("okrcore.store.postgres")

# version -> statements, applied in order under an advisory lock when a store opens
# (okrcore docs/stores.md#migrations). Never edit a released version: add one. Text columns that
# are sorted use the "C" collation: code-point order, the same as SQLite's.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE checkins (
                kr_id TEXT COLLATE "C" NOT NULL,
                as_of DATE NOT NULL,
                source TEXT COLLATE "C" NOT NULL,
                value DOUBLE PRECISION NOT NULL,
                recorded_at TIMESTAMPTZ NOT NULL,
                author TEXT,
                note TEXT,
                confidence DOUBLE PRECISION,
                run_id TEXT,
                reason TEXT,
                PRIMARY KEY (kr_id, as_of, source)
            )""",
            "CREATE INDEX checkins_order ON checkins (as_of, recorded_at, kr_id, source)",
            """CREATE TABLE checkin_revisions (
                seq BIGSERIAL PRIMARY KEY,
                kr_id TEXT COLLATE "C" NOT NULL,
                as_of DATE NOT NULL,
                source TEXT COLLATE "C" NOT NULL,
                value DOUBLE PRECISION NOT NULL,
                recorded_at TIMESTAMPTZ NOT NULL,
                author TEXT,
                note TEXT,
                confidence DOUBLE PRECISION,
                run_id TEXT,
                reason TEXT,
                replaced_at TIMESTAMPTZ NOT NULL
            )""",
            "CREATE INDEX checkin_revisions_key ON checkin_revisions (kr_id, as_of, source, seq)",
            # a reading replaced by a different one moves to checkin_revisions, in the same
            # statement as the update
            """CREATE FUNCTION checkins_keep_revision() RETURNS trigger
            LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
            BEGIN
                INSERT INTO checkin_revisions (kr_id, as_of, source, value, recorded_at, author,
                    note, confidence, run_id, reason, replaced_at)
                VALUES (OLD.kr_id, OLD.as_of, OLD.source, OLD.value, OLD.recorded_at, OLD.author,
                    OLD.note, OLD.confidence, OLD.run_id, OLD.reason, NEW.recorded_at);
                RETURN NEW;
            END $$""",
            """CREATE TRIGGER checkins_keep_revision BEFORE UPDATE ON checkins
            FOR EACH ROW EXECUTE FUNCTION checkins_keep_revision()""",
            """CREATE TABLE target_changes (
                seq BIGSERIAL PRIMARY KEY,
                kr_id TEXT COLLATE "C" NOT NULL,
                field TEXT NOT NULL,
                old_value DOUBLE PRECISION,
                new_value DOUBLE PRECISION,
                reason TEXT NOT NULL,
                changed_at TIMESTAMPTZ NOT NULL,
                author TEXT
            )""",
            "CREATE INDEX target_changes_kr ON target_changes (kr_id, changed_at)",
            """CREATE TABLE strategy_changes (
                seq BIGSERIAL PRIMARY KEY,
                strategy_id TEXT COLLATE "C" NOT NULL,
                field TEXT NOT NULL,
                old_json TEXT NOT NULL,
                new_json TEXT NOT NULL,
                reason TEXT NOT NULL,
                changed_at TIMESTAMPTZ NOT NULL,
                author TEXT
            )""",
            "CREATE INDEX strategy_changes_strategy ON strategy_changes (strategy_id, changed_at)",
            """CREATE TABLE runs (
                id TEXT COLLATE "C" PRIMARY KEY,
                started_at TIMESTAMPTZ NOT NULL,
                finished_at TIMESTAMPTZ,
                as_of DATE NOT NULL,
                info_json TEXT NOT NULL
            )""",
            "CREATE INDEX runs_started ON runs (started_at)",
            """CREATE TABLE run_outcomes (
                run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                kr_id TEXT NOT NULL,
                status TEXT NOT NULL,
                connection TEXT,
                value DOUBLE PRECISION,
                stored INTEGER NOT NULL,
                revised INTEGER NOT NULL,
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
            # Linked target changes: the changes of one move share a link (NULL: not linked).
            "ALTER TABLE target_changes ADD COLUMN link TEXT",
        ),
    ),
    (
        3,
        (
            # Events sent once: one row per (event, destination), a claim until sent_at is set.
            """CREATE TABLE event_deliveries (
                event_key TEXT COLLATE "C" NOT NULL,
                destination TEXT COLLATE "C" NOT NULL,
                kind TEXT NOT NULL,
                subject TEXT NOT NULL,
                at DATE NOT NULL,
                token TEXT NOT NULL,
                claimed_at TIMESTAMPTZ NOT NULL,
                sent_at TIMESTAMPTZ,
                run_id TEXT,
                event_json TEXT NOT NULL,
                PRIMARY KEY (event_key, destination)
            )""",
            "CREATE INDEX event_deliveries_at ON event_deliveries (at, event_key, destination)",
        ),
    ),
    (
        4,
        (
            # Initiative status history: each status as first seen, then each change.
            """CREATE TABLE initiative_changes (
                seq BIGSERIAL PRIMARY KEY,
                initiative_id TEXT COLLATE "C" NOT NULL,
                status TEXT NOT NULL,
                was TEXT,
                at DATE NOT NULL,
                source TEXT NOT NULL,
                recorded_at TIMESTAMPTZ NOT NULL,
                run_id TEXT
            )""",
            "CREATE INDEX initiative_changes_order ON initiative_changes (initiative_id, at, seq)",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_CHECKIN_COLUMNS = "kr_id, value, as_of, source, recorded_at, author, note, confidence"
_INCOMING = (
    "CREATE TEMP TABLE IF NOT EXISTS okrcore_incoming (LIKE checkins) ON COMMIT DELETE ROWS"
)
_MERGE = """
WITH up AS (
    INSERT INTO checkins (kr_id, as_of, source, value, recorded_at, author, note, confidence,
        run_id, reason)
    SELECT kr_id, as_of, source, value, recorded_at, author, note, confidence, run_id, reason
    FROM okrcore_incoming ORDER BY kr_id, as_of, source
    ON CONFLICT (kr_id, as_of, source) DO UPDATE SET value = EXCLUDED.value,
        recorded_at = EXCLUDED.recorded_at, author = EXCLUDED.author, note = EXCLUDED.note,
        confidence = EXCLUDED.confidence, run_id = EXCLUDED.run_id, reason = EXCLUDED.reason
    WHERE (checkins.value, checkins.author, checkins.note, checkins.confidence)
        IS DISTINCT FROM (EXCLUDED.value, EXCLUDED.author, EXCLUDED.note, EXCLUDED.confidence)
    RETURNING kr_id, xmax = 0 AS inserted
)
SELECT kr_id, count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
FROM up GROUP BY kr_id
"""

# A claim is taken when there is no row yet, or over an unsent claim older than the last
# parameter (its sender died); ON CONFLICT makes it atomic across processes.
_CLAIM = """
INSERT INTO event_deliveries (event_key, destination, kind, subject, at, token, claimed_at,
    run_id, event_json) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (event_key, destination) DO UPDATE SET token = EXCLUDED.token,
    claimed_at = EXCLUDED.claimed_at, run_id = EXCLUDED.run_id, event_json = EXCLUDED.event_json
WHERE event_deliveries.sent_at IS NULL AND event_deliveries.claimed_at < %s
"""


def _masked(url: str) -> str:
    """The URL without its password (never shown)."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc[0].split(":")[0] + ":***@"
                                                  + netloc[1]))


class PostgresStore:
    """A check-in store in a PostgreSQL database (or one schema of it).

    ``url`` is a libpq URL, ``postgresql://user:password@host:port/dbname``; ``?schema=name``
    keeps the store in that schema (created with the store) instead of ``public``. Other query
    parameters go to libpq. Pending migrations are applied when the store opens, under an
    advisory lock so that processes opening it at once wait for each other. ``create=False``
    refuses a database or schema without a store (:class:`~okrcore.StoreNotFoundError`).

    Threads share a pool of up to ``pool_size`` connections. Usable as a context manager, which
    closes it.
    """

    def __init__(self, url: str, *, create: bool = True, pool_size: int = 8) -> None:
        import psycopg  # here, not at the top: listing plugins and opening SQLite stay fast
        from psycopg_pool import ConnectionPool

        self.url = _masked(url)
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        schemas = [v for k, v in query if k == "schema"]
        self.schema = schemas[-1] if schemas else "public"
        if not _SCHEMA_NAME.fullmatch(self.schema):
            raise StoreError(
                f"bad schema name {self.schema!r} in {self.url}: use letters, digits and _"
            )
        conninfo = urllib.parse.urlunsplit(
            parts._replace(
                scheme="postgresql",
                query=urllib.parse.urlencode([(k, v) for k, v in query if k != "schema"]),
            )
        )
        # every session: our schema first, and timestamps in UTC
        self._kwargs: dict[str, Any] = {
            "options": f"-c search_path={self.schema} -c TimeZone=UTC",
        }
        self._conninfo = conninfo
        self._closed = False
        self._lock = threading.Lock()
        #: schema versions this open applied (empty when the store was up to date)
        self.applied_migrations: tuple[int, ...] = ()
        try:
            with psycopg.connect(conninfo, **self._kwargs) as conn:
                self._migrate(conn, create)
        except psycopg.OperationalError as exc:
            text = str(exc).strip()
            if "does not exist" in text and not create:
                raise StoreNotFoundError(f"no store at {self.url}: {text}") from None
            raise StoreError(f"cannot open PostgreSQL store {self.url}: {text}") from None
        except psycopg.Error as exc:
            raise StoreError(f"cannot use PostgreSQL store {self.url}: {exc}") from None
        self._pool = ConnectionPool(
            conninfo, min_size=1, max_size=max(1, pool_size), kwargs=self._kwargs,
            open=True, name=f"okrcore {self.url}",
        )

    @classmethod
    def from_url(cls, url: str, *, create: bool = True) -> PostgresStore:
        """Open ``postgresql://...`` or ``postgres://...`` (the store hook's factory)."""
        if not url.startswith(("postgresql://", "postgres://")):
            raise StoreError(f"bad PostgreSQL store URL {_masked(url)!r}: expected postgresql://...")
        return cls(url, create=create)

    # -- set-up ------------------------------------------------------------------------------
    def _migrate(self, conn: psycopg.Connection[Any], create: bool) -> None:
        with conn.transaction():
            # one migrating process at a time per schema; others wait, then find it done
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"okrcore:{self.schema}",))
            found = conn.execute(
                "SELECT 1 FROM information_schema.tables"
                " WHERE table_schema = %s AND table_name = 'schema_version'",
                (self.schema,),
            ).fetchone()
            if not found:
                if not create:
                    raise StoreNotFoundError(
                        f"no store at {self.url}: schema {self.schema!r} holds no okrcore store"
                        " (check the --store URL)"
                    )
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                conn.execute(
                    f'CREATE TABLE "{self.schema}".schema_version (version INTEGER PRIMARY KEY,'
                    " applied_at TIMESTAMPTZ NOT NULL)"
                )
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = int(row[0]) if row and row[0] is not None else 0
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"store {self.url} has schema version {current}, newer than this "
                    f"okrcore-postgres understands ({SCHEMA_VERSION}); upgrade okrcore-postgres"
                )
            applied = []
            for version, statements in MIGRATIONS:
                if version <= current:
                    continue
                log.info("store %s: applying schema migration %d", self.url, version)
                for statement in statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (%s, now())",
                    (version,),
                )
                applied.append(version)
            self.applied_migrations = tuple(applied)

    @contextlib.contextmanager
    def _connection(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection in a transaction (committed when the block ends)."""
        import psycopg

        if self._closed:
            raise StoreError(f"store {self.url} is closed")
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise StoreError(f"store {self.url}: {what}: {str(exc).strip()}") from None

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._connection("cannot read") as conn:
            return conn.execute(sql, params).fetchall()

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
        :class:`okrcore.store.Store`). Returns the new and revised counts."""
        counts = self.add_checkins_by_kr(checkins, run_id=run_id, reason=reason)
        return sum(counts.values(), AddResult())

    def add_checkins_by_kr(
        self,
        checkins: Iterable[CheckIn],
        *,
        run_id: str | None = None,
        reason: str | None = None,
    ) -> dict[str, AddResult]:
        """:meth:`add_checkins` in one transaction, counted per key result."""
        import psycopg

        batch = latest_per_key(checkins)
        counts = {c.kr_id: AddResult() for c in batch}
        if not batch:
            return counts
        with self._connection("cannot add check-ins") as conn:
            # Readings for keys not stored yet (a first refresh of the day, an import) go
            # straight into the table: as fast as a bare COPY. One stored key fails the whole
            # COPY on the primary key; then every reading goes through the comparing merge.
            try:
                with conn.transaction():
                    _copy(conn, "checkins", batch, run_id, reason)
                rows = collections.Counter(c.kr_id for c in batch)
                return {kr_id: AddResult(new=n) for kr_id, n in rows.items()}
            except psycopg.errors.UniqueViolation:
                pass
            conn.execute(_INCOMING)
            _copy(conn, "okrcore_incoming", batch, run_id, reason)
            for kr_id, new, revised in conn.execute(_MERGE).fetchall():
                counts[kr_id] = AddResult(new=int(new), revised=int(revised))
        return counts

    @staticmethod
    def _where(
        kr_ids: Sequence[str] | None, since: dt.date | None, until: dt.date | None
    ) -> tuple[str, list[Any]] | None:
        where: list[str] = []
        params: list[Any] = []
        if kr_ids is not None:
            ids = list(dict.fromkeys(kr_ids))
            if not ids:
                return None
            where.append("kr_id = ANY(%s)")
            params.append(ids)
        if since is not None:
            where.append("as_of >= %s")
            params.append(since)
        if until is not None:
            where.append("as_of <= %s")
            params.append(until)
        return (" WHERE " + " AND ".join(where) if where else ""), params

    def checkins(
        self,
        kr_ids: Sequence[str] | None = None,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> list[CheckIn]:
        """Readings in force, ordered by ``as_of``, ``recorded_at``, ``kr_id``, ``source``."""
        query = self._where(kr_ids, since, until)
        if query is None:
            return []
        where, params = query
        sql = (
            f"SELECT {_CHECKIN_COLUMNS} FROM checkins{where}"
            " ORDER BY as_of, recorded_at, kr_id, source"
        )
        reader = RowReader()
        with self._connection("cannot read check-ins") as conn:
            cursor = conn.execute(sql, params)
            # rows loaded 2,000 at a time: a quarter faster than one at a time, and a whole
            # store's rows are never all held as tuples
            chunks = iter(lambda: cursor.fetchmany(2000), [])
            return reader.checkins(itertools.chain.from_iterable(chunks))

    def checkin_history(
        self,
        kr_ids: Sequence[str] | None = None,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> list[CheckInRecord]:
        """Every reading, replaced ones included (see okrcore.store.Store.checkin_history)."""
        query = self._where(kr_ids, since, until)
        if query is None:
            return []
        where, params = query
        sql = (
            f"SELECT {_CHECKIN_COLUMNS}, run_id, reason, replaced_at FROM ("
            f" SELECT {_CHECKIN_COLUMNS}, run_id, reason, replaced_at, seq"
            f" FROM checkin_revisions{where}"
            f" UNION ALL SELECT {_CHECKIN_COLUMNS}, run_id, reason, NULL, NULL"
            f" FROM checkins{where}) AS h"
            " ORDER BY as_of, kr_id, source, replaced_at IS NULL, seq"
        )
        return RowReader().history(self._query(sql, params + params))

    # -- target and strategy changes -----------------------------------------------------------
    def add_target_change(self, change: TargetChange) -> None:
        """Record a target change (a non-finite value raises StoreError)."""
        self.add_target_changes([change])

    def add_target_changes(self, changes: Sequence[TargetChange]) -> None:
        """Record several target changes in one transaction: all, or none when one is refused."""
        for change in changes:
            check_target_change(change)
        rows = [target_change_row(c, _aware) for c in changes]
        marks = ", ".join("%s" for _ in TARGET_CHANGE_COLUMNS.split(", "))
        with self._connection("cannot add a target change") as conn, conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO target_changes ({TARGET_CHANGE_COLUMNS}) VALUES ({marks})", rows
            )

    def target_changes(self, kr_id: str | None = None) -> list[TargetChange]:
        """Target changes of one key result (all when ``None``), oldest first."""
        sql = changes_query("target_changes", TARGET_CHANGE_COLUMNS,
                            None if kr_id is None else "kr_id", "%s")
        params = () if kr_id is None else (kr_id,)
        return [target_change_from_row(r) for r in self._query(sql, params)]

    def add_strategy_change(self, change: StrategyChange) -> None:
        """Record a strategy change; ``old`` and ``new`` are stored as JSON."""
        self._insert("strategy_changes", STRATEGY_CHANGE_COLUMNS,
                     strategy_change_row(change, _aware), "a strategy change")

    def strategy_changes(self, strategy_id: str | None = None) -> list[StrategyChange]:
        """Strategy changes of one strategy (all when ``None``), oldest first."""
        sql = changes_query("strategy_changes", STRATEGY_CHANGE_COLUMNS,
                            None if strategy_id is None else "strategy_id", "%s")
        params = () if strategy_id is None else (strategy_id,)
        return [strategy_change_from_row(r) for r in self._query(sql, params)]

    # -- initiative status history ---------------------------------------------------------------
    def add_initiative_changes(self, changes: Sequence[InitiativeChange]) -> None:
        """Record initiative statuses in one transaction: all, or none when one is refused."""
        rows = [initiative_change_row(c, lambda d: d, _aware) for c in changes]
        marks = ", ".join("%s" for _ in INITIATIVE_CHANGE_COLUMNS.split(", "))
        sql = f"INSERT INTO initiative_changes ({INITIATIVE_CHANGE_COLUMNS}) VALUES ({marks})"
        with self._connection("cannot add an initiative status") as conn, conn.cursor() as cur:
            cur.executemany(sql, rows)

    def initiative_changes(self, initiative_id: str | None = None) -> list[InitiativeChange]:
        """Status records of one initiative (all when ``None``), by ``at``, then as added."""
        where = "" if initiative_id is None else " WHERE initiative_id = %s"
        sql = (f"SELECT {INITIATIVE_CHANGE_COLUMNS} FROM initiative_changes{where}"
               " ORDER BY at, seq")
        params = () if initiative_id is None else (initiative_id,)
        return [initiative_change_from_row(r) for r in self._query(sql, params)]

    def _insert(self, table: str, columns: str, row: Sequence[Any], what: str) -> None:
        marks = ", ".join("%s" for _ in row)
        with self._connection(f"cannot add {what}") as conn:
            conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", row)

    # -- run log -------------------------------------------------------------------------------
    def record_run(self, run: RunRecord) -> None:
        """Record a refresh run, replacing an earlier record with the same ``run.id``."""
        info = encode_json(run.info, f"run {run.id!r}")
        outcomes = [outcome_row(run.id, i, o) for i, o in enumerate(run.outcomes)]
        with self._connection(f"cannot record run {run.id!r}") as conn:
            conn.execute("DELETE FROM runs WHERE id = %s", (run.id,))
            conn.execute(
                "INSERT INTO runs (id, started_at, finished_at, as_of, info_json)"
                " VALUES (%s, %s, %s, %s, %s)",
                (run.id, _aware(run.started_at),
                 None if run.finished_at is None else _aware(run.finished_at), run.as_of, info),
            )
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO run_outcomes (run_id, position, kr_id, status, connection, value,"
                    " stored, revised, error, kind, warnings_json)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    outcomes,
                )

    def record_outcomes(
        self,
        run_id: str,
        outcomes: Mapping[int, RunOutcome],
        *,
        finished_at: dt.datetime | None,
        info: Mapping[str, Any],
    ) -> None:
        """Replace the outcomes at these positions of a recorded run, and its ``finished_at``
        and ``info``, in one transaction (see okrcore.store.SQLiteStore.record_outcomes)."""
        text = encode_json(info, f"run {run_id!r}")
        rows = [(*outcome_row(run_id, i, o)[2:], run_id, i) for i, o in outcomes.items()]
        with self._connection(f"cannot record run {run_id!r}") as conn:
            found = conn.execute(
                "UPDATE runs SET finished_at = %s, info_json = %s WHERE id = %s",
                (None if finished_at is None else _aware(finished_at), text, run_id),
            )
            if found.rowcount != 1:
                raise StoreError(f"store {self.url}: no run {run_id!r} to update")
            with conn.cursor() as cur:
                cur.executemany(
                    "UPDATE run_outcomes SET kr_id = %s, status = %s, connection = %s,"
                    " value = %s, stored = %s, revised = %s, error = %s, kind = %s,"
                    " warnings_json = %s WHERE run_id = %s AND position = %s",
                    rows,
                )

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The most recent refresh runs, newest first."""
        return self._runs(
            "SELECT id, started_at, finished_at, as_of, info_json FROM runs"
            " ORDER BY started_at DESC, id DESC LIMIT %s",
            (max(int(limit), 0),),
        )

    def run(self, run_id: str, *, outcomes: bool = True) -> RunRecord | None:
        """One refresh run by its id, or ``None`` when the store has no such run;
        ``outcomes=False`` leaves its outcomes out (cheap, for a run of thousands)."""
        found = self._runs(
            "SELECT id, started_at, finished_at, as_of, info_json FROM runs WHERE id = %s",
            (run_id,), outcomes=outcomes,
        )
        return found[0] if found else None

    def _runs(self, sql: str, params: Sequence[Any], *, outcomes: bool = True
              ) -> list[RunRecord]:
        with self._connection("cannot read runs") as conn:
            heads = conn.execute(sql, params).fetchall()
            rows = conn.execute(
                f"SELECT run_id, {OUTCOME_COLUMNS} FROM run_outcomes WHERE run_id = ANY(%s)"
                " ORDER BY run_id, position",
                ([h[0] for h in heads],),
            ).fetchall() if outcomes else []
        by_run: dict[str, list[RunOutcome]] = {}
        for r in rows:
            by_run.setdefault(r[0], []).append(outcome_from_row(r[1:]))
        return [
            RunRecord(id=run_id, started_at=utc_moment(started),
                      finished_at=None if finished is None else utc_moment(finished), as_of=as_of,
                      outcomes=by_run.get(run_id, []), info=json.loads(info))
            for run_id, started, finished, as_of, info in heads
        ]

    # -- events ----------------------------------------------------------------------------------
    def claim_event(self, delivery: EventDelivery, *, stale_before: dt.datetime) -> bool:
        """Claim an event's delivery for sending (see okrcore's ``Store.claim_event``)."""
        d = delivery
        row = (d.key, d.destination, d.kind, d.subject, d.at, d.token, _aware(d.claimed_at),
               d.run_id, encode_json(d.event, f"event {d.key!r}"), _aware(stale_before))
        with self._connection(f"cannot claim event {d.key!r}") as conn:
            return conn.execute(_CLAIM, row).rowcount > 0

    def finish_event(
        self, key: str, destination: str, token: str, *, sent_at: dt.datetime | None
    ) -> None:
        """Record a claimed delivery as sent, or drop the claim."""
        where = " WHERE event_key = %s AND destination = %s AND token = %s AND sent_at IS NULL"
        with self._connection(f"cannot finish event {key!r}") as conn:
            if sent_at is None:
                conn.execute("DELETE FROM event_deliveries" + where, (key, destination, token))
            else:
                conn.execute("UPDATE event_deliveries SET sent_at = %s" + where,
                             (_aware(sent_at), key, destination, token))

    def event_deliveries(
        self, *, since: dt.date | None = None, sent: bool | None = True
    ) -> list[EventDelivery]:
        """Recorded event deliveries, ordered by ``at``, key and destination."""
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append("at >= %s")
            params.append(since)
        if sent is not None:
            where.append("sent_at IS NOT NULL" if sent else "sent_at IS NULL")
        sql = (
            "SELECT event_key, destination, kind, subject, at, token, claimed_at, sent_at,"
            " run_id, event_json FROM event_deliveries"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY at, event_key, destination"
        )
        return [
            EventDelivery(key=r[0], destination=r[1], kind=r[2], subject=r[3], at=r[4],
                          token=r[5], claimed_at=utc_moment(r[6]),
                          sent_at=None if r[7] is None else utc_moment(r[7]), run_id=r[8],
                          event=json.loads(r[9]))
            for r in self._query(sql, params)
        ]

    # -- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the pool; further use raises :class:`~okrcore.StoreError`."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def _copy(
    conn: psycopg.Connection[Any],
    table: str,
    batch: Sequence[CheckIn],
    run_id: str | None,
    reason: str | None,
) -> None:
    """COPY readings into ``checkins`` or the incoming table."""
    with conn.cursor() as cur, cur.copy(
        f"COPY {table} (kr_id, as_of, source, value, recorded_at, author, note, confidence,"
        " run_id, reason) FROM STDIN"
    ) as copy:
        for c in batch:
            copy.write_row((
                c.kr_id, c.as_of, c.source, c.value, _aware(c.recorded_at),
                c.author, c.note, c.confidence, run_id, reason,
            ))


def _aware(moment: dt.datetime) -> dt.datetime:
    """Naive means UTC, as in every okrcore store."""
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment

