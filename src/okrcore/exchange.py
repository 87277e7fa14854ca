"""Plans and check-ins as two flat tables, for spreadsheets, BI tools and moving between OKR tools.

``key_results`` has one row per key result (its objective, goal and cycle repeated on each row, the
long shape Tableau, Power BI and spreadsheets read directly), plus one row per goal and one per
objective without key results of its own (``key_result`` empty), so the alignment tree survives a
round trip. Computed columns (``as_of`` to ``status``) describe the scorecard at the export date
and are ignored on import. ``checkins`` has one row per check-in in force (a KPI's readings too);
``kpis`` one row per KPI, written when the plan has KPIs. docs/exchange.md documents every column.

The row functions are pure; :func:`write_tables` and :func:`read_tables` do the file I/O (CSV with
the standard library; Parquet when pyarrow is installed, in :mod:`okrcore._table_files`).

A little under 700 lines on purpose: the two directions (plan to rows, rows to plan) share the
column lists at the top, so a column added to one is seen missing from the other.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from ._table_files import cell, find_table, read_rows, write_csv, write_parquet
from .errors import OkrError, PlanError, Problem
from .model import CheckIn, Cycle, Goal, KeyResult, Kpi, Objective, Owner, Plan
from .scorecard import Scorecard
from .scoring import initiative_readings

__all__ = [
    "CHECKIN_COLUMNS",
    "KEY_RESULT_COLUMNS",
    "KPI_COLUMNS",
    "OWNER_COLUMNS",
    "TableFormat",
    "checkin_rows",
    "checkins_from_rows",
    "key_result_rows",
    "kpi_rows",
    "kpis_from_rows",
    "owner_rows",
    "owners_from_rows",
    "plan_from_rows",
    "read_tables",
    "write_tables",
]

TableFormat = Literal["csv", "parquet"]
Row = dict[str, Any]

# Plan columns, read back on import.
_PLAN_COLUMNS = (
    "cycle",
    "cycle_title",
    "cycle_start",
    "cycle_end",
    "goal",
    "goal_title",
    "goal_owner",
    "objective",
    "objective_title",
    "objective_owner",
    "objective_level",
    "objective_parent",
    "objective_weight",
    "objective_budget",
    "key_result",
    "title",
    "kind",
    "measure",
    "unit",
    "metric",
    "baseline",
    "target",
    "floor",
    "stretch",
    "weight",
    "owner",
    "deadline",
    "cadence",
    "tolerance",
    "committed",
)
# Scorecard columns at the export date: written for reading, ignored on import.
_SCORE_COLUMNS = ("original_target", "as_of", "actual", "progress", "score", "expected", "status")
KEY_RESULT_COLUMNS: tuple[str, ...] = _PLAN_COLUMNS + _SCORE_COLUMNS
CHECKIN_COLUMNS: tuple[str, ...] = (
    "key_result",
    "as_of",
    "value",
    "source",
    "recorded_at",
    "author",
    "note",
    "confidence",
)
OWNER_COLUMNS: tuple[str, ...] = ("id", "name", "external", "email")
# KPI columns read back on import, then the KPI's score at the export date (export only).
_KPI_PLAN_COLUMNS = (
    "kpi",
    "title",
    "target",
    "targets",
    "direction",
    "measure",
    "period",
    "unit",
    "metric",
    "owner",
    "tolerance",
)
_KPI_SCORE_COLUMNS = ("as_of", "current_period", "period_target", "actual", "expected", "status")
KPI_COLUMNS: tuple[str, ...] = _KPI_PLAN_COLUMNS + _KPI_SCORE_COLUMNS
_NUMBERS = {"objective_weight", "objective_budget", "baseline", "target", "floor", "stretch"}
_NUMBERS |= {"weight", "tolerance", "value", "confidence"}
_FILES = {
    "key_results": KEY_RESULT_COLUMNS,
    "checkins": CHECKIN_COLUMNS,
    "owners": OWNER_COLUMNS,
    "kpis": KPI_COLUMNS,
}
# Parquet number columns per table (the key_results table keeps its text scorecard columns)
_TABLE_NUMBERS = {"kpis": _NUMBERS | {"period_target", "actual", "expected"}}


# -- plan and check-ins to rows ---------------------------------------------------------------
def key_result_rows(
    plan: Plan, card: Scorecard | None = None, *, original: Plan | None = None
) -> list[Row]:
    """One row per goal, then per key result (or objective without one), in plan order.

    ``card`` fills the scorecard columns; ``original`` (the plan as written, when ``plan`` has
    recorded target changes applied) fills ``original_target``.
    """
    # goals first, in plan order (an import keeps that order, and goals without objectives)
    rows: list[Row] = [_complete(_goal_cells(g)) for g in plan.goals]
    for obj in plan.objectives:
        base = {**_cycle_cells(plan.cycle(obj.cycle)), **_objective_cells(obj)}
        if obj.goal is not None:
            base.update(_goal_cells(plan.goal(obj.goal)))
        if not obj.key_results:
            rows.append(_complete(base))
            continue
        for kr in obj.key_results:
            row = {**base, **_kr_cells(kr)}
            if original is not None and original.has_key_result(kr.id):
                row["original_target"] = original.key_result(kr.id).effective_target
            else:
                row["original_target"] = kr.effective_target
            if card is not None and kr.id in card.key_results:
                kscore = card.key_results[kr.id]
                row.update(
                    as_of=card.at,
                    actual=kscore.actual,
                    progress=kscore.progress,
                    score=kscore.score,
                    expected=kscore.expected,
                    status=kscore.status.value,
                )
            rows.append(_complete(row))
    return rows


def owner_rows(plan: Plan) -> list[Row]:
    """One row per owner of the plan's owners section (notify channels are not exported)."""
    return [
        {"id": o.id, "name": o.name, "external": o.external, "email": o.email}
        for o in plan.owners
    ]


