"""The ``sql`` source: a query against any database SQLAlchemy speaks to.

Connection settings, query keys and the rules (read-only, statement timeout, secrets) are
documented in docs/plugins.md ("sql").
"""

from __future__ import annotations

import decimal
import math
import re
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from okrcore.errors import MissingExtra, SourceError
from okrcore.model import Connection, KeyResult
from okrcore.sources import (
    Failure,
    FailureKind,
    FetchRequest,
    Limits,
    QueryProblem,
    Reading,
    Source,
    is_secret_reference,
    unknown_keys,
)

from ._common import connection_limits, describe_bad, limit_problems, reduce_rows, to_date

if TYPE_CHECKING:
    import sqlalchemy

__all__ = ["SqlSource"]

SQL_PARAMS = ("start", "end", "as_of")
DEFAULT_STATEMENT_TIMEOUT = 30.0
_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
# A URL without a driver uses the driver the sql extra installs (SQLAlchemy's own default differs
# between versions); name another one explicitly (postgresql+psycopg2://).
_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql",
            "mariadb": "mariadb+pymysql"}
_EXTRA = "the sql source needs the 'sql' extra (SQLAlchemy): pip install 'okrcore[sql]'"

# Driver error codes, by meaning. PostgreSQL SQLSTATEs (a two-character prefix is a class);
# MySQL and MariaDB error numbers.
_PG_TIMEOUT = {"57014"}
_PG_AUTH = {"28", "42501"}
_PG_TRANSIENT = {"08", "40", "53", "55P03", "57P01", "57P02", "57P03", "58"}
_MY_TIMEOUT = {1969, 3024}
_MY_AUTH = {1044, 1045, 1142, 1143, 1227, 1370, 1698}
_MY_TRANSIENT = {1040, 1053, 1205, 1213, 2002, 2003, 2006, 2013}


