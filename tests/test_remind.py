"""Check-in reminders: who is due, one message per owner and period, escalation, failures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from okrcore import (
    CheckIn,
    Connection,
    Cycle,
    KeyResult,
    Objective,
    Owner,
    Plan,
    hookimpl,
    open_store,
    reminders,
    send_reminders,
)
from okrcore.cli import main
from okrcore.errors import NotifyError, PlanError, ValidationError
from okrcore.notifiers import Message, Notifier
from okrcore.planfile import dumps_plan, load_plan, loads_plan
from okrcore.plugins import PluginManager
from okrcore.remind import failures, period_of, reminder_settings
from okrcore.store import Store

D = dt.date
START, END = D(2026, 10, 5), D(2026, 12, 31)  # Oct 5 2026 is a Monday


class Recorder(Notifier):
    name = "recorder"
    sent: ClassVar[list[tuple[str, Any, Message]]] = []

    def send(self, message: Message) -> None:
        if self.channel.settings.get("fail"):
            raise NotifyError(f"channel {self.channel.name!r} (recorder): HTTP 503")
        Recorder.sent.append((self.channel.name, self.channel.settings.get("to"), message))


class FakeMail(Recorder):
    name = "email"


class Plugin:
    @hookimpl
    def okrcore_register_notifiers(self, register: Callable[[type[Any]], None]) -> None:
        register(Recorder)
        register(FakeMail)


@pytest.fixture
def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(Plugin(), "recorder")
    Recorder.sent = []
    return pm


def _plan(reminders: dict[str, Any] | None = None, **notify: Any) -> Plan:
    """Ann owns the objective; Bob checks in NPS by hand weekly; leads come from a source."""
    return Plan(
        title="Team OKRs",
        cycles=[Cycle("q4", START, END)],
        owners=[
            Owner("ann", "Ann", notify="ann-chat"),
            Owner("bob", "Bob", email="bob@example.com"),
        ],
        objectives=[Objective("o", "Grow", "q4", owner="ann", key_results=[
            KeyResult("nps", "NPS", baseline=30, target=50, cadence="weekly", owner="bob"),
            KeyResult("csat", "CSAT", baseline=3, target=4, cadence="monthly", owner="bob"),
            KeyResult("leads", "Leads", baseline=0, target=100, cadence="weekly",
                      source={"connection": "crm"}),
        ])],
        connections={"crm": Connection("crm", "file")},
        notify={"ann-chat": {"plugin": "recorder"}, "mail": {"plugin": "email"}, **notify},
        reminders=reminders or {},
    )


@pytest.fixture
def store() -> Store:
    return open_store("memory://")


def test_periods() -> None:
    from okrcore import Cadence

    assert period_of(D(2026, 11, 30), Cadence.WEEKLY) == ("2026-W49", D(2026, 11, 30))
    assert period_of(D(2026, 12, 6), Cadence.WEEKLY) == ("2026-W49", D(2026, 11, 30))
    assert period_of(D(2026, 11, 30), Cadence.MONTHLY) == ("2026-11", D(2026, 11, 1))
    assert period_of(D(2026, 11, 30), Cadence.DAILY) == ("2026-11-30", D(2026, 11, 30))


def test_who_is_due(store: Store) -> None:
    plan = _plan()
    store.add_checkins([CheckIn("nps", 40, D(2026, 10, 20)), CheckIn("csat", 3.5, D(2026, 10, 20)),
                        CheckIn("leads", 10, D(2026, 10, 26), source="crm")])
    # Oct 26: NPS 6 days after its check-in, not due yet; leads fresh; CSAT monthly
    assert reminders(plan, store, at=D(2026, 10, 26)).reminders == ()
    found = reminders(plan, store, at=D(2026, 10, 27))
    (bob,) = found.reminders
    assert (bob.owner, bob.period, bob.key) == ("bob", "2026-W44", "reminder:bob:2026-W44")
    assert (bob.channel, bob.email) == ("mail", "bob@example.com")
    (due,) = bob.key_results
    assert (due.kr, due.missed, due.stale, due.manual, due.escalated) == (
        "nps", 1, False, True, False
    )
    assert due.describe() == "NPS (nps): 1 weekly period without a check-in (last 2026-10-20)"
    # Nov 8: the leads source stopped on Oct 26 (stale after 10.5 days), goes to Ann (the
    # objective's owner: leads has none of its own); NPS went 2 weeks: escalated to Ann too
    found = reminders(plan, store, at=D(2026, 11, 8))
    by_owner = {r.owner: r for r in found.reminders}
    assert [d.kr for d in by_owner["bob"].key_results] == ["nps"]
    assert by_owner["bob"].key_results[0].missed == 2
    assert [d.kr for d in by_owner["ann"].key_results] == ["leads"]
    assert "its source sends nothing" in by_owner["ann"].key_results[0].describe()
    assert [d.kr for d in by_owner["ann"].escalations] == ["nps"]
    # before the cycle and after the deadline nobody is due
    assert reminders(plan, store, at=D(2026, 10, 1)).reminders == ()
    assert reminders(plan, store, at=D(2027, 1, 5)).reminders == ()


def test_a_sum_is_not_reminded_its_parts_are(store: Store) -> None:
    # a sum takes no check-in (okr checkin refuses one): reminding its owner of it asked for
    # the impossible; its parts are reminded, and its owner is not a recipient for it
    from okrcore.remind import recipients

    plan = Plan(
        title="Team OKRs",
        cycles=[Cycle("q4", START, END)],
        owners=[Owner("ann", "Ann", notify="ann-chat"), Owner("bob", "Bob", notify="ann-chat")],
        objectives=[
            Objective("all", "Grow", "q4", owner="ann", key_results=[
                KeyResult("leads", "Leads", unit="leads", measure="cumulative", baseline=0,
                          target=100, rollup="sum", sum_of=["emea"], cadence="weekly")]),
            Objective("eu", "Grow EMEA", "q4", owner="bob", parent="all", key_results=[
                KeyResult("emea", "EMEA leads", unit="leads", measure="cumulative",
                          baseline=0, target=100, cadence="weekly")]),
        ],
        notify={"ann-chat": {"plugin": "recorder"}},
        reminders={"escalate_after": 0},
    )
    found = reminders(plan, store, at=D(2026, 10, 27))
    assert [(r.owner, [d.kr for d in r.key_results]) for r in found.reminders] == [
        ("bob", ["emea"])]
    assert recipients(plan) == {"bob": [("objectives[1].owner", "emea")]}


def test_one_reminder_per_owner_per_period(store: Store, manager: PluginManager) -> None:
    plan = _plan()
    store.add_checkins([CheckIn("nps", 40, D(2026, 10, 20)), CheckIn("csat", 3.5, D(2026, 10, 20)),
                        CheckIn("leads", 10, D(2026, 10, 26), source="crm")])
    day = D(2026, 10, 28)  # Wednesday of W44
    results = send_reminders(plan, store, reminders(plan, store, at=day), manager=manager)
    assert [(r.reminder.owner, r.status) for r in results] == [("bob", "sent")]
    ((channel, to, message),) = Recorder.sent
    assert (channel, to) == ("mail", ["bob@example.com"])
    assert message.title == "Team OKRs: check-in reminder for Bob (1 key result)"
    assert "- NPS (nps): 1 weekly period without a check-in (last 2026-10-20)" in message.text
    assert message.report["reminder"]["key"] == "reminder:bob:2026-W44"
    # the next hourly run, and the rest of the week: nothing again
    for later in (day, D(2026, 10, 29), D(2026, 11, 1)):
        again = send_reminders(plan, store, reminders(plan, store, at=later), manager=manager)
        assert [r.status for r in again] == ["already sent"]
    assert len(Recorder.sent) == 1
    # a dry run in a new week sends and records nothing
    monday = D(2026, 11, 2)
    dry = send_reminders(plan, store, reminders(plan, store, at=monday), manager=manager,
                         dry_run=True)
    assert [r.status for r in dry] == ["would send"]
    assert len(Recorder.sent) == 1
    # the new week: reminded again
    sent = send_reminders(plan, store, reminders(plan, store, at=monday), manager=manager)
    assert [r.status for r in sent] == ["sent"]
    assert len(Recorder.sent) == 2
    keys = [d.key for d in store.event_deliveries() if d.destination == "reminder"]
    assert keys == ["reminder:bob:2026-W44", "reminder:bob:2026-W45"]


def test_escalation_after_n_missed_periods(store: Store, manager: PluginManager) -> None:
    plan = _plan({"escalate_after": 3, "every": "daily"})
    leads = [CheckIn("leads", 1, START + dt.timedelta(days=n), source="crm") for n in range(80)]
    store.add_checkins([CheckIn("nps", 40, D(2026, 10, 20)), CheckIn("csat", 3.5, D(2026, 10, 20)),
                        *leads])
    # Nov 3: two weeks missed: Bob is reminded, not escalated yet (3 needed)
    two = reminders(plan, store, at=D(2026, 11, 3))
    assert [r.owner for r in two.reminders] == ["bob"]
    assert two.period == "2026-11-03"  # every: daily
    # Nov 10: three weeks without a check-in: Ann gets it too
    three = reminders(plan, store, at=D(2026, 11, 10))
    assert [r.owner for r in three.reminders] == ["bob", "ann"]
    ann = three.reminders[1]
    assert ann.key_results == ()
    assert [d.kr for d in ann.escalations] == ["nps"]
    assert ann.escalations[0].missed == 3
    results = send_reminders(plan, store, three, manager=manager)
    assert [r.status for r in results] == ["sent", "sent"]
    (ann_msg,) = [m for c, _to, m in Recorder.sent if c == "ann-chat"]
    assert "Escalated: key results under your objectives without a check-in" in ann_msg.text
    line = "NPS (nps): 3 weekly periods without a check-in (last 2026-10-20), stale (owner: Bob)"
    assert f"- {line}" in ann_msg.text
    # escalate_after: 0 never escalates
    never = _plan({"escalate_after": 0})
    assert [r.owner for r in reminders(never, store, at=D(2026, 12, 1)).reminders] == ["bob"]


def test_an_owner_who_cannot_be_reached_fails(store: Store, manager: PluginManager) -> None:
    plan = Plan(
        cycles=[Cycle("q4", START, END)],
        owners=[Owner("ann", notify="chat"), Owner("bob", email="bob@example.com"),
                Owner("cy")],
        objectives=[
            Objective("o", "Grow", "q4", owner="ann", key_results=[
                KeyResult("a", "A", baseline=0, target=1, owner="bob"),
                KeyResult("b", "B", baseline=0, target=1, owner="cy"),
                KeyResult("c", "C", baseline=0, target=1, owner="dee"),
            ]),
            Objective("p", "Keep", "q4", key_results=[KeyResult("d", "D", baseline=0, target=1)]),
        ],
        notify={"chat": {"plugin": "recorder"}},
        reminders={"escalate_after": 0},
    )
    found = reminders(plan, store, at=D(2026, 10, 20))
    assert found.problems == ("key result 'd' needs a check-in and has no owner to remind",)
    results = send_reminders(plan, store, found, manager=manager)
    assert [(r.reminder.owner, r.status) for r in results] == [
        ("bob", "failed"), ("cy", "failed"), ("dee", "failed")
    ]
    assert failures(found, results) == [
        "key result 'd' needs a check-in and has no owner to remind",
        "owner 'bob' has an email but the plan has no email channel (a notify channel with"
        " plugin: email)",
        "owner 'cy' has neither a notify channel nor an email",
        "owner 'dee' is not in the plan's owners section: no channel or email to reach them",
    ]
    assert store.event_deliveries(sent=None) == []
    assert Recorder.sent == []


def test_a_failed_send_is_not_recorded_and_is_sent_next_run(
    store: Store, manager: PluginManager
) -> None:
    plan = _plan(**{"ann-chat": {"plugin": "recorder", "fail": True}})
    day = D(2026, 10, 20)  # nothing checked in: due for everyone
    found = reminders(plan, store, at=day)
    results = send_reminders(plan, store, found, manager=manager)
    by_owner = {r.reminder.owner: r for r in results}
    assert by_owner["ann"].status == "failed"
    assert by_owner["bob"].status == "sent"
    assert failures(found, results) == [
        "owner 'ann': channel 'ann-chat' (recorder): HTTP 503"
    ]
    assert [d.subject for d in store.event_deliveries(sent=None)] == ["bob"]
    fixed = _plan()
    again = send_reminders(fixed, store, reminders(fixed, store, at=day), manager=manager)
    assert {r.reminder.owner: r.status for r in again} == {"ann": "sent", "bob": "already sent"}


def test_settings_and_the_plan_file(tmp_path: Path) -> None:
    plan = _plan({"every": "monthly", "escalate_after": 4, "email_channel": "mail"})
    s = reminder_settings(plan)
    assert (s.every.value, s.escalate_after, s.email_channel) == ("monthly", 4, "mail")
    assert loads_plan(dumps_plan(plan, "yaml"), "yaml").reminders == plan.reminders
    assert reminder_settings(_plan()).escalate_after == 2
    with pytest.raises(ValidationError, match="reminders.every"):
        reminder_settings(_plan({"every": "hourly"}))
    with pytest.raises(PlanError, match="reminders.email_channel: unknown notify channel 'post'"):
        _plan({"email_channel": "post"})
    path = tmp_path / "plan.yaml"
    path.write_text(
        "okrcore: 1\ncycles: [{id: q4, start: 2026-10-05, end: 2026-12-31}]\n"
        "reminders: {every: weekly, escalate_after: 1.5}\n",
        encoding="utf-8",
    )
    with pytest.raises(PlanError, match=r"plan.yaml:3:\d+: reminders.escalate_after: expected a "
                                        r"whole number, got 1.5"):
        load_plan(path)


def _file_plan(tmp_path: Path, owners: str) -> Path:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"""okrcore: 1
title: Team OKRs
owners:
{owners}
cycles: [{{id: q4, start: 2026-10-05, end: 2026-12-31}}]
objectives:
  - id: o
    title: Grow the share of returning customers across every channel
    owner: ann
    cycle: q4
    key_results:
      - {{id: nps, title: Net promoter score of customers who bought twice, baseline: 30,
          target: 50, cadence: weekly, owner: bob}}
