"""The seam between okrcore's distributed refresh and a task engine.

An engine moves :class:`~okrcore.workers.jobs.Job` payloads from ``okr refresh --enqueue`` to
workers on any machine, and on a worker calls :func:`~okrcore.workers.jobs.execute` for each job
and then :func:`~okrcore.workers.jobs.finish` with its outcomes, never two ``finish`` calls of one
run at once. It also owns recovery: a job whose worker died is run again. procrastinate
(:mod:`okrcore.workers.procrastinate_engine`) is the one provided; another engine (Celery) would
implement this protocol and be picked by its queue URL's scheme in :func:`open_task_engine`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import attrs

from okrcore.errors import OkrError

if TYPE_CHECKING:
    from .jobs import Job

__all__ = ["TaskEngine", "WorkerOptions", "open_task_engine", "safe_url"]


def safe_url(url: str) -> str:
    """A database URL fit to print: its password (if any) replaced by ``***``."""
    return re.sub(r"://([^:/@]*):[^@/]*@", r"://\1:***@", url)


@attrs.frozen
class WorkerOptions:
    """How a worker runs: ``concurrency`` jobs at once; a heartbeat every ``heartbeat`` seconds;
    the jobs of a worker silent for ``stalled_after`` seconds are run again elsewhere; ``burst``
    stops the worker once the queue is empty."""

    concurrency: int = 1
    heartbeat: float = 10.0
    stalled_after: float = 30.0
    burst: bool = False
    name: str | None = None


class TaskEngine(Protocol):
    """What the distributed refresh needs from a task engine."""

    name: str
    """Shown in the run log (``info.distributed.engine``)."""

    def defer(self, jobs: Sequence[Job]) -> None:
        """Queue the jobs, all or none; an :class:`~okrcore.OkrError` says why not."""
        ...

    def work(self, store_url: str, options: WorkerOptions) -> None:
        """Run a worker writing to the store at ``store_url`` until stopped (or, with
        ``options.burst``, until the queue is empty)."""
        ...


def open_task_engine(url: str) -> TaskEngine:
    """The task engine of a queue URL: ``postgresql://...`` is procrastinate, whose jobs live in
    that PostgreSQL database (often the store's own)."""
    scheme = url.split("://", 1)[0].split("+", 1)[0] if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        from .procrastinate_engine import ProcrastinateEngine

        return ProcrastinateEngine(url)
    raise OkrError(f"no task engine for the queue URL {scheme or url!r}: expected "
                   "postgresql://user@host/db (procrastinate)")
