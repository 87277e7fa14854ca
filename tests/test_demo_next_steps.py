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


def test_the_demo_suggests_okr_remind_which_writes_to_its_file_channel(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    runner = CliRunner()
    demo = runner.invoke(main, ["demo"])
    assert demo.exit_code == 0, demo.output
    assert "okr-demo/reminders.md" not in demo.output  # no event went to the reminders' channel
    remind = next(shlex.split(line) for line in demo.output.split("Next, try:\n", 1)[1].splitlines()
                  if line.strip().startswith("okr remind "))
    first = runner.invoke(main, remind[1:])
    assert first.exit_code == 0, first.output
    assert "  sent brand-team (brand@acme.example via channel 'owner-mail'): 1 key result" in (
        first.output)
    assert all(len(line) <= 80 for line in first.output.splitlines())
    text = (tmp_path / "okr-demo" / "reminders.md").read_text(encoding="utf-8")
    assert "## Acme marketing OKRs: check-in reminder for Brand team (1 key result)" in text
    assert "Social followers up 15% (social-followers): 2 weekly periods" in text
    again = runner.invoke(main, remind[1:])
    assert again.exit_code == 0
    assert "skipped brand-team: already reminded in 2026-W47" in again.output
    assert (tmp_path / "okr-demo" / "reminders.md").read_text(encoding="utf-8") == text
