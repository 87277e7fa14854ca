"""Scoring: a plan and its check-ins as of a date become a :class:`Scorecard`.

:func:`score` (and :class:`LiveScore`, which takes new check-ins one at a time) computes each key
result's actual, progress, grade, pace, forecast, staleness and traffic light, and rolls them up
the alignment tree (:mod:`okrcore.rollup`). The pure formulas are in :mod:`okrcore.progress`; the
two judgement calls, how progress becomes a grade and how completion becomes a light, are the
policies of :mod:`okrcore.policies`, looked up by the names the plan gives. docs/scoring.md has
the rules with worked examples.

About 750 lines on purpose: :func:`score` and :class:`LiveScore` are one computation (the
batch is the incremental one run once), so a key result's scoring and its rollup read together.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from .changes import History, plan_in_force
from .errors import PlanError, Problem
from .kpis import score_kpis
from .model import Cadence, CheckIn, Cycle, KeyResult, Measure, Plan, as_date
from .policies import (
    DefaultGrading,
    DefaultStatus,
    GradingPolicy,
    Light,
    LinearGrading,
    NodeFacts,
    NodeKind,
    StatusFacts,
    StatusPolicy,
    setting,
)
from .progress import (
    MAINTAIN,
    clamp,
    expected_progress,
    grade_columns,
    least_squares,
    plan_base,
    plan_to_date,
    progress,
)
from .rollup import Rollup, RollupTree, weighted_mean
from .scorecard import KRScore, NodeScore, Scorecard

if TYPE_CHECKING:
    from .plugins import PluginManager

# the policies, formulas and results are re-exported: they were defined here before
__all__ = [
    "DefaultGrading",
    "DefaultStatus",
    "GradingPolicy",
    "KRScore",
    "Light",
    "LinearGrading",
    "LiveScore",
    "NodeFacts",
    "NodeScore",
    "Scorecard",
    "StatusFacts",
    "StatusPolicy",
    "confidence_scale",
    "daily_values",
    "expected_progress",
    "grade_columns",
    "initiative_readings",
    "least_squares",
    "progress",
    "score",
    "sum_readings",
]

DEFAULT_CADENCE = Cadence.WEEKLY
DEFAULT_STALE_FACTOR = 1.5
# KRScore keeps the last three period completions (the status policy sees every period): a
# whole cycle's periods for every key result was a quarter of a large scorecard's memory
RECENT_PERIODS = 3


def daily_values(history: Iterable[CheckIn], end: dt.date) -> dict[dt.date, float]:
    """One value per day up to ``end``; a later-recorded check-in for a day corrects an earlier."""
    return _daily_and_confidence(history, end)[0]


def _daily_and_confidence(
    history: Iterable[CheckIn], end: dt.date
) -> tuple[dict[dt.date, float], float | None]:
    """:func:`daily_values`, and the confidence of the latest check-in up to ``end`` that states
    one (latest ``as_of``, then latest recorded), in one pass."""
    # one pass instead of a sort: the latest recorded wins, and of equal times the later given
    value: dict[dt.date, float] = {}
    recorded: dict[dt.date, dt.datetime] = {}
    confidence: float | None = None
    said: tuple[dt.date, dt.datetime] | None = None
    for ci in history:
        day = ci.as_of
        if day <= end:
            when = recorded.get(day)
            if when is None or ci.recorded_at >= when:
                value[day] = ci.value
                recorded[day] = ci.recorded_at
            if ci.confidence is not None and (said is None or (day, ci.recorded_at) >= said):
                confidence, said = ci.confidence, (day, ci.recorded_at)
    return {day: value[day] for day in sorted(value)}, confidence


def _ratio(actual: float, plan: float, lower_is_better: bool) -> float | None:
    if lower_is_better:
        if actual <= 0:
            return math.inf if plan > 0 else None
        return plan / actual
    return actual / plan if plan > 0 else None


def _score_kr(
    kr: KeyResult,
    objective: str,
    cycle: Cycle,
    deadline: dt.date,
    history: Sequence[CheckIn],
    at: dt.date,
    grading: GradingPolicy,
    status: StatusPolicy,
    stale_factor: float,
    sum_of: tuple[str, ...] = (),
) -> KRScore:
    start = cycle.start
    end = min(at, deadline)
    span = max((deadline - start).days + 1, 1)
    expected = expected_progress(kr, cycle, deadline, at)
    cumulative = kr.measure is Measure.CUMULATIVE
    lower = kr.lower_is_better
    target = kr.effective_target
    assert target is not None  # the model refuses key results without one

    daily, confidence = _daily_and_confidence(history, end)
    last_checkin = next(reversed(daily)) if daily else None
    if cumulative and last_checkin is not None and next(iter(daily)) < start:
        daily = {d: v for d, v in daily.items() if d >= start}
    days = list(daily)  # in date order

    base = plan_base(kr)
    planned = plan_to_date(kr, start, deadline, at)

    actual: float | None = None
    if days:
        actual = sum(daily[d] for d in days) if cumulative else daily[days[-1]]

    prog = score_ = completion = forecast = forecast_score = None
    if actual is not None:
        prog = progress(kr, actual)
        score_ = grading.grade(kr, prog, actual)
        if cumulative:
            completion = _ratio(actual, planned, lower)
        elif expected > 0:
            completion = prog / expected
        forecast = _forecast(daily, days, cumulative, start, deadline, at, actual)
        forecast_score = grading.grade(kr, progress(kr, forecast), forecast)
    expected_score = grading.grade(kr, progress(kr, planned), planned)

    period_days = (kr.cadence or DEFAULT_CADENCE).days
    periods = _period_completions(
        kr, daily, start, end, span, period_days, cumulative, base, target, cycle, deadline
    )

    below_floor = False
    judged = forecast if forecast is not None else actual
    if kr.floor is not None and judged is not None:
        below_floor = judged > kr.floor if lower else judged < kr.floor

    stale = False
    if end >= start:
        since = max(last_checkin, start - dt.timedelta(days=1)) if last_checkin else None
        since = since or start - dt.timedelta(days=1)
        stale = (end - since).days > stale_factor * period_days

    facts = StatusFacts(
        kr=kr,
        at=at,
        actual=actual,
        progress=prog,
        expected=expected,
        plan_to_date=planned,
        completion=completion,
        periods=periods,
        period_days=period_days,
        checkins=len(days),
        cycle_start=start,
    )
    if actual is None:
        light = Light.GREY
        reason = "no check-in yet" if at >= start else f"the cycle starts on {start.isoformat()}"
    elif at < start:
        light, reason = Light.GREY, f"the cycle starts on {start.isoformat()}"
    else:
        light, reason = status.status(kr, completion, periods, facts)

    return KRScore(
        id=kr.id,
        title=kr.title,
        objective=objective,
        unit=kr.unit,
        kind=kr.kind,
        measure=kr.measure,
        weight=kr.weight,
        baseline=kr.effective_baseline,
        target=target,
        floor=kr.floor,
        stretch=kr.stretch,
        deadline=deadline,
        actual=actual,
        progress=prog,
        score=score_,
        expected=expected,
        expected_score=expected_score,
        plan_to_date=planned,
        completion=completion,
        periods=periods[-RECENT_PERIODS:],
        status=light,
        reason=reason,
        forecast=forecast,
        forecast_score=forecast_score,
        stale=stale,
        below_floor=below_floor,
        aspirational=kr.aspirational,
        success_bar=0.7 if kr.aspirational else 1.0,
        last_checkin=last_checkin,
        checkins=len(days),
        confidence=confidence,
        sum_of=sum_of,
    )


def _forecast(
    daily: Mapping[dt.date, float],
    days: Sequence[dt.date],
    cumulative: bool,
    start: dt.date,
    deadline: dt.date,
    at: dt.date,
    actual: float,
) -> float:
    """Least squares over the history (the running total for cumulative key results), projected
    to the deadline. Day index 1 is the cycle's first day; a cumulative total is 0 at index 0.
    """
    if at >= deadline:
        return actual
    x_end = (deadline - start).days + 1
    if cumulative:
        points = [(0.0, 0.0)]
        total = 0.0
        for d in days:
            total += daily[d]
            points.append((float((d - start).days + 1), total))
    else:
        points = [(float((d - start).days + 1), daily[d]) for d in days if d >= start]
    projected = least_squares(points, float(x_end))
    return actual if projected is None else projected


def _period_completions(
    kr: KeyResult,
    daily: Mapping[dt.date, float],
    start: dt.date,
    end: dt.date,
    span: int,
    length: int,
    cumulative: bool,
    base: float,
    target: float,
    cycle: Cycle,
    deadline: dt.date,
) -> tuple[float | None, ...]:
    """p for every period of ``length`` days in [start, end], counted back from ``end``."""
    window = (end - start).days + 1
    if window <= 0:
        return ()
    count = -(-window // length)
    amounts = [0.0] * count
    latest: list[dt.date | None] = [None] * count
    for d, v in daily.items():
        if not start <= d <= end:
            continue
        k = (end - d).days // length
        amounts[k] += v
        if latest[k] is None or d > latest[k]:  # type: ignore[operator]
            latest[k] = d
    per_day = (target - base) / span
    lower = kr.lower_is_better
    # a gauge's p is progress / expected progress on the period's last day; for the linear kinds
    # both are inlined (the same operations as progress() and expected_progress())
    linear = not cumulative and kr.kind not in MAINTAIN
    baseline = kr.effective_baseline or 0.0
    first = start.toordinal()
    out: list[float | None] = []
    for k in range(count - 1, -1, -1):
        day = latest[k]
        if day is None:
            out.append(None)
        elif cumulative:
            days_in = length if k < count - 1 else window - length * (count - 1)
            out.append(_ratio(amounts[k], per_day * days_in, lower))
        elif linear:
            pace = min(max(day.toordinal() - first + 1, 0), span) / span
            out.append((daily[day] - baseline) / (target - baseline) / pace if pace > 0 else None)
        else:
            pace = expected_progress(kr, cycle, deadline, day)
            out.append(progress(kr, daily[day]) / pace if pace > 0 else None)
    return tuple(out)


# -- the whole plan --------------------------------------------------------------------------


def confidence_scale(plan: Plan) -> int:
    """The plan's ``policy.confidence_scale``: 1 (confidences from 0 to 1, the default) or 10
    (0 to 10). Confidences are kept from 0 to 1 either way; the scale is how people give and see
    them."""
    scale = plan.policy.get("confidence_scale", 1)
    if scale not in (1, 10) or isinstance(scale, bool):
        message = f"expected 1 (confidence 0-1) or 10 (0-10), got {scale!r}"
        raise PlanError([Problem("policy.confidence_scale", message)], plan.source_path)
    return int(scale)


def _resolve(
    plan: Plan,
    manager: PluginManager | None,
    grading: GradingPolicy | None,
    status: StatusPolicy | None,
) -> tuple[GradingPolicy, StatusPolicy]:
    if grading is not None and status is not None:
        return grading, status
    if manager is None:
        from .plugins import default_manager

        manager = default_manager()
    if plan.plugins:
        from .plugins import load_plugin_modules

        load_plugin_modules(manager, plan.plugins)
    section = plan.policy
    shared = {k: v for k, v in section.items() if k not in ("grading", "status")}

    def pick(role: str) -> Any:
        spec = section.get(role, "default")
        settings = dict(shared)
        if isinstance(spec, Mapping):
            settings.update({k: v for k, v in spec.items() if k != "name"})
            spec = spec.get("name", "default")
        policy = manager.policies.get(f"{role}:{spec}")
        configure = getattr(policy, "configure", None)
        return configure(settings) if configure is not None and settings else policy

    return (
        grading if grading is not None else pick("grading"),
        status if status is not None else pick("status"),
    )


class LiveScore:
    """A scored plan that takes new check-ins one at a time.

    :meth:`add` re-scores only the key result concerned and updates the rollups of its objective
    and their ancestors in ``O(depth)`` (:class:`~okrcore.rollup.Rollup`); :meth:`scorecard`
    takes an immutable snapshot. :func:`score` is ``LiveScore(...).scorecard()``.
    """

    _keeps_history = True  # for add()

    def __init__(
        self,
        plan: Plan,
        checkins: Iterable[CheckIn] = (),
        *,
        at: dt.date | None = None,
        manager: PluginManager | None = None,
        grading: GradingPolicy | None = None,
        status: StatusPolicy | None = None,
    ) -> None:
        self.plan = plan
        self.at = at or dt.date.today()
        self.grading, self.status = _resolve(plan, manager, grading, status)
        factor = plan.policy.get("stale_factor", DEFAULT_STALE_FACTOR)
        self.stale_factor = setting({"stale_factor": factor}, "stale_factor", 1.5, 0.0)
        self.tree = RollupTree.from_plan(plan)
        self._history: dict[str, list[CheckIn]] = {kr_id: [] for kr_id in self.tree.leaf_ids}
        history, at_ = self._history.get, self.at
        self._kpi_history: dict[str, list[CheckIn]] = {k.id: [] for k in plan.kpis}
        kpi_history = self._kpi_history.get
        for ci in checkins:
            kept = history(ci.kr_id)
            if kept is None:
                kept = kpi_history(ci.kr_id)
            if kept is not None and ci.as_of <= at_:
                kept.append(ci)
        for kr_id, share in _initiative_shares(plan):
            if kr_id in self._history:  # the share replaces check-ins: initiative_readings
                reading = [] if share is None else [_share_reading(kr_id, share, self.at)]
                self._history[kr_id] = reading
        for kr_id in plan.sums():  # parts first: a sum's readings replace its check-ins
            self._history[kr_id] = _sum_history(plan, kr_id, self._history, self.at)
        self._sums_of: dict[str, list[str]] | None = None  # part -> sums over it, for add()
        self._krs: dict[str, KRScore] = {}
        for kr_id in self.tree.leaf_ids:
            self._krs[kr_id] = self._score(kr_id)
            if not self._keeps_history:
                del self._history[kr_id]
        if not self._keeps_history:
            self._history = {}  # a dict emptied by del keeps its table
        ordered = [self._krs[kr_id] for kr_id in self.tree.leaf_ids]
        self.scores = Rollup(self.tree, [k.score for k in ordered])
        self.expected = Rollup(self.tree, [_expected_leaf(k) for k in ordered])
        self.completion = Rollup(self.tree, [_completion_leaf(k) for k in ordered])
        self.expected_score = Rollup(self.tree, [_expected_score_leaf(k) for k in ordered])
        # confidence is optional: without any, no rollup is kept (and none is paid for)
        self.confidence: Rollup | None = None
        if any(k.confidence is not None for k in ordered):
            self.confidence = Rollup(self.tree, [k.confidence for k in ordered])
        self.confidence_scale = confidence_scale(plan)

    def _score(self, kr_id: str) -> KRScore:
        plan = self.plan
        return _score_kr(
            plan.key_result(kr_id),
            plan.objective_of(kr_id).id,
            plan.cycle_of(kr_id),
            plan.deadline_of(kr_id),
            self._history[kr_id],
            self.at,
            self.grading,
            self.status,
            self.stale_factor,
            plan.sum_parts(kr_id),
        )

    def add(self, checkin: CheckIn) -> KRScore | None:
        """Take one new check-in; ``None`` (and nothing changes) for an unknown key result, a
        check-in after the scoring date, or a key result whose progress comes from initiatives
        or is a sum. The sums the key result counts in are re-scored with it. A KPI's check-in
        is kept for the next :meth:`scorecard` (``None`` too)."""
        history = self._history.get(checkin.kr_id)
        if checkin.kr_id in self._kpi_history and checkin.as_of <= self.at:
            self._kpi_history[checkin.kr_id].append(checkin)  # a KPI: scored in scorecard()
            return None
        if history is None or checkin.as_of > self.at:
            return None
        target = self.plan.key_result(checkin.kr_id)
        if target.derived:
            return None
        bisect.insort(history, checkin, key=lambda c: (c.as_of, c.recorded_at))
        kr = self._rescore(checkin.kr_id)
        for total in self._sums_over(checkin.kr_id):
            self._history[total] = _sum_history(self.plan, total, self._history, self.at)
            self._rescore(total)
        return kr

    def _sums_over(self, kr_id: str) -> list[str]:
        """The sums ``kr_id`` counts in, directly or through other sums, parts first."""
        if self._sums_of is None:
            self._sums_of = {}
            for total in self.plan.sums():
                for part in self.plan.sum_parts(total):
                    self._sums_of.setdefault(part, []).append(total)
        found: set[str] = set()
        level = self._sums_of.get(kr_id, [])
        while level:
            found.update(level)
            level = [t for k in level for t in self._sums_of.get(k, ()) if t not in found]
        return [t for t in self.plan.sums() if t in found] if found else []

    def _rescore(self, kr_id: str) -> KRScore:
        """Score one key result again from its history and update the rollups above it."""
        kr = self._score(kr_id)
        self._krs[kr.id] = kr
        self.scores.update(kr.id, kr.score)
        self.expected.update(kr.id, _expected_leaf(kr))
        self.completion.update(kr.id, _completion_leaf(kr))
        self.expected_score.update(kr.id, _expected_score_leaf(kr))
        if self.confidence is not None:
            self.confidence.update(kr.id, kr.confidence)
        elif kr.confidence is not None:
            leaves = [self._krs[k].confidence for k in self.tree.leaf_ids]
            self.confidence = Rollup(self.tree, leaves)
        return kr

    def key_result(self, kr_id: str) -> KRScore:
        """The current score of one key result."""
        return self._krs[kr_id]

    def objective_score(self, objective_id: str) -> float | None:
        """The current rolled-up score of one objective."""
        return self.scores.node(f"objective:{objective_id}")

    def goal_score(self, goal_id: str) -> float | None:
        """The current rolled-up score of one goal."""
        return self.scores.node(f"goal:{goal_id}")

    def scorecard(self) -> Scorecard:
        """An immutable snapshot of everything."""
        plan, tree, krs = self.plan, self.tree, self._krs
        # each node's key results first, its child objectives appended as they are judged; a
        # node's (id, light) pairs are built only while it is judged (they add up at 100k KRs)
        leaves: list[list[str]] = [[] for _ in tree.node_ids]
        for kr_id, p in zip(tree.leaf_ids, tree.leaf_parent, strict=True):
            leaves[p].append(kr_id)
        nodes: list[list[tuple[str, Light]]] = [[] for _ in tree.node_ids]
        node_status: list[tuple[Light, str]] = [(Light.GREY, "")] * len(tree.node_ids)
        for i in tree.order:  # children before parents
            kind, _, node_id = tree.node_ids[i].partition(":")  # "objective:ID", "goal:ID"
            children = [(kr_id, krs[kr_id].status) for kr_id in leaves[i]] + nodes[i]
            leaves[i], nodes[i] = [], []
            completion = self.completion.node(i)
            node_status[i] = self._node_light(node_id, cast(NodeKind, kind), completion, children)
            for parent in tree.parents(i):
                nodes[parent].append((node_id, node_status[i][0]))

        def node(i: int, kind: NodeKind, title: str, **extra: Any) -> NodeScore:
            light, reason = node_status[i]
            return NodeScore(
                id=tree.node_ids[i].split(":", 1)[1],
                kind=kind,
                title=title,
                score=self.scores.node(i),
                expected=self.expected.node(i),
                expected_score=self.expected_score.node(i),
                completion=self.completion.node(i),
                status=light,
                reason=reason,
                confidence=None if self.confidence is None else self.confidence.node(i),
                **extra,
            )

        goals = {g.id: node(i, "goal", g.title) for i, g in enumerate(plan.goals)}
        offset = len(plan.goals)
        objectives = {
            o.id: node(
                offset + i,
                "objective",
                o.title,
                owner=o.owner,
                level=o.level.value,
                cycle=o.cycle,
                parent=o.parent_ids[0] if o.parent_ids else None,
                parents=o.parent_ids,
                goal=o.goal,
            )
            for i, o in enumerate(plan.objectives)
        }
        by_owner: dict[str, list[str]] = {}
        by_level: dict[str, list[str]] = {}
        by_cycle: dict[str, list[str]] = {}
        for o in plan.objectives:
            if o.owner is not None:
                by_owner.setdefault(o.owner, []).append(o.id)
            by_level.setdefault(o.level.value, []).append(o.id)
            if not o.parent_ids:
                by_cycle.setdefault(o.cycle, []).append(o.id)
        owners = {k: self._group(k, "owner", v, objectives) for k, v in by_owner.items()}
        # an owner who holds key results but no objective still gets a row: over those key results
        held: dict[str, list[str]] = {}
        for kr in plan.key_results():
            if kr.owner is not None and kr.owner not in by_owner:
                held.setdefault(kr.owner, []).append(kr.id)
        owners.update((k, self._kr_group(k, v)) for k, v in held.items())
        return Scorecard(
            at=self.at,
            key_results=self._snapshot(),
            objectives=objectives,
            goals=goals,
            by_owner=owners,
            by_level={k: self._group(k, "level", v, objectives) for k, v in by_level.items()},
            by_cycle={k: self._group(k, "cycle", v, objectives) for k, v in by_cycle.items()},
            grading=self.grading.name,
            status_policy=self.status.name,
            confidence_scale=self.confidence_scale,
            kpis=score_kpis(plan, self._kpi_history, at=self.at),
        )

    def _snapshot(self) -> dict[str, KRScore]:
        # a copy: later add() calls must not change a scorecard already taken
        return dict(self._krs)

    def _node_light(
        self,
        node_id: str,
        kind: NodeKind,
        completion: float | None,
        children: Sequence[tuple[str, Light]],
    ) -> tuple[Light, str]:
        lights: dict[Light, int] = {}
        for _, light in children:
            lights[light] = lights.get(light, 0) + 1
        facts = NodeFacts(node_id, kind, tuple(children))
        return self.status.rollup(completion, lights, facts)

    def _group(
        self, key: str, kind: NodeKind, members: list[str], objectives: Mapping[str, NodeScore]
    ) -> NodeScore:
        weights = [self.plan.objective(m).weight for m in members]
        nodes = [objectives[m] for m in members]
        pairs = list(zip(nodes, weights, strict=True))
        completion = weighted_mean((n.completion, w) for n, w in pairs)
        light, reason = self._node_light(key, kind, completion, [(n.id, n.status) for n in nodes])
        return NodeScore(
            id=key,
            kind=kind,
            title=(self.plan.owner_label(key) or key) if kind == "owner" else key,
            score=weighted_mean((n.score, w) for n, w in pairs),
            expected=weighted_mean((n.expected, w) for n, w in pairs),
            expected_score=weighted_mean((n.expected_score, w) for n, w in pairs),
            completion=completion,
            status=light,
            reason=reason,
            confidence=weighted_mean((n.confidence, w) for n, w in pairs),
        )


    def _kr_group(self, owner: str, members: list[str]) -> NodeScore:
        """The row of an owner who holds key results but no objective: the weighted mean of those
        key results (by ``KeyResult.weight``), computed as an objective's rollup is."""
        pairs = [(self._krs[m], self.plan.key_result(m).weight) for m in members]
        completion = weighted_mean((_completion_leaf(k), w) for k, w in pairs)
        light, reason = self._node_light(owner, "owner", completion,
                                         [(k.id, k.status) for k, _ in pairs])
        return NodeScore(
            id=owner,
            kind="owner",
            title=self.plan.owner_label(owner) or owner,
            score=weighted_mean((k.score, w) for k, w in pairs),
            expected=weighted_mean((_expected_leaf(k), w) for k, w in pairs),
            expected_score=weighted_mean((_expected_score_leaf(k), w) for k, w in pairs),
            completion=completion,
            status=light,
            reason=reason,
            confidence=weighted_mean((k.confidence, w) for k, w in pairs),
        )


