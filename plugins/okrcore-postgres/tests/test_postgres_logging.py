"""`okr -v` shows the PostgreSQL store's migrations (logger okrcore.store), and no log record
holds the password of the store's URL."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from okrcore_postgres import PostgresStore

PASSWORD = "pg-pass-7781-secret"
PLAN = """\
okrcore: 1
title: Logging
cycles:
  - {id: q4, start: 2026-10-01, end: 2026-12-31}
objectives:
  - id: o
    title: Grow
    cycle: q4
    key_results:
      - {id: leads, title: Leads reach 100, kind: increase, baseline: 0, target: 100}
"""


def _with_password(url: str) -> str:
    # the test server trusts local connections, so any password is accepted and ignored
    parts = urllib.parse.urlsplit(url)
    user, host = parts.netloc.rsplit("@", 1) if "@" in parts.netloc else ("postgres", parts.netloc)
    return urllib.parse.urlunsplit(
        parts._replace(netloc=f"{user.split(':')[0]}:{PASSWORD}@{host}")
    )


def test_okr_verbose_shows_the_migration_and_never_the_password(
    fresh_schema: str, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    url = _with_password(fresh_schema)
    done = subprocess.run(
        [sys.executable, "-m", "okrcore.cli", "-v", "checkin", str(plan), "leads", "5",
         "--at", "2026-11-20", "--store", url],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "OKRCORE_LOAD_PLUGINS": "postgres"},
    )
    assert done.returncode == 0, done.stderr
    assert "INFO okrcore.store.postgres: store postgresql://" in done.stderr
    assert "applying schema migration 1" in done.stderr
    assert ":***@" in done.stderr
    assert PASSWORD not in done.stdout + done.stderr


def test_no_log_record_holds_the_password(
    fresh_schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="okrcore"), PostgresStore(
        _with_password(fresh_schema)
    ) as store:
        store.checkins()
    assert any("applying schema migration" in r.getMessage() for r in caplog.records)
    assert [r for r in caplog.records if PASSWORD in r.getMessage()] == []
    assert [r for r in caplog.records if PASSWORD in repr(r.args)] == []
