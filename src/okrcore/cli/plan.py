"""Plan commands: ``okr lint``, ``score``, ``checkin``, ``history``, ``retarget``, ``decompose``
and ``demo``.

Each command loads the plan, does its work through the library's public functions, and renders the
result as text (rich tables, coloured status), Markdown or JSON. The JSON shapes are documented in
docs/cli.md and kept stable.
"""

from __future__ import annotations

import datetime as dt
import difflib
import importlib
import importlib.resources
import math
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import click

from okrcore.checks import Finding, Severity, check
from okrcore.cli import (
    UsageError,
    at_option,
    echo_json,
    format_option,
    handle_errors,
    main,
    opened_store,
    parse_date,
    plan_argument,
    store_option,
)
from okrcore.engine import refresh
from okrcore.errors import OkrError
from okrcore.funnel import (
    FunnelError,
    FunnelResult,
    apply_funnel,
    derive_funnel,
    rates_from_actuals,
)
from okrcore.model import CheckIn, Funnel, KeyResult, Plan, RunRecord, TargetChange
from okrcore.planfile import load_plan
from okrcore.plugins import default_manager, load_plugin_modules
from okrcore.reports import render, report
from okrcore.scoring import score as score_plan
from okrcore.store import Store

DEMO_DATE = dt.date(2026, 11, 20)  # the last day of the bundled history: deterministic output
DEMO_FILES = ("marketing.yaml", "marketing-history.csv")
TARGET_FIELDS = ("target", "floor", "stretch", "baseline")
STATUS_STYLE = {"green": "green", "yellow": "yellow", "red": "red"}
STATUS_ICON = {"green": "🟢", "yellow": "🟡", "red": "🔴"}
SEVERITY_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}
_RELATIVE = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d+)?)\s*%\s*$")

# Negative numbers and "-10%" are values here, not options.
VALUE_ARGS = {"ignore_unknown_options": True}


# -- helpers ---------------------------------------------------------------------------------
def key_result(plan: Plan, kr_id: str) -> KeyResult:
    """The key result, or exit 2 naming the closest known ids."""
    if plan.has_key_result(kr_id):
        return plan.key_result(kr_id)
    ids = [kr.id for kr in plan.key_results()]
    close = difflib.get_close_matches(kr_id, ids, n=3, cutoff=0.5)
    if close:
        hint = "did you mean " + " or ".join(repr(i) for i in close) + "?"
    else:
        hint = "known: " + (", ".join(ids[:10]) + (", ..." if len(ids) > 10 else "") or "none")
    raise UsageError(f"no key result {kr_id!r} in {plan.source_path or 'the plan'}; {hint}")


def num(value: Any, unit: str = "") -> str:
    """A number for people: thousands separators, 4 significant digits below 1,000, the unit."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value == int(value):
        text = f"{int(value):,}"
    elif abs(value) >= 1000:
        text = f"{value:,.0f}"
    else:
        text = f"{value:.4g}"
    if not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def pct(value: Any) -> str:
    """A fraction as a percentage (progress and pace)."""
    if value is None or not isinstance(value, (int, float)):
        return "-"
    return f"{value * 100:.0f}%"


def fixed(value: Any) -> str:
    """A score: two decimals."""
    if value is None or not isinstance(value, (int, float)):
        return "-"
    return f"{value:.2f}"


def status_text(status: Any) -> str:
    return "-" if status is None else str(getattr(status, "value", status))


def console() -> Any:
    """A rich console on the current stdout; wide when not a terminal (pipes, tests)."""
    from rich.console import Console

    out = Console(file=sys.stdout, highlight=False)
    if not out.is_terminal:
        out = Console(file=sys.stdout, highlight=False, width=160)
    return out


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (pipes in cells escaped)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
        *("| " + " | ".join(cell(c) for c in row) + " |" for row in rows),
    ]
    return "\n".join(lines)


# -- lint -----------------------------------------------------------------------------------
def online_findings(plan: Plan) -> list[Finding]:
    """Ask each connection's source to check its queries against the live service."""
    manager = default_manager()
    findings: list[Finding] = []
    for name, conn in plan.connections.items():
        queries = [
            (kr, {k: v for k, v in kr.source.items() if k != "connection"})
            for kr in plan.key_results()
            if kr.source is not None and kr.source.get("connection") == name
        ]
        if not queries:
            continue
        where = f"connections.{name}"
        line, column = plan.locate(where) or (None, None)
        try:
            source = manager.sources.get(conn.plugin)(conn)
        except Exception as exc:  # unknown plugin, bad settings: report, check the others
            findings.append(
                Finding(
                    "ONLINE-001", Severity.ERROR, f"connection {name!r}: {exc}", where, line, column
                )
            )
            continue
        try:
            problems = source.check_online(queries)
        except Exception as exc:  # a network or auth error is a finding, not a crash
            message = f"connection {name!r}: cannot check online: {type(exc).__name__}: {exc}"
            findings.append(Finding("ONLINE-001", Severity.ERROR, message, where, line, column))
            continue
        finally:
            source.close()
        for kr_id, problem in problems:
            kr_where = f"{plan.kr_path(kr_id)}.source" if plan.has_key_result(kr_id) else where
            if problem.field:
                kr_where += f".{problem.field}"
            kr_line, kr_column = plan.locate(kr_where) or (None, None)
            message = f"key result {kr_id!r}, connection {name!r}: {problem.message}"
            findings.append(
                Finding("ONLINE-002", Severity.ERROR, message, kr_where, kr_line, kr_column)
            )
    return findings


