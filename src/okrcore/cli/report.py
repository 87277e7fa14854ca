"""Report commands: ``okr report PLAN --kind daily|weekly|monthly --format text|md|json|html``.

The report is built from the store (``--store``) as of ``--at`` (today), written to standard
output or ``-o FILE``, and with ``--notify CHANNEL`` (repeatable) sent to channels of the plan's
``notify`` section. Exit code 1 when any channel failed (the others are still sent).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from okrcore.cli._common import (
    at_option,
    echo_error,
    format_option,
    handle_errors,
    main,
    opened_store,
    owner_option,
    plan_argument,
    store_option,
)
from okrcore.planfile import load_plan
from okrcore.reports import KINDS, ReportFormat, ReportKind, render, report
from okrcore.reports._table import terminal_width


@main.command("report")
@plan_argument
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default="daily",
    show_default=True,
    help="daily status, weekly gap analysis or monthly review.",
)
@format_option("text", "md", "json", "html")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the report to this file instead of standard output.",
)
@store_option
@at_option
@owner_option
@click.option(
    "--notify",
    "channels",
    multiple=True,
    metavar="CHANNEL",
    help="Send the report to this channel of the plan's notify section (repeatable).",
)
@handle_errors
def report_command(
    plan_path: str,
    kind: ReportKind,
    fmt: ReportFormat,
    output: str | None,
    store_url: str,
    at: dt.date | None,
    owner: str | None,
    channels: tuple[str, ...],
) -> None:
    """Render the daily, weekly or monthly report of PLAN, and optionally send it."""
    plan = load_plan(plan_path)
    with opened_store(store_url) as store:
        rep = report(plan, store, kind, at=at or dt.date.today(), owner=owner)
        color = output is None and sys.stdout.isatty()
        width = terminal_width() if output is None else None
        text = render(rep, fmt, color=color, width=width)
        if output:
            Path(output).write_text(text, encoding="utf-8")
            click.echo(f"Wrote the {kind} report ({fmt}) to {output}", err=True)
        else:
            click.echo(text, nl=not text.endswith("\n"))
        if channels:
            from okrcore.notify import send_report

            failed = 0
            for result in send_report(plan, rep, channels):
                if result.ok:
                    click.echo(f"Sent the {kind} report to {result.channel}", err=True)
                else:
                    failed += 1
                    echo_error(f"Error: {result.error}")
            if failed:
                sys.exit(1)
