"""``okr strategy``: record a change of a strategy (its budget, status or title) with its reason,
as target changes are recorded; reports list it and ``okr lint --store`` checks the key results a
budget cut leaves with their old targets."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from okrcore.changes import plan_in_force
from okrcore.cli._common import (
    UsageError,
    changed_at,
    echo_json,
    format_option,
    handle_errors,
    main,
    opened_store,
    parse_date,
    plan_argument,
    store_option,
)
from okrcore.model import Plan, Strategy, StrategyChange
from okrcore.planfile import load_plan
from okrcore.reports._format import num


def find_strategy(plan: Plan, strategy_id: str) -> Strategy:
    """The strategy with this id, or a usage error naming the plan's strategies."""
    ids = [st.id for o in plan.objectives for st in o.strategies]
    for o in plan.objectives:
        for st in o.strategies:
            if st.id == strategy_id:
                return st
    raise UsageError(
        f"unknown strategy {strategy_id!r}; strategies in the plan: {', '.join(ids) or 'none'}"
    )


@main.command("strategy")
@plan_argument
@click.argument("strategy_id", metavar="STRATEGY")
@click.option("--budget", type=float, help="The new budget.")
@click.option("--status", help="The new status (active, paused, stopped...).")
@click.option("--title", help="The new title.")
@click.option("--reason", required=True, help="Why it changes (kept in the history).")
@click.option("--author", help="Who changes it.")
@click.option(
    "--at",
    "at",
    callback=parse_date,
    help="The day the change takes effect (default: today).",
)
@store_option
@format_option("text", "json")
@handle_errors
def strategy_command(
    plan_path: str,
    strategy_id: str,
    budget: float | None,
    status: str | None,
    title: str | None,
    reason: str,
    author: str | None,
    at: dt.date | None,
    store_url: str,
    fmt: str,
) -> None:
    """Record a change of STRATEGY's budget, status or title, with its reason."""
    if not reason.strip():
        raise UsageError("--reason must say why the strategy changes")
    new_values: dict[str, Any] = {
        k: v for k, v in (("budget", budget), ("status", status), ("title", title)) if v is not None
    }
    if not new_values:
        raise UsageError("say what changes: --budget, --status or --title")
    if budget is not None and not budget >= 0:
        raise UsageError(f"--budget must be a number >= 0, got {budget:g}")
    plan = load_plan(plan_path)
    find_strategy(plan, strategy_id)
    when = changed_at(at)
    recorded: list[StrategyChange] = []
    with opened_store(store_url) as store:
        current = find_strategy(plan_in_force(plan, store, at=when.date()), strategy_id)
        for field, new in new_values.items():
            old = getattr(current, field)
            if old != new:
                change = StrategyChange(
                    strategy_id, field, old, new, reason, changed_at=when, author=author
                )
                store.add_strategy_change(change)
                recorded.append(change)
    if fmt == "json":
        echo_json(
            {
                "changes": [
                    {"strategy_id": c.strategy_id, "field": c.field, "old": c.old, "new": c.new,
                     "reason": c.reason, "changed_at": c.changed_at.isoformat(),
                     "author": c.author}
                    for c in recorded
                ]
            }
        )
        return
    if not recorded:
        click.echo(f"{strategy_id}: nothing changes; nothing recorded.")
    for c in recorded:
        shown = (num(c.old), num(c.new)) if c.field == "budget" else (c.old, c.new)
        click.echo(f"{strategy_id}: {c.field} {shown[0]} → {shown[1]}. Reason: {c.reason}")
    if any(c.field == "budget" and c.new < (c.old or 0) for c in recorded):
        click.echo(
            f"Check the key results it works for: okr lint {plan_path} --store {store_url}"
        )