def finding_location(finding: Finding, file: str) -> str:
    where = file
    if finding.line is not None:
        where += f":{finding.line}"
        if finding.column is not None:
            where += f":{finding.column}"
    return where


def counts(findings: Sequence[Finding]) -> dict[str, int]:
    return {s.value: sum(1 for f in findings if f.severity is s) for s in Severity}


def render_findings(findings: Sequence[Finding], file: str, fmt: str) -> None:
    """Print findings as ``file:line:col: severity CODE message [where]``, Markdown or JSON."""
    tally = counts(findings)
    if fmt == "json":
        echo_json({"plan": file, "findings": [f.to_dict() for f in findings], "counts": tally})
        return
    if fmt == "md":
        rows = [
            [f.severity.value, f"`{f.code}`", f.message, finding_location(f, file), f.where]
            for f in findings
        ]
        click.echo(md_table(["severity", "code", "message", "location", "where"], rows))
    else:
        for f in findings:
            severity = click.style(f.severity.value, fg=SEVERITY_STYLE[f.severity.value])
            where = f" [{f.where}]" if f.where else ""
            click.echo(f"{finding_location(f, file)}: {severity} {f.code} {f.message}{where}")
    summary = ", ".join(
        f"{n} {name}{'s' if n != 1 and name != 'info' else ''}" for name, n in tally.items()
    )
    click.echo(("\n" if fmt == "md" else "") + (summary if findings else "No findings."))


def run_checks(plan: Plan, store_url: str | None, at: dt.date | None) -> list[Finding]:
    manager = default_manager()
    load_plugin_modules(manager, plan.plugins)
    history: list[CheckIn] | None = None
    if store_url is not None:
        with opened_store(store_url) as store:
            history = store.checkins()
    findings: list[Finding] = check(plan, history, at=at, manager=manager)
    return findings


@main.command()
@plan_argument
@click.option("--online", is_flag=True, help="Also check source queries against live services.")
@click.option(
    "--store",
    "store_url",
    default=None,
    help="Check-in store whose history feeds the achievability checks (default: none).",
)
@at_option
@format_option("text", "json", "md")
@handle_errors
def lint(plan_path: str, online: bool, store_url: str | None, at: dt.date | None, fmt: str) -> None:
    """Check PLAN for SMART and OKR hygiene problems.

    Exit 1 when any finding is an error, 2 when the plan cannot be loaded.
    """
    plan = load_plan(plan_path)
    findings = run_checks(plan, store_url, at)
    if online:
        findings.extend(online_findings(plan))
    render_findings(findings, plan_path, fmt)
    if any(f.severity is Severity.ERROR for f in findings):
        sys.exit(1)


# -- score ----------------------------------------------------------------------------------
def changes_until(store: Store, at: dt.date, kr_id: str | None = None) -> list[TargetChange]:
    """The target changes made on or before ``at`` (UTC day), as the reports apply them."""
    return [c for c in store.target_changes(kr_id) if c.changed_at.date() <= at]


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


