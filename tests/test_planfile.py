"""Plan files: loading, dumping, round trips and exact error positions."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from okrcore.errors import PlanError, Problem
from okrcore.model import (
    Connection,
    Cycle,
    Funnel,
    FunnelSplit,
    FunnelStep,
    Goal,
    KeyResult,
    Kind,
    Objective,
    Plan,
    Strategy,
)
from okrcore.planfile import dump_plan, dumps_plan, load_plan, loads_plan

# -- helpers -----------------------------------------------------------------------------------

BASE = """\
okrcore: 1
title: Test plan
cycles:
  - id: q4
    start: 2026-10-01
    end: 2026-12-31
goals:
  - id: brand
    title: Brand
connections:
  exports: {plugin: file}
objectives:
  - id: o1
    title: Grow
    cycle: q4
    goal: brand
    key_results:
KEY_RESULTS
"""

KR_OK = """\
      - id: k1
        title: Sessions up
        baseline: 100
        target: 120
"""


def plan_text(key_results: str = KR_OK, extra: str = "") -> str:
    return BASE.replace("KEY_RESULTS\n", key_results) + extra


def where(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """1-based line and column of the nth occurrence of needle in text."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def problems(text: str, format: str = "yaml") -> list[Problem]:
    with pytest.raises(PlanError) as info:
        loads_plan(text, format, name=f"plan.{format}")
    return list(info.value.problems)


def only(text: str, format: str = "yaml") -> Problem:
    found = problems(text, format)
    assert len(found) == 1, found
    return found[0]


def assert_at(problem: Problem, path: str, position: tuple[int, int], message: str) -> None:
    assert problem.path == path
    assert (problem.line, problem.column) == position
    assert re.search(message, problem.message), problem.message


# -- the example plan -------------------------------------------------------------------------


def test_example_plan_loads(example_plan: Plan, example_plan_path: Path) -> None:
    plan = example_plan
    assert plan.title == "Acme marketing OKRs"
    assert plan.source_path == os.fspath(example_plan_path)
    assert plan.cycle("2026-Q4").days == 92
    assert plan.goal("brand").title == "Grow international brand awareness"
    assert plan.objective("revenue").level.value == "company"
    # relative targets resolved against the baseline
    assert plan.key_result("organic-sessions").target == 48000
    assert plan.key_result("social-followers").target == 13800
    leads = plan.key_result("leads")
    assert (leads.floor, leads.target, leads.stretch) == (800, 1000, 1200)
    assert plan.key_result("cac").kind is Kind.MAINTAIN_BELOW
    assert plan.deadline_of("rebrand") == dt.date(2026, 12, 15)
    exports = plan.connections["exports"]
    assert exports.plugin == "file"
    assert exports.base_dir == os.fspath(example_plan_path.parent)
    assert os.path.isabs(exports.base_dir)


def test_example_plan_is_reached_through_the_examples_symlink(example_plan: Plan) -> None:
    root = Path(__file__).resolve().parents[1]
    link = root / "examples" / "marketing.yaml"
    assert link.is_symlink()
    assert load_plan(link) == example_plan


def test_example_plan_measured_key_results_have_history(
    example_plan: Plan, example_history_path: Path
) -> None:
    metrics = {line.split(",")[1] for line in example_history_path.read_text().splitlines()[1:]}
    for kr in example_plan.key_results():
        if kr.source is not None:
            assert kr.source["connection"] == "exports"
            assert kr.source["where"]["metric"] in metrics, kr.id
        else:
            assert kr.cadence is not None, f"{kr.id}: a manual key result needs a cadence"


def test_example_positions_point_at_the_keys(example_plan: Plan, example_plan_path: Path) -> None:
    text = example_plan_path.read_text()
    assert example_plan.positions["objectives[0].key_results[0].target"] == where(
        text, "target: 5000000"
    )
    assert example_plan.positions["objectives[0]"] == where(text, "id: revenue")
    assert example_plan.locate(example_plan.kr_path("cac")) == where(text, "id: cac")


