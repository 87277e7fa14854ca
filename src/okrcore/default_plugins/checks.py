"""Built-in checks, registered through the okrcore hooks: the SMART and OKR-hygiene rules that
docs/checks.md describes.

Every rule is a pure function ``(plan, context) -> findings``. Codes are stable; docs/checks.md
lists each code with its severity, meaning and settings. Severity follows one rule: what cannot
work as written is an error, a hygiene problem is a warning, a suggestion is info.

About 700 lines on purpose: one list of small rules, grouped as docs/checks.md groups them (SMART,
then OKR hygiene), each a few lines sharing the helpers at the top.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from okrcore._graph import find_loops
from okrcore._numbers import num
from okrcore.benchmarks import benchmark_for
from okrcore.checks import (
    Check,
    CheckContext,
    Finding,
    Severity,
    orphaned_checkins,
    orphans_message,
)
from okrcore.hookspecs import hookimpl
from okrcore.model import Cadence, KeyResult, Kind, Level, Measure, Objective, Plan, Strategy
from okrcore.remind import owner_route, recipients, reminder_settings

__all__ = [
    "BUILTIN_CHECKS",
    "find_loops",
    "historical_growth",
    "is_activity_title",
    "is_vague_title",
    "required_growth",
]

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


# -- helpers -------------------------------------------------------------------------------------
def _key_results(plan: Plan) -> Iterator[tuple[str, KeyResult, Objective]]:
    """Every key result with its field path and objective, in plan order."""
    for i, obj in enumerate(plan.objectives):
        for j, kr in enumerate(obj.key_results):
            yield f"objectives[{i}].key_results[{j}]", kr, obj


def _setting(
    settings: Mapping[str, Any], name: str, default: float, *, minimum: float = 0
) -> float:
    """A numeric setting; a bad value raises, which the runner reports as ``OKR-X001``."""
    value = settings.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ValueError(f"setting {name!r} must be a number >= {minimum:g}, got {value!r}")
    return float(value)


_DIGIT = re.compile(r"\d")  # also matches full-width digits such as "２０"

_VAGUE_EN = re.compile(
    r"\b(improve|improving|improved|enhance|enhancing|better|optimi[sz]e|optimi[sz]ing|boost|"
    r"strengthen|maximi[sz]e|(?:increase|raise|grow|build|drive)\s+(?:\w+\s+){0,2}awareness)\b",
    re.IGNORECASE,
)
_VAGUE_ZH = ("提升", "提高", "改善", "改进", "加强", "强化", "优化", "增强")


def is_vague_title(title: str) -> bool:
    """Whether a title uses a vague verb ("improve", "提升") and states no number.

    A number is any decimal digit (ASCII or full-width). Chinese numerals are not counted, since
    characters such as 一 are common in ordinary words.
    """
    if _DIGIT.search(title):
        return False
    return bool(_VAGUE_EN.search(title)) or any(word in title for word in _VAGUE_ZH)


# Verbs that name work to do. Ambiguous ones ("run", "design", 组织, 设计) are left out: they
# also start outcome titles ("run rate", "design-system adoption", 组织满意度).
_ACTIVITY_EN = re.compile(
    r"^\s*(launch|write|complete|publish|hold|finish|create|build|ship|release|deliver|implement|"
    r"organi[sz]e|host|conduct|attend|send|develop|redesign|produce|set\s+up)\b",
    re.IGNORECASE,
)
_ACTIVITY_ZH = (
    "上线", "完成", "发布", "撰写", "编写", "举办", "推出", "开展", "召开", "制定", "建立", "开发",
)  # fmt: skip


def is_activity_title(title: str) -> bool:
    """Whether a title starts with an activity verb ("launch", "write", "上线", "完成"...)."""
    stripped = title.strip()
    return bool(_ACTIVITY_EN.match(stripped)) or stripped.startswith(_ACTIVITY_ZH)


def required_growth(start: float, target: float, periods: float) -> float | None:
    """Compound growth per period needed to go from ``start`` to ``target`` (negative: decline).

    ``None`` when it is undefined (a value not above zero, or no period to grow in).
    """
    if start <= 0 or target <= 0 or periods <= 0:
        return None
    return float((target / start) ** (1.0 / periods) - 1.0)


def historical_growth(readings: Sequence[tuple[dt.date, float]], period_days: int) -> float | None:
    """Compound growth per period shown by a history of readings (negative: decline).

    A least-squares line through log(value) against time in periods, so one odd reading does not
    decide it. ``None`` without at least two positive readings spanning a whole period.
    """
    points = [(day, value) for day, value in readings if value > 0]
    if len(points) < 2:
        return None
    first = min(day for day, _ in points)
    xs = [(day - first).days / period_days for day, _ in points]
    if max(xs) < 1.0:
        return None
    ys = [math.log(value) for _, value in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return math.exp(slope) - 1.0


def _chain(loop: Sequence[str]) -> str:
    return " -> ".join([*loop, loop[0]])


# -- SMART ---------------------------------------------------------------------------------------
def specific(plan: Plan, ctx: CheckContext) -> Iterator[Finding]:
    """SMART-S: a key result names what it measures and states a number."""
    for path, kr, _obj in _key_results(plan):
        if kr.kind is not Kind.MILESTONE and not kr.metric and not kr.unit:
            yield Finding(
                "SMART-S001",
                WARNING,
                f"key result {kr.id!r} names no metric and no unit: say what is measured",
                path,
            )
        if is_vague_title(kr.title):
            if kr.target is None:
                yield Finding(
                    "SMART-S002",
                    WARNING,
                    f"key result {kr.id!r} is vague ({kr.title!r}) and has no number: give it "
                    "a metric and a numeric target, or state the result to reach",
                    f"{path}.title",
                )
            else:
                yield Finding(
                    "SMART-S003",
                    INFO,
                    f"key result {kr.id!r}: the title {kr.title!r} is vague; state the number "
                    f"in it ({num(kr.target, kr.unit)})",
                    f"{path}.title",
                )


def measurable(plan: Plan, ctx: CheckContext) -> Iterator[Finding]:
    """SMART-M: a key result is fed by a source binding or by manual check-ins at a cadence."""
    for path, kr, _obj in _key_results(plan):
        if kr.rollup is not None:  # fed by its parts
            continue
        if kr.source is None:
            if kr.cadence is None:
                yield Finding(
                    "SMART-M001",
                    WARNING,
                    f"key result {kr.id!r} has neither a source binding nor a check-in cadence: "
                    "bind a source or set cadence (daily, weekly, monthly)",
                    path,
                )
            continue
        connection = kr.source.get("connection")
        if not connection:
            yield Finding(
                "SMART-M002",
                ERROR,
                f"key result {kr.id!r}: its source names no connection",
                f"{path}.source",
            )
        elif connection not in plan.connections:
            known = ", ".join(sorted(plan.connections)) or "none"
            yield Finding(
                "SMART-M002",
                ERROR,
                f"key result {kr.id!r}: its source names an unknown connection {connection!r} "
                f"(known: {known})",
                f"{path}.source.connection",
            )


_RATIO_UNITS = {"%", "percent", "pct", "ratio", "rate"}
# whole words only ("generate" is no rate, "conversions" are a count); 转化率, 跳出率 are rates
_RATIO_WORDS = re.compile(r"(?<![a-z])(rate|ratio|ctr|conversion)(?![a-z])|率", re.IGNORECASE)


def _is_ratio(kr: KeyResult) -> bool:
    if kr.unit.strip().lower() in _RATIO_UNITS:
        return True
    return bool(_RATIO_WORDS.search(kr.metric or "")) or bool(_RATIO_WORDS.search(kr.title))


def _period_days(kr: KeyResult, settings: Mapping[str, Any]) -> tuple[int, str]:
    name = settings.get("period")
    if name is None:
        cadence = kr.cadence or Cadence.MONTHLY
    else:
        try:
            cadence = Cadence(name)
        except ValueError:
            raise ValueError(
                f"setting 'period' must be daily, weekly or monthly, got {name!r}"
            ) from None
    return cadence.days, {"daily": "day", "weekly": "week", "monthly": "month"}[cadence.value]


def achievable(plan: Plan, ctx: CheckContext) -> Iterator[Finding]:
    """SMART-A: a target is within reach of the history (declared growth or past check-ins)."""
    settings = ctx.settings
    factor = _setting(settings, "factor", 3.0, minimum=1.0)
    jump = _setting(settings, "ratio_jump", 5.0, minimum=1.0)
    declared = settings.get("growth_rate") or {}
    if not isinstance(declared, Mapping):
        raise ValueError("setting 'growth_rate' must map key-result ids to a rate per period")
    history: dict[str, list[tuple[dt.date, float]]] = {}
    for ci in ctx.checkins:
        if ctx.at is None or ci.as_of <= ctx.at:
            history.setdefault(ci.kr_id, []).append((ci.as_of, ci.value))
    for path, kr, obj in _key_results(plan):
        if kr.kind not in (Kind.INCREASE, Kind.DECREASE, Kind.COUNT):
            continue
        base, target = kr.effective_baseline, kr.effective_target
        if base is None or target is None:
            continue
        if _is_ratio(kr) and base > 0 and target > 0 and max(target / base, base / target) >= jump:
            yield Finding(
                "SMART-A002",
                WARNING,
                f"key result {kr.id!r}: a {max(target / base, base / target):.3g}x jump in a ratio "
                f"({num(base)} -> {num(target)}) is rarely achievable in one cycle (flagged from "
                f"{jump:g}x)",
                f"{path}.target",
            )
        yield from _growth_finding(plan, path, kr, obj, history, declared, settings, factor)
    yield from _benchmark_findings(plan, ctx, history, declared)


def _benchmark_findings(
    plan: Plan,
    ctx: CheckContext,
    history: Mapping[str, Sequence[tuple[dt.date, float]]],
    declared: Mapping[str, Any],
) -> Iterator[Finding]:
    """SMART-A003: without history, a target far outside the benchmark range plugins supply."""
    factor = _setting(ctx.settings, "benchmark_factor", 1.5, minimum=1.0)
    bound = ctx.settings.get("benchmarks") or {}
    if not isinstance(bound, Mapping):
        raise ValueError("setting 'benchmarks' must map key-result ids to benchmark names")
    manager = ctx.manager
    if manager is None:
        from okrcore.plugins import default_manager

        manager = default_manager()
    from okrcore.plugins import load_plugin_modules

    load_plugin_modules(manager, plan.plugins)  # a plan may name the module with its benchmarks
    registry = manager.benchmarks
    if not len(registry) and not bound:
        return
    benchmarks = list(registry.items().values())
    for kr_id, name in bound.items():
        if name not in registry:
            known = ", ".join(sorted(registry)) or "none installed"
            raise ValueError(f"benchmarks: {kr_id!r} names an unknown benchmark {name!r} ({known})")
    for path, kr, _obj in _key_results(plan):
        target = kr.effective_target
        if target is None or kr.kind is Kind.MILESTONE or kr.rollup is not None:
            continue
        if history.get(kr.id) or kr.id in declared:
            continue  # the history (or a declared rate) is the better judge
        mark = benchmark_for(kr, benchmarks, bound)
        if mark is None:
            continue
        side = mark.outside(target, factor)
        if side is None:
            continue
        what = mark.title or f"{mark.metric} ({mark.name})"
        yield Finding(
            "SMART-A003",
            WARNING,
            f"key result {kr.id!r} has no history and its target {num(target, kr.unit)} is far "
            f"{side} the typical {what} of {num(mark.low)} to {num(mark.high, mark.unit)} "
            f"(flagged beyond {factor:g}x; source: {mark.source})",
            f"{path}.target",
        )


def _growth_finding(
    plan: Plan,
    path: str,
    kr: KeyResult,
    obj: Objective,
    history: Mapping[str, Sequence[tuple[dt.date, float]]],
    declared: Mapping[str, Any],
    settings: Mapping[str, Any],
    factor: float,
) -> Iterator[Finding]:
    base, target = kr.effective_baseline, kr.effective_target
    if base is None or target is None:
        return
    period_days, period = _period_days(kr, settings)
    if kr.id in declared:
        rate = declared[kr.id]
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise ValueError(f"growth_rate of {kr.id!r} must be a number, got {rate!r}")
        past: float | None = float(rate)
        origin = "the declared past rate"
    elif kr.measure is Measure.GAUGE:
        past = historical_growth(history.get(kr.id, ()), period_days)
        origin = "the check-in history"
    else:  # a cumulative reading is one period's amount, not a level that compounds
        past = None
        origin = ""
    cycle = plan.cycle(obj.cycle)
    periods = ((plan.deadline_of(kr.id) - cycle.start).days + 1) / period_days
    needed = required_growth(base, target, periods)
    if past is None or needed is None:
        return
    sign = -1.0 if kr.kind is Kind.DECREASE else 1.0  # compare declines as positive rates
    needed, past = sign * needed, sign * past
    if needed > factor * max(past, 0.0):
        verb = "decline" if sign < 0 else "growth"
        yield Finding(
            "SMART-A001",
            WARNING,
            f"key result {kr.id!r} needs {needed:.1%} {verb} per {period} ({num(base)} -> "
            f"{num(target)} over {periods:.3g} {period}s) but {origin} shows {past:.1%} per "
            f"{period}: "
            + (f"more than {factor:g}x the past rate" if past > 0 else f"no {verb} at all"),
            f"{path}.target",
        )


def relevant(plan: Plan, ctx: CheckContext) -> Iterator[Finding]:
    """SMART-R: objectives align to a goal or a parent; goals have objectives aligned to them."""
    alone_ok = ctx.settings.get("company_may_stand_alone", True)
    if not isinstance(alone_ok, bool):
        raise ValueError(f"setting 'company_may_stand_alone' must be true or false: {alone_ok!r}")
    for i, obj in enumerate(plan.objectives):
        if obj.goal is None and not obj.parent_ids:  # parent, or any of parents
            if obj.level is Level.COMPANY and alone_ok:
                continue
            yield Finding(
                "SMART-R001",
                WARNING,
                f"objective {obj.id!r} ({obj.level.value} level) aligns to no goal and no parent "
                "objective: set goal or parent",
                f"objectives[{i}]",
            )
    aligned = {obj.goal for obj in plan.objectives}
    for g, goal in enumerate(plan.goals):
        if goal.id not in aligned:
            yield Finding(
                "SMART-R002",
                WARNING,
                f"goal {goal.id!r} has no objective aligned to it, so nothing measures it",
                f"goals[{g}]",
            )


def time_bound(plan: Plan, ctx: CheckContext) -> Iterator[Finding]:
    """SMART-T: a key result's deadline falls inside its cycle."""
    for path, kr, obj in _key_results(plan):
        if kr.deadline is None:
            continue  # the cycle's end
        cycle = plan.cycle(obj.cycle)
        if kr.deadline > cycle.end:
            yield Finding(
                "SMART-T001",
                ERROR,
                f"key result {kr.id!r}: deadline {kr.deadline} is after the end of cycle "
                f"{cycle.id!r} ({cycle.end})",
                f"{path}.deadline",
            )
        elif kr.deadline < cycle.start:
            yield Finding(
                "SMART-T002",
                ERROR,
                f"key result {kr.id!r}: deadline {kr.deadline} is before the start of cycle "
                f"{cycle.id!r} ({cycle.start})",
                f"{path}.deadline",
            )


