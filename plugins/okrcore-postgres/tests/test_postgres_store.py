"""The PostgreSQL store passes okrcore's store contract suite, plus what is its own."""

from __future__ import annotations

import logging

import psycopg
import pytest
from okrcore_postgres import SCHEMA_VERSION, PostgresStore

from okrcore import open_store
from okrcore.errors import StoreError, StoreNotFoundError
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
        caplog.at_level(logging.INFO, logger="okrcore_postgres"),
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