def owners_from_rows(rows: Sequence[Mapping[str, Any]], *, file: str = "owners") -> list[Owner]:
    """Owners from ``owners`` rows; :class:`PlanError` naming every bad cell."""
    read = _Rows(file)
    out: list[Owner] = []
    for i, row in enumerate(rows):
        line = i + 2
        owner_id = read.required(row, line, "id")
        try:
            out.append(
                Owner(
                    owner_id,
                    read.text(row, line, "name") or owner_id,
                    external=bool(read.flag(row, line, "external")),
                    email=read.text(row, line, "email"),
                )
            )
        except (OkrError, ValueError) as exc:
            read.fail(line, "email", str(exc))
    read.raise_problems()
    return out


def kpi_rows(plan: Plan, card: Scorecard | None = None) -> list[Row]:
    """One row per KPI, in plan order; ``card`` fills the scorecard columns (the period holding
    its date, that period's target, the actual and bar so far, the light)."""
    rows: list[Row] = []
    for kpi in plan.kpis:
        row: Row = {
            "kpi": kpi.id,
            "title": kpi.title,
            "target": kpi.target,
            "targets": "; ".join(f"{k}={cell(float(v))}" for k, v in kpi.targets.items()) or None,
            "direction": kpi.direction,
            "measure": kpi.measure.value,
            "period": kpi.period.value,
            "unit": kpi.unit,
            "metric": kpi.metric,
            "owner": kpi.owner,
            "tolerance": kpi.tolerance,
        }
        if card is not None and kpi.id in card.kpis:
            kscore = card.kpis[kpi.id]
            row.update(
                as_of=card.at,
                current_period=kscore.period,
                period_target=kscore.target,
                actual=kscore.actual,
                expected=kscore.expected,
                status=kscore.status.value,
            )
        rows.append(_complete(row, KPI_COLUMNS))
    return rows


