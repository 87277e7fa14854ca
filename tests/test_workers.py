"""The distributed refresh (okrcore.workers): splitting and sharding, the run log in flight, and
workers on procrastinate against the real PostgreSQL on 127.0.0.1.

The server tests use their own databases, ``okr_team_*`` named for the run and dropped after
the test; without a server they skip (with
``CI=true`` they fail), as docs/company.md explains.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import attrs
import pytest

from okrcore.errors import OkrError
from okrcore.hookspecs import hookimpl
from okrcore.model import Connection, Cycle, KeyResult, Objective, Plan, RunOutcome
from okrcore.planfile import load_plan
from okrcore.plugins import PluginManager
from okrcore.sources import FetchRequest, Reading, Source
from okrcore.store import MemoryStore, open_store
from okrcore.testing import FakeServer, Reply, serve
from okrcore.workers import (
    QUEUED,
    Shard,
    Unit,
    enqueue,
    open_task_engine,
    plan_units,
    run_progress,
    shard,
    split_jobs,
)
from okrcore.workers.jobs import Job, PlanCache, execute
from okrcore.workers.plans import cache_directory, read_plan
from okrcore.workers.runlog import find_run, in_flight, merge, record

TODAY = dt.date.today()
CYCLE = Cycle("q", TODAY - dt.timedelta(days=5), TODAY + dt.timedelta(days=60))


# -- splitting -------------------------------------------------------------------------------
class PropertySource(Source):
    """Answers the key results of one ``property`` together, up to 3 per batch (as GA4 does)."""

    name = "by_property"

    def batches(self, requests: Sequence[FetchRequest]) -> list[list[FetchRequest]]:
        groups: dict[str, list[FetchRequest]] = {}
        for r in requests:
            groups.setdefault(str(r.query["property"]), []).append(r)
        return [g[i:i + 3] for g in groups.values() for i in range(0, len(g), 3)]

    def fetch_one(self, request: FetchRequest) -> Reading:
        return Reading.total(request, 1.0)


class _Plugin:
    @hookimpl
    def okrcore_register_sources(self, register: Callable[[type[Any]], None]) -> None:
        register(PropertySource)


@pytest.fixture
def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(_Plugin(), "by_property")
    return pm


def property_plan(n: int) -> Plan:
    krs = [KeyResult(f"kr{i}", f"KR {i}", baseline=0, target=10,
                     source={"connection": "ga" if i % 4 else "other", "property": f"p{i % 3}"})
           for i in range(n)]
    krs.append(KeyResult("by-hand", "Manual", baseline=0, target=1))
    conns = {"ga": Connection("ga", "by_property"), "other": Connection("other", "by_property")}
    return Plan(cycles=[CYCLE], objectives=[Objective("o", "O", "q", key_results=krs)],
                connections=conns)


def test_units_follow_the_sources_batches(manager: PluginManager) -> None:
    units = plan_units(property_plan(24), at=TODAY, manager=manager)
    assert all(len(u.kr_ids) <= 3 for u in units)
    for unit in units:  # one connection and one property per unit
        props = {int(k[2:]) % 3 for k in unit.kr_ids}
        conns = {"ga" if int(k[2:]) % 4 else "other" for k in unit.kr_ids}
        assert len(props) == 1
        assert conns == {unit.connection}
    fetched = sorted(k for u in units for k in u.kr_ids)
    assert fetched == sorted(f"kr{i}" for i in range(24))  # the manual one needs no fetch


def test_jobs_pack_whole_units_of_one_connection() -> None:
    units = [Unit("a", ["1", "2"]), Unit("a", ["3", "4"]), Unit("a", ["5"]),
             Unit("b", ["6"]), Unit("b", ["7", "8", "9", "10", "11"])]
    assert split_jobs(units, 4) == [["1", "2", "3", "4"], ["5"], ["6"],
                                    ["7", "8", "9", "10", "11"]]
    assert split_jobs([], 4) == []


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
def test_shards_partition_deterministically(manager: PluginManager, count: int) -> None:
    units = plan_units(property_plan(50), at=TODAY, manager=manager)
    parts = [shard(units, Shard(i, count)) for i in range(1, count + 1)]
    everything = [k for part in parts for k in part]
    assert sorted(everything) == sorted(f"kr{i}" for i in range(50))  # each once, none left out
    again = plan_units(property_plan(50), at=TODAY, manager=manager)
    assert parts == [shard(again, Shard(i, count)) for i in range(1, count + 1)]
    assert max(map(len, parts)) - min(map(len, parts)) <= 3  # at most one unit apart
    unit_of = {k: u for u in units for k in u.kr_ids}
    for part in parts:  # a unit is never cut
        assert all(set(unit_of[k].kr_ids) <= set(part) for k in part)


@pytest.mark.parametrize("text", ["0/4", "5/4", "2", "a/b", "2/"])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(Exception, match="shard"):
        Shard.parse(text)


# -- the run log in flight ---------------------------------------------------------------------
def _run(outcomes: Iterable[RunOutcome]) -> Any:
    from okrcore.model import RunRecord

    start = dt.datetime(2026, 3, 5, 8, 0, tzinfo=dt.timezone.utc)
    return RunRecord("r1", start, start, TODAY, list(outcomes))


def test_a_run_completes_when_every_job_merged_and_the_first_answer_counts() -> None:
    planned = _run([RunOutcome("a", "planned", "c"), RunOutcome("b", "planned", "c"),
                    RunOutcome("m", "manual", error="manual")])
    run = in_flight(planned, [["a"], ["b"]], {"engine": "test"})
    assert [o.status for o in run.outcomes] == [QUEUED, QUEUED, "manual"]
    assert run.finished_at is None
    assert str(run_progress(run)) == "in flight: 0/2 key results, 0/2 jobs done"
    stats = {"connections": {"c": {"plugin": "x", "requests": 1, "fetch_calls": 1,
                                   "retries": 0, "failed": 0}}}
    now = run.started_at + dt.timedelta(seconds=3)
    run, done = merge(run, 1, [RunOutcome("a", "refreshed", "c", value=1, stored=1)], stats, now)
    assert not done
    assert str(run_progress(run)) == "in flight: 1/2 key results, 1/2 jobs done"
    # job 1 again (its worker died after recording): nothing changes, nothing is counted twice
    again, done = merge(run, 1, [RunOutcome("a", "unchanged", "c", value=1)], stats, now)
    assert (again, done) == (run, False)
    run, done = merge(run, 2, [RunOutcome("b", "failed", "c", error="x", kind="auth")], stats,
                      now)
    assert done
    assert run.finished_at == now
    assert run_progress(run) is None
    assert [o.status for o in run.outcomes] == ["refreshed", "failed", "manual"]
    assert run.info["connections"]["c"]["requests"] == 2
    assert run.info["seconds"] == 3.0


class WholeRunsOnly(MemoryStore):
    """A backend without record_outcomes: the run log rewrites the whole run."""

    record_outcomes = None  # type: ignore[assignment]


@pytest.mark.parametrize("store_class", [MemoryStore, WholeRunsOnly])
def test_recording_jobs_by_position_or_whole_runs_agree(store_class: type[MemoryStore]) -> None:
    planned = _run([RunOutcome("m", "manual", error="manual"), RunOutcome("a", "planned", "c"),
                    RunOutcome("b", "planned", "c"), RunOutcome("d", "planned", "c")])
    run = in_flight(planned, [["a", "d"], ["b"]], {"engine": "test"})
    positions = {"a": 1, "b": 2, "d": 3}
    stats = {"connections": {"c": {"requests": 2, "fetch_calls": 1}}}
    a, d = RunOutcome("a", "refreshed", "c", value=1, stored=1), RunOutcome("d", "unchanged", "c")
    b = RunOutcome("b", "failed", "c", error="x", kind="auth")
    with store_class() as store:
        store.record_run(run)
        assert record(store, run.id, 1, [d, a], stats, positions) is None
        assert str(run_progress(find_run(store, run.id))) == (
            "in flight: 2/3 key results, 1/2 jobs done")
        assert record(store, run.id, 1, [RunOutcome("a", "failed", "c")], stats, positions) is None
        done = record(store, run.id, 2, [b], stats, positions)
        assert done is not None
        assert done == find_run(store, run.id)
    assert done.outcomes == (run.outcomes[0], a, b, d)
    assert done.finished_at is not None
    assert done.info["connections"]["c"] == {"requests": 4, "fetch_calls": 2}
    assert done.info["distributed"]["done"] == [1, 2]


# -- jobs ---------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def plan_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test (and the workers it starts) its own disk cache of parsed plans."""
    folder = tmp_path_factory.mktemp("plan-cache")
    monkeypatch.setenv("OKRCORE_CACHE_DIR", str(folder))
    return folder


