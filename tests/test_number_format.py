"""One number formatter: `okr score`, `okr report` (text, Markdown, HTML) and the library's
renderers print the same value the same way (docs/reports.md, "Numbers")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from okrcore.cli import main
from okrcore.reports._format import num, signed

PLAN = """\
okrcore: 1
title: Numbers
cycles:
  - {id: q4, start: 2026-10-01, end: 2026-12-31}
objectives:
  - id: growth
    title: Grow
    cycle: q4
    key_results:
      - id: leads
        title: Leads reach 2,000 in Q4
        kind: increase
        measure: gauge
        unit: leads
        baseline: 0
        target: 2000
        cadence: weekly
"""


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1234.5, "leads", "1,235 leads"),  # whole numbers from 1,000 on, halves up
        (2771739.13, "USD", "2,771,739 USD"),
        (47.766, "%", "47.77%"),  # 4 significant digits below 1,000
        (110.87, "", "110.9"),
        (0.012345, "", "0.01235"),
        (2.675, "", "2.675"),  # the shortest decimal form, not the binary float
        (-65900, "", "-65,900"),
        (5.0, "", "5"),
        (1, "mentions", "1 mention"),  # a plural unit is singular after exactly 1
        (1.0000001, "leads", "1 lead"),
        (-1, "sign-ups", "-1 sign-up"),
        (1, "stories", "1 story"),
        (1, "new customers", "1 new customer"),
        (1, "USD", "1 USD"),
        (1, "bonus", "1 bonus"),
        (1.5, "mentions", "1.5 mentions"),
        (2, "mentions", "2 mentions"),
        (-1e-9, "", "0"),
        (None, "USD", "—"),
        (float("nan"), "", "—"),
    ],
)
def test_num(value: float | None, unit: str, text: str) -> None:
    assert num(value, unit) == text


def test_signed() -> None:
    assert [signed(v) for v in (3, -3, 0, 1e-9, 0.5)] == ["+3", "-3", "0", "0", "+0.5"]


def okr(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), env={"OKRCORE_LOAD_PLUGINS": "", "COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.output


def test_score_and_every_report_format_print_a_value_alike(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    store = ["--store", f"sqlite:///{tmp_path / 'okr.db'}"]
    okr("checkin", str(plan), "leads", "1234.5", "--at", "2026-11-20", *store)
    at = ["--at", "2026-11-20"]
    outputs = {
        "score text": okr("score", str(plan), *store, *at),
        "score md": okr("score", str(plan), *store, *at, "--format", "md"),
        **{
            f"report {fmt}": okr("report", str(plan), *store, *at, "--format", fmt)
            for fmt in ("text", "md", "html")
        },
    }
    # the light's reason is worded by the status policy, with the same formatter
    (entry,) = json.loads(okr("score", str(plan), *store, *at, "--format", "json"))["key_results"]
    assert "1,235 leads" in entry["reason"]
    for name, out in outputs.items():
        flat = " ".join(out.split())
        assert "1,235 leads" in flat, name
        assert "1,234.5" not in flat, name


def test_a_status_reason_prints_numbers_as_the_table_does(tmp_path: Path) -> None:
    # a cumulative key result: the plan to date is a fraction (2,771,739.13 USD by day 51)
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        PLAN.replace("measure: gauge", "measure: cumulative")
        .replace("unit: leads", "unit: USD")
        .replace("target: 2000", "target: 5000000"),
        encoding="utf-8",
    )
    store = ["--store", f"sqlite:///{tmp_path / 'okr.db'}"]
    okr("checkin", str(plan), "leads", "2857400", "--at", "2026-11-20", *store)
    (entry,) = json.loads(
        okr("score", str(plan), *store, "--at", "2026-11-20", "--format", "json")
    )["key_results"]
    plan_to_date = entry["plan_to_date"]
    assert plan_to_date != round(plan_to_date)  # the case the two formatters disagreed on
    assert f"2,857,400 of {num(plan_to_date)} planned USD to date" in entry["reason"]
    table = okr("score", str(plan), *store, "--at", "2026-11-20")
    assert num(plan_to_date) in table
