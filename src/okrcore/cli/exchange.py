"""``okr export`` and ``okr import``: a plan and its check-ins as two flat tables (CSV or Parquet),
for spreadsheets and BI tools, and for moving history in from another OKR tool."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from okrcore.changes import plan_in_force
from okrcore.cli._common import (
    UsageError,
    at_option,
    handle_errors,
    main,
    opened_store,
    plan_argument,
    store_option,
)
from okrcore.exchange import TableFormat, read_tables, write_tables
from okrcore.planfile import dump_plan, load_plan
from okrcore.scoring import score as score_plan


@main.command("export")
@plan_argument
@store_option
@at_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    default="csv",
    show_default=True,
    help="Table format (Parquet needs pyarrow).",
)
@click.option(
    "-o",
    "--output",
    "folder",
    type=click.Path(file_okay=False),
    default="okr-export",
    show_default=True,
    help="Folder for key_results.csv and checkins.csv.",
)
@handle_errors
def export_command(
    plan_path: str, store_url: str, at: dt.date | None, fmt: str, folder: str
) -> None:
    """Write PLAN and its check-ins as two tables: key_results and checkins (and owners and kpis
    when the plan has them; a KPI's readings are check-ins).

    Targets are the ones in force at --at (recorded target changes applied; the plan file's
    value is in original_target), and the scorecard columns are as of that day.
    """
    day = at or dt.date.today()
    plan = load_plan(plan_path)
    with opened_store(store_url) as store:
        current = plan_in_force(plan, store, at=day)
        checkins = [
            c for c in store.checkins() if plan.has_key_result(c.kr_id) or plan.has_kpi(c.kr_id)
        ]
    card = score_plan(current, checkins, at=day)
    table_format: TableFormat = "parquet" if fmt == "parquet" else "csv"
    paths = write_tables(current, checkins, folder, card=card, original=plan, format=table_format)
    for path in paths:
        click.echo(f"Wrote {path}")


@main.command("import")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@store_option
@click.option(
    "-o",
    "--output",
    "plan_out",
    type=click.Path(dir_okay=False),
    default="plan.yaml",
    show_default=True,
    help="Plan file to write (.yaml, .toml or .json).",
)
@click.option("--force", is_flag=True, help="Overwrite the plan file if it exists.")
@handle_errors
def import_command(folder: str, store_url: str, plan_out: str, force: bool) -> None:
    """Make a plan file and a store from FOLDER's key_results and checkins tables (and its
    owners and kpis tables when there).

    The tables are the ones `okr export` writes (CSV or Parquet), or a spreadsheet saved with the
    same columns. Nothing is written when any cell is bad: every problem is listed with its file,
    line and column.
    """
    plan, checkins = read_tables(folder, title=Path(folder).name)
    target = Path(plan_out)
    if target.exists() and not force:
        raise UsageError(f"{plan_out} exists; choose another --output or pass --force")
    with opened_store(store_url, create=True) as store:  # importing check-ins may start one
        added = store.add_checkins(checkins)
    dump_plan(plan, target)
    krs = sum(1 for _ in plan.key_results())
    kpis = f", {len(plan.kpis)} KPI(s)" if plan.kpis else ""
    click.echo(
        f"Wrote {plan_out}: {len(plan.objectives)} objective(s), {krs} key result(s){kpis}; "
        f"{added.new} new and {added.revised} revised check-in(s) of {len(checkins)} stored in "
        f"{store_url}"
    )
