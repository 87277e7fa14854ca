"""The plan in force at a date: the plan file plus the target and strategy changes recorded since.

A plan file holds the targets agreed at the start of the cycle; ``okr retarget`` (or
:meth:`Store.add_target_change <okrcore.store.Store.add_target_change>`) records a recalibration
with its reason, and strategy changes are recorded the same way. :func:`plan_in_force` is the one
place that applies them: :func:`okrcore.score` (given a store), :func:`okrcore.report` and every
``okr`` command score the plan it returns, so they agree on every target. A change counts from
the UTC day it was recorded on (docs/scoring.md, "Target changes").
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from .errors import PlanError, Problem, ValidationError
from .model import CheckIn, Plan, Strategy, StrategyChange, TargetChange

__all__ = ["History", "move_target", "plan_in_force"]

# a recorded change sets one plain field; initiatives change through their own statuses
_STRATEGY_FIELDS = frozenset(a.name for a in attrs.fields(Strategy)) - {"id", "initiatives"}


@runtime_checkable
class History(Protocol):
    """What scoring reads from a store: check-ins and recorded changes. Every
    :class:`~okrcore.store.Store` is one."""

    def checkins(
        self,
        kr_ids: Sequence[str] | None = None,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> list[CheckIn]:
        """Check-ins of the given key results (all when ``None``) with since <= as_of <= until."""
        ...

    def target_changes(self, kr_id: str | None = None) -> list[TargetChange]:
        """Target changes (of one key result, or all), oldest first."""
        ...

    def strategy_changes(self, strategy_id: str | None = None) -> list[StrategyChange]:
        """Strategy changes (of one strategy, or all), oldest first."""
        ...


def changes_until(changes: Iterable[TargetChange], at: dt.date) -> list[TargetChange]:
    """The changes recorded on or before ``at`` (their UTC day), in the order given."""
    return [c for c in changes if c.changed_at.date() <= at]


def plan_in_force(plan: Plan, log: History, *, at: dt.date) -> Plan:
    """``plan`` with every target and strategy change recorded on or before ``at`` applied, in
    the order recorded.

    Changes of key results or strategies the plan does not have are left out. A change that makes
    a key result impossible (a target beyond its stretch, say) raises
    :class:`~okrcore.errors.PlanError` naming the change and what to record instead.
    """
    targets = [c for c in changes_until(log.target_changes(), at) if plan.has_key_result(c.kr_id)]
    strategies = [c for c in log.strategy_changes() if c.changed_at.date() <= at]
    return _with_strategy_changes(with_target_changes(plan, targets), strategies)


def with_target_changes(plan: Plan, changes: Sequence[TargetChange]) -> Plan:
    """``plan`` with ``changes`` applied in order; :class:`PlanError` naming the first change
    that leaves its key result impossible."""
    try:
        return plan.with_target_changes(changes)
    except ValueError:
        pass
    # find the culprit: apply one change at a time
    current = plan
    for change in changes:
        try:
            current = current.with_target_changes([change])
        except ValueError as exc:
            when = change.changed_at.date().isoformat()
            values = f"{_g(change.old)} -> {_g(change.new)}"
            message = (
                f"the {change.field} change of {change.kr_id!r} recorded on {when} ({values}, "
                f"reason: {change.reason}) conflicts with the plan: {exc}; record a consistent "
                "value with `okr retarget` (change the stretch, floor or baseline first if needed)"
            )
            raise PlanError([Problem("", message)], plan.source_path) from None
    return current


def _g(x: float | None) -> str:
    return "none" if x is None else f"{x:g}"


def _with_strategy_changes(plan: Plan, changes: Sequence[StrategyChange]) -> Plan:
    by_id: dict[str, dict[str, Any]] = {}
    for c in changes:
        if c.field in _STRATEGY_FIELDS:
            by_id.setdefault(c.strategy_id, {})[c.field] = c.new
    if not by_id or not any(st.id in by_id for o in plan.objectives for st in o.strategies):
        return plan
    objectives = []
    for o in plan.objectives:
        strategies = []
        for st in o.strategies:
            try:
                strategies.append(attrs.evolve(st, **by_id[st.id]) if st.id in by_id else st)
            except (TypeError, ValueError) as exc:
                path = f"objectives.{o.id}.strategies.{st.id}"
                message = f"a recorded strategy change does not fit the plan: {exc}"
                raise PlanError([Problem(path, message)], plan.source_path) from None
        objectives.append(attrs.evolve(o, strategies=tuple(strategies)))
    return attrs.evolve(plan, objectives=objectives)


def move_target(
    plan: Plan,
    amount: float,
    source: str,
    destination: str,
    reason: str,
    *,
    field: str = "target",
    changed_at: dt.datetime | None = None,
    author: str | None = None,
    link: str | None = None,
) -> tuple[TargetChange, TargetChange]:
    """The two linked changes that move ``amount`` of ``field`` (the target by default) from key
    result ``source`` to ``destination``: the source's value goes down by ``amount``, the
    destination's up, so their total is kept (a budget shifted between channels).

    ``plan`` is the plan in force (:func:`plan_in_force`) at ``changed_at`` (default now). Both
    changes carry ``reason`` and the same ``link`` (a new random id unless given); record them
    together with :meth:`Store.add_target_changes <okrcore.store.Store.add_target_changes>`.
    Raises :class:`~okrcore.errors.ValidationError` saying why the move cannot be made: an amount
    that is not a positive number, the same or an unknown key result, different units, a value
    the plan does not set, or a key result the move would make impossible.
    """
    if not (isinstance(amount, (int, float)) and math.isfinite(amount) and amount > 0):
        raise ValidationError(f"the amount to move must be a positive number, got {amount!r}")
    if source == destination:
        raise ValidationError(f"cannot move a {field} from {source!r} to itself")
    for kr_id in (source, destination):
        if not plan.has_key_result(kr_id):
            raise ValidationError(f"unknown key result {kr_id!r}")
    when = changed_at or dt.datetime.now(dt.timezone.utc)
    import uuid  # only when a target moves

    link = link or uuid.uuid4().hex[:12]
    giver, taker = plan.key_result(source), plan.key_result(destination)
    if giver.unit != taker.unit:
        raise ValidationError(
            f"cannot move between {source!r} ({giver.unit or 'no unit'}) and {destination!r} "
            f"({taker.unit or 'no unit'}): a move keeps the total, so both need the same unit"
        )
    changes = []
    for kr, delta in ((giver, -amount), (taker, amount)):
        effective = {"target": kr.effective_target, "baseline": kr.effective_baseline}
        old = effective[field] if field in effective else getattr(kr, field)
        if old is None:
            raise ValidationError(f"{kr.id!r} has no {field} to move")
        new = old + delta
        try:
            changed: dict[str, Any] = {field: new}
            attrs.evolve(kr, **changed)
        except ValueError as exc:
            message = f"moving {amount:g} would leave {kr.id!r} impossible: {exc}"
            raise ValidationError(message) from None
        changes.append(
            TargetChange(kr.id, field, old, new, reason, changed_at=when, author=author, link=link)
        )
    return changes[0], changes[1]
