"""Reports as data and their renderers (text, Markdown, JSON, HTML), notify glue and ``okr report``.

Most tests use a small plan built here with a generated history (so each expectation can be
computed independently from the scoring functions); the last ones run on the bundled example
plan and its history.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import attrs
import jsonschema
import pytest

from okrcore.hookspecs import hookimpl
from okrcore.model import (
    CheckIn,
    Cycle,
    Goal,
    KeyResult,
    Objective,
    Plan,
    RunOutcome,
    RunRecord,
    Strategy,
    StrategyChange,
    TargetChange,
)
from okrcore.notifiers import Message, Notifier, NotifyError
from okrcore.plugins import PluginManager
from okrcore.reports import KINDS, Report, ReportFormat, ReportKind, render, report
from okrcore.scoring import score
from okrcore.store import Store, open_store

ROOT = Path(__file__).resolve().parents[1]
AT = dt.date(2026, 11, 20)
UTC = dt.timezone.utc
CYCLE = Cycle("2026-Q4", dt.date(2026, 10, 1), dt.date(2026, 12, 31))


def make_plan(title: str = "Marketing & growth") -> Plan:
    return Plan(
        title=title,
        cycles=[CYCLE],
        goals=[Goal("brand", "Grow international brand awareness")],
        objectives=[
            Objective(
                "traffic",
                "Grow qualified traffic",
                "2026-Q4",
                owner="ann",
                goal="brand",
                key_results=[
                    KeyResult(
                        "sessions",
                        "Organic sessions per week",
                        unit="sessions",
                        baseline=1000,
                        target=1200,
                        floor=1100,
                        stretch=1300,
                        cadence="weekly",
                    ),
                    KeyResult(
                        "leads",
                        "Marketing-qualified leads",
                        measure="cumulative",
                        unit="leads",
                        baseline=0,
                        target=2000,
                        cadence="daily",
                    ),
                    KeyResult(
                        "mentions", "Press mentions", kind="count", target=3, cadence="monthly"
                    ),
                ],
            ),
            Objective(
                "sales",
                "Sell profitably",
                "2026-Q4",
                owner="bob",
                level="company",
                key_results=[
                    KeyResult(
                        "cac",
                        "Customer acquisition cost",
                        kind="maintain_below",
                        unit="USD",
                        target=200,
                        cadence="weekly",
                    )
                ],
                strategies=[Strategy("seo", "SEO push"), Strategy("paid", "Paid search")],
            ),
        ],
    )


def history() -> list[CheckIn]:
    out = []
    day, i = CYCLE.start, 0
    while day <= AT:
        out.append(CheckIn("leads", 14 + i % 5, day, source="csv"))
        if i % 7 == 0:
            out.append(CheckIn("sessions", 1000 + 1.5 * i, day, source="csv"))
            out.append(CheckIn("cac", 188 + i % 17, day, source="csv"))
        day += dt.timedelta(days=1)
        i += 1
    out.append(CheckIn("mentions", 1, dt.date(2026, 10, 2), source="manual"))  # then silence: stale
    return out


@pytest.fixture
def store() -> Iterator[Store]:
    s = open_store("memory://")
    s.add_checkins(history())
    s.add_target_change(
        TargetChange(
            "sessions",
            "target",
            1200,
            1250,
            "strong October",
            dt.datetime(2026, 11, 5, 9, tzinfo=UTC),
            "ann",
        )
    )
    s.add_target_change(  # before the month: applied, but not listed in November's review
        TargetChange(
            "leads", "target", 1800, 2000, "bigger budget", dt.datetime(2026, 10, 20, tzinfo=UTC)
        )
    )
    s.add_target_change(  # after the report date: neither applied nor listed
        TargetChange(
            "cac", "target", 200, 180, "cheaper channel", dt.datetime(2026, 11, 25, tzinfo=UTC)
        )
    )
    s.add_strategy_change(
        StrategyChange(
            "seo",
            "status",
            "active",
            "paused",
            "budget moved to paid",
            dt.datetime(2026, 11, 10, tzinfo=UTC),
        )
    )
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def plan() -> Plan:
    return make_plan()


def current_plan(plan: Plan) -> Plan:
    return plan.with_target_changes(
        [
            TargetChange("sessions", "target", 1200, 1250, "x"),
            TargetChange("leads", "target", 1800, 2000, "x"),
        ]
    )


# -- the data ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "start"),
    [
        ("daily", dt.date(2026, 11, 19)),
        ("weekly", dt.date(2026, 11, 14)),
        ("monthly", dt.date(2026, 11, 1)),
    ],
)
def test_period_of_each_kind(plan: Plan, store: Store, kind: ReportKind, start: dt.date) -> None:
    rep = report(plan, store, kind, at=AT)
    assert (rep.kind, rep.at, rep.period_start) == (kind, AT, start)


def test_unknown_kind_is_refused(plan: Plan, store: Store) -> None:
    with pytest.raises(Exception, match="unknown report kind 'hourly'"):
        report(plan, store, "hourly", at=AT)  # type: ignore[arg-type]


def test_scores_use_current_targets_up_to_the_report_date(plan: Plan, store: Store) -> None:
    rep = report(plan, store, "daily", at=AT)
    expected = score(current_plan(plan), history(), at=AT)
    for line in rep.key_results:
        assert line.score == expected.key_results[line.id]
    assert rep.key_result("sessions").score.target == 1250
    assert rep.key_result("sessions").original["target"] == 1200
    assert rep.key_result("cac").score.target == 200  # the change of Nov 25 is in the future


def test_lights_summary_counts_every_key_result(plan: Plan, store: Store) -> None:
    rep = report(plan, store, "daily", at=AT)
    counted: dict[str, int] = {}
    for line in rep.key_results:
        counted[line.score.status.value] = counted.get(line.score.status.value, 0) + 1
    assert {k: v for k, v in rep.lights.items() if v} == counted
    assert sum(rep.lights.values()) == 4


def test_daily_change_since_previous_checkin_and_yesterdays_light(plan: Plan, store: Store) -> None:
    rep = report(plan, store, "daily", at=AT)
    leads = rep.key_result("leads")  # cumulative: the change is the last day's amount
    assert leads.previous_checkin == AT - dt.timedelta(days=1)
    assert leads.change == pytest.approx(14 + (AT - CYCLE.start).days % 5)
    sessions = rep.key_result("sessions")  # gauge: difference of the last two readings
    assert sessions.previous_checkin == dt.date(2026, 11, 12)
    assert sessions.change == pytest.approx(1.5 * 7)
    yesterday = score(current_plan(plan), history(), at=AT - dt.timedelta(days=1))
    for line in rep.key_results:
        assert line.previous_status == yesterday.key_results[line.id].status


def test_stale_key_results(plan: Plan, store: Store) -> None:
    rep = report(plan, store, "daily", at=AT)
    assert rep.stale == ("mentions",)


def test_weekly_gaps_largest_first_with_trend_and_forecast(plan: Plan, store: Store) -> None:
    rep = report(plan, store, "weekly", at=AT)
    now = score(current_plan(plan), history(), at=AT)
    week_ago = score(current_plan(plan), history(), at=AT - dt.timedelta(days=7))
    gaps = {
        k: s.progress - s.expected for k, s in now.key_results.items() if s.progress is not None
    }
    assert list(rep.gaps) == sorted(gaps, key=lambda k: gaps[k])
    assert rep.key_result(rep.gaps[0]).gap == min(gaps.values())
    for kr_id, line in ((k, rep.key_result(k)) for k in rep.gaps):
        s, then = now.key_results[kr_id], week_ago.key_results[kr_id]
        assert s.actual is not None
        assert s.plan_to_date is not None
        assert then.actual is not None
        assert line.gap == pytest.approx(gaps[kr_id])
        assert line.gap_value == pytest.approx(s.actual - s.plan_to_date)
        assert line.trend == pytest.approx(s.actual - then.actual)
        assert line.score.forecast == s.forecast


def test_weekly_movers_moved_most_first(plan: Plan, store: Store) -> None:
    rep = report(plan, store, "weekly", at=AT)
    now = score(current_plan(plan), history(), at=AT)
    week_ago = score(current_plan(plan), history(), at=AT - dt.timedelta(days=7))
    moved: dict[str, float] = {}
    for k, s in now.key_results.items():
        before = week_ago.key_results[k].progress
        if s.progress is not None and before is not None and s.progress != before:
            moved[k] = s.progress - before
    assert list(rep.movers) == sorted(moved, key=lambda k: -abs(moved[k]))
    assert rep.movers  # the generated history moves every week
    md = render(rep, "md")
    assert "### Moved most in 7 days" in md
    assert md.index("### Moved most in 7 days") < md.rindex(
        rep.key_result(rep.movers[0]).score.title
    )


def test_monthly_changes_of_the_month_with_original_and_current(plan: Plan, store: Store) -> None:
    rep = report(plan, store, "monthly", at=AT)
    (change,) = rep.target_changes
    assert change.change.kr_id == "sessions"
    assert (change.original, change.current) == (1200, 1250)
    assert change.to_dict()["reason"] == "strong October"
    (sc,) = rep.strategy_changes
    assert (sc.title, sc.objective, sc.change.new) == ("SEO push", "sales", "paused")
    owners = {n.id: n for n in rep.rollups["owner"]}
    card = score(current_plan(plan), history(), at=AT)
    assert owners["ann"].score == card.by_owner["ann"].score
    assert {n.id for n in rep.rollups["level"]} == {"team", "company"}
    assert [g.id for g in rep.goals] == ["brand"]


def test_failed_sources_of_the_last_run_up_to_the_date(plan: Plan, store: Store) -> None:
    started = dt.datetime(2026, 11, 20, 6, tzinfo=UTC)
    store.record_run(
        RunRecord(
            "run-1",
            started,
            started,
            AT,
            [
                RunOutcome(
                    "sessions",
                    "failed",
                    "ga4",
                    error="403 PERMISSION_DENIED on property 1",
                    kind="auth",
                ),
                RunOutcome("leads", "refreshed", "crm", value=15, stored=1),
            ],
        )
    )
    later = started + dt.timedelta(days=1)
    store.record_run(
        RunRecord(
            "run-2",
            later,
            later,
            AT + dt.timedelta(days=1),
            [RunOutcome("leads", "failed", "crm", error="boom")],
        )
    )
    rep = report(plan, store, "daily", at=AT)
    (failed,) = rep.failed_sources
    assert (failed.kr_id, failed.connection, failed.kind) == ("sessions", "ga4", "auth")
    assert "PERMISSION_DENIED" in (failed.error or "")
    assert rep.last_run is not None
    assert rep.last_run.id == "run-1"
    assert dict(rep.last_run.counts) == {"failed": 1, "refreshed": 1}


def test_series_and_pace_for_charts(plan: Plan, store: Store) -> None:
    rep = report(plan, store, "daily", at=AT)
    leads = rep.key_result("leads")
    running = [p.value for p in leads.series]
    assert running == sorted(running)  # a running total of positive amounts
    assert running[-1] == pytest.approx(leads.score.actual)
    assert leads.series[0].date == CYCLE.start
    assert leads.pace[0].date == CYCLE.start
    assert leads.pace[-1] == type(leads.pace[-1])(CYCLE.end, 2000.0)
    first = score(current_plan(plan), history(), at=CYCLE.start).key_results["leads"].plan_to_date
    assert leads.pace[0].value == pytest.approx(first)
    sessions = rep.key_result("sessions")
    assert sessions.series[-1].value == sessions.score.actual
    assert [p.date for p in sessions.series] == [
        CYCLE.start + dt.timedelta(days=7 * k) for k in range(8)
    ]


def load_schema() -> dict[str, Any]:
    text = (ROOT / "docs" / "report.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly"])
def test_json_is_stable_and_matches_the_documented_schema(
    plan: Plan, store: Store, kind: ReportKind
) -> None:
    rep = report(plan, store, kind, at=AT)
    text = render(rep, "json")
    data = json.loads(text)
    jsonschema.validate(data, load_schema())
    assert data == json.loads(json.dumps(rep.to_dict()))
    assert text == render(report(plan, store, kind, at=AT), "json")  # same input, same bytes
    assert data["schema"] == "okrcore.report/1"
    assert data["summary"]["lights"] == rep.lights


# -- renderers -----------------------------------------------------------------------------------
def every_title(rep: Report) -> list[str]:
    return [o.node.title for o in rep.objectives] + [line.score.title for line in rep.key_results]


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly"])
def test_markdown(plan: Plan, store: Store, kind: ReportKind) -> None:
    rep = report(plan, store, kind, at=AT)
    md = render(rep, "md")
    assert md.startswith(f"## {rep.title}")
    for title in [line.score.title for line in rep.key_results]:
        assert title in md
    assert "|" not in md.replace("\\|", "")  # lists, not tables: chat robots do not render tables
    if kind == "daily":
        assert "🔴" in md or "🟡" in md
        assert "**Stale** (no recent check-in): Press mentions" in md
    if kind == "weekly":
        positions = [md.index(rep.key_result(k).score.title) for k in rep.gaps]
        assert positions == sorted(positions)
    if kind == "monthly":
        assert "target: 1,200 → 1,250 (original 1,200, current 1,250) — strong October" in md
        assert "**SEO push** status: active → paused" in md
        assert "### By owner" in md


def test_markdown_escapes_plan_text(store: Store) -> None:
    rep = report(make_plan("Q4 *launch* [x](http://evil)"), store, "daily", at=AT)
    assert "\\*launch\\* \\[x\\](http://evil)" in render(rep, "md")


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly"])
def test_text(plan: Plan, store: Store, kind: ReportKind) -> None:
    rep = report(plan, store, kind, at=AT)
    plain = render(rep, "text", width=200)
    assert "\x1b[" not in plain
    for title in (
        every_title(rep) if kind != "weekly" else [ln.score.title for ln in rep.key_results]
    ):
        assert title in plain
    coloured = render(rep, "text", color=True, width=200)
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly"])
def test_html_is_self_contained_and_escaped(store: Store, kind: ReportKind) -> None:
    plan = make_plan('Q4 <script>alert(1)</script> "quoted" & more')
    rep = report(plan, store, kind, at=AT)
    html = render(rep, "html")
    assert "<script" not in html.lower()
    assert "Q4 &lt;script&gt;alert(1)&lt;/script&gt; &#34;quoted&#34; &amp; more" in html
    # nothing fetched from anywhere: no external resources of any kind
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.IGNORECASE)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//|@import", html, re.IGNORECASE)
    assert html.count("<svg") == len(rep.key_results)
    for obj in rep.objectives:
        assert f'data-objective="{obj.node.id}"' in html
    assert html == render(report(plan, store, kind, at=AT), "html")  # deterministic


def test_unknown_format(plan: Plan, store: Store) -> None:
    with pytest.raises(Exception, match="unknown report format 'pdf'"):
        render(report(plan, store, "daily", at=AT), "pdf")  # type: ignore[arg-type]


# -- notify --------------------------------------------------------------------------------------
class Recorder(Notifier):
    name: ClassVar[str] = "recorder"
    sent: ClassVar[list[tuple[str, Message]]] = []

    def send(self, message: Message) -> None:
        if self.channel.settings.get("fail"):
            raise NotifyError(
                f"channel {self.channel.name!r}: errcode 310000: keywords not in content"
            )
        self.sent.append((self.channel.name, message))


class RecorderPlugin:
    @hookimpl
    def okrcore_register_notifiers(self, register: Callable[[type[Any]], None]) -> None:
        register(Recorder)


@pytest.fixture
def manager(monkeypatch: pytest.MonkeyPatch) -> PluginManager:
    import okrcore.plugins

    pm = PluginManager(load_entry_points=False)
    pm.register(RecorderPlugin(), "recorder")
    monkeypatch.setattr(okrcore.plugins, "_default", pm)  # the after-refresh hook uses the default
    Recorder.sent = []
    return pm


def notify_plan(**channels: Any) -> Plan:
    import attrs

    return attrs.evolve(make_plan(), notify=channels)


def test_send_report_to_channels(store: Store, manager: PluginManager) -> None:
    from okrcore.notify import send_report

    plan = notify_plan(
        chat={"plugin": "recorder", "link": "https://okr.example/d.html"},
        broken={"plugin": "recorder", "fail": True},
    )
    rep = report(plan, store, "daily", at=AT)
    results = send_report(plan, rep, ["chat", "broken"], manager=manager)
    assert [(r.channel, r.ok) for r in results] == [("chat", True), ("broken", False)]
    assert "errcode 310000" in (results[1].error or "")
    ((name, message),) = Recorder.sent
    assert name == "chat"
    assert message.title == rep.title
    assert message.markdown == render(rep, "md")
    assert message.report == rep.to_dict()
    assert message.link == "https://okr.example/d.html"


def test_unknown_channel_lists_the_plans_channels(store: Store, manager: PluginManager) -> None:
    from okrcore.notify import send_report

    plan = notify_plan(chat={"plugin": "recorder"})
    (result,) = send_report(plan, report(plan, store, "daily", at=AT), ["team"], manager=manager)
    assert result.error == "unknown channel 'team' (the plan has: chat)"


def test_refresh_finished_sends_the_reports_asked_for(store: Store, manager: PluginManager) -> None:
    from okrcore.default_plugins.notify import okrcore_refresh_finished

    plan = notify_plan(
        chat={"plugin": "recorder", "after_refresh": True},
        review={"plugin": "recorder", "after_refresh": "weekly"},
        quiet={"plugin": "recorder"},
    )
    run = RunRecord("r", dt.datetime(2026, 11, 20, 6, tzinfo=UTC), None, AT)
    okrcore_refresh_finished(run=run, plan=plan, store=store, manager=manager)
    sent = {name: m.report["kind"] for name, m in Recorder.sent}
    assert sent == {"chat": "daily", "review": "weekly"}
    assert all(m.report["as_of"] == AT.isoformat() for _, m in Recorder.sent)


def test_refresh_finished_reports_failures_together(store: Store, manager: PluginManager) -> None:
    from okrcore.default_plugins.notify import okrcore_refresh_finished

    plan = notify_plan(
        bad={"plugin": "recorder", "after_refresh": True, "fail": True},
        good={"plugin": "recorder", "after_refresh": True},
    )
    run = RunRecord("r", dt.datetime(2026, 11, 20, 6, tzinfo=UTC), None, AT)
    with pytest.raises(NotifyError, match="not delivered: channel 'bad'"):
        okrcore_refresh_finished(run=run, plan=plan, store=store, manager=manager)
    assert [name for name, _ in Recorder.sent] == ["good"]


def test_bad_after_refresh_value_is_named() -> None:
    from okrcore.notify import after_refresh_channels

    with pytest.raises(NotifyError, match="notify.chat.after_refresh"):
        after_refresh_channels(notify_plan(chat={"plugin": "recorder", "after_refresh": "hourly"}))


# -- okr report ----------------------------------------------------------------------------------
PLAN_DOC: dict[str, Any] = {
    "okrcore": 1,
    "title": "Marketing & growth",
    "cycles": [{"id": "2026-Q4", "start": "2026-10-01", "end": "2026-12-31"}],
    "objectives": [
        {
            "id": "traffic",
            "title": "Grow qualified traffic",
            "owner": "ann",
            "cycle": "2026-Q4",
            "key_results": [
                {
                    "id": "sessions",
                    "title": "Organic sessions per week",
                    "unit": "sessions",
                    "baseline": 1000,
                    "target": 1200,
                    "cadence": "weekly",
                },
                {
                    "id": "leads",
                    "title": "Marketing-qualified leads",
                    "measure": "cumulative",
                    "unit": "leads",
                    "baseline": 0,
                    "target": 2000,
                    "cadence": "daily",
                },
            ],
        }
    ],
    "notify": {
        "chat": {"plugin": "recorder", "link": "https://okr.example/d.html"},
        "broken": {"plugin": "recorder", "fail": True},
    },
}


@pytest.fixture
def cli_setup(tmp_path: Path, manager: PluginManager) -> tuple[Path, str]:
    import yaml

    plan_file = tmp_path / "okrs.yaml"
    plan_file.write_text(yaml.safe_dump(PLAN_DOC, sort_keys=False), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'okr.db'}"
    s = open_store(url)
    s.add_checkins(c for c in history() if c.kr_id in ("sessions", "leads"))
    s.close()
    return plan_file, url


def run_cli(*args: str) -> Any:
    from click.testing import CliRunner

    from okrcore.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_report_json(cli_setup: tuple[Path, str]) -> None:
    plan_file, url = cli_setup
    result = run_cli(
        "report",
        str(plan_file),
        "--kind",
        "weekly",
        "--format",
        "json",
        "--store",
        url,
        "--at",
        "2026-11-20",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    jsonschema.validate(data, load_schema())
    assert (data["kind"], data["as_of"]) == ("weekly", "2026-11-20")
    assert sorted(data["gaps"]) == ["leads", "sessions"]


def test_cli_report_html_to_file(cli_setup: tuple[Path, str], tmp_path: Path) -> None:
    plan_file, url = cli_setup
    out = tmp_path / "dashboard.html"
    result = run_cli(
        "report",
        str(plan_file),
        "--format",
        "html",
        "-o",
        str(out),
        "--store",
        url,
        "--at",
        "2026-11-20",
    )
    assert result.exit_code == 0, result.output
    assert "Wrote the daily report (html)" in result.stderr
    html = out.read_text(encoding="utf-8")
    assert html.count("<svg") == 2
    assert "Marketing &amp; growth" in html


def test_cli_report_notify(cli_setup: tuple[Path, str]) -> None:
    plan_file, url = cli_setup
    result = run_cli(
        "report",
        str(plan_file),
        "--format",
        "md",
        "--store",
        url,
        "--at",
        "2026-11-20",
        "--notify",
        "chat",
    )
    assert result.exit_code == 0, result.output
    assert "Sent the daily report to chat" in result.stderr
    ((name, message),) = Recorder.sent
    assert name == "chat"
    assert message.markdown == result.stdout
    assert message.link == "https://okr.example/d.html"


def test_cli_report_notify_failure_exits_1_after_trying_every_channel(
    cli_setup: tuple[Path, str],
) -> None:
    plan_file, url = cli_setup
    result = run_cli(
        "report",
        str(plan_file),
        "--format",
        "md",
        "--store",
        url,
        "--at",
        "2026-11-20",
        "--notify",
        "broken",
        "--notify",
        "chat",
    )
    assert result.exit_code == 1
    assert "errcode 310000" in result.stderr
    assert [name for name, _ in Recorder.sent] == ["chat"]


def test_cli_report_bad_input(cli_setup: tuple[Path, str]) -> None:
    plan_file, url = cli_setup
    assert run_cli("report", str(plan_file), "--kind", "hourly", "--store", url).exit_code == 2
    unknown = run_cli("report", str(plan_file), "--store", url, "--notify", "nowhere")
    assert unknown.exit_code == 1
    assert "unknown channel 'nowhere' (the plan has: broken, chat)" in unknown.stderr


# -- the bundled example plan and its history ----------------------------------------------------
DEMO_AT = dt.date(2026, 11, 20)  # the last day of the bundled history


def demo_history_rows() -> list[tuple[dt.date, str, float]]:
    import csv
    import importlib.resources

    text = (importlib.resources.files("okrcore.demo") / "marketing-history.csv").read_text("utf-8")
    return [
        (dt.date.fromisoformat(r["date"]), r["metric"], float(r["value"]))
        for r in csv.DictReader(text.splitlines())
    ]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Plan, Store]]:
    """The example plan with its whole history refreshed (backfilled) into a memory store."""
    import importlib.resources
    import shutil

    from okrcore import planfile
    from okrcore.engine import refresh
    folder = tmp_path_factory.mktemp("demo")
    for name in ("marketing.yaml", "marketing-history.csv"):
        with importlib.resources.as_file(importlib.resources.files("okrcore.demo") / name) as src:
            shutil.copy(src, folder / name)
    plan = planfile.load_plan(folder / "marketing.yaml")
    s = open_store("memory://")
    result = refresh(plan, s, backfill=(plan.cycles[0].start, DEMO_AT))
    assert not [o for o in result.run.outcomes if o.status == "failed"]
    try:
        yield plan, s
    finally:
        s.close()


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly"])
def test_example_plan_renders_every_format(demo: tuple[Plan, Store], kind: ReportKind) -> None:
    plan, s = demo
    rep = report(plan, s, kind, at=DEMO_AT)
    data = json.loads(render(rep, "json"))
    jsonschema.validate(data, load_schema())
    md, text, html = render(rep, "md"), render(rep, "text", width=400), render(rep, "html")
    for kr in plan.key_results():
        assert kr.title in md
        assert kr.title in text
        assert kr.title in html
    for obj in plan.objectives:
        assert f'data-objective="{obj.id}"' in html
    assert html.count("<svg") == len(list(plan.key_results()))


def test_example_plan_series_follow_the_bundled_history(demo: tuple[Plan, Store]) -> None:
    plan, s = demo
    rep = report(plan, s, "weekly", at=DEMO_AT)
    rows = demo_history_rows()
    for kr in plan.key_results():
        if kr.source is None or kr.metric is None:
            continue
        mine = sorted((d, v) for d, m, v in rows if m == kr.metric and d <= DEMO_AT)
        line = rep.key_result(kr.id)
        assert [p.date for p in line.series] == [d for d, _ in mine], kr.id
        if kr.measure.value == "cumulative":
            assert line.series[-1].value == pytest.approx(sum(v for _, v in mine))
        else:
            assert line.series[-1].value == pytest.approx(mine[-1][1])
    manual = {kr.id for kr in plan.key_results() if kr.source is None and not kr.progress_from}
    assert manual <= set(rep.stale)
    # the rebrand milestone reads the share of its initiatives done (1 of 3), never stale
    assert "rebrand" not in rep.stale
    assert rep.key_result("rebrand").score.actual == pytest.approx(1 / 3)


def test_refresh_sends_the_daily_report_when_asked(
    demo: tuple[Plan, Store], manager: PluginManager
) -> None:
    import attrs

    from okrcore.engine import refresh

    plan, _ = demo
    chat = {"plugin": "recorder", "after_refresh": True}
    plan = attrs.evolve(plan, notify={**plan.notify, "chat": chat})
    s = open_store("memory://")
    result = refresh(plan, s, at=DEMO_AT, manager=manager)
    assert result.hook_errors == ()
    ((name, message),) = Recorder.sent
    assert name == "chat"
    assert message.report["kind"] == "daily"
    assert message.report["as_of"] == DEMO_AT.isoformat()
    assert message.report["last_run"]["id"] == result.run.id
    # a backfill loads history: nobody is notified
    refresh(
        plan,
        open_store("memory://"),
        backfill=(DEMO_AT - dt.timedelta(days=3), DEMO_AT),
        manager=manager,
    )
    assert len(Recorder.sent) == 1


def test_renderers_import_the_report_data_not_the_package() -> None:
    # okrcore.reports imports the renderers (render()), so they must not import it back
    import ast

    import okrcore.reports

    folder = Path(okrcore.reports.__file__).parent
    for path in folder.glob("*.py"):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                assert module != "okrcore.reports", path.name
                assert not (node.level and not module), path.name
    data = folder / "data.py"
    assert "okrcore.scoring" not in data.read_text(encoding="utf-8")  # data needs no scoring


# -- the plan in force: one definition for score, report and the command line ---------------------


@pytest.fixture
def demo_db(tmp_path: Path) -> tuple[Path, str]:
    """The example plan and its history refreshed into a SQLite store the CLI can open."""
    import importlib.resources
    import shutil

    from okrcore import planfile
    from okrcore.engine import refresh

    for name in ("marketing.yaml", "marketing-history.csv"):
        with importlib.resources.as_file(importlib.resources.files("okrcore.demo") / name) as src:
            shutil.copy(src, tmp_path / name)
    url = f"sqlite:///{tmp_path / 'okr.db'}"
    plan = planfile.load_plan(tmp_path / "marketing.yaml")
    with open_store(url) as s:
        refresh(plan, s, backfill=(plan.cycles[0].start, DEMO_AT))
    return tmp_path / "marketing.yaml", url


def test_score_report_and_okr_score_agree_after_a_retarget(demo_db: tuple[Path, str]) -> None:
    import okrcore
    from okrcore import planfile

    plan_file, url = demo_db
    at = DEMO_AT.isoformat()
    args = ("retarget", str(plan_file), "leads", "1150", "--reason", "Q4 budget up")
    result = run_cli(*args, "--at", "2026-11-10", "--store", url)
    assert result.exit_code == 0, result.output
    plan = planfile.load_plan(plan_file)
    with open_store(url) as s:
        card = okrcore.score(plan, s, at=DEMO_AT)
        rep = okrcore.report(plan, s, "weekly", at=DEMO_AT)
        before = okrcore.score(plan, s, at=dt.date(2026, 11, 9))  # the day before the change
    cli = run_cli("score", str(plan_file), "--format", "json", "--store", url, "--at", at)
    assert cli.exit_code == 0, cli.output
    shown = {k["id"]: k for k in json.loads(cli.stdout)["key_results"]}["leads"]
    mine, theirs = card.key_results["leads"], rep.key_result("leads").score
    assert mine.target == theirs.target == shown["target"] == 1150
    assert mine.score == theirs.score
    assert shown["score"] == pytest.approx(mine.score, abs=1e-6)
    assert before.key_results["leads"].target == 1000
    assert rep.key_result("leads").original["target"] == 1000


def test_a_stored_change_that_conflicts_with_the_plan_is_named_not_a_traceback(
    demo_db: tuple[Path, str],
) -> None:
    import okrcore
    from okrcore import planfile
    from okrcore.errors import PlanError

    plan_file, url = demo_db
    when = dt.datetime(2026, 11, 10, 9, tzinfo=UTC)
    with open_store(url) as s:  # written by the API (or an older okrcore), not `okr retarget`
        s.add_target_change(TargetChange("leads", "target", 1000, 1300, "typo", changed_at=when))
    plan = planfile.load_plan(plan_file)
    with open_store(url) as s, pytest.raises(PlanError, match="target change of 'leads'") as err:
        okrcore.score(plan, s, at=DEMO_AT)
    assert "2026-11-10" in str(err.value)
    assert "stretch (1200) falls short of the target (1300)" in str(err.value)
    for command in ("score", "report"):
        result = run_cli(command, str(plan_file), "--store", url, "--at", DEMO_AT.isoformat())
        assert result.exit_code == 2, result.output
        assert "target change of 'leads' recorded on 2026-11-10" in result.output


def test_okr_retarget_refuses_a_target_beyond_the_stretch(demo_db: tuple[Path, str]) -> None:
    plan_file, url = demo_db
    result = run_cli("retarget", str(plan_file), "leads", "1300", "--reason", "x", "--store", url)
    assert result.exit_code == 2
    assert "stretch (1200) falls short of the target (1300)" in result.output
    with open_store(url) as s:
        assert s.target_changes() == []


def test_node_tables_show_score_against_expected_score(demo: tuple[Plan, Store]) -> None:
    from okrcore.reports._format import fixed

    plan, s = demo
    rep = report(plan, s, "monthly", at=DEMO_AT)
    content = next(o.node for o in rep.objectives if o.node.id == "content")
    assert content.expected_score is not None
    assert content.status.value == "yellow"  # never green while its key result leads is red
    shown = f"score {fixed(content.score)} (expected {fixed(content.expected_score)})"
    assert shown in render(rep, "md")
    text = render(rep, "text", width=160)
    assert "Exp." in text  # the header "Exp. score" may wrap
    assert "Expected" not in text
    html = render(rep, "html")
    assert f"expected score {fixed(content.expected_score)}" in html


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly"])
def test_a_report_scores_each_date_it_needs_once(
    plan: Plan, store: Store, kind: ReportKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    from okrcore.scoring import score as real

    days: list[dt.date] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        days.append(kwargs["at"])
        return real(*args, **kwargs)

    monkeypatch.setattr("okrcore.reports.build.score", counting)
    rep = report(plan, store, kind, at=AT)
    # now, the day before (previous lights) and a week before (trends); the pace is the plan
    assert sorted(days) == [AT - dt.timedelta(days=7), AT - dt.timedelta(days=1), AT]
    for line in rep.key_results:
        s = line.score
        assert line.pace[-1].date == s.deadline
        on_day = [p.value for p in line.pace if p.date == AT]
        assert on_day in ([], [s.plan_to_date])


def large_report(krs: int) -> Report:
    """``krs`` key results with a daily history up to AT (the shape bench_report.py times)."""
    objectives = []
    for o in range(krs // 5):
        items = [
            KeyResult(f"o{o}k{k}", f"Key result {o}.{k}", baseline=0, target=1000,
                      stretch=1200 if k % 2 else None, unit="leads", measure="cumulative")
            for k in range(5)
        ]
        objectives.append(Objective(f"o{o}", f"Objective {o}", "2026-Q4", key_results=items))
    big = Plan(title="Large", cycles=[CYCLE], objectives=objectives)
    s = open_store("memory://")
    days = (AT - CYCLE.start).days + 1
    s.add_checkins(
        CheckIn(kr.id, 10.0 + (i % 7), CYCLE.start + dt.timedelta(days=i))
        for kr in big.key_results()
        for i in range(days)
    )
    return report(big, s, "weekly", at=AT)


def test_the_dashboard_draws_a_light_chart_for_every_key_result() -> None:
    rep = large_report(200)
    html = render(rep, "html")
    assert html.count("<svg") == 200
    assert html.count('class="line actual"') == 200
    assert "<script" not in html
    assert len(html.encode()) < 200 * 2 * 1024  # 2 KiB a key result: 2 MiB at 1,000


@pytest.mark.parametrize("value", [1e300, -1e300, 5e-324, 0.0])
@pytest.mark.parametrize("fmt", ["text", "md", "json", "html"])
def test_every_format_renders_extreme_numbers(value: float, fmt: ReportFormat) -> None:
    krs = [
        KeyResult("gauge", "A gauge", baseline=0, target=100, stretch=120, unit="leads"),
        KeyResult("huge", "A huge target", baseline=-1e300, target=1e300),
        KeyResult("sum", "A cumulative count", kind="count", target=1e300, measure="cumulative"),
    ]
    extreme = Plan(cycles=[CYCLE], objectives=[Objective("o", "O", "2026-Q4", key_results=krs)])
    s = open_store("memory://")
    s.add_checkins(
        CheckIn(kr.id, v, CYCLE.start + dt.timedelta(days=i))
        for kr in krs
        for i, v in enumerate((0.0, value, value / 2, value))
    )
    s.add_target_change(TargetChange("gauge", "target", 100, 110, "x",
                                     changed_at=dt.datetime(2026, 10, 2, tzinfo=UTC)))
    for kind in KINDS:
        out = render(report(extreme, s, kind, at=AT), fmt, width=120)
        assert "A huge target" in out
        if fmt == "json":
            jsonschema.validate(json.loads(out), load_schema())


def test_a_report_looks_lines_up_by_id(plan: Plan, store: Store) -> None:
    rep = report(plan, store, "weekly", at=AT)
    assert [rep.key_result(line.id) for line in rep.key_results] == list(rep.key_results)
    with pytest.raises(KeyError):
        rep.key_result("no-such-key-result")
    assert rep.initiatives_for("no-such-key-result") == ()
    # the index is derived from the lines: an evolved report rebuilds it
    assert attrs.evolve(rep, key_results=rep.key_results[:1]).key_result(
        rep.key_results[0].id
    ) is rep.key_results[0]
    with pytest.raises(KeyError):
        attrs.evolve(rep, key_results=rep.key_results[:1]).key_result(rep.key_results[1].id)
