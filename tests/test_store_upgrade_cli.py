"""`okr store upgrade` migrates an existing store and never creates one."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from okrcore.cli import main
from okrcore.store import SCHEMA_VERSION

FIXTURE = Path(__file__).parent / "fixtures" / "store_592c20e.db"


def test_okr_store_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    url = f"sqlite:///{path}"
    first = CliRunner().invoke(main, ["store", "upgrade", url])
    assert first.exit_code == 0, first.output
    pending = ", ".join(str(v) for v in range(3, SCHEMA_VERSION + 1))
    assert f"applied migration(s) {pending} (schema version {SCHEMA_VERSION})" in first.stdout
    again = CliRunner().invoke(main, ["store", "upgrade", url])
    assert "is up to date" in again.stdout
    missing = CliRunner().invoke(main, ["store", "upgrade", f"sqlite:///{tmp_path / 'no.db'}"])
    assert missing.exit_code == 2
    assert "no store at" in missing.stderr
    assert not (tmp_path / "no.db").exists()
