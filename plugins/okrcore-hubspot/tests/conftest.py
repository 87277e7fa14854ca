"""Fixtures: a local fake HubSpot per test, and the token it expects in the environment."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from okrcore.testing import serve

# the fake lives next to this file; make it importable however pytest is started (nox runs
# every plugin's tests in one session from the repository root)
sys.path.insert(0, str(Path(__file__).parent))
from hubspot_fake import TOKEN, FakeHubSpot, _Handler


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    state = FakeHubSpot()
    with serve(type("Handler", (_Handler,), {"fake": state})) as state.url:
        yield state


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_TEST_TOKEN", TOKEN)
