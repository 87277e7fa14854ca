"""Listing plugins stays fast: importing a plugin's entry-point module imports no heavy client.

``okr plugins``, ``okr lint`` and the discovery of a name that is not built in import every
installed plugin's entry point; a plugin imports its client library (grpc, requests, psycopg...)
inside the functions that call it, so that this costs milliseconds, not a second.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest

# entry-point name -> the heavy modules its entry-point module must not import
HEAVY = {
    "asana": ("requests",),
    "ga4": ("grpc", "google.analytics", "google.api_core", "google.auth", "requests"),
    "hubspot": ("requests",),
    "jira": ("requests",),
    "notify": ("requests", "smtplib", "ssl"),
    "notion": ("requests",),
    "postgres": ("psycopg", "psycopg_pool"),
    "salesforce": ("requests",),
    "sheets": ("requests", "google.auth"),
    "social": ("requests",),
    "trello": ("requests",),
}
# okrcore's own modules that a plain score, lint or listing imports
CORE = {
    "okrcore.cli": ("requests", "procrastinate", "psycopg", "jinja2", "jsonschema"),
    "okrcore.workers": ("procrastinate", "psycopg"),
    "okrcore.default_plugins.sources.http_json": ("requests",),
}

PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
heavy = json.loads(sys.argv[2])
print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""


def _imported(module: str, heavy: tuple[str, ...]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module, json.dumps(heavy)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    found: list[str] = json.loads(done.stdout)
    return found


def _entry_point(name: str) -> str | None:
    for ep in importlib.metadata.entry_points(group="okrcore"):
        if ep.name == name:
            return ep.value.split(":")[0]
    return None


@pytest.mark.parametrize("name", sorted(HEAVY))
def test_a_plugins_entry_point_imports_no_heavy_client(name: str) -> None:
    module = _entry_point(name)
    if module is None:
        pytest.skip(f"the {name} plugin is not installed")
    assert _imported(module, HEAVY[name]) == []


@pytest.mark.parametrize("module", sorted(CORE))
def test_okrcore_imports_no_optional_client_until_used(module: str) -> None:
    assert _imported(module, CORE[module]) == []


def test_the_probe_sees_a_heavy_import() -> None:
    # the check above can fail: a module that does import a client is caught
    assert _imported("okrcore.default_plugins.sources.http_json", ("json",)) == ["json"]


# what a script's first use of the API must leave unimported (each costs start-up): the other
# plan formats' readers, `logging` (okrcore's records wait for the application to import it) and
# the store's copying
FIRST_USE = """
import datetime as dt, json, sys, okrcore
plan = okrcore.loads_plan(sys.argv[1], sys.argv[2])
store = okrcore.open_store("memory://")
okrcore.score(plan, store.checkins(), at=dt.date(2026, 11, 20))
print(json.dumps(sorted(m for m in json.loads(sys.argv[3]) if m in sys.modules)))
"""


@pytest.mark.parametrize(
    ("format", "unused"),
    [
        ("yaml", ["okrcore.planfile._read_json", "okrcore.planfile._read_toml", "tomllib"]),
        ("json", ["yaml", "okrcore.planfile._read_yaml", "okrcore.planfile._read_toml"]),
        ("toml", ["yaml", "okrcore.planfile._read_yaml", "okrcore.planfile._read_json"]),
    ],
)
def test_a_first_score_imports_only_what_it_uses(
    format: str, unused: list[str], example_plan_path: Path
) -> None:
    from okrcore import load_plan
    from okrcore.planfile import dumps_plan

    text = dumps_plan(load_plan(example_plan_path), format)
    modules = [*unused, "logging", "okrcore.store.copy"]
    done = subprocess.run(
        [sys.executable, "-c", FIRST_USE, text, format, json.dumps(modules)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    assert json.loads(done.stdout) == []