# -- OKR hygiene -----------------------------------------------------------------------------------
def counts(plan: Plan, ctx: CheckContext) -> Iterator[Finding]:
    """OKR-C: 3-5 objectives per owner per cycle, 2-5 key results per objective."""
    s = ctx.settings
    min_obj = _setting(s, "min_objectives", 3)
    max_obj = _setting(s, "max_objectives", 5, minimum=min_obj)
    min_kr = _setting(s, "min_key_results", 2)
    max_kr = _setting(s, "max_key_results", 5, minimum=min_kr)
    groups: dict[tuple[str, str | None], list[int]] = {}
    for i, obj in enumerate(plan.objectives):
        groups.setdefault((obj.cycle, obj.owner), []).append(i)
    for (cycle, owner), indexes in groups.items():
        n = len(indexes)
        who = f"owner {owner!r}" if owner is not None else "the objectives without an owner"
        expected = f"expected {min_obj:g}-{max_obj:g}"
        where = f"objectives[{indexes[0]}]"
        if n < min_obj:
            yield Finding(
                "OKR-C001",
                WARNING,
                f"{who}: {n} objective(s) in cycle {cycle!r} ({expected}): too few to focus a "
                "cycle's work on, or objectives are missing",
                where,
            )
        elif n > max_obj:
            yield Finding(
                "OKR-C002",
                WARNING,
                f"{who}: {n} objectives in cycle {cycle!r} ({expected}): too many to focus on",
                where,
            )
    parents = {obj.parent for obj in plan.objectives}
    for i, obj in enumerate(plan.objectives):
        n = len(obj.key_results)
        expected = f"expected {min_kr:g}-{max_kr:g}"
        if n < min_kr and not (n == 0 and obj.id in parents):
            yield Finding(
                "OKR-C003",
                WARNING,
                f"objective {obj.id!r} has {n} key result(s) ({expected})",
                f"objectives[{i}].key_results" if n else f"objectives[{i}]",
            )
        elif n > max_kr:
            yield Finding(
                "OKR-C004",
                WARNING,
                f"objective {obj.id!r} has {n} key results ({expected}): keep the few that matter",
                f"objectives[{i}].key_results",
            )