def test_funnel_of_the_example(example_plan: Plan) -> None:
    (funnel,) = example_plan.funnels
    assert (funnel.start, funnel.value) == ("new_arr", 10_000_000)
    assert [(s.name, s.op, s.value) for s in funnel.steps] == [
        ("customers", "divide_by", 50000),
        ("leads", "rate", 0.1),
        ("budget", "multiply_by", 200),
    ]
    assert funnel.steps[2].of == "leads"
    assert dict(funnel.splits[0].shares) == {"content": 0.6, "sem": 0.3, "other": 0.1}
    assert dict(funnel.splits[0].key_results) == {"sem": "sem-leads"}


# -- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("format", ["yaml", "toml", "json"])
def test_example_round_trips(example_plan: Plan, format: str) -> None:
    text = dumps_plan(example_plan, format)
    again = loads_plan(text, format)
    assert again == example_plan
    assert again.positions  # positions are filled for every format


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".toml", ".json"])
def test_dump_plan_and_load_plan_by_extension(
    example_plan: Plan, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"plan{suffix}"
    dump_plan(example_plan, path)
    again = load_plan(path)
    assert again == example_plan
    assert again.source_path == os.fspath(path)
    assert again.connections["exports"].base_dir == os.fspath(tmp_path)


def test_dump_writes_relative_targets_as_absolute_numbers(example_plan: Plan) -> None:
    text = dumps_plan(example_plan)
    assert "+20%" not in text
    assert "target: 48000\n" in text


def test_toml_and_json_positions() -> None:
    toml = (
        'okrcore = 1\n\n[[cycles]]\nid = "q4"\nstart = 2026-10-01\nend = 2026-12-31\n\n'
        '[[objectives]]\nid = "o1"\ntitle = "Grow"\ncycle = "q4"\n\n'
        '[[objectives.key_results]]\nid = "k1"\ntitle = "A"\nbaseline = 1\ntarget = 2\n\n'
        '[[objectives.key_results]]\nid = "k2"\ntitle = "B"\nbaseline = 1\ntarget = "lots"\n'
    )
    problem = only(toml, "toml")
    assert_at(
        problem,
        "objectives[0].key_results[1].target",
        where(toml, 'target = "lots"'),
        "expected a number",
    )
    json_text = (
        '{"okrcore": 1, "cycles": [{"id": "q4", "start": "2026-10-01", "end": "2026-12-31"}],\n'
        ' "objectives": [{"id": "o1", "title": "Grow", "cycle": "q4",\n'
        '   "key_results": [{"id": "k1", "title": "A", "baseline": 1, "target": "lots"}]}]}\n'
    )
    problem = only(json_text, "json")
    assert_at(
        problem,
        "objectives[0].key_results[0].target",
        where(json_text, '"target"'),
        "expected a number or a relative target",
    )


# -- relative targets --------------------------------------------------------------------------


def test_relative_targets_floor_and_stretch() -> None:
    krs = """\
      - id: up
        title: Up
        baseline: 40000
        floor: "+10%"
        target: "+20%"
        stretch: "+25%"
      - id: down
        title: Down
        kind: decrease
        baseline: 50
        target: "-10%"
"""
    plan = loads_plan(plan_text(krs))
    up = plan.key_result("up")
    assert (up.floor, up.target, up.stretch) == (44000, 48000, 50000)
    assert plan.key_result("down").target == 45


# -- each kind of mistake, with its path and position ------------------------------------------


def test_wrong_type_names_path_line_and_column() -> None:
    text = plan_text(KR_OK.replace("target: 120", "target: lots"))
    problem = only(text)
    assert problem == Problem(
        "objectives[0].key_results[0].target",
        "expected a number or a relative target such as '+20%', got 'lots'",
        21,
        9,
    )
    with pytest.raises(PlanError) as info:
        loads_plan(text, name="marketing.yaml")
    assert str(info.value) == (
        "marketing.yaml:21:9: objectives[0].key_results[0].target: expected a number or a "
        "relative target such as '+20%', got 'lots'"
    )


def test_missing_required_field_points_at_its_parent() -> None:
    text = plan_text(KR_OK.replace("        title: Sessions up\n", ""))
    assert_at(
        only(text), "objectives[0].key_results[0].title", where(text, "id: k1"), "needs 'title'"
    )


def test_unknown_key_suggests_the_right_one() -> None:
    text = plan_text(KR_OK + "        tolerence: 2\n")
    assert_at(
        only(text),
        "objectives[0].key_results[0].tolerence",
        where(text, "tolerence"),
        r"unknown key 'tolerence'.*did you mean 'tolerance'\?",
    )


def test_unknown_key_without_close_match_lists_allowed_keys() -> None:
    text = plan_text(extra="colour: blue\n")
    assert_at(only(text), "colour", where(text, "colour"), r"allowed: .*objectives")


def test_bad_enum_lists_allowed_values() -> None:
    text = plan_text(KR_OK + "        kind: grow\n")
    assert_at(
        only(text),
        "objectives[0].key_results[0].kind",
        where(text, "kind: grow"),
        "expected one of increase, decrease, maintain_above, maintain_below, milestone, "
        "count; got 'grow'",
    )


def test_bad_cadence_suggests() -> None:
    text = plan_text(KR_OK + "        cadence: wekly\n")
    assert_at(
        only(text),
        "objectives[0].key_results[0].cadence",
        where(text, "cadence"),
        "did you mean 'weekly'",
    )


@pytest.mark.parametrize("value", ["2026-13-01", "tomorrow", "2026-10-01 10:00:00"])
def test_bad_date(value: str) -> None:
    text = plan_text(KR_OK + f"        deadline: {value}\n")
    assert_at(only(text), "objectives[0].key_results[0].deadline", where(text, "deadline"), "date")


def test_relative_target_needs_a_baseline() -> None:
    text = plan_text(KR_OK.replace("        baseline: 100\n", "").replace("120", '"+20%"'))
    assert_at(
        only(text),
        "objectives[0].key_results[0].target",
        where(text, "target"),
        r"relative value \('\+20%'\) needs a baseline",
    )


def test_unknown_connection_in_a_source() -> None:
    text = plan_text(KR_OK + "        source: {connection: export, path: x.csv}\n")
    assert_at(
        only(text),
        "objectives[0].key_results[0].source.connection",
        where(text, "connection: export"),
        "unknown connection 'export'.*'exports'",
    )


def test_source_without_connection() -> None:
    text = plan_text(KR_OK + "        source: {path: x.csv}\n")
    assert_at(
        only(text),
        "objectives[0].key_results[0].source.connection",
        where(text, "source"),
        "needs 'connection'",
    )


def test_target_equal_to_baseline_is_a_model_problem_with_position() -> None:
    text = plan_text(KR_OK.replace("target: 120", "target: 100"))
    assert_at(
        only(text),
        "objectives[0].key_results[0].target",
        where(text, "target: 100"),
        r"target \(100\) must differ from the baseline",
    )


def test_floor_beyond_stretch() -> None:
    text = plan_text(KR_OK + "        floor: 130\n        stretch: 125\n")
    found = problems(text)
    assert [p.path for p in found] == [
        "objectives[0].key_results[0].floor",
        "objectives[0].key_results[0].floor",
    ]
    assert (found[0].line, found[0].column) == where(text, "floor")
    assert {p.message for p in found} == {
        "floor (130) is beyond the stretch (125)",
        "floor (130) is beyond the target (120)",
    }


def test_cycle_that_ends_before_it_starts() -> None:
    text = plan_text().replace("end: 2026-12-31", "end: 2026-09-30")
    assert_at(only(text), "cycles[0].end", where(text, "end:"), "ends .* before it starts")


def test_unknown_references() -> None:
    text = plan_text().replace("cycle: q4", "cycle: q3").replace("goal: brand", "goal: brnad")
    text += "  - id: o2\n    title: Child\n    cycle: q4\n    parent: o9\n"
    found = problems(text)
    assert [(p.path, p.line, p.column) for p in found] == [
        ("objectives[0].cycle", *where(text, "cycle: q3")),
        ("objectives[0].goal", *where(text, "goal: brnad")),
        ("objectives[1].parent", *where(text, "parent: o9")),
    ]
    assert "did you mean 'brand'" in found[1].message
    assert found[2].message == "unknown objective 'o9'"


def test_duplicate_ids() -> None:
    text = plan_text(KR_OK + KR_OK)
    text += "  - id: o1\n    title: Again\n    cycle: q4\n"
    found = problems(text)
    assert [(p.path, p.line, p.column) for p in found] == [
        ("objectives[0].key_results[1].id", *where(text, "id: k1", 1)),
        ("objectives[1].id", *where(text, "id: o1", 1)),
    ]
    assert "duplicate key result id 'k1'" in found[0].message
    assert "duplicate objective id 'o1'" in found[1].message


def test_key_result_id_clashing_with_an_objective() -> None:
    text = plan_text(KR_OK.replace("id: k1", "id: o1"))
    assert_at(
        only(text),
        "objectives[0].key_results[0].id",
        where(text, "id: o1", 1),
        "also an objective id",
    )


def test_alignment_loop_is_named() -> None:
    text = plan_text()
    text = text.replace("    goal: brand\n", "    goal: brand\n    parent: o2\n")
    text += "  - id: o2\n    title: Two\n    cycle: q4\n    parent: o1\n"
    assert_at(
        only(text),
        "objectives[0].parent",
        where(text, "parent: o2"),
        "alignment loop: o1 -> o2 -> o1",
    )


def test_unknown_dependency() -> None:
    text = plan_text(KR_OK + "        depends_on: [k2]\n")
    assert_at(
        only(text),
        "objectives[0].key_results[0].depends_on[0]",
        where(text, "k2"),
        "unknown key result 'k2'",
    )


def test_negative_weight_and_budget() -> None:
    text = plan_text(KR_OK + "        weight: -1\n")
    assert_at(
        only(text),
        "objectives[0].key_results[0].weight",
        where(text, "weight"),
        "expected a number >= 0, got -1",
    )


def test_number_as_text_hint() -> None:
    text = plan_text(KR_OK.replace("target: 120", "target: 1e6"))
    assert "write 1.0e+6" in only(text).message


def test_id_that_is_not_text() -> None:
    text = plan_text(KR_OK.replace("id: k1", "id: 2026"))
    assert_at(
        only(text),
        "objectives[0].key_results[0].id",
        where(text, "id: 2026"),
        "expected an id \\(text\\), got 2026 \\(quote it",
    )


def test_wrong_version() -> None:
    text = plan_text().replace("okrcore: 1", "okrcore: 2")
    assert_at(only(text), "okrcore", (1, 1), "unsupported plan format 2; this okrcore reads 1")


def test_missing_version() -> None:
    problem = only(plan_text().replace("okrcore: 1\n", ""))
    assert problem.path == "okrcore"
    assert "needs 'okrcore'" in problem.message


def test_plan_that_is_not_a_mapping() -> None:
    problem = only("- just\n- a list\n")
    assert "expected a mapping" in problem.message
    assert "the plan is empty" in only("# nothing\n").message


def test_duplicate_yaml_key() -> None:
    text = plan_text(KR_OK + "        target: 130\n")
    assert_at(
        only(text),
        "objectives[0].key_results[0].target",
        where(text, "target: 130"),
        "duplicate key 'target' \\(first on line 21\\)",
    )


def test_funnel_mistakes() -> None:
    funnel = """\
funnels:
  - id: f
    start: arr
    value: 1000
    steps:
      - name: customers
        divide_by: 10
        rate: 0.5
      - name: leads
        rate: 1.5
        key_result: nope
    splits:
      - of: leads
        shares: {a: 0.5, b: 0.4}
"""
    text = plan_text(extra=funnel)
    found = {p.path: p for p in problems(text)}
    assert set(found) == {
        "funnels[0].steps[0].rate",
        "funnels[0].steps[1].rate",
        "funnels[0].steps[1].key_result",
        "funnels[0].splits[0].shares",
    }
    assert "only one of divide_by, rate, multiply_by" in found["funnels[0].steps[0].rate"].message
    step_rate = found["funnels[0].steps[1].rate"]
    assert (step_rate.line, step_rate.column) == where(text, "rate: 1.5")
    assert "<= 1" in step_rate.message
    assert "sum to 0.9" in found["funnels[0].splits[0].shares"].message


def test_checks_notify_plugins_sections() -> None:
    extra = """\
checks:
  counts: false
  achievable: {max_ratio: 3}
policy: {grading: default}
notify:
  team: {plugin: slack, webhook: "env:SLACK_URL"}
plugins: [acme_okr.checks]
"""
    plan = loads_plan(plan_text(extra=extra))
    assert plan.checks == {"counts": False, "achievable": {"max_ratio": 3}}
    assert plan.notify == {"team": {"plugin": "slack", "webhook": "env:SLACK_URL"}}
    assert plan.plugins == ("acme_okr.checks",)
    bad = extra.replace("counts: false", "counts: off please").replace("slack,", "slack, x: 1,")
    bad = bad.replace("{plugin: slack", "{plugn: slack").replace("acme_okr.checks", "acme okr")
    found = {p.path: p.message for p in problems(plan_text(extra=bad))}
    assert found == {
        "checks.counts": "expected true, false or a mapping of settings, got 'off please'",
        "notify.team.plugin": "missing: a notify channel needs 'plugin'",
        "plugins[0]": "expected a dotted module name, got 'acme okr'",
    }


# -- syntax errors and files ------------------------------------------------------------------


def test_yaml_syntax_error_has_its_position() -> None:
    text = plan_text() + "  - id: [unclosed\n"
    problem = only(text)
    assert problem.path == ""
    assert problem.message.startswith("YAML syntax error")
    assert problem.line == text.count("\n") + 1


def test_json_and_toml_syntax_errors() -> None:
    problem = only('{"okrcore": 1,\n  "title": }', "json")
    assert (problem.line, problem.column) == (2, 12)
    assert problem.message.startswith("JSON syntax error")
    problem = only("okrcore = 1\ntitle = \n", "toml")
    assert (problem.line, problem.column) == (2, 9)
    assert problem.message.startswith("TOML syntax error")


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert info.value.file == os.fspath(path)
    assert str(info.value).startswith(f"{path}: cannot read the plan file")


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "plan.txt"
    path.write_text("okrcore: 1\n")
    with pytest.raises(PlanError, match=r"plan.txt: unknown plan file type"):
        load_plan(path)
    with pytest.raises(ValueError, match="unknown plan format"):
        loads_plan("okrcore: 1\n", "ini")


def test_many_problems_in_one_pass() -> None:
    krs = """\
      - id: k1
        title: Sessions up
        baseline: 100
        target: lots
        kind: grow
        cadense: daily
      - id: k2
        title: Same
        baseline: 5
        target: 5
        source: {connection: nope}
      - id: k1
        deadline: someday
"""
    text = plan_text(krs).replace("goal: brand", "goal: nobrand")
    with pytest.raises(PlanError) as info:
        loads_plan(text, name="plan.yaml")
    paths = [p.path for p in info.value.problems]
    assert paths == [
        "objectives[0].goal",
        "objectives[0].key_results[0].target",
        "objectives[0].key_results[0].kind",
        "objectives[0].key_results[0].cadense",
        "objectives[0].key_results[1].target",
        "objectives[0].key_results[1].source.connection",
        "objectives[0].key_results[2].title",
        "objectives[0].key_results[2].id",
        "objectives[0].key_results[2].deadline",
    ]
    assert all(p.line is not None for p in info.value.problems)
    assert str(info.value).startswith("9 problem(s) in plan.yaml:\nplan.yaml:16:")


# -- property: dumping then loading gives an equal plan ---------------------------------------

TEXT = st.text(
    alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12
).filter(lambda s: s.strip() != "")
NUMBER = st.one_of(
    st.integers(-(10**9), 10**9).map(float),
    st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False),
)
DELTA = st.floats(1, 1e6, allow_nan=False)
DAY = st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31))


