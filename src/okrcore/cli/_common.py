"""What every ``okr`` command shares: the ``main`` group, options, error handling, the store,
and the number, table and JSON formatting of the output.

The command modules (``lint``, ``score``, ``checkins``, ``targets``, ``decompose``, ``demo``,
``refresh``, ``report``) import from here and add their commands to :data:`main`; nothing here
imports them.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import importlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any, TypeVar

import click

from okrcore.errors import OkrError, PlanError, StoreError, ValidationError
from okrcore.model import CheckIn, KeyResult, Plan, TargetChange
from okrcore.reports._table import wrap, wrap_width
from okrcore.store import Store, open_store

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_STORE = "sqlite:///okrcore.db"
STATUS_STYLE = {"green": "green", "yellow": "yellow", "red": "red"}
STATUS_ICON = {"green": "🟢", "yellow": "🟡", "red": "🔴"}

# Negative numbers and "-10%" are values here, not options.
VALUE_ARGS = {"ignore_unknown_options": True}


class UsageError(click.ClickException):
    """Unusable input: printed on stderr, exit code 2."""

    exit_code = EXIT_USAGE

    def show(self, file: IO[Any] | None = None) -> None:
        echo_error(f"Error: {self.format_message()}", file)


def echo_error(text: str, file: IO[Any] | None = None) -> None:
    """An error on stderr, each of its lines wrapped like every other line of output: at the
    terminal's width (or ``$COLUMNS``), words whole; in a pipe, one line per line."""
    stream = sys.stderr if file is None else file
    width = wrap_width(stream)
    click.echo("\n".join(wrap(line, width) for line in text.splitlines()), file=stream)


def default_store_url() -> str:
    """``$OKRCORE_STORE``, else ``sqlite:///okrcore.db`` in the working directory."""
    return os.environ.get("OKRCORE_STORE") or DEFAULT_STORE


def iso_date(text: str) -> dt.date:
    """A calendar date written YYYY-MM-DD; ValueError for anything else (Python 3.11's
    ``date.fromisoformat`` also reads week dates such as 2026W101, which we do not take)."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise ValueError(f"not a date YYYY-MM-DD: {text!r}")
    return dt.date.fromisoformat(text.strip())


def parse_date(_ctx: Any, _param: Any, value: str | None) -> dt.date | None:
    """Click callback for ``--at YYYY-MM-DD``."""
    if value is None:
        return None
    try:
        return iso_date(value)
    except ValueError:
        raise click.BadParameter(f"expected a date as YYYY-MM-DD, got {value!r}") from None


store_option = click.option(
    "--store",
    "store_url",
    default=default_store_url,
    show_default="$OKRCORE_STORE or sqlite:///okrcore.db",
    help="Check-in store URL (sqlite:///path, postgresql://user@host/db, memory://).",
)
at_option = click.option(
    "--at", "at", callback=parse_date, help="Date to evaluate at (YYYY-MM-DD; default: today)."
)


owner_option = click.option(
    "--owner",
    default=None,
    metavar="OWNER",
    help="Only what this owner answers for (an owner id, or an owner name of the plan).",
)


def format_option(*choices: str) -> Callable[[F], F]:
    """``--format`` with the given choices, ``text`` first and the default."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Output format.",
    )


def report_error(exc: OkrError) -> None:
    """Show an okrcore error as a message (never a traceback) and exit with its code: 2 for
    unusable input (a bad plan, a value the model refuses), else 1."""
    if isinstance(exc, (PlanError, ValidationError)):
        raise UsageError(str(exc)) from None
    echo_error(f"Error: {exc}")
    sys.exit(EXIT_FAILED)


def handle_errors(func: F) -> F:
    """Turn okrcore errors into messages on stderr with the documented exit codes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except OkrError as exc:
            report_error(exc)

    return wrapper  # type: ignore[return-value]


# Command name -> the module (in okrcore.cli) that defines it. A module is imported only when one
# of its commands runs (or help lists them all), so `okr score` does not import the refresh engine
# or the reports. A new command module adds its commands here; tests/test_cli.py checks the map.
COMMAND_MODULES = {
    "checkin": "checkins",
    "decompose": "decompose",
    "demo": "demo",
    "export": "exchange",
    "history": "checkins",
    "import": "exchange",
    "init": "init",
    "lint": "lint",
    "plugins": "plugins",
    "refresh": "refresh",
    "remind": "remind",
    "report": "report",
    "retarget": "targets",
    "runs": "refresh",
    "score": "score",
    "store": "stores",
    "strategy": "strategies",
    "worker": "workers",
}


class OkrGroup(click.Group):
    """The ``okr`` group: commands load on first use, and an okrcore error that any command lets
    through is shown as a message with its exit code, never as a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMAND_MODULES})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if cmd_name not in self.commands and module is not None:
            importlib.import_module(f"okrcore.cli.{module}")  # its decorators add the command
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OkrError as exc:
            report_error(exc)