def activities(plan: Plan, ctx: CheckContext) -> Iterator[Finding]:
    """OKR-A: a key result titled as an activity ("launch", "上线") with no metric."""
    for path, kr, _obj in _key_results(plan):
        if kr.kind is Kind.MILESTONE or kr.metric or not is_activity_title(kr.title):
            continue
        yield Finding(
            "OKR-A001",
            WARNING,
            f"key result {kr.id!r} ({kr.title!r}) reads as an activity, not a result: make it a "
            "milestone (kind: milestone) or measure the outcome it should change (set a metric)",
            f"{path}.title",
        )


def dependencies(plan: Plan, ctx: CheckContext) -> Iterator[Finding]:
    """OKR-D: dependencies exist, form no loop, and no result is due before what it needs."""
    paths: dict[str, str] = {}
    graph: dict[str, tuple[str, ...]] = {}
    for i, obj in enumerate(plan.objectives):
        for j, kr in enumerate(obj.key_results):
            paths[kr.id] = f"objectives[{i}].key_results[{j}]"
            graph[kr.id] = kr.depends_on
        for k, strategy in enumerate(obj.strategies):
            paths.setdefault(strategy.id, f"objectives[{i}].strategies[{k}]")
            graph.setdefault(strategy.id, strategy.depends_on)
    for node, needs in graph.items():
        for other in needs:
            if other not in graph:
                yield Finding(
                    "OKR-D001",
                    ERROR,
                    f"{node!r} depends on {other!r}, which is no key result or strategy here",
                    f"{paths[node]}.depends_on",
                )
    for loop in find_loops(graph):
        yield Finding(
            "OKR-D002",
            ERROR,
            f"dependency loop: {_chain(loop)}",
            f"{paths[loop[0]]}.depends_on",
        )
    for path, kr, _obj in _key_results(plan):
        due = plan.deadline_of(kr.id)
        for other in kr.depends_on:
            if other == kr.id or not plan.has_key_result(other):
                continue
            other_due = plan.deadline_of(other)
            if due < other_due:
                yield Finding(
                    "OKR-D003",
                    ERROR,
                    f"key result {kr.id!r} is due {due}, before {other!r} (due {other_due}) "
                    "that it depends on",
                    f"{path}.deadline" if kr.deadline else f"{path}.depends_on",
                )


