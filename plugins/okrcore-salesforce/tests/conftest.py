"""Fixtures: a local fake Salesforce per test, and the secrets it expects in the environment."""

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
from salesforce_fake import CLIENT_SECRET, REFRESH_TOKEN, FakeSalesforce, Handler


@pytest.fixture
def fake() -> Iterator[FakeSalesforce]:
    state = FakeSalesforce()
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (Handler,), {"fake": state}))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_TEST_TOKEN", "00Dstatic!token")
    monkeypatch.setenv("SF_TEST_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("SF_TEST_REFRESH", REFRESH_TOKEN)
