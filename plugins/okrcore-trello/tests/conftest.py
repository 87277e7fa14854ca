"""Fixtures: a local fake Trello per test, and the token it expects in the environment."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from okrcore.testing import serve

# the fake lives next to this file; make it importable however pytest is started (nox runs
# every plugin's tests in one session from the repository root)
sys.path.insert(0, str(Path(__file__).parent))
from trello_fake import KEY, TOKEN, FakeTrello, Handler


@pytest.fixture
def fake() -> Iterator[FakeTrello]:
    state = FakeTrello()
    with serve(type("H", (Handler,), {"fake": state})) as state.url:
        yield state
        state.release.set()


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRELLO_TEST_KEY", KEY)
    monkeypatch.setenv("TRELLO_TEST_TOKEN", TOKEN)
