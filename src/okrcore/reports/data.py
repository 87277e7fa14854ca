"""The report data classes: :class:`Report` and the lines it is made of.

:func:`okrcore.reports.report` builds them; every renderer and notifier reads them.
:meth:`Report.to_dict` is the stable JSON form documented in docs/reports.md
(``"schema": "okrcore.report/1"``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from okrcore.model import Initiative, Owner, StrategyChange, TargetChange
from okrcore.policies import Light
from okrcore.scorecard import KpiScore, KRScore, NodeScore, Scorecard

__all__ = [
    "KINDS",
    "SCHEMA",
    "FailedSource",
    "InitiativeLine",
    "KRLine",
    "ObjectiveLine",
    "Point",
    "Report",
    "ReportFormat",
    "ReportKind",
    "RunSummary",
    "StrategyChangeLine",
    "TargetChangeLine",
]

SCHEMA = "okrcore.report/1"
#: The report kinds (:func:`~okrcore.reports.report`'s ``kind``, :attr:`Report.kind`).
ReportKind = Literal["daily", "weekly", "monthly"]
#: The formats :func:`~okrcore.reports.render` writes.
ReportFormat = Literal["text", "md", "json", "html"]
KINDS: tuple[ReportKind, ...] = ("daily", "weekly", "monthly")
FORMATS: tuple[ReportFormat, ...] = ("text", "md", "json", "html")


def _r(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(x, 6)


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return _r(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


@attrs.frozen
class Point:
    """One point of a chart: a day and a value in the key result's unit."""

    date: dt.date
    value: float

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "value": _r(self.value)}


@attrs.frozen
class KRLine:
    """One key result in a report: its score plus what the reports add.

    ``change`` is the actual now minus the actual at the previous check-in day
    (``previous_checkin``); ``previous_status`` the light the day before the report's date;
    ``gap`` the progress minus the expected progress (fractions of the way from baseline to
    target; negative is behind, whatever the direction); ``gap_value`` the actual minus the plan
    to date in the unit; ``trend`` the change of the actual over the last 7 days and
    ``trend_progress`` that of the progress; ``series`` the actual to date on each check-in day
    of the cycle and ``pace`` the plan to date over the cycle; ``original`` the plan's target,
    floor, stretch and baseline before any recorded change.
    """

    score: KRScore
    owner: str | None
    original: Mapping[str, float | None]
    previous_checkin: dt.date | None
    change: float | None
    previous_status: Light | None
    gap: float | None
    gap_value: float | None
    trend: float | None
    trend_progress: float | None
    series: tuple[Point, ...]
    pace: tuple[Point, ...]
    cycle_start: dt.date

    @property
    def id(self) -> str:
        return self.score.id

    def to_dict(self) -> dict[str, Any]:
        out = self.score.to_dict()
        out.update(
            owner=self.owner,
            original={k: _r(v) for k, v in self.original.items()},
            previous_checkin=self.previous_checkin.isoformat() if self.previous_checkin else None,
            change=_r(self.change),
            previous_status=self.previous_status.value if self.previous_status else None,
            gap=_r(self.gap),
            gap_value=_r(self.gap_value),
            trend=_r(self.trend),
            trend_progress=_r(self.trend_progress),
            cycle_start=self.cycle_start.isoformat(),
            series=[p.to_dict() for p in self.series],
            pace=[p.to_dict() for p in self.pace],
        )
        return out


@attrs.frozen
class ObjectiveLine:
    """An objective's rollup and the ids of its key results (plan order)."""

    node: NodeScore
    key_results: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**self.node.to_dict(), "key_results": list(self.key_results)}


@attrs.frozen
class FailedSource:
    """A key result whose source failed in the last refresh run."""

    kr_id: str
    title: str
    connection: str | None
    kind: str | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class RunSummary:
    """The last refresh run (as of the report's date): when, for which day, and its counts."""

    id: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    as_of: dt.date
    counts: Mapping[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "as_of": self.as_of.isoformat(),
            "counts": dict(sorted(self.counts.items())),
        }


@attrs.frozen
class TargetChangeLine:
    """A target change with the plan's original and the current value of that field."""

    change: TargetChange
    title: str
    original: float | None
    current: float | None

    def to_dict(self) -> dict[str, Any]:
        c = self.change
        return {
            "kr_id": c.kr_id,
            "title": self.title,
            "field": c.field,
            "old": _r(c.old),
            "new": _r(c.new),
            "original": _r(self.original),
            "current": _r(self.current),
            "reason": c.reason,
            "changed_at": c.changed_at.isoformat(),
            "author": c.author,
            "link": c.link,
        }


