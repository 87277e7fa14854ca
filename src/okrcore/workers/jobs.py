"""The jobs of a distributed refresh: what is enqueued, and what a worker does with one.

Engine-neutral: a task engine (:mod:`okrcore.workers.taskengine`) moves :class:`Job` payloads
between machines and calls :func:`execute` and :func:`finish` on a worker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from okrcore.engine import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    DEFAULT_TIMEOUT_RETRIES,
    RefreshOptions,
    refresh,
)
from okrcore.errors import OkrError
from okrcore.model import Plan, RunOutcome, RunRecord
from okrcore.plugins import PluginManager
from okrcore.sources import FailureKind
from okrcore.store import MemoryStore, Store

from . import runlog
from .plans import PlanCache, cache_directory
from .split import _ids, split_jobs, units_of

if TYPE_CHECKING:
    from .taskengine import TaskEngine

__all__ = ["DEFAULT_JOB_SIZE", "Job", "PlanCache", "enqueue", "execute", "finish"]

DEFAULT_JOB_SIZE = 100
"""Key results per job: small enough to spread a run over many workers, large enough that the
per-job cost (loading the plan, merging into the run log) stays small."""


def _pair(value: Sequence[str] | None) -> tuple[str, str] | None:
    return None if value is None else (str(value[0]), str(value[1]))


def _positions(value: Sequence[int] | None) -> tuple[int, ...] | None:
    return None if value is None else tuple(int(v) for v in value)


@attrs.frozen
class Job:
    """One job of a run: the key results to fetch and how. JSON-ready (:meth:`to_json`).

    ``plan`` is the plan file's absolute path; every worker reads it there (a checkout or a shared
    volume) and runs the job on the plan whose content hashes to ``plan_sha256`` (what was
    enqueued): the one it holds in its :class:`~okrcore.workers.plans.PlanCache`, else the file if
    it is unchanged; else the job's key results fail saying so.
    """

    run: str
    number: int
    plan: str
    plan_sha256: str
    as_of: str
    started_at: str
    kr_ids: tuple[str, ...] = attrs.field(converter=_ids)
    timeout: float | None = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    timeout_retries: int = DEFAULT_TIMEOUT_RETRIES
    backfill: tuple[str, str] | None = attrs.field(default=None, converter=_pair)
    #: where ``kr_ids`` are in the run's outcomes (the run log merges the job's outcomes there)
    positions: tuple[int, ...] | None = attrs.field(default=None, converter=_positions)

    def to_json(self) -> dict[str, Any]:
        """The job as task arguments (JSON types only)."""
        data = attrs.asdict(self)
        data["kr_ids"] = list(self.kr_ids)
        data["backfill"] = None if self.backfill is None else list(self.backfill)
        data["positions"] = None if self.positions is None else list(self.positions)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Job:
        """The job from its task arguments."""
        return cls(**data)


def enqueue(
    plan_path: str | Path,
    store: Store,
    engine: TaskEngine,
    *,
    at: dt.date | None = None,
    backfill: tuple[dt.date, dt.date] | None = None,
    job_size: int = DEFAULT_JOB_SIZE,
    timeout: float | None = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    timeout_retries: int = DEFAULT_TIMEOUT_RETRIES,
    manager: PluginManager | None = None,
    plans: PlanCache | None = None,
) -> RunRecord:
    """Record a run in flight in ``store`` and hand its jobs to ``engine``; return the record.

    Key results are grouped as the sources batch them (:func:`okrcore.workers.split.plan_units`)
    and packed into jobs of at most ``job_size``; workers (``okr worker``) fetch them and merge
    their outcomes into the run. When the engine refuses the jobs, the run is recorded as failed.

    The parsed plan is left in ``plans`` (default: the disk cache of
    :func:`~okrcore.workers.plans.cache_directory`), where workers of this machine find it
    instead of parsing the file again.
    """
    path = Path(plan_path).resolve()
    plans = PlanCache(cache_directory()) if plans is None else plans
    plan, sha = plans.load(path)
    with MemoryStore() as unused:  # a dry run stores nothing
        planned = refresh(plan, unused, at=at, backfill=backfill, dry_run=True, manager=manager)
    groups = split_jobs(units_of(planned.requests, manager), job_size)
    run = runlog.in_flight(planned.run, groups, {"engine": engine.name, "plan": str(path)})
    store.record_run(run)
    position = {o.kr_id: i for i, o in enumerate(run.outcomes)}
    jobs = [
        Job(run.id, i, str(path), sha, run.as_of.isoformat(), run.started_at.isoformat(), ids,
            timeout, retries, timeout_retries,
            None if backfill is None else (backfill[0].isoformat(), backfill[1].isoformat()),
            tuple(position[k] for k in ids))
        for i, ids in enumerate(groups, start=1)
    ]
    if not jobs:
        return run
    try:
        engine.defer(jobs)
    except OkrError as exc:
        failed = [_failed(o.kr_id, f"not enqueued: {exc}") if o.status == runlog.QUEUED else o
                  for o in run.outcomes]
        store.record_run(attrs.evolve(run, outcomes=failed, finished_at=run.started_at))
        raise
    return run


def _failed(kr_id: str, message: str, connection: str | None = None) -> RunOutcome:
    return RunOutcome(kr_id, "failed", connection, error=message,
                      kind=FailureKind.PERMANENT.value)


def execute(
    job: Job, store: Store, manager: PluginManager, plans: PlanCache, *, again: bool = False
) -> tuple[list[RunOutcome], dict[str, Any]]:
    """Fetch one job's key results into ``store``; their outcomes and the job's call counts.

    A plan this worker cannot use fails the job's key results (the run still completes). When the
    job runs ``again`` (its first worker died), check-ins the first attempt stored count as this
    run's, so the run log says ``refreshed``, not ``unchanged``.
    """
    try:
        plan = plans.get(job.plan, job.plan_sha256)
    except OkrError as exc:
        return [_failed(kr_id, str(exc)) for kr_id in job.kr_ids], {}
    backfill = None if job.backfill is None else (
        dt.date.fromisoformat(job.backfill[0]), dt.date.fromisoformat(job.backfill[1]))
    options = RefreshOptions(timeout=job.timeout, retries=job.retries,
                             timeout_retries=job.timeout_retries)
    result = refresh(plan, store, at=dt.date.fromisoformat(job.as_of), only=job.kr_ids,
                     backfill=backfill, options=options,
                     manager=manager, record=False)
    wanted = set(job.kr_ids)
    outcomes = [o for o in result.outcomes if o.kr_id in wanted]
    if again:
        since = dt.datetime.fromisoformat(job.started_at)
        outcomes = [_stored_since(o, plan, store, since) if o.status == "unchanged" else o
                    for o in outcomes]
    return outcomes, {"connections": dict(result.run.info.get("connections") or {})}


def _stored_since(outcome: RunOutcome, plan: Plan, store: Store, since: dt.datetime
                  ) -> RunOutcome:
    conn = plan.connections.get(outcome.connection or "")
    source = f"{conn.plugin}:{conn.name}" if conn is not None else None
    stored = sum(1 for c in store.checkins([outcome.kr_id])
                 if c.source == source and c.recorded_at >= since)
    return attrs.evolve(outcome, status="refreshed", stored=stored) if stored else outcome


def failed_job(job: Job, error: str) -> list[RunOutcome]:
    """The outcomes of a job the engine gave up on (it failed on every attempt)."""
    return [_failed(kr_id, f"the job failed on every attempt: {error}") for kr_id in job.kr_ids]


def finish(
    job: Job, outcomes: Sequence[RunOutcome], job_info: Mapping[str, Any], store: Store,
    manager: PluginManager, plans: PlanCache,
) -> RunRecord | None:
    """Merge a job's outcomes into its run (never concurrently for one run: the engine
    serialises these calls). When that completes the run, announce it to the
    ``okrcore_refresh_finished`` hook, as a local refresh does, and return it."""
    positions = None if job.positions is None else dict(zip(job.kr_ids, job.positions,
                                                               strict=True))
    run = runlog.record(store, job.run, job.number, outcomes, job_info, positions)
    if run is None:
        return None
    try:
        plan = plans.get(job.plan, job.plan_sha256)
    except OkrError:
        return run  # the outcomes say why; no plan, no hook
    errors = manager.call_event("okrcore_refresh_finished", run=run, plan=plan, store=store,
                                manager=manager)
    if errors:
        info = {**run.info, "hook_errors": [{"plugin": f.name, "error": f.error} for f in errors]}
        run = attrs.evolve(run, info=info)
        store.record_run(run)
    return run