def initiative_readings(plan: Plan, *, at: dt.date) -> list[CheckIn]:
    """The readings scoring uses for key results whose progress comes from their initiatives:
    the share done, as a check-in at ``at`` (source ``initiatives``); none for a key result with
    no initiative left to count."""
    shares = _initiative_shares(plan)
    return [_share_reading(kr_id, share, at) for kr_id, share in shares if share is not None]


def _initiative_shares(plan: Plan) -> Iterator[tuple[str, float | None]]:
    """(key result id, share of its initiatives done) of each key result whose progress comes
    from its initiatives (docs/scoring.md, "Progress from initiatives")."""
    for kr in plan.key_results():
        if kr.progress_from == "initiatives":
            yield kr.id, plan.initiative_share(kr.id)


def sum_readings(plan: Plan, checkins: Iterable[CheckIn], *, at: dt.date) -> list[CheckIn]:
    """The readings scoring uses for ``rollup: sum`` key results, derived from ``checkins``
    (those of their parts) up to ``at``: one check-in (source ``sum``) per day any part has a
    reading (docs/scoring.md, "Sums")."""
    histories: dict[str, list[CheckIn]] = {}
    for ci in checkins:
        if ci.as_of <= at:
            histories.setdefault(ci.kr_id, []).append(ci)
    out: list[CheckIn] = []
    for kr_id in plan.sums():
        histories[kr_id] = _sum_history(plan, kr_id, histories, at)
        out.extend(histories[kr_id])
    return out


