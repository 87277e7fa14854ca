"""The ``okr`` command line (needs the ``cli`` extra: click and rich).

Exit codes: 0 fine; 1 findings of severity error, or a failed operation; 2 unusable input (bad
plan, bad arguments), with the error on stderr and no traceback.

Commands live in submodules by concept (``plan``: lint, score, check-ins, targets, demo;
``refresh``: refresh, runs, plugins; ``report``: reports and notifications); each adds its
commands to :data:`main`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

try:
    import click
    import rich  # noqa: F401 - the text output; checked here so that `okr` fails in one clear way
except ModuleNotFoundError as exc:  # the `okr` script is installed without the cli extra
    raise SystemExit(
        f"okr needs {exc.name}, part of the command-line extra: pip install 'okrcore[cli]'"
    ) from None

from okrcore.errors import OkrError, PlanError, StoreError
from okrcore.store import Store, open_store

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_STORE = "sqlite:///okrcore.db"


class UsageError(click.ClickException):
    """Unusable input: printed on stderr, exit code 2."""

    exit_code = EXIT_USAGE


def default_store_url() -> str:
    """``$OKRCORE_STORE``, else ``sqlite:///okrcore.db`` in the working directory."""
    return os.environ.get("OKRCORE_STORE") or DEFAULT_STORE


def parse_date(_ctx: Any, _param: Any, value: str | None) -> dt.date | None:
    """Click callback for ``--at YYYY-MM-DD``."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date as YYYY-MM-DD, got {value!r}") from None


store_option = click.option(
    "--store",
    "store_url",
    default=default_store_url,
    show_default="$OKRCORE_STORE or sqlite:///okrcore.db",
    help="Check-in store URL (sqlite:///path, memory://).",
)
at_option = click.option(
    "--at", "at", callback=parse_date, help="Date to evaluate at (YYYY-MM-DD; default: today)."
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


def handle_errors(func: F) -> F:
    """Turn okrcore errors into messages on stderr with the documented exit codes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PlanError as exc:
            raise UsageError(str(exc)) from None
        except OkrError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_FAILED)

    return wrapper  # type: ignore[return-value]


plan_argument = click.argument(
    "plan_path", metavar="PLAN", type=click.Path(exists=True, dir_okay=False)
)


@contextmanager
def opened_store(url: str) -> Iterator[Store]:
    """Open a store for one command; a store that cannot be opened is unusable input."""
    try:
        store = open_store(url)
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="okrcore")
def main() -> None:
    """okr: OKRs and SMART goals from plan files: lint, score, refresh, report."""


# The command modules add their commands to `main` when imported; they import the helpers above.
from okrcore.cli import plan, refresh, report  # noqa: E402, F401