def test_a_worker_with_another_plan_fails_the_jobs_key_results(tmp_path: Path) -> None:
    plan = tmp_path / "okrs.yaml"
    plan.write_text(plan_yaml("http://127.0.0.1:1", 2))
    job = Job("r1", 1, str(plan), "0" * 64, TODAY.isoformat(), "2026-03-05T08:00:00+00:00",
              ["kr0", "kr1"])
    with contextlib.closing(open_store("memory://")) as store:
        outcomes, _ = execute(job, store, PluginManager(load_entry_points=False), PlanCache())
    assert [(o.kr_id, o.status) for o in outcomes] == [("kr0", "failed"), ("kr1", "failed")]
    assert "differs from the one enqueued" in str(outcomes[0].error)


class Jobs:
    """A task engine that keeps the jobs it is given (``execute`` runs them here)."""

    name = "kept"

    def __init__(self) -> None:
        self.jobs: list[Job] = []

    def defer(self, jobs: Sequence[Job]) -> None:
        self.jobs.extend(jobs)

    def work(self, store_url: str, options: Any) -> None:
        raise NotImplementedError


def titles(plan: Plan) -> list[str]:
    return [kr.title for kr in plan.key_results()]


def test_a_plan_is_parsed_once_per_process_and_again_when_its_file_changes(
        tmp_path: Path) -> None:
    path = tmp_path / "okrs.yaml"
    path.write_text(plan_yaml("http://127.0.0.1:1", 2))
    _, first = read_plan(path)
    plans = PlanCache(None)  # memory only
    plan = plans.get(str(path), first)
    assert plans.get(str(path), first) is plan
    assert plans.parsed == 1
    path.write_text(plan_yaml("http://127.0.0.1:1", 3))  # a new version, for the next run
    _, second = read_plan(path)
    # the jobs of the run enqueued with the first version keep using it
    assert plans.get(str(path), first) is plan
    assert titles(plans.get(str(path), second)) == ["Metric 0", "Metric 1", "Metric 2"]
    assert titles(plans.get(str(path), first)) == ["Metric 0", "Metric 1"]
    assert plans.parsed == 2
    with pytest.raises(OkrError, match="differs from the one enqueued"):
        PlanCache(None).get(str(path), first)  # a worker that never saw the first version


