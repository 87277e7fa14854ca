"""Settings shared by the core's and every plugin's tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_inherited_terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables are laid out at ``$COLUMNS``; pytest-xdist sets it to 80 in its workers, so a test
    sees the width of a pipe (100) unless it sets ``COLUMNS`` itself, as the width tests do."""
    monkeypatch.delenv("COLUMNS", raising=False)