def _sum_history(
    plan: Plan, kr_id: str, histories: Mapping[str, Sequence[CheckIn]], at: dt.date
) -> list[CheckIn]:
    """A sum's readings from its parts' histories: for cumulative parts, each day's amounts
    added up; for gauges, on each day a part has a reading, every part's latest level added up
    (a part without a reading yet counts its baseline, 0 without one)."""
    parts = [plan.key_result(p) for p in plan.sum_parts(kr_id)]
    dailies = [daily_values(histories.get(p.id, ()), at) for p in parts]
    days = sorted({d for daily in dailies for d in daily})
    if not days:
        return []
    values: list[float] = []
    if plan.key_result(kr_id).measure is Measure.CUMULATIVE:
        values = [sum(daily.get(d, 0.0) for daily in dailies) for d in days]
    else:
        level = [p.effective_baseline or 0.0 for p in parts]
        for d in days:
            for i, daily in enumerate(dailies):
                if d in daily:
                    level[i] = daily[d]
            values.append(sum(level))
    return [_derived(kr_id, v, d, "sum") for d, v in zip(days, values, strict=True)]


def _derived(kr_id: str, value: float, day: dt.date, source: str) -> CheckIn:
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)
    return CheckIn(kr_id, value, day, source=source, recorded_at=midnight)


