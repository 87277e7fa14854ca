"""What every store backend provides, and the helpers the backends share.

The rules a backend follows are in docs/stores.md; :mod:`okrcore.testing`'s store contract suite
checks them against any backend.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

import attrs

from okrcore.errors import StoreError
from okrcore.model import (
    CheckIn,
    InitiativeChange,
    RunOutcome,
    RunRecord,
    StrategyChange,
    TargetChange,
)

__all__ = [
    "OUTCOME_COLUMNS",
    "AddResult",
    "CheckInRecord",
    "EventDelivery",
    "Store",
    "StoreBase",
    "check_run",
    "check_target_change",
    "checkin_key",
    "differs",
    "encode_json",
    "latest_per_key",
    "outcome_from_row",
    "outcome_row",
    "require_finite",
]


@attrs.frozen
class AddResult:
    """What :meth:`Store.add_checkins` did: ``new`` readings stored for a (key result, day,
    source) not seen before, and ``revised`` readings that replaced a different stored one."""

    new: int = 0
    revised: int = 0

    @property
    def stored(self) -> int:
        """Readings written, new or revised (0: everything was already stored)."""
        return self.new + self.revised

    def __add__(self, other: AddResult) -> AddResult:
        return AddResult(self.new + other.new, self.revised + other.revised)


@attrs.frozen
class CheckInRecord:
    """One reading in a key result's full history (:meth:`Store.checkin_history`).

    ``checkin`` is the reading as it was stored, ``run_id`` the refresh run that stored it and
    ``reason`` the reason given for a manual replacement. ``replaced_at`` is when a later reading
    replaced it (``None``: the reading is in force).
    """

    checkin: CheckIn
    run_id: str | None = None
    reason: str | None = None
    replaced_at: dt.datetime | None = None

    @property
    def in_force(self) -> bool:
        """True for the reading :meth:`Store.checkins` returns."""
        return self.replaced_at is None


@attrs.frozen
class EventDelivery:
    """One event's delivery to one destination, as the store records it (docs/stores.md#events).

    ``key`` identifies the event (:attr:`okrcore.events.Event.key`), ``destination`` where it goes
    (a notify channel's name, or ``plugin:NAME`` for an ``okrcore_event`` implementation);
    ``kind``, ``subject`` (the key result or initiative) and ``at`` (the date the change shows)
    describe it and ``event`` is its JSON form. ``token`` names the sender that claimed it at
    ``claimed_at``; ``sent_at`` is set once it was delivered (``None``: claimed, being sent).
    """

    key: str
    destination: str
    kind: str
    subject: str
    at: dt.date
    token: str
    claimed_at: dt.datetime
    sent_at: dt.datetime | None = None
    run_id: str | None = None
    event: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def sent(self) -> bool:
        """True once the destination took the event."""
        return self.sent_at is not None


@runtime_checkable
class Store(Protocol):
    """What every check-in store backend provides.

    A check-in is identified by ``(kr_id, as_of, source)``. Writing a reading for a known key
    with the same content (value, author, note, confidence) stores nothing; a different reading
    replaces it as a revision: :meth:`checkins` returns the reading in force, and
    :meth:`checkin_history` keeps the replaced one too (see docs/stores.md). Lists come back in
    ``as_of`` (or time) order, oldest first. Non-finite numbers are refused with
    :class:`~okrcore.StoreError`.
    """

    def add_checkins(
        self,
        checkins: Iterable[CheckIn],
        *,
        run_id: str | None = None,
        reason: str | None = None,
    ) -> AddResult:
        """Store readings (``run_id``: the refresh run writing them; ``reason``: why a manual
        reading replaces another); within one call the last reading of a key counts."""
        ...

    def add_checkins_by_kr(
        self,
        checkins: Iterable[CheckIn],
        *,
        run_id: str | None = None,
        reason: str | None = None,
    ) -> dict[str, AddResult]:
        """:meth:`add_checkins`, counted per key result: ``{kr_id: AddResult}`` with every key
        result of ``checkins`` (its readings all stored already: ``AddResult()``). A refresh
        stores many key results' readings so; the built-in stores write them in one
        transaction. :class:`StoreBase` has a default that calls :meth:`add_checkins` once per
        key result."""
        ...

    def checkins(
        self,
        kr_ids: Sequence[str] | None = None,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> list[CheckIn]:
        """Readings in force of the given key results (all when ``None``) with
        since <= as_of <= until, ordered by ``as_of``, ``recorded_at``, ``kr_id``, ``source``."""
        ...

    def checkin_history(
        self,
        kr_ids: Sequence[str] | None = None,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> list[CheckInRecord]:
        """Every reading, replaced ones included, ordered by ``as_of``, ``kr_id``, ``source`` and,
        for one key, oldest reading first (the one in force last)."""
        ...

    def add_target_change(self, change: TargetChange) -> None:
        """Record a target change."""
        ...

    def add_target_changes(self, changes: Sequence[TargetChange]) -> None:
        """Record several target changes (a move's linked pair) at once: all of them or, when
        one cannot be stored, none."""
        ...

    def target_changes(self, kr_id: str | None = None) -> list[TargetChange]:
        """Target changes of one key result (all when ``None``), oldest first."""
        ...

    def add_strategy_change(self, change: StrategyChange) -> None:
        """Record a strategy change."""
        ...

    def strategy_changes(self, strategy_id: str | None = None) -> list[StrategyChange]:
        """Strategy changes of one strategy (all when ``None``), oldest first."""
        ...

    def add_initiative_changes(self, changes: Sequence[InitiativeChange]) -> None:
        """Record initiatives' statuses as first seen or changed: all of them or, when one
        cannot be stored, none."""
        ...

    def initiative_changes(self, initiative_id: str | None = None) -> list[InitiativeChange]:
        """Status records of one initiative (all when ``None``), ordered by ``at``, then in the
        order they were added."""
        ...

    def record_run(self, run: RunRecord) -> None:
        """Record (or update, by ``run.id``) a refresh run."""
        ...

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The most recent refresh runs, newest first."""
        ...

    def claim_event(self, delivery: EventDelivery, *, stale_before: dt.datetime) -> bool:
        """Claim ``(delivery.key, delivery.destination)`` for sending, atomically across
        processes: True when the caller may send it (nothing recorded yet, or an unsent claim
        made before ``stale_before``, whose sender died); False when it was sent or another
        sender holds a fresher claim."""
        ...

    def finish_event(
        self, key: str, destination: str, token: str, *, sent_at: dt.datetime | None
    ) -> None:
        """End the claim ``token`` holds: record the delivery as sent at ``sent_at``, or, with
        ``None`` (delivery failed), drop the claim so that a later run sends it again."""
        ...

    def event_deliveries(
        self, *, since: dt.date | None = None, sent: bool | None = True
    ) -> list[EventDelivery]:
        """Recorded deliveries with ``at >= since``, ordered by ``at``, ``key``, ``destination``;
        ``sent=True`` only the sent ones, ``False`` only pending claims, ``None`` both."""
        ...

    def close(self) -> None:
        """Release the connection; further use raises :class:`~okrcore.StoreError`."""
        ...

    def __enter__(self) -> Store:
        """A store is a context manager that closes it."""
        ...

    def __exit__(self, *exc: object) -> None: ...


_S = TypeVar("_S", bound="StoreBase")


class StoreBase:
    """Defaults for a backend's optional methods; a backend may subclass it (docs/stores.md).

    It implements :meth:`add_checkins_by_kr` with the backend's own ``add_checkins`` (one call,
    so one transaction, per key result; a backend that can write them all in one transaction
    overrides it), and the context manager with ``close``.
    """

    def add_checkins(
        self,
        checkins: Iterable[CheckIn],
        *,
        run_id: str | None = None,
        reason: str | None = None,
    ) -> AddResult:
        """Implemented by the backend."""
        raise NotImplementedError

    def add_checkins_by_kr(
        self,
        checkins: Iterable[CheckIn],
        *,
        run_id: str | None = None,
        reason: str | None = None,
    ) -> dict[str, AddResult]:
        """:meth:`Store.add_checkins_by_kr` as one :meth:`add_checkins` per key result, in the
        order the key results first come."""
        by_kr: dict[str, list[CheckIn]] = {}
        for c in checkins:
            by_kr.setdefault(c.kr_id, []).append(c)
        return {kr_id: self.add_checkins(readings, run_id=run_id, reason=reason)
                for kr_id, readings in by_kr.items()}

    def close(self) -> None:
        """Implemented by the backend."""
        raise NotImplementedError

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- helpers for backends ---------------------------------------------------------------------
def require_finite(value: float | None, what: str) -> float | None:
    """``value`` as a float, or ``None``; a NaN or infinity raises :class:`~okrcore.StoreError`
    naming ``what`` (a backend might keep it, SQLite would turn NaN into NULL)."""
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        raise StoreError(f"{what} must be a finite number, got {number!r}; nothing was stored")
    return number


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"cannot store a {type(value).__name__} as JSON")


def encode_json(value: Any, what: str) -> str:
    """Stable JSON text for a stored value (dates as ISO text); a value JSON cannot hold, or a
    non-finite number, raises :class:`~okrcore.StoreError` naming ``what``."""
    try:
        return json.dumps(
            value, default=_json_default, sort_keys=True, ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what}: {exc}; nothing was stored") from None


def checkin_key(c: CheckIn) -> tuple[str, dt.date, str]:
    """The identity of a reading: ``(kr_id, as_of, source)``."""
    return (c.kr_id, c.as_of, c.source)


def differs(a: CheckIn, b: CheckIn) -> bool:
    """True when ``b`` would replace ``a`` as a revision (``recorded_at`` does not count)."""
    return (a.value, a.author, a.note, a.confidence) != (b.value, b.author, b.note, b.confidence)


def latest_per_key(checkins: Iterable[CheckIn], *, by_key: bool = True) -> list[CheckIn]:
    """The readings to write, checked: the last one of each key, sorted by key (so that
    concurrent writers lock rows in one order) or, with ``by_key=False``, in the order the keys
    first came. A non-finite value raises StoreError."""
    latest: dict[tuple[str, dt.date, str], CheckIn] = {}
    isfinite = math.isfinite
    for c in checkins:
        # inline fast test; require_finite raises with the message (a store may hold millions)
        if not isfinite(c.value) or not (c.confidence is None or isfinite(c.confidence)):
            require_finite(c.value, f"check-in of {c.kr_id!r} as of {c.as_of}: value")
            require_finite(c.confidence, f"check-in of {c.kr_id!r} as of {c.as_of}: confidence")
        latest[(c.kr_id, c.as_of, c.source)] = c
    return [latest[k] for k in sorted(latest)] if by_key else list(latest.values())


def check_target_change(change: TargetChange) -> None:
    """Refuse a target change with a non-finite old or new value."""
    require_finite(change.old, f"target change of {change.kr_id!r}: old {change.field}")
    require_finite(change.new, f"target change of {change.kr_id!r}: new {change.field}")


def check_run(run: RunRecord) -> None:
    """Refuse a run whose outcomes carry a non-finite value."""
    for position, o in enumerate(run.outcomes):
        outcome_row(run.id, position, o)


# Columns of a stored run outcome, in the order of outcome_row / outcome_from_row.
OUTCOME_COLUMNS = (
    "kr_id, status, connection, value, stored, revised, error, kind, warnings_json"
)


def outcome_row(run_id: str, position: int, o: RunOutcome) -> tuple[Any, ...]:
    """A run outcome as stored: ``run_id, position`` and :data:`OUTCOME_COLUMNS` (warnings as
    JSON); a non-finite value raises :class:`~okrcore.StoreError`."""
    value = require_finite(o.value, f"run {run_id!r}: value of {o.kr_id!r}")
    return (run_id, position, o.kr_id, o.status, o.connection, value, o.stored, o.revised,
            o.error, o.kind, encode_json(list(o.warnings), f"run {run_id!r}"))


def outcome_from_row(row: Sequence[Any]) -> RunOutcome:
    """The run outcome of a row of :data:`OUTCOME_COLUMNS`."""
    return RunOutcome(kr_id=row[0], status=row[1], connection=row[2], value=row[3],
                      stored=row[4], revised=row[5], error=row[6], kind=row[7],
                      warnings=json.loads(row[8]))
