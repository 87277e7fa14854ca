"""Grading and status policies: the contract a plugin implements, and the built-in ones.

Two judgement calls in scoring are *policies* a plugin can replace: how a key result's progress
becomes its 0-1 grade (:class:`GradingPolicy`) and how completion becomes a traffic light
(:class:`StatusPolicy`, which also judges objectives, goals and groups). A plugin registers its
own from an ``okrcore_register_policies`` hook and a plan selects it by name
(``policy: {grading: NAME, status: NAME}``); the defaults here are registered the same way by
``okrcore.default_plugins.policies``. docs/scoring.md states the rules with worked examples.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import attrs

from ._numbers import num
from .errors import PlanError, Problem
from .model import KeyResult, Kind, Measure
from .progress import MAINTAIN, clamp, piecewise, stretch_progress

__all__ = [
    "DefaultGrading",
    "DefaultStatus",
    "GradingPolicy",
    "Light",
    "LinearGrading",
    "NodeFacts",
    "NodeKind",
    "StatusFacts",
    "StatusPolicy",
]


class Light(str, enum.Enum):
    """A traffic light. ``grey`` means there is no data to judge yet."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    GREY = "grey"


@runtime_checkable
class GradingPolicy(Protocol):
    """Turns a key result's progress into its 0-1 grade.

    Register one with ``register(policy)`` from an ``okrcore_register_policies`` hook; a plan
    selects it with ``policy: {grading: NAME}``. Optionally a policy has
    ``configure(settings: Mapping[str, Any]) -> GradingPolicy`` returning a copy configured from
    the plan's ``policy`` section; it should raise :class:`~okrcore.PlanError` for bad values.
    """

    @property
    def role(self) -> str:
        """Always ``"grading"``."""
        ...

    @property
    def name(self) -> str:
        """The name a plan selects it by."""
        ...

    def grade(self, kr: KeyResult, progress: float, actual: float) -> float:
        """The grade, between 0.0 and 1.0, of ``actual`` (whose progress is ``progress``)."""
        ...


@attrs.frozen
class StatusFacts:
    """Everything a status policy may look at for one key result as of a date.

    ``completion`` is the cumulative completion C; ``periods`` are the period completions p of
    every cadence period in the cycle up to the date, oldest first (``None`` where the period
    had no check-in); ``period_days`` is one period's length.
    """

    kr: KeyResult
    at: dt.date
    actual: float | None
    progress: float | None
    expected: float
    plan_to_date: float | None
    completion: float | None
    periods: tuple[float | None, ...]
    period_days: int
    checkins: int
    cycle_start: dt.date


#: What a rolled-up node is (:attr:`NodeFacts.kind`, :attr:`~okrcore.scorecard.NodeScore.kind`).
NodeKind = Literal["objective", "goal", "owner", "level", "cycle"]


@attrs.frozen
class NodeFacts:
    """What a status policy may look at for an objective, goal or group besides its completion.

    ``kind`` is ``"objective"``, ``"goal"``, ``"owner"``, ``"level"`` or ``"cycle"``;
    ``children`` the ``(id, light)`` of every child in plan order: an objective's key results
    then its child objectives, a goal's top-level objectives, a group's objectives.
    """

    id: str
    kind: NodeKind
    children: tuple[tuple[str, Light], ...]

    def named(self, light: Light) -> list[str]:
        """The ids of the children with ``light``, in plan order."""
        return [child for child, lit in self.children if lit is light]


@runtime_checkable
class StatusPolicy(Protocol):
    """Turns completion into a traffic light with its reason in words.

    ``status`` judges one key result that has data (okrcore itself answers grey, with a reason,
    when there is none); ``rollup`` judges an objective, goal or group from its weighted
    completion (each key result's C capped to [0, 1] before averaging), the count of its
    children's lights and, in :class:`NodeFacts`, which child has which light. Optionally
    ``configure(settings) -> StatusPolicy`` as for :class:`GradingPolicy`.
    """

    @property
    def role(self) -> str:
        """Always ``"status"``."""
        ...

    @property
    def name(self) -> str:
        """The name a plan selects it by."""
        ...

    def status(
        self,
        kr: KeyResult,
        completion: float | None,
        periods: Sequence[float | None],
        facts: StatusFacts,
    ) -> tuple[Light, str]:
        """The light of one key result and why."""
        ...

    def rollup(
        self, completion: float | None, lights: Mapping[Light, int], facts: NodeFacts
    ) -> tuple[Light, str]:
        """The light of a node from its rolled-up completion and its children's lights."""
        ...


