"""``okr score``: the scorecard of a plan on the stored check-ins (text, Markdown, JSON; the JSON
shape is documented in docs/cli.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import click

from okrcore.cli._common import (
    STATUS_ICON,
    STATUS_STYLE,
    at_option,
    changes_until,
    console,
    echo_json,
    fixed,
    format_option,
    handle_errors,
    main,
    md_table,
    num,
    opened_store,
    pct,
    plan_argument,
    status_text,
    store_option,
)
from okrcore.model import Plan
from okrcore.planfile import load_plan
from okrcore.plugins import default_manager, load_plugin_modules
from okrcore.scoring import score as score_plan
from okrcore.store import Store


def scorecard(plan: Plan, store: Store, at: dt.date) -> dict[str, Any]:
    """Score the plan's current targets on the stored check-ins; the documented JSON shape.

    Target changes recorded up to ``at`` apply (a past date shows the targets of that day). Every
    key result carries ``target`` (current) and ``original_target`` (from the plan file) so that
    reports show what was recalibrated.
    """
    current = plan.with_target_changes(changes_until(store, at))
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
    return data


def _target_cell(entry: Mapping[str, Any]) -> str:
    unit = entry.get("unit") or ""
    target, original = entry.get("target"), entry.get("original_target")
    if original is not None and target is not None and original != target:
        return f"{num(original, unit)} → {num(target, unit)}"
    return num(target, unit)


# The scorecard's key-result columns, with their alignment on the terminal.
KR_COLUMNS = (
    ("key result", "left"),
    ("actual", "right"),
    ("target", "right"),
    ("progress", "right"),
    ("score", "right"),
    ("pace", "right"),
    ("status", "left"),
    ("forecast", "right"),
    ("why", "left"),
)


def _kr_cells(e: Mapping[str, Any], key: str, light: str) -> list[str]:
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
        str(e.get("reason") or ""),
    ]


def render_scorecard(data: Mapping[str, Any], fmt: str, title: str = "") -> None:
    """Print a scorecard dict as rich tables, Markdown or JSON."""
    if fmt == "json":
        echo_json(data)
        return
    krs = data.get("key_results", [])
    objectives = data.get("objectives", [])
    goals = data.get("goals", [])
    as_of = data.get("as_of")
    if fmt == "md":
        head = f"## Scorecard{' — ' + title if title else ''} (as of {as_of})"
        rows = []
        for e in krs:
            status = status_text(e.get("status"))
            stale = " (stale)" if e.get("stale") else ""
            light = f"{STATUS_ICON.get(status, '⚪')} {status}{stale}"
            rows.append(_kr_cells(e, f"`{e.get('id')}`", light))
        parts = [head, "", md_table([name for name, _ in KR_COLUMNS], rows)]
        for heading, nodes in (("Objectives", objectives), ("Goals", goals)):
            if not nodes:
                continue
            rows = [
                [
                    f"`{n.get('id')}`",
                    str(n.get("title") or ""),
                    fixed(n.get("score")),
                    pct(n.get("expected")),
                    f"{STATUS_ICON.get(status_text(n.get('status')), '⚪')} "
                    f"{status_text(n.get('status'))}",
                ]
                for n in nodes
            ]
            headers = [heading[:-1].lower(), "title", "score", "pace", "status"]
            parts += ["", f"### {heading}", "", md_table(headers, rows)]
        click.echo("\n".join(parts))
        return

    from rich.table import Table

    out = console()
    table = Table(title=f"Scorecard{' — ' + title if title else ''} · as of {as_of}")
    for name, justify in KR_COLUMNS:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for e in krs:
        status = status_text(e.get("status"))
        style = STATUS_STYLE.get(status, "bright_black")
        stale = " (stale)" if e.get("stale") else ""
        table.add_row(*_kr_cells(e, str(e.get("id")), f"[{style}]● {status}{stale}[/]"))
    out.print(table)
    if objectives or goals:
        roll = Table(title="Rollup")
        for name, justify in (
            ("objective / goal", "left"),
            ("title", "left"),
            ("score", "right"),
            ("pace", "right"),
            ("status", "left"),
        ):
            roll.add_column(name, justify=justify)  # type: ignore[arg-type]
        for node, label in [(o, str(o.get("id"))) for o in objectives] + [
            (g, f"goal {g.get('id')}") for g in goals
        ]:
            status = status_text(node.get("status"))
            style = STATUS_STYLE.get(status, "bright_black")
            roll.add_row(
                label,
                str(node.get("title") or ""),
                fixed(node.get("score")),
                pct(node.get("expected")),
                f"[{style}]● {status}[/]" if node.get("status") is not None else "",
            )
        out.print(roll)


@main.command()
@plan_argument
@store_option
@at_option
@format_option("text", "json", "md")
@handle_errors
def score(plan_path: str, store_url: str, at: dt.date | None, fmt: str) -> None:
    """Score PLAN's key results, objectives and goals on the stored check-ins."""
    plan = load_plan(plan_path)
    with opened_store(store_url) as store:
        data = scorecard(plan, store, at or dt.date.today())
    render_scorecard(data, fmt, plan.title or "")

