"""``okr score``: the scorecard of a plan on the stored check-ins (text, Markdown, JSON; the JSON
shape is documented in docs/cli.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import click

from okrcore.changes import plan_in_force
from okrcore.checks import orphaned_checkins, orphans_message
from okrcore.cli._common import (
    STATUS_ICON,
    STATUS_STYLE,
    at_option,
    console,
    echo_json,
    format_option,
    handle_errors,
    main,
    md_table,
    opened_store,
    owner_option,
    plan_argument,
    status_text,
    store_option,
)
from okrcore.model import Plan
from okrcore.planfile import load_plan
from okrcore.plugins import default_manager, load_plugin_modules
from okrcore.reports import check_owner
from okrcore.reports._format import MISSING, fixed, num, pct, sum_note
from okrcore.reports._table import Col
from okrcore.scoring import score as score_plan
from okrcore.store import Store


def scorecard(plan: Plan, store: Store, at: dt.date, owner: str | None = None) -> dict[str, Any]:
    """Score the plan's current targets on the stored check-ins; the documented JSON shape.

    Target changes recorded up to ``at`` apply (a past date shows the targets of that day). Every
    key result carries ``target`` (current) and ``original_target`` (from the plan file) so that
    reports show what was recalibrated. With ``owner``, only what that owner answers for is kept
    (the numbers stay those of the whole plan).
    """
    if owner is not None:
        check_owner(plan, owner)
    current = plan_in_force(plan, store, at=at)
    manager = default_manager()
    load_plugin_modules(manager, plan.plugins)  # the plan may name its policies' plugins
    card = score_plan(current, store.checkins(), at=at, manager=manager)
    data: dict[str, Any] = card.to_dict()
    for entry in data.get("key_results", []):
        kr_id = entry.get("id")
        if isinstance(kr_id, str) and plan.has_key_result(kr_id):
            entry.setdefault("target", current.key_result(kr_id).effective_target)
            entry.setdefault("original_target", plan.key_result(kr_id).effective_target)
            entry.setdefault("unit", plan.key_result(kr_id).unit)
            entry.setdefault("owner", plan.kr_owner(kr_id))
    for entry in data.get("objectives", []):
        entry["owner_name"] = plan.owner_label(entry.get("owner"))
    for entry in data.get("rollups", {}).get("owner", []):
        owner_entry = plan.find_owner(entry.get("id"))
        entry["external"] = owner_entry.external if owner_entry else False
    data["owner"] = owner
    data["owners"] = [{"id": o.id, "name": o.name, "external": o.external} for o in plan.owners]
    return data if owner is None else _for_owner(data, plan, owner)


def _for_owner(data: dict[str, Any], plan: Plan, owner: str) -> dict[str, Any]:
    """The scorecard keeping what ``owner`` answers for (docs/cli.md, ``--owner``)."""
    objective_ids, kr_ids = plan.answers_for(owner)
    objectives, krs = set(objective_ids), set(kr_ids)
    rollups = data.get("rollups", {})
    return {
        **data,
        "key_results": [e for e in data.get("key_results", []) if e.get("id") in krs],
        "objectives": [e for e in data.get("objectives", []) if e.get("id") in objectives],
        "goals": [e for e in data.get("goals", []) if plan.goal(e["id"]).owner == owner],
        "kpis": [e for e in data.get("kpis", []) if e.get("owner") == owner],
        "rollups": {
            key: [n for n in nodes if key == "owner" and n.get("id") == owner]
            for key, nodes in rollups.items()
        },
    }


def _target_cell(entry: Mapping[str, Any]) -> str:
    unit = entry.get("unit") or ""
    target, original = entry.get("target"), entry.get("original_target")
    if original is not None and target is not None and original != target:
        return f"{num(original, unit)} → {num(target, unit)}"
    return num(target, unit)


# The scorecard's key-result columns; on a narrow terminal the why text moves under its row, then
# columns leave by their drop rank (docs/reports.md, "Terminal output").
KR_COLUMNS = (
    Col("key result", "name"),
    Col("actual", justify="right"),
    Col("target", justify="right", drop=2),
    Col("progress", justify="right", drop=3),
    Col("score", justify="right"),
    Col("pace", justify="right", drop=3),
    Col("status"),
    Col("forecast", justify="right", drop=1),
    Col("why", "note"),
)
KPI_COLUMNS = (
    Col("KPI", "name"),
    Col("period"),
    Col("actual", justify="right"),
    Col("bar", justify="right", drop=2),
    Col("target", justify="right", drop=1),
    Col("last period", justify="right", drop=3),
    Col("status"),
    Col("why", "note"),
)


def _kpi_cells(e: Mapping[str, Any], key: str, light: Any) -> list[Any]:
    """One KPI's row: the period's value against its bar (the target, pro-rated to the day for
    a cumulative KPI), and the last period's value against its target."""
    unit = e.get("unit") or ""
    relation = ">=" if e.get("direction") == "above" else "<="
    last = e.get("previous")
    return [
        key,
        str(e.get("period") or ""),
        num(e.get("actual"), unit),
        f"{relation} {num(e.get('expected'))}",
        num(e.get("target")),
        MISSING if last is None else f"{num(last)} of {num(e.get('previous_target'))}",
        light,
        str(e.get("reason") or ""),
    ]


