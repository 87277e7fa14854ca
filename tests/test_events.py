"""Events: derived from two scorecards, sent once per destination, recorded in the store."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from okrcore import CheckIn, Cycle, KeyResult, Kpi, Objective, Plan, hookimpl, open_store, score
from okrcore.cli import main
from okrcore.engine import refresh
from okrcore.errors import NotifyError
from okrcore.events import (
    EventKind,
    derive_events,
    event_message,
    routes,
    send_events,
)
from okrcore.notifiers import Message, Notifier
from okrcore.planfile import load_plan
from okrcore.plugins import PluginManager

D = dt.date
START, END = D(2026, 10, 1), D(2026, 12, 31)


def _plan(*krs: KeyResult, notify: dict[str, Any] | None = None) -> Plan:
    return Plan(
        title="Team OKRs",
        cycles=[Cycle("q4", START, END)],
        objectives=[Objective("o", "Grow", "q4", owner="ann", key_results=list(krs))],
        notify=notify or {},
    )


def _kinds(before: list[CheckIn], after: list[CheckIn], plan: Plan, b: D, a: D) -> list[str]:
    found = derive_events(score(plan, before, at=b), score(plan, after, at=a), plan)
    return [f"{e.kind.value} {e.subject}" for e in found]


# -- deriving (pure) -------------------------------------------------------------------------------
def test_crossing_the_target_and_the_stretch_are_achievements() -> None:
    kr = KeyResult("leads", "Leads", unit="leads", baseline=0, target=100, stretch=120,
                   measure="cumulative", owner="bob")
    plan = _plan(kr)
    day = D(2026, 11, 1)
    before = [CheckIn("leads", 95, day)]
    nxt = day + dt.timedelta(days=1)
    after = [*before, CheckIn("leads", 10, nxt)]
    found = derive_events(score(plan, before, at=day), score(plan, after, at=nxt), plan)
    assert [e.kind for e in found] == [EventKind.TARGET_REACHED]
    (e,) = found
    assert e.key == "target_reached:leads:100.0"
    assert e.summary == "Leads: reached its target of 100 leads (105 leads)"
    assert (e.owner, e.objective, e.at) == ("bob", "o", nxt)
    assert e.data["actual"] == 105
    # then past the stretch: only the stretch is new
    later = [*after, CheckIn("leads", 20, nxt + dt.timedelta(days=1))]
    assert _kinds(after, later, plan, nxt, nxt + dt.timedelta(days=1)) == [
        "stretch_reached leads"
    ]
    # nothing changed: nothing to tell
    assert _kinds(after, after, plan, nxt, nxt) == []


def test_a_lower_is_better_target_is_reached_going_down() -> None:
    kr = KeyResult("bounce", "Bounce rate", kind="decrease", baseline=50, target=45, stretch=40)
    plan = _plan(kr)
    a, b = D(2026, 11, 1), D(2026, 11, 2)
    before = [CheckIn("bounce", 46, a)]
    assert _kinds(before, [*before, CheckIn("bounce", 39.5, b)], plan, a, b) == [
        "target_reached bounce", "stretch_reached bounce"
    ]
    assert _kinds(before, [*before, CheckIn("bounce", 47, b)], plan, a, b) == []


def test_a_maintained_bound_is_held_not_reached() -> None:
    kr = KeyResult("cac", "CAC", kind="maintain_below", target=200)
    plan = _plan(kr)
    a, b = D(2026, 11, 1), D(2026, 11, 2)
    assert _kinds([], [CheckIn("cac", 150, b)], plan, a, b) == []


def test_turning_red_and_recovering() -> None:
    # 1,000 leads over the quarter: by mid-November the plan is ~510
    kr = KeyResult("leads", "Leads", baseline=0, target=1000, measure="cumulative")
    plan = _plan(kr)
    a, b = D(2026, 11, 15), D(2026, 11, 16)
    good = [CheckIn("leads", 480, D(2026, 11, 14))]
    behind = [CheckIn("leads", 100, D(2026, 11, 14))]
    assert score(plan, good, at=a).key_results["leads"].status.value != "red"
    assert score(plan, behind, at=b).key_results["leads"].status.value == "red"
    (red,) = derive_events(score(plan, good, at=a), score(plan, behind, at=b), plan)
    assert red.kind is EventKind.TURNED_RED
    assert red.key == "turned_red:leads:2026-11-16"
    assert red.data["was"] != "red"
    assert red.data["status"] == "red"
    (back,) = derive_events(score(plan, behind, at=a), score(plan, good, at=b), plan)
    assert back.kind is EventKind.RECOVERED
    assert "recovered from red to" in back.summary


def test_going_stale() -> None:
    kr = KeyResult("nps", "NPS", baseline=30, target=50, cadence="weekly")
    plan = _plan(kr)
    checkins = [CheckIn("nps", 40, D(2026, 11, 1))]
    # weekly: stale after 1.5 weeks without a check-in
    fresh, stale = D(2026, 11, 10), D(2026, 11, 12)
    assert not score(plan, checkins, at=fresh).key_results["nps"].stale
    found = derive_events(score(plan, checkins, at=fresh), score(plan, checkins, at=stale), plan)
    assert [(e.kind, e.key) for e in found] == [
        (EventKind.WENT_STALE, "went_stale:nps:2026-11-01")
    ]
    assert found[0].summary == "NPS: went stale (last check-in 2026-11-01)"


def test_routes_name_kinds_and_groups() -> None:
    plan = _plan(KeyResult("k", "K", baseline=0, target=1), notify={
        "chat": {"plugin": "slack", "events": ["achievements"]},
        "ops": {"plugin": "webhook", "events": "all"},
        "mail": {"plugin": "email", "events": ["turned_red"]},
        "quiet": {"plugin": "email"},
    })
    assert routes(plan) == {
        "chat": {EventKind.TARGET_REACHED, EventKind.STRETCH_REACHED},
        "ops": set(EventKind),
        "mail": {EventKind.TURNED_RED},
    }
    bad = _plan(KeyResult("k", "K", baseline=0, target=1),
                notify={"chat": {"plugin": "slack", "events": ["achievement"]}})
    with pytest.raises(NotifyError, match=r"notify.chat.events: unknown event kind 'achievement'"):
        routes(bad)


def test_event_message_lists_every_event() -> None:
    kr = KeyResult("leads", "Leads <Q4>", baseline=0, target=10, measure="cumulative")
    plan = _plan(kr)
    day = D(2026, 11, 1)
    found = derive_events(score(plan, [], at=day), score(plan, [CheckIn("leads", 12, day)],
                                                         at=day), plan)
    message = event_message(found, title="Team OKRs", link="https://okr.example")
    assert message.title == "Team OKRs: target reached"
    assert "- **Target reached**: Leads <Q4>: reached its target of 10 (12)" in message.markdown
    assert "&lt;Q4&gt;" in message.html
    assert message.report == {"events": [found[0].to_dict()]}
    assert message.link == "https://okr.example"


# -- sending once --------------------------------------------------------------------------------
class Recorder(Notifier):
    name = "recorder"
    sent: ClassVar[list[tuple[str, Message]]] = []
    lock = threading.Lock()

    def send(self, message: Message) -> None:
        if self.channel.settings.get("fail"):
            raise NotifyError(f"channel {self.channel.name!r} (recorder): HTTP 503")
        with self.lock:
            Recorder.sent.append((self.channel.name, message))


class RecorderPlugin:
    @hookimpl
    def okrcore_register_notifiers(self, register: Callable[[type[Any]], None]) -> None:
        register(Recorder)


class EventHook:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.fail = False

    @hookimpl
    def okrcore_event(self, event: Any) -> None:
        if self.fail:
            raise RuntimeError("dashboard down")
        self.seen.append(event.key)


@pytest.fixture
def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(RecorderPlugin(), "recorder")
    Recorder.sent = []
    return pm


CSV_HEAD = "date,metric,value\n"


def _csv_plan(tmp_path: Path, notify: str) -> Path:
    (tmp_path / "leads.csv").write_text(
        CSV_HEAD + "".join(f"2026-10-{d:02d},leads,10\n" for d in range(1, 11)), encoding="utf-8"
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"""okrcore: 1
title: Team OKRs
cycles: [{{id: q4, start: 2026-10-01, end: 2026-12-31}}]
objectives:
  - id: o
    title: Grow
    owner: ann
    cycle: q4
    key_results:
      - id: leads
        title: Leads
        unit: leads
        measure: cumulative
        baseline: 0
        target: 95
        source: {{connection: exports, path: leads.csv, where: {{metric: leads}}}}
