"""The store contract suite: the behaviour every check-in store backend shares (docs/stores.md).

Published as :class:`okrcore.testing.StoreContract`. A backend author subclasses it in a pytest
module and gives it a fresh store per test::

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store_url(self) -> Iterator[str]:
            url = make_empty_database()         # your own database or schema for this test
            yield url
            drop_database(url)

        @pytest.fixture
        def missing_store_url(self) -> str:
            return "mystore://host/no-such-db"  # a store that does not exist

The tests open the URLs with :func:`okrcore.open_store` and :meth:`manager` (by default the
installed plugins, so the backend's plugin must be installed or :meth:`manager` overridden).
Set ``persistent = False`` for a backend whose data is gone when closed (``memory://``): the
tests that reopen a store, or write to it from other processes, are then skipped.

Every store a test opens with :meth:`StoreContract.opened` is copied to a memory store with
:func:`okrcore.store.copy_store` before it closes, and the copy must read back the same: so
``okr store copy`` keeps everything the suite writes, from any backend.

This module has the tests of one writer; ``_concurrency`` has those of many writers at once
(processes, threads, connections) and ``_base`` the helpers both use.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import attrs

from okrcore.errors import StoreError, StoreNotFoundError
from okrcore.model import (
    CheckIn,
    InitiativeChange,
    RunOutcome,
    RunRecord,
    StrategyChange,
    TargetChange,
)
from okrcore.store import AddResult, MemoryStore, Store, copy_store, open_store, store_content

from ._base import T0, UTC, D, _ci, _delivery, _refused, _run
from ._concurrency import ConcurrencyContract

__all__ = ["StoreContract"]


def _forced(obj: Any, **fields: Any) -> Any:
    """``obj`` with ``fields`` set, past its class's validation."""
    for name, value in fields.items():
        object.__setattr__(obj, name, value)
    return obj


def _write_everything(store: Store) -> None:
    """Some of every record a store holds, revisions included."""
    t = T0
    store.add_checkins([_ci("a", 1, 1, recorded_at=t), _ci("b", 2, 1, recorded_at=t),
                        _ci("a", 5, 2, source="ga4", recorded_at=t)], run_id="r1")
    store.add_checkins([_ci("a", 1.5, 1, recorded_at=t + dt.timedelta(hours=1))], run_id="r2")
    store.add_checkins([_ci("a", 1.25, 1, note="typo ✓", author="Zoë",
                            recorded_at=t + dt.timedelta(hours=2))], reason="one digit off")
    store.add_checkins([_ci("a", 1.5, 1, recorded_at=t + dt.timedelta(hours=3)),  # back again
                        _ci("b", 3, 1, confidence=0.5, recorded_at=t + dt.timedelta(hours=3)),
                        _ci("c", 7, 3, recorded_at=t)], run_id="r2")
    store.add_checkins([_ci("d", -1e300, 4, recorded_at=t)])
    store.add_target_change(TargetChange("a", "target", 10.0, 12.0, "budget", changed_at=t))
    store.add_target_change(TargetChange("a", "floor", None, 2.0, "floor ✓", changed_at=t))
    store.add_strategy_change(StrategyChange("s", "budget", {"x": [1, 2.5]}, None, "cut",
                                             changed_at=t))
    store.add_strategy_change(StrategyChange("s", "status", "a", "b", "why", changed_at=t))
    store.add_initiative_changes([
        InitiativeChange("seo-overhaul ✓", "planned", at=D(2026, 3, 1), recorded_at=t),
        InitiativeChange("seo-overhaul ✓", "doing", "planned", at=D(2026, 3, 5),
                         source="tracker", recorded_at=t, run_id="r2"),
    ])
    store.record_run(_run("r1", 8, outcomes=[RunOutcome("a", "refreshed", value=5, stored=3)],
                          info={"calls": {"ga": 1}}))
    store.record_run(_run("r2", 9, outcomes=[RunOutcome("b", "failed", error="HTTP 500",
                                                        kind="server", warnings=("w",))]))
    sent = _delivery("target_reached:a:12.0", "t1", run_id="r2", event={"summary": "a ✓"})
    store.claim_event(sent, stale_before=t)
    store.finish_event(sent.key, sent.destination, "t1", sent_at=t + dt.timedelta(minutes=1))
    store.claim_event(_delivery("went_stale:b:none", "t2", destination="mail"), stale_before=t)


