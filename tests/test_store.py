"""The check-in store: both built-in backends behave the same."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from okrcore.errors import StoreError, StoreNotFoundError
from okrcore.model import CheckIn, RunRecord, TargetChange
from okrcore.plugins import PluginManager
from okrcore.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    AddResult,
    MemoryStore,
    SQLiteStore,
    Store,
    StoreBase,
    open_store,
)
from okrcore.testing import StoreContract

UTC = dt.timezone.utc
D = dt.date


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLiteStore]:
    url = f"sqlite:///{tmp_path}/okr.db" if request.param == "sqlite" else "memory://"
    opened = open_store(url, manager=PluginManager(load_entry_points=False))
    assert isinstance(opened, SQLiteStore)
    yield opened
    opened.close()


class TestMemoryStoreContract(StoreContract):
    persistent = False

    @pytest.fixture
    def store_url(self) -> str:
        return "memory://"

    @pytest.fixture
    def missing_store_url(self) -> str:
        return "memory://"


class TestSQLiteStoreContract(StoreContract):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path}/okr.db"

    @pytest.fixture
    def missing_store_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path}/no-such.db"


def ci(kr: str, value: float, day: int, **kw: object) -> CheckIn:
    return CheckIn(kr, value, D(2026, 1, day), **kw)  # type: ignore[arg-type]


def test_backends_implement_the_protocol(store: SQLiteStore) -> None:
    assert isinstance(store, Store)


def test_url_picks_the_backend(tmp_path: Path) -> None:
    manager = PluginManager(load_entry_points=False)
    with open_store("memory://", manager=manager) as mem:
        assert type(mem) is MemoryStore
    with open_store(f"sqlite:///{tmp_path}/a.db", manager=manager) as db:
        assert type(db) is SQLiteStore
        assert Path(db.path) == tmp_path / "a.db"
    # a bare path is a SQLite file
    with open_store(str(tmp_path / "b.db"), manager=manager) as bare:
        assert isinstance(bare, SQLiteStore)
        assert Path(bare.path) == tmp_path / "b.db"
    assert (tmp_path / "b.db").exists()


def test_relative_sqlite_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with SQLiteStore.from_url("sqlite:///sub.db") as db:
        db.add_checkins([ci("a", 1, 1)])
    assert (tmp_path / "sub.db").exists()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:relative.db"])
def test_bad_sqlite_urls_are_refused(url: str) -> None:
    with pytest.raises(StoreError, match="bad SQLite store URL"):
        SQLiteStore.from_url(url)


def test_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(StoreError, match=r"unknown store scheme 'nope'.*memory, sqlite"):
        open_store("nope://x", manager=PluginManager(load_entry_points=False))


def test_missing_folder_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open SQLite store"):
        SQLiteStore(tmp_path / "no" / "such" / "dir" / "x.db")


def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all, just some text " * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        SQLiteStore(junk)


def test_create_false_opens_only_an_existing_store(tmp_path: Path) -> None:
    manager = PluginManager(load_entry_points=False)
    missing = tmp_path / "typo.db"
    with pytest.raises(StoreNotFoundError, match=r"no store at sqlite:///.*typo\.db"):
        open_store(f"sqlite:///{missing}", create=False, manager=manager)
    assert not missing.exists()
    with pytest.raises(FileNotFoundError):  # also the builtin, for callers that catch that
        open_store(str(missing), create=False, manager=manager)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(StoreNotFoundError, match="not an okrcore store"):
        open_store(str(other), create=False, manager=manager)
    open_store(str(missing), manager=manager).close()
    open_store(str(missing), create=False, manager=manager).close()


def test_a_factory_without_create_still_opens(tmp_path: Path) -> None:
    from okrcore.hookspecs import hookimpl

    class OldPlugin:
        @hookimpl
        def okrcore_register_stores(self, register: Any) -> None:
            register("old", lambda url: MemoryStore())

    manager = PluginManager(load_entry_points=False)
    manager.register(OldPlugin(), "old")
    with open_store("old://x", create=False, manager=manager) as s:
        assert isinstance(s, MemoryStore)


def run(run_id: str, hour: int, **kw: object) -> RunRecord:
    start = dt.datetime(2026, 4, 1, hour, tzinfo=UTC)
    return RunRecord(
        id=run_id,
        started_at=start,
        finished_at=start + dt.timedelta(seconds=3),
        as_of=D(2026, 3, 31),
        **kw,  # type: ignore[arg-type]
    )


def test_migrations_are_applied_once_and_reopening_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "okr.db"
    with SQLiteStore(path) as db:
        assert db.schema_version() == SCHEMA_VERSION
        db.add_checkins([ci("a", 1, 1)])
        db.add_target_change(TargetChange("a", "target", 1.0, 2.0, "why"))
        db.record_run(run("r1", 8))
    with SQLiteStore(path) as again:
        assert [c.value for c in again.checkins()] == [1]
        assert len(again.target_changes()) == 1
        assert [r.id for r in again.runs()] == ["r1"]
    raw = sqlite3.connect(path)
    versions = [v for (v,) in raw.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == [v for v, _ in MIGRATIONS]
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_pending_migrations_are_applied_in_order(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    # a database left at version 1 (as an older okrcore would have made it)
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)")
    for statement in MIGRATIONS[0][1]:
        raw.execute(statement)
    raw.execute("INSERT INTO schema_version VALUES (1, '2026-01-01T00:00:00+00:00')")
    raw.execute(
        "INSERT INTO checkins VALUES ('a', '2026-01-01', 'manual', 7, "
        "'2026-01-01T00:00:00.000000+00:00', NULL, NULL, NULL)"
    )
    raw.commit()
    raw.close()
    with SQLiteStore(path) as db:
        assert db.schema_version() == SCHEMA_VERSION
        assert [c.value for c in db.checkins()] == [7]
    raw = sqlite3.connect(path)
    indexes = {n for (n,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    raw.close()
    assert "checkins_order" in indexes
    assert "checkins_as_of" not in indexes


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    SQLiteStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute("INSERT INTO schema_version VALUES (?, 'x')", (SCHEMA_VERSION + 1,))
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="newer than this okrcore"):
        SQLiteStore(path)


def test_memory_stores_are_private() -> None:
    with MemoryStore() as a, MemoryStore() as b:
        a.add_checkins([ci("a", 1, 1)])
        assert b.checkins() == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.integers(min_value=1, max_value=10),
            st.sampled_from(["manual", "ga4"]),
            st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
            st.integers(min_value=0, max_value=10**6),
        ),
        max_size=40,
    ),
    st.integers(min_value=1, max_value=10),
    st.integers(min_value=1, max_value=10),
)
def test_property_dedupe_order_and_window(
    rows: list[tuple[str, int, str, float, int]], lo: int, hi: int
) -> None:
    base = dt.datetime(2026, 1, 1, tzinfo=UTC)
    checkins = [
        CheckIn(
            kr,
            value,
            D(2026, 1, day),
            source=source,
            recorded_at=base + dt.timedelta(microseconds=us),
        )
        for kr, day, source, value, us in rows
    ]
    with MemoryStore() as store:
        distinct = {(c.kr_id, c.as_of, c.source) for c in checkins}
        assert store.add_checkins(checkins) == AddResult(new=len(distinct))
        assert store.add_checkins(checkins) == AddResult()
        stored = store.checkins()
        # the last reading of each key in one call counts
        last: dict[tuple[str, dt.date, str], CheckIn] = {}
        for c in checkins:
            last[(c.kr_id, c.as_of, c.source)] = c

        def key(c: CheckIn) -> tuple[str, dt.date, str]:
            return c.kr_id, c.as_of, c.source

        # by key, not by repr: a stored -0.0 may come back as 0.0, which is the same value
        assert sorted(stored, key=key) == sorted(last.values(), key=key)
        keys = [(c.as_of, c.recorded_at) for c in stored]
        assert keys == sorted(keys)
        window = store.checkins(["a"], since=D(2026, 1, lo), until=D(2026, 1, hi))
        expected = [c for c in stored if c.kr_id == "a" and lo <= c.as_of.day <= hi]
        assert window == expected


_KEYS = st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 2), st.sampled_from(["x", "y"]))
_BATCHES = st.lists(
    st.lists(st.tuples(_KEYS, st.sampled_from([1.0, 2.0])), max_size=8), min_size=1, max_size=4
)


@settings(max_examples=50, deadline=None)
@given(batches=_BATCHES)
def test_counts_by_key_result_equal_one_add_per_key_result(batches: list[Any]) -> None:
    """add_checkins_by_kr (one transaction) stores and counts as add_checkins called once per
    key result does, and so does StoreBase's default for backends without their own."""
    with MemoryStore() as together, MemoryStore() as apart, DefaultByKr() as default:
        for i, batch in enumerate(batches):
            checkins = [CheckIn(kr, value, dt.date(2026, 1, 1) + dt.timedelta(days=day),
                                source=src, recorded_at=dt.datetime(2026, 1, 2, i))
                        for (kr, day, src), value in batch]
            counts = together.add_checkins_by_kr(checkins, run_id=f"r{i}")
            assert default.add_checkins_by_kr(checkins, run_id=f"r{i}") == counts
            one_by_one = {
                kr: apart.add_checkins([c for c in checkins if c.kr_id == kr], run_id=f"r{i}")
                for kr in sorted({c.kr_id for c in checkins})
            }
            assert counts == one_by_one
        assert together.checkins() == apart.checkins() == default.checkins()
        assert together.checkin_history() == apart.checkin_history() == default.checkin_history()