# -- check-ins ------------------------------------------------------------------------------
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


def checkin_dict(c: CheckIn) -> dict[str, Any]:
    return {
        "kr_id": c.kr_id,
        "value": c.value,
        "as_of": c.as_of,
        "source": c.source,
        "recorded_at": c.recorded_at,
        "author": c.author,
        "note": c.note,
        "confidence": c.confidence,
    }


def change_dict(c: TargetChange) -> dict[str, Any]:
    return {
        "kr_id": c.kr_id,
        "field": c.field,
        "old": c.old,
        "new": c.new,
        "reason": c.reason,
        "changed_at": c.changed_at,
        "author": c.author,
    }


def _values(kr: KeyResult) -> dict[str, float | None]:
    return {
        "baseline": kr.effective_baseline,
        "target": kr.effective_target,
        "floor": kr.floor,
        "stretch": kr.stretch,
    }


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
                "original": _values(kr),
                "current": _values(current),
                "checkins": [checkin_dict(c) for c in entries],
                "target_changes": [change_dict(c) for c in changes],
            }
        )
        return
    unit = kr.unit
    targets = ", ".join(
        f"{name} {num(value, unit)}"
        + (f" (was {num(_values(kr)[name], unit)})" if _values(kr)[name] != value else "")
        for name, value in _values(current).items()
        if value is not None or _values(kr)[name] is not None
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


# -- targets --------------------------------------------------------------------------------
def parse_target(text: str, baseline: float | None) -> float:
    """A number, or ``+20%`` / ``-10%`` of the baseline."""
    match = _RELATIVE.match(text)
    if match:
        if baseline is None:
            raise UsageError(f"{text!r} is relative to the baseline, and this key result has none")
        sign = 1.0 if match.group(1) == "+" else -1.0
        return baseline * (1.0 + sign * float(match.group(2)) / 100.0)
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
@click.argument("kr_id", metavar="KR")
@click.argument("value")
@click.option("--reason", required=True, help="Why the target changes (kept in the history).")
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
    kr_id: str,
    value: str,
    reason: str,
    field: str,
    author: str | None,
    at: dt.date | None,
    store_url: str,
    fmt: str,
) -> None:
    """Change KR's target (or --field) to VALUE, keeping the old value and the reason.

    VALUE is a number or relative to the baseline: "+20%" is baseline x 1.2.
    """
    if not reason.strip():
        raise UsageError("--reason must say why the target changes")
    plan = load_plan(plan_path)
    original = key_result(plan, kr_id)
    when = changed_at(at)
    with opened_store(store_url) as store:
        in_force = changes_until(store, when.date(), original.id)
        current = plan.with_target_changes(in_force).key_result(original.id)
        new = parse_target(value, current.effective_baseline)
        old = _values(current)[field]
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
    first = _values(original)[field]
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


def changed_at(at: dt.date | None) -> dt.datetime:
    """Now, or the same time of day on the day ``--at`` names (keeps same-day changes ordered)."""
    now = dt.datetime.now(dt.timezone.utc)
    return now if at is None else dt.datetime.combine(at, now.timetz())


# -- funnel ---------------------------------------------------------------------------------
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
                current = plan.with_target_changes(changes_until(store, changed_at(at).date()))
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


# -- demo -----------------------------------------------------------------------------------
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
    parts = ", ".join(f"{n} {status}" for status, n in sorted(tally.items())) or "nothing to do"
    return f"Refresh as of {run.as_of}: {parts}; {stored} new check-in(s) stored."


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
    if "report" in main.commands:
        out.append(f"okr report {plan_arg} {opts} --at {at} --kind weekly")
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
    plan = load_plan(plan_path)
    store_url = f"sqlite:///{where / 'okrcore.db'}"
    out = console()
    with opened_store(store_url) as store:
        run: RunRecord = refresh(plan, store, at=at).run
        click.echo(_run_summary(run))
        failed = [o for o in run.outcomes if o.status == "failed"]
        for o in failed:
            click.echo(f"  {o.kr_id}: failed: {o.error}", err=True)
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
