"""The ``sql`` source: a query against a SQLite database (docs/plugins.md, "Built-in sources")."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from okrcore.model import Connection, KeyResult
from okrcore.sources import (
    Failure,
    FailureKind,
    FetchRequest,
    Limits,
    QueryProblem,
    Reading,
    Source,
    unknown_keys,
)

from ._common import (
    connection_limits,
    describe_bad,
    finite_number,
    limit_problems,
    reduce_rows,
    to_date,
)

__all__ = ["SqlSource"]

SQL_PARAMS = ("start", "end", "as_of")
_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class SqlSource(Source):
    """A SQL query through a DB-API connection; SQLite is built in (``url: sqlite:///path``).

    The query (key ``sql``) returns one number, or rows of ``(date, value)``. The named
    placeholders ``:start``, ``:end`` and ``:as_of`` are bound as parameters, never pasted in.
    SQLite files are opened read-only.
    """

    name = "sql"
    QUERY_KEYS = ("sql",)

    def limits(self) -> Limits:
        return connection_limits(self.connection, Limits(max_batch=20, concurrency=1))

    @classmethod
    def validate_connection(cls, connection: Connection) -> list[QueryProblem]:
        s = connection.settings
        problems = unknown_keys(s, ("url", "max_batch", "concurrency", "rate"),
                                "sql connection key")
        url = s.get("url")
        if not isinstance(url, str) or not url.startswith("sqlite:///"):
            problems.append(QueryProblem("url", "expected sqlite:///path/to/file.db (other "
                                                "databases need a plugin)"))
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

    def _path(self) -> Path:
        url = str(self.connection.settings.get("url", ""))
        path = Path(url[len("sqlite:///"):]).expanduser()
        if not path.is_absolute() and self.connection.base_dir:
            path = Path(self.connection.base_dir) / path
        return path

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterable[Reading | Failure]:
        path = self._path()
        if not path.exists():
            for r in requests:
                yield Failure(r, FailureKind.PERMANENT, f"no SQLite database at {path}")
            return
        timeout = self.timeout if self.timeout is not None else 30.0
        try:
            conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=timeout)
        except sqlite3.Error as exc:
            for r in requests:
                yield Failure(r, FailureKind.TRANSIENT, f"cannot open {path}: {exc}")
            return
        try:
            for r in requests:
                yield self._one(conn, r)
        finally:
            conn.close()

    def _one(self, conn: sqlite3.Connection, r: FetchRequest) -> Reading | Failure:
        params = {"start": r.start.isoformat(), "end": r.end.isoformat(),
                  "as_of": r.as_of.isoformat()}
        try:
            rows = conn.execute(str(r.query["sql"]), params).fetchall()
        except sqlite3.OperationalError as exc:
            kind = FailureKind.TRANSIENT if "locked" in str(exc) else FailureKind.PERMANENT
            return Failure(r, kind, f"SQL error: {exc}")
        except sqlite3.Error as exc:
            return Failure(r, FailureKind.PERMANENT, f"SQL error: {exc}")
        if rows and len(rows[0]) == 1:
            if len(rows) != 1:
                return Failure(r, FailureKind.PERMANENT,
                               f"the query returned {len(rows)} rows of one column; expected "
                               "one number or rows of (date, value)")
            value = rows[0][0]
            if value is None:
                return Failure(r, FailureKind.PERMANENT, "the query returned NULL (no rows?); "
                               "write COALESCE(SUM(...), 0) if zero is the right answer")
            number = finite_number(value)
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
            number = finite_number(row[1])
            if number is None:
                return Failure(r, FailureKind.PERMANENT, f"row {i}: the value is "
                               f"{describe_bad(row[1])}")
            points.append((day, number))
        reduced = reduce_rows(r, points)
        return reduced if isinstance(reduced, Reading) else Failure(
            r, FailureKind.PERMANENT, reduced)


def _strip_literals(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", sql)
