"""Check-in commands: ``okr checkin`` records an actual, ``okr history`` shows a key result's
check-ins and target changes (a KPI's readings and period values, an initiative's statuses)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import click

from okrcore.changes import with_target_changes
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
    measured,
    opened_store,
    parse_date,
    plan_argument,
    store_option,
    target_values,
)
from okrcore.model import CheckIn, Kpi, Plan, TargetChange
from okrcore.planfile import load_plan
from okrcore.reports._format import confidence as confidence_text, num
from okrcore.reports._table import Col
from okrcore.scoring import confidence_scale
from okrcore.store import CheckInRecord, Store, differs


@main.command(context_settings=VALUE_ARGS)
@plan_argument
@click.argument("kr_id", metavar="KR")
@click.argument("value", type=float)
@store_option
@click.option("--at", "at", callback=parse_date, help="as_of date, YYYY-MM-DD (default: today).")
@click.option("--note", help="A note to keep with the check-in.")
@click.option("--author", help="Who reports it.")
@click.option(
    "--confidence",
    type=float,
    help="Confidence, 0 to 1 (0 to 10 when the plan sets policy: {confidence_scale: 10}).",
)
@click.option("--source", default="manual", show_default=True, help="Where the value comes from.")
@click.option("--replace", is_flag=True, help="Correct the check-in already stored for that day.")
@click.option("--reason", help="Why the stored check-in is corrected (needed with --replace).")
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
    replace: bool,
    reason: str | None,
    fmt: str,
) -> None:
    """Record VALUE as KR's actual (as of --at, default today).

    A key result has one check-in per day and source. When one is stored, the same check-in
    again changes nothing, and a different one is refused unless it is a correction:
    --replace --reason "..." stores it as a revision and keeps the old one in `okr history`
    (docs/stores.md#revisions).
    """
    plan = load_plan(plan_path)
    kr = measured(plan, kr_id)  # a KPI takes check-ins as a key result does
    if not math.isfinite(value):
        raise UsageError(f"VALUE must be a finite number, got {value!r}")
    problem = kr.value_problem(value)
    if problem is not None:
        raise UsageError(f"VALUE {value:g} cannot be an actual of {kr.id!r}: {problem}")
    if confidence is not None:
        scale = confidence_scale(plan)
        if not (math.isfinite(confidence) and 0 <= confidence <= scale):
            raise UsageError(f"--confidence must be a number from 0 to {scale}, got {confidence:g}")
        confidence /= scale  # kept from 0 to 1 whatever the scale
    if replace and not (reason or "").strip():
        raise UsageError("--replace needs --reason saying why the stored check-in is wrong")
    if reason is not None and not replace:
        raise UsageError("--reason goes with --replace (it says why a check-in is corrected)")
    as_of = at or dt.date.today()
    entry = CheckIn(
        kr.id, value, as_of, source=source, author=author, note=note, confidence=confidence
    )
    with opened_store(store_url, create=True) as store:
        existing = _stored(store, entry)
        if existing is not None and differs(existing, entry) and not replace:
            raise UsageError(
                f"{kr.id} already has a check-in as of {as_of} from {source} "
                f"({num(existing.value, kr.unit)}); to correct it, run the command again with "
                '--replace --reason "why it was wrong"'
            )
        added = store.add_checkins([entry], reason=reason if replace else None)
    warning = None
    cycle = plan.cycle_of(kr.id) if plan.has_key_result(kr.id) else None
    if cycle is not None and as_of not in cycle:
        warning = f"{as_of} is outside cycle {cycle.id!r} ({cycle.start} to {cycle.end})"
    if fmt == "json":
        echo_json(
            {
                "stored": added.stored == 1,
                "revised": added.revised == 1,
                "checkin": checkin_dict(entry if added.stored or existing is None else existing),
                "replaced": checkin_dict(existing) if added.revised and existing else None,
                "warnings": [warning] if warning else [],
            }
        )
        return
    if warning:
        click.echo(f"Warning: {warning}", err=True)
    stored = f"{kr.id} = {num(value, kr.unit)} as of {as_of} (source {source})"
    if added.revised:
        was = f" (was {num(existing.value, kr.unit)})" if existing else ""
        click.echo(f"Replaced: {stored}{was}; the old check-in stays in `okr history`.")
    elif added.new:
        click.echo(f"Stored {stored}.")
    else:
        click.echo(
            f"Already stored: {kr.id} has this check-in as of {as_of} from {source}; "
            "nothing written."
        )


def _stored(store: Store, entry: CheckIn) -> CheckIn | None:
    """The check-in in force for ``entry``'s key result, day and source, if any."""
    same_day = store.checkins([entry.kr_id], since=entry.as_of, until=entry.as_of)
    return next((c for c in same_day if c.source == entry.source), None)


# `okr history` tables; on a narrow terminal notes and reasons move under their row, then columns
# leave by their drop rank (docs/reports.md, "Terminal output").
CHECKIN_COLUMNS = (
    Col("as of"),
    Col("value", justify="right"),
    Col("source"),
    Col("author", drop=2),
    Col("note", "note"),
    Col("confidence", justify="right", drop=1),
    Col("recorded", drop=3),
)
CHANGE_COLUMNS = (
    Col("changed"),
    Col("field"),
    Col("old", justify="right"),
    Col("new", justify="right"),
    Col("reason", "note"),
    Col("author", drop=1),
)
# only when the key result has replaced readings
REVISION_COLUMN = Col("revision", "note")


@main.command()
@plan_argument
@click.argument("kr_id", metavar="KR")
@store_option
@format_option("text", "json", "md")
@handle_errors
def history(plan_path: str, kr_id: str, store_url: str, fmt: str) -> None:
    """Show KR's check-ins and target changes, and its original and current targets.

    Given a KPI's id instead, show its readings and each period's value against its target;
    given an initiative's id, show when its status changed.
    """
    plan = load_plan(plan_path)
    if plan.has_kpi(kr_id):
        _kpi_history(plan, plan.kpi(kr_id), store_url, fmt)
        return
    if not plan.has_key_result(kr_id) and any(i.id == kr_id for i in plan.initiatives()):
        _initiative_history(plan, kr_id, store_url, fmt)
        return
    kr = key_result(plan, kr_id, kpis=True)
    with opened_store(store_url) as store:
        changes = store.target_changes(kr.id)
        records = store.checkin_history([kr.id])
        linked = _linked(store, changes)
    current = with_target_changes(plan, changes).key_result(kr.id)
    revisions = _revisions(records)
    if fmt == "json":
        echo_json(
            {
                "id": kr.id,
                "title": kr.title,
                "unit": kr.unit,
                "original": target_values(kr),
                "current": target_values(current),
                "checkins": [checkin_dict(r.checkin) for r in records if r.in_force],
                "replaced": [
                    {**checkin_dict(r.checkin), **revisions[i]}
                    for i, r in enumerate(records)
                    if not r.in_force
                ],
                "target_changes": [
                    {**change_dict(c), "linked": linked.get(c.link or "", [])} for c in changes
                ],
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
    scale = confidence_scale(plan)
    ci_rows = _checkin_rows(records, revisions, unit, scale)
    ci_columns = CHECKIN_COLUMNS + ((REVISION_COLUMN,) if revisions else ())
    ci_headers = [c.header for c in ci_columns]
    tc_rows = [
        [
            c.changed_at.strftime("%Y-%m-%d %H:%M UTC"),
            c.field,
            num(c.old, unit),
            num(c.new, unit),
            _link_text(c, linked),
            c.author or "",
        ]
        for c in changes
    ]
    tc_headers = [c.header for c in CHANGE_COLUMNS]
    if fmt == "md":
        parts = [f"## {head}", "", targets, "", "### Check-ins", ""]
        parts.append(md_table(ci_headers, ci_rows) if ci_rows else "No check-ins yet.")
        parts += ["", "### Target changes", ""]
        parts.append(md_table(tc_headers, tc_rows) if tc_rows else "No target changes.")
        click.echo("\n".join(parts))
        return
    from rich.text import Text

    from okrcore.reports._table import print_table

    out = console()
    out.print(Text(head, style="bold"))
    out.print(Text(targets))
    for title, cols, rows, empty in (
        ("Check-ins", ci_columns, ci_rows, "No check-ins yet."),
        ("Target changes", CHANGE_COLUMNS, tc_rows, "No target changes."),
    ):
        out.print()
        if not rows:
            out.print(empty)
            continue
        print_table(out, cols, rows, title=Text(title, style="bold"))


def _checkin_rows(
    records: list[CheckInRecord], revisions: dict[int, dict[str, Any]], unit: str, scale: int
) -> list[list[str]]:
    """The rows of a history's check-in table (``CHECKIN_COLUMNS``, plus the revision column
    when some reading was replaced)."""
    return [
        [
            str(r.checkin.as_of),
            num(r.checkin.value, unit),
            r.checkin.source,
            r.checkin.author or "",
            r.checkin.note or "",
            "" if r.checkin.confidence is None else confidence_text(r.checkin.confidence, scale),
            r.checkin.recorded_at.strftime("%Y-%m-%d %H:%M UTC"),
        ]
        + ([_revision_text(revisions.get(i))] if revisions else [])
        for i, r in enumerate(records)
    ]


PERIOD_COLUMNS = (
    Col("period"),
    Col("from"),
    Col("to"),
    Col("value", justify="right"),
    Col("target", justify="right"),
    Col("readings", justify="right", drop=1),
)
_PER = {"weekly": "week", "monthly": "month", "quarterly": "quarter"}


def _kpi_periods(kpi: Kpi, readings: list[CheckIn]) -> list[dict[str, Any]]:
    """Each period with readings in force, oldest first: its value as scoring computes it (the
    sum of the days' readings, or the latest) against the period's target."""
    from okrcore.kpis import kpi_value

    bounds: dict[str, tuple[dt.date, dt.date]] = {}
    count: dict[str, int] = {}
    for c in readings:
        key, start, end = kpi.period.bounds(c.as_of)
        bounds[key] = (start, end)
        count[key] = count.get(key, 0) + 1
    return [
        {
            "period": key,
            "start": start,
            "end": end,
            "value": kpi_value(kpi, readings, start, end),
            "target": kpi.target_for(key),
            "readings": count[key],
        }
        for key, (start, end) in sorted(bounds.items(), key=lambda item: item[1][0])
    ]


def _kpi_history(plan: Plan, kpi: Kpi, store_url: str, fmt: str) -> None:
    """``okr history PLAN KPI``: the KPI's readings (replaced ones with their revision) and the
    value of each period against its target. A KPI has no target changes: its targets are the
    plan's."""
    with opened_store(store_url) as store:
        records = store.checkin_history([kpi.id])
    revisions = _revisions(records)
    periods = _kpi_periods(kpi, [r.checkin for r in records if r.in_force])
    if fmt == "json":
        echo_json(
            {
                "id": kpi.id,
                "title": kpi.title,
                "type": "kpi",
                "unit": kpi.unit,
                "direction": kpi.direction,
                "measure": kpi.measure.value,
                "period": kpi.period.value,
                "target": kpi.target,
                "targets": dict(kpi.targets),
                "checkins": [checkin_dict(r.checkin) for r in records if r.in_force],
                "replaced": [
                    {**checkin_dict(r.checkin), **revisions[i]}
                    for i, r in enumerate(records)
                    if not r.in_force
                ],
                "periods": periods,
            }
        )
        return
    unit = kpi.unit
    relation = "at or above" if kpi.direction == "above" else "at or below"
    overrides = "".join(f"; {k}: {num(v, unit)}" for k, v in sorted(kpi.targets.items()))
    head = f"{kpi.id}: {kpi.title} (KPI)"
    targets = (
        f"Target {num(kpi.target, unit)} a {_PER[kpi.period.value]} ({relation}, "
        f"{kpi.measure.value}){overrides}"
    )
    ci_rows = _checkin_rows(records, revisions, unit, confidence_scale(plan))
    ci_columns = CHECKIN_COLUMNS + ((REVISION_COLUMN,) if revisions else ())
    p_rows = [
        [
            p["period"],
            str(p["start"]),
            str(p["end"]),
            "-" if p["value"] is None else num(p["value"], unit),
            num(p["target"], unit),
            str(p["readings"]),
        ]
        for p in periods
    ]
    empty = "No readings yet."  # and so no period with a value
    if fmt == "md":
        parts = [f"## {head}", "", targets, ""]
        if not ci_rows:
            parts.append(empty)
        else:
            parts += ["### Readings", "", md_table([c.header for c in ci_columns], ci_rows)]
            parts += ["", "### Periods", "", md_table([c.header for c in PERIOD_COLUMNS], p_rows)]
        click.echo("\n".join(parts))
        return
    from rich.text import Text

    from okrcore.reports._table import print_table

    out = console()
    out.print(Text(head, style="bold"))
    out.print(Text(targets))
    out.print()
    if not ci_rows:
        out.print(empty)
        return
    print_table(out, ci_columns, ci_rows, title=Text("Readings", style="bold"))
    out.print()
    print_table(out, PERIOD_COLUMNS, p_rows, title=Text("Periods", style="bold"))


STATUS_COLUMNS = (
    Col("day"),
    Col("status"),
    Col("was"),
    Col("source"),
    Col("recorded", drop=1),
)


def _initiative_history(plan: Plan, initiative_id: str, store_url: str, fmt: str) -> None:
    """``okr history PLAN INITIATIVE``: the initiative's recorded statuses, oldest first."""
    from okrcore.initiative_history import status_history

    ini = plan.initiative(initiative_id)
    with opened_store(store_url) as store:
        changes = status_history(store, ini.id)
    if fmt == "json":
        echo_json({
            "id": ini.id,
            "title": ini.title,
            "status": ini.status.value,
            "due": ini.due,
            "owner": plan.initiative_owner(ini.id),
            "changes": [
                {"status": c.status.value, "was": c.was.value if c.was else None, "at": c.at,
                 "source": c.source, "recorded_at": c.recorded_at, "run_id": c.run_id}
                for c in changes
            ],
        })
        return
    due = f"; due {ini.due.isoformat()}" if ini.due else ""
    head = f"{ini.id}: {ini.title}"
    now = f"Status in the plan: {ini.status.value}{due}"
    rows = [
        [c.at.isoformat(), c.status.value, c.was.value if c.was else "", c.source,
         c.recorded_at.strftime("%Y-%m-%d %H:%M UTC")]
        for c in changes
    ]
    empty = "No status recorded yet (a refresh records it)."
    if fmt == "md":
        table = md_table([c.header for c in STATUS_COLUMNS], rows) if rows else empty
        click.echo("\n".join([f"## {head}", "", now, "", "### Status history", "", table]))
        return
    from rich.text import Text

    from okrcore.reports._table import print_table

    out = console()
    out.print(Text(head, style="bold"))
    out.print(Text(now))
    out.print()
    if rows:
        print_table(out, STATUS_COLUMNS, rows, title=Text("Status history", style="bold"))
    else:
        out.print(empty)


def _linked(store: Store, changes: list[TargetChange]) -> dict[str, list[dict[str, Any]]]:
    """For each link among ``changes``: the other changes recorded with it (a move's other
    side), as ``{"kr_id", "field", "old", "new"}``."""
    links = {c.link for c in changes if c.link}
    if not links:
        return {}
    out: dict[str, list[dict[str, Any]]] = {link: [] for link in links}
    for other in store.target_changes():
        if other.link in links and other not in changes:
            fields = ("kr_id", "field", "old", "new")
            out[other.link].append({k: getattr(other, k) for k in fields})
    return out


def _link_text(change: TargetChange, linked: dict[str, list[dict[str, Any]]]) -> str:
    """The reason, and for a move the other side: "to SEM (moved with sem-leads 300 → 500)"."""
    others = linked.get(change.link or "")
    if not others:
        return change.reason
    sides = ", ".join(f"{o['kr_id']} {num(o['old'])} → {num(o['new'])}" for o in others)
    return f"{change.reason} (moved with {sides}; link {change.link})"


def _revisions(records: list[CheckInRecord]) -> dict[int, dict[str, Any]]:
    """For each replaced reading (by position): when, and by which run or for which reason, the
    next reading of its key replaced it."""
    out: dict[int, dict[str, Any]] = {}
    for i, r in enumerate(records):
        if r.in_force or i + 1 >= len(records):
            continue
        by = records[i + 1]  # the history lists a key's readings in order, the one in force last
        out[i] = {"replaced_at": r.replaced_at, "replaced_by_run": by.run_id, "reason": by.reason}
    return out


def _revision_text(revision: dict[str, Any] | None) -> str:
    if revision is None:
        return ""
    text = f"replaced {revision['replaced_at']:%Y-%m-%d %H:%M}"
    if revision["replaced_by_run"]:
        text += f" by run {revision['replaced_by_run']}"
    if revision["reason"]:
        text += f": {revision['reason']}"
    return text
