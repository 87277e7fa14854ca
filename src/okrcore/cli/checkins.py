"""Check-in commands: ``okr checkin`` records an actual, ``okr history`` shows a key result's
check-ins and target changes."""

from __future__ import annotations

import datetime as dt
import math

import click

from okrcore.cli._common import (
    VALUE_ARGS,
    UsageError,
    change_dict,
    checkin_dict,
    console,
    echo_json,
    format_option,
    handle_errors,
    key_result,
    main,
    md_table,
    num,
    opened_store,
    parse_date,
    plan_argument,
    store_option,
    target_values,
)
from okrcore.model import CheckIn
from okrcore.planfile import load_plan


@main.command(context_settings=VALUE_ARGS)
@plan_argument
@click.argument("kr_id", metavar="KR")
@click.argument("value", type=float)
@store_option
@click.option("--at", "at", callback=parse_date, help="as_of date, YYYY-MM-DD (default: today).")
@click.option("--note", help="A note to keep with the check-in.")
@click.option("--author", help="Who reports it.")
@click.option("--confidence", type=click.FloatRange(0.0, 1.0), help="Confidence, 0 to 1.")
@click.option("--source", default="manual", show_default=True, help="Where the value comes from.")
@format_option("text", "json")
@handle_errors
def checkin(
    plan_path: str,
    kr_id: str,
    value: float,
    store_url: str,
    at: dt.date | None,
    note: str | None,
    author: str | None,
    confidence: float | None,
    source: str,
    fmt: str,
) -> None:
    """Record VALUE as KR's actual (as of --at, default today).

    The same key result, date and source is stored once: a second check-in says so and changes
    nothing.
    """
    plan = load_plan(plan_path)
    kr = key_result(plan, kr_id)
    if not math.isfinite(value):
        raise UsageError(f"VALUE must be a finite number, got {value!r}")
    as_of = at or dt.date.today()
    entry = CheckIn(
        kr.id, value, as_of, source=source, author=author, note=note, confidence=confidence
    )
    with opened_store(store_url) as store:
        new = store.add_checkins([entry]) == 1
        existing = None
        if not new:
            existing = next(
                (
                    c
                    for c in store.checkins([kr.id], since=as_of, until=as_of)
                    if c.source == source
                ),
                None,
            )
    cycle = plan.cycle_of(kr.id)
    warning = None
    if as_of not in cycle:
        warning = f"{as_of} is outside cycle {cycle.id!r} ({cycle.start} to {cycle.end})"
    if fmt == "json":
        echo_json(
            {
                "stored": new,
                "checkin": checkin_dict(entry if existing is None else existing),
                "warnings": [warning] if warning else [],
            }
        )
        return
    if warning:
        click.echo(f"Warning: {warning}", err=True)
    if new:
        click.echo(f"Stored {kr.id} = {num(value, kr.unit)} as of {as_of} (source {source}).")
    else:
        kept = f" (stored value: {num(existing.value, kr.unit)})" if existing else ""
        click.echo(
            f"Already stored: {kr.id} has a check-in as of {as_of} from {source}{kept}; "
            "nothing written."
        )


@main.command()
@plan_argument
@click.argument("kr_id", metavar="KR")
@store_option
@format_option("text", "json", "md")
@handle_errors
def history(plan_path: str, kr_id: str, store_url: str, fmt: str) -> None:
    """Show KR's check-ins and target changes, and its original and current targets."""
    plan = load_plan(plan_path)
    kr = key_result(plan, kr_id)
    with opened_store(store_url) as store:
        changes = store.target_changes(kr.id)
        entries = store.checkins([kr.id])
    current = plan.with_target_changes(changes).key_result(kr.id)
    if fmt == "json":
        echo_json(
            {
                "id": kr.id,
                "title": kr.title,
                "unit": kr.unit,
                "original": target_values(kr),
                "current": target_values(current),
                "checkins": [checkin_dict(c) for c in entries],
                "target_changes": [change_dict(c) for c in changes],
            }
        )
        return
    unit = kr.unit
    original = target_values(kr)
    targets = ", ".join(
        f"{name} {num(value, unit)}"
        + (f" (was {num(original[name], unit)})" if original[name] != value else "")
        for name, value in target_values(current).items()
        if value is not None or original[name] is not None
    )
    head = f"{kr.id}: {kr.title}"
    ci_rows = [
        [
            str(c.as_of),
            num(c.value, unit),
            c.source,
            c.author or "",
            c.note or "",
            "" if c.confidence is None else f"{c.confidence:.2f}",
            c.recorded_at.strftime("%Y-%m-%d %H:%M UTC"),
        ]
        for c in entries
    ]
    ci_headers = ["as of", "value", "source", "author", "note", "confidence", "recorded"]
    tc_rows = [
        [
            c.changed_at.strftime("%Y-%m-%d %H:%M UTC"),
            c.field,
            num(c.old, unit),
            num(c.new, unit),
            c.reason,
            c.author or "",
        ]
        for c in changes
    ]
    tc_headers = ["changed", "field", "old", "new", "reason", "author"]
    if fmt == "md":
        parts = [f"## {head}", "", targets, "", "### Check-ins", ""]
        parts.append(md_table(ci_headers, ci_rows) if ci_rows else "No check-ins yet.")
        parts += ["", "### Target changes", ""]
        parts.append(md_table(tc_headers, tc_rows) if tc_rows else "No target changes.")
        click.echo("\n".join(parts))
        return
    from rich.table import Table

    out = console()
    out.print(f"[bold]{head}[/]")
    out.print(targets)
    for title, headers, rows, empty in (
        ("Check-ins", ci_headers, ci_rows, "No check-ins yet."),
        ("Target changes", tc_headers, tc_rows, "No target changes."),
    ):
        if not rows:
            out.print(empty)
            continue
        table = Table(title=title)
        for h in headers:
            table.add_column(h)
        for row in rows:
            table.add_row(*row)
        out.print(table)

