"""A SQLite store survives its writer being killed (SIGKILL) at any moment: no torn batch, no
duplicate, no integrity failure. 10 kills here; OKRCORE_STORE_KILLS=260 for the full run."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from okrcore.store import SQLiteStore

KILLS = int(os.environ.get("OKRCORE_STORE_KILLS", "10"))
GROUPS, ROWS = 20, 50

# Writes batches forever: batch k (re)writes group k % GROUPS, ROWS readings with one value, so
# a later batch revises an earlier one. Prints "ready" once the store is open.
WRITER = f"""
import datetime as dt, sys
from okrcore.model import CheckIn
from okrcore.store import SQLiteStore
run = int(sys.argv[2])
store = SQLiteStore(sys.argv[1])
print("ready", flush=True)
k = 0
while True:
    group, value = k % {GROUPS}, run * 1_000_000 + k
    day = dt.date(2026, 1, 1)
    store.add_checkins(
        CheckIn(f"g{{group}}", value, day + dt.timedelta(days=i), source="s")
        for i in range({ROWS})
    )
    k += 1
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_writers_leave_whole_batches_and_a_sound_file(tmp_path: Path) -> None:
    path = tmp_path / "okr.db"
    SQLiteStore(path).close()
    rng = random.Random(16)
    for run in range(KILLS):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(run)],
            stdout=subprocess.PIPE, text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.02, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        raw.close()
    with SQLiteStore(path) as store:
        by_group: dict[str, set[float]] = defaultdict(set)
        for c in store.checkins():
            by_group[c.kr_id].add(c.value)
        keys = [(c.kr_id, c.as_of) for c in store.checkins()]
        history = store.checkin_history()
    assert len(keys) == len(set(keys))
    assert by_group, "no batch was ever written"
    # every group holds one batch, whole: all its readings have the value of the same batch
    assert all(len(values) == 1 for values in by_group.values()), by_group
    assert all(len([k for k in keys if k[0] == g]) == ROWS for g in by_group)
    # and each batch that was replaced was replaced whole
    versions: dict[str, list[int]] = defaultdict(list)
    for r in history:
        versions[r.checkin.kr_id].append(int(r.checkin.value))
    for g, values in versions.items():
        assert len(values) % ROWS == 0, (g, len(values))
