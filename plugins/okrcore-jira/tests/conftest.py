"""Fixtures: a local fake Jira per test, and the token it expects in the environment."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from okrcore.testing import serve

# the fake lives next to this file; make it importable however pytest is started (nox runs
# every plugin's tests in one session from the repository root)
sys.path.insert(0, str(Path(__file__).parent))
from jira_fake import TOKEN, FakeJira, Handler


@pytest.fixture
def fake() -> Iterator[FakeJira]:
    state = FakeJira()
    with serve(type("H", (Handler,), {"fake": state})) as state.url:
        yield state
        state.release.set()


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIRA_TEST_TOKEN", TOKEN)
