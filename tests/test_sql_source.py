"""The ``sql`` source on SQLite, and on the real PostgreSQL and MariaDB servers on 127.0.0.1.

The server tests create their own database and roles, ``okr_team_*`` named for the run (pid and a
random part, so that test runs sharing a server never meet), and drop them afterwards. They run
when the servers answer; with ``CI=true`` a missing server is a failure, elsewhere a skip that
says how to run them (docs/company.md, "Testing against the servers").
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from okrcore.default_plugins.sources import SqlSource
from okrcore.model import Connection, Cycle, KeyResult
from okrcore.sources import Failure, FetchRequest, Reading

pytest.importorskip("sqlalchemy", reason="the sql extra: pip install 'okrcore[sql]'")

CYCLE = Cycle("q1", dt.date(2026, 3, 1), dt.date(2026, 3, 31))
AT = dt.date(2026, 3, 5)
ROWS = [("2026-02-28", 100, "pro"), ("2026-03-01", 3, "pro"), ("2026-03-02", 4, "free"),
        ("2026-03-02", 5, "pro"), ("2026-03-08", 9, "pro")]
RUN = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
DB = f"okr_team_sql_{RUN}"
NOREAD, READER = f"okr_team_noread_{RUN}", f"okr_team_reader_{RUN}"
SECRET = "s3cret-Pw/with:odd@chars"


def request(conn: Connection, sql: str, *, measure: str = "gauge", series: bool = False,
            end: dt.date = AT) -> FetchRequest:
    query = {"sql": sql}
    kr = KeyResult("k", "k", measure=measure, baseline=0, target=100,
                   source={"connection": conn.name, **query})
    return FetchRequest(kr, query, conn, CYCLE, CYCLE.start, end, end, series)


def fetch(conn: Connection, sql: str, **kw: Any) -> Reading | Failure:
    source = SqlSource(conn)
    source.timeout = 30.0
    try:
        (answer,) = list(source.fetch([request(conn, sql, **kw)]))
    finally:
        source.close()
    return answer


def points(answer: Reading | Failure) -> list[tuple[int, float]]:
    assert isinstance(answer, Reading), answer
    return [(d.day, v) for d, v in answer.points]


def failure(answer: Reading | Failure) -> tuple[str, str]:
    assert isinstance(answer, Failure), answer
    return answer.kind.value, answer.message


def server_or_skip(name: str, connect: Any) -> Any:
    """Connect to a local server; skip when it is absent, except in CI where that fails."""
    try:
        return connect()
    except Exception as exc:
        message = (f"{name} is not reachable on 127.0.0.1 ({type(exc).__name__}: {exc}); start it "
                   "(see docs/company.md) to run these tests; with CI=true they fail instead")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


# -- SQLite (no server) --------------------------------------------------------------------------
@pytest.fixture
def lite(tmp_path: Path) -> Connection:
    with sqlite3.connect(tmp_path / "warehouse.db") as db:
        db.execute("CREATE TABLE signups (day TEXT, n INTEGER, plan TEXT)")
        db.executemany("INSERT INTO signups VALUES (?, ?, ?)", ROWS)
    return Connection("dw", "sql", {"url": "sqlite:///warehouse.db"}, base_dir=str(tmp_path))


def test_sqlite_series_and_total(lite: Connection) -> None:
    sql = "SELECT day, SUM(n) FROM signups WHERE day BETWEEN :start AND :end GROUP BY day"
    assert points(fetch(lite, sql, measure="cumulative", series=True)) == [(1, 3), (2, 9)]
    total = "SELECT SUM(n) FROM signups WHERE day BETWEEN :start AND :end"
    assert points(fetch(lite, total, measure="cumulative")) == [(5, 12)]


def test_sqlite_slow_query_hits_the_statement_timeout(lite: Connection) -> None:
    conn = Connection("dw", "sql", {**lite.settings, "timeout": 0.2}, base_dir=lite.base_dir)
    endless = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
               "SELECT COUNT(*) FROM c")
    kind, message = failure(fetch(conn, endless))
    assert kind == "permanent"
    assert "statement timeout of 0.2 s" in message


def test_sqlite_dates_bind_as_parameters_in_a_quoted_path(tmp_path: Path) -> None:
    folder = tmp_path / "a dir?#x"
    folder.mkdir()
    with sqlite3.connect(folder / "w.db") as db:
        db.execute("CREATE TABLE t (day TEXT, n INTEGER)")
        db.execute("INSERT INTO t VALUES ('2026-03-05', 7)")
    conn = Connection("dw", "sql", {"url": "sqlite:///w.db"}, base_dir=str(folder))
    assert points(fetch(conn, "SELECT n FROM t WHERE day = :as_of")) == [(5, 7)]


def test_missing_sqlite_file_is_permanent(tmp_path: Path) -> None:
    conn = Connection("dw", "sql", {"url": "sqlite:///nowhere.db"}, base_dir=str(tmp_path))
    kind, message = failure(fetch(conn, "SELECT 1"))
    assert (kind, message) == ("permanent", f"no SQLite database at {tmp_path / 'nowhere.db'}")


def test_the_url_may_come_from_the_environment(lite: Connection,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKR_TEAM_DW", f"sqlite:///{lite.base_dir}/warehouse.db")
    conn = Connection("dw", "sql", {"url": "env:OKR_TEAM_DW"})
    assert SqlSource.validate_connection(conn) == []
    assert points(fetch(conn, "SELECT COUNT(*) FROM signups")) == [(5, 5)]
    kind, message = failure(fetch(Connection("dw", "sql", {"url": "env:OKR_TEAM_NONE"}),
                                  "SELECT 1"))
    assert kind == "auth"
    assert "OKR_TEAM_NONE is not set" in message


@pytest.mark.parametrize(
    ("settings", "field", "message"),
    [
        ({"url": "postgresql://u:pw@db/x"}, "url", "holds a password"),
        ({"url": "postgres://db/x"}, "url", "spells it postgresql://"),
        ({"url": "snowflake://acct/db"}, "url", "no SQLAlchemy dialect 'snowflake'"),
        ({"url": "warehouse.db"}, "url", "expected a database URL"),
        ({"url": "postgresql://u@db/x", "password": "hunter2"}, "password", "never written"),
        ({"url": "postgresql://u@db/x", "timeout": 0}, "timeout", "seconds > 0"),
    ],
)
def test_connection_validation(settings: dict[str, Any], field: str, message: str) -> None:
    (problem,) = SqlSource.validate_connection(Connection("dw", "sql", settings))
    assert problem.field == field
    assert message in problem.message
    assert "pw" not in problem.message.replace("password", "")


def test_any_installed_dialect_is_accepted_without_okrcore_changes() -> None:
    for url in ("postgresql+psycopg://reader@db/x", "mysql+pymysql://reader@db/x",
                "mariadb+pymysql://reader@db/x", "sqlite:///x.db"):
        assert SqlSource.validate_connection(Connection("dw", "sql", {"url": url})) == []


def test_a_failed_connect_masks_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKR_TEAM_PW", SECRET)
    conn = Connection("dw", "sql", {"url": "postgresql://reader@127.0.0.1:1/x",
                                    "password": "env:OKR_TEAM_PW", "timeout": 2})
    kind, message = failure(fetch(conn, "SELECT 1"))
    assert kind == "transient"
    assert "cannot connect to postgresql+psycopg://reader:***@127.0.0.1:1/x" in message
    assert SECRET not in message
    assert "s3cret" not in message


# -- PostgreSQL ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pg() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    admin = server_or_skip("PostgreSQL", lambda: psycopg.connect(
        "host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True,
        connect_timeout=5))
    with admin:
        admin.execute(f"CREATE DATABASE {DB}")
        admin.execute(f"CREATE ROLE {NOREAD} LOGIN")
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={DB}",
                         autocommit=True) as db:
        db.execute("CREATE TABLE signups (day DATE, n NUMERIC(12, 2), plan TEXT)")
        with db.cursor() as cur:
            cur.executemany("INSERT INTO signups VALUES (%s, %s, %s)", ROWS)
    yield f"postgresql://postgres@127.0.0.1:5432/{DB}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                         autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        admin.execute(f"DROP ROLE IF EXISTS {NOREAD}")


def test_postgres_series_total_and_bound_dates(pg: str) -> None:
    conn = Connection("dw", "sql", {"url": pg})
    series = "SELECT day, SUM(n) FROM signups WHERE day BETWEEN :start AND :end GROUP BY day"
    assert points(fetch(conn, series, measure="cumulative", series=True)) == [(1, 3), (2, 9)]
    total = "SELECT SUM(n) FROM signups WHERE day BETWEEN :start AND :end"
    assert points(fetch(conn, total, measure="cumulative")) == [(5, 12)]
    # a date compared with a DATE column: the parameter is typed, not text pasted in
    assert points(fetch(conn, "SELECT COUNT(*) FROM signups WHERE day = :end",
                        end=dt.date(2026, 3, 2))) == [(2, 2)]


def test_postgres_runs_read_only(pg: str) -> None:
    conn = Connection("dw", "sql", {"url": pg})
    kind, message = failure(fetch(conn, "INSERT INTO signups VALUES ('2026-03-03', 1, 'x') "
                                        "RETURNING 1"))
    assert kind == "permanent"
    assert "read-only transaction" in message


def test_postgres_slow_query_hits_the_statement_timeout(pg: str) -> None:
    conn = Connection("dw", "sql", {"url": pg, "timeout": 0.3})
    kind, message = failure(fetch(conn, "SELECT COUNT(*) FROM pg_sleep(5)"))
    assert (kind, message) == ("permanent", "SQL error: the query ran longer than the statement "
                               "timeout of 0.3 s; make it cheaper or raise the connection's "
                               "timeout setting")


def test_postgres_role_without_select_fails_as_auth(pg: str) -> None:
    url = pg.replace("postgres@", f"{NOREAD}@")
    kind, message = failure(fetch(Connection("dw", "sql", {"url": url}),
                                  "SELECT COUNT(*) FROM signups"))
    assert kind == "auth"
    assert "permission denied" in message


def test_postgres_sql_errors_are_permanent(pg: str) -> None:
    kind, message = failure(fetch(Connection("dw", "sql", {"url": pg}), "SELECT * FROM nowhere"))
    assert kind == "permanent"
    assert 'relation "nowhere" does not exist' in message


# -- MariaDB -------------------------------------------------------------------------------------
MARIA_ACCOUNTS = [f"'{user}'@'{host}'".replace("%", "%%")  # pymysql's format style
                  for user in (NOREAD, READER) for host in ("%", "localhost")]


@pytest.fixture(scope="module")
def maria() -> Iterator[str]:
    pymysql = pytest.importorskip("pymysql")
    admin = server_or_skip("MariaDB", lambda: pymysql.connect(
        host="127.0.0.1", port=3306, user="root", password="", connect_timeout=5,
        autocommit=True))
    with admin, admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {DB}")
        cur.execute(f"CREATE TABLE {DB}.signups (day DATE, n DECIMAL(12, 2), plan TEXT)")
        cur.executemany(f"INSERT INTO {DB}.signups VALUES (%s, %s, %s)", ROWS)
        cur.execute(f"CREATE TABLE {DB}.other (n INTEGER)")
        for account in MARIA_ACCOUNTS:
            cur.execute(f"CREATE USER {account} IDENTIFIED BY %s", (SECRET,))
            # the reader may read everything; the other one only another table
            what = "*" if READER in account else "other"
            cur.execute(f"GRANT SELECT ON {DB}.{what} TO {account}", ())
    yield f"mysql+pymysql://root@127.0.0.1:3306/{DB}"
    with pymysql.connect(host="127.0.0.1", port=3306, user="root", password="",
                         autocommit=True) as admin, admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB}")
        for account in MARIA_ACCOUNTS:
            cur.execute(f"DROP USER IF EXISTS {account}", ())


def test_mariadb_series_total_and_bound_dates(maria: str) -> None:
    conn = Connection("dw", "sql", {"url": maria})
    series = "SELECT day, SUM(n) FROM signups WHERE day BETWEEN :start AND :end GROUP BY day"
    assert points(fetch(conn, series, measure="cumulative", series=True)) == [(1, 3), (2, 9)]
    assert points(fetch(conn, "SELECT COUNT(*) FROM signups WHERE day = :end",
                        end=dt.date(2026, 3, 2))) == [(2, 2)]


def test_mariadb_runs_read_only(maria: str) -> None:
    kind, message = failure(fetch(Connection("dw", "sql", {"url": maria}),
                                  "INSERT INTO signups VALUES ('2026-03-03', 1, 'x')"))
    assert kind == "permanent"
    assert "READ ONLY transaction" in message


def test_mariadb_slow_query_hits_the_statement_timeout(maria: str) -> None:
    conn = Connection("dw", "sql", {"url": maria, "timeout": 0.3})
    slow = ("SELECT COUNT(*) FROM information_schema.columns a, information_schema.columns b, "
            "information_schema.columns c")
    kind, message = failure(fetch(conn, slow))
    assert kind == "permanent"
    assert "statement timeout of 0.3 s" in message


def test_mariadb_user_without_select_fails_as_auth(maria: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKR_TEAM_PW", SECRET)
    url = maria.replace("root@", f"{NOREAD}@")
    conn = Connection("dw", "sql", {"url": url, "password": "env:OKR_TEAM_PW"})
    kind, message = failure(fetch(conn, "SELECT COUNT(*) FROM signups"))
    assert kind == "auth"
    assert "command denied" in message


def test_mariadb_password_from_a_file_and_a_refused_one_is_masked(
        maria: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pw").write_text(SECRET + "\n")
    url = maria.replace("root@", f"{READER}@")
    good = Connection("dw", "sql", {"url": url, "password": "file:pw"}, base_dir=str(tmp_path))
    assert points(fetch(good, "SELECT COUNT(*) FROM signups")) == [(5, 5)]
    monkeypatch.setenv("OKR_TEAM_PW", "wrong-" + SECRET)
    bad = Connection("dw", "sql", {"url": url, "password": "env:OKR_TEAM_PW"})
    kind, message = failure(fetch(bad, "SELECT 1"))
    assert kind == "auth"
    assert f"Access denied for user '{READER}'" in message
    assert "s3cret" not in message
