"""The check-in store: both built-in backends behave the same."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from okrcore.errors import StoreError
from okrcore.model import CheckIn, RunOutcome, RunRecord, StrategyChange, TargetChange
from okrcore.plugins import PluginManager
from okrcore.store import MIGRATIONS, SCHEMA_VERSION, MemoryStore, SQLiteStore, Store, open_store

UTC = dt.timezone.utc
D = dt.date


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLiteStore]:
    url = f"sqlite:///{tmp_path}/okr.db" if request.param == "sqlite" else "memory://"
    opened = open_store(url, manager=PluginManager(load_entry_points=False))
    assert isinstance(opened, SQLiteStore)
    yield opened
    opened.close()


def ci(kr: str, value: float, day: int, **kw: object) -> CheckIn:
    return CheckIn(kr, value, D(2026, 1, day), **kw)  # type: ignore[arg-type]


def test_backends_implement_the_protocol(store: SQLiteStore) -> None:
    assert isinstance(store, Store)


def test_url_picks_the_backend(tmp_path: Path) -> None:
    manager = PluginManager(load_entry_points=False)
    with open_store("memory://", manager=manager) as mem:  # type: ignore[attr-defined]
        assert type(mem) is MemoryStore
    with open_store(f"sqlite:///{tmp_path}/a.db", manager=manager) as db:  # type: ignore[attr-defined]
        assert type(db) is SQLiteStore
        assert Path(db.path) == tmp_path / "a.db"
    # a bare path is a SQLite file
    with open_store(str(tmp_path / "b.db"), manager=manager) as bare:  # type: ignore[attr-defined]
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


def test_same_checkin_twice_is_stored_once(store: SQLiteStore) -> None:
    assert store.add_checkins([ci("a", 1, 1), ci("a", 2, 2)]) == 2
    # same (kr, as_of, source): not new even with another value; the first one stays
    assert store.add_checkins([ci("a", 99, 1), ci("a", 3, 3)]) == 1
    assert [c.value for c in store.checkins()] == [1, 2, 3]
    # another source for the same day is a separate check-in
    assert store.add_checkins([ci("a", 5, 1, source="ga4")]) == 1
    # duplicates inside one batch count once
    assert store.add_checkins([ci("b", 1, 1), ci("b", 1, 1)]) == 1
    assert store.add_checkins([]) == 0
    assert len(store.checkins()) == 5


def test_checkins_round_trip_every_field(store: SQLiteStore) -> None:
    recorded = dt.datetime(2026, 1, 2, 8, 30, 15, 123456, tzinfo=UTC)
    original = CheckIn(
        "kr.visits",
        1234.5,
        D(2026, 1, 1),
        source="ga4:web",
        recorded_at=recorded,
        author="ana",
        note="après la campagne — 品牌",
        confidence=0.8,
    )
    store.add_checkins([original])
    (back,) = store.checkins()
    assert back == original
    assert back.recorded_at.tzinfo is not None
    assert back.recorded_at.utcoffset() == dt.timedelta(0)


def test_datetimes_in_other_zones_come_back_as_the_same_instant_in_utc(store: SQLiteStore) -> None:
    cet = dt.timezone(dt.timedelta(hours=1))
    recorded = dt.datetime(2026, 1, 2, 9, 0, tzinfo=cet)
    store.add_checkins([ci("a", 1, 1, recorded_at=recorded)])
    back = store.checkins()[0].recorded_at
    assert back == recorded
    assert back.utcoffset() == dt.timedelta(0)
    assert back.hour == 8
    # a naive datetime is taken as UTC
    store.add_checkins([ci("a", 1, 2, recorded_at=dt.datetime(2026, 1, 3, 7, 0))])
    assert store.checkins(since=D(2026, 1, 2))[0].recorded_at == dt.datetime(
        2026, 1, 3, 7, 0, tzinfo=UTC
    )


def test_checkins_are_ordered_by_as_of_then_recorded_at(store: SQLiteStore) -> None:
    t = dt.datetime(2026, 2, 1, tzinfo=UTC)
    store.add_checkins(
        [
            ci("a", 3, 3, recorded_at=t),
            ci("b", 2, 2, recorded_at=t + dt.timedelta(hours=2)),
            ci("a", 2, 2, source="x", recorded_at=t + dt.timedelta(hours=1)),
            ci("a", 1, 1, recorded_at=t + dt.timedelta(days=5)),
            # same instant but fewer microseconds printed must still sort right
            ci("c", 2, 2, recorded_at=t + dt.timedelta(hours=1, microseconds=500)),
        ]
    )
    got = [(c.kr_id, c.value, c.as_of.day) for c in store.checkins()]
    assert got == [("a", 1, 1), ("a", 2, 2), ("c", 2, 2), ("b", 2, 2), ("a", 3, 3)]


def test_checkins_filters(store: SQLiteStore) -> None:
    store.add_checkins([ci(kr, day, day) for kr in ("a", "b", "c") for day in range(1, 6)])
    assert {c.kr_id for c in store.checkins(["a", "c"])} == {"a", "c"}
    assert store.checkins([]) == []
    window = store.checkins(["b"], since=D(2026, 1, 2), until=D(2026, 1, 4))
    assert [c.as_of.day for c in window] == [2, 3, 4]
    assert [c.as_of.day for c in store.checkins(["a"], since=D(2026, 1, 5))] == [5]
    assert [c.as_of.day for c in store.checkins(["a"], until=D(2026, 1, 1))] == [1]
    assert store.checkins(["zzz"]) == []
    assert len(store.checkins(since=D(2026, 1, 4))) == 6


def test_checkins_filter_with_many_ids(store: SQLiteStore) -> None:
    ids = [f"kr{i}" for i in range(1200)]
    store.add_checkins([ci(kr, 1, 1) for kr in ids])
    wanted = ids[::2]
    assert {c.kr_id for c in store.checkins(wanted)} == set(wanted)


def test_target_changes_round_trip_in_order(store: SQLiteStore) -> None:
    t = dt.datetime(2026, 3, 1, 12, tzinfo=UTC)
    first = TargetChange("a", "target", 100.0, 120.0, "budget up", changed_at=t, author="bo")
    second = TargetChange("a", "stretch", None, 150.0, "new stretch", changed_at=t)  # same instant
    other = TargetChange("b", "floor", 5.0, 4.0, "market", changed_at=t - dt.timedelta(days=1))
    for change in (first, second, other):
        store.add_target_change(change)
    assert store.target_changes("a") == [first, second]
    assert store.target_changes() == [other, first, second]
    assert store.target_changes("none") == []


def test_strategy_changes_keep_any_json_value(store: SQLiteStore) -> None:
    t = dt.datetime(2026, 3, 1, tzinfo=UTC)
    changes = [
        StrategyChange("seo", "status", "active", "paused", "budget moved", changed_at=t),
        StrategyChange("seo", "budget", 1000.5, None, "cut", changed_at=t + dt.timedelta(1)),
        StrategyChange(
            "sem", "resources", ["ana", "bo"], {"team": "growth", "n": 2}, "reorg", changed_at=t
        ),
    ]
    for change in changes:
        store.add_strategy_change(change)
    assert store.strategy_changes("seo") == changes[:2]
    assert store.strategy_changes() == [changes[0], changes[2], changes[1]]
    # dates are stored as ISO text
    store.add_strategy_change(StrategyChange("x", "start", None, D(2026, 4, 1), "moved"))
    assert store.strategy_changes("x")[0].new == "2026-04-01"


def test_strategy_change_value_that_is_not_json_is_refused(store: SQLiteStore) -> None:
    with pytest.raises(StoreError, match="'seo'"):
        store.add_strategy_change(StrategyChange("seo", "x", object(), 1, "why"))
    assert store.strategy_changes() == []


def run(run_id: str, hour: int, **kw: object) -> RunRecord:
    start = dt.datetime(2026, 4, 1, hour, tzinfo=UTC)
    return RunRecord(
        id=run_id,
        started_at=start,
        finished_at=start + dt.timedelta(seconds=3),
        as_of=D(2026, 3, 31),
        **kw,  # type: ignore[arg-type]
    )


def test_run_log_round_trip(store: SQLiteStore) -> None:
    outcomes = (
        RunOutcome("a", "refreshed", connection="ga", value=12.5, stored=3, warnings=("sampled",)),
        RunOutcome("b", "failed", connection="crm", error="HTTP 401 from crm", kind="auth"),
        RunOutcome("c", "manual"),
    )
    first = run("r1", 8, outcomes=outcomes, info={"calls": {"ga": 2}, "as_of": "2026-03-31"})
    second = run("r2", 9)
    unfinished = RunRecord("r3", dt.datetime(2026, 4, 1, 10, tzinfo=UTC), None, D(2026, 3, 31))
    for record in (first, second, unfinished):
        store.record_run(record)
    assert store.runs() == [unfinished, second, first]
    assert store.runs(limit=1) == [unfinished]
    # recording the same id again replaces it (a run updated when it finishes)
    done = run("r3", 10, outcomes=(RunOutcome("a", "unchanged"),))
    store.record_run(done)
    assert store.runs(limit=1) == [done]
    assert len(store.runs()) == 3


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
    assert "checkins_as_of" in indexes


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    SQLiteStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute("INSERT INTO schema_version VALUES (?, 'x')", (SCHEMA_VERSION + 1,))
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="newer than this okrcore"):
        SQLiteStore(path)


def test_closed_store_says_so(store: SQLiteStore) -> None:
    store.close()
    store.close()  # twice is fine
    with pytest.raises(StoreError, match="closed"):
        store.checkins()
    with pytest.raises(StoreError, match="closed"):
        store.add_checkins([ci("a", 1, 1)])


def test_concurrent_writes_from_threads(store: SQLiteStore) -> None:
    threads_n, per_thread = 8, 50
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads_n)

    def work(n: int) -> None:
        try:
            barrier.wait()
            for day in range(1, per_thread + 1):
                as_of = D(2026, 1, 1) + dt.timedelta(days=day)
                # every thread also writes one shared check-in: stored exactly once overall
                store.add_checkins([CheckIn(f"kr{n}", day, as_of), CheckIn("shared", 1, as_of)])
                store.checkins([f"kr{n}"], since=as_of)
            store.record_run(run(f"r{n}", n))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.checkins()) == threads_n * per_thread + per_thread
    assert len(store.checkins(["shared"])) == per_thread
    assert len(store.runs(limit=100)) == threads_n


def test_two_connections_to_one_file_share_data(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with SQLiteStore(path) as a, SQLiteStore(path) as b:
        assert a.add_checkins([ci("a", 1, 1)]) == 1
        assert b.add_checkins([ci("a", 1, 1)]) == 0
        assert len(b.checkins()) == 1


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
        assert store.add_checkins(checkins) == len({(c.kr_id, c.as_of, c.source) for c in checkins})
        assert store.add_checkins(checkins) == 0
        stored = store.checkins()
        # the first of each key wins
        first: dict[tuple[str, dt.date, str], CheckIn] = {}
        for c in checkins:
            first.setdefault((c.kr_id, c.as_of, c.source), c)
        def key(c: CheckIn) -> tuple[str, dt.date, str]:
            return c.kr_id, c.as_of, c.source

        # by key, not by repr: a stored -0.0 may come back as 0.0, which is the same value
        assert sorted(stored, key=key) == sorted(first.values(), key=key)
        keys = [(c.as_of, c.recorded_at) for c in stored]
        assert keys == sorted(keys)
        window = store.checkins(["a"], since=D(2026, 1, lo), until=D(2026, 1, hi))
        expected = [c for c in stored if c.kr_id == "a" and lo <= c.as_of.day <= hi]
        assert window == expected
