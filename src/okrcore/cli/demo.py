"""``okr demo``: the offline demo: copy the bundled example plan and history, refresh, score,
lint and report, then print commands worth trying next."""

from __future__ import annotations

import datetime as dt
import importlib.resources
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

import attrs
import click

from okrcore.cli._common import (
    console,
    handle_errors,
    main,
    opened_store,
    parse_date,
)
from okrcore.cli.lint import render_findings, run_checks
from okrcore.cli.score import render_scorecard, scorecard
from okrcore.engine import refresh
from okrcore.errors import OkrError
from okrcore.model import Plan, RunRecord
from okrcore.planfile import load_plan
from okrcore.plugins import default_manager
from okrcore.reports import render, report
from okrcore.reports._format import num
from okrcore.reports._table import wrap, wrap_width
from okrcore.store import Store

DEMO_DATE = dt.date(2026, 11, 20)  # the last day of the bundled history: deterministic output
DEMO_FILES = ("marketing.yaml", "marketing-history.csv")


def copy_demo_files(folder: Path) -> list[tuple[Path, bool]]:
    """Copy the bundled example plan and history into ``folder``; keep files already there."""
    folder.mkdir(parents=True, exist_ok=True)
    bundle = importlib.resources.files("okrcore.demo")
    out = []
    for name in DEMO_FILES:
        target = folder / name
        resource = bundle.joinpath(name)
        if not resource.is_file():
            raise OkrError(
                f"the bundled demo file okrcore/demo/{name} is missing from this install"
            )
        if target.exists():
            out.append((target, False))
            continue
        target.write_bytes(resource.read_bytes())
        out.append((target, True))
    return out


def _run_summary(run: RunRecord) -> str:
    tally: dict[str, int] = {}
    for o in run.outcomes:
        tally[o.status] = tally.get(o.status, 0) + 1
    stored = sum(o.stored for o in run.outcomes)
    revised = sum(o.revised for o in run.outcomes)
    parts = ", ".join(f"{n} {status}" for status, n in sorted(tally.items())) or "nothing to do"
    return f"Refresh as of {run.as_of}: {parts}; {stored} new check-in(s), {revised} revised."


DEMO_CHANNEL = {"plugin": "markdown-file", "path": "team-chat.md", "events": ["achievements"]}
"""Where the demo posts events: a local file standing in for the team chat."""


def with_demo_channel(plan: Plan) -> Plan:
    """The plan with the demo's ``team-chat`` channel for achievements, unless one of its own
    channels already takes events (the demo is offline: no chat to post to)."""
    if any(isinstance(e, Mapping) and e.get("events") for e in plan.notify.values()):
        return plan
    return attrs.evolve(plan, notify={**plan.notify, "team-chat": DEMO_CHANNEL})


def _print_events(store: Store, plan: Plan, where: Path) -> None:
    """The events the plan's channels were sent (by this run or an earlier demo run)."""
    deliveries = store.event_deliveries()
    if not deliveries:
        return
    width = wrap_width()  # at the terminal's width, like okr refresh's lines
    click.echo("Events sent after the refresh (each once: running the demo again sends none):")
    for d in deliveries:
        label = str(d.event.get("summary") or d.key)
        kind = d.kind.replace("_", " ")
        click.echo(wrap(f"  {d.at} {kind} -> {d.destination}: {label}", width, indent=4))
    took = {d.destination for d in deliveries}  # not the reminders' file channel, say
    files = sorted({
        str(entry["path"])
        for name, entry in plan.notify.items()
        if name in took and isinstance(entry, Mapping) and entry.get("plugin") == "markdown-file"
        and entry.get("path")
    })
    for name in files:
        click.echo(wrap(f"  (the file channel wrote them to {where / name})", width, indent=4))


