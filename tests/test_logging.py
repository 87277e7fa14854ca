"""Logging: standard `logging` under the "okrcore" logger, configured by nobody but the application,
shown by `okr -v`, and never carrying a secret."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from okrcore.model import Connection, Cycle, KeyResult, Objective, Plan
from okrcore.plugins import PluginManager
from okrcore.store import MemoryStore
from okrcore.testing import FakeServer, Reply, refresh_without_waiting

SECRET = "s3cr3t-token-4242"


def test_the_library_configures_no_logging() -> None:
    code = (
        "import logging, okrcore, okrcore.engine, okrcore.plugins\n"
        "logger = logging.getLogger('okrcore')\n"
        "print(logger.level, [type(h).__name__ for h in logger.handlers],"
        " len(logging.getLogger().handlers))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0 ['NullHandler'] 0"


def test_refresh_and_plugin_loading_log_and_no_record_holds_a_secret(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKR_TEST_TOKEN", SECRET)
    caplog.set_level(logging.DEBUG, logger="okrcore")
    with FakeServer() as server:
        server.route("/flaky", Reply(status=503, json={"error": "busy"}), Reply(json={"n": 4}))
        server.route("/bad", Reply(status=401, json={"error": "bad token"}))
        connection = Connection(
            "api", "http_json", {"bearer": "env:OKR_TEST_TOKEN"}, endpoint=server.url
        )
        krs = [
            KeyResult(name, name, baseline=0, target=10,
                      source={"connection": "api", "url": f"/{name}", "value": "$.n"})
            for name in ("flaky", "bad")
        ]
        plan = Plan(
            cycles=[Cycle("q", dt.date(2026, 1, 1), dt.date(2026, 3, 31))],
            objectives=[Objective("o", "O", "q", key_results=krs)],
            connections={"api": connection},
        )
        manager = PluginManager(load_entry_points=False)
        refresh_without_waiting(
            plan, MemoryStore(), at=dt.date(2026, 1, 5), manager=manager, sleep=lambda _s: None
        )
    names = {r.name for r in caplog.records}
    assert {"okrcore.plugins", "okrcore.engine"} <= names
    messages = [r.getMessage() for r in caplog.records]
    assert any("retry" in m for m in messages)
    assert any("key result bad" in m and "failed" in m for m in messages)
    assert [m for m in messages if SECRET in m] == []
    assert [r for r in caplog.records if SECRET in repr(r.args)] == []


def test_okr_verbose_shows_the_log(example_plan_path: Path) -> None:
    env = {**os.environ, "OKRCORE_LOAD_PLUGINS": ""}
    quiet = subprocess.run(
        [sys.executable, "-m", "okrcore.cli", "lint", str(example_plan_path)],
        capture_output=True, text=True, env=env,
    )
    loud = subprocess.run(
        [sys.executable, "-m", "okrcore.cli", "-vv", "lint", str(example_plan_path)],
        capture_output=True, text=True, env=env,
    )
    assert quiet.returncode == loud.returncode == 0, loud.stderr
    assert "okrcore.plugins" not in quiet.stderr
    assert "DEBUG okrcore.plugins: registered built-in plugin" in loud.stderr


def test_okr_verbose_shows_a_store_migration(tmp_path: Path, example_plan_path: Path) -> None:
    # a store written by an earlier okrcore (schema version 2) is migrated when it opens
    store = tmp_path / "old.db"
    shutil.copy(Path(__file__).parent / "fixtures" / "store_592c20e.db", store)
    command = [sys.executable, "-m", "okrcore.cli", "score", str(example_plan_path),
               "--store", f"sqlite:///{store}", "--at", "2026-11-20"]
    env = {**os.environ, "OKRCORE_LOAD_PLUGINS": ""}
    loud = subprocess.run([*command[:3], "-v", *command[3:]], capture_output=True, text=True,
                          env=env)
    assert loud.returncode == 0, loud.stderr
    assert f"INFO okrcore.store.sqlite: store {store}: applying schema migration 3" in loud.stderr
    again = subprocess.run([*command[:3], "-vv", *command[3:]], capture_output=True, text=True,
                           env=env)
    assert again.returncode == 0, again.stderr
    assert "okrcore.plugins" in again.stderr  # the log is shown, and no migration is left
    assert "migration" not in again.stderr


def test_records_flow_once_the_application_imports_logging() -> None:
    # okrcore does not import logging itself (a start-up cost for records nobody could see); once
    # the application imports and configures it, okrcore's records reach it, naming their caller
    code = (
        "import sys, okrcore\n"
        "okrcore.open_store('memory://').close()\n"
        "print('logging' in sys.modules)\n"
        "import logging\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stdout,\n"
        "                    format='%(levelname)s %(name)s %(funcName)s: %(message)s')\n"
        "okrcore.open_store('memory://').close()\n"
        "print([type(h).__name__ for h in logging.getLogger('okrcore').handlers])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = done.stdout.splitlines()
    assert lines[0] == "False"
    migration = "INFO okrcore.store.sqlite apply_migrations: store :memory:: applying schema"
    assert f"{migration} migration 1" in lines
    assert lines[-1] == "['NullHandler']"


def test_a_warning_is_not_printed_when_the_application_configures_no_logging() -> None:
    # imported after okrcore and left unconfigured: the NullHandler still silences the last-resort
    # handler, as when logging was imported first
    code = (
        "import okrcore._log, logging\n"
        "okrcore._log.get_logger('okrcore.engine').warning('key result %s failed', 'kr')\n"
        "print(logging.getLogger('okrcore').handlers)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == ""
    assert "NullHandler" in done.stdout