class SqlSource(Source):
    """A SQL query through SQLAlchemy: ``sqlite:///``, ``postgresql://``, ``mysql+pymysql://``
    or any dialect installed alongside (needs the ``sql`` extra).

    The query (key ``sql``) returns one number, or rows of ``(date, value)``. The named
    placeholders ``:start``, ``:end`` and ``:as_of`` are bound as date parameters, never pasted in.
    Each query runs in its own transaction that is rolled back, read-only where the database
    offers it (SQLite, PostgreSQL, MySQL, MariaDB), under a statement timeout.
    """

    name = "sql"
    QUERY_KEYS = ("sql",)
    SETTINGS = ("url", "password", "timeout", "max_batch", "concurrency", "rate")

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self._engine: sqlalchemy.Engine | None = None
        self._secrets: list[str] = []

    def limits(self) -> Limits:
        return connection_limits(self.connection, Limits(max_batch=20, concurrency=1))

    # -- validation (no I/O) -------------------------------------------------------------------
    @classmethod
    def validate_connection(cls, connection: Connection) -> list[QueryProblem]:
        s = connection.settings
        problems = unknown_keys(s, cls.SETTINGS, "sql connection key")
        url = s.get("url")
        if not is_secret_reference(url):
            problem = _url_problem(url)
            if problem is not None:
                problems.append(QueryProblem("url", problem))
        password = s.get("password")
        if password is not None and not is_secret_reference(password):
            problems.append(QueryProblem("password", "passwords are never written in the plan; "
                                                     "use 'env:NAME' or 'file:PATH'"))
        timeout = s.get("timeout")
        if timeout is not None and (isinstance(timeout, bool)
                                    or not isinstance(timeout, (int, float)) or timeout <= 0):
            problems.append(QueryProblem("timeout", f"expected seconds > 0, got {timeout!r}"))
        return problems + limit_problems(s)

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        problems = unknown_keys(query, cls.QUERY_KEYS, "sql query key")
        sql = query.get("sql")
        if not isinstance(sql, str) or not sql.strip():
            return [*problems, QueryProblem("sql", "a SQL query is required")]
        unknown = sorted(set(_PLACEHOLDER.findall(_strip_literals(sql))) - set(SQL_PARAMS))
        if unknown:
            problems.append(QueryProblem("sql", f"unknown placeholder(s) "
                                                f"{', '.join(':' + u for u in unknown)} (known: "
                                                f"{', '.join(':' + p for p in SQL_PARAMS)})"))
        return problems

    # -- I/O -----------------------------------------------------------------------------------
    def _statement_timeout(self) -> float:
        setting = self.connection.settings.get("timeout")
        if setting is not None:
            return float(setting)
        return self.timeout if self.timeout is not None else DEFAULT_STATEMENT_TIMEOUT

    def _url(self) -> sqlalchemy.URL:
        """The database URL with its secrets filled in; a SQLite file opened read-only."""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        raw = self.connection.settings.get("url")
        if is_secret_reference(raw):
            raw = self.secret("url")
            self._secrets.append(str(raw))
        try:
            url = make_url(str(raw))
        except ArgumentError:
            raise SourceError(f"connection {self.connection.name!r}: the url is not a database "
                              "URL (dialect://user@host/database)") from None
        url = url.set(drivername=_DRIVERS.get(url.drivername, url.drivername))
        password = self.secret("password")
        if password is not None:
            url = url.set(password=password)
        if url.password:
            self._secrets.append(str(url.password))
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            path = Path(str(url.database)).expanduser()
            if not path.is_absolute() and self.connection.base_dir:
                path = Path(self.connection.base_dir) / path
            if not path.exists():
                raise _Unusable(f"no SQLite database at {path}")
            # SQLite's own read-only mode: a write fails whatever the query says
            url = url.set(database=path.resolve().as_uri(),
                          query={**url.query, "mode": "ro", "uri": "true"})
        return url

    def _open(self) -> sqlalchemy.Engine:
        if self._engine is not None:
            return self._engine
        try:
            import sqlalchemy
        except ImportError:  # pragma: no cover - depends on the installation
            raise MissingExtra(_EXTRA) from None
        url = self._url()
        connect_args: dict[str, Any] = {}
        if url.get_backend_name() in ("postgresql", "mysql", "mariadb"):
            connect_args["connect_timeout"] = max(2, math.ceil(self._statement_timeout()))
        try:
            self._engine = sqlalchemy.create_engine(url, connect_args=connect_args)
        except sqlalchemy.exc.NoSuchModuleError:
            raise _Unusable(_no_dialect(url.drivername)) from None
        except ImportError as exc:  # the dialect is there, its driver is not
            driver = exc.name or "driver"
            raise _Unusable(f"the {url.drivername} dialect needs the {driver} package: "
                            "pip install 'okrcore[sql]' or the database's driver") from None
        return self._engine

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterable[Reading | Failure]:
        try:
            engine = self._open()
        except MissingExtra as exc:
            yield from (Failure(r, FailureKind.PERMANENT, str(exc)) for r in requests)
            return
        except _Unusable as exc:
            yield from (Failure(r, FailureKind.PERMANENT, self._mask(str(exc))) for r in requests)
            return
        except SourceError as exc:  # a credential that cannot be read
            yield from (Failure(r, FailureKind.AUTH, self._mask(str(exc))) for r in requests)
            return
        for r in requests:
            yield self._one(engine, r)

    def _one(self, engine: sqlalchemy.Engine, r: FetchRequest) -> Reading | Failure:
        import sqlalchemy

        timeout = self._statement_timeout()
        statement = sqlalchemy.text(str(r.query["sql"]))
        wanted = set(statement.compile().params)
        statement = statement.bindparams(*(
            sqlalchemy.bindparam(name, getattr(r, name), type_=sqlalchemy.Date)
            for name in SQL_PARAMS if name in wanted
        ))
        try:
            conn = engine.connect()
        except sqlalchemy.exc.DBAPIError as exc:
            where = engine.url.render_as_string(hide_password=True)
            kind, detail = self._classify(exc, timeout, connecting=True)
            return Failure(r, kind, self._mask(f"cannot connect to {where}: {detail}"))
        try:
            with conn, _guarded(conn, timeout):
                rows = [tuple(row) for row in conn.execute(statement).fetchall()]
        except sqlalchemy.exc.DBAPIError as exc:
            kind, detail = self._classify(exc, timeout, connecting=False)
            return Failure(r, kind, self._mask(f"SQL error: {detail}"))
        except sqlalchemy.exc.SQLAlchemyError as exc:  # e.g. a statement SQLAlchemy cannot bind
            return Failure(r, FailureKind.PERMANENT, self._mask(f"SQL error: {exc}"))
        return _reading(r, rows)

    def _classify(self, exc: Any, timeout: float, *, connecting: bool) -> tuple[FailureKind, str]:
        """The failure kind of a driver error, and its message (first line, no SQL echo)."""
        orig = exc.orig
        detail = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
        state = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
        args = getattr(orig, "args", ())
        number = args[0] if args and isinstance(args[0], int) else None
        lowered = detail.lower()
        if state in _PG_TIMEOUT or number in _MY_TIMEOUT or lowered == "interrupted":
            return FailureKind.PERMANENT, (
                f"the query ran longer than the statement timeout of {timeout:g} s; make it "
                "cheaper or raise the connection's timeout setting")
        if state[:2] in _PG_AUTH or state in _PG_AUTH or number in _MY_AUTH:
            return FailureKind.AUTH, detail
        if (getattr(exc, "connection_invalidated", False) or state[:2] in _PG_TRANSIENT
                or state in _PG_TRANSIENT or number in _MY_TRANSIENT
                or "database is locked" in lowered or connecting):
            return FailureKind.TRANSIENT, detail
        return FailureKind.PERMANENT, detail

    def _mask(self, text: str) -> str:
        for secret in self._secrets:
            for form in {secret, urllib.parse.quote(secret, safe=""),
                         urllib.parse.quote_plus(secret)}:
                if form:
                    text = text.replace(form, "***")
        return text

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


