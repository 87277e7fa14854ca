"""``okr decompose``: back-solve a funnel from a company target down to stage, channel and
key-result targets; what-ifs with ``--rate`` or ``--measured``, and ``--apply`` to record them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import click

from okrcore.changes import plan_in_force
from okrcore.cli._common import (
    UsageError,
    at_option,
    change_dict,
    changed_at,
    echo_json,
    format_option,
    handle_errors,
    main,
    md_table,
    opened_store,
    plan_argument,
    store_option,
)
from okrcore.funnel import (
    FunnelError,
    FunnelResult,
    apply_funnel,
    derive_funnel,
    rates_from_actuals,
)
from okrcore.model import Funnel, TargetChange
from okrcore.planfile import load_plan
from okrcore.reports._format import num


def parse_rates(pairs: Sequence[str]) -> dict[str, float]:
    """``NAME=VALUE`` pairs; VALUE may be a fraction (0.08) or a percentage (8%)."""
    rates: dict[str, float] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--rate expects NAME=VALUE, got {pair!r}")
        text = text.strip()
        scale = 1.0
        if text.endswith("%"):
            text, scale = text[:-1], 0.01
        try:
            rates[name.strip()] = float(text) * scale
        except ValueError:
            raise UsageError(f"--rate {name.strip()}: expected a number, got {text!r}") from None
    return rates


def _rows(value: Any) -> list[tuple[str, Any]]:
    return [(str(k), v) for k, v in (value or {}).items()]


@main.command()
@plan_argument
@click.option("--funnel", "funnel_id", help="Which funnel (needed when the plan has several).")
@click.option(
    "--rate",
    "rates",
    multiple=True,
    metavar="NAME=VALUE",
    help="What-if: override a stage's value, e.g. --rate leads=0.08 or leads=8%. Repeatable.",
)
@click.option(
    "--measured",
    is_flag=True,
    help="What-if with the rates the stored actuals show (at --at); --rate still wins.",
)
# --at also dates the changes --apply records (default: today)
@click.option(
    "--apply", "apply_", is_flag=True, help="Store the derived targets as target changes."
)
@click.option("--reason", help="Why (required with --apply).")
@click.option("--author", help="Who applies it.")
@store_option
@at_option
@format_option("text", "json", "md")
@handle_errors
def decompose(
    plan_path: str,
    funnel_id: str | None,
    rates: tuple[str, ...],
    measured: bool,
    apply_: bool,
    reason: str | None,
    author: str | None,
    store_url: str,
    at: dt.date | None,
    fmt: str,
) -> None:
    """Back-solve a funnel: from a company target down to stage, channel and key-result targets."""
    if apply_ and not (reason and reason.strip()):
        raise UsageError("--apply needs --reason: target changes keep why they were made")
    plan = load_plan(plan_path)
    if not plan.funnels:
        raise UsageError(f"{plan_path} declares no funnel")
    ids = [f.id for f in plan.funnels]
    if funnel_id is None:
        if len(ids) > 1:
            raise UsageError(
                f"{plan_path} has several funnels; pick one with --funnel ({', '.join(ids)})"
            )
        funnel_id = ids[0]
    if funnel_id not in ids:
        raise UsageError(f"no funnel {funnel_id!r} in {plan_path} (known: {', '.join(ids)})")
    funnel = next(f for f in plan.funnels if f.id == funnel_id)
    overrides: dict[str, float] = {}
    changes: list[TargetChange] = []
    if measured or apply_:
        with opened_store(store_url) as store:
            if measured:
                history = store.checkins()
                overrides.update(rates_from_actuals(plan, funnel_id, history, at=at))
            overrides.update(parse_rates(rates))
            result = _derive(funnel, overrides)
            if apply_:
                current = plan_in_force(plan, store, at=changed_at(at).date())
                _plan, made = apply_funnel(current, funnel_id, overrides, reason=reason)
                when = changed_at(at)
                for change in made:
                    change = attrs.evolve(change, changed_at=when, author=change.author or author)
                    store.add_target_change(change)
                    changes.append(change)
    else:
        overrides.update(parse_rates(rates))
        result = _derive(funnel, overrides)
    data: dict[str, Any] = result.to_dict()
    data["funnel"] = funnel_id
    data["rates"] = overrides
    if apply_:
        data["applied"] = [change_dict(c) for c in changes]
    render_funnel(data, fmt)


def _derive(funnel: Funnel, overrides: Mapping[str, float]) -> FunnelResult:
    try:
        return derive_funnel(funnel, overrides)
    except FunnelError as exc:  # an unknown stage name or an impossible what-if value
        raise UsageError(str(exc)) from None


def render_funnel(data: Mapping[str, Any], fmt: str) -> None:
    """Print a derived funnel (``FunnelResult.to_dict()`` plus ``rates`` and ``applied``)."""
    if fmt == "json":
        echo_json(data)
        return
    units: Mapping[str, str] = data.get("units") or {}
    stages = _rows(data.get("stages"))
    splits = _rows(data.get("splits"))
    targets = _rows(data.get("targets"))
    applied = data.get("applied")
    heading = "## " if fmt == "md" else ""
    lines = [f"{heading}Funnel {data.get('funnel')}"]
    if data.get("rates"):
        lines.append("what-if: " + ", ".join(f"{k}={v:g}" for k, v in data["rates"].items()))
    lines.append("")
    if fmt == "md":
        rows = [[k, num(v, units.get(k, ""))] for k, v in stages]
        lines.append(md_table(["stage", "value"], rows))
        for of, channels in splits:
            rows = [[k, num(v, units.get(of, ""))] for k, v in _rows(channels)]
            lines += ["", f"Split of {of}:", "", md_table(["channel", "value"], rows)]
        if targets:
            rows = [[f"`{k}`", num(v)] for k, v in targets]
            lines += ["", "Key-result targets:", "", md_table(["key result", "target"], rows)]
    else:
        names = [k for k, _ in stages] + [k for _, c in splits for k in c] + [k for k, _ in targets]
        width = max((len(k) for k in names), default=10) + 2
        lines += [f"  {k:<{width}}{num(v, units.get(k, '')):>20}" for k, v in stages]
        for of, channels in splits:
            lines.append(f"split of {of}:")
            lines += [f"  {k:<{width}}{num(v, units.get(of, '')):>20}" for k, v in _rows(channels)]
        if targets:
            lines.append("key-result targets:")
            lines += [f"  {k:<{width}}{num(v):>20}" for k, v in targets]
    if applied is not None:
        lines.append("")
        if applied:
            lines.append(f"Recorded {len(applied)} target change(s):")
            lines += [
                f"  {c['kr_id']}: {c['field']} {num(c['old'])} → {num(c['new'])}" for c in applied
            ]
        else:
            lines.append("Targets already match the funnel; nothing recorded.")
    click.echo("\n".join(lines))