def orphans(plan: Plan, ctx: CheckContext) -> Iterator[Finding]:
    """OKR-H: check-ins of a key result the plan no longer has (renamed or removed)."""
    for kr_id, checkins in orphaned_checkins(plan, ctx.checkins).items():
        yield Finding("OKR-H001", WARNING, orphans_message(plan, kr_id, checkins), kr_id)


def resources(plan: Plan, ctx: CheckContext) -> Iterator[Finding]:
    """OKR-B: the strategies' budgets fit their objective's budget, and the initiatives' budgets
    their strategy's."""
    for i, obj in enumerate(plan.objectives):
        for j, st in enumerate(obj.strategies):
            spent = sum(ini.budget for ini in st.initiatives if ini.budget is not None)
            if st.budget is not None and spent > st.budget * (1 + 1e-9):
                yield Finding(
                    "OKR-B003",
                    ERROR,
                    f"strategy {st.id!r}: its initiatives budget {spent:,.10g} in all, over "
                    f"the strategy's budget of {st.budget:,.10g} by {spent - st.budget:,.10g}",
                    f"objectives[{i}].strategies[{j}].budget",
                )
        budgets = [s.budget for s in obj.strategies if s.budget is not None]
        if not budgets:
            continue
        total = sum(budgets)
        if obj.budget is None:
            yield Finding(
                "OKR-B002",
                INFO,
                f"objective {obj.id!r}: its strategies budget {num(total)} in all but the "
                "objective has no budget to check them against",
                f"objectives[{i}]",
            )
        elif total > obj.budget * (1 + 1e-9):
            yield Finding(
                "OKR-B001",
                ERROR,
                f"objective {obj.id!r}: its strategies budget {num(total)}, over the "
                f"objective's budget of {num(obj.budget)} by {num(total - obj.budget)}",
                f"objectives[{i}].budget",
            )


