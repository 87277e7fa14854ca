"""Funnel back-solving (docs/funnel.md): from a company target down to marketing targets.

A :class:`~okrcore.model.Funnel` starts at a stage with a value (new ARR 10,000,000) and derives
each later stage from an earlier one:

- ``divide_by``: value per unit (average contract 50,000 -> 200 customers),
- ``rate``: conversion into the earlier stage (10% lead-to-customer -> 2,000 leads),
- ``multiply_by``: cost per unit (200 per lead -> a budget of 400,000).

Rounding: the stages made by ``divide_by`` and ``rate`` are counts of things (customers, leads)
and are rounded *up* to a whole number, so the derived target is sufficient (201 customers cover a
target that 200.4 would). ``multiply_by`` stages are amounts and are not rounded. A split of a
count stage over channels is apportioned by largest remainder, so the channel counts are whole and
add up to the stage exactly; a split of an amount is plain share x value.

:func:`derive_funnel` computes the stages; :func:`apply_funnel` writes the derived targets into the
bound key results and returns :class:`~okrcore.model.TargetChange` records for the store;
:func:`rates_from_actuals` measures the rates actually seen, for the what-if re-derivation.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import attrs

from .errors import FunnelError, PlanError, Problem
from .model import CheckIn, Funnel, Measure, Plan, TargetChange, as_date

__all__ = [
    "FunnelError",
    "FunnelResult",
    "apply_funnel",
    "derive_funnel",
    "rates_from_actuals",
]


@attrs.frozen
class FunnelResult:
    """The derived funnel.

    ``stages`` maps every stage name (the start included) to its value, in funnel order;
    ``splits`` maps a split stage to its channels' values; ``targets`` maps every bound key-result
    id to the value derived for it; ``values`` holds the step values used (after overrides);
    ``units`` the unit of each stage.
    """

    funnel: str
    stages: Mapping[str, float]
    splits: Mapping[str, Mapping[str, float]]
    targets: Mapping[str, float]
    values: Mapping[str, float] = attrs.field(factory=dict)
    units: Mapping[str, str] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "funnel": self.funnel,
            "stages": dict(self.stages),
            "splits": {name: dict(channels) for name, channels in self.splits.items()},
            "targets": dict(self.targets),
            "values": dict(self.values),
            "units": dict(self.units),
        }


class _Binding(NamedTuple):
    kr_id: str
    path: str  # field path of the binding (funnels[0].steps[1].key_result)
    value: float


def _whole(value: float) -> float:
    """Snap float noise (2000.0000000000002) to the whole number it means."""
    nearest = round(value)
    return float(nearest) if math.isclose(value, nearest, rel_tol=1e-9, abs_tol=1e-9) else value


def _ceil_count(value: float) -> float:
    """Round a needed count up to a whole number, ignoring float noise."""
    snapped = _whole(value)
    return snapped if snapped.is_integer() else float(math.ceil(value))


def _apportion(total: float, shares: Mapping[str, float]) -> dict[str, float]:
    """Split a whole ``total`` by shares into whole numbers adding up to it (largest remainder)."""
    raw = {name: _whole(total * share) for name, share in shares.items()}
    out = {name: float(math.floor(value)) for name, value in raw.items()}
    left = round(total - sum(out.values()))
    by_remainder = sorted(raw, key=lambda name: raw[name] - out[name], reverse=True)
    for name in by_remainder[:left]:
        out[name] += 1.0
    return out


def derive_funnel(funnel: Funnel, rates: Mapping[str, float] | None = None) -> FunnelResult:
    """Derive every stage, split and bound key-result target of ``funnel``.

    ``rates`` overrides values by stage name for a what-if: a step's rate, value per unit or cost
    per unit (``{"leads": 0.08}``: a measured 8% conversion needs 2,500 leads), or the start value.
    Raises :class:`FunnelError` for an unknown name or an impossible value, and
    :class:`~okrcore.PlanError` when the funnel itself is broken (a step derived from an unknown
    stage, a split of an unknown stage, a duplicate stage name).
    """
    result, _bindings = _derive(funnel, rates or {}, "")
    return result


def _derive(
    funnel: Funnel, rates: Mapping[str, float], prefix: str
) -> tuple[FunnelResult, list[_Binding]]:
    names = [funnel.start, *(step.name for step in funnel.steps)]
    unknown = sorted(set(rates) - set(names))
    if unknown:
        raise FunnelError(
            f"funnel {funnel.id!r} has no step {unknown[0]!r} to override "
            f"(stages: {', '.join(names)})"
        )
    problems: list[Problem] = []
    try:
        start = float(rates.get(funnel.start, funnel.value))
    except (TypeError, ValueError):
        start = math.nan
    if not math.isfinite(start) or start < 0:
        raise FunnelError(
            f"funnel {funnel.id!r}: what-if {funnel.start} must be a number >= 0, "
            f"got {rates[funnel.start]!r}"
        )
    stages: dict[str, float] = {funnel.start: start}
    units: dict[str, str] = {funnel.start: funnel.unit}
    values: dict[str, float] = {}
    counts: set[str] = set()
    bindings: list[_Binding] = []
    if funnel.key_result:
        bindings.append(_Binding(funnel.key_result, f"{prefix}key_result", start))
    previous = funnel.start
    for j, step in enumerate(funnel.steps):
        at = f"{prefix}steps[{j}]"
        if step.name in stages:
            problems.append(Problem(f"{at}.name", f"duplicate stage name {step.name!r}"))
            continue
        of = step.of or previous
        if of not in stages:
            problems.append(
                Problem(
                    f"{at}.of",
                    f"funnel {funnel.id!r}: step {step.name!r} derives from {of!r}, which is no "
                    f"earlier stage (earlier: {', '.join(stages)})",
                )
            )
            continue
        value = step.value
        if step.name in rates:
            try:
                value = attrs.evolve(step, value=rates[step.name]).value
            except (TypeError, ValueError) as exc:
                raise FunnelError(f"funnel {funnel.id!r}: what-if {exc}") from None
        values[step.name] = value
        earlier = stages[of]
        exact = earlier * value if step.op == "multiply_by" else earlier / value
        if not math.isfinite(exact):
            problems.append(
                Problem(
                    f"{at}.{step.op}",
                    f"funnel {funnel.id!r}: stage {step.name!r} would be {exact:g} "
                    f"({earlier:g} {'x' if step.op == 'multiply_by' else '/'} {value:g})",
                )
            )
            continue
        if step.op == "multiply_by":
            stage = _whole(exact)
        else:  # divide_by and rate both divide: per-unit value, or conversion into `of`
            stage = _ceil_count(exact)
            counts.add(step.name)
        stages[step.name] = stage
        units[step.name] = step.unit
        previous = step.name
        if step.key_result:
            bindings.append(_Binding(step.key_result, f"{at}.key_result", stage))
    splits: dict[str, dict[str, float]] = {}
    for k, split in enumerate(funnel.splits):
        at = f"{prefix}splits[{k}]"
        if split.of not in stages:
            problems.append(
                Problem(
                    f"{at}.of",
                    f"funnel {funnel.id!r}: split of unknown stage {split.of!r} "
                    f"(stages: {', '.join(stages)})",
                )
            )
            continue
        if split.of in splits:
            problems.append(Problem(f"{at}.of", f"stage {split.of!r} is split twice"))
            continue
        total = stages[split.of]
        if split.of in counts:
            channels = _apportion(total, split.shares)
        else:
            channels = {name: _whole(total * share) for name, share in split.shares.items()}
        splits[split.of] = channels
        for channel, kr_id in split.key_results.items():
            if channel not in channels:
                problems.append(
                    Problem(
                        f"{at}.key_results.{channel}",
                        f"funnel {funnel.id!r}: no channel {channel!r} in the split of "
                        f"{split.of!r} (channels: {', '.join(channels)})",
                    )
                )
                continue
            bindings.append(_Binding(kr_id, f"{at}.key_results.{channel}", channels[channel]))
    if problems:
        raise PlanError(problems)
    targets = {b.kr_id: b.value for b in bindings}
    result = FunnelResult(funnel.id, stages, splits, targets, values, units)
    return result, bindings


def apply_funnel(
    plan: Plan,
    funnel_id: str | None = None,
    rates: Mapping[str, float] | None = None,
    *,
    reason: str | None = None,
) -> tuple[Plan, list[TargetChange]]:
    """Set the targets of the key results a funnel binds; return the new plan and the changes.

    ``funnel_id`` picks one funnel; ``None`` applies every funnel of the plan. ``rates`` is a
    what-if as in :func:`derive_funnel` (with every funnel, each takes the names it knows). A
    target already equal to the derived value makes no change. ``reason`` defaults to "derived
    from funnel ID" (with the overridden rates). Keep the returned changes in a store
    (``store.add_target_change``) so reports show the original and the current target.

    Raises :class:`~okrcore.PlanError` naming the funnel's field path when it binds an unknown key
    result, binds one key result to two values, or derives a target the key result cannot take.
    """
    rates = dict(rates or {})
    if funnel_id is None:
        chosen = list(enumerate(plan.funnels))
    else:
        chosen = [(i, f) for i, f in enumerate(plan.funnels) if f.id == funnel_id]
        if not chosen:
            known = ", ".join(f.id for f in plan.funnels) or "none"
            problem = Problem("funnels", f"no funnel {funnel_id!r} (known: {known})")
            raise PlanError([_located(plan, problem)], plan.source_path)
    known_names = [f.start for _, f in chosen] + [s.name for _, f in chosen for s in f.steps]
    unknown = sorted(set(rates) - set(known_names))
    if unknown:
        which = f"funnel {chosen[0][1].id!r} has no" if len(chosen) == 1 else "no funnel has a"
        raise FunnelError(
            f"{which} step {unknown[0]!r} to override (stages: {', '.join(known_names)})"
        )
    problems: list[Problem] = []
    derived: dict[str, tuple[_Binding, Funnel]] = {}
    for i, funnel in chosen:
        own = {name: value for name, value in rates.items() if _has_stage(funnel, name)}
        try:
            _result, bindings = _derive(funnel, own, f"funnels[{i}].")
        except PlanError as exc:
            problems.extend(_located(plan, p) for p in exc.problems)
            continue
        for b in bindings:
            if not plan.has_key_result(b.kr_id):
                problems.append(_located(plan, Problem(b.path, f"unknown key result {b.kr_id!r}")))
                continue
            first = derived.get(b.kr_id)
            if first is not None and not math.isclose(first[0].value, b.value):
                message = (
                    f"key result {b.kr_id!r} is bound twice, to {first[0].value:g} (at "
                    f"{first[0].path}) and to {b.value:g}"
                )
                problems.append(_located(plan, Problem(b.path, message)))
                continue
            derived[b.kr_id] = (b, funnel)
    if problems:
        raise PlanError(problems, plan.source_path)
    changes: list[TargetChange] = []
    for kr_id, (binding, funnel) in derived.items():
        kr = plan.key_result(kr_id)
        if kr.target is not None and math.isclose(kr.target, binding.value, rel_tol=1e-12):
            continue
        try:
            attrs.evolve(kr, target=binding.value)
        except ValueError as exc:
            message = f"funnel {funnel.id!r} derives target {binding.value:g}, but {exc}"
            problems.append(_located(plan, Problem(binding.path, message)))
            continue
        why = reason if reason is not None else _default_reason(funnel, rates)
        changes.append(TargetChange(kr_id, "target", kr.target, binding.value, why))
    if problems:
        raise PlanError(problems, plan.source_path)
    return plan.with_target_changes(changes), changes


def _has_stage(funnel: Funnel, name: str) -> bool:
    return name == funnel.start or any(step.name == name for step in funnel.steps)


def _default_reason(funnel: Funnel, rates: Mapping[str, float]) -> str:
    used = {k: v for k, v in rates.items() if _has_stage(funnel, k)}
    if not used:
        return f"derived from funnel {funnel.id!r}"
    what_if = ", ".join(f"{name}={value:g}" for name, value in used.items())
    return f"derived from funnel {funnel.id!r} with measured {what_if}"


def _located(plan: Plan, problem: Problem) -> Problem:
    position = plan.locate(problem.path)
    if position is None:
        return problem
    return attrs.evolve(problem, line=position[0], column=position[1])


def _actual(
    plan: Plan, kr_id: str, checkins: Iterable[CheckIn], at: dt.date | None
) -> float | None:
    """A key result's actual as scoring computes it: one value a day (a later-recorded check-in
    corrects an earlier one); a gauge's latest day, or a cumulative key result's sum over its
    cycle up to ``at`` and its deadline."""
    kr = plan.key_result(kr_id)
    cycle = plan.cycle_of(kr_id)
    end = plan.deadline_of(kr_id) if at is None else min(at, plan.deadline_of(kr_id))
    daily: dict[dt.date, float] = {}
    for ci in sorted(checkins, key=lambda c: (c.as_of, c.recorded_at)):
        if ci.kr_id == kr_id and ci.as_of <= end:
            daily[ci.as_of] = ci.value
    if kr.measure is Measure.CUMULATIVE:
        inside = [value for day, value in daily.items() if day >= cycle.start]
        return sum(inside) if inside else None
    return daily[max(daily)] if daily else None


def rates_from_actuals(
    plan: Plan,
    funnel_id: str,
    checkins: Sequence[CheckIn],
    *,
    at: dt.date | None = None,
) -> dict[str, float]:
    """The step values the actuals show, for a what-if: ``{step name: measured value}``.

    A step is measured when both its stage and the stage it derives from are bound to key results
    that have actuals (at ``at``, default: every check-in): a ``rate`` as earlier / this stage
    (customers / leads), a ``divide_by`` likewise (ARR / customers), a ``multiply_by`` as this
    stage / earlier (budget spent / leads). Steps without both actuals, and values a step cannot
    take (a rate above 1, a zero), are left out. Pass the result to :func:`derive_funnel` or
    :func:`apply_funnel` as ``rates``.
    """
    at = None if at is None else as_date(at)
    funnel = next((f for f in plan.funnels if f.id == funnel_id), None)
    if funnel is None:
        known = ", ".join(f.id for f in plan.funnels) or "none"
        raise PlanError([Problem("funnels", f"no funnel {funnel_id!r} (known: {known})")])
    history = list(checkins)
    bound: dict[str, str | None] = {funnel.start: funnel.key_result}
    for step in funnel.steps:
        bound[step.name] = step.key_result
    actuals: dict[str, float | None] = {}
    for stage, kr_id in bound.items():
        ok = kr_id is not None and plan.has_key_result(kr_id)
        actuals[stage] = _actual(plan, kr_id, history, at) if ok and kr_id else None
    measured: dict[str, float] = {}
    previous = funnel.start
    for step in funnel.steps:
        of = step.of or previous
        previous = step.name
        mine, earlier = actuals.get(step.name), actuals.get(of)
        if mine is None or earlier is None or mine <= 0 or earlier <= 0:
            continue
        value = mine / earlier if step.op == "multiply_by" else earlier / mine
        if step.op == "rate" and value > 1:
            continue
        measured[step.name] = value
    return measured