def test_the_disk_cache_hands_the_enqueued_plan_to_every_worker_of_the_machine(
        tmp_path: Path, plan_cache: Path) -> None:
    path = tmp_path / "okrs.yaml"
    path.write_text(plan_yaml("http://127.0.0.1:1", 2))
    with contextlib.closing(open_store("memory://")) as store:
        jobs = Jobs()
        enqueue(path, store, jobs, manager=PluginManager(load_entry_points=False))
    job = jobs.jobs[0]
    where = load_plan(path).locate("objectives[0].key_results[1].title")
    path.write_text("# edited while the run is in flight\n\n" + plan_yaml("http://127.0.0.1:1", 5))
    worker = PlanCache(plan_cache)
    cached = worker.get(job.plan, job.plan_sha256)
    assert titles(cached) == ["Metric 0", "Metric 1"]
    assert worker.parsed == 0  # read from the cache, as the run saw it
    # positions (for located messages) are those of the version the run saw
    assert where is not None
    assert cached.locate("objectives[0].key_results[1].title") == where
    _, edited = read_plan(path)
    assert len(titles(PlanCache(plan_cache).get(job.plan, edited))) == 5
    again = PlanCache(plan_cache)
    assert len(titles(again.get(job.plan, edited))) == 5
    assert again.parsed == 0  # the first worker left it there
    # the cache is private to the user: a folder others may write to is not trusted
    plan_cache.chmod(0o777)
    try:
        shared = PlanCache(plan_cache)
        assert len(titles(shared.get(job.plan, edited))) == 5
        assert shared.parsed == 1
    finally:
        plan_cache.chmod(0o700)


def test_a_broken_disk_cache_entry_is_parsed_again(tmp_path: Path, plan_cache: Path) -> None:
    path = tmp_path / "okrs.yaml"
    path.write_text(plan_yaml("http://127.0.0.1:1", 2))
    plan, sha = PlanCache(plan_cache).load(path)
    (entry,) = plan_cache.glob("*.plan.pickle")
    entry.write_bytes(entry.read_bytes()[:100])  # truncated
    plans = PlanCache(plan_cache)
    assert plans.get(str(path), sha) == plan
    assert plans.parsed == 1