@attrs.frozen
class StrategyChangeLine:
    """A strategy change, with the strategy's title and objective when the plan has it."""

    change: StrategyChange
    title: str
    objective: str | None

    def to_dict(self) -> dict[str, Any]:
        c = self.change
        return {
            "strategy_id": c.strategy_id,
            "title": self.title,
            "objective": self.objective,
            "field": c.field,
            "old": _json_value(c.old),
            "new": _json_value(c.new),
            "reason": c.reason,
            "changed_at": c.changed_at.isoformat(),
            "author": c.author,
        }


@attrs.frozen
class InitiativeLine:
    """An initiative in a report: with its strategy, objective and owner (its own, else the
    strategy's, else the objective's), whether it is overdue at the report's date, and since
    when it has its status (``status_since``: the day the store recorded the change to it;
    ``None`` when no change to it is recorded)."""

    initiative: Initiative
    strategy: str
    strategy_title: str
    objective: str
    owner: str | None
    days_overdue: int | None  # None unless overdue
    status_since: dt.date | None = None

    @property
    def id(self) -> str:
        return self.initiative.id

    @property
    def overdue(self) -> bool:
        return self.days_overdue is not None

    @property
    def blocked(self) -> str | None:
        """What blocks it, while it is open."""
        return self.initiative.blocked if self.initiative.status.open else None

    @property
    def state(self) -> str:
        """Its status in words: ``doing since 2026-10-12, overdue 3 days, blocked: legal
        review``."""
        ini = self.initiative
        words = [ini.status.value + (f" since {self.status_since.isoformat()}"
                                     if self.status_since else "")]
        if ini.due is not None and ini.status.open:
            words.append(
                f"overdue {self.days_overdue} day{'s' if self.days_overdue != 1 else ''}"
                if self.days_overdue is not None
                else f"due {ini.due.isoformat()}"
            )
        if self.blocked:
            words.append(f"blocked: {self.blocked}")
        return ", ".join(words)

    def to_dict(self) -> dict[str, Any]:
        ini = self.initiative
        return {
            "id": ini.id,
            "title": ini.title,
            "status": ini.status.value,
            "owner": self.owner,
            "due": ini.due.isoformat() if ini.due else None,
            "budget": _r(ini.budget),
            "key_results": list(ini.key_results),
            "blocked": self.blocked,
            "overdue": self.overdue,
            "days_overdue": self.days_overdue,
            "status_since": self.status_since.isoformat() if self.status_since else None,
            "strategy": self.strategy,
            "strategy_title": self.strategy_title,
            "objective": self.objective,
        }