def kpis_from_rows(rows: Sequence[Mapping[str, Any]], *, file: str = "kpis") -> list[Kpi]:
    """KPIs from ``kpis`` rows; raises :class:`PlanError` naming every bad cell."""
    read = _Rows(file)
    out: list[Kpi] = []
    for i, row in enumerate(rows):
        line = i + 2
        kpi_id = read.required(row, line, "kpi")
        target = read.number(row, line, "target")
        if target is None:
            read.fail(line, "target", "is empty; a KPI needs a target")
        targets = _period_targets(read, row, line)
        optional: dict[str, Any] = {
            name: value
            for name in ("direction", "measure", "period", "unit")
            if (value := read.text(row, line, name))
        }
        if (tolerance := read.number(row, line, "tolerance")) is not None:
            optional["tolerance"] = tolerance
        if not kpi_id or target is None or targets is None:
            continue
        try:
            out.append(
                Kpi(
                    kpi_id,
                    read.text(row, line, "title") or kpi_id,
                    target,
                    metric=read.text(row, line, "metric"),
                    owner=read.text(row, line, "owner"),
                    targets=targets,
                    **optional,  # an empty cell keeps the model's default
                )
            )
        except (OkrError, ValueError) as exc:
            read.fail(line, "kpi", str(exc))
    read.raise_problems()
    return out


def _period_targets(read: _Rows, row: Mapping[str, Any], line: int) -> dict[str, float] | None:
    """The ``targets`` cell, ``2026-02=280; 2026-12=220``, as a mapping; ``None`` when bad."""
    text = read.text(row, line, "targets")
    out: dict[str, float] = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        key, sep, value = (piece.strip() for piece in part.partition("="))
        if not (key and sep and value):
            read.fail(line, "targets", f"expected PERIOD=TARGET, got {part.strip()!r}")
            return None
        number = read.number({"targets": value}, line, "targets")  # fails on a bad number
        if number is None:
            return None
        out[key] = number
    return out


def checkin_rows(checkins: Iterable[CheckIn]) -> list[Row]:
    """One row per check-in."""
    return [
        {
            "key_result": c.kr_id,
            "as_of": c.as_of,
            "value": c.value,
            "source": c.source,
            "recorded_at": c.recorded_at,
            "author": c.author,
            "note": c.note,
            "confidence": c.confidence,
        }
        for c in checkins
    ]


def _complete(row: Row, columns: Sequence[str] = KEY_RESULT_COLUMNS) -> Row:
    return {column: row.get(column) for column in columns}


def _cycle_cells(cycle: Cycle) -> Row:
    return {
        "cycle": cycle.id,
        "cycle_title": cycle.title,
        "cycle_start": cycle.start,
        "cycle_end": cycle.end,
    }


def _goal_cells(goal: Goal) -> Row:
    return {"goal": goal.id, "goal_title": goal.title, "goal_owner": goal.owner}


def _objective_cells(obj: Objective) -> Row:
    return {
        "objective": obj.id,
        "objective_title": obj.title,
        "objective_owner": obj.owner,
        "objective_level": obj.level.value,
        "objective_parent": obj.parent,
        "objective_weight": obj.weight,
        "objective_budget": obj.budget,
    }


def _kr_cells(kr: KeyResult) -> Row:
    return {
        "key_result": kr.id,
        "title": kr.title,
        "kind": kr.kind.value,
        "measure": kr.measure.value,
        "unit": kr.unit,
        "metric": kr.metric,
        "baseline": kr.baseline,
        "target": kr.target,
        "floor": kr.floor,
        "stretch": kr.stretch,
        "weight": kr.weight,
        "owner": kr.owner,
        "deadline": kr.deadline,
        "cadence": kr.cadence.value if kr.cadence is not None else None,
        "tolerance": kr.tolerance,
        "committed": kr.committed,
    }