def owners(plan: Plan, ctx: CheckContext) -> Iterator[Finding]:
    """OKR-O: with an ``owners`` section, every owner reference names one of its owners, and
    every owner can be reached; with a ``reminders`` section, every owner ``okr remind`` may
    remind can be reached (the rule is :func:`okrcore.remind.owner_route`, the one ``okr
    remind`` applies). A plan without either section keeps free-text owners unchecked."""
    known = [o.id for o in plan.owners]
    if plan.owners:
        for path, ref in plan.owner_refs():
            if plan.find_owner(ref) is None:
                close = difflib.get_close_matches(ref, known, n=1) if len(ref) < 100 else []
                hint = (f" (did you mean {close[0]!r}?)" if close
                        else f" (owners: {', '.join(known)})")
                yield Finding(
                    "OKR-O001",
                    ERROR,
                    f"unknown owner {ref!r}{hint}: add it to the owners section or use an "
                    "owner's id",
                    path,
                )
    unreached: set[str] = set()
    if plan.reminders:
        settings = reminder_settings(plan)
        for ref, reached in recipients(plan, settings).items():
            if plan.owners and plan.find_owner(ref) is None:
                continue  # OKR-O001 names it
            problem = owner_route(plan, ref, settings)[2]
            if problem is None:
                continue
            unreached.add(ref)
            krs = list(dict.fromkeys(kr for _path, kr in reached))
            what = f"key result {krs[0]!r}" if len(krs) == 1 else \
                f"{len(krs)} key results ({', '.join(krs)})"
            yield Finding(
                "OKR-O003",
                ERROR,
                f"{problem}: okr remind cannot remind them of {what}",
                reached[0][0],
            )
    for i, owner in enumerate(plan.owners):
        if owner.notify is None and owner.email is None and owner.id not in unreached:
            yield Finding(
                "OKR-O002",
                INFO,
                f"owner {owner.id!r} has no notify channel and no email, so reminders and events "
                "cannot reach them",
                f"owners[{i}]",
            )


