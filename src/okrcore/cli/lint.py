"""``okr lint``: the plan's SMART and OKR hygiene findings, and with ``--online`` the source
queries checked against the live services."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence

import click

from okrcore.checks import Finding, Severity, check
from okrcore.cli._common import (
    at_option,
    echo_json,
    format_option,
    handle_errors,
    main,
    md_table,
    opened_store,
    plan_argument,
)
from okrcore.model import CheckIn, Plan, StrategyChange, TargetChange
from okrcore.planfile import load_plan
from okrcore.plugins import default_manager, load_plugin_modules
from okrcore.sources import Scrubber, Source

SEVERITY_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}


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
        scrub = Scrubber.for_connection(conn)  # a service may echo the credential in its error
        try:
            source = manager.sources.get(conn.plugin)(conn)
        except Exception as exc:  # unknown plugin, bad settings: report, check the others
            findings.append(
                Finding(
                    "ONLINE-001", Severity.ERROR, scrub(f"connection {name!r}: {exc}"), where, line,
                    column,
                )
            )
            continue
        if type(source).check_online is Source.check_online:  # the plugin has none
            source.close()
            message = (
                f"connection {name!r}: plugin {conn.plugin!r} has no online check; "
                f"{len(queries)} quer{'y was' if len(queries) == 1 else 'ies were'} "
                "checked offline only"
            )
            findings.append(Finding("ONLINE-000", Severity.INFO, message, where, line, column))
            continue
        try:
            problems = source.check_online(queries)
        except Exception as exc:  # a network or auth error is a finding, not a crash
            message = f"connection {name!r}: cannot check online: {type(exc).__name__}: {exc}"
            message = scrub(message)
            findings.append(Finding("ONLINE-001", Severity.ERROR, message, where, line, column))
            continue
        finally:
            source.close()
        for kr_id, problem in problems:
            kr_where = f"{plan.kr_path(kr_id)}.source" if plan.has_key_result(kr_id) else where
            if problem.field:
                kr_where += f".{problem.field}"
            kr_line, kr_column = plan.locate(kr_where) or (None, None)
            message = scrub(f"key result {kr_id!r}, connection {name!r}: {problem.message}")
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
    strategy_changes: list[StrategyChange] = []
    target_changes: list[TargetChange] = []
    if store_url is not None:
        with opened_store(store_url) as store:
            history = store.checkins()
            strategy_changes = store.strategy_changes()
            target_changes = store.target_changes()
    findings: list[Finding] = check(
        plan,
        history,
        at=at,
        manager=manager,
        strategy_changes=strategy_changes,
        target_changes=target_changes,
    )
    return findings


@main.command()
@plan_argument
@click.option("--online", is_flag=True, help="Also check source queries against live services.")
@click.option(
    "--store",
    "store_url",
    default=None,
    help="Store whose check-ins and recorded changes feed the achievability and budget-cut "
    "checks (default: none).",
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
