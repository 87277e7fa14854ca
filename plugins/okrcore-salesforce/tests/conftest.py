"""Fixtures: a local fake Salesforce per test, and the secrets it expects in the environment."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from okrcore.testing import serve

# the fake lives next to this file; make it importable however pytest is started (nox runs
# every plugin's tests in one session from the repository root)
sys.path.insert(0, str(Path(__file__).parent))
from salesforce_fake import CLIENT_SECRET, REFRESH_TOKEN, FakeSalesforce, Handler


@pytest.fixture
def fake() -> Iterator[FakeSalesforce]:
    state = FakeSalesforce()
    with serve(type("Handler", (Handler,), {"fake": state})) as state.url:
        yield state


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_TEST_TOKEN", "00Dstatic!token")
    monkeypatch.setenv("SF_TEST_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("SF_TEST_REFRESH", REFRESH_TOKEN)