def _share_reading(kr_id: str, share: float, at: dt.date) -> CheckIn:
    midnight = dt.datetime.combine(at, dt.time(), tzinfo=dt.timezone.utc)
    return CheckIn(kr_id, share, at, source="initiatives", recorded_at=midnight)


class _Once(LiveScore):
    """For :func:`score`: drops each key result's history once it is scored, so that the
    check-ins and the scores are not held twice at the peak (takes no check-in afterwards)."""

    _keeps_history = False

    def _snapshot(self) -> dict[str, KRScore]:
        return self._krs  # scorecard() is called once and nothing is added after it


def _expected_leaf(kr: KRScore) -> float | None:
    # same members as the score rollup, so a node's score and pace compare like for like
    return None if kr.score is None else kr.expected


def _expected_score_leaf(kr: KRScore) -> float | None:
    return None if kr.score is None else kr.expected_score


def _completion_leaf(kr: KRScore) -> float | None:
    return None if kr.completion is None else clamp(kr.completion)


def score(
    plan: Plan,
    checkins: Iterable[CheckIn] | History,
    *,
    at: dt.date | None = None,
    manager: PluginManager | None = None,
    grading: GradingPolicy | None = None,
    status: StatusPolicy | None = None,
) -> Scorecard:
    """Score a plan as of ``at`` (default today) from its check-ins, or from a store.

    Given a store (anything with ``checkins``, ``target_changes`` and ``strategy_changes``), the
    plan scored is the plan in force at ``at`` (:func:`~okrcore.changes.plan_in_force`: the
    recorded target changes applied), as :func:`okrcore.report` and ``okr score`` do; given
    check-ins, the plan is scored as it is.
    Check-ins after ``at`` and check-ins of key results the plan does not have are ignored.
    Policies not passed in are looked up by the names in ``plan.policy`` (``grading`` and
    ``status``, ``"default"`` when absent) in ``manager.policies`` (default: the process-wide
    :func:`~okrcore.plugins.default_manager`) and configured from the rest of that section
    (``red_below``, ``green_at``, ``red_periods``, ``target_score``); ``stale_factor`` (1.5)
    sets staleness. Policies passed in are used as they are.
    """
    at = dt.date.today() if at is None else as_date(at)  # a datetime gives its date
    if isinstance(checkins, History):
        plan = plan_in_force(plan, checkins, at=at)
        checkins = checkins.checkins(until=at)
    return _Once(plan, checkins, at=at, manager=manager, grading=grading, status=status).scorecard()
