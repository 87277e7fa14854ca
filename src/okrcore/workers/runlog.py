"""The run log of a distributed refresh: one run, recorded in flight, completed job by job.

When a run is enqueued it is recorded at once with ``finished_at = None``: key results decided
without a request (manual, not started...) carry their final outcome, every other one the status
``queued``. Each finished job replaces its key results' ``queued`` outcomes (the first answer
counts: a job run twice after a worker died changes nothing); the run is complete, and its
``finished_at`` set, when no outcome is queued. Merges of one run must not overlap: the task
engine runs them one at a time (docs/company.md, "What happens when a worker dies").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import attrs

from okrcore.errors import OkrError
from okrcore.model import RunOutcome, RunRecord
from okrcore.store import Store

__all__ = ["QUEUED", "Progress", "find_run", "merge", "record", "run_progress"]

QUEUED: Final = "queued"
"""The outcome status of a key result whose job has not finished yet."""

_COUNTS = ("requests", "fetch_calls", "retries", "failed")


@attrs.frozen
class Progress:
    """How far a distributed run is: key results and jobs done, of how many."""

    done: int
    total: int
    jobs_done: int
    jobs: int

    def __str__(self) -> str:
        return (f"in flight: {self.done}/{self.total} key results, "
                f"{self.jobs_done}/{self.jobs} jobs done")


def run_progress(run: RunRecord) -> Progress | None:
    """The progress of a distributed run still in flight; ``None`` for any other run."""
    flight = run.info.get("distributed")
    if run.finished_at is not None or not isinstance(flight, Mapping):
        return None
    total = int(flight.get("key_results", 0))
    queued = sum(1 for o in run.outcomes if o.status == QUEUED)
    return Progress(total - queued, total, len(flight.get("done", ())), int(flight.get("jobs", 0)))


def in_flight(run: RunRecord, jobs: Sequence[Sequence[str]], info: Mapping[str, Any]) -> RunRecord:
    """The record of a run just enqueued: ``run`` is its dry run (``planned`` outcomes for the
    key results to fetch), ``jobs`` the key-result ids of each job."""
    wanted = {kr_id for job in jobs for kr_id in job}
    outcomes = [attrs.evolve(o, status=QUEUED, error=None) if o.kr_id in wanted else o
                for o in run.outcomes]
    flight = {**info, "jobs": len(jobs), "done": [], "key_results": len(wanted)}
    done_now = not jobs
    return attrs.evolve(
        run, outcomes=outcomes, finished_at=run.started_at if done_now else None,
        info={"distributed": flight, "connections": {}},
    )


def _merge_info(run: RunRecord, job: int, job_info: Mapping[str, Any]
                ) -> tuple[dict[str, Any], bool]:
    """The run's info with job ``job`` done, and whether that is its first answer."""
    info = dict(run.info)
    flight = dict(info.get("distributed") or {})
    done = set(flight.get("done", ()))
    first = job not in done
    if first:  # count a job's calls once, even when it ran twice
        done.add(job)
        info["connections"] = _add_connections(info.get("connections") or {},
                                               job_info.get("connections") or {})
    flight["done"] = sorted(done)
    info["distributed"] = flight
    return info, first


def merge(
    run: RunRecord, job: int, outcomes: Iterable[RunOutcome], job_info: Mapping[str, Any],
    now: dt.datetime,
) -> tuple[RunRecord, bool]:
    """``run`` with one job's outcomes merged in, and whether this merge completed it."""
    info, _ = _merge_info(run, job, job_info)
    answers = {o.kr_id: o for o in outcomes}
    merged = [answers.get(o.kr_id, o) if o.status == QUEUED else o for o in run.outcomes]
    complete = run.finished_at is None and all(o.status != QUEUED for o in merged)
    finished = run.finished_at
    if complete:
        finished = now
        info["seconds"] = round((now - run.started_at).total_seconds(), 3)
    return attrs.evolve(run, outcomes=merged, finished_at=finished, info=info), complete


def _add_connections(total: Mapping[str, Any], more: Mapping[str, Any]) -> dict[str, Any]:
    out = {name: dict(stats) for name, stats in total.items()}
    for name, stats in more.items():
        into = out.setdefault(name, {})
        for key, value in stats.items():
            if key in _COUNTS:
                into[key] = int(into.get(key, 0)) + int(value)
            else:
                into[key] = value
    return out


def find_run(store: Store, run_id: str, *, outcomes: bool = True) -> RunRecord:
    """The run ``run_id`` of ``store`` (``outcomes=False``: without its outcomes, for a store
    that records outcomes by position); an :class:`~okrcore.OkrError` says why not."""
    lookup = getattr(store, "run", None)
    if lookup is None:
        raise OkrError(f"store {store!r} cannot look a run up by its id (Store.run), which a "
                       "distributed refresh needs; use a sqlite:/// or postgresql:// store")
    run: RunRecord | None = lookup(run_id) if outcomes else lookup(run_id, outcomes=False)
    if run is None:
        raise OkrError(f"run {run_id} is not in store {store!r}: every worker must write to the "
                       "store the run was enqueued into (okr worker --store)")
    return run


def record(
    store: Store, run_id: str, job: int, outcomes: Iterable[RunOutcome],
    job_info: Mapping[str, Any], positions: Mapping[str, int] | None = None,
) -> RunRecord | None:
    """Merge one job's outcomes into the stored run; the run when this merge completed it.

    ``positions``: where the job's key results are in the run's outcomes. With them, a store
    that records outcomes by position (``record_outcomes``) writes only the job's outcomes and
    the run's info, not the whole run: merges of one run are serialised, so their cost bounds
    how fast a run of thousands of key results completes.
    """
    now = dt.datetime.now(dt.timezone.utc)
    update = getattr(store, "record_outcomes", None)
    if update is None or positions is None:
        run, complete = merge(find_run(store, run_id), job, outcomes, job_info, now)
        store.record_run(run)
        return run if complete else None
    head = find_run(store, run_id, outcomes=False)
    info, first = _merge_info(head, job, job_info)
    if not first:
        return None  # the job ran twice (its first worker died): the first answer counts
    flight = info["distributed"]
    complete = head.finished_at is None and len(flight["done"]) >= int(flight.get("jobs", 0))
    finished = head.finished_at
    if complete:
        finished = now
        info["seconds"] = round((now - head.started_at).total_seconds(), 3)
    changes = {positions[o.kr_id]: o for o in outcomes if o.kr_id in positions}
    update(run_id, changes, finished_at=finished, info=info)
    return find_run(store, run_id) if complete else None
