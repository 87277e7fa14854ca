"""A fresh schema of the test PostgreSQL server per test.

The server is ``$OKRCORE_TEST_POSTGRES`` (default postgresql://root@127.0.0.1:5432/test). Without
an answering server the tests skip, saying how to run them; with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

SERVER = os.environ.get("OKRCORE_TEST_POSTGRES", "postgresql://root@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The server's URL, once it is known to answer."""
    try:
        psycopg.connect(SERVER, connect_timeout=5).close()
    except psycopg.Error as exc:
        message = (
            f"no PostgreSQL server answers at {SERVER} ({str(exc).strip()}); start one (trust "
            "auth) or point OKRCORE_TEST_POSTGRES at one to run these tests"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return SERVER


@pytest.fixture
def fresh_schema(postgres_server: str) -> Iterator[str]:
    """A URL of a store in a schema of its own, dropped after the test."""
    schema = f"okr_test_{uuid.uuid4().hex[:12]}"
    yield f"{postgres_server}?schema={schema}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
