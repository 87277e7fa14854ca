"""A plain YAML plan is built in one pass (okrcore.planfile._yaml_plain.construct_plain) with its
positions computed only when asked for; anything else goes through PyYAML's construction and the
positional walk. Both ways must give the same data and the same positions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from okrcore import PlanError, load_plan, loads_plan
from okrcore.planfile import _read, _read_yaml, _yaml_plain
from okrcore.planfile._spec import Ctx

ROOT = Path(__file__).resolve().parents[1]

PLAIN = """\
defaults: &d {unit: leads, weight: 2}
list: [1, -2.5, 0x1F, 1_000, .inf, true, no, ~, null, 2026-01-31, "2026-13-01", '007', text]
nested:
  a: *d
  b: *d
  c: [*d, {x: [[], {}]}]
"""


def _both(text: str) -> tuple[Any, Any]:
    fast = _read_yaml.LOADER(text)
    slow = _read_yaml.LOADER(text)
    try:
        data = _yaml_plain.construct_plain(fast, fast.get_single_node())
        expected = slow.construct_document(slow.get_single_node())
    finally:
        fast.dispose()
        slow.dispose()
    return data, expected


def test_plain_documents_are_built_as_pyyaml_builds_them() -> None:
    data, expected = _both(PLAIN)
    assert data == expected
    assert [type(v) for v in data["list"]] == [type(v) for v in expected["list"]]
    assert data["list"][9] == dt.date(2026, 1, 31)
    # an alias is one value, shared, as PyYAML makes it
    assert data["nested"]["a"] is data["nested"]["b"] is data["defaults"]


@pytest.mark.parametrize(
    "text",
    [
        "base: &b {x: 1}\nmerged: {<<: *b, y: 2}\n",  # a merge
        "a: 1\na: 2\n",  # a repeated key
        "? [1, 2]\n: x\n",  # a key that is not text
        "a: !!binary aGVsbG8=\n",  # another tag
        "a: &x [*x]\n",  # a recursive alias
        "n: 1" + "0" * 5000 + "\n",  # an integer too long to read
    ],
)
def test_anything_else_is_left_to_pyyaml_and_the_walk(text: str) -> None:
    loader = _read_yaml.LOADER(text)
    try:
        with pytest.raises(_yaml_plain.NotPlain):
            _yaml_plain.construct_plain(loader, loader.get_single_node())
    finally:
        loader.dispose()


def test_positions_asked_for_later_are_those_the_walk_finds() -> None:
    text = (ROOT / "examples" / "marketing.yaml").read_text(encoding="utf-8")
    plan = loads_plan(text, name="marketing.yaml")
    assert isinstance(plan.positions, _read.LazyPositions)
    eager: dict[str, tuple[int, int]] = {"": (1, 1)}
    loader = _read_yaml.LOADER(text)
    try:
        node = loader.get_single_node()
        loader.construct_document(node)
        _read_yaml._YamlWalk(Ctx(eager), eager).walk(node, "", ())
    finally:
        loader.dispose()
    assert dict(plan.positions) == eager
    assert plan == load_plan(ROOT / "examples" / "marketing.yaml")


def test_a_problem_in_a_plain_plan_has_its_line_and_column() -> None:
    text = (
        "okrcore: 1\ncycles:\n  - id: q1\n    start: 2026-01-01\n    end: 2026-03-31\n"
        "    colour: red\n"
    )
    with pytest.raises(PlanError) as caught:
        loads_plan(text)
    [problem] = caught.value.problems
    assert (problem.path, problem.line, problem.column) == ("cycles[0].colour", 6, 5)


def test_a_merge_still_loads_with_positions_from_the_walk() -> None:
    text = (
        "okrcore: 1\ncycles:\n  - &q {id: q1, start: 2026-01-01, end: 2026-03-31}\n"
        "  - {<<: *q, id: q2, colour: red}\n"
    )
    with pytest.raises(PlanError) as caught:
        loads_plan(text)
    [problem] = caught.value.problems
    assert (problem.path, problem.line) == ("cycles[1].colour", 4)


@pytest.mark.parametrize("base", [yaml.CSafeLoader, yaml.SafeLoader])
def test_the_loaders_resolve_every_tag_as_pyyaml_does(base: Any) -> None:
    text = PLAIN + (
        "more: ['', '~', yes, No, off, 0o17, 0b101, +12, 1e3, .5, -.inf, .NaN, 12:30:00,\n"
        "       2026-01-31T10:00:00Z, '<<', =, x, 'quoted', \"2026-01-31\"]\n"
        "<<: {merged: 1}\n"
    )

    def tags(node: Any) -> list[str]:
        out = [node.tag]
        if isinstance(node.value, list):
            for child in node.value:
                pairs = child if isinstance(child, tuple) else (child,)
                for part in pairs:
                    out += tags(part)
        return out

    ours, theirs = _read_yaml._loader_class(base)(text), base(text)
    try:
        assert tags(ours.get_single_node()) == tags(theirs.get_single_node())
    finally:
        ours.dispose()
        theirs.dispose()
