"""Shared fixtures: the bundled example plan (the Acme marketing OKRs of the docs)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

# the store contract suite's assertions explain their failures (pytest rewrites them)
pytest.register_assert_rewrite("okrcore._store_contract")

import okrcore.demo  # noqa: E402
from okrcore.model import Plan  # noqa: E402
from okrcore.planfile import load_plan  # noqa: E402

DEMO_DIR = Path(okrcore.demo.__file__).parent


@pytest.fixture(scope="session")
def example_plan_path() -> Path:
    """Path of the example plan (src/okrcore/demo/marketing.yaml; examples/ links to it)."""
    return DEMO_DIR / "marketing.yaml"


@pytest.fixture(scope="session")
def example_history_path() -> Path:
    """Path of the example plan's metric history CSV (columns date, metric, value)."""
    return DEMO_DIR / "marketing-history.csv"


@pytest.fixture(scope="session")
def example_plan(example_plan_path: Path) -> Plan:
    """The example plan, loaded (plans are immutable, so one per session)."""
    return load_plan(example_plan_path)


OkrCli = Callable[..., tuple[int, str]]


@pytest.fixture
def okr_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OkrCli:
    """``okr ARGS...`` run in process at 80 columns, with its store in ``tmp_path`` (through
    ``$OKRCORE_STORE``) and no plugin discovery; each call returns (exit code, output)."""
    from click.testing import CliRunner

    from okrcore.cli import main

    monkeypatch.setenv("OKRCORE_STORE", f"sqlite:///{tmp_path / 'okr.db'}")
    monkeypatch.setenv("OKRCORE_LOAD_PLUGINS", "")
    monkeypatch.setenv("COLUMNS", "80")

    def okr(*args: str | Path) -> tuple[int, str]:
        result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
        return result.exit_code, result.output

    return okr