connections:
  exports: {{plugin: file}}
notify:
{notify}
""",
        encoding="utf-8",
    )
    return plan


def _refresh(plan_path: Path, url: str, at: D, manager: PluginManager, **kw: Any) -> Any:
    with open_store(url) as store:
        return refresh(load_plan(plan_path), store, at=at, manager=manager, **kw)


def test_an_achievement_is_sent_once(tmp_path: Path, manager: PluginManager) -> None:
    plan = _csv_plan(tmp_path, "  chat: {plugin: recorder, events: [achievements]}")
    url = f"sqlite:///{tmp_path / 'okr.db'}"
    # 90 leads by Oct 9, 100 by Oct 10: the target of 95 is crossed on Oct 10
    assert _refresh(plan, url, D(2026, 10, 9), manager).hook_errors == ()
    assert Recorder.sent == []
    result = _refresh(plan, url, D(2026, 10, 10), manager)
    assert result.hook_errors == ()
    ((channel, message),) = Recorder.sent
    assert channel == "chat"
    assert message.report["events"][0]["key"] == "target_reached:leads:95.0"
    # a re-run, a later run and a backfill send nothing again
    _refresh(plan, url, D(2026, 10, 10), manager)
    _refresh(plan, url, D(2026, 10, 11), manager)
    _refresh(plan, url, D(2026, 10, 12), manager, backfill=(D(2026, 10, 1), D(2026, 10, 12)))
    assert len(Recorder.sent) == 1
    with open_store(url) as store:
        (sent,) = store.event_deliveries()
    assert (sent.destination, sent.kind, sent.subject, sent.at) == (
        "chat", "target_reached", "leads", D(2026, 10, 10)
    )
    assert sent.run_id == result.run.id


def test_a_failed_delivery_is_not_recorded_and_is_sent_next_time(
    tmp_path: Path, manager: PluginManager
) -> None:
    plan = _csv_plan(tmp_path, "  chat: {plugin: recorder, events: all, fail: true}\n"
                               "  mail: {plugin: recorder, events: all}")
    url = f"sqlite:///{tmp_path / 'okr.db'}"
    _refresh(plan, url, D(2026, 10, 9), manager)
    result = _refresh(plan, url, D(2026, 10, 10), manager)
    (failure,) = result.hook_errors
    assert "events not delivered" in failure.error
    assert "channel 'chat' (recorder): HTTP 503" in failure.error
    assert [name for name, _ in Recorder.sent] == ["mail"]
    with open_store(url) as store:
        assert [d.destination for d in store.event_deliveries(sent=None)] == ["mail"]
    # the channel works again: the next run sends it there, and only there
    plan.write_text(plan.read_text(encoding="utf-8").replace(", fail: true", ""),
                    encoding="utf-8")
    assert _refresh(plan, url, D(2026, 10, 10), manager).hook_errors == ()
    assert [name for name, _ in Recorder.sent] == ["mail", "chat"]


def test_the_event_hook_is_called_once_per_event(tmp_path: Path, manager: PluginManager) -> None:
    hook = EventHook()
    manager.register(hook, "dashboard")
    plan = _csv_plan(tmp_path, "  {}")
    plan.write_text(plan.read_text(encoding="utf-8").replace("notify:\n  {}\n", ""),
                    encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'okr.db'}"
    hook.fail = True
    _refresh(plan, url, D(2026, 10, 9), manager)
    result = _refresh(plan, url, D(2026, 10, 10), manager)
    assert "plugin 'dashboard': okrcore_event: RuntimeError: dashboard down" in (
        result.hook_errors[0].error
    )
    hook.fail = False
    _refresh(plan, url, D(2026, 10, 10), manager)
    _refresh(plan, url, D(2026, 10, 10), manager)
    assert hook.seen == ["target_reached:leads:95.0"]
    with open_store(url) as store:
        assert [d.destination for d in store.event_deliveries()] == ["plugin:dashboard"]


def test_two_concurrent_senders_send_once(tmp_path: Path, manager: PluginManager) -> None:
    plan_path = _csv_plan(tmp_path, "  chat: {plugin: recorder, events: all}")
    url = f"sqlite:///{tmp_path / 'okr.db'}"
    _refresh(plan_path, url, D(2026, 10, 10), manager)
    Recorder.sent = []
    with open_store(url) as store:
        plan = load_plan(plan_path)
        before = score(plan, store, at=D(2026, 10, 9))
        after = score(plan, store, at=D(2026, 10, 10))
    events = derive_events(before, after, plan)
    assert events
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def sender() -> None:  # two senders, each with its own connection to a fresh store
        with open_store(f"sqlite:///{tmp_path / 'race.db'}") as store:
            barrier.wait()
            results.append(send_events(plan, store, events, manager=manager))

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(Recorder.sent) == 1
    assert sorted(len(r) for r in results) == [0, 1]


def test_no_destination_no_work(tmp_path: Path, manager: PluginManager) -> None:
    plan = _csv_plan(tmp_path, "  chat: {plugin: recorder}")
    url = f"sqlite:///{tmp_path / 'okr.db'}"
    _refresh(plan, url, D(2026, 10, 9), manager)
    _refresh(plan, url, D(2026, 10, 10), manager)
    assert Recorder.sent == []
    with open_store(url) as store:
        assert store.event_deliveries(sent=None) == []


def test_okr_refresh_exits_1_naming_the_failed_delivery(tmp_path: Path) -> None:
    plan = _csv_plan(
        tmp_path, "  log: {plugin: markdown-file, path: no-such-dir/events.md, events: all}"
    )
    url = f"sqlite:///{tmp_path / 'okr.db'}"
    runner = CliRunner()
    args = ["refresh", str(plan), "--store", url]
    assert runner.invoke(main, [*args, "--at", "2026-10-09"]).exit_code == 0
    done = runner.invoke(main, [*args, "--at", "2026-10-10"], env={"COLUMNS": "80"})
    assert done.exit_code == 1, done.output
    assert "FAILED after the refresh: events not delivered" in done.output
    assert "channel 'log' (markdown-file): cannot write" in done.output
    (tmp_path / "no-such-dir").mkdir()
    done = runner.invoke(main, [*args, "--at", "2026-10-10"])
    assert done.exit_code == 0, done.output
    text = (tmp_path / "no-such-dir" / "events.md").read_text(encoding="utf-8")
    assert "**Target reached**: Leads: reached its target of 95 leads (100 leads)" in text
    assert runner.invoke(main, [*args, "--at", "2026-10-10"]).exit_code == 0
    again = (tmp_path / "no-such-dir" / "events.md").read_text(encoding="utf-8")
    assert again == text  # sent once


def test_the_plan_format_knows_every_event_name() -> None:
    from okrcore.events import GROUPS
    from okrcore.planfile._format import EVENT_NAMES

    assert set(EVENT_NAMES) == {k.value for k in EventKind} | set(GROUPS)


def test_a_bad_event_name_in_a_plan_file_is_located(tmp_path: Path) -> None:
    from okrcore.errors import PlanError

    plan = _csv_plan(tmp_path, "  chat: {plugin: slack, events: [achievments]}")
    with pytest.raises(PlanError) as caught:
        load_plan(plan)
    text = str(caught.value)
    assert "notify.chat.events" in text
    assert "plan.yaml:" in text


# -- initiatives becoming overdue -----------------------------------------------------------------
def _initiative_plan(status: str = "doing", due: D | None = None) -> Plan:
    from okrcore import Initiative, Strategy

    due = due or D(2026, 10, 15)
    return Plan(
        title="Team OKRs",
        cycles=[Cycle("q4", START, END)],
        objectives=[Objective(
            "o", "Grow", "q4", owner="ann",
            key_results=[KeyResult("leads", "Leads", baseline=0, target=100)],
            strategies=[Strategy("s", "Live streams", owner="cy", initiatives=[
                Initiative("streams", "Four live streams a month", due=due, status=status,
                           key_results=["leads"]),
            ])],
        )],
        notify={"chat": {"plugin": "recorder", "events": ["alerts"]}},
    )


def test_an_initiative_becoming_overdue() -> None:
    plan = _initiative_plan()
    due, next_day = D(2026, 10, 15), D(2026, 10, 16)
    (e,) = derive_events(score(plan, [], at=due), score(plan, [], at=next_day), plan)
    assert e.kind is EventKind.INITIATIVE_OVERDUE
    assert (e.subject, e.key, e.owner, e.objective, e.at) == (
        "streams", "initiative_overdue:streams:2026-10-15", "cy", "o", next_day
    )
    assert e.summary == (
        "Four live streams a month: overdue since 2026-10-15 (doing, 1 day past its due date)"
    )
    assert e.data == {"due": "2026-10-15", "status": "doing", "strategy": "s",
                      "key_results": ["leads"], "days_overdue": 1}
    # still overdue the day after: not news; done or dropped: never overdue
    later = D(2026, 10, 17)
    assert derive_events(score(plan, [], at=next_day), score(plan, [], at=later), plan) == []
    for closed in ("done", "dropped"):
        done = _initiative_plan(closed)
        assert derive_events(score(done, [], at=due), score(done, [], at=next_day), done) == []
    # without the plan, no initiative is known
    assert derive_events(score(plan, [], at=due), score(plan, [], at=next_day)) == []


def test_an_overdue_initiative_is_sent_once(manager: PluginManager) -> None:
    plan = _initiative_plan()
    due, next_day = D(2026, 10, 15), D(2026, 10, 16)
    with open_store("memory://") as store:
        for at in (next_day, next_day, D(2026, 10, 20)):  # re-runs and a later refresh
            events = derive_events(score(plan, store, at=due), score(plan, store, at=at), plan)
            send_events(plan, store, events, manager=manager)
        ((channel, message),) = Recorder.sent
        assert channel == "chat"
        assert "- **Initiative overdue**: Four live streams a month: overdue since" in (
            message.markdown
        )
        # a new due date that passes is news again
        moved = _initiative_plan(due=D(2026, 10, 25))
        events = derive_events(score(moved, store, at=D(2026, 10, 25)),
                               score(moved, store, at=D(2026, 10, 26)), moved)
        send_events(moved, store, events, manager=manager)
        assert [d.key for d in store.event_deliveries()] == [
            "initiative_overdue:streams:2026-10-15", "initiative_overdue:streams:2026-10-25"
        ]


# -- KPIs off target and recovered ---------------------------------------------------------------
def _kpi_plan(notify: dict[str, Any] | None = None) -> Plan:
    # cost per lead, monthly: green at or below 40 EUR, yellow up to 44 (10%), red beyond
    return Plan(
        title="Team OKRs",
        cycles=[Cycle("q4", START, END)],
        kpis=[Kpi("cpl", "Cost per lead", target=40, direction="below", unit="EUR",
                  owner="ann")],
        notify=notify or {},
    )


def _kpi_events(plan: Plan, readings: list[CheckIn], before: D, after: D) -> list[Any]:
    return derive_events(score(plan, [c for c in readings if c.as_of <= before], at=before),
                         score(plan, readings, at=after), plan)


def test_a_kpi_going_off_target_and_recovering() -> None:
    plan = _kpi_plan()
    readings = [CheckIn("cpl", 38, D(2026, 11, 2)), CheckIn("cpl", 50, D(2026, 11, 3)),
                CheckIn("cpl", 43, D(2026, 11, 4)), CheckIn("cpl", 39, D(2026, 11, 5))]
    (off,) = _kpi_events(plan, readings, D(2026, 11, 2), D(2026, 11, 3))
    assert off.kind is EventKind.KPI_OFF_TARGET
    assert off.label == "KPI off target"
    assert (off.subject, off.key, off.owner, off.objective, off.at) == (
        "cpl", "kpi_off_target:cpl:2026-11", "ann", None, D(2026, 11, 3))
    assert off.summary == (
        "Cost per lead: off target (50 EUR > 40 EUR for 2026-11, beyond the 10% tolerance)")
    assert off.data == {"period": "2026-11", "actual": 50, "expected": 40, "target": 40,
                        "unit": "EUR", "direction": "below", "status": "red", "was": "green",
                        "last_checkin": "2026-11-03"}
    # back within the tolerance band (yellow): recovered, once per period as well
    (back,) = _kpi_events(plan, readings, D(2026, 11, 3), D(2026, 11, 4))
    assert back.kind is EventKind.KPI_RECOVERED
    assert back.key == "kpi_recovered:cpl:2026-11"
    assert back.summary == (
        "Cost per lead: recovered from red to yellow "
        "(43 EUR > 40 EUR for 2026-11, within the 10% tolerance)")
    assert (back.data["was"], back.data["status"]) == ("red", "yellow")
    # yellow to green, green to yellow: within the band, no news
    assert _kpi_events(plan, readings, D(2026, 11, 4), D(2026, 11, 5)) == []
    assert _kpi_events(plan, readings[:1] + readings[2:3], D(2026, 11, 2), D(2026, 11, 4)) == []
    # still red the next day: not news; no reading at all: grey, no news
    red = readings[:2]
    assert _kpi_events(plan, red, D(2026, 11, 3), D(2026, 11, 4)) == []
    assert _kpi_events(plan, [], D(2026, 11, 3), D(2026, 11, 4)) == []
    # red from the first reading of a period (grey before) is off target
    assert [e.key for e in _kpi_events(plan, readings[1:2], D(2026, 11, 2), D(2026, 11, 3))] == [
        "kpi_off_target:cpl:2026-11"]


def test_a_kpi_s_period_starts_afresh() -> None:
    plan = _kpi_plan()
    nov, dec = D(2026, 11, 30), D(2026, 12, 1)
    red_nov = [CheckIn("cpl", 50, nov)]
    # red in November, red again on the 1st of December: off target for December, news again
    found = _kpi_events(plan, [*red_nov, CheckIn("cpl", 60, dec)], nov, dec)
    assert [(e.key, e.data["was"]) for e in found] == [("kpi_off_target:cpl:2026-12", None)]
    # red in November, green in December: December was never off target, nothing recovered
    assert _kpi_events(plan, [*red_nov, CheckIn("cpl", 30, dec)], nov, dec) == []
    # a cumulative KPI judged on its bar pro-rated to the day: 10 a day against 310 a month
    mql = Plan(title="Team OKRs", cycles=[Cycle("q4", START, END)], kpis=[
        Kpi("mql", "MQLs a month", target=310, measure="cumulative", unit="MQL")])
    slow = [CheckIn("mql", 10, D(2026, 12, d)) for d in range(1, 4)] + [
        CheckIn("mql", 1, D(2026, 12, 4))]
    (off,) = _kpi_events(mql, slow, D(2026, 12, 3), D(2026, 12, 4))
    assert off.summary == ("MQLs a month: off target (31 MQL < 40 MQL (310 for 2026-12, "
                           "pro-rated to day 4 of 31), beyond the 10% tolerance)")
    assert (off.data["actual"], off.data["expected"]) == (31, 40)


def test_kpi_events_are_sent_once_per_period(manager: PluginManager) -> None:
    plan = _kpi_plan({"chat": {"plugin": "recorder", "events": ["alerts", "kpi_recovered"]},
                      "wins": {"plugin": "recorder", "events": ["achievements"]}})
    values = {3: 50, 4: 39, 5: 55, 6: 38}  # off, back, off again, back again
    days = sorted(values)
    with open_store("memory://") as store:
        for day in days:
            store.add_checkins([CheckIn("cpl", values[day], D(2026, 11, day))])
            for _ in range(2):  # a re-run sends nothing again
                events = derive_events(score(plan, store, at=D(2026, 11, day - 1)),
                                       score(plan, store, at=D(2026, 11, day)), plan)
                send_events(plan, store, events, manager=manager)
        # December: off target again is news for the new period
        store.add_checkins([CheckIn("cpl", 70, D(2026, 12, 2))])
        events = derive_events(score(plan, store, at=D(2026, 12, 1)),
                               score(plan, store, at=D(2026, 12, 2)), plan)
        send_events(plan, store, events, manager=manager)
        assert [d.key for d in store.event_deliveries()] == [
            "kpi_off_target:cpl:2026-11", "kpi_recovered:cpl:2026-11",
            "kpi_off_target:cpl:2026-12"]
    assert [name for name, _ in Recorder.sent] == ["chat", "chat", "chat"]
    assert Recorder.sent[0][1].title == "Team OKRs: KPI off target"  # not "kpi off target"
    assert "- **KPI off target**: Cost per lead: off target (50 EUR > 40 EUR" in (
        Recorder.sent[0][1].markdown)


def test_a_kpi_from_its_source_goes_off_target_in_okr_refresh(tmp_path: Path) -> None:
    # leads a month from a file: 10 a day, then 1 on the 4th; the channel is a local file
    (tmp_path / "kpi.csv").write_text(
        CSV_HEAD + "".join(f"2026-12-{d:02d},mql,{10 if d < 4 else 1}\n" for d in range(1, 6)),
        encoding="utf-8")
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        """okrcore: 1
title: Team OKRs
cycles: [{id: q4, start: 2026-10-01, end: 2026-12-31}]
objectives:
  - id: o
    title: Grow
    owner: ann
    cycle: q4
    key_results:
      - {id: leads, title: Leads, baseline: 0, target: 10, cadence: weekly}
kpis:
  - id: mql
    title: MQLs a month
    target: 310
    measure: cumulative
    unit: MQL
    owner: ann
    source: {connection: exports, path: kpi.csv, where: {metric: mql}}
connections:
  exports: {plugin: file}
notify:
  chat: {plugin: markdown-file, path: chat.md, events: [alerts]}
""",
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 'okr.db'}"
    runner = CliRunner()
    for day in ("2026-12-03", "2026-12-04", "2026-12-04", "2026-12-05"):
        done = runner.invoke(main, ["refresh", str(plan), "--store", url, "--at", day],
                             env={"COLUMNS": "80"})
        assert done.exit_code == 0, done.output
        assert all(len(line) <= 80 for line in done.output.splitlines()), done.output
    text = (tmp_path / "chat.md").read_text(encoding="utf-8")
    assert text.count("**KPI off target**") == 1, text
    assert ("- **KPI off target**: MQLs a month: off target (31 MQL < 40 MQL (310 for 2026-12, "
            "pro-rated to day 4 of 31), beyond the 10% tolerance)") in text
    with open_store(url) as store:
        assert [(d.key, d.destination) for d in store.event_deliveries()] == [
            ("kpi_off_target:mql:2026-12", "chat")]
