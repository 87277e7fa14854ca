"""The PostgreSQL store passes okrcore's store contract suite, plus what is its own."""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st
from okrcore_postgres import SCHEMA_VERSION, PostgresStore

from okrcore import CheckIn, open_store
from okrcore.cli import main
from okrcore.errors import StoreError, StoreNotFoundError
from okrcore.store import MemoryStore
from okrcore.testing import StoreContract


class TestPostgresStoreContract(StoreContract):
    @pytest.fixture
    def store_url(self, fresh_schema: str) -> str:
        return fresh_schema

    @pytest.fixture
    def missing_store_url(self, fresh_schema: str) -> str:
        return fresh_schema


def test_the_plugin_registers_both_schemes(fresh_schema: str) -> None:
    other = fresh_schema.replace("postgresql://", "postgres://", 1)
    with open_store(other) as store:
        assert isinstance(store, PostgresStore)
        assert store.schema_version() == SCHEMA_VERSION


def test_a_missing_database_is_not_created(postgres_server: str) -> None:
    url = postgres_server.rsplit("/", 1)[0] + "/okrcore_no_such_database"
    with pytest.raises(StoreNotFoundError, match="okrcore_no_such_database"):
        open_store(url, create=False)
    with pytest.raises(StoreError, match="cannot open PostgreSQL store"):
        open_store(url)  # nor created with create=True: databases are the server admin's


def test_migrations_are_logged_applied_once_and_locked(
    fresh_schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.INFO, logger="okrcore.store"),
        PostgresStore(fresh_schema) as first,
    ):
        assert first.applied_migrations == tuple(range(1, SCHEMA_VERSION + 1))
    assert "applying schema migration 1" in caplog.text
    with PostgresStore(fresh_schema) as again:
        assert again.applied_migrations == ()


def test_a_newer_schema_is_refused(fresh_schema: str, postgres_server: str) -> None:
    with PostgresStore(fresh_schema) as store:
        schema = store.schema
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'INSERT INTO "{schema}".schema_version VALUES (99, now())')
    with pytest.raises(StoreError, match="newer than this okrcore-postgres"):
        PostgresStore(fresh_schema)


def test_the_password_is_never_shown() -> None:
    url = "postgresql://ana:s3cret@127.0.0.1:1/none?connect_timeout=1"
    with pytest.raises(StoreError) as caught:
        PostgresStore(url)
    assert "s3cret" not in str(caught.value)
    assert "ana:***@127.0.0.1:1" in str(caught.value)


@pytest.mark.parametrize("schema", ["a-b", "x;drop", "1abc", ""])
def test_bad_schema_names_are_refused(schema: str) -> None:
    with pytest.raises(StoreError, match="bad schema name"):
        PostgresStore(f"postgresql://root@127.0.0.1/test?schema={schema}")


def test_every_table_of_the_postgres_store_belongs_to_a_copy_section() -> None:
    from okrcore_postgres import MIGRATIONS

    from okrcore.store import SECTIONS

    created = {name for _, statements in MIGRATIONS for statement in statements
               for name in re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?\"?(\w+)", statement)}
    covered = {table for section in SECTIONS for table in section.tables}
    assert created == covered, (
        f"okr store copy would leave out table(s) {sorted(created - covered)}: add a Section to "
        "okrcore.store.copy.SECTIONS"
    )


def test_okr_store_copy_sqlite_to_postgres_and_back(fresh_schema: str, tmp_path: Path) -> None:
    from okrcore.store import SQLiteStore, store_content

    with SQLiteStore(tmp_path / "team.db") as team:
        for day in (1, 2):
            team.add_checkins([CheckIn(f"kr{i}", i * day, dt.date(2026, 1, day))
                               for i in range(50)], run_id=f"r{day}")
        team.add_checkins([CheckIn("kr1", 99, dt.date(2026, 1, 1), note="é")], reason="fixed")
        expected = store_content(team)
    up = CliRunner().invoke(main, ["store", "copy", f"sqlite:///{tmp_path / 'team.db'}",
                                   fresh_schema])
    assert up.exit_code == 0, up.output
    assert "  100  check-ins in force" in up.stdout
    assert "    1  replaced readings" in up.stdout
    back = CliRunner().invoke(main, ["store", "copy", fresh_schema,
                                     f"sqlite:///{tmp_path / 'back.db'}"])
    assert back.exit_code == 0, back.output
    assert back.stdout.splitlines()[-1] == up.stdout.splitlines()[-1]  # the same checksum
    with SQLiteStore(tmp_path / "back.db", create=False) as copied:
        assert store_content(copied) == expected


def test_okr_store_copy_never_shows_a_password(fresh_schema: str, tmp_path: Path) -> None:
    with_password = fresh_schema.replace("@", ":s3cret@", 1)
    assert "s3cret" in with_password  # the server trusts 127.0.0.1: the password is not checked
    with open_store(f"sqlite:///{tmp_path / 'a.db'}") as store:
        store.add_checkins([CheckIn("a", 1, dt.date(2026, 1, 1))])
    copy = ["store", "copy", f"sqlite:///{tmp_path / 'a.db'}", with_password]
    done = CliRunner().invoke(main, copy)
    assert done.exit_code == 0, done.output
    assert ":***@" in done.stdout
    again = CliRunner().invoke(main, copy)
    assert again.exit_code == 1
    assert "not empty" in again.stderr
    assert "s3cret" not in done.output + again.output


