"""``okr init``: write a commented, lint-clean plan to start from, from a template."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from okrcore.cli._common import UsageError, echo_json, format_option, handle_errors, main
from okrcore.errors import PluginError
from okrcore.plugins import default_manager
from okrcore.reports._table import wrap, wrap_width
from okrcore.templates import Template, quarter_of, render

_QUARTER = "YYYY-QN"


def _parse_quarter(_ctx: object, _param: object, value: str | None) -> dt.date | None:
    """``--quarter 2027-Q1``: the quarter's first day."""
    if value is None:
        return None
    year, sep, number = value.upper().partition("-Q")
    if not (sep and year.isdigit() and len(year) == 4 and number in ("1", "2", "3", "4")):
        raise click.BadParameter(f"expected a quarter as {_QUARTER} (2027-Q1), got {value!r}")
    return dt.date(int(year), 3 * int(number) - 2, 1)


@main.command("init")
@click.argument("path", required=False, default="plan.yaml", type=click.Path(dir_okay=False))
@click.option(
    "--template",
    "-t",
    "name",
    default="marketing",
    show_default=True,
    help="Template to start from (okr init --list shows them).",
)
@click.option("--list", "list_only", is_flag=True, help="List the templates and exit.")
@click.option(
    "--quarter",
    callback=_parse_quarter,
    metavar=_QUARTER,
    help="The quarter the plan's cycle covers (default: this quarter).",
)
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@format_option("text", "json")
@handle_errors
def init_command(
    path: str, name: str, list_only: bool, quarter: dt.date | None, force: bool, fmt: str
) -> None:
    """Write a plan file to start from (default plan.yaml, this quarter's cycle).

    Templates: marketing, sales, product, smart-goal, and those plugins add.
    """
    templates = default_manager().templates
    if list_only:
        found: dict[str, Template] = dict(templates.items())
        if fmt == "json":
            echo_json(
                [
                    {"name": t.name, "description": t.description, "plugin": templates.owner(n)}
                    for n, t in found.items()
                ]
            )
            return
        width = max(len(n) for n in found)
        for n, t in found.items():
            click.echo(f"{n:<{width}}  {t.description}")
        return
    try:
        template: Template = templates.get(name)
    except PluginError as exc:
        hint = str(exc).replace("is its plugin installed?", "see okr init --list")
        raise UsageError(hint) from None
    target = Path(path)
    if target.exists() and not force:
        raise UsageError(f"{path} exists; choose another PATH or pass --force")
    start, end = quarter_of(quarter or dt.date.today())
    target.write_text(render(template, start=start, end=end), encoding="utf-8")
    wrap_at = wrap_width()  # on a terminal (or $COLUMNS), lines wrap with words whole
    click.echo(wrap(f"Wrote {path} from the {name!r} template (cycle {start} to {end}).", wrap_at))
    click.echo(wrap(f"Next: edit it, then okr lint {path}", wrap_at))
