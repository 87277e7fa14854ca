"""Store commands: ``okr store upgrade`` applies a store's pending schema migrations, ``okr store
copy`` moves a whole store to another one (any backends)."""

from __future__ import annotations

import click

from okrcore.cli._common import UsageError, handle_errors, main, opened_store
from okrcore.errors import StoreError


@main.group(name="store")
def store_group() -> None:
    """Manage a check-in store (docs/stores.md)."""


@store_group.command()
@click.argument("url", metavar="URL")
@handle_errors
def upgrade(url: str) -> None:
    """Apply the pending schema migrations of the store at URL (never creates one)."""
    with opened_store(url) as store:  # opening migrates, under the store's lock
        applied = tuple(getattr(store, "applied_migrations", ()))
        version = getattr(store, "schema_version", None)
        now = f" (schema version {version()})" if callable(version) else ""
    if applied:
        click.echo(f"Upgraded {url}: applied migration(s) {', '.join(map(str, applied))}{now}.")
    else:
        click.echo(f"{url} is up to date{now}.")


@store_group.command()
@click.argument("source_url", metavar="SRC")
@click.argument("destination_url", metavar="DST")
@click.option(
    "--merge",
    is_flag=True,
    help="Add SRC to a DST that already holds other key results, strategies and runs "
    "(ids held by both are refused). Without it DST must be empty.",
)
@handle_errors
def copy(source_url: str, destination_url: str, merge: bool) -> None:
    """Copy the whole store at SRC into DST (created if missing), with check-in revisions,
    target and strategy changes and the run log, then verify the copy (counts and a checksum).

    SRC is only read. Exit code 1 when DST is not empty (without --merge) or the copy does not
    match.
    """
    from okrcore.store import copy_store
    from okrcore.workers.taskengine import safe_url

    src, dst = safe_url(source_url), safe_url(destination_url)  # never a password
    if source_url == destination_url:
        raise UsageError(f"SRC and DST are the same store ({src})")
    with opened_store(source_url) as source, opened_store(destination_url, create=True) as dest:
        try:
            report = copy_store(source, dest, merge=merge)
        except StoreError as exc:
            raise StoreError(f"cannot copy {src} to {dst}: {exc}") from None
    counts = report.counts
    width = max(len(f"{n:,}") for n in counts.values())
    click.echo(f"{'Merged' if merge else 'Copied'} {src}")
    click.echo(f"    to {dst}")
    for what, n in counts.items():
        click.echo(f"  {n:>{width},}  {what}")
    click.echo("Verified: the destination's records match the source's, counts and checksum:")
    click.echo(f"  sha256 {report.checksum}")