ROLLUP_COLUMNS = (
    Col("objective / goal / owner"),
    Col("title", "name"),
    Col("score", justify="right"),
    Col("exp. score", justify="right"),
    Col("status"),
)


def _kr_cells(e: Mapping[str, Any], key: str, light: Any) -> list[Any]:
    """One key result's scorecard row; Markdown and the terminal differ in the id and light."""
    unit = e.get("unit") or ""
    return [
        key,
        num(e.get("actual"), unit),
        _target_cell(e),
        pct(e.get("progress")),
        fixed(e.get("score")),
        pct(e.get("expected")),
        light,
        num(e.get("forecast"), unit),
        " · ".join(
            t for t in (sum_note(e.get("sum_of")), str(e.get("reason") or "")) if t
        ),
    ]


def render_scorecard(data: Mapping[str, Any], fmt: str, title: str = "") -> None:
    """Print a scorecard dict as rich tables, Markdown or JSON."""
    if fmt == "json":
        echo_json(data)
        return
    krs = data.get("key_results", [])
    objectives = data.get("objectives", [])
    goals = data.get("goals", [])
    owners = data.get("rollups", {}).get("owner", [])
    kpis = data.get("kpis", [])
    as_of = data.get("as_of")
    if data.get("owner"):  # filtered: say whose scorecard it is
        label = str(data["owner"])
        for o in data.get("owners", []):
            if o.get("id") == label:
                label = f"{o['name']} (external)" if o.get("external") else str(o["name"])
        title = f"{title}, owner {label}" if title else f"owner {label}"
    if fmt == "md":
        head = f"## Scorecard{' — ' + title if title else ''} (as of {as_of})"
        rows = []
        for e in krs:
            status = status_text(e.get("status"))
            stale = " (stale)" if e.get("stale") else ""
            light = f"{STATUS_ICON.get(status, '⚪')} {status}{stale}"
            rows.append(_kr_cells(e, f"`{e.get('id')}`", light))
        parts = [head, "", md_table([c.header for c in KR_COLUMNS], rows)]
        for heading, nodes in (("Objectives", objectives), ("Goals", goals), ("Owners", owners)):
            if not nodes:
                continue
            rows = [
                [
                    f"`{n.get('id')}`",
                    str(n.get("title") or ""),
                    fixed(n.get("score")),
                    fixed(n.get("expected_score")),
                    f"{STATUS_ICON.get(status_text(n.get('status')), '⚪')} "
                    f"{status_text(n.get('status'))}",
                ]
                for n in nodes
            ]
            headers = [heading[:-1].lower(), "title", "score", "exp. score", "status"]
            parts += ["", f"### {heading}", "", md_table(headers, rows)]
        if kpis:
            rows = [
                _kpi_cells(
                    e, f"`{e.get('id')}`",
                    f"{STATUS_ICON.get(status_text(e.get('status')), '⚪')} "
                    f"{status_text(e.get('status'))}",
                )
                for e in kpis
            ]  # fmt: skip
            headers = [c.header for c in KPI_COLUMNS]
            parts += ["", "### KPIs", "", md_table(headers, rows)]
        click.echo("\n".join(parts))
        return

    from rich.text import Text

    from okrcore.reports._table import print_table

    def lamp(node: Mapping[str, Any], stale: str = "") -> Text:
        status = status_text(node.get("status"))
        return Text(f"● {status}{stale}", style=STATUS_STYLE.get(status, "bright_black"))

    out = console()
    rows = [
        _kr_cells(e, str(e.get("id")), lamp(e, " (stale)" if e.get("stale") else "")) for e in krs
    ]
    caption = Text(f"Scorecard{' — ' + title if title else ''} · as of {as_of}", style="bold")
    print_table(out, KR_COLUMNS, rows, title=caption)
    if objectives or goals or owners:
        nodes = [(o, str(o.get("id"))) for o in objectives]
        nodes += [(g, f"goal {g.get('id')}") for g in goals]
        nodes += [(n, f"owner {n.get('id')}") for n in owners]
        rows = [
            [
                label,
                str(node.get("title") or ""),
                fixed(node.get("score")),
                fixed(node.get("expected_score")),
                lamp(node) if node.get("status") is not None else "",
            ]
            for node, label in nodes
        ]
        out.print()
        print_table(out, ROLLUP_COLUMNS, rows, title=Text("Rollup", style="bold"))
    if kpis:
        rows = [_kpi_cells(e, str(e.get("id")), lamp(e)) for e in kpis]
        out.print()
        print_table(out, KPI_COLUMNS, rows, title=Text("KPIs (apart from the OKRs)", style="bold"))


@main.command()
@plan_argument
@store_option
@at_option
@owner_option
@format_option("text", "json", "md")
@handle_errors
def score(
    plan_path: str, store_url: str, at: dt.date | None, owner: str | None, fmt: str
) -> None:
    """Score PLAN's key results, objectives, goals and KPIs on the stored check-ins."""
    plan = load_plan(plan_path)
    with opened_store(store_url) as store:
        data = scorecard(plan, store, at or dt.date.today(), owner)
        orphans = orphaned_checkins(plan, store.checkins())
    render_scorecard(data, fmt, plan.title or "")
    for kr_id, checkins in orphans.items():  # renamed or removed key results: say so
        click.echo(f"warning: {orphans_message(plan, kr_id, checkins)}", err=True)