def _supported(plan: Plan, obj: Objective, strategy: Strategy) -> list[str]:
    """Ids of the key results a strategy works for: those its initiatives name, else every key
    result of its objective."""
    named = [k for ini in strategy.initiatives for k in ini.key_results]
    return list(dict.fromkeys(named)) if named else [kr.id for kr in obj.key_results]


def budget_cuts(plan: Plan, ctx: CheckContext) -> Iterator[Finding]:
    """OKR-F: a strategy's budget was cut (a recorded strategy change) and a key result it works
    for keeps its target: re-check that the target is still feasible."""
    min_cut = _setting(ctx.settings, "min_cut", 0.1)
    rechecked = ctx.settings.get("rechecked", [])
    if not isinstance(rechecked, list) or not all(isinstance(k, str) for k in rechecked):
        raise ValueError(f"setting 'rechecked' must be a list of key-result ids, got {rechecked!r}")
    for obj in plan.objectives:
        for strategy in obj.strategies:
            if strategy.budget is None or strategy.budget <= 0:
                continue
            cuts = [
                c
                for c in ctx.strategy_changes
                if c.strategy_id == strategy.id and c.field == "budget"
            ]
            budget, cut_at, reason = strategy.budget, None, ""
            for change in cuts:  # oldest first: the first cut since the plan's budget counts
                new = change.new
                if isinstance(new, (int, float)) and not isinstance(new, bool):
                    if cut_at is None and new < strategy.budget * (1 - min_cut):
                        cut_at, reason = change.changed_at, change.reason
                    budget = float(new)
            if cut_at is None or budget >= strategy.budget * (1 - min_cut):
                continue  # no cut, or the budget came back
            share = 1 - budget / strategy.budget
            for kr_id in _supported(plan, obj, strategy):
                retargeted = any(
                    t.kr_id == kr_id and t.changed_at >= cut_at for t in ctx.target_changes
                )
                if retargeted or kr_id in rechecked:
                    continue
                kr = plan.key_result(kr_id)
                target = kr.effective_target
                kept = f"keeps its target {target:,.10g}{' ' + kr.unit if kr.unit else ''}"
                yield Finding(
                    "OKR-F001",
                    WARNING,
                    f"key result {kr_id!r} {kept} although the budget of strategy "
                    f"{strategy.id!r} was cut from {strategy.budget:,.10g} to {budget:,.10g} "
                    f"(-{share:.0%}) on {cut_at.date().isoformat()} ({reason}): re-check that "
                    "the target is still feasible, and record a new one with okr retarget if not",
                    f"{plan.kr_path(kr_id)}.target",
                )


