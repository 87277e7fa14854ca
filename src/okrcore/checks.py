"""Quality checks: SMART and OKR hygiene (design brief §6).

A :class:`Check` is a named rule with a stable code prefix; :func:`check` runs every enabled rule
(built-in and from plugins) over a plan and returns :class:`Finding` objects.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from .model import CheckIn, Plan

if TYPE_CHECKING:
    from .plugins import PluginManager

__all__ = ["Check", "CheckContext", "Finding", "Severity", "check"]


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
    """What a check gets besides the plan: its settings, the check-in history, the date."""

    settings: Mapping[str, Any]
    checkins: Sequence[CheckIn] = ()
    at: dt.date | None = None
    manager: PluginManager | None = None


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