@st.composite
def key_results(draw: st.DrawFn, ident: str, connections: list[str]) -> KeyResult:
    kind = draw(st.sampled_from(list(Kind)))
    base = draw(NUMBER)
    fields: dict[str, object] = {}
    sign = -1.0 if kind in (Kind.DECREASE, Kind.MAINTAIN_BELOW) else 1.0
    if kind in (Kind.INCREASE, Kind.DECREASE, Kind.COUNT):
        target = base + sign * draw(DELTA)
        fields.update(baseline=base, target=target)
    elif kind in (Kind.MAINTAIN_ABOVE, Kind.MAINTAIN_BELOW):
        target = base
        fields.update(target=target, tolerance=draw(st.none() | DELTA))
    else:
        target = 1.0
    if kind is not Kind.MILESTONE:
        if draw(st.booleans()):
            fields["floor"] = target - sign * draw(DELTA)
        if draw(st.booleans()):
            fields["stretch"] = target + sign * draw(DELTA)
    with_source: bool = bool(connections) and draw(st.booleans())
    if with_source:
        fields["source"] = {"connection": draw(st.sampled_from(connections)), "q": draw(TEXT)}
    return KeyResult(
        id=ident,
        title=draw(TEXT),
        kind=kind,
        measure=draw(st.sampled_from(["gauge", "cumulative"])),
        unit=draw(st.sampled_from(["", "%", "USD", "leads"])),
        metric=draw(st.none() | TEXT),
        weight=draw(st.sampled_from([1.0, 0.5, 2.0])),
        owner=draw(st.none() | TEXT),
        deadline=draw(st.none() | DAY),
        cadence=draw(st.none() | st.sampled_from(["daily", "weekly", "monthly"])),
        committed=draw(st.none() | st.booleans()),
        **fields,  # type: ignore[arg-type]
    )


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    start = draw(DAY)
    cycles = [
        Cycle(
            f"c{i}",
            start,
            start + dt.timedelta(days=draw(st.integers(0, 400))),
            draw(st.none() | TEXT),
        )
        for i in range(draw(st.integers(1, 2)))
    ]
    goals = [
        Goal(f"g{i}", draw(TEXT), draw(st.none() | TEXT), draw(st.none() | TEXT))
        for i in range(draw(st.integers(0, 2)))
    ]
    connections = {
        f"conn{i}": Connection(
            f"conn{i}",
            draw(st.sampled_from(["file", "http"])),
            {"token": draw(TEXT)},
            draw(st.none() | st.just("http://x")),
        )
        for i in range(draw(st.integers(0, 2)))
    }
    objectives: list[Objective] = []
    for i in range(draw(st.integers(1, 3))):
        krs = [
            draw(key_results(f"k{i}-{j}", list(connections)))
            for j in range(draw(st.integers(0, 3)))
        ]
        strategies = [
            Strategy(
                f"s{i}-{j}",
                draw(TEXT),
                budget=draw(st.none() | DELTA),
                resources=draw(st.lists(TEXT, max_size=2)),
                status=draw(st.sampled_from(["active", "paused"])),
            )
            for j in range(draw(st.integers(0, 2)))
        ]
        objectives.append(
            Objective(
                f"o{i}",
                draw(TEXT),
                draw(st.sampled_from(cycles)).id,
                owner=draw(st.none() | TEXT),
                level=draw(st.sampled_from(["company", "team", "project", "individual"])),
                goal=draw(st.none() | st.sampled_from([g.id for g in goals])) if goals else None,
                parent=draw(st.none() | st.sampled_from([o.id for o in objectives]))
                if objectives
                else None,
                weight=draw(st.sampled_from([1.0, 3.0])),
                budget=draw(st.none() | DELTA),
                key_results=krs,
                strategies=strategies,
            )
        )
    funnels = []
    if draw(st.booleans()):
        funnels.append(
            Funnel(
                "f",
                "arr",
                draw(DELTA),
                "USD",
                None,
                [
                    FunnelStep("customers", "divide_by", draw(DELTA)),
                    FunnelStep("leads", "rate", draw(st.floats(0.01, 1))),
                ],
                [FunnelSplit("leads", {"a": 0.25, "b": 0.75})],
            )
        )
    return Plan(
        cycles=cycles,
        goals=goals,
        objectives=objectives,
        connections=connections,
        funnels=funnels,
        checks=draw(
            st.dictionaries(
                st.sampled_from(["counts", "specific"]), st.booleans() | st.just({"max": 5})
            )
        ),
        policy=draw(st.sampled_from([{}, {"grading": "default", "red": 0.7}])),
        notify=draw(st.sampled_from([{}, {"team": {"plugin": "slack", "url": "env:U"}}])),
        plugins=draw(st.sampled_from([(), ("a.b", "c")])),
        title=draw(st.none() | TEXT),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=plans(), format=st.sampled_from(["yaml", "toml", "json"]))
