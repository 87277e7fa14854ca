"""A store written by an earlier okrcore opens (and upgrades) without losing anything."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import sqlite3
from pathlib import Path

import pytest

from okrcore.model import CheckIn
from okrcore.store import SCHEMA_VERSION, AddResult, SQLiteStore

FIXTURE = Path(__file__).parent / "fixtures" / "store_592c20e.db"


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    raw = sqlite3.connect(path)
    try:
        return raw.execute(sql).fetchall()
    finally:
        raw.close()


def test_store_of_commit_592c20e_upgrades_without_losing_a_checkin(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    before = rows(path, "SELECT * FROM checkins ORDER BY kr_id, as_of, source")
    assert rows(path, "SELECT MAX(version) FROM schema_version") == [(2,)]
    assert len(before) == 92
    with caplog.at_level(logging.INFO, logger="okrcore.store"):
        store = SQLiteStore(path)
    with store:
        assert store.applied_migrations == tuple(range(3, SCHEMA_VERSION + 1))
        assert "applying schema migration 3" in caplog.text
        # migration 7: check-ins clustered by key result, the trigger and the index rebuilt
        (table,) = rows(path, "SELECT sql FROM sqlite_master WHERE name = 'checkins'")[0]
        assert str(table).endswith("WITHOUT ROWID")
        assert rows(path, "SELECT name FROM sqlite_master WHERE tbl_name = 'checkins'"
                          " AND type != 'table' ORDER BY name") == [
            ("checkins_keep_revision",), ("checkins_order",)
        ]
        back = store.checkins()
        assert len(back) == 92
        assert {(c.kr_id, c.as_of.isoformat(), c.source, c.value) for c in back} == {
            (r[0], r[1], r[2], r[3]) for r in before
        }
        note = next(c for c in back if c.author)
        assert (note.author, note.note, note.confidence) == ("Zoë", "Überschlag ✓", 0.75)
        assert [(c.new, c.link) for c in store.target_changes()] == [(150.0, None)]
        assert [c.new for c in store.strategy_changes()] == ["active"]
        (run,) = store.runs()
        assert [o.stored for o in run.outcomes] == [30, 0]
        assert [o.revised for o in run.outcomes] == [0, 0]
        # and the upgraded store keeps revisions
        day = dt.date(2026, 1, 1)
        assert store.add_checkins([CheckIn("kr-0", 1.0, day, source="http_json:api")]) == (
            AddResult(revised=1)
        )
        assert len(store.checkin_history(["kr-0"], since=day, until=day)) == 2
    with SQLiteStore(path) as again:
        assert again.applied_migrations == ()
        assert again.schema_version() == SCHEMA_VERSION
