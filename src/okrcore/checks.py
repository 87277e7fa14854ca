"""Quality checks: SMART and OKR hygiene (docs/checks.md).

A :class:`Check` is a named rule with a stable code prefix; :func:`check` runs every enabled rule
(built-in and from plugins) over a plan and returns :class:`Finding` objects.
"""

from __future__ import annotations

import datetime as dt
import difflib
import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from .model import CheckIn, Plan, StrategyChange, TargetChange, as_date

if TYPE_CHECKING:
    from .plugins import PluginManager

__all__ = [
    "Check",
    "CheckContext",
    "Finding",
    "Severity",
    "check",
    "orphaned_checkins",
    "orphans_message",
    "sort_findings",
]


class Severity(str, enum.Enum):
    """How bad a finding is; ``okr lint`` exits 1 when any finding is an error."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@attrs.frozen
class Finding:
    """One finding: a stable code (``SMART-S001``), severity, message and where it is.

    ``where`` is a field path (``objectives[0].key_results[1]``) or an id; ``line`` and ``column``
    locate it in the plan file when known.
    """

    code: str
    severity: Severity = attrs.field(converter=Severity)
    message: str
    where: str = ""
    line: int | None = None
    column: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "where": self.where,
            "line": self.line,
            "column": self.column,
        }


@attrs.frozen
class CheckContext:
    """What a check gets besides the plan: its settings, the check-in history, the recorded
    strategy and target changes (oldest first), the date."""

    settings: Mapping[str, Any]
    checkins: Sequence[CheckIn] = ()
    at: dt.date | None = None
    manager: PluginManager | None = None
    strategy_changes: Sequence[StrategyChange] = ()
    target_changes: Sequence[TargetChange] = ()


@attrs.frozen
class Check:
    """A quality-check rule.

    ``name`` is the key that switches it off in the plan (``checks: {NAME: false}``) or gives it
    settings (``checks: {NAME: {threshold: 3}}``); ``code`` is the stable prefix of its findings.
    """

    name: str
    code: str
    func: Callable[[Plan, CheckContext], Iterable[Finding]]
    description: str = ""
    enabled_by_default: bool = True


# -- check-ins the plan no longer has a key result for ------------------------------------------


def orphaned_checkins(plan: Plan, checkins: Iterable[CheckIn]) -> dict[str, list[CheckIn]]:
    """Check-ins of key results (or KPIs) the plan does not have (renamed or removed), by id
    in id order, each list by date. No score counts them."""
    orphans: dict[str, list[CheckIn]] = {}
    for ci in checkins:
        if not plan.has_key_result(ci.kr_id) and not plan.has_kpi(ci.kr_id):
            orphans.setdefault(ci.kr_id, []).append(ci)
    return {kr_id: sorted(orphans[kr_id], key=lambda c: c.as_of) for kr_id in sorted(orphans)}


def orphans_message(plan: Plan, kr_id: str, checkins: Sequence[CheckIn]) -> str:
    """What ``okr lint`` and ``okr score`` say about one key result's orphaned check-ins, with
    how to move them (docs/checks.md, ``orphans``)."""
    first, last = checkins[0].as_of, checkins[-1].as_of
    dates = f"on {first}" if first == last else f"from {first} to {last}"
    ids = [kr.id for kr in plan.key_results()]
    close = difflib.get_close_matches(kr_id, ids, n=1, cutoff=0.6) if len(kr_id) < 100 else []
    new_id = close[0] if close else "NEW-ID"
    renamed = f" (renamed to {new_id!r}?)" if close else ""
    return (
        f"{len(checkins)} check-in(s) {dates} belong to key result {kr_id!r}, which the plan "
        f"does not have{renamed}, so no score counts them; give the key result back the id "
        f"{kr_id!r}, or record them under its new id: okr checkin PLAN {new_id} VALUE --at DATE"
    )


# -- running the checks ------------------------------------------------------------------------
_SEVERITY_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}

# Codes of the findings the runner itself produces (the rules' codes are in their modules).
CHECK_FAILED = "OKR-X001"  # a check raised an exception
UNKNOWN_CHECK = "OKR-X002"  # the plan's checks section names a check nobody registered
BAD_SETTING = "OKR-X003"  # a checks entry is neither true, false nor a mapping


def check(
    plan: Plan,
    checkins: Sequence[CheckIn] | None = None,
    *,
    at: dt.date | None = None,
    manager: PluginManager | None = None,
    strategy_changes: Sequence[StrategyChange] = (),
    target_changes: Sequence[TargetChange] = (),
) -> list[Finding]:
    """Run every registered, enabled check over ``plan`` and return the findings.

    ``strategy_changes`` and ``target_changes`` are the changes recorded in a store (the
    ``budget_cuts`` check reads them); changes after ``at`` are left out.

    The checks come from ``manager`` (default: :func:`okrcore.plugins.default_manager`). The plan's
    ``checks`` section switches a check off (``checks: {achievable: false}``) or gives it settings
    (``checks: {counts: {min_objectives: 2}}``, passed as :attr:`CheckContext.settings`). A check
    that raises does not stop the others: its exception becomes an error finding (``OKR-X001``)
    that names it. Findings get the line and column of their field path when the plan came from
    a file, and are sorted errors first, then warnings, then info, then by location.
    """
    at = None if at is None else as_date(at)
    if manager is None:
        from .plugins import default_manager

        manager = default_manager()
    registry = manager.checks
    findings: list[Finding] = []
    known = set(registry)
    for name in sorted(plan.checks):
        if name not in known:
            findings.append(
                Finding(
                    UNKNOWN_CHECK,
                    Severity.WARNING,
                    f"the checks section names an unknown check {name!r} "
                    f"{registry.why_missing(name)}",
                    f"checks.{name}",
                )
            )
    history = tuple(checkins or ())
    strategies = tuple(c for c in strategy_changes if at is None or c.changed_at.date() <= at)
    targets = tuple(c for c in target_changes if at is None or c.changed_at.date() <= at)
    for name in registry:
        rule: Check = registry.get(name)
        settings, problem = _settings_for(rule, plan.checks.get(name))
        if problem is not None:
            findings.append(Finding(BAD_SETTING, Severity.ERROR, problem, f"checks.{name}"))
            continue
        if settings is None:  # switched off
            continue
        context = CheckContext(
            settings=settings,
            checkins=history,
            at=at,
            manager=manager,
            strategy_changes=strategies,
            target_changes=targets,
        )
        try:
            findings.extend(rule.func(plan, context))
        except Exception as exc:  # one broken rule must not hide every other finding
            findings.append(
                Finding(
                    CHECK_FAILED,
                    Severity.ERROR,
                    f"check {rule.name!r} ({rule.code}) failed: {type(exc).__name__}: {exc}",
                    f"checks.{rule.name}",
                )
            )
    return sort_findings(_locate(plan, f) for f in findings)


def _settings_for(rule: Check, value: Any) -> tuple[Mapping[str, Any] | None, str | None]:
    """(settings, None) for an enabled check, (None, None) for a disabled one, or a problem."""
    if value is None:
        return ({} if rule.enabled_by_default else None), None
    if value is True:
        return {}, None
    if value is False:
        return None, None
    if isinstance(value, Mapping):
        enabled = value.get("enabled", True)
        if not isinstance(enabled, bool):
            return None, f"checks.{rule.name}.enabled must be true or false, got {enabled!r}"
        settings = {k: v for k, v in value.items() if k != "enabled"}
        return (settings if enabled else None), None
    return None, (f"checks.{rule.name} must be true, false or a mapping of settings, got {value!r}")


def _locate(plan: Plan, finding: Finding) -> Finding:
    if finding.line is not None or not finding.where:
        return finding
    position = plan.locate(finding.where)
    if position is None:
        return finding
    return attrs.evolve(finding, line=position[0], column=position[1])


def _natural(text: str) -> tuple[Any, ...]:
    """Sort key that orders ``objectives[2]`` before ``objectives[10]``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Errors first, then warnings, then info; within each, by line and column, then field path."""
    big = 1 << 62
    return sorted(
        findings,
        key=lambda f: (
            _SEVERITY_RANK[f.severity],
            f.line if f.line is not None else big,
            f.column if f.column is not None else 0,
            _natural(f.where),
            f.code,
            f.message,
        ),
    )
