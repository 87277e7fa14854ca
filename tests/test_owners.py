"""Owners: the ``owners`` plan section, the lint rule on owner references, ``--owner`` filtering
and how reports name (external) owners."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from okrcore.checks import Finding, check
from okrcore.cli import main
from okrcore.errors import PlanError, ValidationError
from okrcore.exchange import read_tables, write_tables
from okrcore.model import CheckIn, Cycle, KeyResult, Objective, Owner, Plan
from okrcore.planfile import dumps_plan, loads_plan
from okrcore.reports import ReportFormat, render, report
from okrcore.store import MemoryStore

AT = dt.date(2026, 11, 20)

PLAN = """\
okrcore: 1
title: Owned
owners:
  - {id: maria, name: Maria Chen, notify: chat, email: maria@example.com}
  - {id: bright, name: Bright PR, external: true, email: team@bright.example}
  - {id: seo, name: SEO team, notify: chat}
notify:
  chat: {plugin: slack, url: env:SLACK_URL}
cycles:
  - {id: q4, start: 2026-10-01, end: 2026-12-31}
objectives:
  - id: reach
    title: Reach buyers
    owner: maria
    cycle: q4
    key_results:
      - {id: leads, title: Leads reach 1000, unit: leads, measure: cumulative, target: 1000,
         baseline: 0, cadence: daily}
      - {id: mentions, title: Press mentions reach 3, kind: count, unit: mentions, target: 3,
         cadence: weekly, owner: bright}
  - id: traffic
    title: Traffic
    owner: seo
    cycle: q4
    parent: reach
    key_results:
      - {id: sessions, title: Sessions reach 5000, unit: sessions, baseline: 4000, target: 5000,
         cadence: weekly}
    strategies:
      - {id: seo-push, title: SEO push, owner: seo}
