"""``okr retarget``: change a key result's target (or floor, stretch, baseline), keeping the old
value and the reason in the store; ``--move`` moves part of one target to another as two linked
changes."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import attrs
import click

from okrcore.changes import move_target, plan_in_force
from okrcore.cli._common import (
    VALUE_ARGS,
    UsageError,
    change_dict,
    changed_at,
    echo_json,
    format_option,
    handle_errors,
    key_result,
    main,
    opened_store,
    parse_date,
    plan_argument,
    store_option,
    target_values,
)
from okrcore.errors import ValidationError
from okrcore.model import Plan, TargetChange
from okrcore.planfile import load_plan, parse_relative
from okrcore.reports._format import num

TARGET_FIELDS = ("target", "floor", "stretch", "baseline")

def parse_target(text: str, baseline: float | None) -> float:
    """A number, or ``+20%`` / ``-10%`` of the baseline."""
    relative = parse_relative(text)
    if relative is not None:
        if baseline is None:
            raise UsageError(f"{text!r} is relative to the baseline, and this key result has none")
        return relative.resolve(baseline)
    try:
        value = float(text)
    except ValueError:
        raise UsageError(
            f"VALUE must be a number or a change relative to the baseline (+20%, -10%), "
            f"got {text!r}"
        ) from None
    if not math.isfinite(value):
        raise UsageError(f"VALUE must be a finite number, got {text!r}")
    return value


@main.command(context_settings=VALUE_ARGS)
@plan_argument
@click.argument("kr_id", metavar="KR", required=False)
@click.argument("value", required=False)
@click.option("--reason", required=True, help="Why the target changes (kept in the history).")
@click.option(
    "--move",
    "amount",
    type=float,
    help="Move this amount of --field from --from to --to (instead of KR VALUE); totals are kept.",
)
@click.option("--from", "source", metavar="KR", help="With --move: the key result that gives.")
@click.option("--to", "destination", metavar="KR", help="With --move: the key result that gets.")
@click.option(
    "--field",
    type=click.Choice(TARGET_FIELDS),
    default="target",
    show_default=True,
    help="Which value to change.",
)
@click.option("--author", help="Who changes it.")
@click.option(
    "--at",
    "at",
    callback=parse_date,
    help="The day the change takes effect (default: today); scores before it keep the old value.",
)
@store_option
@format_option("text", "json")
@handle_errors
def retarget(
    plan_path: str,
    kr_id: str | None,
    value: str | None,
    reason: str,
    amount: float | None,
    source: str | None,
    destination: str | None,
    field: str,
    author: str | None,
    at: dt.date | None,
    store_url: str,
    fmt: str,
) -> None:
    """Change KR's target (or --field) to VALUE, keeping the old value and the reason.

    VALUE is a number or relative to the baseline: "+20%" is baseline x 1.2. Or move part of one
    target to another: --move 200 --from leads --to sem-leads records two linked changes with
    one reason, and the two targets' total stays the same.
    """
    if not reason.strip():
        raise UsageError("--reason must say why the target changes")
    moving = amount is not None or source is not None or destination is not None
    if moving:
        if kr_id is not None or value is not None:
            raise UsageError("give either KR VALUE or --move AMOUNT --from KR --to KR, not both")
        if amount is None or source is None or destination is None:
            raise UsageError("--move needs an AMOUNT, --from KR and --to KR")
        _move(plan_path, amount, source, destination, reason, field, author, at, store_url, fmt)
        return
    if kr_id is None or value is None:
        raise UsageError("give KR VALUE (or --move AMOUNT --from KR --to KR)")
    plan = load_plan(plan_path)
    original = key_result(plan, kr_id)
    when = changed_at(at)
    with opened_store(store_url) as store:
        current = plan_in_force(plan, store, at=when.date()).key_result(original.id)
        new = parse_target(value, current.effective_baseline)
        old = target_values(current)[field]
        try:
            changed: dict[str, Any] = {field: new}
            attrs.evolve(current, **changed)
        except ValueError as exc:
            raise UsageError(
                f"cannot set {field} of {original.id!r} to {num(new)}: {exc}"
            ) from None
        change = None
        if old != new:
            change = TargetChange(
                original.id, field, old, new, reason, changed_at=when, author=author
            )
            store.add_target_change(change)
    unit = original.unit
    first = target_values(original)[field]
    if fmt == "json":
        echo_json(
            {
                "changed": change is not None,
                "change": None if change is None else change_dict(change),
                "original": first,
                "current": new,
            }
        )
        return
    if change is None:
        click.echo(f"{original.id}: {field} is already {num(new, unit)}; nothing recorded.")
        return
    was = f" (original {num(first, unit)})" if first != old else ""
    click.echo(f"{original.id}: {field} {num(old, unit)} → {num(new, unit)}{was}. Reason: {reason}")


def _move(
    plan_path: str,
    amount: float,
    source: str,
    destination: str,
    reason: str,
    field: str,
    author: str | None,
    at: dt.date | None,
    store_url: str,
    fmt: str,
) -> None:
    """``okr retarget --move``: two linked changes recorded together, or nothing."""
    plan: Plan = load_plan(plan_path)
    giver, taker = key_result(plan, source), key_result(plan, destination)
    when = changed_at(at)
    with opened_store(store_url) as store:
        current = plan_in_force(plan, store, at=when.date())
        try:
            changes = move_target(
                current,
                amount,
                giver.id,
                taker.id,
                reason,
                field=field,
                changed_at=when,
                author=author,
            )
        except ValidationError as exc:
            raise UsageError(f"cannot move {num(amount)} of {field}: {exc}") from None
        store.add_target_changes(changes)
    out, into = changes
    total = (out.old or 0.0) + (into.old or 0.0)  # move_target refuses missing values
    if fmt == "json":
        echo_json(
            {
                "changed": True,
                "link": out.link,
                "amount": amount,
                "total": total,
                "changes": [change_dict(c) for c in changes],
            }
        )
        return
    unit = giver.unit
    click.echo(
        f"Moved {num(amount, unit)} of {field} from {out.kr_id} ({num(out.old)} → {num(out.new)}) "
        f"to {into.kr_id} ({num(into.old)} → {num(into.new)}); together still "
        f"{num(total, unit)}. Reason: {reason}"
    )
    click.echo(f"Linked as {out.link} in `okr history` of both.")
