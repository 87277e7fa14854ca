"""Fixtures: a local fake HubSpot per test, and the token it expects in the environment."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

# the fake lives next to this file; make it importable however pytest is started (nox runs
# every plugin's tests in one session from the repository root)
sys.path.insert(0, str(Path(__file__).parent))
from hubspot_fake import TOKEN, FakeHubSpot, _Handler


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    state = FakeHubSpot()
    handler = type("Handler", (_Handler,), {"fake": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_TEST_TOKEN", TOKEN)
