"""Every "Next, try" line that ``okr demo`` prints works as printed, in the folder it ran in."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from okrcore.cli import main


def test_every_next_try_line_of_the_demo_runs(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    runner = CliRunner()
    demo = runner.invoke(main, ["demo"])
    assert demo.exit_code == 0, demo.output
    before, after = demo.output.split("Next, try:\n", 1)
    # at 80 columns only the copy-paste command lines (and the folder's path) may be longer
    long = [line for line in before.splitlines() if len(line) > 80 and str(tmp_path) not in line]
    assert long == []
    lines = after.splitlines()
    commands = [shlex.split(line) for line in lines if line.strip().startswith("okr ")]
    assert len(commands) >= 5
    for words in commands:
        result = runner.invoke(main, words[1:])
        assert result.exit_code == 0, f"{shlex.join(words)}\n{result.output}"