class StoreContract(ConcurrencyContract):
    """Tests every store backend must pass; subclass it with ``store_url`` and
    ``missing_store_url`` fixtures (see the module documentation)."""

    # -- check-ins ---------------------------------------------------------------------------
    def test_implements_the_protocol(self, store_url: str) -> None:
        with self.opened(store_url) as store:
            assert isinstance(store, Store)

    def test_checkins_round_trip_every_field_with_unicode(self, store_url: str) -> None:
        original = CheckIn(
            "kr.visites-été-品牌",
            1234.5,
            D(2026, 1, 1),
            source="ga4:web ✓",
            recorded_at=dt.datetime(2026, 1, 2, 8, 30, 15, 123456, tzinfo=UTC),
            author="Zoë 🚀",
            note="après la campagne — 品牌\nsecond line, 'quotes' \"too\"",
            confidence=0.8,
        )
        with self.opened(store_url) as store:
            assert store.add_checkins([original]) == AddResult(new=1)
            (back,) = store.checkins()
        assert back == original
        assert back.recorded_at.utcoffset() == dt.timedelta(0)

    def test_extreme_finite_values_round_trip(self, store_url: str) -> None:
        values = [0.0, -1e300, 1e300, 5e-324, 1.7976931348623157e308, -2.5]
        with self.opened(store_url) as store:
            store.add_checkins([_ci(f"k{i}", v, 1) for i, v in enumerate(values)])
            back = {c.kr_id: c.value for c in store.checkins()}
        assert back == {f"k{i}": v for i, v in enumerate(values)}

    def test_time_zones_come_back_as_the_same_instant_in_utc(self, store_url: str) -> None:
        cet = dt.timezone(dt.timedelta(hours=1))
        west = dt.timezone(dt.timedelta(hours=-9, minutes=-30))
        with self.opened(store_url) as store:
            for day, moment in enumerate(
                [
                    dt.datetime(2026, 1, 2, 9, tzinfo=cet),
                    dt.datetime(2026, 1, 3, 7),  # naive means UTC
                    dt.datetime(2026, 1, 3, 1, tzinfo=west),
                ],
                start=1,
            ):
                store.add_checkins([_ci("a", 1, day, recorded_at=moment)])
            got = [c.recorded_at for c in store.checkins()]
        assert got == [
            dt.datetime(2026, 1, 2, 8, tzinfo=UTC),
            dt.datetime(2026, 1, 3, 7, tzinfo=UTC),
            dt.datetime(2026, 1, 3, 10, 30, tzinfo=UTC),
        ]
        assert all(t.utcoffset() == dt.timedelta(0) for t in got)

    def test_checkins_are_ordered_by_as_of_recorded_at_kr_and_source(self, store_url: str) -> None:
        t = T0
        with self.opened(store_url) as store:
            store.add_checkins(
                [
                    _ci("a", 3, 3, recorded_at=t),
                    _ci("b", 2, 2, recorded_at=t + dt.timedelta(hours=2)),
                    _ci("a", 2, 2, source="x", recorded_at=t + dt.timedelta(hours=1)),
                    _ci("a", 1, 1, recorded_at=t + dt.timedelta(days=5)),
                    _ci("c", 2, 2, recorded_at=t + dt.timedelta(hours=1, microseconds=500)),
                    # ties on as_of and recorded_at: by kr_id, then source, in code-point order
                    _ci("Z", 9, 9, recorded_at=t),
                    _ci("a", 9, 9, source="b", recorded_at=t),
                    _ci("a", 9, 9, source="B", recorded_at=t),
                    _ci("é", 9, 9, recorded_at=t),
                ]
            )
            got = [(c.kr_id, c.as_of.day, c.source) for c in store.checkins()]
        assert got == [
            ("a", 1, "manual"),
            ("a", 2, "x"),
            ("c", 2, "manual"),
            ("b", 2, "manual"),
            ("a", 3, "manual"),
            ("Z", 9, "manual"),
            ("a", 9, "B"),
            ("a", 9, "b"),
            ("é", 9, "manual"),
        ]

    def test_checkins_filters(self, store_url: str) -> None:
        with self.opened(store_url) as store:
            store.add_checkins([_ci(kr, day, day) for kr in ("a", "b", "c") for day in range(1, 6)])
            assert {c.kr_id for c in store.checkins(["a", "c"])} == {"a", "c"}
            assert store.checkins([]) == []
            window = store.checkins(["b"], since=D(2026, 1, 2), until=D(2026, 1, 4))
            assert [c.as_of.day for c in window] == [2, 3, 4]
            assert [c.as_of.day for c in store.checkins(["a"], since=D(2026, 1, 5))] == [5]
            assert [c.as_of.day for c in store.checkins(["a"], until=D(2026, 1, 1))] == [1]
            assert store.checkins(["zzz"]) == []
            assert len(store.checkins(since=D(2026, 1, 4))) == 6
            assert len(store.checkins(["a", "a", "b"])) == 10

    def test_checkins_filter_with_many_ids(self, store_url: str) -> None:
        ids = [f"kr{i}" for i in range(1200)]
        with self.opened(store_url) as store:
            assert store.add_checkins([_ci(kr, 1, 1) for kr in ids]) == AddResult(new=1200)
            wanted = ids[::2]
            assert {c.kr_id for c in store.checkins(wanted)} == set(wanted)
            assert len(store.checkin_history(wanted)) == 600

    def test_equal_reading_stores_nothing(self, store_url: str) -> None:
        batch = [_ci("a", 1, 1), _ci("a", 2, 2), _ci("a", 5, 1, source="ga4")]
        with self.opened(store_url) as store:
            assert store.add_checkins(batch) == AddResult(new=3)
            # a re-run: the same readings, recorded later, change nothing
            later = [_ci(c.kr_id, c.value, c.as_of.day, source=c.source, recorded_at=T0)
                     for c in batch]
            assert store.add_checkins(later) == AddResult()
            assert store.add_checkins([]) == AddResult()
            assert [c.value for c in store.checkins()] == [1, 5, 2]
            assert len(store.checkin_history()) == 3

    def test_different_reading_is_a_revision(self, store_url: str) -> None:
        first = _ci("a", 583, 1, source="ga4:web", recorded_at=T0)
        second = _ci("a", 592, 1, source="ga4:web", recorded_at=T0 + dt.timedelta(days=1))
        with self.opened(store_url) as store:
            assert store.add_checkins([first], run_id="run-1") == AddResult(new=1)
            assert store.add_checkins([second], run_id="run-2") == AddResult(revised=1)
            assert store.add_checkins([second], run_id="run-3") == AddResult()
            assert store.checkins() == [second]
            old, current = store.checkin_history()
        assert old.checkin == first
        assert old.run_id == "run-1"
        assert old.replaced_at == second.recorded_at
        assert not old.in_force
        assert current.checkin == second
        assert current.run_id == "run-2"
        assert current.in_force

    def test_manual_replacement_keeps_its_reason(self, store_url: str) -> None:
        typo = _ci("a", 1000, 1, author="ana", recorded_at=T0)
        fixed = _ci("a", 100, 1, author="ana", note="typo",
                    recorded_at=T0 + dt.timedelta(hours=1))
        note_only = _ci("a", 100, 1, author="ana", note="typo, checked",
                        recorded_at=T0 + dt.timedelta(hours=2))
        with self.opened(store_url) as store:
            store.add_checkins([typo])
            assert store.add_checkins([fixed], reason="one zero too many") == AddResult(revised=1)
            # another note (or author, confidence) is a different reading too
            assert store.add_checkins([note_only], reason="checked") == AddResult(revised=1)
            history = store.checkin_history(["a"])
        assert [(r.checkin.value, r.reason, r.in_force) for r in history] == [
            (1000, None, False),
            (100, "one zero too many", False),
            (100, "checked", True),
        ]

    def test_restated_backfill_revises_only_the_days_that_changed(self, store_url: str) -> None:
        week = [_ci("a", 10 * d, d, source="ga4:web") for d in range(1, 8)]
        restated = [_ci("a", 10 * d + (1 if d >= 5 else 0), d, source="ga4:web")
                    for d in range(1, 9)]
        with self.opened(store_url) as store:
            assert store.add_checkins(week, run_id="r1") == AddResult(new=7)
            assert store.add_checkins(restated, run_id="r2") == AddResult(new=1, revised=3)
            assert [c.value for c in store.checkins()] == [10, 20, 30, 40, 51, 61, 71, 81]
            replaced = [r for r in store.checkin_history() if not r.in_force]
        assert [r.checkin.value for r in replaced] == [50, 60, 70]

    def test_last_reading_of_a_key_in_one_call_counts(self, store_url: str) -> None:
        with self.opened(store_url) as store:
            assert store.add_checkins([_ci("b", 1, 1), _ci("b", 1, 1)]) == AddResult(new=1)
            assert store.add_checkins([_ci("c", 1, 1), _ci("c", 2, 1)]) == AddResult(new=1)
            assert [c.value for c in store.checkins(["c"])] == [2]

    def test_add_checkins_by_kr_counts_each_key_result(self, store_url: str) -> None:
        with self.opened(store_url) as store:
            assert store.add_checkins_by_kr([]) == {}
            first = [_ci("a", 1, 1), _ci("a", 2, 2), _ci("b", 1, 1)]
            assert store.add_checkins_by_kr(first, run_id="r1") == {
                "a": AddResult(new=2), "b": AddResult(new=1)
            }
            # a key result whose readings are all stored is counted too; the last of a key counts
            again = [_ci("a", 1, 1), _ci("b", 5, 1), _ci("b", 6, 1), _ci("c", 1, 3)]
            assert store.add_checkins_by_kr(again, run_id="r2") == {
                "a": AddResult(), "b": AddResult(revised=1), "c": AddResult(new=1)
            }
            assert [(c.kr_id, c.value) for c in store.checkins()] == [
                ("a", 1.0), ("b", 6.0), ("a", 2.0), ("c", 1.0)
            ]
            history = store.checkin_history(["b"])
        assert [(r.checkin.value, r.run_id, r.in_force) for r in history] == [
            (1.0, "r1", False), (6.0, "r2", True)
        ]

    def test_history_filters_and_order(self, store_url: str) -> None:
        with self.opened(store_url) as store:
            for v in (1, 2, 3):
                store.add_checkins([_ci("a", v, 2), _ci("b", v * 10, 1)])
            store.add_checkins([_ci("a", 7, 1)])
            got = [(r.checkin.kr_id, r.checkin.as_of.day, r.checkin.value)
                   for r in store.checkin_history()]
            assert got == [("a", 1, 7), ("b", 1, 10), ("b", 1, 20), ("b", 1, 30),
                           ("a", 2, 1), ("a", 2, 2), ("a", 2, 3)]
            assert len(store.checkin_history(["a"], since=D(2026, 1, 2))) == 3
            assert len(store.checkin_history(until=D(2026, 1, 1))) == 4
            assert store.checkin_history([]) == []

    def test_random_writes_match_a_dictionary(self, store_url: str) -> None:
        rng = random.Random(20260101)
        model: dict[tuple[str, dt.date, str], float] = {}
        replaced = 0
        with self.opened(store_url) as store:
            for _ in range(30):
                batch: dict[tuple[str, dt.date, str], CheckIn] = {}
                for _ in range(rng.randint(0, 20)):
                    c = _ci(rng.choice("abc"), rng.choice([1.0, 2.0, -0.5]), rng.randint(1, 6),
                            source=rng.choice(["manual", "ga4"]))
                    batch[(c.kr_id, c.as_of, c.source)] = c
                expect = AddResult(
                    new=sum(k not in model for k in batch),
                    revised=sum(k in model and model[k] != c.value for k, c in batch.items()),
                )
                assert store.add_checkins(list(batch.values())) == expect
                replaced += expect.revised
                model.update((k, c.value) for k, c in batch.items())
            stored = {(c.kr_id, c.as_of, c.source): c.value for c in store.checkins()}
            assert stored == model
            assert len(store.checkin_history()) == len(model) + replaced

    def test_non_finite_numbers_are_refused(self, store_url: str) -> None:
        nan, inf = float("nan"), float("inf")
        with self.opened(store_url) as store:
            for bad in (nan, inf, -inf):
                # the model classes may refuse such values themselves: the store checks again
                # (objects changed after construction, other model versions)
                with _refused(StoreError, "finite"):
                    store.add_target_change(
                        _forced(TargetChange("a", "target", 1.0, 2.0, "why"), new=bad)
                    )
                with _refused(StoreError, "finite"):
                    store.add_target_change(
                        _forced(TargetChange("a", "floor", 1.0, 2.0, "why"), old=bad)
                    )
                with _refused(StoreError, "'s'"):
                    store.add_strategy_change(
                        _forced(StrategyChange("s", "budget", 1, 2, "why"), new={"x": [bad]})
                    )
                outcome = _forced(RunOutcome("a", "refreshed", value=1.0), value=bad)
                with _refused(StoreError, "finite"):
                    store.record_run(_run("r", 1, outcomes=[outcome]))
                with _refused(StoreError, "finite"):
                    store.add_checkins([_ci("b", 1, 1), _forced(_ci("a", 1, 1), value=bad)])
                with _refused(StoreError, "finite"):
                    store.add_checkins([_forced(_ci("a", 1, 1), confidence=bad)])
            assert store.target_changes() == []
            assert store.strategy_changes() == []
            assert store.runs() == []
            assert store.checkins() == []

    # -- target and strategy changes ---------------------------------------------------------
    def test_target_changes_round_trip_in_order(self, store_url: str) -> None:
        t = dt.datetime(2026, 3, 1, 12, tzinfo=UTC)
        first = TargetChange("a", "target", 100.0, 120.0, "budget up", changed_at=t, author="bo")
        second = TargetChange("a", "stretch", None, 150.0, "new stretch ✓", changed_at=t)
        other = TargetChange("b", "floor", 5.0, 4.0, "market", changed_at=t - dt.timedelta(days=1))
        with self.opened(store_url) as store:
            for change in (first, second, other):
                store.add_target_change(change)
            assert store.target_changes("a") == [first, second]
            assert store.target_changes() == [other, first, second]
            assert store.target_changes("none") == []

    def test_linked_target_changes_are_stored_together_or_not_at_all(self, store_url: str) -> None:
        t = dt.datetime(2026, 3, 2, 9, tzinfo=UTC)
        moved = [
            TargetChange("leads", "target", 1000.0, 800.0, "to SEM", changed_at=t, link="m1"),
            TargetChange("sem", "target", 300.0, 500.0, "to SEM", changed_at=t, link="m1"),
        ]
        with self.opened(store_url) as store:
            store.add_target_changes(moved)
            assert store.target_changes() == moved
            assert store.target_changes("sem")[0].link == "m1"
            bad = TargetChange("sem", "target", 500.0, 600.0, "more", link="m2")
            _forced(bad, new=float("nan"))
            with _refused(StoreError, "finite"):
                store.add_target_changes(
                    [TargetChange("leads", "target", 800.0, 700.0, "more", link="m2"), bad]
                )
            assert store.target_changes() == moved  # the first of the refused pair is not kept

    def test_strategy_changes_keep_any_json_value(self, store_url: str) -> None:
        t = dt.datetime(2026, 3, 1, tzinfo=UTC)
        changes = [
            StrategyChange("seo", "status", "active", "paused", "budget moved", changed_at=t),
            StrategyChange("seo", "budget", 1000.5, None, "cut", changed_at=t + dt.timedelta(1)),
            StrategyChange("sem", "resources", ["ana", "bo"], {"team": "growth", "n": 2},
                           "reorg", changed_at=t),
        ]
        with self.opened(store_url) as store:
            for change in changes:
                store.add_strategy_change(change)
            assert store.strategy_changes("seo") == changes[:2]
            assert store.strategy_changes() == [changes[0], changes[2], changes[1]]
            store.add_strategy_change(StrategyChange("x", "start", None, D(2026, 4, 1), "moved"))
            assert store.strategy_changes("x")[0].new == "2026-04-01"
            with _refused(StoreError, "'bad'"):
                store.add_strategy_change(StrategyChange("bad", "x", object(), 1, "why"))
            assert store.strategy_changes("bad") == []

    def test_initiative_changes_round_trip_in_order(self, store_url: str) -> None:
        t = dt.datetime(2026, 3, 1, 12, tzinfo=UTC)
        first = InitiativeChange("streams", "planned", at=D(2026, 3, 1), recorded_at=t)
        later = InitiativeChange("streams", "done", "doing", at=D(2026, 3, 20), source="tracker",
                                 recorded_at=t, run_id="r9")
        middle = InitiativeChange("streams", "doing", "planned", at=D(2026, 3, 10),
                                  recorded_at=t + dt.timedelta(hours=1))
        other = InitiativeChange("seo ✓", "dropped", "doing", at=D(2026, 3, 10), recorded_at=t)
        with self.opened(store_url) as store:
            assert store.initiative_changes() == []
            store.add_initiative_changes([first, later])
            store.add_initiative_changes([middle, other])  # an earlier day recorded later
            assert store.initiative_changes("streams") == [first, middle, later]
            assert store.initiative_changes() == [first, middle, other, later]
            assert store.initiative_changes("none") == []
            store.add_initiative_changes([])
            assert len(store.initiative_changes()) == 4

    # -- run log -----------------------------------------------------------------------------
    def test_run_log_round_trip(self, store_url: str) -> None:
        outcomes = (
            RunOutcome("a", "refreshed", connection="ga", value=12.5, stored=3, revised=2,
                       warnings=("sampled ✓",)),
            RunOutcome("b", "failed", connection="crm", error="HTTP 401 from crm", kind="auth"),
            RunOutcome("c", "manual"),
        )
        first = _run("r1", 8, outcomes=outcomes, info={"calls": {"ga": 2}, "as_of": "2026-03-31"})
        second = _run("r2", 9)
        unfinished = RunRecord("r3", dt.datetime(2026, 4, 1, 10, tzinfo=UTC), None, D(2026, 3, 31))
        with self.opened(store_url) as store:
            for record in (first, second, unfinished):
                store.record_run(record)
            assert store.runs() == [unfinished, second, first]
            assert store.runs(limit=1) == [unfinished]
            assert store.runs(limit=0) == []
            done = _run("r3", 10, outcomes=(RunOutcome("a", "unchanged"),))
            store.record_run(done)  # the same id again replaces it
            assert store.runs(limit=1) == [done]
            assert len(store.runs()) == 3
            # a backend that looks a run up by id (the distributed refresh needs it) agrees
            lookup = getattr(store, "run", None)
            if lookup is not None:
                assert lookup("r1") == first
                assert lookup("r3") == done
                assert lookup("nope") is None

    def test_run_outcomes_recorded_by_position(self, store_url: str) -> None:
        """A backend with ``record_outcomes`` (the distributed refresh merges each job's
        outcomes with it) replaces just those outcomes, the info and finished_at."""
        queued = [RunOutcome(k, "queued", "api") for k in ("a", "b", "c")]
        run = attrs.evolve(_run("r1", 8, outcomes=[*queued, RunOutcome("m", "manual")],
                                info={"jobs": 2}), finished_at=None)  # in flight
        with self.opened(store_url) as store:
            update = getattr(store, "record_outcomes", None)
            if update is None:
                import pytest

                pytest.skip("the backend records whole runs only")
            lookup = store.run  # type: ignore[attr-defined]
            store.record_run(run)
            store.record_run(_run("other", 9, outcomes=queued))
            b = RunOutcome("b", "refreshed", "api", value=2.5, stored=1, warnings=("w ✓",))
            update("r1", {1: b}, finished_at=None, info={"jobs": 2, "done": [1]})
            first = attrs.evolve(run, outcomes=[queued[0], b, *run.outcomes[2:]],
                                 info={"jobs": 2, "done": [1]})
            assert lookup("r1") == first
            assert lookup("r1", outcomes=False) == attrs.evolve(first, outcomes=())
            assert lookup("nope", outcomes=False) is None
            bad = _forced(RunOutcome("a", "refreshed", value=1.0), value=float("nan"))
            with _refused(StoreError, "finite"):
                update("r1", {0: bad}, finished_at=None, info={})
            with _refused(StoreError, "no run 'nope'"):
                update("nope", {0: b}, finished_at=None, info={})
            assert lookup("r1") == first
            end = dt.datetime(2026, 4, 1, 9, tzinfo=UTC)
            a, c = RunOutcome("a", "failed", "api", error="HTTP 500"), RunOutcome("c", "unchanged")
            update("r1", {0: a, 2: c}, finished_at=end, info={"done": [1, 2]})
            assert lookup("r1") == attrs.evolve(
                run, outcomes=[a, b, c, run.outcomes[3]], finished_at=end,
                info={"done": [1, 2]})
            assert lookup("other").outcomes == tuple(queued)

    # -- copying -----------------------------------------------------------------------------
    def test_copy_round_trip_keeps_everything(self, store_url: str) -> None:
        """A store of everything (revisions with runs and reasons, changes, runs) copied into
        this backend and out again reads back the same, field by field."""
        with MemoryStore() as original:
            _write_everything(original)
            with self.opened(store_url) as store:
                there = copy_store(original, store)
                assert store_content(store) == store_content(original)
                with MemoryStore() as back:
                    assert copy_store(store, back) == there
                    assert store_content(back) == store_content(original)
        assert there.counts == {"check-ins in force": 5, "replaced readings": 4,
                                "target changes": 2, "strategy changes": 2,
                                "initiative changes": 2, "runs": 2, "run outcomes": 2,
                                "event deliveries": 2}

    def test_copy_refuses_a_destination_that_is_not_empty(self, store_url: str) -> None:
        with MemoryStore() as source, self.opened(store_url) as store:
            _write_everything(source)
            store.add_checkins([_ci("theirs", 1, 1)])
            with _refused(StoreError, "not empty .*1 check-ins in force"):
                copy_store(source, store)
            assert [c.kr_id for c in store.checkins()] == ["theirs"]
            report = copy_store(source, store, merge=True)
            assert report.counts["check-ins in force"] == 5
            assert len(store.checkins()) == 6
            with _refused(StoreError, "both stores hold check-ins of 'a'"):
                copy_store(source, store, merge=True)
            assert len(store.checkin_history()) == 10

    # -- lifetime ----------------------------------------------------------------------------
    # -- events ------------------------------------------------------------------------------
    def test_an_event_delivery_is_claimed_once_and_round_trips(self, store_url: str) -> None:
        event = {"kind": "target_reached", "subject": "leads", "summary": "Leads: target 1,000 ✓"}
        first = _delivery("target_reached:leads:1000", "a", run_id="r1", event=event)
        with self.opened(store_url) as store:
            assert store.event_deliveries(sent=None) == []
            assert store.claim_event(first, stale_before=T0 - dt.timedelta(hours=1))
            # a second sender (a re-run, another worker) does not get it while it is claimed
            assert not store.claim_event(
                _delivery(first.key, "b"), stale_before=T0 - dt.timedelta(hours=1)
            )
            assert store.event_deliveries() == []  # claimed, not sent
            assert store.event_deliveries(sent=False) == [first]
            sent_at = T0 + dt.timedelta(seconds=3)
            store.finish_event(first.key, "team-chat", "a", sent_at=sent_at)
            assert store.event_deliveries() == [attrs.evolve(first, sent_at=sent_at)]
            assert store.event_deliveries()[0].sent
            # once sent, never claimed again, however old the record
            later = T0 + dt.timedelta(days=30)
            assert not store.claim_event(_delivery(first.key, "c", at=later), stale_before=later)
            # the same event to another destination is its own delivery
            other = _delivery(first.key, "c", destination="mail")
            assert store.claim_event(other, stale_before=T0)
            assert [d.destination for d in store.event_deliveries(sent=None)] == [
                "mail", "team-chat"
            ]

    def test_a_failed_event_delivery_is_not_recorded(self, store_url: str) -> None:
        with self.opened(store_url) as store:
            assert store.claim_event(_delivery("e", "a"), stale_before=T0)
            store.finish_event("e", "team-chat", "a", sent_at=None)
            assert store.event_deliveries(sent=None) == []
            assert store.claim_event(_delivery("e", "b"), stale_before=T0)  # sent next time

    def test_a_stale_event_claim_is_taken_over(self, store_url: str) -> None:
        later = T0 + dt.timedelta(hours=2)
        with self.opened(store_url) as store:
            assert store.claim_event(_delivery("e", "dead"), stale_before=T0)
            assert not store.claim_event(_delivery("e", "b", at=later), stale_before=T0)
            assert store.claim_event(_delivery("e", "b", at=later), stale_before=later)
            # the dead sender's token no longer holds the claim: finishing does nothing
            store.finish_event("e", "team-chat", "dead", sent_at=later)
            store.finish_event("e", "team-chat", "dead", sent_at=None)
            [pending] = store.event_deliveries(sent=False)
            assert (pending.token, pending.claimed_at) == ("b", later)

    def test_event_deliveries_filter_and_order(self, store_url: str) -> None:
        with self.opened(store_url) as store:
            for key, day in (("z", 3), ("a", 5), ("m", 3)):
                d = attrs.evolve(_delivery(key, "t"), at=D(2026, 2, day))
                assert store.claim_event(d, stale_before=T0)
                store.finish_event(key, "team-chat", "t", sent_at=T0)
            assert [d.key for d in store.event_deliveries()] == ["m", "z", "a"]
            assert [d.key for d in store.event_deliveries(since=D(2026, 2, 4))] == ["a"]

    def test_a_missing_store_is_not_created(self, missing_store_url: str) -> None:
        for _ in range(2 if self.persistent else 1):  # the second time: it still does not exist
            with (
                _refused(StoreNotFoundError, "no store"),
                self.opened(missing_store_url, create=False),
            ):
                pass

    def test_closed_store_says_so(self, store_url: str) -> None:
        store = open_store(store_url, manager=self.manager())
        store.close()
        store.close()  # twice is fine
        with _refused(StoreError, "closed"):
            store.checkins()
        with _refused(StoreError, "closed"):
            store.add_checkins([_ci("a", 1, 1)])