def setting(settings: Mapping[str, Any], key: str, default: float, low: float) -> float:
    """A finite number ``>= low`` from a plan's policy section, or :class:`PlanError`."""
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PlanError([Problem(f"policy.{key}", f"expected a number, got {value!r}")])
    if value < low:
        raise PlanError([Problem(f"policy.{key}", f"expected a number >= {low:g}, got {value!r}")])
    return float(value)


@attrs.frozen
class DefaultGrading:
    """``clamp(progress, 0, 1)``; with a stretch, piecewise linear baseline -> 0, target ->
    ``target_score`` (0.7), stretch -> 1.0. The floor does not bend the grade.

    Setting: ``target_score``.
    """

    role: ClassVar[str] = "grading"
    name: str = "default"
    target_score: float = 0.7

    def grade(self, kr: KeyResult, progress: float, actual: float) -> float:
        """The grade of ``progress``."""
        return piecewise(progress, stretch_progress(kr), self.target_score)

    def configure(self, settings: Mapping[str, Any]) -> DefaultGrading:
        """A copy with ``target_score`` from the plan's policy section."""
        value = setting(settings, "target_score", self.target_score, 0.0)
        if value > 1:
            raise PlanError([Problem("policy.target_score", f"expected <= 1, got {value:g}")])
        return attrs.evolve(self, target_score=value)


@attrs.frozen
class LinearGrading:
    """``clamp(progress, 0, 1)`` for every key result, stretch or not (registered as ``linear``)."""

    role: ClassVar[str] = "grading"
    name: str = "linear"

    def grade(self, kr: KeyResult, progress: float, actual: float) -> float:
        """The clamped progress."""
        return clamp(progress)


def _period_word(days: int) -> tuple[str, str]:
    """(noun, adjective) for a period of ``days`` days."""
    return {1: ("day", "daily"), 7: ("week", "weekly"), 30: ("month", "monthly")}.get(
        days, (f"{days}-day period", f"{days}-day")
    )


def _detail(facts: StatusFacts) -> str:
    kr = facts.kr
    unit = f" {kr.unit}" if kr.unit else ""
    if facts.actual is None:
        return "no check-in yet"
    if kr.measure is Measure.CUMULATIVE and facts.plan_to_date is not None:
        verb = "allowed" if kr.lower_is_better else "planned"
        return f"{num(facts.actual)} of {num(facts.plan_to_date)} {verb}{unit} to date"
    actual = num(facts.actual, kr.unit)
    if kr.kind in MAINTAIN:
        op = ">=" if kr.kind is Kind.MAINTAIN_ABOVE else "<="
        bound = num(kr.effective_target or 0.0, kr.unit)
        holds = "holds" if (facts.progress or 0.0) >= 1 else "broken"
        return f"{actual} against {op} {bound} ({holds})"
    return (
        f"progress {facts.progress or 0.0:.2f} against {facts.expected:.2f} expected by now "
        f"(actual {actual})"
    )