_KEYS = st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 2), st.sampled_from(["x", "y"]))
_BATCHES = st.lists(
    st.lists(st.tuples(_KEYS, st.sampled_from([1.0, 2.0]), st.integers(0, 3)), max_size=6),
    min_size=1,
    max_size=4,
)


@settings(max_examples=25, deadline=None)
@given(batches=_BATCHES)
def test_writes_match_the_sqlite_store(postgres_server: str, batches: list[Any]) -> None:
    """add_checkins copies new readings straight in and merges a batch with stored keys: either
    way the counts (in total and by key result), the readings in force and the history are the
    SQLite store's."""
    schema = f"okr_test_{uuid.uuid4().hex[:12]}"
    moment = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    try:
        with PostgresStore(f"{postgres_server}?schema={schema}") as pg, MemoryStore() as lite:
            for i, batch in enumerate(batches):
                checkins = [
                    CheckIn(kr, value, dt.date(2026, 1, 1) + dt.timedelta(days=day), source=src,
                            recorded_at=moment + dt.timedelta(minutes=i, seconds=second))
                    for (kr, day, src), value, second in batch
                ]
                assert pg.add_checkins(checkins, run_id=f"r{i}") == lite.add_checkins(
                    checkins, run_id=f"r{i}"
                )
                again = [attrs.evolve(c, value=c.value + 1) for c in checkins[::2]] + checkins
                assert pg.add_checkins_by_kr(again, run_id=f"s{i}") == lite.add_checkins_by_kr(
                    again, run_id=f"s{i}"
                )
            assert pg.checkins() == lite.checkins()
            assert pg.checkin_history() == lite.checkin_history()
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_a_store_of_schema_4_upgrades_to_reading_order_without_losing_a_checkin(
    fresh_schema: str, postgres_server: str
) -> None:
    from okrcore_postgres import MIGRATIONS

    schema = fresh_schema.rsplit("=", 1)[1]
    written = [CheckIn(f"kr-{k}", float(k * 10 + d), dt.date(2026, 1, 1 + d), note=f"n{k}",
                       recorded_at=dt.datetime(2026, 2, 1, k, tzinfo=dt.timezone.utc))
               for k in range(5) for d in range(4)]  # by key result, as schema 4 wrote them
    with psycopg.connect(postgres_server, options=f"-c search_path={schema}") as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY,"
                     " applied_at TIMESTAMPTZ NOT NULL)")
        for version, statements in MIGRATIONS[:4]:
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (%s, now())", (version,))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO checkins (kr_id, as_of, source, value, recorded_at, note)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                [(c.kr_id, c.as_of, c.source, c.value, c.recorded_at, c.note) for c in written])
    with PostgresStore(fresh_schema) as store:
        assert store.applied_migrations == tuple(range(5, SCHEMA_VERSION + 1))
        back = store.checkins()
        assert sorted(back, key=lambda c: (c.kr_id, c.as_of)) == written
        assert [c.as_of for c in back] == sorted(c.as_of for c in written)
    with psycopg.connect(postgres_server, options=f"-c search_path={schema}") as conn:
        # the table's rows now lie in reading order (CLUSTER), day first
        days = [r[0] for r in conn.execute("SELECT as_of FROM checkins").fetchall()]
    assert days == sorted(days)


def _history_plan(postgres_server: str, schema: str, kr_id: str) -> str:
    with psycopg.connect(postgres_server, options=f"-c search_path={schema}") as conn:
        # a tiny table: ask how its key can be used
        conn.execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
        rows = conn.execute(
            "EXPLAIN SELECT kr_id, value, as_of, source, recorded_at, author, note, confidence"
            " FROM checkins WHERE kr_id = %s ORDER BY as_of, recorded_at, kr_id, source",
            (kr_id,),
        ).fetchall()
    return "\n".join(r[0] for r in rows)


def _vacuumed(postgres_server: str, schema: str) -> bool:
    with psycopg.connect(postgres_server) as conn:
        row = conn.execute(
            "SELECT last_vacuum FROM pg_stat_user_tables"
            " WHERE schemaname = %s AND relname = 'checkins'", (schema,)
        ).fetchone()
    return row is not None and row[0] is not None


def test_a_history_is_read_from_the_key_alone_after_a_bulk_write(
    fresh_schema: str, postgres_server: str
) -> None:
    schema = fresh_schema.rsplit("=", 1)[1]
    day = dt.date(2026, 1, 1)
    with PostgresStore(fresh_schema) as store:
        store.vacuum_after = 40
        store.add_checkins([CheckIn("kr-a", 1.0, day)])  # a small write: autovacuum's job
        assert not _vacuumed(postgres_server, schema)
        bulk = [CheckIn(f"kr-{k}", float(d), day + dt.timedelta(days=d), note=f"n{d}")
                for k in "bcde" for d in range(10)]
        assert store.add_checkins(bulk).new == 40
        assert _vacuumed(postgres_server, schema)
        assert store.checkins(["kr-c"]) == [c for c in bulk if c.kr_id == "kr-c"]
    # the key holds every column a check-in is read with: no table page is read
    assert "Index Only Scan using checkins_pkey" in _history_plan(postgres_server, schema, "kr-c")