class _Unusable(SourceError):
    """The connection cannot work as configured (no database file, no dialect): permanent."""


@contextmanager
def _guarded(conn: sqlalchemy.Connection, timeout: float) -> Iterator[None]:
    """Run the statements of the block read-only, under a statement timeout, then roll back.

    PostgreSQL: a READ ONLY transaction with ``SET LOCAL statement_timeout``. MySQL and MariaDB:
    ``SET TRANSACTION READ ONLY`` and ``max_execution_time`` / ``max_statement_time``. SQLite:
    the file is opened read-only (see ``_url``) and a progress handler interrupts the query at
    the deadline. Other dialects: the transaction is rolled back, never committed.
    """
    import sqlalchemy

    dialect = conn.dialect
    backend = dialect.name
    raw: Any = None
    if backend == "postgresql":
        conn.execute(sqlalchemy.text("SET TRANSACTION READ ONLY"))
        conn.execute(sqlalchemy.text("SELECT set_config('statement_timeout', :ms, true)"),
                     {"ms": str(max(1, round(timeout * 1000)))})
    elif backend in ("mysql", "mariadb"):
        if getattr(dialect, "is_mariadb", False):
            conn.execute(sqlalchemy.text("SET SESSION max_statement_time = :s"),
                         {"s": float(timeout)})
        else:
            conn.execute(sqlalchemy.text("SET SESSION max_execution_time = :ms"),
                         {"ms": max(1, round(timeout * 1000))})
        conn.rollback()  # the characteristics apply to the next transaction, which comes now
        conn.execute(sqlalchemy.text("SET TRANSACTION READ ONLY"))
    elif backend == "sqlite":
        raw = conn.connection.dbapi_connection
        deadline = time.monotonic() + timeout
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
    try:
        yield
    finally:
        if raw is not None:
            raw.set_progress_handler(None, 0)
        conn.rollback()


def _reading(r: FetchRequest, rows: list[tuple[Any, ...]]) -> Reading | Failure:
    """One number, or rows of (date, value), as the reading the request asks for."""
    if rows and len(rows[0]) == 1:
        if len(rows) != 1:
            return Failure(r, FailureKind.PERMANENT,
                           f"the query returned {len(rows)} rows of one column; expected "
                           "one number or rows of (date, value)")
        value = rows[0][0]
        if value is None:
            return Failure(r, FailureKind.PERMANENT, "the query returned NULL (no rows?); "
                           "write COALESCE(SUM(...), 0) if zero is the right answer")
        number = _sql_number(value)
        if number is None:
            return Failure(r, FailureKind.PERMANENT, f"the query returned "
                           f"{describe_bad(value)}")
        return Reading(r, ((r.end, number),)) if r.series else Reading.total(r, number)
    points = []
    for i, row in enumerate(rows, start=1):
        if len(row) != 2:
            return Failure(r, FailureKind.PERMANENT, f"row {i} has {len(row)} columns; "
                           "expected one number or rows of (date, value)")
        day = to_date(row[0])
        if day is None:
            return Failure(r, FailureKind.PERMANENT, f"row {i}: {row[0]!r} is not a date")
        number = _sql_number(row[1])
        if number is None:
            return Failure(r, FailureKind.PERMANENT, f"row {i}: the value is "
                           f"{describe_bad(row[1])}")
        points.append((day, number))
    reduced = reduce_rows(r, points)
    return reduced if isinstance(reduced, Reading) else Failure(r, FailureKind.PERMANENT, reduced)


def _sql_number(value: Any) -> float | None:
    """A finite float from a database value: int, float or DECIMAL (SUM of a NUMERIC column)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _url_problem(url: Any) -> str | None:
    """Why a database URL written in the plan is unusable, found without connecting."""
    expected = ("expected a database URL such as sqlite:///warehouse.db or "
                "postgresql://reader@host/db, or an env:NAME / file:PATH reference holding one")
    if not isinstance(url, str) or "://" not in url:
        return expected
    try:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError
    except ImportError:  # checked again when fetching; a missing extra does not fail lint
        return None
    try:
        parsed = make_url(url)
    except ArgumentError:
        return expected
    if parsed.password is not None:
        return ("the URL holds a password, and secrets are never written in the plan: set "
                "password: env:NAME (or url: env:NAME for the whole URL)")
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        return _no_dialect(parsed.drivername)
    return None


def _no_dialect(drivername: str) -> str:
    hint = " (SQLAlchemy spells it postgresql://)" if drivername.startswith("postgres+") or \
        drivername == "postgres" else ""
    return (f"no SQLAlchemy dialect {drivername!r} is installed{hint}; install the database's "
            "SQLAlchemy package (okrcore[sql] brings PostgreSQL and MySQL/MariaDB)")


def _strip_literals(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", sql)
