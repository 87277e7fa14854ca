"""The store contract's tests of many writers at once: processes refreshing, checking in and
claiming events together, threads sharing one store, and connections sharing one database.
Part of :class:`okrcore.testing.StoreContract` (okrcore._store_contract).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from okrcore.hookspecs import hookimpl
from okrcore.model import (
    CheckIn,
    Connection,
    Cycle,
    KeyResult,
    Objective,
    Plan,
    StrategyChange,
    TargetChange,
)
from okrcore.plugins import PluginManager
from okrcore.sources import FetchRequest, Reading, Source
from okrcore.store import AddResult, open_store

from ._base import T0, ContractBase, D, _ci, _delivery, _run

# -- many writers: processes refreshing and checking in at once -------------------------------
WRITERS, ROUNDS, SHARED_KRS = 8, 4, 5
DAY0 = D(2026, 3, 1)


def _reading(kr_id: str, day: dt.date) -> float:
    """What the contract's source reads: the same for every process, so nothing is revised."""
    return float(sum(map(ord, kr_id)) * 100 + day.day)


class _EchoSource(Source):
    name = "store-contract"

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterator[Reading]:
        for r in requests:
            yield Reading.total(r, _reading(r.kr.id, r.end))


class _EchoPlugin:
    @hookimpl
    def okrcore_register_sources(self, register: Callable[[type[Source]], None]) -> None:
        register(_EchoSource)


def _writers_plan() -> Plan:
    krs = [KeyResult(f"kr-{i}", f"KR {i}", baseline=0, target=1000,
                     source={"connection": "echo"}) for i in range(SHARED_KRS)]
    return Plan(
        cycles=[Cycle("q", DAY0, D(2026, 3, 31))],
        objectives=[Objective("o", "O", "q", key_results=krs)],
        connections={"echo": Connection("echo", "store-contract")},
    )


def _writer(url: str, n: int, start: Any, results: Any) -> None:
    """One writer process: ROUNDS refreshes and manual check-ins, then one contended reading."""
    from okrcore.engine import refresh

    try:
        manager = PluginManager()
        manager.register(_EchoPlugin(), "store-contract")
        plan = _writers_plan()
        with contextlib.closing(open_store(url, manager=manager)) as store:
            start.wait()
            for r in range(ROUNDS):
                day = DAY0 + dt.timedelta(days=r)
                result = refresh(plan, store, at=day, manager=manager)
                failed = [o.error for o in result.outcomes if o.status == "failed"]
                if failed:
                    raise AssertionError(f"refresh failed: {failed}")
                store.add_checkins([CheckIn(f"manual-{n}", r, day)])
            added = store.add_checkins([CheckIn("contended", float(n), DAY0)])
        results.put((n, None, added.new, added.revised))
    except BaseException:  # reported by the test in the parent process
        results.put((n, traceback.format_exc(), 0, 0))


def _claimer(url: str, n: int, start: Any, results: Any) -> None:
    """One process claiming the same event deliveries as every other one."""
    try:
        with contextlib.closing(open_store(url)) as store:
            start.wait()
            won = [
                k for k in range(EVENTS)
                if store.claim_event(_delivery(f"e{k}", f"p{n}"), stale_before=T0)
            ]
            for k in won:
                store.finish_event(f"e{k}", "team-chat", f"p{n}", sent_at=T0)
        results.put((n, None, won))
    except BaseException:  # reported by the test in the parent process
        results.put((n, traceback.format_exc(), []))


EVENTS = 20