# -- rows to plan and check-ins ---------------------------------------------------------------
class _Rows:
    """Typed reading of one table's text cells, collecting problems with their line numbers."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def fail(self, line: int, column: str, message: str) -> None:
        self.problems.append(Problem(column, message, line=line))

    def text(self, row: Mapping[str, Any], line: int, column: str) -> str | None:
        value = row.get(column)
        if value is None:
            return None
        text = str(value).strip()
        return text or None

    def required(self, row: Mapping[str, Any], line: int, column: str) -> str:
        text = self.text(row, line, column)
        if text is None:
            self.fail(line, column, "is empty; a value is required")
            return ""
        return text

    def number(self, row: Mapping[str, Any], line: int, column: str) -> float | None:
        value = row.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(line, column, f"expected a number, got {value!r}")
            return None
        if not math.isfinite(number):
            self.fail(line, column, f"expected a finite number, got {value!r}")
            return None
        return number

    def date(self, row: Mapping[str, Any], line: int, column: str) -> dt.date | None:
        value = row.get(column)
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        text = self.text(row, line, column)
        if text is None:
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            self.fail(line, column, f"expected a date as YYYY-MM-DD, got {text!r}")
            return None

    def moment(self, row: Mapping[str, Any], line: int, column: str) -> dt.datetime | None:
        value = row.get(column)
        if isinstance(value, dt.datetime):
            moment = value
        else:
            text = self.text(row, line, column)
            if text is None:
                return None
            try:
                moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                self.fail(line, column, f"expected an ISO date and time, got {text!r}")
                return None
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)

    def flag(self, row: Mapping[str, Any], line: int, column: str) -> bool | None:
        value = row.get(column)
        if value is None or isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if not text:
            return None
        if text in ("true", "yes", "1"):
            return True
        if text in ("false", "no", "0"):
            return False
        self.fail(line, column, f"expected true or false, got {value!r}")
        return None

    def same(self, seen: dict[str, tuple[Any, int]], key: str, value: Any, line: int) -> None:
        """Cells repeated on every row of an objective, goal or cycle must agree."""
        first = seen.setdefault(key, (value, line))
        if first[0] != value:
            was, now = cell(first[0]) or "(empty)", cell(value) or "(empty)"
            self.fail(line, key, f"{now!r} differs from {was!r} on line {first[1]}")

    def raise_problems(self) -> None:
        if self.problems:
            raise PlanError(self.problems, self.file)


def plan_from_rows(
    rows: Sequence[Mapping[str, Any]], *, file: str = "key_results", title: str | None = None
) -> Plan:
    """Build a plan from ``key_results`` rows (text cells as read from CSV, or typed cells).

    Row ``i`` is reported as line ``i + 2`` (line 1 is the header). Raises :class:`PlanError`
    naming every bad cell.
    """
    read = _Rows(file)
    cycles: dict[str, Cycle] = {}
    goals: dict[str, Goal] = {}
    objectives: dict[str, dict[str, Any]] = {}
    seen: dict[str, dict[str, tuple[Any, int]]] = {}
    for i, row in enumerate(rows):
        line = i + 2
        goal_id = read.text(row, line, "goal")
        if goal_id is not None and goal_id not in goals:
            goals[goal_id] = Goal(
                goal_id,
                read.text(row, line, "goal_title") or goal_id,
                owner=read.text(row, line, "goal_owner"),
            )
        obj_id = read.text(row, line, "objective")
        if obj_id is None:
            if goal_id is None:
                read.fail(line, "objective", "is empty; a row names an objective or a goal")
            continue
        cycle_id = read.required(row, line, "cycle")
        start, end = read.date(row, line, "cycle_start"), read.date(row, line, "cycle_end")
        checks = seen.setdefault(f"cycle {cycle_id}", {})
        read.same(checks, "cycle_start", start, line)
        read.same(checks, "cycle_end", end, line)
        if cycle_id and cycle_id not in cycles:
            if start is None or end is None:
                needs = f"cycle {cycle_id!r} needs cycle_start and cycle_end"
                read.fail(line, "cycle_start", needs)
            else:
                try:
                    cycles[cycle_id] = Cycle(
                        cycle_id, start, end, title=read.text(row, line, "cycle_title")
                    )
                except (OkrError, ValueError) as exc:
                    read.fail(line, "cycle_end", str(exc))
        cells = {  # column -> value; repeated on every row of the objective
            "objective_title": read.text(row, line, "objective_title") or obj_id,
            "cycle": cycle_id,
            "objective_owner": read.text(row, line, "objective_owner"),
            "objective_level": read.text(row, line, "objective_level") or "team",
            "goal": goal_id,
            "objective_parent": read.text(row, line, "objective_parent"),
            "objective_weight": read.number(row, line, "objective_weight"),
            "objective_budget": read.number(row, line, "objective_budget"),
        }
        checks = seen.setdefault(f"objective {obj_id}", {})
        for column, value in cells.items():
            read.same(checks, column, value, line)
        entry = objectives.setdefault(obj_id, {"cells": cells, "line": line, "krs": []})
        if read.text(row, line, "key_result") is not None:
            kr = _key_result(read, row, line)
            if kr is not None:
                entry["krs"].append(kr)
    read.raise_problems()
    built: list[Objective] = []
    for obj_id, entry in objectives.items():
        cells = entry["cells"]
        try:
            built.append(
                Objective(
                    obj_id,
                    cells["objective_title"],
                    cells["cycle"],
                    owner=cells["objective_owner"],
                    level=cells["objective_level"],
                    goal=cells["goal"],
                    parent=cells["objective_parent"],
                    weight=1.0 if cells["objective_weight"] is None else cells["objective_weight"],
                    budget=cells["objective_budget"],
                    key_results=entry["krs"],
                )
            )
        except (OkrError, ValueError) as exc:
            read.fail(entry["line"], "objective", str(exc))
    read.raise_problems()
    try:
        return Plan(
            cycles=tuple(cycles.values()),
            goals=tuple(goals.values()),
            objectives=tuple(built),
            title=title,
            source_path=file,
        )
    except PlanError as exc:  # references: unknown parent, duplicate ids, loops
        raise PlanError(exc.problems, file) from None


def _key_result(read: _Rows, row: Mapping[str, Any], line: int) -> KeyResult | None:
    kr_id = read.required(row, line, "key_result")
    fields: dict[str, Any] = {
        "kind": read.text(row, line, "kind") or "increase",
        "measure": read.text(row, line, "measure") or "gauge",
        "unit": read.text(row, line, "unit") or "",
        "metric": read.text(row, line, "metric"),
        "owner": read.text(row, line, "owner"),
        "deadline": read.date(row, line, "deadline"),
        "cadence": read.text(row, line, "cadence"),
        "committed": read.flag(row, line, "committed"),
    }
    for column in ("baseline", "target", "floor", "stretch", "tolerance"):
        fields[column] = read.number(row, line, column)
    weight = read.number(row, line, "weight")
    fields["weight"] = 1.0 if weight is None else weight
    try:
        return KeyResult(kr_id, read.text(row, line, "title") or kr_id, **fields)
    except (OkrError, ValueError) as exc:
        read.fail(line, "key_result", str(exc))
        return None


def checkins_from_rows(
    rows: Sequence[Mapping[str, Any]], *, file: str = "checkins"
) -> list[CheckIn]:
    """Check-ins from ``checkins`` rows; raises :class:`PlanError` naming every bad cell."""
    read = _Rows(file)
    out: list[CheckIn] = []
    for i, row in enumerate(rows):
        line = i + 2
        kr_id = read.required(row, line, "key_result")
        value = read.number(row, line, "value")
        as_of = read.date(row, line, "as_of")
        if value is None:
            read.fail(line, "value", "is empty; a check-in needs a value")
        if as_of is None:
            read.fail(line, "as_of", "is empty; a check-in needs the day it was measured")
        if value is None or as_of is None or not kr_id:
            continue
        extra: dict[str, Any] = {}
        recorded = read.moment(row, line, "recorded_at")
        if recorded is not None:
            extra["recorded_at"] = recorded
        try:
            out.append(
                CheckIn(
                    kr_id,
                    value,
                    as_of,
                    source=read.text(row, line, "source") or "manual",
                    author=read.text(row, line, "author"),
                    note=read.text(row, line, "note"),
                    confidence=read.number(row, line, "confidence"),
                    **extra,
                )
            )
        except (OkrError, ValueError) as exc:
            read.fail(line, "key_result", str(exc))
    read.raise_problems()
    return out


# -- files ------------------------------------------------------------------------------------
def write_tables(
    plan: Plan,
    checkins: Iterable[CheckIn],
    folder: str | os.PathLike[str],
    *,
    card: Scorecard | None = None,
    original: Plan | None = None,
    format: TableFormat = "csv",
) -> list[Path]:
    """Write ``key_results`` and ``checkins`` tables into ``folder`` (created when missing), an
    ``owners`` table when the plan has an owners section and a ``kpis`` table when it has KPIs.

    Returns the paths. ``format="parquet"`` needs pyarrow (``pip install pyarrow``).
    """
    if card is not None:  # the tables carry no initiatives: their share is the reading
        readings = initiative_readings(plan, at=card.at)
        read_from = {c.kr_id for c in readings}
        checkins = [c for c in checkins if c.kr_id not in read_from] + readings
    tables = {
        "key_results": key_result_rows(plan, card, original=original),
        "checkins": checkin_rows(checkins),
    }
    if plan.owners:
        tables["owners"] = owner_rows(plan)
    if plan.kpis:
        tables["kpis"] = kpi_rows(plan, card)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows in tables.items():
        path = out / f"{name}.{format}"
        if format == "csv":
            write_csv(path, _FILES[name], rows)
        else:
            write_parquet(path, _FILES[name], rows, numbers=_TABLE_NUMBERS.get(name, _NUMBERS))
        paths.append(path)
    return paths


def read_tables(
    folder: str | os.PathLike[str], *, title: str | None = None
) -> tuple[Plan, list[CheckIn]]:
    """Read the plan and check-ins written by :func:`write_tables` (CSV or Parquet).

    The check-ins, owners and kpis tables are optional. Raises :class:`PlanError` naming the
    file, line and column of every bad cell, and check-ins of ids neither table defines.
    """
    base = Path(folder)
    kr_path = find_table(base, "key_results")
    if kr_path is None:
        raise PlanError(
            [Problem("", "no key_results.csv or key_results.parquet here")], str(base)
        )
    plan = plan_from_rows(read_rows(kr_path), file=str(kr_path), title=title)
    owners_path = find_table(base, "owners")
    if owners_path is not None:
        owners = owners_from_rows(read_rows(owners_path), file=str(owners_path))
        try:
            plan = attrs.evolve(plan, owners=owners)
        except PlanError as exc:  # duplicate owner ids
            raise PlanError(exc.problems, str(owners_path)) from None
    kpis_path = find_table(base, "kpis")
    if kpis_path is not None:
        kpis = kpis_from_rows(read_rows(kpis_path), file=str(kpis_path))
        try:
            plan = attrs.evolve(plan, kpis=kpis)
        except PlanError as exc:  # an id taken twice, or by a key result or objective
            raise PlanError(exc.problems, str(kpis_path)) from None
    ci_path = find_table(base, "checkins")
    if ci_path is None:
        return plan, []
    checkins = checkins_from_rows(read_rows(ci_path), file=str(ci_path))
    unknown = [
        Problem("key_result", f"unknown key result {c.kr_id!r}", line=i + 2)
        for i, c in enumerate(checkins)
        if not plan.has_key_result(c.kr_id) and not plan.has_kpi(c.kr_id)
    ]
    if unknown:
        raise PlanError(unknown, str(ci_path))
    return plan, checkins