def test_dumped_plans_load_back_equal(plan: Plan, format: str) -> None:
    assert loads_plan(dumps_plan(plan, format), format) == plan


def test_recursive_yaml_alias_is_refused() -> None:
    text = "okrcore: 1\npolicy: &a\n  x: *a\n"
    assert_at(only(text), "policy.x", (3, 3), "recursive YAML alias")


def test_yaml_anchors_and_merge_keys_work() -> None:
    krs = """\
      - &kr
        id: k1
        title: Sessions up
        baseline: 100
        target: 120
      - <<: *kr
        id: k2
"""
    plan = loads_plan(plan_text(krs))
    assert plan.key_result("k2").target == 120
    assert plan.positions["objectives[0].key_results[1].id"] == where(plan_text(krs), "id: k2")


def test_json_duplicate_key_is_reported() -> None:
    problem = only('{"okrcore": 1, "title": "a",\n "title": "b"}', "json")
    assert_at(problem, "title", (2, 2), "duplicate key 'title' \\(first on line 1\\)")


def test_funnel_step_of_a_later_stage_and_unknown_split_stage() -> None:
    funnel = """\
funnels:
  - id: f
    start: arr
    value: 1000
    steps:
      - {name: customers, of: leads, divide_by: 10}
      - {name: leads, rate: 0.5}
    splits:
      - {of: lead, shares: {a: 1}}
"""
    text = plan_text(extra=funnel)
    found = problems(text)
    assert [(p.path, p.line, p.column) for p in found] == [
        ("funnels[0].steps[0].of", *where(text, "of: leads")),
        ("funnels[0].splits[0].of", *where(text, "of: lead,")),
    ]
    assert found[0].message == "unknown or later stage 'leads'; earlier stages: arr"
    assert found[1].message == "unknown stage 'lead' (did you mean 'leads'?)"


def test_strategy_dependencies_and_self_parent() -> None:
    text = plan_text(
        KR_OK
        + "    parent: o1\n    strategies:\n      - {id: s1, title: Push, depends_on: [k1, s9]}\n"
    )
    found = problems(text)
    assert [(p.path, p.message) for p in found] == [
        ("objectives[0].parent", "alignment loop: o1 -> o1"),
        ("objectives[0].strategies[0].depends_on[1]", "unknown strategy or key result 's9'"),
    ]
    assert (found[1].line, found[1].column) == where(text, "s9")


def test_messages_name_a_thing_with_its_article() -> None:
    text = plan_text().replace("    title: Grow\n", "    titel: Grow\n")
    found = {p.path: p.message for p in problems(text)}
    assert found["objectives[0].title"] == "missing: an objective needs 'title'"
    assert found["objectives[0].titel"].startswith("unknown key 'titel' in an objective")
    kr = plan_text(KR_OK.replace("        target: 120\n", "        tagret: 120\n"))
    unknown = [p.message for p in problems(kr) if p.message.startswith("unknown key")]
    assert unknown == ["unknown key 'tagret' in a key result (did you mean 'target'?)"]
