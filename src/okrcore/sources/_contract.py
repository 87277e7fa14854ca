"""What a source is: the classes a source plugin implements and exchanges with the engine.

Import these from :mod:`okrcore.sources` (this module is its part; the names are public there).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs

from okrcore.errors import FailureKind, FetchError, ValidationError
from okrcore.model import Connection, Cycle, KeyResult, Measure

from ._secrets import resolve_secret


@attrs.frozen
class Limits:
    """What a source (per connection) allows the engine to do.

    ``max_batch``: most requests handed to one :meth:`Source.fetch` call. ``concurrency``: most
    ``fetch`` calls in flight at once on one connection. ``rate``: most ``fetch`` calls per second
    on one connection (``None``: no limit).
    """

    max_batch: int = 1
    concurrency: int = 4
    rate: float | None = None

    def __attrs_post_init__(self) -> None:
        if self.max_batch < 1 or self.concurrency < 1:
            raise ValidationError("max_batch and concurrency must be >= 1")
        if self.rate is not None and self.rate <= 0:
            raise ValidationError("rate must be > 0 requests per second")


@attrs.frozen
class FetchRequest:
    """One key result's value to fetch.

    ``start``..``end`` is the date window (both inclusive; ``end`` is normally ``as_of``). With
    ``series`` the source returns one point per day of the window; without, one total (for a
    cumulative measure: the sum over the window; for a gauge: the current level, dated ``end``,
    or, from sources that keep history, the latest reading in the window dated the day it was
    measured, so that an old reading is never stored as a fresh one).
    ``query`` is the key result's ``source`` mapping without ``connection``.
    """

    kr: KeyResult
    query: Mapping[str, Any]
    connection: Connection
    cycle: Cycle
    start: dt.date
    end: dt.date
    as_of: dt.date
    series: bool = False

    @property
    def measure(self) -> Measure:
        """The key result's measure (gauge or cumulative)."""
        return self.kr.measure

    @property
    def key(self) -> tuple[str, dt.date, dt.date, bool]:
        """Identifies the request within a run."""
        return (self.kr.id, self.start, self.end, self.series)


def _points(value: Iterable[tuple[dt.date, float]]) -> tuple[tuple[dt.date, float], ...]:
    return tuple(value)


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class Reading:
    """A successful answer: ``points`` are ``(day, value)`` pairs; a total has one, at ``end``.

    ``warnings`` are shown in the run log and reports (sampled data, thresholding); ``info`` is
    free-form detail for the run log (remaining quota, API usage).
    """

    request: FetchRequest
    points: tuple[tuple[dt.date, float], ...] = attrs.field(converter=_points)
    unit: str | None = None
    warnings: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    info: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def total(cls, request: FetchRequest, value: float, **kw: Any) -> Reading:
        """A single value for the request's window, dated at its end."""
        return cls(request, ((request.end, value),), **kw)


@attrs.frozen
class Failure:
    """A failed request: its kind, a message naming the remote error, and when to retry.

    ``timed_out`` marks a transient failure where the service gave no (complete) answer within
    the timeout: the engine retries those fewer times (``timeout_retries``), since a service that
    hangs once is likely to hang again.
    """

    request: FetchRequest
    kind: FailureKind = attrs.field(converter=FailureKind)
    message: str
    retry_after: float | None = None
    timed_out: bool = attrs.field(default=False, kw_only=True)


@attrs.frozen
class TrackedItem:
    """An item in a work tracker (task, card, page, issue) whose state an initiative follows.

    ``query`` is the initiative's ``tracks`` mapping without ``connection``
    (``{"issue": "MKT-12"}``).
    """

    initiative: str
    query: Mapping[str, Any]


@attrs.frozen
class ItemState:
    """What a tracker says of a :class:`TrackedItem`.

    ``status`` is ``planned``, ``doing``, ``done`` or ``dropped`` (an
    :class:`~okrcore.model.InitiativeStatus` value), or ``"open"`` when the tracker knows only
    that the item is not closed (the initiative then keeps ``planned`` or ``doing``). ``problem``
    says why the state could not be read (then ``status`` is ``None``).
    """

    item: TrackedItem
    status: str | None
    problem: str | None = None


@attrs.frozen
class QueryProblem:
    """A problem with a key result's ``source`` mapping, found by :meth:`Source.validate_query`.

    ``field`` is the key inside the mapping (``"filter"``), or ``""`` for the mapping as a whole.
    """

    field: str
    message: str


