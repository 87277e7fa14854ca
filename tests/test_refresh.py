"""The refresh engine against local fake servers that inject faults."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from okrcore.engine import RefreshOptions, refresh
from okrcore.errors import OkrError
from okrcore.hookspecs import hookimpl
from okrcore.model import Connection, Cycle, KeyResult, Objective, Plan
from okrcore.plugins import PluginManager
from okrcore.scoring import score
from okrcore.sources import Failure, FetchRequest, Limits, Reading, Source
from okrcore.store import MemoryStore
from okrcore.testing import FakeServer, Reply, refresh_without_waiting

AT = dt.date(2026, 3, 10)
CYCLE = Cycle("q1", dt.date(2026, 3, 1), dt.date(2026, 3, 31))


def kr(id: str, source: dict[str, Any] | None, *, measure: str = "gauge", unit: str = "",
       kind: str = "increase") -> KeyResult:
    return KeyResult(id, id, kind=kind, measure=measure, unit=unit, baseline=0, target=1000,
                     source=source)


def make_plan(krs: Sequence[KeyResult], connections: Iterable[Connection],
              plugins: Sequence[str] = ()) -> Plan:
    objective = Objective("o", "Grow", "q1", key_results=krs)
    return Plan(cycles=[CYCLE], objectives=[objective],
                connections={c.name: c for c in connections}, plugins=plugins)


def api(url: str, name: str = "api", **settings: Any) -> Connection:
    return Connection(name, "http_json", settings, endpoint=url)


class Sleeps:
    """An injected sleep: records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as s:
        s.route("/ok", Reply(json={"data": {"total": 5}}))
        yield s


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    s = MemoryStore()
    yield s
    s.close()


@pytest.fixture
def manager() -> PluginManager:
    return PluginManager(load_entry_points=False)


def values(store: MemoryStore) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for c in store.checkins():
        out.setdefault(c.kr_id, []).append(c.value)
    return out


