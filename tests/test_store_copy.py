"""`okr store copy` and okrcore.store.copy_store: what the contract suite does not cover (every
table belongs to a section, a copy that does not match fails, the command line)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

from okrcore.cli import main
from okrcore.errors import StoreError
from okrcore.model import CheckIn, RunOutcome, RunRecord, TargetChange
from okrcore.store import (
    MIGRATIONS,
    SECTIONS,
    AddResult,
    MemoryStore,
    SQLiteStore,
    copy_store,
    store_content,
)

FIXTURE = Path(__file__).parent / "fixtures" / "store_592c20e.db"
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 2, 1, 6, tzinfo=UTC)


def created_tables(migrations: Iterable[tuple[int, Iterable[str]]]) -> set[str]:
    return {
        name
        for _, statements in migrations
        for statement in statements
        for name in re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?\"?(\w+)", statement)
    }


def test_every_table_of_the_sqlite_store_belongs_to_a_copy_section() -> None:
    covered = {table for section in SECTIONS for table in section.tables}
    missing = created_tables(MIGRATIONS) - covered
    assert not missing, (
        f"okr store copy would leave out table(s) {sorted(missing)}: add a Section to "
        "okrcore.store.copy.SECTIONS that reads and writes them through the Store interface"
    )
    assert covered <= created_tables(MIGRATIONS)


def a_store_with_revisions() -> MemoryStore:
    store = MemoryStore()
    store.add_checkins([CheckIn("a", 1, dt.date(2026, 1, 1), recorded_at=T0),
                        CheckIn("b", 1, dt.date(2026, 1, 1), recorded_at=T0)], run_id="r1")
    store.add_checkins([CheckIn("a", 2, dt.date(2026, 1, 1), note="fixed",
                                recorded_at=T0 + dt.timedelta(hours=1))], reason="typo")
    store.add_target_change(TargetChange("a", "target", 1.0, 2.0, "why", changed_at=T0))
    store.record_run(RunRecord("r1", T0, T0, dt.date(2026, 1, 1)))
    return store


def test_the_fixture_store_of_an_earlier_release_copies_whole(tmp_path: Path) -> None:
    shutil.copy(FIXTURE, tmp_path / "old.db")
    with SQLiteStore(tmp_path / "old.db", create=False) as old, \
            SQLiteStore(tmp_path / "new.db") as new:
        report = copy_store(old, new)
        assert store_content(new) == store_content(old)
        assert report.counts["check-ins in force"] == len(old.checkins()) > 0
        assert report.counts["runs"] == len(old.runs(limit=10_000)) > 0


class LosesNotes(MemoryStore):
    """A destination backend with a bug: it drops every note."""

    def add_checkins(self, checkins: Iterable[CheckIn], **kw: Any) -> AddResult:
        return super().add_checkins([attrs.evolve(c, note=None) for c in checkins], **kw)


class LosesRuns(MemoryStore):
    """A destination backend with a bug: it drops a run's outcomes."""

    def record_run(self, run: RunRecord) -> None:
        super().record_run(RunRecord(run.id, run.started_at, run.finished_at, run.as_of))


def test_a_destination_that_changes_a_field_fails_the_copy() -> None:
    with (
        a_store_with_revisions() as source,
        LosesNotes() as dest,
        pytest.raises(StoreError, match=r"records differ \(checksum check-ins: source has"),
    ):
        copy_store(source, dest)


def test_a_destination_that_loses_records_fails_the_copy() -> None:
    with a_store_with_revisions() as source, LosesRuns() as dest:
        source.record_run(RunRecord("r2", T0, None, dt.date(2026, 1, 1),
                                    outcomes=[RunOutcome("a", "refreshed", value=2.0)]))
        with pytest.raises(StoreError, match="source holds .*1 run outcomes.*destination .*0 run"):
            copy_store(source, dest)


def test_a_source_written_during_the_copy_fails_it() -> None:
    with a_store_with_revisions() as source:

        class WritesToTheSource(MemoryStore):
            def record_run(self, run: RunRecord) -> None:
                super().record_run(run)
                source.add_checkins([CheckIn("late", 1, dt.date(2026, 1, 2))])

        with WritesToTheSource() as dest, pytest.raises(StoreError, match="source changed"):
            copy_store(source, dest)


def test_a_destination_written_during_the_copy_fails_it() -> None:
    with a_store_with_revisions() as source:

        class SomeoneElseWrites(MemoryStore):
            def add_target_change(self, change: TargetChange) -> None:
                super().add_target_change(change)
                super().add_target_change(change)

        with SomeoneElseWrites() as dest, pytest.raises(StoreError, match="target changes"):
            copy_store(source, dest)


# -- the command line ------------------------------------------------------------------------
def okr(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "80"})


def test_okr_store_copy_round_trip_and_its_output(tmp_path: Path) -> None:
    src, dst, back = (f"sqlite:///{tmp_path / n}" for n in ("src.db", "dst.db", "back.db"))
    with SQLiteStore(tmp_path / "src.db") as store, a_store_with_revisions() as memory:
        copy_store(memory, store)
        expected = store_content(store)
    done = okr("store", "copy", src, dst)
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0] == f"Copied {src}"
    assert "  2  check-ins in force" in lines
    assert "  1  replaced readings" in lines
    assert "  1  target changes" in lines
    assert re.fullmatch(r"  sha256 [0-9a-f]{64}", lines[-1])
    assert okr("store", "copy", dst, back).stdout.splitlines()[-1] == lines[-1]
    with SQLiteStore(tmp_path / "back.db", create=False) as copied:
        assert store_content(copied) == expected


def test_okr_store_copy_refuses_a_store_that_is_not_empty(tmp_path: Path) -> None:
    src, dst = f"sqlite:///{tmp_path / 'src.db'}", f"sqlite:///{tmp_path / 'dst.db'}"
    with SQLiteStore(tmp_path / "src.db") as store, a_store_with_revisions() as memory:
        copy_store(memory, store)
    with SQLiteStore(tmp_path / "dst.db") as store:
        store.add_checkins([CheckIn("other", 1, dt.date(2026, 1, 1))])
    refused = okr("store", "copy", src, dst)
    assert refused.exit_code == 1
    # at 80 columns the error wraps, words whole, where the paths fall
    assert "the destination is not empty (it holds 1 check-ins in force)" in (
        " ".join(refused.stderr.split()))
    assert "--merge" in refused.stderr
    merged = okr("store", "copy", "--merge", src, dst)
    assert merged.exit_code == 0, merged.output
    assert merged.stdout.startswith(f"Merged {src}")
    again = okr("store", "copy", "--merge", src, dst)
    assert again.exit_code == 1
    assert "both stores hold check-ins of 'a', 'b'; target changes of 'a'; runs of 'r1'" in (
        " ".join(again.stderr.split()))
    assert all(len(line) <= 80 or " " not in line.strip() for line in again.stderr.splitlines())
    with SQLiteStore(tmp_path / "dst.db", create=False) as store:
        assert len(store.checkins()) == 3


def test_okr_store_copy_never_creates_its_source(tmp_path: Path) -> None:
    src = f"sqlite:///{tmp_path / 'typo.db'}"
    done = okr("store", "copy", src, f"sqlite:///{tmp_path / 'dst.db'}")
    assert done.exit_code == 2
    assert "no store at" in done.stderr
    assert not (tmp_path / "typo.db").exists()
    same = okr("store", "copy", src, src)
    assert same.exit_code == 2
    assert "the same store" in same.stderr