@attrs.frozen
class Report:
    """A report as data. Sequences keep plan order except ``gaps`` (largest gap first) and
    ``movers`` (the key results whose progress moved most over the last 7 days, either way).

    ``owners`` is the plan's owners section; ``owner`` the owner the report is filtered to
    (``None``: the whole plan).
    """

    kind: ReportKind
    title: str
    plan_title: str | None
    at: dt.date
    period_start: dt.date
    scorecard: Scorecard
    key_results: tuple[KRLine, ...]
    objectives: tuple[ObjectiveLine, ...]
    goals: tuple[NodeScore, ...]
    rollups: Mapping[str, tuple[NodeScore, ...]]
    gaps: tuple[str, ...]
    movers: tuple[str, ...]
    stale: tuple[str, ...]
    failed_sources: tuple[FailedSource, ...]
    last_run: RunSummary | None
    target_changes: tuple[TargetChangeLine, ...]
    strategy_changes: tuple[StrategyChangeLine, ...]
    owners: tuple[Owner, ...] = ()
    owner: str | None = None
    initiatives: tuple[InitiativeLine, ...] = ()
    kpis: tuple[KpiScore, ...] = ()
    # lookups by id, built once: a dashboard of n key results looks each one up (linear scans
    # made rendering quadratic)
    _lines: dict[str, KRLine] = attrs.field(init=False, repr=False, eq=False)
    _initiatives_of: dict[str, tuple[InitiativeLine, ...]] = attrs.field(
        init=False, repr=False, eq=False
    )

    @_lines.default
    def _index_lines(self) -> dict[str, KRLine]:
        return {line.id: line for line in self.key_results}

    @_initiatives_of.default
    def _index_initiatives(self) -> dict[str, tuple[InitiativeLine, ...]]:
        found: dict[str, list[InitiativeLine]] = {}
        for i in self.initiatives:
            for kr_id in dict.fromkeys(i.initiative.key_results):  # each once, in order
                found.setdefault(kr_id, []).append(i)
        return {kr_id: tuple(lines) for kr_id, lines in found.items()}

    @property
    def attention(self) -> tuple[InitiativeLine, ...]:
        """The open initiatives that are overdue or blocked, most overdue first."""
        late = [i for i in self.initiatives if i.overdue or i.blocked]
        return tuple(sorted(late, key=lambda i: -(i.days_overdue or 0)))

    def initiatives_for(self, kr_id: str) -> tuple[InitiativeLine, ...]:
        """The initiatives meant to move a key result."""
        return self._initiatives_of.get(kr_id, ())

    @property
    def lagging(self) -> tuple[str, ...]:
        """Key results behind their plan to date (gap below 0) that have initiatives, largest
        gap first."""
        return tuple(
            k for k in self.gaps if (self.key_result(k).gap or 0) < 0 and self.initiatives_for(k)
        )

    def owner_label(self, ref: str | None) -> str | None:
        """How the report names owner ``ref``: the owners section's name, marked "(external)"
        for an outside firm; free text as written."""
        for owner in self.owners:
            if owner.id == ref:
                return owner.label
        return ref

    def moved_with(self, line: TargetChangeLine) -> list[str]:
        """The titles of the other key results of a move (changes sharing the line's link)."""
        link = line.change.link
        if link is None:
            return []
        return [o.title for o in self.target_changes if o.change.link == link and o is not line]

    def key_result(self, kr_id: str) -> KRLine:
        """The line of one key result (:class:`KeyError` for an id the report does not have)."""
        return self._lines[kr_id]

    @property
    def lights(self) -> dict[str, int]:
        """How many key results have each light (every light present, zeros included)."""
        counts = {light.value: 0 for light in Light}
        for line in self.key_results:
            counts[line.score.status.value] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form (docs/reports.md): plain types, ISO dates, floats rounded."""
        card = self.scorecard
        return {
            "schema": SCHEMA,
            "kind": self.kind,
            "title": self.title,
            "plan": self.plan_title,
            "owner": self.owner,
            "owners": [
                {"id": o.id, "name": o.name, "external": o.external} for o in self.owners
            ],
            "as_of": self.at.isoformat(),
            "period": {"start": self.period_start.isoformat(), "end": self.at.isoformat()},
            "policy": {
                "grading": card.grading,
                "status": card.status_policy,
                "confidence_scale": card.confidence_scale,
            },
            "summary": {
                "lights": self.lights,
                "key_results": len(self.key_results),
                "stale": len(self.stale),
                "failed_sources": len(self.failed_sources),
                "target_changes": len(self.target_changes),
                "strategy_changes": len(self.strategy_changes),
                "initiatives": {
                    **{
                        status: sum(i.initiative.status.value == status for i in self.initiatives)
                        for status in ("planned", "doing", "done", "dropped")
                    },
                    "overdue": sum(i.overdue for i in self.initiatives),
                    "blocked": sum(bool(i.blocked) for i in self.initiatives),
                },
            },
            "objectives": [o.to_dict() for o in self.objectives],
            "goals": [g.to_dict() for g in self.goals],
            "rollups": {k: [n.to_dict() for n in v] for k, v in self.rollups.items()},
            "key_results": [k.to_dict() for k in self.key_results],
            "gaps": list(self.gaps),
            "movers": list(self.movers),
            "stale": list(self.stale),
            "failed_sources": [f.to_dict() for f in self.failed_sources],
            "last_run": self.last_run.to_dict() if self.last_run else None,
            "target_changes": [c.to_dict() for c in self.target_changes],
            "strategy_changes": [c.to_dict() for c in self.strategy_changes],
            "initiatives": [i.to_dict() for i in self.initiatives],
            "lagging": {k: [i.id for i in self.initiatives_for(k)] for k in self.lagging},
            "kpis": [k.to_dict() for k in self.kpis],
        }
