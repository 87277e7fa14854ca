"""The published JSON Schema: generated from the loader's field table and in step with it."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from okrcore.errors import PlanError
from okrcore.planfile import loads_plan, plan_schema

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "docs" / "plan.schema.json"


def as_json(value: Any) -> Any:
    """YAML data as an editor's JSON view of it (dates as text)."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        plan_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_committed_schema_is_the_generated_one() -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == plan_schema(), (
        "docs/plan.schema.json is out of date: "
        "python -m okrcore.planfile --schema > docs/plan.schema.json"
    )


def test_schema_command_prints_the_schema() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "okrcore.planfile", "--schema"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert json.loads(out) == plan_schema()


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(plan_schema())


def test_example_plan_validates(example_plan_path: Path) -> None:
    data = as_json(yaml.safe_load(example_plan_path.read_text(encoding="utf-8")))
    errors = list(validator().iter_errors(data))
    assert errors == []


GOOD = """\
okrcore: 1
cycles:
  - {id: q4, start: 2026-10-01, end: 2026-12-31}
connections:
  exports: {plugin: file}
objectives:
  - id: o1
    title: Grow
    cycle: q4
    key_results:
      - id: k1
        title: Sessions up
        baseline: 100
        target: 120
        source: {connection: exports, path: x.csv}
funnels:
  - id: f
    start: arr
    value: 100
    steps:
      - {name: customers, divide_by: 10}
"""

# (replace this, with that): each makes a plan that both the loader and the schema refuse
BAD = {
    "wrong type": ("target: 120", "target: lots"),
    "relative target without baseline": ("baseline: 100\n        target: 120", 'target: "+20%"'),
    "unknown key": ("target: 120", "target: 120\n        tagret: 3"),
    "bad enum": ("target: 120", "target: 120\n        kind: grow"),
    "bad date text": ("end: 2026-12-31", "end: end of year"),
    "missing title": ("    title: Grow\n", ""),
    "missing version": ("okrcore: 1\n", ""),
    "wrong version": ("okrcore: 1", "okrcore: 2"),
    "negative weight": ("target: 120", "target: 120\n        weight: -1"),
    "source without connection": ("{connection: exports, path: x.csv}", "{path: x.csv}"),
    "connection without plugin": ("{plugin: file}", "{endpoint: http://x}"),
    "two funnel operations": ("divide_by: 10}", "divide_by: 10, rate: 0.5}"),
    "rate above 1": ("divide_by: 10}", "rate: 1.5}"),
    "check setting": ("funnels:", "checks: {counts: off please}\nfunnels:"),
}


def test_good_plan_passes_both() -> None:
    loads_plan(GOOD)
    assert list(validator().iter_errors(as_json(yaml.safe_load(GOOD)))) == []


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_plans_are_refused_by_loader_and_schema(case: str) -> None:
    old, new = BAD[case]
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    with pytest.raises(PlanError):
        loads_plan(text)
    errors = list(validator().iter_errors(as_json(yaml.safe_load(text))))
    assert errors, f"the schema accepts a plan the loader refuses ({case})"