class ConcurrencyContract(ContractBase):
    """The store contract's tests of concurrent writers (processes, threads, connections)."""

    def _race(self, store_url: str, target: Callable[..., None]) -> list[Any]:
        """Run ``target(url, n, start, results)`` in WRITERS processes started together; each
        puts one tuple on ``results``. Skipped for a backend that keeps no data."""
        self._skip_unless_persistent()
        open_store(store_url, manager=self.manager()).close()  # created before the race
        ctx = multiprocessing.get_context("spawn")
        start, results = ctx.Barrier(WRITERS), ctx.Queue()
        procs = [ctx.Process(target=target, args=(store_url, n, start, results))
                 for n in range(WRITERS)]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=600) for _ in procs]
        for p in procs:
            p.join(60)
        return outcomes

    def test_many_processes_claim_each_event_once(self, store_url: str) -> None:
        outcomes = self._race(store_url, _claimer)
        errors = [error for _, error, _ in outcomes if error]
        assert errors == [], errors[0]
        won = sorted(k for _, _, keys in outcomes for k in keys)
        assert won == list(range(EVENTS))  # every event claimed, none twice
        with self.opened(store_url) as store:
            assert len(store.event_deliveries()) == EVENTS

    def test_reopening_keeps_everything(self, store_url: str) -> None:
        self._skip_unless_persistent()
        with self.opened(store_url) as store:
            store.add_checkins([_ci("a", 1, 1)])
            store.add_checkins([_ci("a", 2, 1)], run_id="r1")
            store.add_target_change(TargetChange("a", "target", 1.0, 2.0, "why"))
            store.add_strategy_change(StrategyChange("s", "status", "a", "b", "why"))
            store.record_run(_run("r1", 8))
        with self.opened(store_url, create=False) as again:
            assert [c.value for c in again.checkins()] == [2]
            assert len(again.checkin_history()) == 2
            assert len(again.target_changes()) == 1
            assert len(again.strategy_changes()) == 1
            assert [r.id for r in again.runs()] == ["r1"]

    def test_two_connections_share_data(self, store_url: str) -> None:
        self._skip_unless_persistent()
        with self.opened(store_url) as a, self.opened(store_url) as b:
            assert a.add_checkins([_ci("a", 1, 1)]) == AddResult(new=1)
            assert b.add_checkins([_ci("a", 1, 1)]) == AddResult()
            assert b.add_checkins([_ci("a", 2, 1)]) == AddResult(revised=1)
            assert [c.value for c in a.checkins()] == [2]

    def test_many_processes_lose_and_double_nothing(self, store_url: str) -> None:
        outcomes = self._race(store_url, _writer)
        errors = [error for _, error, _, _ in outcomes if error]
        assert errors == [], errors[0]  # e.g. never "database is locked"
        assert sum(new for *_, new, _ in outcomes) == 1  # the contended reading: stored once...
        assert sum(revised for *_, revised in outcomes) == WRITERS - 1  # ...then revised
        with self.opened(store_url) as store:
            days = [DAY0 + dt.timedelta(days=r) for r in range(ROUNDS)]
            shared = [f"kr-{i}" for i in range(SHARED_KRS)]
            history = store.checkin_history(shared)
            assert sorted((r.checkin.kr_id, r.checkin.as_of, r.checkin.value) for r in history) == (
                sorted((kr, day, _reading(kr, day)) for kr in shared for day in days)
            )
            for n in range(WRITERS):
                assert [c.value for c in store.checkins([f"manual-{n}"])] == list(range(ROUNDS))
            assert len(store.checkin_history(["contended"])) == WRITERS
            assert len(store.runs(limit=1000)) == WRITERS * ROUNDS

    def test_concurrent_writes_from_threads(self, store_url: str) -> None:
        threads_n, per_thread = 8, 30
        errors: list[BaseException] = []
        barrier = threading.Barrier(threads_n)
        with self.opened(store_url) as store:

            def work(n: int) -> None:
                try:
                    barrier.wait()
                    for day in range(1, per_thread + 1):
                        as_of = D(2026, 1, 1) + dt.timedelta(days=day)
                        # every thread also writes one shared reading: stored once overall
                        store.add_checkins([CheckIn(f"kr{n}", day, as_of),
                                            CheckIn("shared", 1, as_of)])
                        store.checkins([f"kr{n}"], since=as_of)
                    store.record_run(_run(f"r{n}", n))
                except BaseException as exc:  # reported below, in the test's thread
                    errors.append(exc)

            threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == []
            assert len(store.checkins()) == threads_n * per_thread + per_thread
            assert len(store.checkin_history(["shared"])) == per_thread
            assert len(store.runs(limit=100)) == threads_n
