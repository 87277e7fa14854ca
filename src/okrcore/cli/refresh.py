"""Refresh commands: ``okr refresh`` and ``okr runs``.

``okr refresh`` is what a scheduled job runs: it prints one line per key result (or the JSON
summary of :meth:`okrcore.RefreshResult.to_dict`), shows a progress bar only when stderr
is a terminal, and exits 0 when every fetched key result was refreshed, 1 when any failed or the
report after the refresh was not delivered, 2 when the plan or the arguments are unusable.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from okrcore.cli._common import (
    EXIT_FAILED,
    UsageError,
    at_option,
    echo_json,
    format_option,
    handle_errors,
    iso_date,
    main,
    opened_store,
    plan_argument,
    show_log,
    store_option,
)
from okrcore.cli.workers import describe_progress, enqueue_run, queue_option, shard_ids
from okrcore.engine import RefreshOptions, RefreshResult, describe_request, refresh
from okrcore.errors import PluginError
from okrcore.model import RunRecord
from okrcore.planfile import load_plan
from okrcore.reports._format import num
from okrcore.reports._table import wrap, wrap_width
from okrcore.workers import DEFAULT_JOB_SIZE

STATUS_MARK = {
    "refreshed": "ok",
    "unchanged": "ok",
    "failed": "FAILED",
    "skipped": "skip",
    "manual": "manual",
}


def parse_range(_ctx: Any, _param: Any, value: str | None) -> tuple[dt.date, dt.date] | None:
    """Click callback for ``--backfill START..END`` (ISO dates, both inclusive)."""
    if value is None:
        return None
    start, sep, end = value.partition("..")
    try:
        if not sep:
            raise ValueError
        first, last = iso_date(start), iso_date(end)
    except ValueError:
        raise click.BadParameter(
            f"expected START..END as YYYY-MM-DD..YYYY-MM-DD, got {value!r}"
        ) from None
    if last < first:
        raise click.BadParameter(f"the range ends ({last}) before it starts ({first})")
    return first, last


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Callable[[Any, Any], None] | None]:
    """A rich progress bar on stderr when it is a terminal; nothing in cron or CI."""
    if not enabled or total == 0 or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(file=sys.stderr), transient=True) as bar:
        task = bar.add_task("Refreshing", total=total)
        yield lambda _request, _answer: bar.advance(task)


@main.command("refresh")
@plan_argument
@store_option
@at_option
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="KR",
    help="Refresh only this key result (repeat for several).",
)
@click.option(
    "--backfill",
    "backfill",
    callback=parse_range,
    metavar="START..END",
    help="Fetch daily series over this date range (fills history).",
)
@click.option("--dry-run", is_flag=True, help="Print the requests it would send; send nothing.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds each remote call may take (connect and the whole answer).",
)
@click.option(
    "--deadline",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds the whole refresh may take.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=4,
    show_default=True,
    help="Retries of a transient failure.",
)
@click.option(
    "--timeout-retries",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Retries of a call that got no answer within --timeout.",
)
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log to stderr what the engine does: -v retries and failures, -vv every attempt.",
)
@click.option(
    "--shard",
    "shard",
    metavar="K/N",
    default=None,
    help="Refresh only part K of N (deterministic; for orchestrators).",
)
@click.option(
    "--enqueue",
    is_flag=True,
    help="Queue the run as jobs for okr worker processes instead of running it here.",
)
@queue_option
@click.option(
    "--job-size",
    type=click.IntRange(min=1),
    default=DEFAULT_JOB_SIZE,
    show_default=True,
    help="Key results per job (with --enqueue).",
)
@format_option("text", "json")
@handle_errors
def refresh_command(
    plan_path: str,
    store_url: str,
    at: dt.date | None,
    only: tuple[str, ...],
    backfill: tuple[dt.date, dt.date] | None,
    dry_run: bool,
    timeout: float,
    deadline: float | None,
    retries: int,
    timeout_retries: int,
    verbose: int,
    shard: str | None,
    enqueue: bool,
    queue_url: str | None,
    job_size: int,
    fmt: str,
) -> None:
    """Fetch key-result actuals from live systems and store them as check-ins.

    Exit 0 when every fetched key result was refreshed, 1 when any failed or a notification
    after the refresh failed, 2 when the plan or the arguments are unusable. With --enqueue, exit
    0 once the jobs are queued.
    """
    if verbose:
        show_log(logging.DEBUG if verbose > 1 else logging.INFO)
    if backfill is not None and at is not None:
        raise UsageError("--at and --backfill exclude each other (the backfill end is the as_of)")
    for flag, on, others in (
        ("--shard", shard, {"--only": only}),
        ("--enqueue", enqueue,
         {"--only": only, "--shard": shard, "--dry-run": dry_run, "--deadline": deadline}),
    ):
        clash = [name for name, value in others.items() if value]
        if on and clash:
            raise UsageError(f"{flag} excludes {', '.join(clash)}")
    if enqueue:
        with opened_store(store_url, create=True) as store:
            enqueue_run(plan_path, store, store_url, queue_url, at, backfill, job_size, timeout,
                        retries, timeout_retries, fmt)
        return
    plan = load_plan(plan_path)
    selected = list(only) or (shard_ids(plan, shard, at, backfill) if shard else None)
    if selected is not None:
        unknown = [k for k in selected if not plan.has_key_result(k) and not plan.has_kpi(k)]
        if unknown:
            known = ", ".join(kr.id for kr in plan.measured()) or "none"
            raise UsageError(
                f"--only: no key result {', '.join(map(repr, unknown))} in "
                f"{plan_path} (known: {known})"
            )
    with opened_store(store_url, create=True) as store:
        total = sum(1 for kr in plan.measured() if kr.source is not None)
        with _progress(total, fmt == "text" and not dry_run) as on_result:
            try:
                result = refresh(
                    plan,
                    store,
                    at=at,
                    only=selected,
                    backfill=backfill,
                    dry_run=dry_run,
                    options=RefreshOptions(deadline=deadline, timeout=timeout, retries=retries,
                                           timeout_retries=timeout_retries),
                    on_result=on_result,
                )
            except PluginError as exc:  # a plugin module the plan names cannot be loaded
                raise UsageError(f"{plan_path}: {exc}") from None
    if fmt == "json":
        echo_json(result.to_dict())
    elif dry_run:
        _print_requests(result)
    else:
        _print_result(result)
    for failure in result.hook_errors:  # e.g. a report or an event was not delivered
        click.echo(f"FAILED after the refresh: {_hook_error(failure.name, failure.error)}",
                   err=True)
    if not dry_run and (not result.ok or result.hook_errors):
        sys.exit(EXIT_FAILED)


def _hook_error(plugin: str, error: str) -> str:
    """A hook failure in words: the notifier's own message (which names the channel and the
    platform's error), or the plugin and its error."""
    text = error.removeprefix("okrcore_refresh_finished: ").removeprefix("NotifyError: ")
    builtin = plugin in ("okrcore.default_plugins.notify", "okrcore.default_plugins.events")
    return text if builtin else f"plugin {plugin!r}: {text}"