def test_a_job_runs_on_the_plan_its_run_was_enqueued_with(tmp_path: Path) -> None:
    def answer(call: Any) -> Reply:
        return Reply(json={"v": int(call.path.rsplit("/", 1)[-1]) + 10})

    path = tmp_path / "okrs.yaml"
    manager = PluginManager(load_entry_points=False)
    with FakeServer() as server, contextlib.closing(open_store("memory://")) as store:
        server.handle("*", answer)
        path.write_text(plan_yaml(server.url, 3))
        jobs = Jobs()
        run = enqueue(path, store, jobs, manager=manager)
        # the plan loses a key result and changes its connection while the run is in flight
        path.write_text(plan_yaml("http://127.0.0.1:1", 1))
        (job,) = jobs.jobs
        outcomes, _ = execute(job, store, manager, PlanCache(cache_directory()))
    assert [(o.kr_id, o.status, o.value) for o in outcomes] == [
        ("kr0", "refreshed", 10.0), ("kr1", "refreshed", 11.0), ("kr2", "refreshed", 12.0)]
    assert [o.kr_id for o in run.outcomes] == ["kr0", "kr1", "kr2"]


# -- workers on procrastinate ------------------------------------------------------------------
def plan_yaml(url: str, n: int) -> str:
    krs = "\n".join(
        f"      - {{id: kr{i}, title: Metric {i}, baseline: 0, target: 100000, "
        f"source: {{connection: api, url: /m/{i}, value: $.v}}}}" for i in range(n))
    return (f"okrcore: 1\ncycles:\n  - {{id: q, start: {CYCLE.start}, end: {CYCLE.end}}}\n"
            f"connections:\n  api: {{plugin: http_json, endpoint: \"{url}\"}}\n"
            f"objectives:\n  - id: o\n    title: Everything\n    cycle: q\n    key_results:\n"
            f"{krs}\n")


ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@pytest.fixture
def fresh_database() -> Iterator[Callable[[str], str]]:
    """Makes empty PostgreSQL databases, named for this run (``okr_team_PURPOSE_PID_RANDOM``, so
    that test runs sharing the server never meet) and dropped after the test; skips (fails in
    CI) without a server."""
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect(ADMIN, connect_timeout=5).close()
    except psycopg.Error as exc:
        message = (f"PostgreSQL is not reachable on 127.0.0.1:5432 ({exc}); start it (see "
                   "docs/company.md) to run these tests; with CI=true they fail instead")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    made: list[str] = []

    def make(purpose: str) -> str:
        name = f"okr_team_{purpose}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        made.append(name)
        return f"postgresql://postgres@127.0.0.1:5432/{name}"

    yield make
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        for name in made:  # FORCE: a worker still connected does not keep it
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@attrs.define
class Counting:
    """A fake metrics API: ``/m/N`` answers ``{"v": N}`` after ``latency`` seconds."""

    latency: float
    hits: Counter[int] = attrs.field(factory=Counter)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                time.sleep(api.latency)
                n = int(self.path.rsplit("/", 1)[-1])
                with api.lock:
                    api.hits[n] += 1
                body = json.dumps({"v": n}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def start_worker(queue: str, store: str, name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "okrcore.cli", "worker", "--store", store,
                             "--queue", queue, "--heartbeat", "0.5", "--stalled-after", "2",
                             "--name", name])


def doing(queue: str) -> int:
    import psycopg

    with psycopg.connect(queue) as conn:
        row = conn.execute("SELECT COUNT(*) FROM procrastinate_jobs WHERE status = 'doing'"
                           " AND task_name = 'okrcore.fetch'").fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


