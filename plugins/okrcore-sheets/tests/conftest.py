"""Fixtures: a local fake of the Sheets API and token endpoint, a service account key file
whose token_uri points at it, and the API key in the environment."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from okrcore.testing import serve

# the fake lives next to this file; make it importable however pytest is started (nox runs
# every plugin's tests in one session from the repository root)
sys.path.insert(0, str(Path(__file__).parent))
from sheets_fake import API_KEY, FakeSheets, Handler

_PEM = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption()).decode()


@pytest.fixture
def fake() -> Iterator[FakeSheets]:
    state = FakeSheets()
    with serve(type("H", (Handler,), {"fake": state})) as state.url:
        yield state
        state.release.set()


@pytest.fixture
def key_file(fake: FakeSheets, tmp_path: Path) -> Path:
    """A throwaway service account key whose token_uri is the fake's."""
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "okr-test", "private_key_id": "k1",
        "private_key": _PEM, "client_email": "okr@okr-test.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": fake.url + "/token"}))
    return path


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHEETS_TEST_KEY", API_KEY)
