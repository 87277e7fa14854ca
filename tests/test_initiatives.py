"""Initiatives under strategies: the plan format, the model, progress from initiatives, what each
report shows of them, ``okr strategy`` and the budget-cut check of ``okr lint``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from okrcore.checks import check
from okrcore.cli import main
from okrcore.errors import PlanError, ValidationError
from okrcore.model import (
    CheckIn,
    Initiative,
    InitiativeStatus,
    Plan,
    StrategyChange,
    TargetChange,
)
from okrcore.planfile import dumps_plan, loads_plan
from okrcore.reports import render, report
from okrcore.scoring import LiveScore, score
from okrcore.store import MemoryStore

AT = dt.date(2026, 11, 20)
UTC = dt.timezone.utc

PLAN = """\
okrcore: 1
title: Launch
owners:
  - {id: ann, name: Ann Lee, email: ann@example.com}
  - {id: agency, name: Pixel Agency, external: true, email: hi@pixel.example}
cycles:
  - {id: q4, start: 2026-10-01, end: 2026-12-31}
objectives:
  - id: reach
    title: Reach buyers
    owner: ann
    cycle: q4
    budget: 100000
    key_results:
      - {id: leads, title: Leads reach 1000, unit: leads, measure: cumulative, baseline: 0,
         target: 1000, cadence: daily}
      - {id: sessions, title: Sessions reach 5000, unit: sessions, baseline: 4000, target: 5000,
         cadence: weekly}
      - {id: relaunch, title: Relaunch the site, kind: milestone, cadence: weekly,
         progress_from: initiatives}
    strategies:
      - id: seo
        title: SEO push
        budget: 60000
        initiatives:
          - {id: keywords, title: Keyword overhaul, due: 2026-10-31, status: done,
             budget: 15000, key_results: [sessions, relaunch]}
          - {id: pages, title: Publish 40 landing pages, due: 2026-11-15, status: doing,
             budget: 30000, key_results: [sessions, relaunch], owner: agency}
          - {id: video, title: Explainer video, status: dropped, key_results: relaunch}
          - {id: templates, title: New page templates, due: 2026-12-15, key_results: [relaunch],
             blocked: design review}
      - id: events
        title: Trade shows
        budget: 20000