@pytest.mark.slow
def test_four_workers_one_killed_refresh_every_key_result_once(
        tmp_path: Path, fresh_database: Callable[[str], str],
        workers: list[subprocess.Popen[bytes]]) -> None:
    pytest.importorskip("procrastinate")
    pytest.importorskip("okrcore_postgres", reason="the PostgreSQL store: plugins/okrcore-postgres")
    queue = fresh_database("workers")
    store_url = queue  # the PostgreSQL store and its queue in one database, as docs/company.md
    api = Counting(latency=0.05)
    n = 2000
    with serve(api.handler()) as url, contextlib.closing(open_store(store_url)) as store:
        plan = tmp_path / "okrs.yaml"
        plan.write_text(plan_yaml(url, n))
        run = enqueue(plan, store, open_task_engine(queue), job_size=50)
        assert str(run_progress(run)) == f"in flight: 0/{n} key results, 0/40 jobs done"
        workers.extend(start_worker(queue, store_url, f"w{i}") for i in range(4))
        deadline = time.monotonic() + 240
        while doing(queue) < 4:  # every worker holds a job: the one killed dies mid-job
            assert time.monotonic() < deadline, "the workers never all got busy"
            time.sleep(0.05)
        workers[0].send_signal(signal.SIGKILL)
        while (current := find_run(store, run.id)).finished_at is None:
            assert time.monotonic() < deadline, f"the run never completed: {run_progress(current)}"
            time.sleep(0.2)
        assert Counter(o.status for o in current.outcomes) == {"refreshed": n}
        assert sum(o.stored for o in current.outcomes) == n
        assert sorted(api.hits) == list(range(n))  # every key result fetched
        # at most the killed job's key results were fetched twice
        assert sum(api.hits.values()) - n <= 50
        checkins = store.checkins()
        assert sorted((c.kr_id, c.value) for c in checkins) == sorted(
            (f"kr{i}", float(i)) for i in range(n))  # exactly once each
        assert current.info["distributed"]["done"] == list(range(1, 41))
        assert current.info["connections"]["api"]["requests"] >= n


# -- the command line ----------------------------------------------------------------------------
def okr(*args: str | Path) -> Any:
    from click.testing import CliRunner

    from okrcore.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def file_plan(tmp_path: Path) -> Path:
    rows = "".join(f"{TODAY},m{i},{i}\n" for i in range(12))
    (tmp_path / "metrics.csv").write_text("date,metric,value\n" + rows)
    krs = "\n".join(f"      - {{id: kr{i}, title: KR {i}, baseline: 0, target: 100, source: "
                    f"{{connection: files, path: metrics.csv, where: {{metric: m{i}}}}}}}"
                    for i in range(12))
    plan = tmp_path / "okrs.yaml"
    cycles = f"cycles:\n  - {{id: q, start: {CYCLE.start}, end: {CYCLE.end}}}\n"
    plan.write_text(f"okrcore: 1\n{cycles}"
                    "connections:\n  files: {plugin: file, max_batch: 2}\n"
                    "objectives:\n  - id: o\n    title: O\n    cycle: q\n    key_results:\n"
                    f"{krs}\n")
    return plan


def test_shards_on_the_command_line_refresh_everything_once(file_plan: Path,
                                                             tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'okr.db'}"
    for k in (1, 2, 3):
        result = okr("refresh", file_plan, "--store", store, "--shard", f"{k}/3",
                     "--format", "json")
        assert result.exit_code == 0, result.output
    with contextlib.closing(open_store(store)) as opened:
        runs = opened.runs()
        refreshed = [o.kr_id for r in runs for o in r.outcomes if o.status == "refreshed"]
        assert sorted(refreshed) == sorted(f"kr{i}" for i in range(12))
        assert len(opened.checkins()) == 12
    assert okr("refresh", file_plan, "--store", store, "--shard", "4/3").exit_code == 2
    clash = okr("refresh", file_plan, "--store", store, "--shard", "1/3", "--only", "kr1")
    assert (clash.exit_code, "--shard excludes --only" in clash.output) == (2, True)


