"""`okr report --notify`: every channel is tried, good ones are sent even when another is unknown
or fails, and the exit code and stderr say which failed (docs/cli.md, docs/reports.md)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from okrcore.cli import main
from okrcore.store import open_store

# A plugin module the plan names: a notifier that writes each message to a file, and fails when
# its channel says so (the way a platform answers an error code).
RECORDER = """
import json
from pathlib import Path
from typing import Any

from okrcore.hookspecs import hookimpl
from okrcore.notifiers import Notifier, NotifyError


class FileNotifier(Notifier):
    name = "file"

    def send(self, message):
        if self.channel.settings.get("fail"):
            raise NotifyError(f"channel {self.channel.name!r} (file): errcode 310000: no keyword")
        with Path(self.channel.settings["path"]).open("a", encoding="utf-8") as out:
            out.write(json.dumps({"channel": self.channel.name, "title": message.title}) + "\\n")


@hookimpl
def okrcore_register_notifiers(register):
    register(FileNotifier)
"""


@pytest.fixture
def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "okr_file_notifier.py").write_text(RECORDER, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("OKRCORE_LOAD_PLUGINS", "")  # only the built-ins and the plan's module
    sent = tmp_path / "sent.jsonl"
    path = tmp_path / "plan.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            okrcore: 1
            title: Notify
            plugins: [okr_file_notifier]
            cycles:
              - {{id: q4, start: 2026-10-01, end: 2026-12-31}}
            objectives:
              - id: growth
                title: Grow
                cycle: q4
                key_results:
                  - {{id: leads, title: Leads reach 2000 in Q4, kind: increase, baseline: 0,
                      target: 2000, cadence: weekly}}
            notify:
              team-chat: {{plugin: file, path: {json.dumps(str(sent))}}}
              ops: {{plugin: file, path: {json.dumps(str(sent))}}}
              broken: {{plugin: file, path: {json.dumps(str(sent))}, fail: true}}
            """
        ),
        encoding="utf-8",
    )
    return path


def sent(plan: Path) -> list[str]:
    path = plan.parent / "sent.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["channel"] for line in path.read_text("utf-8").splitlines()]


def report(plan: Path, *channels: str) -> tuple[int, str]:
    open_store(str(plan.parent / "okr.db")).close()  # `okr report` opens only an existing store
    args = ["report", str(plan), "--store", f"sqlite:///{plan.parent / 'okr.db'}"]
    args += ["--at", "2026-11-20", "-o", str(plan.parent / "out.txt")]
    for name in channels:
        args += ["--notify", name]
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.stderr


def test_unknown_channel_does_not_stop_the_others(plan: Path) -> None:
    code, err = report(plan, "no-such-channel", "team-chat")
    assert code == 1
    assert sent(plan) == ["team-chat"]
    assert "unknown channel 'no-such-channel'" in err
    assert "the plan has: broken, ops, team-chat" in err
    assert "Sent the daily report to team-chat" in err


def test_a_close_name_gets_a_suggestion(plan: Path) -> None:
    code, err = report(plan, "team-chta")
    assert code == 1
    assert "did you mean 'team-chat'?" in err
    assert sent(plan) == []


def test_a_failing_channel_names_the_platform_error_and_the_rest_is_sent(plan: Path) -> None:
    code, err = report(plan, "broken", "ops", "team-chat")
    assert code == 1
    assert sent(plan) == ["ops", "team-chat"]
    assert "channel 'broken' (file): errcode 310000" in err


def test_every_channel_sent_exits_0(plan: Path) -> None:
    code, err = report(plan, "ops", "team-chat")
    assert code == 0, err
    assert sent(plan) == ["ops", "team-chat"]


def test_message_text_and_html_of_plan_text_with_markup(tmp_path: Path) -> None:
    """Plan text reaches the plain text as written and the HTML part escaped; no box drawing."""
    import datetime as dt
    import re

    from okrcore.notify import message_for
    from okrcore.planfile import loads_plan
    from okrcore.reports import report as build
    from okrcore.store import open_store

    plan = loads_plan(
        textwrap.dedent(
            """\
            okrcore: 1
            title: "<script>alert(1)</script> *launch* & more"
            cycles: [{id: q4, start: 2026-10-01, end: 2026-12-31}]
            objectives:
              - id: o
                title: Grow
                cycle: q4
                key_results:
                  - {id: k, title: "Leads_total reach 100 <b>", kind: increase, baseline: 0,
                     target: 100}
            """
        )
    )
    msg = message_for(build(plan, open_store("memory://"), "daily", at=dt.date(2026, 11, 20)))
    assert "<script>alert(1)</script> *launch* & more" in msg.text
    assert "Leads_total reach 100 <b>" in msg.text
    assert not re.search("[\u2500-\u257f]", msg.text)
    assert "<script" not in msg.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; *launch* &amp; more" in msg.html
    assert "<strong>Leads_total reach 100 &lt;b&gt;</strong>" in msg.html


def test_send_with_retries() -> None:
    from okrcore.notifiers import NotifyError, send_with_retries

    def failing(*errors: NotifyError) -> Any:
        calls: list[int] = []

        def attempt() -> str:
            calls.append(1)
            if len(calls) <= len(errors):
                raise errors[len(calls) - 1]
            return "sent"

        return attempt, calls

    sleeps: list[float] = []
    busy = NotifyError("HTTP 503", transient=True)
    limited = NotifyError("HTTP 429", transient=True, retry_after=5.0)
    attempt, calls = failing(busy, limited)
    assert send_with_retries(attempt, attempts=3, backoff=1.0, sleep=sleeps.append) == "sent"
    assert sleeps == [1.0, 5.0]  # backoff, then Retry-After as a floor over 2.0

    attempt, calls = failing(busy, busy, busy)
    with pytest.raises(NotifyError, match=r"^HTTP 503 \(gave up after 3 attempts\)$"):
        send_with_retries(attempt, attempts=3, backoff=0, sleep=sleeps.append)
    assert len(calls) == 3

    attempt, calls = failing(NotifyError("HTTP 400"))
    with pytest.raises(NotifyError, match=r"^HTTP 400$"):  # not transient: no retry
        send_with_retries(attempt, attempts=3, sleep=sleeps.append)
    assert len(calls) == 1

    attempt, calls = failing(NotifyError("HTTP 429", transient=True, retry_after=120))
    with pytest.raises(NotifyError, match=r"asked to wait 120 s before trying again"):
        send_with_retries(attempt, attempts=3, sleep=sleeps.append)
    assert len(calls) == 1