"""


def load(text: str = PLAN) -> Plan:
    return loads_plan(text, "yaml", name="launch.yaml")


def test_initiatives_load_with_their_defaults_and_lookups() -> None:
    plan = load()
    pages = plan.initiative("pages")
    assert pages == Initiative(
        "pages",
        "Publish 40 landing pages",
        owner="agency",
        due=dt.date(2026, 11, 15),
        status=InitiativeStatus.DOING,
        budget=30000.0,
        key_results=("sessions", "relaunch"),
    )
    assert plan.initiative("templates").status is InitiativeStatus.PLANNED
    assert [i.id for i in plan.initiatives()] == ["keywords", "pages", "video", "templates"]
    assert plan.strategy_of("pages").id == "seo"
    assert plan.initiative_objective("pages").id == "reach"
    assert plan.initiative_owner("keywords") == "ann"  # no strategy owner: the objective's
    assert plan.initiative_owner("pages") == "agency"
    assert [i.id for i in plan.initiatives_for("sessions")] == ["keywords", "pages"]
    assert ("objectives[0].strategies[0].initiatives[1].owner", "agency") in set(
        plan.owner_refs()
    )


def test_overdue_means_open_after_the_due_day() -> None:
    ini = Initiative("x", "X", due=dt.date(2026, 11, 15), status="doing")
    assert not ini.overdue(dt.date(2026, 11, 15))
    assert ini.overdue(dt.date(2026, 11, 16))
    assert not Initiative("x", "X", due=dt.date(2026, 11, 15), status="done").overdue(AT)
    assert not Initiative("x", "X").overdue(AT)  # no due day


@pytest.mark.parametrize("fmt", ["yaml", "json", "toml"])
def test_dump_round_trips_initiatives(fmt: str) -> None:
    plan = load()
    assert loads_plan(dumps_plan(plan, fmt), fmt) == plan


def test_loader_names_bad_initiatives_with_line_and_path() -> None:
    text = (
        PLAN.replace("key_results: [sessions, relaunch], owner: agency}",
                     "key_results: [sesions, relaunch], owner: agency}")
        .replace("status: dropped", "status: stopped")
        .replace("{id: templates,", "{id: keywords,")
    )
    with pytest.raises(PlanError) as err:
        load(text)
    text = str(err.value)
    assert (
        "launch.yaml:29:43: objectives[0].strategies[0].initiatives[1].key_results[0]: "
        "unknown key result 'sesions' (did you mean 'sessions'?)"
    ) in text
    assert "initiatives[2].status: expected one of planned, doing, done, dropped" in text
    assert "initiatives[3].id: duplicate initiative id 'keywords'" in text


def test_progress_from_needs_a_linked_initiative_and_a_milestone() -> None:
    unlinked = PLAN.replace("key_results: relaunch}", "key_results: leads}").replace(
        "[sessions, relaunch]", "[sessions]"
    ).replace("key_results: [relaunch],", "key_results: [leads],")
    with pytest.raises(PlanError, match=r"key_results\[2\].progress_from: key result 'relaunch'"):
        load(unlinked)
    with pytest.raises(PlanError, match="progress_from: initiatives needs a milestone"):
        load(PLAN.replace("kind: milestone, cadence: weekly,", "target: 3, cadence: weekly,"))


def test_milestone_progress_is_the_share_of_initiatives_done() -> None:
    plan = load()
    # keywords done, pages doing, templates planned; the dropped video does not count: 1 of 3
    assert plan.initiative_share("relaunch") == pytest.approx(1 / 3)
    card = score(plan, [CheckIn("relaunch", 1.0, AT)], at=AT)  # check-ins of it are ignored
    relaunch = card.key_results["relaunch"]
    assert relaunch.actual == pytest.approx(1 / 3)
    assert relaunch.progress == pytest.approx(1 / 3)
    assert not relaunch.stale
    done = plan.with_initiative_statuses({"pages": "done", "templates": InitiativeStatus.DONE})
    assert score(done, [], at=AT).key_results["relaunch"].actual == 1.0
    dropped = plan.with_initiative_statuses({i.id: "dropped" for i in plan.initiatives()})
    assert score(dropped, [], at=AT).key_results["relaunch"].actual is None
    live = LiveScore(plan, [], at=AT)
    assert live.add(CheckIn("relaunch", 1.0, AT)) is None
    with pytest.raises(ValidationError, match="unknown initiative"):
        plan.with_initiative_statuses({"nope": "done"})


@pytest.fixture
def store() -> MemoryStore:
    s = MemoryStore()
    days = (AT - dt.date(2026, 10, 1)).days + 1
    s.add_checkins(
        [CheckIn("leads", 12.0, dt.date(2026, 10, 1) + dt.timedelta(days=d)) for d in range(days)]
        + [CheckIn("sessions", 4300.0, AT)]  # behind its plan to date
    )
    return s


def test_daily_report_lists_overdue_and_blocked_initiatives(store: MemoryStore) -> None:
    rep = report(load(), store, "daily", at=AT)
    assert [(i.id, i.state) for i in rep.attention] == [
        ("pages", "doing, overdue 5 days"),
        ("templates", "planned, due 2026-12-15, blocked: design review"),
    ]
    text = render(rep, "text", width=80)
    assert "Overdue and blocked initiatives" in text
    assert "Pixel Agency (external)" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    md = render(rep, "md")
    assert "### Overdue and blocked initiatives" in md
    assert "- **Publish 40 landing pages**: doing, overdue 5 days · Pixel Agency (external)" in md
    html = render(rep, "html")
    assert 'id="initiatives"' in html
    assert "blocked: design review" in html
    data = json.loads(render(rep, "json"))
    pages = next(i for i in data["initiatives"] if i["id"] == "pages")
    assert pages["overdue"] is True
    assert pages["days_overdue"] == 5
    assert pages["owner"] == "agency"
    assert data["summary"]["initiatives"] == {
        "planned": 1, "doing": 1, "done": 1, "dropped": 1, "overdue": 1, "blocked": 1,
    }


def test_weekly_gap_analysis_lists_the_initiatives_of_lagging_key_results(
    store: MemoryStore,
) -> None:
    rep = report(load(), store, "weekly", at=AT)
    sessions = rep.key_result("sessions")
    assert sessions.gap is not None
    assert sessions.gap < 0
    assert "sessions" in rep.lagging
    assert "leads" not in rep.lagging  # no initiative names it
    assert [i.id for i in rep.initiatives_for("sessions")] == ["keywords", "pages"]
    data = json.loads(render(rep, "json"))
    assert data["lagging"]["sessions"] == ["keywords", "pages"]
    text = render(rep, "text", width=80)
    assert "Initiatives of lagging key results" in text
    assert "Keyword overhaul" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    md = render(rep, "md")
    assert "### Initiatives of lagging key results" in md
    assert "  - **Keyword overhaul**: done" in md
    assert "Initiatives of lagging key results" in render(rep, "html")
    monthly = render(report(load(), store, "monthly", at=AT), "md")
    assert "### Initiatives" in monthly
    assert "Explainer video" in monthly  # the monthly review lists every initiative


def test_owner_filter_keeps_the_owners_initiatives(store: MemoryStore) -> None:
    rep = report(load(), store, "daily", at=AT, owner="agency")
    assert [i.id for i in rep.initiatives] == ["pages"]


def cut(budget: float, day: int, strategy: str = "seo") -> StrategyChange:
    when = dt.datetime(2026, 11, day, 9, tzinfo=UTC)
    return StrategyChange(strategy, "budget", 60000.0, budget, "money moved to events", when)


def budget_findings(plan: Plan, **kw: object) -> list[tuple[str, str]]:
    findings = check(plan, **kw)  # type: ignore[arg-type]
    return [(f.where, f.message) for f in findings if f.code == "OKR-F001"]


def test_lint_flags_key_results_whose_strategy_budget_was_cut() -> None:
    plan = load()
    assert budget_findings(plan) == []
    found = budget_findings(plan, strategy_changes=[cut(30000.0, 10)])
    assert [w for w, _ in found] == [
        "objectives[0].key_results[1].target",  # sessions and relaunch: the initiatives' links
        "objectives[0].key_results[2].target",
    ]
    assert "cut from 60,000 to 30,000 (-50%) on 2026-11-10 (money moved to events)" in found[0][1]
    assert "keeps its target 5,000 sessions" in found[0][1]
    # a target recorded after the cut, or a key result re-checked, is not flagged
    retarget = TargetChange("sessions", "target", 5000, 4800, "budget cut",
                            dt.datetime(2026, 11, 12, tzinfo=UTC))
    assert [w for w, _ in budget_findings(plan, strategy_changes=[cut(30000.0, 10)],
                                          target_changes=[retarget])] == [
        "objectives[0].key_results[2].target"
    ]
    rechecked = load(PLAN + "checks:\n  budget_cuts: {rechecked: [sessions, relaunch]}\n")
    assert budget_findings(rechecked, strategy_changes=[cut(30000.0, 10)]) == []
    # a small cut, a cut after --at, and a budget restored are not flagged
    assert budget_findings(plan, strategy_changes=[cut(57000.0, 10)]) == []
    assert budget_findings(plan, strategy_changes=[cut(30000.0, 25)], at=AT) == []
    back = StrategyChange("seo", "budget", 30000.0, 60000.0, "back",
                          dt.datetime(2026, 11, 15, tzinfo=UTC))
    assert budget_findings(plan, strategy_changes=[cut(30000.0, 10), back]) == []
    # a strategy whose initiatives name no key result works for its whole objective
    events = StrategyChange("events", "budget", 20000.0, 5000.0, "cancelled",
                            dt.datetime(2026, 11, 10, tzinfo=UTC))
    assert len(budget_findings(plan, strategy_changes=[events])) == 3


def test_lint_flags_initiative_budgets_over_their_strategy() -> None:
    plan = load(PLAN.replace("budget: 30000, key_results: [sessions", "budget: 50000, "
                             "key_results: [sessions"))
    found = [f for f in check(plan) if f.code == "OKR-B003"]
    assert [f.where for f in found] == ["objectives[0].strategies[0].budget"]
    assert "initiatives budget 65,000 in all, over the strategy's budget of 60,000" in (
        found[0].message
    )


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": "80"})
    return result.exit_code, result.output


def test_okr_strategy_records_a_budget_cut_that_okr_lint_then_flags(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(PLAN, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'okr.db'}"
    code, out = run("checkin", str(plan_file), "leads", "12", "--store", url, "--at",
                    "2026-10-01")  # makes the store, as a team's first check-in would
    assert code == 0, out
    code, out = run("lint", str(plan_file), "--store", url)
    assert code == 0, out
    assert "OKR-F001" not in out
    code, out = run("strategy", str(plan_file), "seo", "--budget", "30000", "--reason",
                    "money moved to events", "--store", url, "--at", "2026-11-10")
    assert code == 0, out
    assert "seo: budget 60,000 → 30,000. Reason: money moved to events" in out
    code, out = run("strategy", str(plan_file), "seo", "--budget", "30000", "--reason", "again",
                    "--store", url, "--at", "2026-11-11")
    assert "nothing recorded" in out  # the same value in force records nothing
    code, out = run("lint", str(plan_file), "--store", url, "--format", "json")
    data = json.loads(out)
    flagged = [f for f in data["findings"] if f["code"] == "OKR-F001"]
    assert [(f["where"], f["line"]) for f in flagged] == [
        ("objectives[0].key_results[1].target", 17),
        ("objectives[0].key_results[2].target", 19),
    ]
    code, out = run("report", str(plan_file), "--store", url, "--at", "2026-11-20",
                    "--kind", "monthly", "--format", "md")
    assert "### Strategy changes" in out
    code, out = run("strategy", str(plan_file), "seoo", "--budget", "1", "--reason", "x",
                    "--store", url)
    assert code == 2
    assert "unknown strategy 'seoo'; strategies in the plan: seo, events" in out
