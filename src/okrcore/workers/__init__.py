"""One refresh split across machines: jobs on a task engine, or static shards.

``okr refresh PLAN --enqueue`` records a run in flight and queues its jobs; ``okr worker`` on any
number of machines runs them and merges their outcomes into the shared run log;
``okr refresh PLAN --shard 2/4`` refreshes one deterministic part for orchestrators. The task
engine (procrastinate) needs the ``workers`` extra; splitting and sharding need nothing.
docs/company.md tells how to run it.
"""

from __future__ import annotations

from .jobs import DEFAULT_JOB_SIZE, Job, enqueue
from .plans import PlanCache, cache_directory, read_plan
from .runlog import QUEUED, Progress, run_progress
from .split import Shard, Unit, plan_units, shard, split_jobs
from .taskengine import TaskEngine, WorkerOptions, open_task_engine

__all__ = [
    "DEFAULT_JOB_SIZE",
    "QUEUED",
    "Job",
    "PlanCache",
    "Progress",
    "Shard",
    "TaskEngine",
    "Unit",
    "WorkerOptions",
    "cache_directory",
    "enqueue",
    "open_task_engine",
    "plan_units",
    "read_plan",
    "run_progress",
    "shard",
    "split_jobs",
]
