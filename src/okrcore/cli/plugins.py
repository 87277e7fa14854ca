"""``okr plugins``: the installed plugins, with the hooks each implements, and the broken ones.

A plugin that is installed but cannot be imported (a missing dependency, a typo in a hook name)
is listed as broken with its error, and the exit code is 1, so a cron job's check notices it.
"""

from __future__ import annotations

import sys

import click

from okrcore.cli._common import (
    EXIT_FAILED,
    UsageError,
    echo_error,
    echo_json,
    format_option,
    handle_errors,
    main,
)
from okrcore.errors import OkrError
from okrcore.plugins import default_manager


@main.command("plugins")
@click.option("--all", "show_all", is_flag=True, help="Include the built-in default plugins.")
@format_option("text", "json")
@handle_errors
def plugins_command(show_all: bool, fmt: str) -> None:
    """List installed plugins: distribution, version, hooks; and those that are broken.

    Exit 1 when any installed plugin failed to load.
    """
    manager = default_manager()
    try:
        infos = manager.plugins(all=show_all)
        failures = manager.all_failures
    except OkrError as exc:
        raise UsageError(str(exc)) from None
    if fmt == "json":
        echo_json(
            {"plugins": [p.to_dict() for p in infos], "failures": [f.to_dict() for f in failures]}
        )
    else:
        if not infos and not failures:
            hint = "" if show_all else " (--all shows the built-ins)"
            click.echo(f"No plugins installed.{hint}")
        for p in infos:
            dist = (
                f"{p.distribution} {p.version}"
                if p.distribution
                else ("built-in" if p.builtin else "module")
            )
            click.echo(f"{p.name} ({dist})")
            click.echo(f"  hooks: {', '.join(p.hooks) or 'none'}")
        for f in failures:
            dist = f"{f.distribution} {f.version}" if f.distribution else "module"
            click.echo(f"{f.name} ({dist}): BROKEN")
            click.echo(f"  error: {f.error}")
    if failures:
        names = ", ".join(f.name for f in failures)
        echo_error(f"Error: {len(failures)} plugin(s) failed to load: {names}")
        sys.exit(EXIT_FAILED)