def sums(plan: Plan, ctx: CheckContext) -> Iterator[Finding]:
    """OKR-S: the target (and baseline) of a ``rollup: sum`` key result is the sum of its parts'
    (a company target that its teams' targets do not add up to is missed by construction)."""
    tolerance = _setting(ctx.settings, "tolerance", 0.0, minimum=0.0)
    for path, kr, _obj in _key_results(plan):
        parts = [plan.key_result(p) for p in plan.sum_parts(kr.id)]
        if not parts:
            continue
        for field in ("target", "baseline"):
            own = getattr(kr, f"effective_{field}")
            values = [getattr(p, f"effective_{field}") for p in parts]
            if own is None or any(v is None for v in values):
                continue
            total = math.fsum(v for v in values if v is not None)
            if abs(total - own) > tolerance * abs(own) + 1e-9 * max(abs(own), 1.0):
                listed = ", ".join(f"{p.id} {num(v)}" for p, v in zip(parts, values, strict=True))
                yield Finding(
                    "OKR-S001",
                    WARNING,
                    f"key result {kr.id!r} adds up its parts, but their {field}s add up to "
                    f"{num(total)}, not {num(own)} ({listed})",
                    f"{path}.{field}",
                )


BUILTIN_CHECKS: tuple[Check, ...] = (
    Check("specific", "SMART-S", specific, "key results name a metric and state a number"),
    Check("measurable", "SMART-M", measurable, "key results have a source or a cadence"),
    Check("achievable", "SMART-A", achievable, "targets are within reach of the history"),
    Check("relevant", "SMART-R", relevant, "objectives align to a goal or a parent"),
    Check("time_bound", "SMART-T", time_bound, "deadlines fall inside their cycle"),
    Check("counts", "OKR-C", counts, "3-5 objectives per owner, 2-5 key results each"),
    Check("activities", "OKR-A", activities, "results, not activities"),
    Check("dependencies", "OKR-D", dependencies, "dependencies exist, loop-free, in order"),
    Check("resources", "OKR-B", resources, "strategy budgets fit the objective's budget"),
    Check("orphans", "OKR-H", orphans, "every check-in belongs to a key result of the plan"),
    Check("owner_ids", "OKR-O", owners, "owners are ids of the owners section, and reachable"),
    Check("budget_cuts", "OKR-F", budget_cuts, "targets re-checked after a budget cut"),
    Check("sums", "OKR-S", sums, "a sum's target and baseline are its parts' added up"),
)


@hookimpl
def okrcore_register_checks(register: Callable[[Check], None]) -> None:
    """Register the built-in SMART and OKR-hygiene checks."""
    for rule in BUILTIN_CHECKS:
        register(rule)
