"""Fixtures: a fake GA4 Data API on 127.0.0.1 serving a quarter of daily rows."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# the fake and helpers live next to this file; make them importable however pytest is started
# (nox runs every plugin's tests in one session from the repository root)
sys.path.insert(0, str(Path(__file__).parent))
from fake_ga4 import FakeGA4
from ga4_helpers import PROPERTY, dataset


@pytest.fixture
def data() -> list[dict[str, Any]]:
    return dataset()


@pytest.fixture
def fake(data: list[dict[str, Any]]) -> Iterator[FakeGA4]:
    server = FakeGA4({PROPERTY: data, "2002": data[: len(data) // 2]})
    server.start()
    yield server
    server.stop()
