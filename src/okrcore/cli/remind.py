"""``okr remind``: nudge the owners of key results due for a check-in, once per owner and period
(safe to run every hour from cron)."""

from __future__ import annotations

import datetime as dt
import sys

import click

from okrcore.cli._common import (
    EXIT_FAILED,
    UsageError,
    at_option,
    echo_json,
    format_option,
    handle_errors,
    main,
    opened_store,
    plan_argument,
    store_option,
)
from okrcore.errors import PluginError
from okrcore.planfile import load_plan
from okrcore.remind import ReminderResult, Reminders, failures, reminders, send_reminders
from okrcore.reports._table import wrap, wrap_width

_STATUS = {
    "sent": "sent",
    "already sent": "skipped",
    "being sent": "skipped",
    "would send": "would send",
    "failed": "FAILED",
}


@main.command("remind")
@plan_argument
@store_option
@at_option
@click.option(
    "--dry-run", is_flag=True, help="Show who would be reminded; send and record nothing."
)
@format_option("text", "json")
@handle_errors
def remind(plan_path: str, store_url: str, at: dt.date | None, dry_run: bool, fmt: str) -> None:
    """Remind owners of their key results that are due for a check-in or stale.

    One message per owner and reminder period (the plan's reminders.every, weekly by default)
    through the owner's notify channel, else their email through the email channel; key results
    without a check-in for reminders.escalate_after periods (2) also go to the objective's owner.
    Exits 1, naming it, when an owner cannot be reached or a send failed.
    """
    plan = load_plan(plan_path)
    with opened_store(store_url) as store:
        found = reminders(plan, store, at=at)
        try:
            results = send_reminders(plan, store, found, dry_run=dry_run)
        except PluginError as exc:  # a plugin module the plan names cannot be loaded
            raise UsageError(f"{plan_path}: {exc}") from None
    failed = failures(found, results)
    if fmt == "json":
        echo_json({
            "at": found.at,
            "period": found.period,
            "dry_run": dry_run,
            "results": [
                {**r.reminder.to_dict(), "status": r.status, "error": r.error} for r in results
            ],
            "problems": list(found.problems),
        })
    else:
        _print(found, results, dry_run)
    if failed:
        width = wrap_width(sys.stderr)
        click.echo(wrap(f"FAILED: {len(failed)} reminder problem(s) (failed sends are tried "
                        "again on the next run):", width, indent=2), err=True)
        for line in failed:
            click.echo(wrap(f"  {line}", width, indent=4), err=True)
        sys.exit(EXIT_FAILED)


def _print(found: Reminders, results: list[ReminderResult], dry_run: bool) -> None:
    width = wrap_width()
    after = found.settings.escalate_after
    escalate = f"escalated after {after} periods" if after else "never escalated"
    head = f"Check-in reminders {found.period} (as of {found.at.isoformat()}, {escalate})"
    click.echo(wrap(head, width, indent=2))
    if dry_run:
        click.echo("  dry run: nothing is sent or recorded")
    if not results and not found.problems:
        click.echo("  nobody to remind: every key result is checked in")
    for r in results:
        rem = r.reminder
        count = len(rem.key_results) + len(rem.escalations)
        what = f"{count} key result{'s' if count != 1 else ''}"
        if r.status == "failed":
            line = f"  FAILED {rem.owner}: {r.error}"  # the error names the channel
        elif r.status in ("already sent", "being sent"):
            why = "already reminded" if r.status == "already sent" else "another run sends it"
            line = f"  skipped {rem.owner}: {why} in {found.period}"
        else:
            line = f"  {_STATUS[r.status]} {rem.owner} ({rem.via}): {what}"
        click.echo(wrap(line, width, indent=4))
        if r.status in ("already sent", "being sent"):
            continue  # listed when it was sent
        for due in rem.key_results:
            click.echo(wrap(f"    - {due.describe()}", width, indent=6))
        for due in rem.escalations:
            owner = due.owner_name or due.owner
            click.echo(wrap(f"    - escalated, owner {owner}: {due.describe()}", width,
                            indent=6))
    for problem in found.problems:
        click.echo(wrap(f"  FAILED {problem}", width, indent=4))