class DefaultByKr(MemoryStore):
    """A backend that writes by key result with StoreBase's default."""

    add_checkins_by_kr = StoreBase.add_checkins_by_kr


def test_row_reader_reads_days_as_text_or_objects_and_shares_them() -> None:
    from okrcore.store import RowReader

    moment = "2026-01-02T03:04:05.000000+00:00"
    text_rows = [("a", 1, "2026-01-01", "manual", moment, None, None, None),
                 ("b", 2.5, "2026-01-01", "manual", moment, "ann", "n", 0.5),
                 ("a", 3.0, "2026-01-02", "manual", moment, None, None, None)]
    object_rows = [(k, v, dt.date.fromisoformat(d), s, dt.datetime.fromisoformat(m), *rest)
                   for k, v, d, s, m, *rest in text_rows]
    from_text = RowReader().checkins(text_rows)
    from_objects = RowReader().checkins(object_rows)
    assert from_text == from_objects
    assert [c.as_of for c in from_text] == [dt.date(2026, 1, 1), dt.date(2026, 1, 1),
                                            dt.date(2026, 1, 2)]
    assert from_text[0].as_of is from_text[1].as_of  # equal days are one object
    assert from_text[1].confidence == 0.5
    assert from_text[1].author == "ann"
    assert RowReader({"b"}).checkins(text_rows) == [from_text[1]]


def test_reading_leaves_the_garbage_collector_as_it_was() -> None:
    import gc

    from okrcore.store import RowReader

    def failing() -> Iterator[tuple[Any, ...]]:
        yield ("a", 1.0, "2026-01-01", "manual", "2026-01-01T00:00:00.000000+00:00",
               None, None, None)
        raise RuntimeError("driver failed")

    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        RowReader().checkins(failing())
    assert gc.isenabled()
    gc.disable()
    try:
        assert RowReader().checkins([]) == []
        assert not gc.isenabled()
    finally:
        gc.enable()
