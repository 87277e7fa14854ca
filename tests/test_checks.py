"""Quality checks (design §6): the runner and every built-in SMART and OKR-hygiene rule.

Each rule test starts from a plan that raises no finding at all and introduces one defect, so a
rule that fires too eagerly fails the clean-plan test and a rule that misses fails its own.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import given, strategies as st

import okrcore.default_plugins.checks as builtin
from okrcore.checks import Check, CheckContext, Finding, Severity, check, sort_findings
from okrcore.default_plugins.checks import (
    find_loops,
    historical_growth,
    is_activity_title,
    is_vague_title,
    required_growth,
)
from okrcore.hookspecs import hookimpl
from okrcore.model import (
    CheckIn,
    Connection,
    Cycle,
    Goal,
    KeyResult,
    Objective,
    Plan,
    Strategy,
)
from okrcore.plugins import PluginManager

DOCS = Path(__file__).resolve().parents[1] / "docs" / "checks.md"
Q1 = Cycle("2026-q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))  # 90 days: 3 "months"


def kr(kr_id: str, **changes: Any) -> KeyResult:
    """A clean key result: metric, unit, a number in the title, a cadence, modest growth."""
    values: dict[str, Any] = {
        "title": "Organic sessions reach 120,000",
        "metric": "sessions",
        "unit": "sessions",
        "baseline": 100_000,
        "target": 120_000,
        "cadence": "weekly",
    }
    values.update(changes)
    return KeyResult(kr_id, **values)


def clean_plan() -> Plan:
    objectives = [
        Objective(
            f"o{i}",
            f"Objective {i}",
            Q1.id,
            owner="marketing",
            goal="awareness",
            budget=100_000,
            key_results=[kr(f"o{i}-kr1"), kr(f"o{i}-kr2")],
            strategies=[
                Strategy(f"o{i}-seo", "SEO push", budget=40_000),
                Strategy(f"o{i}-paid", "Paid", budget=60_000, depends_on=[f"o{i}-seo"]),
            ],
        )
        for i in (1, 2, 3)
    ]
    return Plan(
        cycles=[Q1],
        goals=[Goal("awareness", "Grow international brand awareness")],
        objectives=objectives,
        connections={"ga4": Connection("ga4", "ga4")},
    )


def manager() -> PluginManager:
    """Only the built-in checks: other built-in plugins are not needed here."""
    pm = PluginManager(load_entry_points=False, builtins=False)
    pm.register(builtin, "okrcore.default_plugins.checks")
    return pm


def run(plan: Plan, checkins: Iterable[CheckIn] | None = None, **kw: Any) -> list[Finding]:
    return check(plan, list(checkins) if checkins is not None else None, manager=manager(), **kw)


def codes(findings: Iterable[Finding]) -> list[str]:
    return [f.code for f in findings]


def edit_kr(plan: Plan, kr_id: str, **changes: Any) -> Plan:
    objectives = [
        attrs.evolve(
            obj,
            key_results=[
                attrs.evolve(k, **changes) if k.id == kr_id else k for k in obj.key_results
            ],
        )
        for obj in plan.objectives
    ]
    return attrs.evolve(plan, objectives=objectives)


def edit_objective(plan: Plan, objective_id: str, **changes: Any) -> Plan:
    objectives = [
        attrs.evolve(o, **changes) if o.id == objective_id else o for o in plan.objectives
    ]
    return attrs.evolve(plan, objectives=objectives)


def with_checks(plan: Plan, **settings: Any) -> Plan:
    return attrs.evolve(plan, checks=settings)


# -- the clean plan and the registry ---------------------------------------------------------------
def test_clean_plan_has_no_findings() -> None:
    assert run(clean_plan()) == []


def test_builtin_checks_are_registered_by_default() -> None:
    pm = PluginManager(load_entry_points=False)
    expected = {c.name for c in builtin.BUILTIN_CHECKS}
    assert expected <= set(pm.checks)
    assert pm.checks.get("achievable").code == "SMART-A"


def test_every_code_is_documented_with_its_severity() -> None:
    text = DOCS.read_text(encoding="utf-8")
    documented = dict(
        re.findall(r"^\| `([A-Z]+-[A-Z]\d{3})` \| (error|warning|info) \|", text, re.M)
    )
    source = Path(builtin.__file__).read_text(encoding="utf-8")
    used = set(re.findall(r'"((?:SMART|OKR)-[A-Z]\d{3})"', source))
    assert used
    assert used <= set(documented), f"undocumented: {sorted(used - set(documented))}"
    for code in ("OKR-X001", "OKR-X002", "OKR-X003"):
        assert code in documented
    for rule in builtin.BUILTIN_CHECKS:
        assert f"`{rule.name}`" in text


# -- specific --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "title",
    [
        "Improve customer satisfaction",
        "Enhance the onboarding experience",
        "Increase brand awareness",
        "Better SEO",
        "Optimize landing pages",
        "提升品牌知名度",
        "提高转化率",
        "改善用户体验",
        "加强渠道合作",
        "优化落地页",
        "增强用户粘性",
    ],
)
def test_vague_titles(title: str) -> None:
    assert is_vague_title(title)


@pytest.mark.parametrize(
    "title",
    [
        "Improve NPS from 30 to 45",
        "提升品牌知名度至 60%",
        "自然流量提升２０％",  # full-width digits are numbers too
        "Organic sessions reach 120,000",
        "Grow paid conversions",  # no vague verb
        "品牌搜索量达到 5 万",
    ],
)
def test_titles_that_are_not_vague(title: str) -> None:
    assert not is_vague_title(title)


@pytest.mark.parametrize("title", ["Improve the website", "提升品牌知名度"])
def test_vague_milestone_without_a_number_is_a_warning(title: str) -> None:
    plan = edit_kr(
        clean_plan(), "o1-kr1", title=title, kind="milestone", baseline=None, target=None
    )
    (finding,) = [f for f in run(plan) if f.code.startswith("SMART-S")]
    assert (finding.code, finding.severity) == ("SMART-S002", Severity.WARNING)
    assert finding.where == "objectives[0].key_results[0].title"
    assert title in finding.message


@pytest.mark.parametrize("title", ["Enhance brand awareness", "提升品牌知名度"])
def test_vague_title_with_a_target_suggests_stating_it(title: str) -> None:
    plan = edit_kr(clean_plan(), "o2-kr2", title=title)
    findings = [f for f in run(plan) if f.code.startswith("SMART-S")]
    assert [(f.code, f.severity, f.where) for f in findings] == [
        ("SMART-S003", Severity.INFO, "objectives[1].key_results[1].title")
    ]
    assert "120,000 sessions" in findings[0].message


def test_key_result_without_metric_or_unit() -> None:
    plan = edit_kr(clean_plan(), "o1-kr2", metric=None, unit="")
    assert codes(run(plan)) == ["SMART-S001"]
    assert run(edit_kr(clean_plan(), "o1-kr2", metric=None)) == []  # the unit says enough


# -- measurable ------------------------------------------------------------------------------------
def test_key_result_without_source_or_cadence() -> None:
    plan = edit_kr(clean_plan(), "o3-kr1", cadence=None)
    (finding,) = run(plan)
    assert (finding.code, finding.severity) == ("SMART-M001", Severity.WARNING)
    assert "'o3-kr1'" in finding.message


def test_source_binding_needs_a_known_connection() -> None:
    plan = edit_kr(clean_plan(), "o3-kr1", cadence=None, source={"connection": "ga4"})
    assert run(plan) == []
    plan = edit_kr(plan, "o3-kr1", source={"connection": "ga5", "metric": "sessions"})
    (finding,) = run(plan)
    assert (finding.code, finding.severity) == ("SMART-M002", Severity.ERROR)
    assert "'ga5'" in finding.message
    assert "known: ga4" in finding.message
    plan = edit_kr(plan, "o3-kr1", source={"metric": "sessions"})
    assert codes(run(plan)) == ["SMART-M002"]


# -- achievable ------------------------------------------------------------------------------------
def steep(plan: Plan) -> Plan:
    """o1-kr1 needs 20% growth a month: 1,000 -> 1,728 over the 3 months of the cycle."""
    return edit_kr(plan, "o1-kr1", baseline=1_000, target=1_728, cadence="monthly")


def test_required_and_historical_growth_math() -> None:
    assert required_growth(1_000, 1_728, 3) == pytest.approx(0.20)
    assert required_growth(100, 81, 2) == pytest.approx(-0.10)
    assert required_growth(0, 10, 3) is None
    days = [dt.date(2025, 10, 1), dt.date(2025, 10, 31), dt.date(2025, 11, 30)]
    readings = list(zip(days, [1_000, 1_050, 1_102.5], strict=True))
    assert historical_growth(readings, 30) == pytest.approx(0.05)
    assert historical_growth(readings[:1], 30) is None
    assert historical_growth(readings[:2], 60) is None  # less than one period of history


def test_declared_past_growth_far_below_the_required_is_flagged() -> None:
    plan = with_checks(steep(clean_plan()), achievable={"growth_rate": {"o1-kr1": 0.05}})
    (finding,) = run(plan)
    assert (finding.code, finding.severity) == ("SMART-A001", Severity.WARNING)
    assert "20.0% growth per month" in finding.message
    assert "5.0% per month" in finding.message
    assert finding.where == "objectives[0].key_results[0].target"


def test_declared_past_growth_within_the_factor_is_fine() -> None:
    plan = with_checks(steep(clean_plan()), achievable={"growth_rate": {"o1-kr1": 0.10}})
    assert run(plan) == []
    loose = {"growth_rate": {"o1-kr1": 0.05}, "factor": 5}
    assert run(with_checks(steep(clean_plan()), achievable=loose)) == []


def test_growth_from_check_in_history() -> None:
    days = [dt.date(2025, 10, 2), dt.date(2025, 11, 1), dt.date(2025, 12, 1)]
    slow = [CheckIn("o1-kr1", v, d) for v, d in zip([800, 840, 882], days, strict=True)]
    assert codes(run(steep(clean_plan()), slow)) == ["SMART-A001"]
    flat = [CheckIn("o1-kr1", v, d) for v, d in zip([900, 880, 900], days, strict=True)]
    (finding,) = run(steep(clean_plan()), flat)
    assert finding.message.endswith("no growth at all")
    fast = [CheckIn("o1-kr1", v, d) for v, d in zip([600, 720, 864], days, strict=True)]
    assert run(steep(clean_plan()), fast) == []
    # readings after `at` are not history yet: one reading is not enough to judge
    assert run(steep(clean_plan()), slow, at=dt.date(2025, 10, 15)) == []


def test_decline_is_compared_as_a_rate_too() -> None:
    plan = edit_kr(
        clean_plan(),
        "o1-kr1",
        kind="decrease",
        metric="cost_per_lead",
        unit="CNY",
        baseline=100,
        target=51.2,  # -20% a month for 3 months
        cadence="monthly",
    )
    assert run(plan) == []
    flagged = with_checks(plan, achievable={"growth_rate": {"o1-kr1": -0.05}})
    (finding,) = run(flagged)
    assert finding.code == "SMART-A001"
    assert "decline" in finding.message
    assert run(with_checks(plan, achievable={"growth_rate": {"o1-kr1": -0.1}})) == []


@pytest.mark.parametrize(
    ("base", "target", "flagged"),
    [(1, 5, True), (2, 3, False), (0.5, 0.1, True), (1, 4.9, False)],
)
def test_jump_in_a_conversion_ratio(base: float, target: float, flagged: bool) -> None:
    kind = "increase" if target > base else "decrease"
    plan = edit_kr(
        clean_plan(),
        "o2-kr1",
        title=f"Conversion rate from {base}% to {target}%",
        kind=kind,
        metric="conversion_rate",
        unit="%",
        baseline=base,
        target=target,
    )
    assert codes(run(plan)) == (["SMART-A002"] if flagged else [])


def test_bad_achievable_setting_is_reported_not_raised() -> None:
    plan = with_checks(clean_plan(), achievable={"factor": "three"})
    (finding,) = run(plan)
    assert (finding.code, finding.severity) == ("OKR-X001", Severity.ERROR)
    assert "'achievable'" in finding.message
    assert "'factor'" in finding.message


# -- relevant --------------------------------------------------------------------------------------
def test_objective_without_goal_or_parent() -> None:
    plan = edit_objective(clean_plan(), "o2", goal=None)
    (finding,) = run(plan)
    assert (finding.code, finding.where) == ("SMART-R001", "objectives[1]")
    assert run(edit_objective(plan, "o2", parent="o1")) == []


def test_company_objective_may_stand_alone_unless_configured() -> None:
    plan = edit_objective(clean_plan(), "o2", goal=None, level="company")
    assert run(plan) == []
    strict = with_checks(plan, relevant={"company_may_stand_alone": False})
    assert codes(run(strict)) == ["SMART-R001"]


def test_goal_without_objectives() -> None:
    plan = attrs.evolve(clean_plan(), goals=[*clean_plan().goals, Goal("loyalty", "Loyalty")])
    (finding,) = run(plan)
    assert (finding.code, finding.where) == ("SMART-R002", "goals[1]")


# -- time-bound ------------------------------------------------------------------------------------
def test_deadline_outside_the_cycle() -> None:
    after = edit_kr(clean_plan(), "o1-kr2", deadline=dt.date(2026, 4, 1))
    (finding,) = run(after)
    assert (finding.code, finding.severity) == ("SMART-T001", Severity.ERROR)
    assert finding.where == "objectives[0].key_results[1].deadline"
    before = edit_kr(clean_plan(), "o1-kr2", deadline=dt.date(2025, 12, 31))
    assert codes(run(before)) == ["SMART-T002"]
    assert run(edit_kr(clean_plan(), "o1-kr2", deadline=dt.date(2026, 3, 31))) == []


# -- counts ----------------------------------------------------------------------------------------
def test_too_few_and_too_many_objectives_per_owner() -> None:
    plan = edit_objective(clean_plan(), "o3", owner="sales")
    found = run(plan)
    assert codes(found) == ["OKR-C001", "OKR-C001"]
    assert "owner 'marketing': 2 objective(s)" in found[0].message
    assert run(with_checks(plan, counts={"min_objectives": 1})) == []
    extra = [
        attrs.evolve(
            clean_plan().objectives[0],
            id=f"x{i}",
            key_results=[kr(f"x{i}-1"), kr(f"x{i}-2")],
            strategies=[],
        )
        for i in range(3)
    ]
    many = attrs.evolve(clean_plan(), objectives=[*clean_plan().objectives, *extra])
    (finding,) = run(many)
    assert finding.code == "OKR-C002"
    assert "6 objectives" in finding.message


def test_key_results_per_objective() -> None:
    plan = edit_objective(clean_plan(), "o1", key_results=[kr("only")])
    (finding,) = run(plan)
    assert (finding.code, finding.where) == ("OKR-C003", "objectives[0].key_results")
    plan = edit_objective(clean_plan(), "o1", key_results=[kr(f"k{i}") for i in range(6)])
    assert codes(run(plan)) == ["OKR-C004"]
    loose = with_checks(plan, counts={"max_key_results": 6})
    assert run(loose) == []


def test_parent_objective_measured_by_its_children_needs_no_key_results() -> None:
    plan = clean_plan()
    objectives = list(plan.objectives)
    objectives[0] = attrs.evolve(objectives[0], key_results=[])
    objectives[1] = attrs.evolve(objectives[1], parent="o1")
    assert run(attrs.evolve(plan, objectives=objectives)) == []
    objectives[1] = attrs.evolve(objectives[1], parent=None)
    assert codes(run(attrs.evolve(plan, objectives=objectives))) == ["OKR-C003"]


def test_bad_counts_setting() -> None:
    plan = with_checks(clean_plan(), counts={"min_objectives": 4, "max_objectives": 2})
    (finding,) = run(plan)
    assert finding.code == "OKR-X001"
    assert "max_objectives" in finding.message


# -- activities ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Launch the new website", True),
        ("Write 10 blog posts", True),
        ("Complete the rebrand", True),
        ("上线新官网", True),
        ("完成品牌重塑", True),
        ("发布 12 篇文章", True),
        ("Organic sessions reach 120,000", False),
        ("Relaunch rate", False),
        ("Run rate reaches 1,000,000", False),
        ("组织满意度达到 80%", False),
        ("新官网访问量达到 5 万", False),
    ],
)
def test_activity_titles(title: str, expected: bool) -> None:
    assert is_activity_title(title) is expected


@pytest.mark.parametrize("title", ["Launch the new website", "上线新官网"])
def test_activity_posing_as_a_result(title: str) -> None:
    plan = edit_kr(
        clean_plan(), "o2-kr1", title=title, metric=None, kind="count", baseline=None, target=1
    )
    (finding,) = run(plan)
    assert (finding.code, finding.severity) == ("OKR-A001", Severity.WARNING)
    assert "milestone" in finding.message
    assert "metric" in finding.message
    as_milestone = edit_kr(plan, "o2-kr1", kind="milestone", target=None)
    assert run(as_milestone) == []
    with_metric = edit_kr(plan, "o2-kr1", metric="new_site_sessions")
    assert run(with_metric) == []


# -- dependencies ----------------------------------------------------------------------------------
@given(
    st.dictionaries(
        st.sampled_from("abcdef"), st.lists(st.sampled_from("abcdefg"), max_size=3), max_size=6
    )
)
def test_find_loops_finds_real_loops_exactly_when_there_are_any(
    graph: dict[str, list[str]],
) -> None:
    loops = find_loops(graph)
    for loop in loops:  # each is a real loop: every node depends on the next
        for node, nxt in zip(loop, [*loop[1:], loop[0]], strict=True):
            assert nxt in graph[node]
        assert loop[0] == min(loop)
    # reference: a graph is loop-free exactly when Kahn's algorithm removes every node
    needs = {n: {m for m in deps if m in graph} for n, deps in graph.items()}
    while True:
        free = [n for n, deps in needs.items() if not deps]
        if not free:
            break
        for n in free:
            del needs[n]
        for deps in needs.values():
            deps.difference_update(free)
    assert bool(loops) == bool(needs)


def test_find_loops_names_each_loop_once() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["d"], "e": ["a", "zzz"]}
    assert find_loops(graph) == [["a", "b", "c"], ["d"]]
    assert find_loops({"a": ["b"], "b": []}) == []


def test_unknown_dependency() -> None:
    plan = edit_kr(clean_plan(), "o1-kr1", depends_on=["o9-kr1"])
    (finding,) = run(plan)
    assert (finding.code, finding.severity) == ("OKR-D001", Severity.ERROR)
    assert finding.where == "objectives[0].key_results[0].depends_on"
    assert "'o9-kr1'" in finding.message


def test_dependency_loop_is_named() -> None:
    plan = edit_kr(clean_plan(), "o1-kr1", depends_on=["o2-kr1"])
    plan = edit_kr(plan, "o2-kr1", depends_on=["o3-kr2"])
    plan = edit_kr(plan, "o3-kr2", depends_on=["o1-kr1"])
    (finding,) = run(plan)
    assert (finding.code, finding.severity) == ("OKR-D002", Severity.ERROR)
    assert "o1-kr1 -> o2-kr1 -> o3-kr2 -> o1-kr1" in finding.message


def test_strategy_loop() -> None:
    plan = clean_plan()
    obj = plan.objectives[0]
    strategies = [attrs.evolve(obj.strategies[0], depends_on=["o1-paid"]), obj.strategies[1]]
    plan = edit_objective(plan, "o1", strategies=strategies)
    (finding,) = run(plan)
    assert finding.code == "OKR-D002"
    assert "o1-paid -> o1-seo -> o1-paid" in finding.message
    assert finding.where == "objectives[0].strategies[1].depends_on"


def test_dependent_due_before_its_dependency() -> None:
    plan = edit_kr(clean_plan(), "o1-kr1", deadline=dt.date(2026, 2, 15), depends_on=["o1-kr2"])
    (finding,) = run(plan)
    assert (finding.code, finding.severity) == ("OKR-D003", Severity.ERROR)
    assert "2026-02-15" in finding.message
    assert "2026-03-31" in finding.message
    later = edit_kr(plan, "o1-kr2", deadline=dt.date(2026, 2, 1))
    assert run(later) == []


# -- resources -------------------------------------------------------------------------------------
def test_strategy_budgets_over_the_objective_budget() -> None:
    plan = edit_objective(clean_plan(), "o2", budget=90_000)
    (finding,) = run(plan)
    assert (finding.code, finding.severity) == ("OKR-B001", Severity.ERROR)
    assert "100,000" in finding.message
    assert "by 10,000" in finding.message
    assert finding.where == "objectives[1].budget"
    (finding,) = run(edit_objective(clean_plan(), "o2", budget=None))
    assert (finding.code, finding.severity) == ("OKR-B002", Severity.INFO)


# -- the runner ------------------------------------------------------------------------------------
def broken_plan() -> Plan:
    """One error (deadline after the cycle), two warnings and an info."""
    plan = edit_kr(clean_plan(), "o3-kr2", deadline=dt.date(2026, 5, 1))
    plan = edit_kr(plan, "o3-kr1", cadence=None)
    plan = edit_kr(plan, "o1-kr2", title="提升品牌知名度")
    return edit_objective(plan, "o2", goal=None)


def test_findings_sorted_errors_first_then_by_location() -> None:
    found = run(broken_plan())
    assert [(f.code, f.where) for f in found] == [
        ("SMART-T001", "objectives[2].key_results[1].deadline"),
        ("SMART-R001", "objectives[1]"),
        ("SMART-M001", "objectives[2].key_results[0]"),
        ("SMART-S003", "objectives[0].key_results[1].title"),
    ]


def test_natural_order_of_paths() -> None:
    a = Finding("X", "warning", "m", "objectives[10]")
    b = Finding("X", "warning", "m", "objectives[2]")
    assert sort_findings([a, b]) == [b, a]


def test_findings_are_located_in_the_plan_file() -> None:
    positions = {
        "objectives[2].key_results[1].deadline": (40, 17),
        "objectives[2].key_results[0]": (33, 7),
        "objectives[1]": (20, 5),
    }
    plan = attrs.evolve(broken_plan(), positions=positions)
    found = {f.code: (f.line, f.column) for f in run(plan)}
    assert found["SMART-T001"] == (40, 17)
    assert found["SMART-M001"] == (33, 7)
    assert found["SMART-R001"] == (20, 5)
    # neither the title nor any parent of it is located
    assert found["SMART-S003"] == (None, None)


@pytest.mark.parametrize("off", [False, {"enabled": False}])
def test_checks_can_be_switched_off(off: Any) -> None:
    plan = with_checks(broken_plan(), time_bound=off, relevant=off)
    assert codes(run(plan)) == ["SMART-M001", "SMART-S003"]
    assert codes(run(with_checks(broken_plan(), time_bound=True))) == codes(run(broken_plan()))


def test_unknown_check_name_and_bad_setting() -> None:
    plan = with_checks(clean_plan(), achievabel=False, counts="off")
    found = run(plan)
    assert [(f.code, f.severity, f.where) for f in found] == [
        ("OKR-X003", Severity.ERROR, "checks.counts"),
        ("OKR-X002", Severity.WARNING, "checks.achievabel"),
    ]
    assert "known: achievable, activities" in found[1].message


class Plugin:
    """A third-party check plugin: one rule that works and one that crashes."""

    seen: ClassVar[list[CheckContext]] = []

    @hookimpl
    def okrcore_register_checks(self, register: Any) -> None:
        def owners(plan: Plan, ctx: CheckContext) -> list[Finding]:
            self.seen.append(ctx)
            wanted = ctx.settings.get("owner", "nobody")
            return [
                Finding("ACME-O001", "info", f"{o.id} owned by {wanted}", f"objectives[{i}]")
                for i, o in enumerate(plan.objectives)
                if o.owner == wanted
            ]

        def broken(plan: Plan, ctx: CheckContext) -> list[Finding]:
            raise ZeroDivisionError("division by zero")

        register(Check("acme_owners", "ACME-O", owners))
        register(Check("acme_broken", "ACME-B", broken))


def test_plugin_checks_get_settings_and_a_crash_becomes_a_finding() -> None:
    pm = manager()
    Plugin.seen = []
    pm.register(Plugin(), "acme")
    plan = with_checks(broken_plan(), acme_owners={"owner": "marketing"})
    found = check(plan, [], at=dt.date(2026, 2, 1), manager=pm)
    crash = [f for f in found if f.code == "OKR-X001"]
    assert len(crash) == 1
    assert crash[0].severity is Severity.ERROR
    assert "'acme_broken' (ACME-B) failed: ZeroDivisionError" in crash[0].message
    assert codes(found).count("ACME-O001") == 3
    assert "SMART-T001" in codes(found)  # the other checks still ran
    (ctx,) = Plugin.seen
    assert ctx.settings == {"owner": "marketing"}
    assert ctx.at == dt.date(2026, 2, 1)
    assert ctx.manager is pm


def test_check_is_exported_from_the_package() -> None:
    import okrcore

    # the lazy module __getattr__, as `okrcore.check` uses it (mypy cannot see the lazy names)
    assert okrcore.__getattr__("check") is check
    assert okrcore.__getattr__("Finding") is Finding


# -- from a plan file ------------------------------------------------------------------------------
LINT_PLAN = """\
okrcore: 1
cycles:
  - {id: q4, start: 2026-10-01, end: 2026-12-31}
checks:
  counts: false
  achievable:
    growth_rate: {sessions: 0.05}
objectives:
  - id: brand
    title: 让更多人认识我们
    cycle: q4
    level: company
    key_results:
      - id: awareness
        title: 提升品牌知名度
        kind: milestone
        cadence: monthly
      - id: sessions
        title: Organic sessions reach 1,728
        unit: sessions
        baseline: 1000
        target: 1728
        cadence: monthly
        deadline: 2027-01-15
"""


def test_findings_from_a_yaml_plan_carry_lines_and_honour_its_checks_section() -> None:
    from okrcore import planfile
    plan = planfile.loads_plan(LINT_PLAN, name="lint.yaml")
    found = run(plan)
    assert [(f.code, f.line) for f in found] == [
        ("SMART-T001", 24),  # errors first: the deadline line
        ("SMART-S002", 15),  # then warnings by line: 提升品牌知名度, a milestone with no number
        ("SMART-A001", 22),  # the target: 16.6% a month needed to the deadline, 5% declared
    ]
    assert all(f.column is not None for f in found)
    # counts is off in the plan: one objective with two key results is not flagged
    assert "OKR-C001" not in codes(found)
