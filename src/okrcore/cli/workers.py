"""Distributed refresh commands: ``okr worker``, and what ``okr refresh --enqueue`` and
``okr refresh --shard K/N`` do (docs/company.md).

A worker runs jobs from the task queue until stopped by SIGINT or SIGTERM (after its current jobs)
or, with ``--burst``, until the queue is empty. Killed outright, its jobs run again elsewhere.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from typing import Any

import click

from okrcore.cli._common import (
    UsageError,
    echo_json,
    handle_errors,
    main,
    store_option,
)
from okrcore.errors import MissingExtra, OkrError
from okrcore.plugins import default_manager
from okrcore.reports._table import wrap, wrap_width
from okrcore.store import Store
from okrcore.workers import (
    Shard,
    WorkerOptions,
    enqueue,
    open_task_engine,
    plan_units,
    run_progress,
    shard,
)
from okrcore.workers.taskengine import safe_url

queue_option = click.option(
    "--queue", "queue_url", metavar="URL", default=lambda: os.environ.get("OKRCORE_QUEUE"),
    show_default="$OKRCORE_QUEUE, else the store when it is postgresql://",
    help="Task queue URL (postgresql://...: procrastinate's tables in that database).",
)


def queue_url_for(queue_url: str | None, store_url: str) -> str:
    """The queue to use: ``--queue``, ``$OKRCORE_QUEUE``, or a PostgreSQL store's database."""
    if queue_url:
        return queue_url
    if store_url.startswith(("postgresql://", "postgres://", "postgresql+")):
        return store_url
    raise UsageError("a distributed refresh needs a task queue: --queue postgresql://... "
                     "(or $OKRCORE_QUEUE, or a postgresql:// store, whose database then holds "
                     "the queue)")


def shard_ids(plan: Any, text: str, at: dt.date | None,
              backfill: tuple[dt.date, dt.date] | None) -> list[str]:
    """The key-result ids of ``--shard K/N``."""
    try:
        part = Shard.parse(text)
    except OkrError as exc:
        raise UsageError(f"--shard: {exc}") from None
    return shard(plan_units(plan, at=at, backfill=backfill, manager=default_manager()), part)


def enqueue_run(plan_path: str, store: Store, store_url: str, queue_url: str | None,
                at: dt.date | None, backfill: tuple[dt.date, dt.date] | None, job_size: int,
                timeout: float, retries: int, timeout_retries: int, fmt: str) -> None:
    """``okr refresh --enqueue``: record the run in flight, queue its jobs, say how to follow."""
    queue = queue_url_for(queue_url, store_url)
    try:
        engine = open_task_engine(queue)
    except MissingExtra as exc:
        raise UsageError(str(exc)) from None
    run = enqueue(plan_path, store, engine, at=at, backfill=backfill, job_size=job_size,
                  timeout=timeout, retries=retries, timeout_retries=timeout_retries)
    flight = run.info["distributed"]
    if fmt == "json":
        echo_json({"run": run.id, "as_of": run.as_of.isoformat(), "jobs": flight["jobs"],
                   "key_results": flight["key_results"], "queue": safe_url(queue)})
        return
    width = wrap_width()  # on a terminal (or $COLUMNS), lines wrap with words whole
    click.echo(wrap(f"Run {run.id} for {run.as_of}: {flight['key_results']} key result(s) in "
                    f"{flight['jobs']} job(s) on {safe_url(queue)}.", width))
    click.echo(wrap("Workers (okr worker) run them; okr runs shows the progress.", width))


@main.command("worker")
@store_option
@queue_option
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True,
              help="Jobs this worker runs at once.")
@click.option("--heartbeat", type=click.FloatRange(min=0, min_open=True), default=10.0,
              show_default=True, help="Seconds between the worker's heartbeats.")
@click.option("--stalled-after", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True,
              help="Seconds without a heartbeat after which a worker's jobs run again.")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
@click.option("--name", default=None, help="Worker name in the logs.")
@click.option("-v", "--verbose", is_flag=True, help="Log every job (procrastinate's log).")
@handle_errors
def worker_command(store_url: str, queue_url: str | None, concurrency: int, heartbeat: float,
                   stalled_after: float, burst: bool, name: str | None, verbose: bool) -> None:
    """Run refresh jobs queued by okr refresh --enqueue, writing to the store.

    Every worker of a run must use the store the run was enqueued into. SIGINT or SIGTERM stop
    the worker after its current jobs.
    """
    queue = queue_url_for(queue_url, store_url)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        engine = open_task_engine(queue)
    except MissingExtra as exc:
        raise UsageError(str(exc)) from None
    click.echo(wrap(f"Worker on {safe_url(queue)} ({engine.name}), writing to "
                    f"{safe_url(store_url)}; Ctrl-C stops it.", wrap_width(sys.stderr)),
               err=True)
    engine.work(store_url, WorkerOptions(concurrency, heartbeat, stalled_after, burst, name))


def describe_progress(run: Any) -> str:
    """`` (in flight: 10/40 key results, 1/4 jobs done)`` for a distributed run in flight."""
    state = run_progress(run)
    return f" ({state})" if state is not None else ""
