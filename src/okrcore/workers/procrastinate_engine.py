"""The distributed refresh on procrastinate: jobs in PostgreSQL, no other broker.

Three tasks on the queue ``okrcore``: ``okrcore.fetch`` runs one job and defers
``okrcore.record`` with the job's outcomes, ahead of the fetches still queued, under the lock
``okrcore-run:RUN`` (procrastinate runs jobs sharing a lock one at a time, in order: merges into
one run never overlap), and the periodic
``okrcore.retry_stalled`` hands the jobs of workers whose heartbeat stopped back to the queue
(procrastinate's stalled-job recovery). See docs/company.md.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any

import attrs

from okrcore.errors import MissingExtra, OkrError
from okrcore.model import RunOutcome
from okrcore.plugins import PluginManager, default_manager
from okrcore.store import Store, open_store

from .jobs import Job, execute, failed_job, finish
from .plans import PlanCache, cache_directory
from .taskengine import WorkerOptions, safe_url

__all__ = ["QUEUE", "ProcrastinateEngine"]

QUEUE = "okrcore"
FETCH, RECORD, STALLED = "okrcore.fetch", "okrcore.record", "okrcore.retry_stalled"
ATTEMPTS = 3
"""Attempts of a job that raises (the store unreachable...); after the last one, a fetch job's
key results are recorded as failed so that the run completes."""
RECORD_PRIORITY = 1  # fetch jobs have procrastinate's default, 0
STALLED_CHECK = "* * * * * */5"  # every 5 seconds: one cheap query
_SCHEMA_LOCK = 0x6F6B72636F7265  # an advisory-lock key: two machines never apply the schema twice
_EXTRA = "the distributed refresh needs the workers extra: pip install 'okrcore[workers]'"


@attrs.define
class _WorkerState:
    """What the tasks of one worker process share (handed over as procrastinate context)."""

    store: Store
    manager: PluginManager
    plans: PlanCache
    stalled_after: float


def _conninfo(url: str) -> str:
    """A libpq URL: ``postgresql+psycopg://`` and ``postgres://`` become ``postgresql://``."""
    return re.sub(r"^postgres(?:ql)?(?:\+\w+)?://", "postgresql://", url)


class ProcrastinateEngine:
    """The :class:`~okrcore.workers.taskengine.TaskEngine` on procrastinate."""

    name = "procrastinate"

    def __init__(self, url: str) -> None:
        try:
            import procrastinate
        except ImportError:
            raise MissingExtra(_EXTRA) from None
        self.url = _conninfo(url)
        self.app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=self.url))
        self._register(procrastinate)

    def _register(self, procrastinate: Any) -> None:
        app = self.app
        retry = procrastinate.RetryStrategy(max_attempts=ATTEMPTS - 1, wait=2)

        @app.task(name=RECORD, queue=QUEUE, pass_context=True, retry=retry)
        async def record(context: procrastinate.JobContext, /, job: dict[str, Any],
                         outcomes: list[dict[str, Any]], info: dict[str, Any]) -> None:
            state: _WorkerState = context.additional_context["okrcore"]
            answers = [RunOutcome(**o) for o in outcomes]
            await asyncio.to_thread(finish, Job.from_json(job), answers, info, state.store,
                                    state.manager, state.plans)

        @app.task(name=FETCH, queue=QUEUE, pass_context=True, retry=retry)
        async def fetch(context: procrastinate.JobContext, /, **payload: Any) -> None:
            state: _WorkerState = context.additional_context["okrcore"]
            job = Job.from_json(payload)
            try:
                outcomes, info = await asyncio.to_thread(
                    execute, job, state.store, state.manager, state.plans,
                    again=context.job.attempts > 0)
            except Exception as exc:
                if context.job.attempts < ATTEMPTS - 1:
                    raise  # procrastinate runs it again
                outcomes, info = failed_job(job, f"{type(exc).__name__}: {exc}"), {}
            # merges go before the fetches still queued: left behind them, a run's merges would
            # all wait for its last fetch and then run one by one (2 s for 50 jobs)
            await record.configure(lock=f"okrcore-run:{job.run}", priority=RECORD_PRIORITY
                                   ).defer_async(
                job=payload, outcomes=[attrs.asdict(o) for o in outcomes], info=info)

        @app.periodic(cron=STALLED_CHECK, periodic_id=STALLED)
        @app.task(name=STALLED, queue=QUEUE, queueing_lock=STALLED, pass_context=True)
        async def retry_stalled(context: procrastinate.JobContext, /, timestamp: int) -> None:
            state: _WorkerState = context.additional_context["okrcore"]
            manager = context.app.job_manager
            for stalled in await manager.get_stalled_jobs(
                    queue=QUEUE, seconds_since_heartbeat=state.stalled_after):
                await manager.retry_job(stalled)

        self._fetch = fetch

    def ensure_schema(self) -> None:
        """Create procrastinate's tables in the queue database unless they are there."""
        import psycopg

        try:
            with psycopg.connect(self.url, connect_timeout=10) as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
                if row is None or row[0] is None:
                    conn.execute(self.app.schema_manager.get_schema())
        except psycopg.Error as exc:
            raise OkrError(f"task queue {safe_url(self.url)}: {exc}".strip()) from None

    def defer(self, jobs: Sequence[Job]) -> None:
        """Queue the jobs in one statement (all or none)."""
        from procrastinate.exceptions import ProcrastinateException

        self.ensure_schema()
        try:
            with self.app.open():
                self._fetch.batch_defer(*(job.to_json() for job in jobs))
        except ProcrastinateException as exc:
            raise OkrError(f"task queue {safe_url(self.url)}: cannot enqueue: {exc}") from None

    def work(self, store_url: str, options: WorkerOptions) -> None:
        """Run a worker on the ``okrcore`` queue (stopped by SIGINT or SIGTERM)."""
        self.ensure_schema()
        store = open_store(store_url)
        try:
            state = _WorkerState(store, default_manager(), PlanCache(cache_directory()),
                                 options.stalled_after)
            self.app.run_worker(
                queues=[QUEUE], concurrency=options.concurrency, wait=not options.burst,
                name=options.name, additional_context={"okrcore": state},
                update_heartbeat_interval=options.heartbeat,
                stalled_worker_timeout=options.stalled_after, delete_jobs="successful")
        finally:
            store.close()