def next_commands(plan: Plan, plan_arg: str, store_arg: str, at: dt.date) -> list[str]:
    """Commands worth trying on the demo's files, with ids and values from its plan."""
    krs = list(plan.key_results())
    opts = f"--store {store_arg}"
    out = [f"okr score {plan_arg} {opts} --at {at} --format md"]
    fetched = next((kr for kr in krs if kr.source is not None), None)
    manual = next((kr for kr in krs if kr.source is None), None)
    growing = next((kr for kr in krs if kr.kind.value == "increase" and kr.target), None)
    if fetched is not None:
        out.append(f"okr history {plan_arg} {shlex.quote(fetched.id)} {opts}")
    if manual is not None:
        out.append(f"okr checkin {plan_arg} {shlex.quote(manual.id)} 1 {opts} --at {at}")
    if growing is not None and growing.target is not None:
        value = num(growing.target * 1.1).replace(",", "")
        out.append(
            f"okr retarget {plan_arg} {shlex.quote(growing.id)} {value} "
            f"--reason 'new channel' {opts} --at {at}"
        )
    for funnel in plan.funnels:
        rate = next((step for step in funnel.steps if step.op == "rate"), None)
        if rate is not None:
            what_if = f"{rate.name}={rate.value * 80:g}%"
            out.append(f"okr decompose {plan_arg} --funnel {funnel.id} --rate {what_if}")
            break
    out.append(f"okr report {plan_arg} {opts} --at {at} --kind weekly")
    offline = all(isinstance(e, Mapping) and e.get("plugin") == "markdown-file"
                  for e in plan.notify.values())
    if plan.reminders and offline:  # the bundled plan reminds owners through a local file
        out.append(f"okr remind {plan_arg} {opts} --at {at}")
    out.append(f"okr lint {plan_arg}")
    return out


@main.command()
@click.option(
    "--dir",
    "folder",
    default="okr-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Working folder for the demo's plan, history and store.",
)
@click.option(
    "--at",
    "at",
    callback=parse_date,
    help=f"Date to evaluate at (default: {DEMO_DATE}, the last day of the bundled history).",
)
@handle_errors
def demo(folder: str, at: dt.date | None) -> None:
    """Run the offline demo: copy an example plan and its history, refresh, score, report."""
    at = at or DEMO_DATE
    where = Path(folder).resolve()
    shown = Path(folder)  # paths as the user gave them, for the messages and next commands
    files = copy_demo_files(where)
    for path, copied in files:
        click.echo(f"{'Copied' if copied else 'Kept existing'} {shown / path.name}")
    plan_path = str(where / DEMO_FILES[0])
    plan = with_demo_channel(load_plan(plan_path))
    store_url = f"sqlite:///{where / 'okrcore.db'}"
    out = console()
    with opened_store(store_url, create=True) as store:
        run: RunRecord = refresh(plan, store, at=at).run
        click.echo(wrap(_run_summary(run), wrap_width()))
        failed = [o for o in run.outcomes if o.status == "failed"]
        for o in failed:
            click.echo(f"  {o.kr_id}: failed: {o.error}", err=True)
        _print_events(store, plan, shown)
        click.echo("")
        render_scorecard(scorecard(plan, store, at), "text", plan.title or "")
        click.echo("")
        out.rule("Quality findings")
        render_findings(run_checks(plan, store_url, at), str(shown / DEMO_FILES[0]), "text")
        click.echo("")
        out.rule("Daily report")
        daily = report(plan, store, kind="daily", at=at, manager=default_manager())
        click.echo(render(daily, "text", color=out.is_terminal, width=out.width))
    click.echo("")
    click.echo(f"Demo files are in {where}:")
    click.echo(f"  plan     {shown / DEMO_FILES[0]}   (edit it and run okr demo again)")
    click.echo(f"  history  {shown / DEMO_FILES[1]}   (read by the plan's file source)")
    click.echo(f"  store    {shown / 'okrcore.db'}")
    click.echo("Next, try:")
    plan_arg = shlex.quote(str(shown / DEMO_FILES[0]))
    store_arg = shlex.quote(f"sqlite:///{shown / 'okrcore.db'}")
    for command in next_commands(plan, plan_arg, store_arg, at):
        click.echo(f"  {command}")
    if failed:  # the demo is offline: a failed refresh is a real failure
        sys.exit(1)