@attrs.frozen
class DefaultStatus:
    """The default traffic light (docs/scoring.md).

    Red when C < ``red_below`` (0.7), or when p < ``red_below`` in each of the last
    ``red_periods`` (3) periods; otherwise green when C >= ``green_at`` (1.0); otherwise yellow.
    ``red_periods: 0`` switches the period rule off.

    A node (objective, goal, group) follows ``objective_light``: ``rollup`` (the default) judges
    its rolled-up completion with the same thresholds, but is green only when no child is red or
    yellow (yellow otherwise); ``weakest`` takes its weakest child's light. Grey children are left
    out of both and named in the reason.
    """

    role: ClassVar[str] = "status"
    name: str = "default"
    red_below: float = 0.7
    green_at: float = 1.0
    red_periods: int = 3
    objective_light: str = attrs.field(default="rollup")

    @objective_light.validator
    def _check_objective_light(self, _attribute: Any, value: str) -> None:
        if value not in OBJECTIVE_LIGHTS:
            expected = " or ".join(OBJECTIVE_LIGHTS)
            message = f"expected {expected}, got {value!r}"
            raise PlanError([Problem("policy.objective_light", message)])

    def configure(self, settings: Mapping[str, Any]) -> DefaultStatus:
        """A copy with ``red_below``, ``green_at``, ``red_periods`` and ``objective_light`` from
        the plan."""
        red = setting(settings, "red_below", self.red_below, 0.0)
        green = setting(settings, "green_at", self.green_at, 0.0)
        periods = setting(settings, "red_periods", self.red_periods, 0.0)
        if red > green:
            message = f"red_below ({red:g}) must not be above green_at ({green:g})"
            raise PlanError([Problem("policy.red_below", message)])
        if periods != int(periods):
            raise PlanError([Problem("policy.red_periods", f"expected a whole number: {periods}")])
        rule = settings.get("objective_light", self.objective_light)
        return attrs.evolve(
            self, red_below=red, green_at=green, red_periods=int(periods), objective_light=rule
        )

    def status(
        self,
        kr: KeyResult,
        completion: float | None,
        periods: Sequence[float | None],
        facts: StatusFacts,
    ) -> tuple[Light, str]:
        """Red / yellow / green with the reason in words."""
        detail = _detail(facts)
        if completion is None:
            return Light.GREY, f"nothing to compare yet: {detail}"
        red, green, n = self.red_below, self.green_at, self.red_periods
        c = "inf" if math.isinf(completion) else f"{completion:.2f}"
        if completion < red:
            return Light.RED, f"C = {c} < {red:.2f}: {detail}"
        last = list(periods[-n:]) if n else []
        if n and len(last) == n and all(p is not None and p < red for p in last):
            noun, adjective = _period_word(facts.period_days)
            plural = noun if n == 1 else f"{noun}s"
            what = "plan" if kr.measure is Measure.CUMULATIVE else "pace"
            shown = ", ".join(f"{p:.2f}" for p in last if p is not None)
            return Light.RED, (
                f"below {red:.0%} of the {adjective} {what} for {n} {plural} in a row "
                f"(p = {shown}) although C = {c}: {detail}"
            )
        if completion >= green:
            return Light.GREEN, f"C = {c} >= {green:.2f}: {detail}"
        return Light.YELLOW, f"C = {c}, between {red:.2f} and {green:.2f}: {detail}"

    def rollup(
        self, completion: float | None, lights: Mapping[Light, int], facts: NodeFacts
    ) -> tuple[Light, str]:
        """A node's light by ``objective_light``, with the count of its children's lights."""
        tally = _tally(facts)
        if self.objective_light == "weakest":
            for light in (Light.RED, Light.YELLOW, Light.GREEN):
                if facts.named(light):
                    return light, f"weakest child is {light.value}{tally}"
            return Light.GREY, f"no key result with data yet{tally}"
        if completion is None:
            return Light.GREY, f"no key result with data yet{tally}"
        c = f"{completion:.2f}"
        if completion < self.red_below:
            return Light.RED, f"weighted C = {c} < {self.red_below:.2f}{tally}"
        behind = [(child, light) for child, light in facts.children if light in _BEHIND]
        if completion >= self.green_at and behind:
            child, light = behind[0]
            which = f"{child} is {light.value}"
            if len(behind) > 1:
                which = f"{len(behind)} are red or yellow"
            return Light.YELLOW, f"weighted C = {c} >= {self.green_at:.2f}, but {which}{tally}"
        if completion >= self.green_at:
            return Light.GREEN, f"weighted C = {c} >= {self.green_at:.2f}{tally}"
        return (
            Light.YELLOW,
            f"weighted C = {c}, between {self.red_below:.2f} and {self.green_at:.2f}{tally}",
        )


OBJECTIVE_LIGHTS = ("rollup", "weakest")
_BEHIND = (Light.RED, Light.YELLOW)


def _tally(facts: NodeFacts) -> str:
    """`` (3 green; 1 red: leads; 1 grey: rebrand)``: green children counted, the others named."""
    parts = []
    for light in Light:
        names = facts.named(light)
        if names:
            shown = "" if light is Light.GREEN else ": " + ", ".join(names)
            parts.append(f"{len(names)} {light.value}{shown}")
    return f" ({'; '.join(parts)})" if parts else ""