plan_argument = click.argument(
    "plan_path", metavar="PLAN", type=click.Path(exists=True, dir_okay=False)
)


@contextmanager
def opened_store(url: str, *, create: bool = False) -> Iterator[Store]:
    """Open a store for one command; a store that cannot be opened is unusable input.

    Only the commands that record readings (``refresh``, ``checkin``, ``import``, the demo) pass
    ``create=True``:
    for the others a store that does not exist is a mistyped URL, not an empty store.
    """
    try:
        store = open_store(url, create=create)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    try:
        yield store
    finally:
        store.close()


def echo_json(data: Any) -> None:
    """Print stable JSON (sorted keys, ISO dates)."""
    text = json.dumps(data, indent=2, sort_keys=True, default=_json_default, ensure_ascii=False)
    click.echo(text)


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"cannot serialise {type(value).__name__}")


@click.group(cls=OkrGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="okrcore")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Show okrcore's log on stderr: -v what it does (plugins loaded, retries), -vv debug.",
)
def main(verbose: int) -> None:
    """okr: OKRs and SMART goals from plan files: lint, score, refresh, report."""
    if verbose:
        show_log(logging.DEBUG if verbose > 1 else logging.INFO)


class _StderrLog(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler ``-v`` adds (one, however many ``-v`` options a command line has)."""


def show_log(level: int) -> None:
    """Show okrcore's log records (logger ``okrcore`` and children) at ``level`` and above on
    stderr for the rest of the command; ``okr -v`` and ``okr refresh -v`` both use this."""
    logger = logging.getLogger("okrcore")
    if any(isinstance(h, _StderrLog) for h in logger.handlers):
        logger.setLevel(min(level, logger.level or level))
        return
    handler = _StderrLog(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    before = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)

    def restore() -> None:  # an embedding process (or a test) keeps its own logging
        logger.removeHandler(handler)
        logger.setLevel(before)

    click.get_current_context().call_on_close(restore)


# -- output ---------------------------------------------------------------------------------
def measured(plan: Plan, kr_id: str) -> KeyResult:
    """The key result, or the KPI as a key result (what a check-in is for), or exit 2."""
    if plan.has_kpi(kr_id):
        return plan.kpi(kr_id).as_key_result()
    return key_result(plan, kr_id, kpis=True)


def key_result(plan: Plan, kr_id: str, *, kpis: bool = False) -> KeyResult:
    """The key result, or exit 2 naming the closest known ids."""
    if plan.has_key_result(kr_id):
        return plan.key_result(kr_id)
    ids = [kr.id for kr in plan.key_results()] + ([k.id for k in plan.kpis] if kpis else [])
    close = difflib.get_close_matches(kr_id, ids, n=3, cutoff=0.5)
    if close:
        hint = "did you mean " + " or ".join(repr(i) for i in close) + "?"
    else:
        hint = "known: " + (", ".join(ids[:10]) + (", ..." if len(ids) > 10 else "") or "none")
    what = "key result or KPI" if kpis and plan.kpis else "key result"
    raise UsageError(f"no {what} {kr_id!r} in {plan.source_path or 'the plan'}; {hint}")


def status_text(status: Any) -> str:
    return "-" if status is None else str(getattr(status, "value", status))


def console() -> Any:
    """A rich console on the current stdout, as wide as the terminal; without one, ``$COLUMNS``
    or 100 (docs/reports.md, "Terminal output")."""
    from rich.console import Console

    from okrcore.reports._table import terminal_width

    return Console(file=sys.stdout, highlight=False, width=terminal_width(sys.stdout))


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
        "link": c.link,
    }


def target_values(kr: KeyResult) -> dict[str, float | None]:
    return {
        "baseline": kr.effective_baseline,
        "target": kr.effective_target,
        "floor": kr.floor,
        "stretch": kr.stretch,
    }


def changed_at(at: dt.date | None) -> dt.datetime:
    """Now, or the same time of day on the day ``--at`` names (keeps same-day changes ordered)."""
    now = dt.datetime.now(dt.timezone.utc)
    return now if at is None else dt.datetime.combine(at, now.timetz())
