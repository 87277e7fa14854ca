"""Store commands: ``okr store upgrade`` applies a store's pending schema migrations."""

from __future__ import annotations

import click

from okrcore.cli._common import handle_errors, main, opened_store


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
