"""The domain model: goals, objectives, key results, strategies, cycles, check-ins.

Every class is a small immutable attrs value. Validators reject values that cannot be right (a
target equal to its baseline, a floor above the stretch, a cycle that ends before it starts) with a
message that says what was expected. A :class:`Plan` holds the whole tree and indexes it by id.

Numbers are plain ``float``: key-result values are measurements (traffic, rates, money summed from
reports) whose precision is far below a float's, and the math (means, slopes, ratios) is float math.
Money is carried as a float in the key result's unit; nothing in okrcore does accounting.

One module of about 1,350 lines on purpose: the whole domain model reads in one place, each class
beside the validators it uses; it holds declarations and lookups, the math is in the modules above.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import numbers
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal, cast

import attrs

from ._graph import find_loops
from .errors import AlignmentLoopError, PlanError, Problem, ValidationError, WrongTypeError

__all__ = [
    "Alignment",
    "Cadence",
    "CheckIn",
    "Connection",
    "Cycle",
    "Funnel",
    "FunnelSplit",
    "FunnelStep",
    "Goal",
    "Initiative",
    "InitiativeStatus",
    "KeyResult",
    "Kind",
    "Kpi",
    "KpiPeriod",
    "Level",
    "Measure",
    "Objective",
    "Owner",
    "Plan",
    "RunOutcome",
    "RunRecord",
    "RunStatus",
    "Strategy",
    "StrategyChange",
    "TargetChange",
    "as_date",
]


class Kind(str, enum.Enum):
    """How a key result's progress is measured (docs/concepts.md, docs/scoring.md "Progress")."""

    INCREASE = "increase"
    DECREASE = "decrease"
    MAINTAIN_ABOVE = "maintain_above"
    MAINTAIN_BELOW = "maintain_below"
    MILESTONE = "milestone"
    COUNT = "count"


class Measure(str, enum.Enum):
    """``gauge``: a reading is the current level; ``cumulative``: one period's amount."""

    GAUGE = "gauge"
    CUMULATIVE = "cumulative"


class Cadence(str, enum.Enum):
    """How often a key result is checked in."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"

    @property
    def days(self) -> int:
        """Length of one period in days (a month counts as 30)."""
        return {"daily": 1, "weekly": 7, "monthly": 30}[self.value]


class Level(str, enum.Enum):
    """Where an objective sits in the organisation."""

    COMPANY = "company"
    TEAM = "team"
    PROJECT = "project"
    INDIVIDUAL = "individual"


def _where(inst: object, field: attrs.Attribute[Any]) -> str:
    return f"{type(inst).__name__}.{field.name}"


def _type_name(value: object) -> str:
    return type(value).__name__


def _is_real(value: object) -> bool:
    if type(value) is float or type(value) is int:  # the usual case, without the ABC check
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


# Converters take only numbers to float and datetimes to their date; the validators below then
# refuse whatever is left of the wrong type, naming the field (a converter cannot name it).
def _number(value: Any) -> Any:
    if _is_real(value):
        try:
            return float(value)
        except OverflowError:  # an int too large for a float: the validator says so
            return value
    return value


def _opt_number(value: Any) -> Any:
    return None if value is None else _number(value)


def _day(value: Any) -> Any:
    return value.date() if isinstance(value, dt.datetime) else value


def _opt_day(value: Any) -> Any:
    return None if value is None else _day(value)


def _finite(inst: object, field: attrs.Attribute[Any], value: Any) -> None:
    """A finite float (a store cannot keep NaN or infinity faithfully); ``None`` passes."""
    if value is None or (isinstance(value, float) and math.isfinite(value)):
        return
    where = _where(inst, field)
    if isinstance(value, float):
        raise ValidationError(f"{where} must be a finite number, got {value!r}", where)
    if _is_real(value):
        raise ValidationError(f"{where} is too large for a number: {str(value)[:40]}...", where)
    raise WrongTypeError(f"{where} must be a number, got {_type_name(value)} {value!r}", where)


def _finite_if_number(inst: object, field: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        where = _where(inst, field)
        raise ValidationError(f"{where} must be a finite number, got {value!r}", where)


def _date_hint(value: object) -> str:
    return " (datetime.date.fromisoformat reads YYYY-MM-DD)" if isinstance(value, str) else ""


def _is_date(inst: object, field: attrs.Attribute[Any], value: Any) -> None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return
    where = _where(inst, field)
    raise WrongTypeError(
        f"{where} must be a datetime.date, got {_type_name(value)} {value!r}{_date_hint(value)}",
        where,
    )


def _is_datetime(inst: object, field: attrs.Attribute[Any], value: Any) -> None:
    """A ``datetime.datetime``; a bare date is refused (which time of day, which zone?)."""
    if value is None or isinstance(value, dt.datetime):
        return
    where = _where(inst, field)
    raise WrongTypeError(
        f"{where} must be a datetime.datetime, got {_type_name(value)} {value!r}", where
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def as_date(value: Any, name: str = "at") -> dt.date:
    """``value`` as a date, for arguments such as ``at=``: a date as is, a datetime gives its date;
    anything else raises :class:`~okrcore.WrongTypeError` naming the argument."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise WrongTypeError(
        f"{name} must be a datetime.date, got {_type_name(value)} {value!r}{_date_hint(value)}",
        name,
    )