def _print_requests(result: RefreshResult) -> None:
    click.echo(f"Dry run for {result.as_of}: {len(result.requests)} request(s) would be sent.")
    for r in result.requests:
        d = describe_request(r)
        what = "daily series" if d["series"] else "total"
        query = json.dumps(d["query"], sort_keys=True, ensure_ascii=False, default=str)
        click.echo(
            f"  {d['id']}: {d['connection']} ({d['plugin']}) {what} "
            f"{d['start']}..{d['end']} {query}"
        )
    for o in result.outcomes:
        if o.status in ("failed", "skipped", "manual") and o.error != "not selected":
            detail = f": {o.error}" if o.error and o.error != o.status else ""
            click.echo(f"  {o.kr_id}: {o.status}{detail}")


def _print_result(result: RefreshResult) -> None:
    width = wrap_width()  # on a terminal (or $COLUMNS), lines wrap with words whole, like okr runs
    for o in result.outcomes:
        mark = STATUS_MARK.get(o.status, o.status)
        if o.status in ("refreshed", "unchanged"):
            value = num(o.value)
            stored = f"{o.stored} new, {o.revised} revised"
            line = f"{mark:7} {o.kr_id} = {value} ({stored}) [{o.connection}]"
        elif o.status == "failed":
            line = f"{mark:7} {o.kr_id} [{o.connection}] {o.kind}: {o.error}"
        elif o.error == "not selected":
            continue
        else:
            line = f"{mark:7} {o.kr_id}" + (f": {o.error}" if o.error != o.status else "")
        click.echo(wrap(line, width, indent=8))  # the key result stays first, then the error
        for warning in o.warnings:
            click.echo(wrap(f"        warning: {warning}", width, indent=17))
    click.echo(wrap(_summary(result.run), width))


def _summary(run: RunRecord) -> str:
    tally: dict[str, int] = {}
    for o in run.outcomes:
        tally[o.status] = tally.get(o.status, 0) + 1
    stored = sum(o.stored for o in run.outcomes)
    revised = sum(o.revised for o in run.outcomes)
    parts = ", ".join(f"{n} {status}" for status, n in sorted(tally.items())) or "nothing to do"
    return (
        f"Run {run.id} for {run.as_of}: {parts}; {stored} new check-in(s), {revised} revised."
    )


def run_to_dict(run: RunRecord) -> dict[str, Any]:
    """A run log entry as JSON-ready data (``okr runs --format json``)."""
    return {
        "id": run.id,
        "started_at": run.started_at.isoformat(),
        "finished_at": None if run.finished_at is None else run.finished_at.isoformat(),
        "as_of": run.as_of.isoformat(),
        "outcomes": [
            {
                "id": o.kr_id,
                "status": o.status,
                "connection": o.connection,
                "value": o.value,
                "stored": o.stored,
                "revised": o.revised,
                "error": o.error,
                "kind": o.kind,
                "warnings": list(o.warnings),
            }
            for o in run.outcomes
        ],
        "info": dict(run.info),
    }


@main.command("runs")
@store_option
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="How many recent runs to show.",
)
@format_option("text", "json")
@handle_errors
def runs_command(store_url: str, limit: int, fmt: str) -> None:
    """Show what the last refresh runs did (newest first)."""
    with opened_store(store_url) as store:
        runs = store.runs(limit)
    if fmt == "json":
        echo_json({"runs": [run_to_dict(r) for r in runs]})
        return
    if not runs:
        click.echo("No refresh runs recorded in this store.")
        return
    width = wrap_width()  # on a terminal, lines wrap with words whole (docs/reports.md)
    for run in runs:
        took = ""
        if run.finished_at is not None:
            took = f" in {(run.finished_at - run.started_at).total_seconds():.1f} s"
        started = run.started_at.strftime("%Y-%m-%d %H:%M:%S %Z")
        click.echo(wrap(f"{started}{took}: {_summary(run)}{describe_progress(run)}", width))
        for o in run.outcomes:
            if o.status == "failed":
                line = f"  FAILED {o.kr_id} [{o.connection}] {o.kind}: {o.error}"
                click.echo(wrap(line, width, indent=9))