def test_enqueue_needs_a_queue(file_plan: Path, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OKRCORE_QUEUE", raising=False)
    result = okr("refresh", file_plan, "--store", f"sqlite:///{tmp_path / 'okr.db'}",
                 "--enqueue")
    assert result.exit_code == 2
    assert "needs a task queue: --queue postgresql://" in result.output


def test_enqueue_then_a_burst_worker_completes_the_run(
        file_plan: Path, tmp_path: Path, fresh_database: Callable[[str], str]) -> None:
    pytest.importorskip("procrastinate")
    queue = fresh_database("cli")
    store = f"sqlite:///{tmp_path / 'okr.db'}"
    queued = okr("refresh", file_plan, "--store", store, "--queue", queue, "--enqueue",
                 "--job-size", "4", "--format", "json")
    assert queued.exit_code == 0, queued.output
    assert json.loads(queued.output)["jobs"] == 3
    assert "in flight: 0/12 key results, 0/3 jobs done" in okr("runs", "--store", store).output
    worked = okr("worker", "--store", store, "--queue", queue, "--burst")
    assert worked.exit_code == 0, worked.output
    shown = okr("runs", "--store", store).output
    assert "12 refreshed; 12 new check-in(s)" in shown
    assert "in flight" not in shown


# -- KPIs ------------------------------------------------------------------------------------------
KPI_DAY = dt.date(2026, 1, 10)
KPI_AT = KPI_DAY.isoformat()


def write_kpi_plan(folder: Path) -> Path:
    """A key result and two KPIs with a source (the KPIs' readings of December are not January's),
    one KPI by hand, and a channel taking the alerts (a local file)."""
    folder.mkdir(exist_ok=True)
    rows = ["2025-12-31,mql,99", "2026-01-02,mql,40", "2026-01-05,mql,60", "2026-01-09,mql,25",
            "2026-01-05,cpl,38", "2026-01-08,cpl,47", "2026-01-03,leads,12"]
    (folder / "history.csv").write_text("date,metric,value\n" + "\n".join(rows) + "\n")
    plan = folder / "okrs.yaml"
    plan.write_text(
        "okrcore: 1\ncycles:\n  - {id: q1, start: 2026-01-01, end: 2026-03-31}\n"
        "connections:\n  files: {plugin: file, max_batch: 1}\n"
        "notify:\n  chat: {plugin: markdown-file, path: chat.md, events: [alerts]}\n"
        "objectives:\n  - id: o\n    title: O\n    cycle: q1\n    key_results:\n"
        "      - {id: leads, title: Leads, baseline: 0, target: 100, measure: cumulative,\n"
        "         source: {connection: files, path: history.csv, where: {metric: leads}}}\n"
        "kpis:\n"
        "  - {id: mql, title: MQLs a month, target: 300, measure: cumulative,\n"
        "     source: {connection: files, path: history.csv, where: {metric: mql}}}\n"
        "  - {id: cpl, title: Cost per lead, target: 40, direction: below,\n"
        "     source: {connection: files, path: history.csv, where: {metric: cpl}}}\n"
        "  - {id: nps, title: NPS, target: 50}\n")
    return plan


def _readings(store: Any) -> list[tuple[str, dt.date, float]]:
    return sorted((c.kr_id, c.as_of, c.value) for c in store.checkins())


def _posted(plan: Path) -> list[str]:
    """The chat file's lines without the notifier's time stamps."""
    text = (plan.parent / "chat.md").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if not line.startswith("<!--")]


def test_jobs_of_a_plan_with_kpis_do_what_a_single_refresh_does(tmp_path: Path) -> None:
    # the same two days, refreshed in one process and as jobs of one per key result or KPI: the
    # same readings (each KPI's current month only), outcomes, scores and events
    from okrcore.engine import refresh
    from okrcore.scoring import score
    from okrcore.workers.jobs import finish

    manager = PluginManager()
    days = (dt.date(2026, 1, 7), KPI_DAY)  # cpl: 38 EUR on the 7th, 47 EUR (red) on the 10th
    one_plan, many_plan = write_kpi_plan(tmp_path / "one"), write_kpi_plan(tmp_path / "many")
    plans = PlanCache(cache_directory())
    with contextlib.closing(open_store(f"sqlite:///{tmp_path / 'one.db'}")) as one, \
            contextlib.closing(open_store(f"sqlite:///{tmp_path / 'many.db'}")) as many:
        for day in days:
            single = refresh(load_plan(one_plan), one, at=day, manager=manager)
            assert single.hook_errors == ()
            jobs = Jobs()
            run = enqueue(many_plan, many, jobs, at=day, job_size=1, manager=manager)
            assert str(run_progress(run)) == "in flight: 0/3 key results, 0/3 jobs done"
            assert sorted(k for job in jobs.jobs for k in job.kr_ids) == ["cpl", "leads", "mql"]
            done = None
            for job in jobs.jobs:
                outcomes, info = execute(job, many, manager, plans)
                done = finish(job, outcomes, info, many, manager, plans) or done
            assert done is not None
            assert "hook_errors" not in done.info
            assert [(o.kr_id, o.status, o.stored) for o in done.outcomes] == [
                (o.kr_id, o.status, o.stored) for o in single.run.outcomes]
            assert _readings(many) == _readings(one)
        assert {o.kr_id: o.status for o in single.run.outcomes} == {
            "leads": "unchanged", "mql": "refreshed", "cpl": "refreshed", "nps": "manual"}
        assert [r for r in _readings(many) if r[0] == "mql"] == [
            ("mql", dt.date(2026, 1, 2), 40.0), ("mql", dt.date(2026, 1, 5), 60.0),
            ("mql", dt.date(2026, 1, 9), 25.0)]  # this month's, as docs/kpis.md says
        card = score(load_plan(many_plan), many, at=KPI_DAY, manager=manager)
        expected = score(load_plan(one_plan), one, at=KPI_DAY, manager=manager)
        assert card.kpis == expected.kpis
        assert card.kpis["mql"].actual == 125
        sent = [(d.key, d.destination) for d in many.event_deliveries()]
        assert sent == [(d.key, d.destination) for d in one.event_deliveries()]
    assert ("kpi_off_target:cpl:2026-01", "chat") in sent
    assert _posted(many_plan) == _posted(one_plan)


