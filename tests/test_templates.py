"""Plan templates and ``okr init``: every built-in template is a commented, lint-clean plan for
the quarter it starts in; plugins add templates through the hook."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import okrcore
from okrcore.cli import main
from okrcore.errors import OkrError
from okrcore.plugins import PluginManager
from okrcore.templates import Template, quarter_of, render

BUILTINS = ("marketing", "sales", "product", "smart-goal")


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [
        (dt.date(2026, 1, 1), dt.date(2026, 1, 1), dt.date(2026, 3, 31)),
        (dt.date(2026, 3, 31), dt.date(2026, 1, 1), dt.date(2026, 3, 31)),
        (dt.date(2026, 5, 17), dt.date(2026, 4, 1), dt.date(2026, 6, 30)),
        (dt.date(2026, 9, 30), dt.date(2026, 7, 1), dt.date(2026, 9, 30)),
        (dt.date(2026, 12, 31), dt.date(2026, 10, 1), dt.date(2026, 12, 31)),
        (dt.date(2028, 2, 29), dt.date(2028, 1, 1), dt.date(2028, 3, 31)),
    ],
)
def test_quarter_of(day: dt.date, start: dt.date, end: dt.date) -> None:
    assert quarter_of(day) == (start, end)


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("day", [dt.date(2027, 2, 1), dt.date(2026, 11, 29)])
def test_builtin_templates_are_lint_clean_plans_for_the_quarter(name: str, day: dt.date) -> None:
    template = PluginManager(load_entry_points=False).templates.get(name)
    start, end = quarter_of(day)
    text = render(template, start=start, end=end)
    assert text.lstrip().startswith("#"), "a template explains itself in comments"
    plan = okrcore.loads_plan(text, format="yaml")
    assert [(c.start, c.end) for c in plan.cycles] == [(start, end)]
    assert okrcore.check(plan, manager=PluginManager(load_entry_points=False)) == []
    assert sum(1 for _ in plan.key_results()) >= 2


def test_render_refuses_an_unknown_placeholder() -> None:
    template = Template("x", "x", "start: {{start}}\nteam: {{team}}\n")
    with pytest.raises(OkrError, match=r"unknown placeholder \{\{team\}\}"):
        render(template, start=dt.date(2027, 1, 1), end=dt.date(2027, 3, 31))


def test_template_names_are_plain() -> None:
    with pytest.raises(OkrError, match="lowercase"):
        Template("My Template", "x", "okrcore: 1\n")


def test_okr_init_writes_a_plan_that_lints_and_scores(tmp_path: Path) -> None:
    runner = CliRunner()
    plan = tmp_path / "plan.yaml"
    result = runner.invoke(main, ["init", str(plan), "--template", "sales", "--quarter", "2027-q2"])
    assert result.exit_code == 0, result.output
    assert "2027-04-01 to 2027-06-30" in result.output
    assert "cycles:\n  - id: 2027-Q2\n    title: Q2 2027\n" in plan.read_text()
    lint = runner.invoke(main, ["lint", str(plan)])
    assert lint.exit_code == 0, lint.output
    store = f"sqlite:///{tmp_path}/okr.db"
    checkin = runner.invoke(main, ["checkin", str(plan), "new-customers", "3", "--store", store,
                                   "--at", "2027-04-10"])
    assert checkin.exit_code == 0, checkin.output
    card = runner.invoke(main, ["score", str(plan), "--store", store, "--at", "2027-04-10",
                                "--format", "json"])
    assert card.exit_code == 0, card.output
    krs = {kr["id"]: kr for kr in json.loads(card.output)["key_results"]}
    assert krs["new-customers"]["actual"] == 3


def test_okr_init_does_not_overwrite(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("mine\n")
    runner = CliRunner()
    result = runner.invoke(main, ["init", str(plan)])
    assert result.exit_code == 2
    assert "exists" in result.output
    assert plan.read_text() == "mine\n"
    forced = runner.invoke(main, ["init", str(plan), "--force", "-t", "smart-goal"])
    assert forced.exit_code == 0, forced.output
    assert "SMART goal" in plan.read_text()


def test_okr_init_list_and_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(main, ["init", "--list"])
    assert listed.exit_code == 0
    assert [line.split()[0] for line in listed.output.splitlines()] == sorted(BUILTINS)
    as_json = json.loads(runner.invoke(main, ["init", "--list", "--format", "json"]).output)
    assert {t["name"] for t in as_json} >= set(BUILTINS)
    unknown = runner.invoke(main, ["init", str(tmp_path / "p.yaml"), "-t", "markting"])
    assert unknown.exit_code == 2
    assert "unknown template 'markting'" in unknown.output
    assert "marketing" in unknown.output
    bad = runner.invoke(main, ["init", str(tmp_path / "p.yaml"), "--quarter", "2027-Q5"])
    assert bad.exit_code == 2
    assert "2027-Q1" in bad.output
    assert not (tmp_path / "p.yaml").exists()


def test_marketing_template_reminds_its_owners_through_its_file_channel(tmp_path: Path) -> None:
    # okr init, a check-in to open a store, then okr remind three weeks into the quarter: every
    # owner is reached (the email channel is the template's local file), and exit code 0
    runner = CliRunner()
    plan = tmp_path / "plan.yaml"
    store = f"sqlite:///{tmp_path / 'okr.db'}"
    at = "2027-01-21"
    made = runner.invoke(main, ["init", str(plan), "-t", "marketing", "--quarter", "2027-Q1"])
    assert made.exit_code == 0, made.output
    done = runner.invoke(main, ["checkin", str(plan), "cac", "190", "--store", store, "--at", at])
    assert done.exit_code == 0, done.output
    sent = runner.invoke(main, ["remind", str(plan), "--store", store, "--at", at,
                                "--format", "json"])
    assert sent.exit_code == 0, sent.output
    results = json.loads(sent.stdout)["results"]
    assert {r["owner"]: r["status"] for r in results} == {
        "cmo": "sent", "seo-team": "sent", "search-agency": "sent", "growth-team": "sent"}
    assert {r["channel"] for r in results} == {"owner-mail"}
    text = (tmp_path / "reminders.md").read_text(encoding="utf-8")
    assert "check-in reminder for Search agency (external) (1 key result)" in text
    again = runner.invoke(main, ["remind", str(plan), "--store", store, "--at", at])
    assert again.exit_code == 0
    assert "skipped cmo: already reminded in 2027-W03" in again.output


def test_the_sales_template_s_commented_commands_work(tmp_path: Path) -> None:
    """The sales template shows a sum of parts, an objective with two parents, KPIs and
    confidence in tenths; the commands its header suggests work on it as written."""
    runner = CliRunner()
    plan = tmp_path / "plan.yaml"
    assert runner.invoke(main, ["init", str(plan), "--template", "sales",
                                "--quarter", "2027-q2"]).exit_code == 0  # fmt: skip
    loaded = okrcore.load_plan(plan)
    assert loaded.sum_parts("qualified-opportunities") == (
        "outbound-opportunities", "partner-opportunities")  # fmt: skip
    assert loaded.objective("partner-channel").parent_ids == ("pipeline", "revenue")
    assert [k.id for k in loaded.kpis] == ["monthly-demos", "churned-arr"]
    store = f"sqlite:///{tmp_path}/okr.db"
    header = plan.read_text().split("\nokrcore: 1")[0]

    def run(line: str) -> str:
        words = " ".join(part.lstrip("# ") for part in line.splitlines()).split()
        args = [w for w in words if w != "\\"][1:]
        args = [str(plan) if a == "plan.yaml" else a for a in args]
        reason = ""
        if "--reason" in args:  # the quoted reason, as a shell passes it
            at = args.index("--reason")
            reason = " ".join(args[at + 1:]).strip('"')
            args = [*args[: at + 1], reason]
        when = [] if args[0] == "history" else ["--at", "2027-04-10"]
        result = runner.invoke(main, [*args, "--store", store, *when])
        assert result.exit_code == 0, result.output
        return result.output

    move = header[header.index("#   okr retarget"):header.index("# (the total")]
    run(header[header.index("#   okr checkin"):].strip())  # creates the store
    run(move)
    run("okr checkin plan.yaml outbound-opportunities 6")
    run("okr checkin plan.yaml monthly-demos 25")
    card = json.loads(run("okr score plan.yaml --format json"))
    krs = {kr["id"]: kr for kr in card["key_results"]}
    assert krs["outbound-opportunities"]["target"] == 80
    assert krs["partner-opportunities"]["target"] == 40  # the move keeps the total at 120
    assert krs["partner-opportunities"]["confidence"] == pytest.approx(0.7)
    assert krs["qualified-opportunities"]["actual"] == 10
    assert krs["qualified-opportunities"]["sum_of"] == [
        "outbound-opportunities", "partner-opportunities"]  # fmt: skip
    assert {k["id"]: k["actual"] for k in card["kpis"]} == {"monthly-demos": 25,
                                                             "churned-arr": None}  # fmt: skip
    history = run("okr history plan.yaml partner-opportunities")
    assert "outbound-opportunities" in history  # the other side of the move


@pytest.mark.parametrize("name", BUILTINS)
def test_every_template_lints_clean_and_reminds_its_owners_offline(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    # okr init, okr lint (no findings), a check-in to open a store, then okr remind three weeks
    # into the quarter: every owner due is reached through the template's local file, exit 0,
    # every line within 80 columns; a second run in the same week sends nothing again
    monkeypatch.chdir(tmp_path)  # as a user runs it: okr init plan.yaml
    runner = CliRunner()
    plan = Path("plan.yaml")
    store = "sqlite:///okr.db"
    at = "2027-01-21"

    def okr(*args: str) -> str:
        result = runner.invoke(main, list(args), env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.output
        assert all(len(line) <= 80 for line in result.output.splitlines()), result.output
        return result.output

    okr("init", str(plan), "-t", name, "--quarter", "2027-Q1")
    assert okr("lint", str(plan)).strip() == "No findings."
    loaded = okrcore.load_plan(plan)
    assert loaded.reminders, "a template says how its owners are reminded"
    manual = next(kr.id for kr in loaded.key_results() if kr.rollup is None)
    okr("checkin", str(plan), manual, "1", "--store", store, "--at", at)
    results = json.loads(okr("remind", str(plan), "--store", store, "--at", at,
                             "--format", "json"))["results"]
    assert results, "three weeks in, someone owes a check-in"
    assert {r["status"] for r in results} == {"sent"}, results
    text = Path("reminders.md").read_text(encoding="utf-8")
    for r in results:
        assert f"check-in reminder for {loaded.owner_label(r['owner'])}" in text
    again = okr("remind", str(plan), "--store", store, "--at", at)
    assert "skipped" in again
    assert "sent" not in again.replace("already sent", "")