class Source:
    """Base class of metric sources. Subclass it, set :attr:`name`, implement :meth:`fetch`.

    Sources are synchronous; the engine runs them in threads within :meth:`limits`.
    """

    name: ClassVar[str] = ""
    """The name plans use in a connection's ``plugin`` key."""

    timeout: float | None = None
    """Seconds one remote call may take. The refresh engine sets it on the instance before the
    first :meth:`fetch` (``refresh(timeout=...)``); ``None`` means the source's own default."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def secret(self, setting: str) -> str | None:
        """The secret a connection setting references, or ``None`` when the setting is absent.

        Reads ``env:NAME`` or ``file:PATH`` (relative to the plan's folder) with
        :func:`resolve_secret`; a :class:`~okrcore.SourceError` names the connection and the
        setting, never the secret.
        """
        base = Path(self.connection.base_dir) if self.connection.base_dir else None
        return resolve_secret(self.connection.settings.get(setting), base=base,
                              what=f"connection {self.connection.name!r} {setting}")

    def limits(self) -> Limits:
        """Limits for this connection; override to read them from settings."""
        return Limits()

    @classmethod
    def validate_connection(cls, connection: Connection) -> list[QueryProblem]:
        """Problems with a connection's settings, found without any I/O. Default: none."""
        return []

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        """Problems with a key result's ``source`` mapping, found without any I/O. Default: none."""
        return []

    def check_online(
        self, queries: Sequence[tuple[KeyResult, Mapping[str, Any]]]
    ) -> list[tuple[str, QueryProblem]]:
        """Check queries against the live service (metric names, custom fields...).

        Used by ``okr lint --online``; returns ``(kr_id, problem)`` pairs. Default: no online check.
        """
        return []

    def batches(self, requests: Sequence[FetchRequest]) -> list[list[FetchRequest]]:
        """Split one connection's requests into batches for :meth:`fetch`.

        The default cuts them in order into chunks of ``limits().max_batch``; override to group
        requests that one remote call can answer together.
        """
        size = self.limits().max_batch
        return [list(requests[i : i + size]) for i in range(0, len(requests), size)]

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterable[Reading | Failure]:
        """Fetch a batch; yield exactly one Reading or Failure per request, in any order.

        Never raise for a remote error: classify it as a :class:`Failure`. An exception that escapes
        is reported as a permanent failure of every request of the batch.

        The default calls :meth:`fetch_one` for each request, turning a :class:`FetchError` into
        that request's failure; override ``fetch`` instead when one remote call answers a batch.
        """
        for request in requests:
            try:
                yield self.fetch_one(request)
            except FetchError as error:
                yield error.failure(request)

    def fetch_one(self, request: FetchRequest) -> Reading:
        """Fetch one request (used by the default :meth:`fetch`); raise :class:`FetchError`."""
        raise NotImplementedError(f"{type(self).__name__} implements neither fetch nor fetch_one")

    def item_states(self, items: Sequence[TrackedItem]) -> list[ItemState]:
        """The state of each tracked item, for initiatives that follow one (``tracks``).

        A work-tracker source overrides it; an unreadable item gets an :class:`ItemState` with
        its ``problem``. Default: every item's problem is that this source follows no items.
        """
        return [ItemState(item, None, f"the {self.name} source cannot follow an item's state")
                for item in items]

    def close(self) -> None:
        """Release sessions and pools. Called once when the refresh is done."""


def unknown_keys(
    mapping: Mapping[str, Any], known: Iterable[str], what: str = "setting"
) -> list[QueryProblem]:
    """A problem for each key of ``mapping`` not in ``known`` (a typo), naming the known ones."""
    allowed = set(known)
    return [
        QueryProblem(key, f"unknown {what} {key!r} (known: {', '.join(sorted(allowed))})")
        for key in mapping
        if key not in allowed
    ]


def positive_number_problems(
    settings: Mapping[str, Any], keys: Iterable[str]
) -> list[QueryProblem]:
    """A problem for each of ``keys`` that is set but is not a positive number (no I/O)."""
    return [
        QueryProblem(key, f"{key} must be a positive number")
        for key in keys
        if (value := settings.get(key)) is not None
        and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0)
    ]
