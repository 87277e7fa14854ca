"""Fixtures: a local fake Graph API + YouTube per test, and the secrets they expect."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from okrcore.testing import serve

# the fake lives next to this file; make it importable however pytest is started (nox runs
# every plugin's tests in one session from the repository root)
sys.path.insert(0, str(Path(__file__).parent))
from social_fake import GRAPH_TOKEN, YT_KEY, FakeSocial, Handler


@pytest.fixture
def fake() -> Iterator[FakeSocial]:
    state = FakeSocial()
    with serve(type("Handler", (Handler,), {"fake": state})) as state.url:
        yield state


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FB_TEST_TOKEN", GRAPH_TOKEN)
    monkeypatch.setenv("FB_TEST_APP_SECRET", "app-secret")
    monkeypatch.setenv("YT_TEST_KEY", YT_KEY)