def test_shards_of_a_plan_with_kpis_store_what_a_single_refresh_stores(tmp_path: Path) -> None:
    one_plan, many_plan = write_kpi_plan(tmp_path / "one"), write_kpi_plan(tmp_path / "many")
    single = okr("refresh", one_plan, "--store", f"sqlite:///{tmp_path / 'one.db'}",
                 "--at", KPI_AT)
    assert single.exit_code == 0, single.output
    store = f"sqlite:///{tmp_path / 'many.db'}"
    for k in (1, 2, 3):
        part = okr("refresh", many_plan, "--store", store, "--shard", f"{k}/3", "--at", KPI_AT)
        assert part.exit_code == 0, part.output
    with contextlib.closing(open_store(f"sqlite:///{tmp_path / 'one.db'}")) as one, \
            contextlib.closing(open_store(store)) as many:
        assert _readings(many) == _readings(one)
        refreshed = sorted(o.kr_id for r in many.runs() for o in r.outcomes
                           if o.status == "refreshed")
    assert refreshed == ["cpl", "leads", "mql"]  # each once


def test_enqueue_then_a_burst_worker_stores_a_kpi_s_readings(
        tmp_path: Path, fresh_database: Callable[[str], str]) -> None:
    from click.testing import CliRunner

    from okrcore.cli import main

    pytest.importorskip("procrastinate")
    queue = fresh_database("kpis")
    one_plan, many_plan = write_kpi_plan(tmp_path / "one"), write_kpi_plan(tmp_path / "many")
    one, many = f"sqlite:///{tmp_path / 'one.db'}", f"sqlite:///{tmp_path / 'many.db'}"

    def okr80(*args: str | Path) -> Any:  # every line fits 80 columns (a path may not)
        result = CliRunner().invoke(main, [str(a) for a in args], env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.output
        assert all(len(line) <= 80 or len(line.split()) == 1
                   for line in result.output.splitlines()), result.output
        return result

    for day in ("2026-01-07", KPI_AT):  # cpl turns red on the 8th
        okr80("refresh", one_plan, "--store", one, "--at", day)
        okr80("refresh", many_plan, "--store", many, "--queue", queue, "--enqueue",
              "--job-size", "1", "--at", day)
        okr80("worker", "--store", many, "--queue", queue, "--burst")
    runs = " ".join(okr80("runs", "--store", many).output.split())
    assert "for 2026-01-10: 1 manual, 2 refreshed, 1 unchanged" in runs
    with contextlib.closing(open_store(one)) as single, \
            contextlib.closing(open_store(many)) as distributed:
        assert _readings(distributed) == _readings(single)
        sent = [(d.key, d.destination) for d in distributed.event_deliveries()]
        assert sent == [(d.key, d.destination) for d in single.event_deliveries()]
        run = distributed.runs()[0]
    assert ("kpi_off_target:cpl:2026-01", "chat") in sent
    assert run.finished_at is not None
    assert {o.kr_id: o.status for o in run.outcomes} == {
        "leads": "unchanged", "mql": "refreshed", "cpl": "refreshed", "nps": "manual"}
    assert _posted(many_plan) == _posted(one_plan)