notify:
  ann-chat: {{plugin: markdown-file, path: ann.md}}
  bob-chat: {{plugin: markdown-file, path: bob.md}}
reminders: {{escalate_after: 2}}
""",
        encoding="utf-8",
    )
    return plan


def test_okr_remind_cli(tmp_path: Path) -> None:
    plan = _file_plan(tmp_path, "  - {id: ann, notify: ann-chat}\n  - {id: bob, notify: bob-chat}")
    url = f"sqlite:///{tmp_path / 'okr.db'}"
    runner = CliRunner()
    assert runner.invoke(main, ["checkin", str(plan), "nps", "40", "--at", "2026-10-06",
                                "--store", url]).exit_code == 0
    args = ["remind", str(plan), "--store", url, "--at", "2026-10-21"]
    env = {"COLUMNS": "80"}
    dry = runner.invoke(main, [*args, "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "would send bob (channel 'bob-chat'): 1 key result" in dry.output
    assert not (tmp_path / "bob.md").exists()
    done = runner.invoke(main, args, env=env)
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0] == "Check-in reminders 2026-W43 (as of 2026-10-21, escalated after 2 periods)"
    assert "  sent bob (channel 'bob-chat'): 1 key result" in lines
    assert "  sent ann (channel 'ann-chat'): 1 key result" in lines
    assert all(len(line) <= 80 for line in lines), done.output
    assert "2 weekly periods without a check-in (last 2026-10-06)" in done.output.replace(
        "\n      ", " "
    )
    text = (tmp_path / "ann.md").read_text(encoding="utf-8")
    assert "Escalated: key results under your objectives without a check-in" in text
    again = runner.invoke(main, args, env=env)
    assert again.exit_code == 0
    assert "  skipped bob: already reminded in 2026-W43" in again.output
    assert (tmp_path / "bob.md").read_text(encoding="utf-8").count("check-in reminder") == 1
    data = runner.invoke(main, [*args, "--format", "json"])
    assert '"status": "already sent"' in data.output


def test_okr_remind_exits_1_naming_what_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the failed path in the message is short: it fits 80 columns
    _file_plan(tmp_path, "  - {id: ann, notify: ann-chat}\n  - {id: bob}")
    plan = Path("plan.yaml")
    plan.write_text(plan.read_text(encoding="utf-8").replace("path: ann.md",
                                                             "path: missing/ann.md"),
                    encoding="utf-8")
    url = "sqlite:///okr.db"
    runner = CliRunner()
    assert runner.invoke(main, ["checkin", str(plan), "nps", "40", "--at", "2026-10-06",
                                "--store", url]).exit_code == 0
    result = runner.invoke(main, ["remind", str(plan), "--store", url, "--at", "2026-10-21"],
                           env={"COLUMNS": "80"})
    assert result.exit_code == 1, result.output
    out = result.output.replace("\n    ", " ")
    assert "FAILED: 2 reminder problem(s)" in out
    assert "owner 'bob' has neither a notify channel nor an email" in out
    assert "owner 'ann': channel 'ann-chat' (markdown-file): cannot write" in out
    assert all(len(line) <= 80 for line in result.output.splitlines()), result.output


def test_the_email_channel_an_owner_is_mailed_through(store: Store, manager: PluginManager) -> None:
    two = {"mail2": {"plugin": "email"}}
    found = reminders(_plan(**two), store, at=D(2026, 10, 20))
    bob = next(r for r in found.reminders if r.owner == "bob")
    assert bob.channel is None
    assert bob.problem == ("owner 'bob' has an email but the plan has several email channels "
                           "(mail, mail2): name one in reminders.email_channel")
    named = reminders(_plan({"email_channel": "mail2"}, **two), store, at=D(2026, 10, 20))
    bob = next(r for r in named.reminders if r.owner == "bob")
    assert (bob.channel, bob.email, bob.via) == (
        "mail2", "bob@example.com", "bob@example.com via channel 'mail2'"
    )
    results = send_reminders(_plan({"email_channel": "mail2"}, **two), store, named,
                             manager=manager)
    assert {r.reminder.owner: r.status for r in results} == {"bob": "sent", "ann": "sent"}
    assert ("mail2", ["bob@example.com"]) in [(c, to) for c, to, _m in Recorder.sent]