"""


def load(text: str = PLAN) -> Plan:
    return loads_plan(text, "yaml", name="owned.yaml")


def test_owners_section_loads_with_defaults_and_a_clear_repr() -> None:
    plan = load()
    assert plan.owner("bright") == Owner(
        "bright", "Bright PR", external=True, email="team@bright.example"
    )
    assert Owner("ann").name == "ann"  # the name defaults to the id
    assert repr(plan.owner("seo")) == (
        "Owner(id='seo', name='SEO team', external=False, notify='chat', email=None)"
    )
    assert plan.owner_label("bright") == "Bright PR (external)"
    assert plan.owner_label("maria") == "Maria Chen"
    assert plan.owner_label("someone else") == "someone else"  # free text as written
    assert plan.find_owner("nobody") is None
    assert plan.kr_owner("leads") == "maria"  # from the objective
    assert plan.kr_owner("mentions") == "bright"


@pytest.mark.parametrize("fmt", ["yaml", "json", "toml"])
def test_dump_round_trips_owners(fmt: str) -> None:
    plan = load()
    again = loads_plan(dumps_plan(plan, fmt), fmt)
    assert again == plan
    assert again.owners == plan.owners


def test_loader_names_bad_owner_entries_with_line_and_path() -> None:
    bad = PLAN.replace("notify: chat, email: maria", "notify: chta, email: maria").replace(
        "email: team@bright.example", "email: not-an-address"
    ) + "\n" + "  - {id: seo, title: dup, cycle: q4}\n".replace("title: dup", "title: x")
    bad = bad.replace("  - {id: seo, name: SEO team", "  - {id: maria, name: SEO team")
    with pytest.raises(PlanError) as err:
        load(bad)
    text = str(err.value)
    assert "owned.yaml:4:" in text
    assert "owners[0].notify: unknown notify channel 'chta'" in text
    assert "did you mean 'chat'" in text
    assert "owners[1].email: expected an email address" in text
    assert "owners[2].id: duplicate owner id 'maria'" in text


def test_model_refuses_an_unknown_notify_channel_and_a_bad_email() -> None:
    with pytest.raises(ValidationError, match="email address"):
        Owner("x", email="nope")
    with pytest.raises(PlanError, match="unknown notify channel 'chat'"):
        Plan(owners=[Owner("x", notify="chat")])


def owner_findings(plan: Plan) -> list[Finding]:
    return [f for f in check(plan) if f.code.startswith("OKR-O")]


def codes(plan: Plan) -> list[tuple[str, str, int | None]]:
    return [(f.code, f.where, f.line) for f in owner_findings(plan)]


def test_lint_flags_unknown_owners_with_line_and_field_path() -> None:
    text = PLAN.replace("owner: bright}", "owner: brigth}").replace(
        "{id: seo-push, title: SEO push, owner: seo}", "{id: seo-push, title: SEO push, owner: ann}"
    )
    plan = load(text)  # still loads: owners are checked by lint, not by the loader
    findings = [f for f in check(plan) if f.code == "OKR-O001"]
    assert [(f.where, f.line) for f in findings] == [
        ("objectives[0].key_results[1].owner", 20),
        ("objectives[1].strategies[0].owner", 30),
    ]
    assert "did you mean 'bright'?" in findings[0].message
    assert "owners: maria, bright, seo" in findings[1].message
    assert all(f.severity.value == "error" for f in findings)


def test_plans_without_owners_section_keep_free_text_owners_unchecked() -> None:
    lines = PLAN.splitlines(keepends=True)
    text = "".join(lines[:2] + lines[6:])  # without the owners section
    plan = load(text)
    assert plan.owners == ()
    assert codes(plan) == []
    assert plan.owner_label("maria") == "maria"
    assert plan.known_owners() == ["maria", "bright", "seo"]


def test_lint_says_when_an_owner_cannot_be_reached() -> None:
    plan = load(PLAN.replace("{id: seo, name: SEO team, notify: chat}", "{id: seo}"))
    assert codes(plan) == [("OKR-O002", "owners[2]", 6)]


def test_answers_for_keeps_own_key_results_and_those_of_own_objectives() -> None:
    plan = load()
    assert plan.answers_for("maria") == (["reach"], ["leads", "mentions"])
    assert plan.answers_for("bright") == (["reach"], ["mentions"])
    assert plan.answers_for("seo") == (["traffic"], ["sessions"])


@pytest.fixture
def store() -> MemoryStore:
    s = MemoryStore()
    s.add_checkins(
        [
            CheckIn("leads", 10.0, dt.date(2026, 10, 1) + dt.timedelta(days=d))
            for d in range((AT - dt.date(2026, 10, 1)).days + 1)
        ]
        + [CheckIn("sessions", 4500.0, AT), CheckIn("mentions", 1.0, AT)]
    )
    return s


def test_report_for_an_owner_keeps_its_part_with_the_plans_numbers(store: MemoryStore) -> None:
    plan = load()
    whole = report(plan, store, "daily", at=AT)
    mine = report(plan, store, "daily", at=AT, owner="bright")
    assert [line.id for line in mine.key_results] == ["mentions"]
    assert [(o.node.id, o.key_results) for o in mine.objectives] == [("reach", ("mentions",))]
    # the objective's score still counts its other key results
    assert mine.objectives[0].node == whole.objectives[0].node
    assert mine.key_result("mentions") == whole.key_result("mentions")
    # Bright PR holds a key result and no objective: its row is that key result's
    (row,) = mine.rollups["owner"]
    assert (row.id, row.title) == ("bright", "Bright PR (external)")
    kr = whole.key_result("mentions").score
    assert (row.score, row.expected, row.status) == (kr.score, kr.expected, kr.status)
    assert row in whole.rollups["owner"]
    assert mine.rollups["level"] == ()
    assert "owner Bright PR (external)" in mine.title
    data = json.loads(render(mine, "json"))
    assert data["owner"] == "bright"
    assert {"id": "bright", "name": "Bright PR", "external": True} in data["owners"]
    seo = report(plan, store, "monthly", at=AT, owner="seo")
    assert [n.title for n in seo.rollups["owner"]] == ["SEO team"]
    with pytest.raises(ValidationError, match="unknown owner 'brigth'; did you mean 'bright'"):
        report(plan, store, "daily", at=AT, owner="brigth")


@pytest.mark.parametrize("fmt", ["text", "md", "html"])
def test_reports_name_owners_and_mark_external_ones(store: MemoryStore, fmt: ReportFormat) -> None:
    out = render(report(load(), store, "daily", at=AT), fmt, width=80)
    assert "Maria Chen" in out
    assert "Bright PR (external)" in out  # the key result's owner differs from its objective's


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": "80"})
    return result.exit_code, result.output


def test_cli_owner_filter_on_score_and_report(tmp_path: Path, store: MemoryStore) -> None:
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(PLAN, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'okr.db'}"
    for ci in store.checkins():
        code, out = run("checkin", str(plan_file), ci.kr_id, str(ci.value), "--store", url,
                        "--at", ci.as_of.isoformat())
        assert code == 0, out
    code, out = run("score", str(plan_file), "--store", url, "--at", "2026-11-20",
                    "--owner", "bright", "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert [k["id"] for k in data["key_results"]] == ["mentions"]
    assert [o["id"] for o in data["objectives"]] == ["reach"]
    assert data["objectives"][0]["owner_name"] == "Maria Chen"
    code, out = run("score", str(plan_file), "--store", url, "--at", "2026-11-20",
                    "--owner", "bright")
    assert code == 0, out
    assert "owner Bright PR (external)" in out
    assert "sessions" not in out
    assert max(len(line) for line in out.splitlines()) <= 80
    code, out = run("score", str(plan_file), "--store", url, "--at", "2026-11-20")
    assert "owner seo" in out
    assert "SEO team" in out
    code, out = run("report", str(plan_file), "--store", url, "--at", "2026-11-20",
                    "--owner", "seo", "--format", "md")
    assert code == 0, out
    assert "Sessions reach 5000" in out
    assert "Leads reach" not in out
    code, out = run("report", str(plan_file), "--store", url, "--owner", "nobody")
    assert code == 2
    assert "unknown owner 'nobody'" in out
    assert "owners in the plan: maria, bright, seo" in out


def test_export_import_keeps_owners(tmp_path: Path) -> None:
    plan = load()
    write_tables(plan, [], tmp_path)
    assert (tmp_path / "owners.csv").read_text(encoding="utf-8").splitlines()[:2] == [
        "id,name,external,email",
        "maria,Maria Chen,false,maria@example.com",
    ]
    again, _ = read_tables(tmp_path)
    # notify channels are not exported: the rest of each owner comes back
    assert again.owners == tuple(
        Owner(o.id, o.name, o.external, None, o.email) for o in plan.owners
    )


def test_python_api_builds_owners() -> None:
    plan = Plan(
        cycles=[Cycle("q", dt.date(2026, 1, 1), dt.date(2026, 3, 31))],
        objectives=[
            Objective("o", "O", "q", owner="x", key_results=[KeyResult("k", "K 5", target=5,
                                                                        baseline=0, owner="y")])
        ],
        owners=[Owner("x", "Xavier"), Owner("y", "Agency Y", external=True)],
    )
    assert list(plan.owner_refs()) == [
        ("objectives[0].owner", "x"),
        ("objectives[0].key_results[0].owner", "y"),
    ]
    assert plan.owner_label(plan.kr_owner("k")) == "Agency Y (external)"


def test_an_owner_of_key_results_only_is_rolled_up_over_them() -> None:
    from okrcore import Cycle, KeyResult, Objective, Plan, score

    plan = Plan(
        cycles=[Cycle("q4", dt.date(2026, 10, 1), dt.date(2026, 12, 31))],
        objectives=[
            Objective("a", "A", "q4", owner="ann", key_results=[
                KeyResult("k1", "K1", baseline=0, target=10, owner="cy", weight=3),
                KeyResult("k2", "K2", baseline=0, target=10),
            ]),
            Objective("b", "B", "q4", owner="bo", key_results=[
                KeyResult("k3", "K3", baseline=0, target=10, owner="cy", weight=1),
                KeyResult("k4", "K4", baseline=0, target=10, owner="ann"),
            ]),
        ],
    )
    day = dt.date(2026, 11, 1)
    card = score(plan, [CheckIn("k1", 8, day), CheckIn("k3", 4, day), CheckIn("k2", 5, day)],
                 at=day)
    # ann and bo own objectives (their rows stay over objectives); cy holds only key results
    assert list(card.by_owner) == ["ann", "bo", "cy"]
    cy = card.by_owner["cy"]
    k1, k3 = card.key_results["k1"].score, card.key_results["k3"].score
    assert k1 is not None
    assert k3 is not None
    assert cy.score == pytest.approx((3 * k1 + 1 * k3) / 4)
    assert card.by_owner["ann"].score == card.objectives["a"].score
    assert [n["id"] for n in card.to_dict()["rollups"]["owner"]] == ["ann", "bo", "cy"]


REMINDED = PLAN.replace("title: Owned\n", "title: Owned\nreminders: {escalate_after: 2}\n")


def test_lint_flags_owners_reminders_cannot_reach_in_okr_reminds_words() -> None:
    from okrcore.remind import failures, reminders, send_reminders

    plan = load(REMINDED)  # bright has an email, but the plan has no email channel
    found = owner_findings(plan)
    assert [(f.code, f.where, f.line) for f in found] == [
        ("OKR-O003", "objectives[0].key_results[1].owner", 21)
    ]
    assert found[0].severity.value == "error"
    assert found[0].message == (
        "owner 'bright' has an email but the plan has no email channel (a notify channel with "
        "plugin: email): okr remind cannot remind them of key result 'mentions'"
    )
    # okr remind fails for the same owner with the same words
    due = reminders(plan, MemoryStore(), at=AT)
    problems = failures(due, send_reminders(plan, MemoryStore(), due, dry_run=True))
    assert problems == [found[0].message.split(": okr remind")[0]]


MAILED = REMINDED.replace(
    "notify:\n", "notify:\n  mail: {plugin: email, host: smtp.example.com, from: o@example.com,"
    " to: [o@example.com]}\n")


def test_reminder_reach_covers_escalations_and_free_text_owners() -> None:
    assert codes(load(MAILED)) == []
    # seo loses its channel: 'sessions' has no owner of its own, so the finding points at its
    # objective's owner field (and replaces the OKR-O002 hint about the same owner)
    plan = load(MAILED.replace("{id: seo, name: SEO team, notify: chat}", "{id: seo}"))
    assert codes(plan) == [("OKR-O003", "objectives[1].owner", 25)]
    assert MAILED.splitlines()[25 - 1] == "    owner: seo"
    assert owner_findings(plan)[0].message == (
        "owner 'seo' has neither a notify channel nor an email: okr remind cannot remind them "
        "of key result 'sessions'")
    # maria, without a channel, is reminded of 'leads' (hers through her objective) and, after
    # escalate_after periods, of bright's 'mentions'
    text = MAILED.replace("notify: chat, email: maria@example.com", "")
    found = owner_findings(load(text))
    assert [(f.code, f.where) for f in found] == [("OKR-O003", "objectives[0].owner")]
    assert found[0].message.endswith("remind them of 2 key results (leads, mentions)")
    # leads given to seo and escalation off: nothing reminds maria, only the OKR-O002 hint
    text = text.replace("baseline: 0, cadence: daily}", "baseline: 0, cadence: daily, owner: seo}")
    assert codes(load(text.replace("escalate_after: 2", "escalate_after: 0"))) == [
        ("OKR-O002", "owners[0]", 5)]
    assert [c for c, _w, _l in codes(load(text))] == ["OKR-O003"]  # escalations reach her
    # without an owners section, every owner reminders reach is free text nobody can reach
    lines = REMINDED.splitlines(keepends=True)
    no_owners = load("".join(lines[:3] + lines[7:]))
    assert [(f.code, f.where) for f in owner_findings(no_owners)] == [
        ("OKR-O003", "objectives[0].owner"),
        ("OKR-O003", "objectives[0].key_results[1].owner"),
        ("OKR-O003", "objectives[1].owner"),
    ]
    assert owner_findings(no_owners)[0].message.startswith(
        "owner 'maria' is not in the plan's owners section: no channel or email to reach them")
    # no reminders section: free-text owners stay unchecked, as before
    lines = PLAN.splitlines(keepends=True)
    assert codes(load("".join(lines[:2] + lines[6:]))) == []