FAULTS = {
    "429 with Retry-After, then fine": (
        [Reply(status=429, headers={"Retry-After": "7"}, json={"error": "slow down"}),
         Reply(json={"data": {"total": 3}})], None, 2),
    "503 with Retry-After, then fine": (
        [Reply(status=503, headers={"Retry-After": "2"}), Reply(json={"data": {"total": 3}})],
        None, 2),
    "a burst of 500s, then fine": (
        [Reply(status=500), Reply(status=502), Reply(status=500),
         Reply(json={"data": {"total": 3}})], None, 4),
    "500s that never stop": ([Reply(status=500, json={"error": "boom"})], "transient", 5),
    "a hung connection": ([Reply(hang=True)], "transient", 2),
    "a connection reset": ([Reply(reset=True)], "transient", 5),
    "malformed JSON": ([Reply(body=b'{"data": {"total": 3')], "permanent", 1),
    "a string where a number belongs": ([Reply(json={"data": {"total": "12"}})], "permanent", 1),
    "NaN": ([Reply(body=b'{"data": {"total": NaN}}')], "permanent", 1),
    "Infinity": ([Reply(body=b'{"data": {"total": Infinity}}')], "permanent", 1),
    "a null": ([Reply(json={"data": {"total": None}})], "permanent", 1),
    "401": ([Reply(status=401, json={"error": "bad token"})], "auth", 1),
    "403": ([Reply(status=403, json={"error": "forbidden"})], "auth", 1),
    "404": ([Reply(status=404, json={"error": "no such report"})], "permanent", 1),
    "JSONPath matching nothing": ([Reply(json={"data": {}})], "permanent", 1),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_keeps_the_healthy_and_reports_the_failed(
    fault: str, server: FakeServer, store: MemoryStore, manager: PluginManager
) -> None:
    replies, kind, calls = FAULTS[fault]
    server.route("/faulty", *replies)
    plan = make_plan(
        [kr("healthy", {"connection": "api", "url": "/ok", "value": "$.data.total"}),
         kr("faulty", {"connection": "api", "url": "/faulty", "value": "$.data.total"})],
        [api(server.url)],
    )
    # the hung connection uses a short per-request timeout and a single retry
    timeout, retries = (0.3, 1) if "hung" in fault else (10.0, 4)
    sleeps = Sleeps()
    result = refresh_without_waiting(
        plan,
        store,
        at=AT,
        manager=manager,
        sleep=sleeps,
        options=RefreshOptions(timeout=timeout, retries=retries),
    )
    outcomes = {o.kr_id: o for o in result.outcomes}

    assert values(store)["healthy"] == [5.0]
    assert outcomes["healthy"].status == "refreshed"
    assert len(server.calls_to("/faulty")) == calls
    if kind is None:
        assert values(store)["faulty"] == [3.0]
        assert outcomes["faulty"].status == "refreshed"
        assert result.ok
    else:
        assert "faulty" not in values(store)
        assert outcomes["faulty"].status == "failed"
        assert outcomes["faulty"].kind == kind
        assert outcomes["faulty"].connection == "api"
        assert outcomes["faulty"].value is None
        assert "/faulty" in (outcomes["faulty"].error or "") or kind == "permanent"
        assert not result.ok
        failed = result.to_dict()["failed"]
        assert failed == [{"id": "faulty", "connection": "api",
                           "error": outcomes["faulty"].error, "kind": kind}]


def test_retry_after_is_honoured_and_backoff_grows(
    server: FakeServer, store: MemoryStore, manager: PluginManager
) -> None:
    server.route("/limited", Reply(status=429, headers={"Retry-After": "7"}),
                 Reply(status=500), Reply(status=500), Reply(json={"data": {"total": 1}}))
    plan = make_plan([kr("k", {"connection": "api", "url": "/limited", "value": "$.data.total"})],
                     [api(server.url)])
    sleeps = Sleeps()
    refresh_without_waiting(
        plan,
        store,
        at=AT,
        manager=manager,
        sleep=sleeps,
        jitter=lambda: 1.0,
        options=RefreshOptions(backoff=1.0),
    )
    assert sleeps.delays == [7.0, 2.0, 4.0]  # Retry-After, then 1 * 2**1, 1 * 2**2


def test_jitter_keeps_backoff_within_half_and_full(
    server: FakeServer, store: MemoryStore, manager: PluginManager
) -> None:
    server.route("/flaky", Reply(status=500), Reply(json={"data": {"total": 1}}))
    plan = make_plan([kr("k", {"connection": "api", "url": "/flaky", "value": "$.data.total"})],
                     [api(server.url)])
    sleeps = Sleeps()
    refresh_without_waiting(
        plan,
        store,
        at=AT,
        manager=manager,
        sleep=sleeps,
        jitter=lambda: 0.0,
        options=RefreshOptions(backoff=2.0),
    )
    assert sleeps.delays == [1.0]


def test_a_retry_that_would_pass_the_deadline_is_not_made(
    server: FakeServer, store: MemoryStore, manager: PluginManager
) -> None:
    server.route("/limited", Reply(status=429, headers={"Retry-After": "3600"}))
    plan = make_plan([kr("k", {"connection": "api", "url": "/limited", "value": "$.data.total"})],
                     [api(server.url)])
    sleeps = Sleeps()
    result = refresh_without_waiting(
        plan,
        store,
        at=AT,
        manager=manager,
        sleep=sleeps,
        options=RefreshOptions(deadline=600),
    )
    (outcome,) = result.outcomes
    assert outcome.kind == "transient"
    assert "deadline" in (outcome.error or "")
    assert sleeps.delays == []
    assert len(server.calls_to("/limited")) == 1


def test_the_deadline_fails_what_is_still_hanging(
    server: FakeServer, store: MemoryStore, manager: PluginManager
) -> None:
    server.route("/hang", Reply(hang=True))
    plan = make_plan(
        [kr("healthy", {"connection": "ok", "url": "/ok", "value": "$.data.total"}),
         kr("stuck", {"connection": "slow", "url": "/hang", "value": "$.data.total"})],
        [api(server.url, "ok"), api(server.url, "slow")],
    )
    result = refresh(
        plan,
        store,
        at=AT,
        manager=manager,
        options=RefreshOptions(timeout=60, deadline=0.5),
    )
    outcomes = {o.kr_id: o for o in result.outcomes}
    assert outcomes["healthy"].status == "refreshed"
    assert outcomes["stuck"].status == "failed"
    assert outcomes["stuck"].kind == "deadline"
    assert "deadline" in (outcomes["stuck"].error or "")
    assert values(store) == {"healthy": [5.0]}
    assert result.run.info["deadline"] == 0.5
    # the call still hangs, but no thread of the run can hold the process open at exit
    holding = [t.name for t in threading.enumerate()
               if t.is_alive() and not t.daemon and t is not threading.main_thread()]
    assert holding == []


def test_a_timeout_is_retried_once_and_the_failure_says_so(
    server: FakeServer, store: MemoryStore, manager: PluginManager
) -> None:
    server.route("/hang", Reply(hang=True))
    plan = make_plan([kr("k", {"connection": "api", "url": "/hang", "value": "$.data.total"})],
                     [api(server.url)])
    result = refresh_without_waiting(
        plan,
        store,
        at=AT,
        manager=manager,
        sleep=Sleeps(),
        options=RefreshOptions(timeout=0.2),
    )
    (outcome,) = result.outcomes
    assert len(server.calls_to("/hang")) == 2  # not 1 + retries (4)
    assert outcome.kind == "transient"
    assert (outcome.error or "").endswith("no answer within 0.2 s, twice")


def test_timeout_retries_is_settable(
    server: FakeServer, store: MemoryStore, manager: PluginManager
) -> None:
    server.route("/hang", Reply(hang=True))
    plan = make_plan([kr("k", {"connection": "api", "url": "/hang", "value": "$.data.total"})],
                     [api(server.url)])
    result = refresh_without_waiting(
        plan,
        store,
        at=AT,
        manager=manager,
        sleep=Sleeps(),
        options=RefreshOptions(timeout=0.2, timeout_retries=0),
    )
    assert len(server.calls_to("/hang")) == 1
    assert (result.outcomes[0].error or "").endswith("no answer within 0.2 s")


def test_first_auth_failure_stops_the_connection(
    server: FakeServer, store: MemoryStore, manager: PluginManager
) -> None:
    server.route("/denied", Reply(status=401, json={"error": "token expired"}))
    krs = [kr(f"k{i}", {"connection": "api", "url": "/denied", "value": "$.total"})
           for i in range(5)]
    krs.append(kr("other", {"connection": "other", "url": "/ok", "value": "$.data.total"}))
    plan = make_plan(krs, [api(server.url, concurrency=1), api(server.url, "other")])
    result = refresh_without_waiting(plan, store, at=AT, manager=manager, sleep=Sleeps())
    outcomes = {o.kr_id: o for o in result.outcomes}
    assert len(server.calls_to("/denied")) == 1
    assert {outcomes[f"k{i}"].kind for i in range(5)} == {"auth"}
    not_sent = [o for o in result.outcomes if "not sent" in (o.error or "")]
    assert len(not_sent) == 4
    assert all("token expired" in (o.error or "") for o in not_sent)
    assert outcomes["other"].status == "refreshed"
    assert result.run.info["connections"]["api"]["auth_failure"]


def test_idempotent_for_the_same_as_of(
    server: FakeServer, store: MemoryStore, manager: PluginManager
) -> None:
    plan = make_plan([kr("k", {"connection": "api", "url": "/ok", "value": "$.data.total"})],
                     [api(server.url)])
    first = refresh(plan, store, at=AT, manager=manager)
    second = refresh(plan, store, at=AT, manager=manager)
    assert [o.status for o in first.outcomes] == ["refreshed"]
    assert [o.status for o in second.outcomes] == ["unchanged"]
    assert [(o.stored, o.value) for o in second.outcomes] == [(0, 5.0)]
    assert len(store.checkins()) == 1
    (checkin,) = store.checkins()
    assert (checkin.as_of, checkin.source, checkin.value) == (AT, "http_json:api", 5.0)
    assert second.to_dict()["refreshed"] == [
        {"id": "k", "value": 5.0, "stored": 0, "revised": 0, "connection": "api"}]
    # a new day stores a new check-in
    refresh(plan, store, at=AT + dt.timedelta(days=1), manager=manager)
    assert len(store.checkins()) == 2


def test_runs_are_recorded_with_outcomes_and_connection_info(
    server: FakeServer, store: MemoryStore, manager: PluginManager
) -> None:
    server.route("/bad", Reply(json={"total": "n/a"}))
    plan = make_plan(
        [kr("good", {"connection": "api", "url": "/ok", "value": "$.data.total"}),
         kr("bad", {"connection": "api", "url": "/bad", "value": "$.total"}),
         kr("hand", None)],
        [api(server.url)],
    )
    result = refresh(plan, store, at=AT, manager=manager)
    (run,) = store.runs()
    assert run.id == result.run.id
    assert run.as_of == AT
    assert run.finished_at is not None
    assert run.finished_at >= run.started_at
    assert [(o.kr_id, o.status) for o in run.outcomes] == [
        ("good", "refreshed"), ("bad", "failed"), ("hand", "manual")]
    api_info = run.info["connections"]["api"]
    assert api_info["requests"] == 2
    assert api_info["failed"] == 1
    assert api_info["fetch_calls"] == 2
    assert result.to_dict()["skipped"] == [{"id": "hand", "reason": "manual"}]


def test_dry_run_sends_and_stores_nothing(
    server: FakeServer, store: MemoryStore, manager: PluginManager
) -> None:
    plan = make_plan(
        [kr("g", {"connection": "api", "url": "/ok", "value": "$.data.total"}),
         kr("c", {"connection": "api", "url": "/ok", "value": "$.data.total"},
            measure="cumulative")],
        [api(server.url)],
    )
    result = refresh(plan, store, at=AT, manager=manager, dry_run=True)
    assert server.calls == []
    assert store.checkins() == []
    assert store.runs() == []
    requests = result.to_dict()["requests"]
    assert [(r["id"], r["start"], r["end"], r["series"]) for r in requests] == [
        ("g", "2026-03-01", "2026-03-10", False), ("c", "2026-03-01", "2026-03-10", True)]
    assert requests[0]["plugin"] == "http_json"
    assert requests[0]["query"] == {"url": "/ok", "value": "$.data.total"}


def test_cumulative_series_and_backfill(
    server: FakeServer, store: MemoryStore, manager: PluginManager
) -> None:
    def daily(call: Any) -> Reply:
        start = dt.date.fromisoformat(call.query["from"])
        end = dt.date.fromisoformat(call.query["to"])
        days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
        return Reply(json={"rows": [{"day": d.isoformat(), "n": d.day} for d in days]})

    server.handle("/daily", daily)
    source = {"connection": "api", "url": "/daily", "params": {"from": "{start}", "to": "{end}"},
              "series": {"items": "$.rows[*]", "date": "day", "value": "n"}}
    plan = make_plan([kr("leads", source, measure="cumulative")], [api(server.url)])
    result = refresh(plan, store, at=AT, manager=manager)
    assert server.calls[0].query == {"from": "2026-03-01", "to": "2026-03-10"}
    got = [(c.as_of.day, c.value) for c in store.checkins()]
    assert got == [(d, float(d)) for d in range(1, 11)]
    assert result.outcomes[0].value == sum(range(1, 11))

    backfill = refresh(plan, store, manager=manager,
                       backfill=(dt.date(2026, 2, 20), dt.date(2026, 3, 12)))
    assert server.calls[1].query == {"from": "2026-02-20", "to": "2026-03-12"}
    assert backfill.as_of == dt.date(2026, 3, 12)
    assert backfill.outcomes[0].stored == 21 - 10  # the days already stored are not repeated
    assert len(store.checkins()) == 21
    assert backfill.run.info["backfill"] == ["2026-02-20", "2026-03-12"]


def test_gauge_backfill_from_a_file(tmp_path: Path, store: MemoryStore,
                                    manager: PluginManager) -> None:
    (tmp_path / "export.csv").write_text(
        "date,metric,value\n2026-03-01,followers,100\n2026-03-02,followers,110\n"
        "2026-03-02,visits,7\n2026-03-04,followers,130\n")
    conn = Connection("exports", "file", base_dir=str(tmp_path))
    source = {"connection": "exports", "path": "export.csv", "where": {"metric": "followers"}}
    plan = make_plan([kr("followers", source)], [conn])
    refresh(plan, store, manager=manager, backfill=(dt.date(2026, 3, 1), dt.date(2026, 3, 5)))
    assert [(c.as_of.day, c.value) for c in store.checkins()] == [(1, 100), (2, 110), (4, 130)]
    assert {c.source for c in store.checkins()} == {"file:exports"}


def test_an_old_gauge_reading_is_stored_at_its_own_date_and_stays_stale(
        tmp_path: Path, store: MemoryStore, manager: PluginManager) -> None:
    (tmp_path / "export.csv").write_text("date,value\n2026-03-01,100\n2026-03-02,110\n")
    conn = Connection("exports", "file", base_dir=str(tmp_path))
    followers = KeyResult("followers", "Followers", baseline=0, target=1000, cadence="daily",
                          source={"connection": "exports", "path": "export.csv"})
    plan = make_plan([followers], [conn])
    refresh(plan, store, at=AT, manager=manager)
    assert [(c.as_of, c.value) for c in store.checkins()] == [(dt.date(2026, 3, 2), 110)]
    assert score(plan, store.checkins(), at=AT).key_results["followers"].stale
    refresh(plan, store, at=AT, manager=manager)  # nothing new: the same reading is not repeated
    assert len(store.checkins()) == 1


def test_backfill_range_must_be_ordered(store: MemoryStore, manager: PluginManager) -> None:
    plan = make_plan([kr("k", None)], [])
    with pytest.raises(OkrError, match="before it starts"):
        refresh(plan, store, manager=manager, backfill=(dt.date(2026, 3, 5), dt.date(2026, 3, 1)))


def test_only_selects_and_unknown_ids_are_refused(
    server: FakeServer, store: MemoryStore, manager: PluginManager
) -> None:
    plan = make_plan(
        [kr("a", {"connection": "api", "url": "/ok", "value": "$.data.total"}),
         kr("b", {"connection": "api", "url": "/ok", "value": "$.data.total"})],
        [api(server.url)],
    )
    result = refresh(plan, store, at=AT, manager=manager, only=["b"])
    assert [(o.kr_id, o.status) for o in result.outcomes] == [("a", "skipped"), ("b", "refreshed")]
    assert result.to_dict()["skipped"] == [{"id": "a", "reason": "not selected"}]
    with pytest.raises(OkrError, match="unknown key result"):
        refresh(plan, store, at=AT, manager=manager, only=["nope"])


def test_a_cycle_that_has_not_started_is_skipped(
    server: FakeServer, store: MemoryStore, manager: PluginManager
) -> None:
    plan = make_plan([kr("k", {"connection": "api", "url": "/ok", "value": "$.data.total"})],
                     [api(server.url)])
    result = refresh(plan, store, at=dt.date(2026, 2, 1), manager=manager)
    assert result.outcomes[0].status == "skipped"
    assert server.calls == []


def test_bindings_that_cannot_work_fail_without_a_call(
    server: FakeServer, store: MemoryStore, manager: PluginManager
) -> None:
    plan = make_plan(
        [kr("no_conn", {"connection": "missing", "url": "/ok", "value": "$.x"}),
         kr("no_plugin", {"connection": "crm", "object": "deals"}),
         kr("bad_query", {"connection": "api", "value": "$.x"}),
         kr("hand", {"connection": "by_hand"})],
        [api(server.url), Connection("crm", "nosuchcrm"), Connection("by_hand", "manual")],
    )
    result = refresh(plan, store, at=AT, manager=manager)
    outcomes = {o.kr_id: o for o in result.outcomes}
    assert "unknown connection 'missing'" in (outcomes["no_conn"].error or "")
    assert "nosuchcrm" in (outcomes["no_plugin"].error or "")
    assert "http_json" in (outcomes["no_plugin"].error or "")  # lists the known plugins
    assert "url" in (outcomes["bad_query"].error or "")
    assert {outcomes[k].kind for k in ("no_conn", "no_plugin", "bad_query")} == {"permanent"}
    assert outcomes["hand"].status == "manual"
    assert server.calls == []


# -- engine rules with an in-test source ------------------------------------------------------
class Scripted(Source):
    """Answers from ``SCRIPT[kr_id]``: a list of answers (callables of the request) in order."""

    name = "scripted"
    script: ClassVar[dict[str, list[Any]]] = {}
    calls: ClassVar[list[list[str]]] = []
    limit = Limits(max_batch=3, concurrency=2)

    def limits(self) -> Limits:
        return self.limit

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterator[Reading | Failure]:
        self.calls.append([r.kr.id for r in requests])
        for r in requests:
            answers = self.script[r.kr.id]
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            if isinstance(answer, Exception):
                raise answer
            yield answer(r)


class ScriptedPlugin:
    @hookimpl
    def okrcore_register_sources(self, register: Any) -> None:
        register(Scripted)


@pytest.fixture
def scripted(manager: PluginManager) -> PluginManager:
    Scripted.script, Scripted.calls = {}, []
    manager.register(ScriptedPlugin(), "scripted-test")
    return manager


def total(value: float, **kw: Any) -> Any:
    return lambda r: Reading.total(r, value, **kw)


def failure(kind: str, message: str = "nope", retry_after: float | None = None) -> Any:
    return lambda r: Failure(r, kind, message, retry_after)


def scripted_plan(*krs: KeyResult) -> Plan:
    return make_plan(krs, [Connection("s", "scripted")])


def test_quota_is_never_retried_and_batches_follow_the_limits(
    scripted: PluginManager, store: MemoryStore
) -> None:
    Scripted.script = {f"k{i}": [total(i)] for i in range(7)}
    Scripted.script["k3"] = [failure("quota", "daily quota used up"), total(3)]
    plan = scripted_plan(*(kr(f"k{i}", {"connection": "s"}) for i in range(7)))
    sleeps = Sleeps()
    result = refresh_without_waiting(plan, store, at=AT, manager=scripted, sleep=sleeps)
    assert sorted(len(b) for b in Scripted.calls) == [1, 3, 3]
    outcomes = {o.kr_id: o for o in result.outcomes}
    assert outcomes["k3"].kind == "quota"
    assert outcomes["k3"].error == "daily quota used up"
    assert sleeps.delays == []
    assert sorted(values(store)) == ["k0", "k1", "k2", "k4", "k5", "k6"]


def test_retries_resend_only_the_transient_requests_of_a_batch(
    scripted: PluginManager, store: MemoryStore
) -> None:
    Scripted.script = {"a": [total(1)], "b": [failure("transient"), total(2)], "c": [total(3)]}
    plan = scripted_plan(kr("a", {"connection": "s"}), kr("b", {"connection": "s"}),
                         kr("c", {"connection": "s"}))
    result = refresh_without_waiting(plan, store, at=AT, manager=scripted, sleep=Sleeps())
    assert Scripted.calls == [["a", "b", "c"], ["b"]]
    assert values(store) == {"a": [1.0], "b": [2.0], "c": [3.0]}
    assert result.run.info["connections"]["s"]["retries"] == 1
    outcome_b = next(o for o in result.outcomes if o.kr_id == "b")
    assert "answered after 2 attempts" in outcome_b.warnings


def test_a_source_that_raises_fails_its_batch_only(
    scripted: PluginManager, store: MemoryStore
) -> None:
    Scripted.limit = Limits(max_batch=1, concurrency=1)
    try:
        Scripted.script = {"a": [RuntimeError("plugin bug")], "b": [total(2)]}
        plan = scripted_plan(kr("a", {"connection": "s"}), kr("b", {"connection": "s"}))
        result = refresh(plan, store, at=AT, manager=scripted)
    finally:
        Scripted.limit = Limits(max_batch=3, concurrency=2)
    outcomes = {o.kr_id: o for o in result.outcomes}
    assert outcomes["a"].kind == "permanent"
    assert "RuntimeError: plugin bug" in (outcomes["a"].error or "")
    assert values(store) == {"b": [2.0]}


@pytest.mark.parametrize(
    ("answer", "measure", "kind", "unit", "message"),
    [
        (total(-3), "cumulative", "increase", "", "cannot be negative"),
        (total(-3), "gauge", "count", "", "cannot be negative"),
        (total(5, unit="USD"), "gauge", "increase", "EUR", "unit 'USD'"),
        (total(float("nan")), "gauge", "increase", "", "not a finite number"),
        (total(True), "gauge", "increase", "", "not a number"),
        (lambda r: Reading(r, ((r.end + dt.timedelta(days=1), 1.0),)), "gauge", "increase", "",
         "outside the requested"),
        (lambda r: Reading(r, ()), "gauge", "increase", "", "no value"),
        (lambda r: Reading(r, ((r.end, 1.0), (r.end, 2.0))), "cumulative", "increase", "",
         "two values"),
    ],
)
def test_readings_are_validated_before_storing(
    scripted: PluginManager, store: MemoryStore, answer: Any, measure: str, kind: str,
    unit: str, message: str,
) -> None:
    Scripted.script = {"k": [answer], "ok": [total(1, unit="usd")]}
    plan = scripted_plan(kr("k", {"connection": "s"}, measure=measure, kind=kind, unit=unit),
                         kr("ok", {"connection": "s"}, unit="USD"))
    result = refresh(plan, store, at=AT, manager=scripted)
    outcome = result.outcomes[0]
    assert (outcome.status, outcome.kind) == ("failed", "permanent")
    assert message in (outcome.error or "")
    assert values(store) == {"ok": [1.0]}


def test_warnings_and_info_reach_the_run_log(scripted: PluginManager, store: MemoryStore) -> None:
    Scripted.script = {"k": [total(4, warnings=["sampled data"], info={"quota_left": 97})]}
    result = refresh(scripted_plan(kr("k", {"connection": "s"})), store, at=AT, manager=scripted)
    (run,) = store.runs()
    assert run.outcomes[0].warnings == ("sampled data",)
    assert run.info["connections"]["s"]["info"] == {"quota_left": 97}
    assert result.run.info["connections"]["s"]["plugin"] == "scripted"


def test_refresh_finished_hook_gets_the_run_and_its_errors_are_reported(
    scripted: PluginManager, store: MemoryStore
) -> None:
    seen: list[Any] = []

    class Listener:
        @hookimpl
        def okrcore_refresh_finished(self, run: Any, store: Any) -> None:
            seen.append((run.id, store.runs(1)[0].id))

    class Broken:
        @hookimpl
        def okrcore_refresh_finished(self) -> None:
            raise RuntimeError("webhook down")

    scripted.register(Listener(), "listener")
    scripted.register(Broken(), "broken")
    Scripted.script = {"k": [total(1)]}
    result = refresh(scripted_plan(kr("k", {"connection": "s"})), store, at=AT, manager=scripted)
    assert seen == [(result.run.id, result.run.id)]  # called after the run was recorded
    assert [(f.name, f.error) for f in result.hook_errors] == [
        ("broken", "okrcore_refresh_finished: RuntimeError: webhook down")]
    assert store.runs()[0].info["hook_errors"][0]["plugin"] == "broken"
    assert values(store) == {"k": [1.0]}
    assert result.to_dict()["hook_errors"] == [
        {"plugin": "broken", "error": "okrcore_refresh_finished: RuntimeError: webhook down"}]


def test_the_plan_plugins_are_loaded(
    tmp_path: Path, store: MemoryStore, manager: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "okr_test_plan_plugin.py").write_text(textwrap.dedent("""
        from okrcore import hookimpl
        from okrcore.sources import Reading, Source

        class Constant(Source):
            name = "constant"

            def fetch(self, requests):
                for r in requests:
                    yield Reading.total(r, float(r.query["value"]))

        @hookimpl
        def okrcore_register_sources(register):
            register(Constant)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    plan = make_plan([kr("k", {"connection": "c", "value": 42})], [Connection("c", "constant")],
                     plugins=["okr_test_plan_plugin"])
    result = refresh(plan, store, at=AT, manager=manager)
    assert result.ok
    assert values(store) == {"k": [42.0]}


def test_okrcore_refresh_is_the_function_once_the_engine_is_imported(
    server: FakeServer, store: MemoryStore, manager: PluginManager
) -> None:
    import okrcore
    import okrcore.engine

    assert okrcore.refresh is okrcore.engine.refresh is refresh
    plan = make_plan([kr("k", {"connection": "api", "url": "/ok", "value": "$.data.total"})],
                     [api(server.url)])
    result = okrcore.refresh(plan, store, at=AT, manager=manager)
    assert result.ok


# -- the command line ----------------------------------------------------------------------------
CLI_PLAN = """\
okrcore: 1
cycles:
  - {{id: q1, start: 2026-03-01, end: 2026-03-31}}
objectives:
  - id: grow
    title: Grow
    cycle: q1
    key_results:
      - {{id: good, title: Reach 100, baseline: 0, target: 100,
         source: {{connection: api, url: /ok, value: $.data.total}}}}
      - {{id: bad, title: Reach 200, baseline: 0, target: 200,
         source: {{connection: api, url: {bad_url}, value: $.data.total}}}}
      - {{id: hand, title: Hold 3 events, kind: count, target: 3, cadence: weekly}}
connections:
  api: {{plugin: http_json, endpoint: "{url}"}}
"""


@pytest.fixture
def cli_plan(tmp_path: Path, server: FakeServer) -> Callable[[str], tuple[Path, str]]:
    def write(bad_url: str) -> tuple[Path, str]:
        path = tmp_path / "okrs.yaml"
        path.write_text(CLI_PLAN.format(url=server.url, bad_url=bad_url))
        return path, f"sqlite:///{tmp_path / 'okr.db'}"

    return write


def invoke(*args: str) -> Any:
    from click.testing import CliRunner

    from okrcore.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_refresh_exit_codes_text_and_json(
    cli_plan: Callable[[str], tuple[Path, str]], server: FakeServer
) -> None:
    server.route("/bad", Reply(status=404, json={"error": "gone"}))
    plan, store = cli_plan("/ok")
    done = invoke("refresh", str(plan), "--store", store, "--at", "2026-03-05")
    assert done.exit_code == 0, done.output
    assert "good = 5 (1 new, 0 revised) [api]" in done.output
    assert "manual  hand" in done.output
    assert "2 refreshed" in done.output

    plan, store = cli_plan("/bad")
    done = invoke("refresh", str(plan), "--store", store, "--at", "2026-03-06",
                  "--format", "json", "--retries", "0")
    assert done.exit_code == 1
    data = json.loads(done.stdout)
    assert data["as_of"] == "2026-03-06"
    assert [r["id"] for r in data["refreshed"]] == ["good"]
    assert [(f["id"], f["connection"], f["kind"]) for f in data["failed"]] == [
        ("bad", "api", "permanent")]
    assert "HTTP 404" in data["failed"][0]["error"]
    assert data["skipped"] == [{"id": "hand", "reason": "manual"}]

    runs = invoke("runs", "--store", store, "--format", "json")
    assert runs.exit_code == 0
    recorded = json.loads(runs.stdout)["runs"]
    assert [r["as_of"] for r in recorded] == ["2026-03-06", "2026-03-05"]
    text = invoke("runs", "--store", store, "--limit", "1")
    assert "FAILED bad [api] permanent: GET" in text.output
    assert "2026-03-05" not in text.output


def test_cli_refresh_dry_run_only_and_backfill(
    cli_plan: Callable[[str], tuple[Path, str]], server: FakeServer
) -> None:
    plan, store = cli_plan("/ok")
    done = invoke("refresh", str(plan), "--store", store, "--dry-run", "--only", "bad",
                  "--backfill", "2026-03-01..2026-03-03")
    assert done.exit_code == 0, done.output
    assert "1 request(s) would be sent" in done.output
    assert "bad: api (http_json) daily series 2026-03-01..2026-03-03" in done.output
    assert server.calls == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--only", "nope"], "no key result 'nope'"),
        (["--backfill", "2026-03-05"], "START..END"),
        (["--backfill", "2026-03-05..2026-03-01"], "before it starts"),
        (["--backfill", "2026-03-01..2026-03-02", "--at", "2026-03-02"], "exclude each other"),
        (["--store", "nosuch://x"], "unknown store scheme"),
    ],
)
def test_cli_refresh_unusable_arguments_exit_2(
    cli_plan: Callable[[str], tuple[Path, str]], args: list[str], message: str
) -> None:
    plan, store = cli_plan("/ok")
    done = invoke("refresh", str(plan), "--store", store, *args)
    assert done.exit_code == 2
    assert message in done.output


def test_cli_refresh_bad_plan_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("okrcore: 1\ncycles: 3\n")
    done = invoke("refresh", str(path), "--store", f"sqlite:///{tmp_path / 'x.db'}")
    assert done.exit_code == 2


def test_cli_refresh_plan_plugin_that_cannot_load_exits_2(
    cli_plan: Callable[[str], tuple[Path, str]]
) -> None:
    plan, store = cli_plan("/ok")
    plan.write_text(plan.read_text() + "plugins: [okr_no_such_plugin_module]\n")
    done = invoke("refresh", str(plan), "--store", store)
    assert done.exit_code == 2
    assert "okr_no_such_plugin_module" in done.output


def test_the_rate_limit_spaces_fetch_calls(scripted: PluginManager, store: MemoryStore) -> None:
    now = [1000.0]

    def sleep(seconds: float) -> None:  # a fake clock that moves only when the engine sleeps
        now[0] += seconds

    Scripted.limit = Limits(max_batch=1, concurrency=1, rate=4)
    try:
        Scripted.script = {f"k{i}": [total(i)] for i in range(4)}
        plan = scripted_plan(*(kr(f"k{i}", {"connection": "s"}) for i in range(4)))
        result = refresh_without_waiting(
            plan,
            store,
            at=AT,
            manager=scripted,
            sleep=sleep,
            clock=lambda: now[0],
        )
    finally:
        Scripted.limit = Limits(max_batch=3, concurrency=2)
    assert result.ok
    assert len(Scripted.calls) == 4
    assert now[0] == pytest.approx(1000.75)  # 4 calls at 4 per second: 3 gaps of 0.25 s


def test_concurrency_within_limits_and_connections_in_parallel(
    manager: PluginManager, store: MemoryStore
) -> None:
    import threading

    lock = threading.Lock()
    in_flight: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}
    # 3 calls of connection "a" and 3 of "b" must all be in flight at once to pass the barrier:
    # the engine runs connections side by side, each up to its concurrency of 3.
    barrier = threading.Barrier(6, timeout=10)

    class Parallel(Source):
        name = "parallel"

        def limits(self) -> Limits:
            return Limits(max_batch=1, concurrency=3)

        def fetch(self, requests: Sequence[FetchRequest]) -> Iterator[Reading]:
            conn = self.connection.name
            with lock:
                in_flight[conn] += 1
                most[conn] = max(most[conn], in_flight[conn])
            if requests[0].kr.id.endswith("first"):
                barrier.wait()
            with lock:
                in_flight[conn] -= 1
            for r in requests:
                yield Reading.total(r, 1.0)

    class Plugin:
        @hookimpl
        def okrcore_register_sources(self, register: Any) -> None:
            register(Parallel)

    manager.register(Plugin(), "parallel")
    krs = [kr(f"{c}{i}{'first' if i < 3 else ''}", {"connection": c})
           for c in "ab" for i in range(9)]
    plan = make_plan(krs, [Connection("a", "parallel"), Connection("b", "parallel")])
    result = refresh(plan, store, at=AT, manager=manager)
    assert result.ok
    assert most == {"a": 3, "b": 3}


def test_cli_refresh_whose_notification_failed_exits_1_naming_the_channel(
    cli_plan: Callable[[str], tuple[Path, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "okr_test_failing_notifier.py").write_text(textwrap.dedent("""
        from okrcore.hookspecs import hookimpl
        from okrcore.notifiers import Notifier, NotifyError

        class Failing(Notifier):
            name = "failing-chat"

            def send(self, message):
                raise NotifyError(f"channel {self.channel.name!r}: HTTP 500: chat is down")

        @hookimpl
        def okrcore_register_notifiers(register):
            register(Failing)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    plan, store = cli_plan("/ok")
    plan.write_text(plan.read_text() + "plugins: [okr_test_failing_notifier]\n"
                    "notify:\n  team-chat: {plugin: failing-chat, after_refresh: true}\n")
    done = invoke("refresh", str(plan), "--store", store, "--at", "2026-03-05")
    assert done.exit_code == 1, done.output
    assert "good = 5 (1 new, 0 revised) [api]" in done.stdout
    assert "FAILED after the refresh: report after refresh not delivered: channel 'team-chat': " \
           "HTTP 500: chat is down" in done.stderr


def test_http_json_keeps_32_calls_in_flight_by_default(store: MemoryStore,
                                                       manager: PluginManager) -> None:
    """The default concurrency of a connection comes from its source (docs/plugins.md, "The
    refresh engine"): 32 for http_json, so 32 requests wait for each other at the server."""
    barrier = threading.Barrier(32, timeout=20)

    def together(call: Any) -> Reply:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return Reply(status=400, json={"error": "fewer than 32 calls in flight"})
        return Reply(json={"data": {"total": 1}})

    with FakeServer() as server:
        server.handle("/v", together)
        plan = make_plan([kr(f"k{i}", {"connection": "api", "url": "/v",
                                       "value": "$.data.total"}) for i in range(64)],
                         [api(server.url)])
        result = refresh(plan, store, at=AT, manager=manager, options=RefreshOptions(retries=0))
    assert result.ok, result.to_dict()["failed"][:1]


def test_the_public_signature_groups_options_and_keeps_test_seams_out() -> None:
    import inspect

    import okrcore
    from okrcore.engine import RefreshOptions

    params = inspect.signature(okrcore.refresh).parameters
    assert params["at"].kind is inspect.Parameter.KEYWORD_ONLY
    assert not {"sleep", "clock", "jitter", "timeout", "retries", "deadline"} & set(params)
    assert okrcore.RefreshOptions is RefreshOptions
    with pytest.raises(OkrError, match="retries must be >= 0"):
        RefreshOptions(retries=-1)
    with pytest.raises(OkrError, match="deadline must be > 0"):
        RefreshOptions(deadline=0)


def test_a_refused_connection_is_retried_once_and_the_failure_says_so(
    store: MemoryStore, manager: PluginManager
) -> None:
    # a port nothing listens on: the service is down (or the URL wrong), not slow
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    plan = make_plan([kr("k", {"connection": "api", "url": "/x", "value": "$.n"})],
                     [api(f"http://127.0.0.1:{port}")])
    sleeps = Sleeps()
    result = refresh_without_waiting(plan, store, at=AT, manager=manager, sleep=sleeps,
                                     options=RefreshOptions(retries=4, timeout_retries=1))
    (outcome,) = result.outcomes
    assert outcome.status == "failed"
    assert outcome.kind == "transient"
    assert len(sleeps.delays) == 1  # one retry, not retries (4)
    assert "connection failed" in (outcome.error or "")
    assert (outcome.error or "").endswith(", twice")