def _non_negative(inst: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value < 0:
        where = _where(inst, attribute)
        raise ValidationError(f"{attribute.name} must be >= 0, got {value!r}", where)


def _ids(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dict(value or {})


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


@attrs.frozen
class Cycle:
    """A time box: a quarter, a year or custom dates. Both ends are inclusive."""

    id: str
    start: dt.date = attrs.field(converter=_day, validator=_is_date)
    end: dt.date = attrs.field(converter=_day, validator=_is_date)
    title: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.end < self.start:
            raise ValidationError(
                f"cycle {self.id!r} ends ({self.end}) before it starts ({self.start})", "Cycle.end"
            )

    @property
    def days(self) -> int:
        """Number of days in the cycle, both ends included."""
        return (self.end - self.start).days + 1

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end


# compiled on first use, by re's cache: its Unicode classes cost milliseconds at import
_EMAIL = r"^[^@\s]+@[^@\s]+$"


def _email(inst: object, field: attrs.Attribute[Any], value: Any) -> None:
    if value is None or (isinstance(value, str) and re.match(_EMAIL, value)):
        return
    where = _where(inst, field)
    raise ValidationError(f"{where} must be an email address (name@domain), got {value!r}", where)


@attrs.frozen
class Owner:
    """Who owns objectives, key results, strategies and initiatives: a person, a team, or an
    outside firm (``external``: an agency, a PR firm).

    ``notify`` names a channel of the plan's ``notify`` section and ``email`` an address; either
    is how reminders and events reach the owner. ``name`` defaults to the id.
    """

    id: str
    name: str = attrs.field(default=attrs.Factory(lambda self: self.id, takes_self=True))
    external: bool = False
    notify: str | None = None
    email: str | None = attrs.field(default=None, validator=_email)

    @property
    def label(self) -> str:
        """The name as reports show it: ``"Bright PR (external)"`` for an external owner."""
        return f"{self.name} (external)" if self.external else self.name


@attrs.frozen
class Goal:
    """A broad, long-term outcome, measured only through the objectives aligned to it."""

    id: str
    title: str
    owner: str | None = None
    description: str | None = None


@attrs.frozen
class KeyResult:
    """A measurable, time-bound result that shows progress on one objective.

    ``target``, ``floor`` and ``stretch`` are absolute numbers here; relative forms in plan files
    ("+20%") are resolved against the baseline by the loader. ``committed`` is ``None`` unless the
    plan says: a key result with a stretch is then aspirational, one without is committed.
    """

    id: str
    title: str
    kind: Kind = attrs.field(default=Kind.INCREASE, converter=Kind)
    measure: Measure = attrs.field(default=Measure.GAUGE, converter=Measure)
    unit: str = ""
    metric: str | None = None
    baseline: float | None = attrs.field(default=None, converter=_opt_number, validator=_finite)
    target: float | None = attrs.field(default=None, converter=_opt_number, validator=_finite)
    floor: float | None = attrs.field(default=None, converter=_opt_number, validator=_finite)
    stretch: float | None = attrs.field(default=None, converter=_opt_number, validator=_finite)
    weight: float = attrs.field(default=1.0, converter=_number, validator=[_finite, _non_negative])
    owner: str | None = None
    deadline: dt.date | None = attrs.field(default=None, converter=_opt_day, validator=_is_date)
    cadence: Cadence | None = attrs.field(
        default=None, converter=attrs.converters.optional(Cadence)
    )
    tolerance: float | None = attrs.field(
        default=None, converter=_opt_number, validator=[_finite, _non_negative]
    )
    depends_on: tuple[str, ...] = attrs.field(default=(), converter=_ids)
    source: Mapping[str, Any] | None = None
    committed: bool | None = None
    progress_from: str | None = None
    rollup: str | None = None
    """``"sum"``: the actual is the sum of its parts' actuals (:meth:`Plan.sum_parts`)."""
    sum_of: tuple[str, ...] = attrs.field(default=(), converter=_ids)
    """The key results a sum adds up; empty: the matching key results of the child objectives."""

    def __attrs_post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValidationError(f"key result {self.id!r}: " + "; ".join(problems), "KeyResult")

    def problems(self) -> list[str]:
        """What is impossible about this key result's numbers (empty when it is consistent)."""
        out: list[str] = []
        kind, base, target = self.kind, self.effective_baseline, self.effective_target
        a_kind = f"{'an' if kind.value[0] in 'aeiou' else 'a'} {kind.value} key result"
        if kind in (Kind.INCREASE, Kind.DECREASE, Kind.COUNT):
            if target is None:
                out.append(f"{a_kind} needs a target")
            elif base is None:
                out.append(f"{a_kind} needs a baseline")
            elif target == base:
                out.append(f"target ({target:g}) must differ from the baseline for {a_kind}")
            elif kind in (Kind.INCREASE, Kind.COUNT) and target < base:
                out.append(f"target ({target:g}) must be above the baseline ({base:g}) to increase")
            elif kind is Kind.DECREASE and target > base:
                out.append(f"target ({target:g}) must be below the baseline ({base:g}) to decrease")
        if self.progress_from is not None:
            if self.progress_from != "initiatives":
                out.append(f"progress_from must be 'initiatives', got {self.progress_from!r}")
            elif kind is not Kind.MILESTONE:
                out.append("progress_from: initiatives needs a milestone key result")
        if self.rollup not in (None, "sum"):
            out.append(f"rollup must be 'sum', got {self.rollup!r}")
        elif self.rollup == "sum":
            if kind is Kind.MILESTONE:
                out.append("rollup: sum needs a key result with a number, not a milestone")
            if self.source is not None:
                out.append("rollup: sum takes the value from its parts, so it cannot have a source")
            if self.progress_from is not None:
                out.append("rollup: sum and progress_from exclude each other")
            if self.id in self.sum_of:
                out.append(f"sum_of names the key result itself ({self.id!r})")
        elif self.sum_of:
            out.append("sum_of needs rollup: sum")
        if kind in (Kind.MAINTAIN_ABOVE, Kind.MAINTAIN_BELOW) and target is None:
            out.append(f"{a_kind} needs a target (the bound)")
        if self.floor is not None and self.stretch is not None:
            sign = -1.0 if self.lower_is_better else 1.0
            if sign * (self.floor - self.stretch) > 0:
                out.append(f"floor ({self.floor:g}) is beyond the stretch ({self.stretch:g})")
        if target is not None:
            sign = -1.0 if self.lower_is_better else 1.0
            if self.floor is not None and sign * (self.floor - target) > 0:
                out.append(f"floor ({self.floor:g}) is beyond the target ({target:g})")
            if self.stretch is not None and sign * (self.stretch - target) < 0:
                out.append(f"stretch ({self.stretch:g}) falls short of the target ({target:g})")
        return out

    def value_problem(self, value: float) -> str | None:
        """Why ``value`` cannot be an actual of this key result, or ``None`` when it can.

        A count, and a cumulative key result's amount, cannot be negative; a sum takes no
        check-in (its parts do). Manual check-ins and
        refreshed readings both pass through here, so both refuse the same values.
        """
        if self.rollup == "sum":
            return "it is the sum of its parts (rollup: sum): check in its parts"
        if value < 0 and (self.measure is Measure.CUMULATIVE or self.kind is Kind.COUNT):
            what = "an amount" if self.measure is Measure.CUMULATIVE else "a count"
            return f"{what} cannot be negative"
        return None

    @property
    def derived(self) -> bool:
        """True when the value comes from elsewhere, its initiatives (``progress_from``) or its
        parts (``rollup: sum``): the key result takes no check-in of its own."""
        return self.progress_from is not None or self.rollup is not None

    @property
    def lower_is_better(self) -> bool:
        """True for key results whose value should go down or stay below a bound."""
        return self.kind in (Kind.DECREASE, Kind.MAINTAIN_BELOW)

    @property
    def effective_baseline(self) -> float | None:
        """The baseline, with the implied 0 of counts and milestones."""
        if self.baseline is None and self.kind in (Kind.COUNT, Kind.MILESTONE):
            return 0.0
        return self.baseline

    @property
    def effective_target(self) -> float | None:
        """The target, with the implied 1 (done) of milestones."""
        if self.target is None and self.kind is Kind.MILESTONE:
            return 1.0
        return self.target

    @property
    def aspirational(self) -> bool:
        """Aspirational key results count 0.7 as success; committed ones expect 1.0."""
        if self.committed is not None:
            return not self.committed
        return self.stretch is not None


class KpiPeriod(str, enum.Enum):
    """The period a KPI's recurring target is for."""

    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"

    def bounds(self, day: dt.date) -> tuple[str, dt.date, dt.date]:
        """The period holding ``day``: its key (``2026-W07``, ``2026-02``, ``2026-Q1``), first
        and last day."""
        if self is KpiPeriod.WEEKLY:
            start = day - dt.timedelta(days=day.weekday())
            year, week, _ = start.isocalendar()
            return f"{year}-W{week:02d}", start, start + dt.timedelta(days=6)
        if self is KpiPeriod.MONTHLY:
            first_month = day.month
            key = f"{day.year}-{day.month:02d}"
        else:
            quarter = (day.month - 1) // 3
            first_month = 3 * quarter + 1
            key = f"{day.year}-Q{quarter + 1}"
        start = dt.date(day.year, first_month, 1)
        months = 1 if self is KpiPeriod.MONTHLY else 3
        after = first_month + months
        next_start = dt.date(day.year + (after - 1) // 12, (after - 1) % 12 + 1, 1)
        return key, start, next_start - dt.timedelta(days=1)


_PERIOD_KEY = {
    KpiPeriod.WEEKLY: re.compile(r"^\d{4}-W\d{2}$"),
    KpiPeriod.MONTHLY: re.compile(r"^\d{4}-(0[1-9]|1[0-2])$"),
    KpiPeriod.QUARTERLY: re.compile(r"^\d{4}-Q[1-4]$"),
}


@attrs.frozen
class Kpi:
    """A key performance indicator: a health metric beside the OKRs, with a target that recurs
    every period (a month by default) and never completes.

    ``direction`` ``above``: healthy at or above the target (leads a month); ``below``: at or
    below it (cost per lead). ``measure`` ``cumulative``: the period's value is the sum of its
    readings, judged against the target pro-rated to the day; ``gauge``: the latest reading of
    the period. ``targets`` overrides the target of single periods (``{"2026-12": 250}``);
    ``tolerance`` is the yellow band, a share of the target (0.1). Readings are check-ins under
    the KPI's id, from its ``source`` or ``okr checkin`` (docs/kpis.md).
    """

    id: str
    title: str
    target: float = attrs.field(converter=_number, validator=_finite)
    direction: str = "above"
    measure: Measure = attrs.field(default=Measure.GAUGE, converter=Measure)
    period: KpiPeriod = attrs.field(default=KpiPeriod.MONTHLY, converter=KpiPeriod)
    unit: str = ""
    metric: str | None = None
    owner: str | None = None
    tolerance: float = attrs.field(
        default=0.1, converter=_number, validator=[_finite, _non_negative]
    )
    targets: Mapping[str, float] = attrs.field(factory=dict, converter=_frozen_mapping)
    source: Mapping[str, Any] | None = None

    def __attrs_post_init__(self) -> None:
        problems = []
        if self.direction not in ("above", "below"):
            problems.append(f"direction must be 'above' or 'below', got {self.direction!r}")
        pattern = _PERIOD_KEY[self.period]
        for key, value in self.targets.items():
            if not pattern.match(str(key)):
                problems.append(
                    f"targets: {key!r} is no {self.period.value} period "
                    f"(like {self.period.bounds(dt.date(2026, 2, 10))[0]})"
                )
            elif not _is_real(value) or not math.isfinite(float(value)):
                problems.append(f"targets: the target of {key} must be a number, got {value!r}")
        if problems:
            raise ValidationError(f"KPI {self.id!r}: " + "; ".join(problems), "Kpi")

    def target_for(self, key: str) -> float:
        """The target of the period ``key``: its own in ``targets``, else ``target``."""
        return float(self.targets.get(key, self.target))

    def as_key_result(self) -> KeyResult:
        """The KPI as a key result, for what reads or checks its values (a refresh fetches its
        source with this; ``value_problem`` judges a check-in)."""
        kind = Kind.MAINTAIN_ABOVE if self.direction == "above" else Kind.MAINTAIN_BELOW
        cadence = Cadence.WEEKLY if self.period is KpiPeriod.WEEKLY else Cadence.MONTHLY
        return KeyResult(
            self.id, self.title, kind=kind, measure=self.measure, unit=self.unit,
            metric=self.metric, target=self.target, owner=self.owner, cadence=cadence,
            source=self.source,
        )  # fmt: skip



class InitiativeStatus(str, enum.Enum):
    """Where an initiative stands. ``planned`` and ``doing`` are open; ``done`` and ``dropped``
    are closed (a dropped initiative counts nowhere)."""

    PLANNED = "planned"
    DOING = "doing"
    DONE = "done"
    DROPPED = "dropped"

    @property
    def open(self) -> bool:
        """Whether work on it is still to do (planned or doing)."""
        return self in (InitiativeStatus.PLANNED, InitiativeStatus.DOING)


@attrs.frozen
class Initiative:
    """A concrete action of a strategy ("four live streams a month", "SEO keyword overhaul").

    ``key_results`` are the ids of the key results it is meant to move; ``blocked`` says what
    blocks it (``None``: nothing). It is overdue when it is still open after its ``due`` date.
    With ``tracks``, its status can follow an item in a work tracker.
    """

    id: str
    title: str
    owner: str | None = None
    due: dt.date | None = attrs.field(default=None, converter=_opt_day, validator=_is_date)
    status: InitiativeStatus = attrs.field(
        default=InitiativeStatus.PLANNED, converter=InitiativeStatus
    )
    budget: float | None = attrs.field(
        default=None, converter=_opt_number, validator=[_finite, _non_negative]
    )
    key_results: tuple[str, ...] = attrs.field(default=(), converter=_ids)
    blocked: str | None = None
    tracks: Mapping[str, Any] | None = None
    """The task, card, page or issue in a tracker whose state the status follows
    (``{"connection": "jira", "issue": "MKT-12"}``; see :func:`okrcore.follow_initiatives`)."""

    def overdue(self, at: dt.date) -> bool:
        """Whether it is still open (planned or doing) after its due date."""
        return self.status.open and self.due is not None and self.due < at


@attrs.frozen
class Strategy:
    """How an owner pursues an objective. May change mid-cycle while the objective stays."""

    id: str
    title: str
    owner: str | None = None
    budget: float | None = attrs.field(
        default=None, converter=_opt_number, validator=[_finite, _non_negative]
    )
    resources: tuple[str, ...] = attrs.field(default=(), converter=_ids)
    status: str = "active"
    depends_on: tuple[str, ...] = attrs.field(default=(), converter=_ids)
    initiatives: tuple[Initiative, ...] = attrs.field(default=(), converter=_tuple)


@attrs.frozen
class Alignment:
    """One alignment of an objective to a parent objective, with its weight in that parent's
    rollup (:attr:`Objective.parents`)."""

    parent: str
    weight: float = attrs.field(default=1.0, converter=_number, validator=[_finite, _non_negative])


def _alignments(value: Iterable[Any]) -> tuple[Alignment, ...]:
    """Alignments as given, or ``(parent, weight)`` pairs, or bare parent ids (weight 1)."""
    out = []
    for item in value:
        if isinstance(item, Alignment):
            out.append(item)
        elif isinstance(item, str):
            out.append(Alignment(item))
        else:
            out.append(Alignment(*item))
    return tuple(out)


@attrs.frozen
class Objective:
    """A specific, inspiring outcome for one cycle and one owner.

    ``goal`` and ``parent`` align it upwards; ``weight`` is the weight of that alignment in the
    parent's (or goal's) rollup. An objective that serves several parent objectives lists them in
    ``parents`` instead of ``parent``, each :class:`Alignment` with its own weight; it then counts
    in the rollup of every one of them. :attr:`alignments` gives either form.
    """

    id: str
    title: str
    cycle: str
    owner: str | None = None
    level: Level = attrs.field(default=Level.TEAM, converter=Level)
    goal: str | None = None
    parent: str | None = None
    weight: float = attrs.field(default=1.0, converter=_number, validator=[_finite, _non_negative])
    budget: float | None = attrs.field(
        default=None, converter=_opt_number, validator=[_finite, _non_negative]
    )
    key_results: tuple[KeyResult, ...] = attrs.field(default=(), converter=_tuple)
    strategies: tuple[Strategy, ...] = attrs.field(default=(), converter=_tuple)
    parents: tuple[Alignment, ...] = attrs.field(default=(), converter=_alignments)
    rollup: str | None = None
    """``"sum"``: every key result of the objective is a sum of its parts (``KeyResult.rollup``)."""

    def __attrs_post_init__(self) -> None:
        if self.rollup not in (None, "sum"):
            raise ValidationError(
                f"objective {self.id!r}: rollup must be 'sum', got {self.rollup!r}",
                "Objective.rollup",
            )
        if self.rollup == "sum" and any(kr.rollup is None for kr in self.key_results):
            # the objective's setting is each key result's default; KeyResult checks each one
            krs = []
            for kr in self.key_results:
                try:
                    krs.append(attrs.evolve(kr, rollup="sum") if kr.rollup is None else kr)
                except ValidationError as exc:
                    raise ValidationError(
                        f"objective {self.id!r} has rollup: sum, so {exc}", "Objective.rollup"
                    ) from None
            object.__setattr__(self, "key_results", tuple(krs))
        if self.parents and self.parent is not None:
            raise ValidationError(
                f"objective {self.id!r}: give either parent or parents, not both",
                "Objective.parents",
            )
        seen: set[str] = set()
        for a in self.parents:
            if a.parent in seen:
                raise ValidationError(
                    f"objective {self.id!r}: aligned to {a.parent!r} twice", "Objective.parents"
                )
            seen.add(a.parent)

    @property
    def alignments(self) -> tuple[Alignment, ...]:
        """Every parent objective with the weight of the alignment (``parents``, or ``parent``
        with ``weight``); empty for a top-level objective."""
        if self.parents:
            return self.parents
        if self.parent is not None:
            return (Alignment(self.parent, self.weight),)
        return ()

    @property
    def parent_ids(self) -> tuple[str, ...]:
        """The ids of every parent objective."""
        if self.parents:
            return tuple(a.parent for a in self.parents)
        return () if self.parent is None else (self.parent,)


@attrs.frozen
class Connection:
    """A named connection to a metric source, from the plan's ``connections`` section.

    ``settings`` holds the plugin-specific settings as written (secrets only as references such as
    ``env:NAME``; :func:`okrcore.sources.resolve_secret` reads them). ``endpoint`` overrides the
    service's base URL.
    """

    name: str
    plugin: str
    settings: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    endpoint: str | None = None
    # folder of the plan file, for relative paths in settings and queries (set by the loader)
    base_dir: str | None = attrs.field(default=None, eq=False)

    def __repr__(self) -> str:  # settings may reference secrets: keep them out of reprs and logs
        return f"Connection(name={self.name!r}, plugin={self.plugin!r}, endpoint={self.endpoint!r})"


@attrs.frozen
class FunnelStep:
    """One step of a funnel: derive stage ``name`` from stage ``of`` (the previous one by default).

    ``op`` is ``divide_by`` (value per unit, e.g. average contract), ``rate`` (conversion rate into
    the earlier stage: this stage = earlier / rate) or ``multiply_by`` (cost per unit, e.g. CAC).
    """

    name: str
    op: str
    value: float = attrs.field(converter=_number, validator=_finite)
    of: str | None = None
    unit: str = ""
    key_result: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.op not in ("divide_by", "rate", "multiply_by"):
            raise ValidationError(
                f"funnel step {self.name!r}: op must be divide_by, rate, multiply_by",
                "FunnelStep.op",
            )
        if self.value <= 0:
            raise ValidationError(
                f"funnel step {self.name!r}: {self.op} must be positive", "FunnelStep.value"
            )
        if self.op == "rate" and self.value > 1:
            raise ValidationError(
                f"funnel step {self.name!r}: a rate is a fraction in (0, 1]", "FunnelStep.value"
            )


@attrs.frozen
class FunnelSplit:
    """Split a stage over channels by share (summing to 1); a channel may bind a key result."""

    of: str
    shares: Mapping[str, float] = attrs.field(converter=_frozen_mapping)
    key_results: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)

    def __attrs_post_init__(self) -> None:
        total = sum(self.shares.values())
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValidationError(
                f"split of {self.of!r}: shares sum to {total:g}, expected 1", "FunnelSplit.shares"
            )


@attrs.frozen
class Funnel:
    """A declared funnel from a company target down to marketing targets (docs/funnel.md)."""

    id: str
    start: str
    value: float = attrs.field(converter=_number, validator=_finite)
    unit: str = ""
    key_result: str | None = None
    steps: tuple[FunnelStep, ...] = attrs.field(default=(), converter=_tuple)
    splits: tuple[FunnelSplit, ...] = attrs.field(default=(), converter=_tuple)


@attrs.frozen
class CheckIn:
    """One recorded actual of a key result. A store keeps one in force per ``(kr_id, as_of,
    source)``; a later, different reading replaces it as a revision (docs/stores.md#revisions).

    For a gauge the value is the level at ``as_of``; for a cumulative key result it is the amount of
    the period that ends at ``as_of``.
    """

    kr_id: str
    value: float = attrs.field(converter=_number, validator=_finite)
    as_of: dt.date = attrs.field(converter=_day, validator=_is_date)
    source: str = "manual"
    recorded_at: dt.datetime = attrs.field(factory=_now, validator=_is_datetime)
    author: str | None = None
    note: str | None = None
    confidence: float | None = attrs.field(default=None, converter=_opt_number, validator=_finite)

    def __attrs_post_init__(self) -> None:
        if self.confidence is not None and not 0.0 <= self.confidence <= 1.0:
            raise ValidationError(
                f"confidence must be between 0 and 1, got {self.confidence:g}", "CheckIn.confidence"
            )


@attrs.frozen
class TargetChange:
    """A recalibrated target (or floor, stretch, baseline): old and new value, when and why.

    ``link`` is shared by changes recorded together as one decision: a move of part of one key
    result's target to another (``okr retarget --move``, :func:`okrcore.changes.move_target`)
    records two changes with the same link and reason.
    """

    kr_id: str
    field: str
    old: float | None = attrs.field(converter=_opt_number, validator=_finite)
    new: float | None = attrs.field(converter=_opt_number, validator=_finite)
    reason: str
    changed_at: dt.datetime = attrs.field(factory=_now, validator=_is_datetime)
    author: str | None = None
    link: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.field not in ("target", "floor", "stretch", "baseline"):
            raise ValidationError(f"cannot retarget field {self.field!r}", "TargetChange.field")
        if not self.reason.strip():
            raise ValidationError("a target change needs a reason", "TargetChange.reason")


@attrs.frozen
class StrategyChange:
    """A change of a strategy (status, budget, title...): old and new value, when and why."""

    strategy_id: str
    field: str
    old: Any = attrs.field(validator=_finite_if_number)
    new: Any = attrs.field(validator=_finite_if_number)
    reason: str
    changed_at: dt.datetime = attrs.field(factory=_now, validator=_is_datetime)
    author: str | None = None


#: What a refresh run did for one key result (:attr:`RunOutcome.status`).
RunStatus = Literal["refreshed", "unchanged", "failed", "skipped", "manual", "planned", "queued"]


@attrs.frozen
class InitiativeChange:
    """An initiative's status as first seen, or a change of it: ``was`` is the status before
    (``None``: the first status recorded), ``at`` the day it was seen (a refresh's date, the
    day a tracker was read), ``source`` where it was seen (``plan``: the plan file at a refresh;
    ``tracker``: :func:`okrcore.follow_initiatives`), ``run_id`` the refresh run that saw it."""

    initiative_id: str
    status: InitiativeStatus = attrs.field(converter=InitiativeStatus)
    was: InitiativeStatus | None = attrs.field(
        default=None, converter=attrs.converters.optional(InitiativeStatus)
    )
    at: dt.date = attrs.field(factory=dt.date.today, converter=_day, validator=_is_date)
    source: str = "plan"
    recorded_at: dt.datetime = attrs.field(factory=_now, validator=_is_datetime)
    run_id: str | None = None


@attrs.frozen
class RunOutcome:
    """What one refresh run did for one key result.

    ``status`` is ``refreshed`` (new or revised readings stored), ``unchanged`` (the same
    readings were already stored), ``failed``, ``skipped`` (not selected, or a manual key result)
    or ``manual``; a dry run records ``planned`` and a distributed run ``queued`` until the job
    of the key result finishes (:data:`RunStatus`). ``stored`` counts new readings, ``revised``
    readings that replaced a different stored one (docs/stores.md#revisions).
    """

    kr_id: str
    status: RunStatus
    connection: str | None = None
    value: float | None = attrs.field(default=None, converter=_opt_number, validator=_finite)
    stored: int = 0
    revised: int = 0
    error: str | None = None
    kind: str | None = None
    warnings: tuple[str, ...] = attrs.field(default=(), converter=_tuple)


@attrs.frozen
class RunRecord:
    """One refresh run: when it ran, for which as_of, and each key result's outcome."""

    id: str
    started_at: dt.datetime = attrs.field(validator=_is_datetime)
    finished_at: dt.datetime | None = attrs.field(validator=_is_datetime)
    as_of: dt.date = attrs.field(converter=_day, validator=_is_date)
    outcomes: tuple[RunOutcome, ...] = attrs.field(default=(), converter=_tuple)
    info: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)


def _unit(unit: str) -> str:
    return repr(unit) if unit else "no unit"


def _part_problem(total: KeyResult, part: KeyResult) -> str | None:
    """Why ``part`` cannot count in the sum ``total`` (``None`` when it can)."""
    if part.kind is Kind.MILESTONE:
        return f"key result {part.id!r} is a milestone; only numbers add up"
    if part.unit != total.unit:
        return (
            f"key result {part.id!r} is in {_unit(part.unit)}, the sum {total.id!r} in "
            f"{_unit(total.unit)}: mixed units do not add up"
        )
    if part.measure is not total.measure:
        return (
            f"key result {part.id!r} is {part.measure.value}, the sum {total.id!r} "
            f"{total.measure.value}: a sum adds up parts of its own measure"
        )
    return None


@attrs.frozen
class Plan:
    """A whole plan: cycles, goals, objectives (with their key results and strategies),
    connections, funnels, check settings and owners.

    Construction checks the references (unknown cycle, goal or parent ids, duplicate ids, alignment
    loops, an owner's unknown notify channel) and raises :class:`~okrcore.PlanError` listing every
    problem. Owner references (``owner:`` of goals, objectives, key results, strategies) are ids of
    :attr:`owners` when the plan has any, free text otherwise; ``okr lint`` flags unknown ones.
    """

    cycles: tuple[Cycle, ...] = attrs.field(default=(), converter=_tuple)
    goals: tuple[Goal, ...] = attrs.field(default=(), converter=_tuple)
    objectives: tuple[Objective, ...] = attrs.field(default=(), converter=_tuple)
    connections: Mapping[str, Connection] = attrs.field(factory=dict, converter=_frozen_mapping)
    funnels: tuple[Funnel, ...] = attrs.field(default=(), converter=_tuple)
    checks: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    policy: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    notify: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    plugins: tuple[str, ...] = attrs.field(default=(), converter=_ids)
    title: str | None = None
    owners: tuple[Owner, ...] = attrs.field(default=(), converter=_tuple)
    reminders: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    """Check-in reminder settings (``every``, ``escalate_after``, ``email_channel``; see
    :func:`okrcore.remind.reminder_settings`)."""
    kpis: tuple[Kpi, ...] = attrs.field(default=(), converter=_tuple)
    """Key performance indicators beside the OKRs (:class:`Kpi`)."""
    source_path: str | None = attrs.field(default=None, eq=False)
    # field path ("objectives[1].key_results[0].target") -> (line, column), filled by the loader
    positions: Mapping[str, tuple[int, int]] = attrs.field(factory=dict, eq=False, repr=False)

    # Indexes, derived once; excluded from eq/repr.
    _cycles: dict[str, Cycle] = attrs.field(init=False, eq=False, repr=False)
    _goals: dict[str, Goal] = attrs.field(init=False, eq=False, repr=False)
    _objectives: dict[str, Objective] = attrs.field(init=False, eq=False, repr=False)
    _krs: dict[str, tuple[KeyResult, Objective]] = attrs.field(init=False, eq=False, repr=False)
    _owners: dict[str, Owner] = attrs.field(init=False, eq=False, repr=False)
    _initiatives: dict[str, tuple[Initiative, Strategy, Objective]] = attrs.field(
        init=False, eq=False, repr=False
    )
    _sums: dict[str, tuple[str, ...]] = attrs.field(init=False, eq=False, repr=False)
    _kpis: dict[str, Kpi] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        problems: list[Problem] = []

        def index(items: tuple[Any, ...], what: str) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for i, item in enumerate(items):
                if item.id in out:
                    message = f"duplicate {what[:-1]} id {item.id!r}"
                    problems.append(Problem(f"{what}[{i}].id", message))
                out[item.id] = item
            return out

        cycles = index(self.cycles, "cycles")
        goals = index(self.goals, "goals")
        objectives = index(self.objectives, "objectives")
        owners = index(self.owners, "owners")
        for i, owner in enumerate(self.owners):
            if owner.notify is not None and owner.notify not in self.notify:
                message = f"unknown notify channel {owner.notify!r} for owner {owner.id!r}"
                problems.append(Problem(f"owners[{i}].notify", message))
        mail = self.reminders.get("email_channel")
        if mail is not None and mail not in self.notify:
            problems.append(Problem("reminders.email_channel", f"unknown notify channel {mail!r}"))
        krs: dict[str, tuple[KeyResult, Objective]] = {}
        for i, obj in enumerate(self.objectives):
            at = f"objectives[{i}]"
            if obj.cycle not in cycles:
                problems.append(Problem(f"{at}.cycle", f"unknown cycle {obj.cycle!r}"))
            if obj.goal is not None and obj.goal not in goals:
                problems.append(Problem(f"{at}.goal", f"unknown goal {obj.goal!r}"))
            if obj.parent is not None and obj.parent not in objectives:
                problems.append(Problem(f"{at}.parent", f"unknown objective {obj.parent!r}"))
            for k, a in enumerate(obj.parents):
                if a.parent not in objectives:
                    message = f"unknown objective {a.parent!r}"
                    problems.append(Problem(f"{at}.parents[{k}].id", message))
            for j, kr in enumerate(obj.key_results):
                if kr.id in krs or kr.id in objectives:
                    problems.append(
                        Problem(f"{at}.key_results[{j}].id", f"duplicate key result id {kr.id!r}")
                    )
                krs[kr.id] = (kr, obj)
        kpis: dict[str, Kpi] = {}
        for i, kpi in enumerate(self.kpis):
            if kpi.id in kpis or kpi.id in krs or kpi.id in objectives:
                message = f"KPI id {kpi.id!r} is already the id of a KPI, key result or objective"
                problems.append(Problem(f"kpis[{i}].id", message))
            kpis[kpi.id] = kpi
        initiatives = self._index_initiatives(krs, problems)
        sums = self._index_sums(krs, problems) if not problems else {}
        if problems:
            raise PlanError(problems, self.source_path)
        object.__setattr__(self, "_initiatives", initiatives)
        object.__setattr__(self, "_sums", sums)
        object.__setattr__(self, "_kpis", kpis)
        object.__setattr__(self, "_cycles", cycles)
        object.__setattr__(self, "_goals", goals)
        object.__setattr__(self, "_objectives", objectives)
        object.__setattr__(self, "_krs", krs)
        object.__setattr__(self, "_owners", owners)
        loop = self._alignment_loop()
        if loop:
            raise AlignmentLoopError(loop, file=self.source_path)

    def _index_initiatives(
        self, krs: Mapping[str, Any], problems: list[Problem]
    ) -> dict[str, tuple[Initiative, Strategy, Objective]]:
        """Initiatives by id; unknown key results and duplicate ids become problems."""
        out: dict[str, tuple[Initiative, Strategy, Objective]] = {}
        linked: set[str] = set()
        for i, obj in enumerate(self.objectives):
            for j, st in enumerate(obj.strategies):
                for k, ini in enumerate(st.initiatives):
                    at = f"objectives[{i}].strategies[{j}].initiatives[{k}]"
                    if ini.id in out:
                        problems.append(Problem(f"{at}.id", f"duplicate initiative id {ini.id!r}"))
                    out[ini.id] = (ini, st, obj)
                    for n, kr_id in enumerate(ini.key_results):
                        if kr_id not in krs:
                            message = f"unknown key result {kr_id!r}"
                            problems.append(Problem(f"{at}.key_results[{n}]", message))
                    linked.update(ini.key_results)
        for kr_id, (kr, _obj) in krs.items():
            if kr.progress_from == "initiatives" and kr_id not in linked:
                message = (
                    f"key result {kr_id!r} takes its progress from initiatives, but no "
                    "initiative names it in its key_results"
                )
                problems.append(Problem(f"{self._path_of(kr_id, krs)}.progress_from", message))
        return out

    def _index_sums(
        self, krs: Mapping[str, tuple[KeyResult, Objective]], problems: list[Problem]
    ) -> dict[str, tuple[str, ...]]:
        """The parts of every sum key result, sums ordered so that a sum's parts come before it;
        unknown or mismatched parts, loops and parts counted twice become problems."""
        children: dict[str, list[Objective]] = {}
        for o in self.objectives:
            for up in o.parent_ids:
                children.setdefault(up, []).append(o)
        sums: dict[str, tuple[str, ...]] = {}
        where: dict[str, str] = {}
        for kr_id, (kr, obj) in krs.items():
            if kr.rollup != "sum":
                continue
            at = self._path_of(kr_id, krs)
            parts: list[str] = []
            if kr.sum_of:
                for n, part in enumerate(kr.sum_of):
                    problem = (
                        f"unknown key result {part!r}"
                        if part not in krs
                        else f"{part!r} is named twice"
                        if part in parts
                        else _part_problem(kr, krs[part][0])
                    )
                    if problem:
                        problems.append(Problem(f"{at}.sum_of[{n}]", problem))
                    else:
                        parts.append(part)
                where[kr_id] = f"{at}.sum_of"
            else:
                found = False
                for child in children.get(obj.id, ()):
                    same = [
                        k
                        for k in child.key_results
                        if k.unit == kr.unit and k.kind is not Kind.MILESTONE
                    ]
                    found = found or bool(same)
                    if len(same) > 1:
                        ids = ", ".join(k.id for k in same)
                        message = (
                            f"child objective {child.id!r} has {len(same)} key results in "
                            f"{_unit(kr.unit)} ({ids}): name the parts in sum_of"
                        )
                        problems.append(Problem(f"{at}.rollup", message))
                    elif same:
                        problem = _part_problem(kr, same[0])
                        if problem:
                            problems.append(Problem(f"{at}.rollup", problem))
                        else:
                            parts.append(same[0].id)
                if not found:
                    message = (
                        f"rollup: sum finds no part: no objective aligned to {obj.id!r} has a "
                        f"key result in {_unit(kr.unit)} (name the parts in sum_of)"
                    )
                    problems.append(Problem(f"{at}.rollup", message))
                where[kr_id] = f"{at}.rollup"
            sums[kr_id] = tuple(parts)
        if problems:
            return {}
        for loop in find_loops(sums):
            chain = " -> ".join([*loop, loop[0]])
            problems.append(Problem(where[loop[0]], f"sum loop: {chain}"))
        if problems:
            return {}
        ordered: dict[str, tuple[str, ...]] = {}
        bases: dict[str, list[str]] = {}  # sum -> the key results it adds up, through sums

        def visit(kr_id: str) -> None:
            if kr_id in ordered:
                return
            for part in sums[kr_id]:
                if part in sums:
                    visit(part)
            ordered[kr_id] = sums[kr_id]
            counted: list[str] = []
            for part in sums[kr_id]:
                counted.extend(bases.get(part, [part]))
            bases[kr_id] = counted
            twice = sorted({k for k in counted if counted.count(k) > 1})
            if twice:
                message = (
                    f"the sum counts {', '.join(map(repr, twice))} more than once "
                    "(through several of its parts)"
                )
                problems.append(Problem(where[kr_id], message))

        for kr_id in sums:
            visit(kr_id)
        return ordered

    def _path_of(self, kr_id: str, krs: Mapping[str, tuple[KeyResult, Objective]]) -> str:
        kr, obj = krs[kr_id]
        i = self.objectives.index(obj)
        return f"objectives[{i}].key_results[{obj.key_results.index(kr)}]"

    def _alignment_loop(self) -> list[str] | None:
        parents = {i: o.parent_ids for i, o in self._objectives.items() if o.parent_ids}
        loops = find_loops(parents)
        return loops[0] if loops else None

    # -- lookups ---------------------------------------------------------------------------
    def cycle(self, cycle_id: str) -> Cycle:
        """The cycle with this id (``KeyError`` when there is none)."""
        return self._cycles[cycle_id]

    def goal(self, goal_id: str) -> Goal:
        """The goal with this id."""
        return self._goals[goal_id]

    def objective(self, objective_id: str) -> Objective:
        """The objective with this id."""
        return self._objectives[objective_id]

    def key_result(self, kr_id: str) -> KeyResult:
        """The key result with this id."""
        return self._krs[kr_id][0]

    def objective_of(self, kr_id: str) -> Objective:
        """The objective a key result belongs to."""
        return self._krs[kr_id][1]

    def cycle_of(self, kr_id: str) -> Cycle:
        """The cycle a key result belongs to (through its objective)."""
        return self._cycles[self._krs[kr_id][1].cycle]

    def deadline_of(self, kr_id: str) -> dt.date:
        """A key result's deadline, defaulting to its cycle's end."""
        kr, obj = self._krs[kr_id]
        return kr.deadline or self._cycles[obj.cycle].end

    def key_results(self) -> Iterator[KeyResult]:
        """Every key result, in plan order."""
        for kr, _obj in self._krs.values():
            yield kr

    def owner(self, owner_id: str) -> Owner:
        """The owner with this id from the ``owners`` section (``KeyError`` when there is none)."""
        return self._owners[owner_id]

    def find_owner(self, ref: str | None) -> Owner | None:
        """The owner an ``owner:`` field refers to, or ``None`` (no owner, or free text that the
        ``owners`` section does not list)."""
        return None if ref is None else self._owners.get(ref)

    def owner_label(self, ref: str | None) -> str | None:
        """How reports name the owner ``ref``: its name, marked "(external)" for an outside
        firm; free text as written."""
        owner = self.find_owner(ref)
        return owner.label if owner is not None else ref

    def kr_owner(self, kr_id: str) -> str | None:
        """The owner of a key result: its own ``owner``, else its objective's."""
        kr, obj = self._krs[kr_id]
        return kr.owner or obj.owner

    def known_owners(self) -> list[str]:
        """Every owner the plan knows: the ids of the ``owners`` section, then any other owner
        named by an ``owner:`` field (free text), each once, in plan order."""
        names = dict.fromkeys(o.id for o in self.owners)
        names.update(dict.fromkeys(ref for _path, ref in self.owner_refs()))
        return list(names)

    def answers_for(self, owner: str) -> tuple[list[str], list[str]]:
        """What ``owner`` answers for, as ``(objective ids, key-result ids)`` in plan order.

        The key results it owns (one without an ``owner`` belongs to its objective's owner) and
        every key result of an objective it owns; the objectives it owns and those holding one of
        its key results. Reports filtered with ``--owner`` show these.
        """
        krs = [kr.id for kr, obj in self._krs.values() if owner in (kr.owner, obj.owner)]
        held = {self._krs[k][1].id for k in krs}
        objectives = [o.id for o in self.objectives if o.owner == owner or o.id in held]
        return objectives, krs

    def owner_refs(self) -> Iterator[tuple[str, str]]:
        """Every ``owner:`` reference as ``(field path, owner)``, in plan order."""
        for i, goal in enumerate(self.goals):
            if goal.owner is not None:
                yield f"goals[{i}].owner", goal.owner
        for i, obj in enumerate(self.objectives):
            at = f"objectives[{i}]"
            if obj.owner is not None:
                yield f"{at}.owner", obj.owner
            for j, kr in enumerate(obj.key_results):
                if kr.owner is not None:
                    yield f"{at}.key_results[{j}].owner", kr.owner
            for j, st in enumerate(obj.strategies):
                if st.owner is not None:
                    yield f"{at}.strategies[{j}].owner", st.owner
                for k, ini in enumerate(st.initiatives):
                    if ini.owner is not None:
                        yield f"{at}.strategies[{j}].initiatives[{k}].owner", ini.owner
        for i, kpi in enumerate(self.kpis):
            if kpi.owner is not None:
                yield f"kpis[{i}].owner", kpi.owner

    def children(self, objective_id: str) -> list[Objective]:
        """Objectives aligned to this objective (as ``parent`` or one of ``parents``)."""
        return [o for o in self.objectives if objective_id in o.parent_ids]

    def locate(self, path: str) -> tuple[int, int] | None:
        """Line and column of a field path in the plan file, or of its nearest located parent."""
        while path:
            if path in self.positions:
                return self.positions[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return None

    def kr_path(self, kr_id: str) -> str:
        """The field path of a key result (``objectives[1].key_results[0]``)."""
        return self._path_of(kr_id, self._krs)

    # -- KPIs ------------------------------------------------------------------------------
    def kpi(self, kpi_id: str) -> Kpi:
        """The KPI with this id (``KeyError`` when there is none)."""
        return self._kpis[kpi_id]

    def has_kpi(self, kpi_id: str) -> bool:
        """Whether the plan has a KPI with this id."""
        return kpi_id in self._kpis

    def measured(self) -> Iterator[KeyResult]:
        """What a refresh reads: every key result, then every KPI as a key result
        (:meth:`Kpi.as_key_result`)."""
        yield from self.key_results()
        for kpi in self.kpis:
            yield kpi.as_key_result()

    # -- sums ------------------------------------------------------------------------------
    def sum_parts(self, kr_id: str) -> tuple[str, ...]:
        """The key results a ``rollup: sum`` key result adds up (empty for any other key
        result): its ``sum_of``, else the key result in its unit of each child objective."""
        return self._sums.get(kr_id, ())

    def sums(self) -> list[str]:
        """The ids of the sum key results, each after any sum among its parts."""
        return list(self._sums)

    # -- initiatives -----------------------------------------------------------------------
    def initiatives(self) -> Iterator[Initiative]:
        """Every initiative, in plan order."""
        for ini, _st, _obj in self._initiatives.values():
            yield ini

    def initiative(self, initiative_id: str) -> Initiative:
        """The initiative with this id (``KeyError`` when there is none)."""
        return self._initiatives[initiative_id][0]

    def strategy_of(self, initiative_id: str) -> Strategy:
        """The strategy an initiative belongs to."""
        return self._initiatives[initiative_id][1]

    def initiative_objective(self, initiative_id: str) -> Objective:
        """The objective whose strategy holds the initiative."""
        return self._initiatives[initiative_id][2]

    def initiative_owner(self, initiative_id: str) -> str | None:
        """An initiative's owner: its own, else its strategy's, else its objective's."""
        ini, st, obj = self._initiatives[initiative_id]
        return ini.owner or st.owner or obj.owner

    def initiatives_for(self, kr_id: str) -> list[Initiative]:
        """The initiatives meant to move a key result, in plan order."""
        return [ini for ini, _st, _obj in self._initiatives.values() if kr_id in ini.key_results]

    def initiative_share(self, kr_id: str) -> float | None:
        """The share of a key result's initiatives that are done, dropped ones left out
        (``None`` when none is left to count)."""
        dropped = InitiativeStatus.DROPPED
        counted = [i for i in self.initiatives_for(kr_id) if i.status is not dropped]
        if not counted:
            return None
        return sum(i.status is InitiativeStatus.DONE for i in counted) / len(counted)

    def with_initiative_statuses(self, statuses: Mapping[str, InitiativeStatus | str]) -> Plan:
        """A new plan with these initiatives' statuses set (initiative id -> status), for a
        status that comes from elsewhere than the plan file (a tracker, a recorded change)."""
        unknown = [i for i in statuses if i not in self._initiatives]
        if unknown:
            raise ValidationError(f"unknown initiative(s): {', '.join(map(repr, unknown))}")
        objectives = []
        for obj in self.objectives:
            strategies = tuple(
                attrs.evolve(
                    st,
                    initiatives=tuple(
                        attrs.evolve(ini, status=statuses[ini.id]) if ini.id in statuses else ini
                        for ini in st.initiatives
                    ),
                )
                for st in obj.strategies
            )
            objectives.append(attrs.evolve(obj, strategies=strategies))
        return attrs.evolve(self, objectives=objectives)

    def has_key_result(self, kr_id: str) -> bool:
        """Whether the plan has a key result with this id."""
        return kr_id in self._krs

    # -- changes ---------------------------------------------------------------------------
    def with_target_changes(self, changes: Iterable[TargetChange]) -> Plan:
        """A new plan with the given target changes applied in order (the current targets)."""
        by_kr: dict[str, dict[str, float | None]] = {}
        for ch in changes:
            by_kr.setdefault(ch.kr_id, {})[ch.field] = ch.new
        if not by_kr:
            return self
        objectives = []
        for obj in self.objectives:
            krs = tuple(
                attrs.evolve(kr, **cast(dict[str, Any], by_kr[kr.id])) if kr.id in by_kr else kr
                for kr in obj.key_results
            )
            objectives.append(attrs.evolve(obj, key_results=krs))
        return attrs.evolve(self, objectives=objectives)

