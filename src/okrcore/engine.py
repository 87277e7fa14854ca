"""The refresh engine: fetch key-result actuals from live systems and store them as check-ins.

:func:`refresh` turns every key result with a ``source`` binding into a
:class:`~okrcore.sources.FetchRequest`, groups the requests by connection, lets each connection's
:class:`~okrcore.sources.Source` batch them, and runs the connections concurrently, each within its
own :class:`~okrcore.sources.Limits` (concurrent calls, calls per second). Transient failures are
retried with exponential backoff and jitter (a ``retry_after`` from the source is honoured); the
first authentication failure of a connection stops that connection; quota failures are never
retried in the run. Every reading is validated before it is stored; a failure is never written as
a value. Each run is recorded in the store's run log and announced to the
``okrcore_refresh_finished`` hook.

What is fetched (docs/plugins.md, "The refresh engine"):

- a **cumulative** key result gets a daily series from its cycle's start (or the backfill start) to
  ``as_of``: one check-in per day, each the amount of that day;
- a **gauge** gets one total, its level at ``as_of``; when backfilling, a daily series of levels.

A reading equal to the stored one for its ``(kr_id, as_of, source)`` stores nothing, so running the
same refresh again stores nothing new; a different reading (a source restating a day) is stored as
a revision recording the run (docs/stores.md#revisions).

This module is longer than most (about 900 lines) on purpose: it is one concept, a refresh run, in
sections marked ``# --`` (result, planning, running, validation, the public function) that share
the run's private state; the source contract it drives lives in :mod:`okrcore.sources`.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import functools
import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ._log import get_logger
from .errors import OkrError, ValidationError
from .model import (
    CheckIn,
    Connection,
    Cycle,
    KeyResult,
    Measure,
    Plan,
    RunOutcome,
    RunRecord,
    RunStatus,
    as_date,
)
from .sources import (
    Failure,
    FailureKind,
    FetchError,
    FetchRequest,
    Reading,
    Scrubber,
    Source,
    Throttle,
)

if TYPE_CHECKING:
    from .plugins import PluginFailure, PluginManager
    from .store import AddResult, Store

__all__ = ["RefreshOptions", "RefreshResult", "describe_request", "refresh"]

# Attempts at DEBUG, retries at INFO, failures at WARNING; every text scrubbed of secrets first.
_log = get_logger(__name__)

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 4
DEFAULT_TIMEOUT_RETRIES = 1
DEFAULT_BACKOFF = 0.5
MAX_BACKOFF = 60.0

Sleep = Callable[[float], None]
Clock = Callable[[], float]


# -- result ------------------------------------------------------------------------------------
@attrs.frozen
class RefreshResult:
    """What a refresh did: the recorded :class:`~okrcore.model.RunRecord` and, for a dry run,
    the requests it would have sent.

    ``hook_errors`` lists ``okrcore_refresh_finished`` implementations that raised (the refresh
    itself stands). :meth:`to_dict` is the documented JSON summary of ``okr refresh --format json``.
    """

    run: RunRecord
    requests: tuple[FetchRequest, ...] = ()
    dry_run: bool = False
    hook_errors: tuple[PluginFailure, ...] = ()
    _plugins: Mapping[str, str] = attrs.field(factory=dict, repr=False)

    @property
    def outcomes(self) -> tuple[RunOutcome, ...]:
        """Each key result's outcome, in plan order (same as ``run.outcomes``)."""
        return self.run.outcomes

    @property
    def as_of(self) -> dt.date:
        """The date the run refreshed for."""
        return self.run.as_of

    @property
    def ok(self) -> bool:
        """True when no key result failed."""
        return not any(o.status == "failed" for o in self.run.outcomes)

    def by_status(self, *statuses: str) -> list[RunOutcome]:
        """Outcomes with one of the given statuses."""
        return [o for o in self.run.outcomes if o.status in statuses]

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary.

        ``refreshed`` holds every key result fetched successfully (``stored`` counts the new
        check-ins, ``revised`` the readings that replaced a different stored one; both 0 when
        the readings were already stored); ``failed`` each failure with its
        connection, message and kind; ``skipped`` key results not fetched, with the reason
        (``manual``, ``not selected``, ``cycle not started``). A dry run adds ``requests``.
        """
        out: dict[str, Any] = {
            "run": self.run.id,
            "as_of": self.run.as_of.isoformat(),
            "refreshed": [
                {
                    "id": o.kr_id,
                    "value": o.value,
                    "stored": o.stored,
                    "revised": o.revised,
                    "connection": o.connection,
                }
                for o in self.by_status("refreshed", "unchanged")
            ],
            "failed": [
                {"id": o.kr_id, "connection": o.connection, "error": o.error, "kind": o.kind}
                for o in self.by_status("failed")
            ],
            "skipped": [
                {"id": o.kr_id, "reason": o.error or o.status}
                for o in self.by_status("skipped", "manual")
            ],
        }
        if self.dry_run:
            out["dry_run"] = True
            out["requests"] = [
                describe_request(r, self._plugins.get(r.connection.name, r.connection.plugin))
                for r in self.requests
            ]
        if self.hook_errors:
            out["hook_errors"] = [{"plugin": f.name, "error": f.error} for f in self.hook_errors]
        return out


def describe_request(request: FetchRequest, plugin: str | None = None) -> dict[str, Any]:
    """A JSON-ready description of a request (what ``--dry-run`` prints). Holds no secret."""
    return {
        "id": request.kr.id,
        "connection": request.connection.name,
        "plugin": plugin or request.connection.plugin,
        "query": dict(request.query),
        "start": request.start.isoformat(),
        "end": request.end.isoformat(),
        "as_of": request.as_of.isoformat(),
        "series": request.series,
        "measure": request.kr.measure.value,
    }


# -- planning ----------------------------------------------------------------------------------
@attrs.frozen
class _Planned:
    """The plan's key results sorted into requests and outcomes decided without any I/O."""

    requests: list[FetchRequest]
    decided: dict[str, RunOutcome]


def _query_of(source: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in source.items() if k != "connection"}


def _plan_requests(
    plan: Plan,
    as_of: dt.date,
    only: set[str] | None,
    backfill: tuple[dt.date, dt.date] | None,
    manager: PluginManager,
) -> _Planned:
    requests: list[FetchRequest] = []
    decided: dict[str, RunOutcome] = {}
    for kr in plan.measured():  # key results, then KPIs
        if only is not None and kr.id not in only:
            continue  # not selected: the run's outcome is made only if the run needs it
        conn_name = kr.source.get("connection") if kr.source else None
        conn = plan.connections.get(conn_name) if isinstance(conn_name, str) else None
        if kr.source is None or (conn is not None and conn.plugin == "manual"):
            decided[kr.id] = RunOutcome(kr.id, "manual", conn_name, error="manual")
            continue

        def fail(message: str, name: Any = conn_name, kr: KeyResult = kr) -> None:
            connection = name if isinstance(name, str) else None
            decided[kr.id] = RunOutcome(
                kr.id, "failed", connection, error=message, kind=FailureKind.PERMANENT.value
            )

        if conn is None:
            known = ", ".join(sorted(plan.connections)) or "none"
            fail(f"the source names an unknown connection {conn_name!r} (known: {known})")
            continue
        if conn.plugin not in manager.sources:
            fail(
                f"connection {conn.name!r} uses plugin {conn.plugin!r}, which no installed "
                f"plugin provides {manager.sources.why_missing(conn.plugin)}"
            )
            continue
        source_cls: type[Source] = manager.sources.get(conn.plugin)
        query = _query_of(kr.source)
        problems = source_cls.validate_query(query, kr)
        if problems:
            fail("; ".join(f"{p.field or 'source'}: {p.message}" for p in problems))
            continue
        cycle = _cycle_of(plan, kr.id, as_of)
        if backfill is not None:
            start, end, series = backfill[0], backfill[1], True
        else:
            end = min(as_of, cycle.end)
            if end < cycle.start:
                decided[kr.id] = RunOutcome(
                    kr.id, "skipped", conn.name, error=f"cycle starts on {cycle.start}"
                )
                continue
            start, series = cycle.start, kr.measure is Measure.CUMULATIVE
        requests.append(FetchRequest(kr, query, conn, cycle, start, end, end, series))
    return _Planned(requests, decided)


def _cycle_of(plan: Plan, kr_id: str, as_of: dt.date) -> Cycle:
    """A key result's cycle; for a KPI, the period holding ``as_of`` (what it is judged on)."""
    if plan.has_kpi(kr_id):
        key, start, end = plan.kpi(kr_id).period.bounds(as_of)
        return Cycle(key, start, end)
    return plan.cycle_of(kr_id)


# -- running -----------------------------------------------------------------------------------
@attrs.define
class _ConnectionRun:
    """The state of one connection during a run (touched by its worker threads under a lock)."""

    connection: Connection
    source: Source | None
    requests: list[FetchRequest]
    setup_error: str | None = None
    scrub: Scrubber = attrs.field(factory=Scrubber)
    auth_failure: str | None = None
    fetch_calls: int = 0
    retries: int = 0
    info: dict[str, Any] = attrs.field(factory=dict)
    lock: threading.Lock = attrs.field(factory=threading.Lock)


class _Engine:
    """One run's worker machinery; results land in ``self.results`` keyed by request key.

    Workers are daemon threads: a call hung past the deadline must not hold the process open
    (``refresh`` returns at the deadline; the late answer is ignored).
    """

    def __init__(
        self,
        *,
        retries: int,
        timeout_retries: int,
        backoff: float,
        deadline_at: float | None,
        sleep: Sleep,
        clock: Clock,
        jitter: Callable[[], float],
        on_result: Callable[[FetchRequest, Reading | Failure], None] | None,
    ) -> None:
        self.retries, self.timeout_retries, self.backoff = retries, timeout_retries, backoff
        self.deadline_at = deadline_at
        self.sleep, self.clock, self.jitter = sleep, clock, jitter
        self.on_result = on_result
        self.results: dict[tuple[Any, ...], Reading | Failure] = {}
        self.scrubbers: dict[str, Scrubber] = {}
        self.attempts: dict[tuple[Any, ...], int] = {}
        self.bugs: list[BaseException] = []
        self.closed = False
        self.lock = threading.Lock()
        # readings settled and not yet stored, and the connections still running: the caller's
        # thread stores readings while later ones are still on the wire (``_run_all``)
        self.fresh: list[Reading] = []
        self.running = 0
        self.changed = threading.Condition(self.lock)

    def remaining(self) -> float | None:
        return None if self.deadline_at is None else self.deadline_at - self.clock()

    def _settle(self, answer: Reading | Failure, attempts: int) -> None:
        # Every text that leaves a source loses the connection's secrets here: the output, the
        # run log, the store and the reports all take it from the settled answer.
        scrub = self.scrubbers.get(answer.request.connection.name)
        if scrub:
            if isinstance(answer, Failure):
                answer = attrs.evolve(answer, message=scrub(answer.message))
            elif answer.warnings:
                answer = attrs.evolve(answer, warnings=[scrub(w) for w in answer.warnings])
        key = answer.request.key
        with self.lock:
            if self.closed or key in self.results:
                return
            self.results[key] = answer
            self.attempts[key] = attempts
            if isinstance(answer, Reading):
                self.fresh.append(answer)
                if len(self.fresh) == STORE_EARLY:
                    self.changed.notify()
        if isinstance(answer, Failure):
            _log.warning("key result %s [%s] failed (%s) after %d attempt(s): %s",
                         answer.request.kr.id, answer.request.connection.name, answer.kind.value,
                         attempts, answer.message)
        if self.on_result is not None:
            self.on_result(answer.request, answer)

    def guarded(self, func: Callable[..., None], *args: Any) -> None:
        """Run ``func`` in a worker; an exception is an engine bug, raised after the run."""
        try:
            func(*args)
        except Exception as exc:  # handed to the caller's thread
            with self.lock:
                self.bugs.append(exc)

    def run_connection(self, job: _ConnectionRun) -> None:
        source = job.source
        try:
            if source is None:
                for r in job.requests:
                    self._settle(Failure(r, FailureKind.PERMANENT, job.setup_error or "?"), 0)
                return
            try:
                limits = source.limits()
                batches = [list(b) for b in source.batches(job.requests)]
            except Exception as exc:  # a broken plugin fails its own requests only
                message = f"source {source.name!r} cannot plan its calls: {_exc_text(exc)}"
                for r in job.requests:
                    self._settle(Failure(r, FailureKind.PERMANENT, message), 0)
                return
            pacer = Throttle(limits.rate, clock=self.clock, sleep=self.sleep)
            queue = iter(batches)
            queue_lock = threading.Lock()

            def work() -> None:
                while True:
                    with queue_lock:
                        batch = next(queue, None)
                    if batch is None or self.closed:  # closed: the run ended without us
                        return
                    self._run_batch(job, batch, pacer)

            workers = _start(min(limits.concurrency, len(batches)), f"okr-{job.connection.name}",
                             self.guarded, work)
            for worker in workers:
                worker.join()
        finally:
            with self.lock:  # its answers are all in: the caller stores them now
                self.running -= 1
                self.changed.notify()
            if source is not None:
                # closing must not turn a good run into a failed one
                with contextlib.suppress(Exception):
                    source.close()

    def _run_batch(self, job: _ConnectionRun, batch: list[FetchRequest], pacer: Throttle) -> None:
        assert job.source is not None
        pending = batch
        attempt = 0
        timeouts: dict[tuple[Any, ...], int] = {}
        while pending:
            with job.lock:
                auth = job.auth_failure
            if auth is not None:
                for r in pending:
                    message = f"not sent: connection {job.connection.name!r} failed "
                    message += f"authentication earlier in this run ({auth})"
                    self._settle(Failure(r, FailureKind.AUTH, message), attempt)
                return
            left = self.remaining()
            if left is not None and left <= 0:
                for r in pending:
                    self._settle(Failure(r, FailureKind.DEADLINE, _DEADLINE_NOT_SENT), attempt)
                return
            pacer.wait()
            with job.lock:
                job.fetch_calls += 1
            attempt += 1
            _log.debug("connection %s: fetching %s (attempt %d)", job.connection.name,
                       ", ".join(r.kr.id for r in pending), attempt)
            answers = self._fetch(job.source, pending)
            retry: list[FetchRequest] = []
            delay = 0.0
            for request in pending:
                answer = answers.get(request.key)
                if answer is None:
                    answer = Failure(
                        request,
                        FailureKind.PERMANENT,
                        f"source {job.source.name!r} gave no answer for this request",
                    )
                if isinstance(answer, Reading):
                    if answer.info:
                        with job.lock:
                            job.info.update(answer.info)
                    self._settle(answer, attempt)
                    continue
                hung = answer.kind is FailureKind.TRANSIENT and answer.timed_out
                if hung:
                    timeouts[request.key] = timeouts.get(request.key, 0) + 1
                if answer.kind is FailureKind.AUTH:
                    with job.lock:
                        job.auth_failure = job.auth_failure or answer.message
                elif hung and timeouts[request.key] > self.timeout_retries:
                    # A service that hangs twice is in trouble: do not wait on it again.
                    times = _times(timeouts[request.key])
                    if times:
                        answer = attrs.evolve(answer, message=f"{answer.message}, {times}")
                elif answer.kind is FailureKind.TRANSIENT and attempt <= self.retries:
                    wanted = self._backoff(attempt, answer.retry_after)
                    left = self.remaining()
                    if left is None or wanted < left:
                        retry.append(request)
                        delay = max(delay, wanted)
                        _log.info("key result %s [%s]: retry %d in %.2f s after: %s",
                                  request.kr.id, job.connection.name, attempt, wanted,
                                  job.scrub(answer.message))
                        continue
                    answer = attrs.evolve(
                        answer,
                        message=f"{answer.message} (a retry in {wanted:.3g} s would pass the "
                        "deadline)",
                    )
                elif answer.kind is FailureKind.TRANSIENT:
                    answer = attrs.evolve(
                        answer, message=f"{answer.message} (gave up after {attempt} attempts)"
                    )
                self._settle(answer, attempt)
            if retry:
                with job.lock:
                    job.retries += len(retry)
                self.sleep(delay)
            pending = retry

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        # Exponential backoff with full jitter on its upper half; Retry-After is a floor.
        base = min(MAX_BACKOFF, self.backoff * 2.0 ** (attempt - 1))
        wanted = base * (0.5 + 0.5 * self.jitter())
        if retry_after is not None and retry_after > wanted:
            wanted = retry_after
        return wanted

    def _fetch(
        self, source: Source, batch: list[FetchRequest]
    ) -> dict[tuple[Any, ...], Reading | Failure]:
        keys = {r.key for r in batch}
        answers: dict[tuple[Any, ...], Reading | Failure] = {}
        try:
            for answer in source.fetch(batch):
                key = answer.request.key
                if key in keys and key not in answers:
                    answers[key] = answer
        except FetchError as exc:  # classified, but raised out of fetch: the batch fails alike
            for r in batch:
                answers.setdefault(r.key, exc.failure(r))
        except Exception as exc:  # the contract says never raise; contain a plugin that does
            message = f"source {source.name!r} raised {_exc_text(exc)}"
            for r in batch:
                answers.setdefault(r.key, Failure(r, FailureKind.PERMANENT, message))
        return answers


def _start(
    count: int, name: str, guarded: Callable[..., None], func: Callable[[], None]
) -> list[threading.Thread]:
    """Start ``count`` daemon threads running ``func`` (exceptions go to ``guarded``)."""
    threads = [
        threading.Thread(target=guarded, args=(func,), name=f"{name}-{i}", daemon=True)
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    return threads


def _times(n: int) -> str:
    return {1: "", 2: "twice"}.get(n, f"{n} times")


_DEADLINE_NOT_SENT = "not sent: the refresh deadline passed"
_DEADLINE_IN_FLIGHT = "no answer before the refresh deadline"


def _exc_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# -- validation ----------------------------------------------------------------------------------
def _check_reading(reading: Reading, kr: KeyResult) -> str | None:
    """Why a reading cannot be stored, or ``None`` when it is healthy."""
    request = reading.request
    if reading.unit is not None and kr.unit and _unit(reading.unit) != _unit(kr.unit):
        return f"the source reports unit {reading.unit!r}, the key result expects {kr.unit!r}"
    if not request.series and not reading.points:
        return "the source returned no value"
    days: set[dt.date] = set()
    for day, value in reading.points:
        if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
            return f"a point is dated {day!r}, not a date"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"the value for {day} is {value!r}, not a number"
        if not math.isfinite(value):
            return f"the value for {day} is {value!r}, not a finite number"
        problem = kr.value_problem(value)
        if problem is not None:
            return f"the value for {day} is {value:g}: {problem}"
        if not request.start <= day <= request.end:
            return f"a point is dated {day}, outside the requested {request.start}..{request.end}"
        if day in days:
            return f"two values for {day}"
        days.add(day)
    return None


def _unit(unit: str) -> str:
    return unit.strip().lower()


# -- the public function ---------------------------------------------------------------------
def _positive_or_none(_instance: Any, attribute: Any, value: float | None) -> None:
    if value is not None and not value > 0:
        raise ValidationError(f"RefreshOptions.{attribute.name} must be > 0 seconds or None")


def _not_negative(_instance: Any, attribute: Any, value: float) -> None:
    if not value >= 0:
        raise ValidationError(f"RefreshOptions.{attribute.name} must be >= 0")


@attrs.frozen(kw_only=True)
class RefreshOptions:
    """How patient a refresh is (docs/plugins.md, "The refresh engine").

    ``timeout`` is set on each source as :attr:`~okrcore.sources.Source.timeout` (seconds one
    remote call may take, connecting and reading the whole answer; ``None``: the source's own
    default). ``deadline`` bounds the whole run (seconds): :func:`refresh` returns by then and what
    has no answer fails with kind ``deadline``. A transient failure is retried up to ``retries``
    times after ``backoff * 2**(attempt-1)`` seconds (with jitter; at least the source's
    ``retry_after``); one that timed out only ``timeout_retries`` times, so a hung service costs
    about ``(1 + timeout_retries) * timeout``.
    """

    deadline: float | None = attrs.field(default=None, validator=_positive_or_none)
    timeout: float | None = attrs.field(default=DEFAULT_TIMEOUT, validator=_positive_or_none)
    retries: int = attrs.field(default=DEFAULT_RETRIES, validator=_not_negative)
    timeout_retries: int = attrs.field(default=DEFAULT_TIMEOUT_RETRIES, validator=_not_negative)
    backoff: float = attrs.field(default=DEFAULT_BACKOFF, validator=_not_negative)


def refresh(
    plan: Plan,
    store: Store,
    *,
    at: dt.date | None = None,
    only: Iterable[str] | None = None,
    backfill: tuple[dt.date, dt.date] | None = None,
    dry_run: bool = False,
    manager: PluginManager | None = None,
    options: RefreshOptions | None = None,
    on_result: Callable[[FetchRequest, Reading | Failure], None] | None = None,
    record: bool = True,
) -> RefreshResult:
    """Fetch the actual values of the plan's key results and store them as check-ins.

    ``at`` is the as_of date (default: today). ``only`` limits the run to these key-result ids
    (an unknown id raises :class:`~okrcore.OkrError`). ``backfill=(start, end)`` fetches a daily
    series over that range for every selected key result and stores each day (as_of = ``end``).
    ``dry_run`` plans the requests and returns them (``result.requests``) without sending or
    storing anything. ``manager`` supplies the sources (default: the process-wide one); the plan's
    ``plugins`` modules are loaded into it. ``options`` (:class:`RefreshOptions`) sets timeouts,
    the deadline and retries. ``on_result`` is called (from worker threads) as each request
    settles, e.g. to drive a progress bar.

    Returns a :class:`RefreshResult`; the run is recorded with ``store.record_run`` (except for a
    dry run) and then the ``okrcore_refresh_finished`` hook is called; a hook that raises is
    reported in ``result.hook_errors``, never raised. With ``record=False`` the check-ins are
    stored but the run is neither recorded nor announced: the caller records it (the distributed
    refresh of :mod:`okrcore.workers` merges each job's outcomes into one shared run); its
    outcomes then leave out the key results ``only`` did not select.
    """
    return _refresh(plan, store, at=at, only=only, backfill=backfill, dry_run=dry_run,
                    manager=manager, options=options or RefreshOptions(), on_result=on_result,
                    record=record)


def _refresh(
    plan: Plan,
    store: Store,
    *,
    at: dt.date | None = None,
    only: Iterable[str] | None = None,
    backfill: tuple[dt.date, dt.date] | None = None,
    dry_run: bool = False,
    manager: PluginManager | None = None,
    options: RefreshOptions,
    on_result: Callable[[FetchRequest, Reading | Failure], None] | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
    jitter: Callable[[], float] = random.random,
    record: bool = True,
) -> RefreshResult:
    """:func:`refresh` with its clock, sleep and jitter replaceable (``okrcore.testing``)."""
    deadline, timeout = options.deadline, options.timeout
    from .plugins import default_manager, load_plugin_modules

    manager = manager or default_manager()
    load_plugin_modules(manager, plan.plugins)
    started_at = dt.datetime.now(dt.timezone.utc)
    started = clock()
    if backfill is not None:
        b_start, b_end = backfill
        if b_end < b_start:
            raise OkrError(f"backfill range ends ({b_end}) before it starts ({b_start})")
        as_of = b_end
    else:
        as_of = dt.date.today() if at is None else as_date(at)
    selected: set[str] | None = None
    if only is not None:
        selected = set(only)
        unknown = sorted(k for k in selected if not plan.has_key_result(k) and not plan.has_kpi(k))
        if unknown:
            known = ", ".join(kr.id for kr in plan.measured())
            raise OkrError(f"unknown key result(s) {', '.join(unknown)} (known: {known})")

    planned = _plan_requests(plan, as_of, selected, backfill, manager)
    run_id = f"{started_at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    plugins = {name: conn.plugin for name, conn in plan.connections.items()}
    if dry_run:
        outcomes = [
            planned.decided.get(kr.id) or (
                _not_selected(kr.id) if selected is not None and kr.id not in selected
                else RunOutcome(kr.id, "planned", _conn_of(kr)))
            for kr in plan.measured()
        ]
        run = RunRecord(run_id, started_at, dt.datetime.now(dt.timezone.utc), as_of, outcomes)
        return RefreshResult(run, tuple(planned.requests), True, (), plugins)

    jobs = _connection_jobs(planned.requests, manager, timeout)
    engine = _Engine(
        retries=options.retries,
        timeout_retries=min(options.timeout_retries, options.retries),
        backoff=options.backoff,
        deadline_at=None if deadline is None else started + deadline,
        sleep=sleep,
        clock=clock,
        jitter=jitter,
        on_result=on_result,
    )
    engine.scrubbers = {job.connection.name: job.scrub for job in jobs}
    _log.info("refresh %s for %s: %d request(s) on %d connection(s)", run_id, as_of,
              len(planned.requests), len(jobs))
    added: dict[str, AddResult] = {}
    order = {r.key: i for i, r in enumerate(planned.requests)}

    def store_some(readings: list[Reading]) -> None:  # in plan order within what came in
        readings.sort(key=lambda r: order[r.request.key])
        added.update(_store_readings(store, readings, run_id))

    deadline_hit = _run_all(engine, jobs, store_some)
    if deadline_hit:
        _log.warning("refresh %s: the deadline of %g s passed with %d request(s) unanswered",
                     run_id, deadline, len(planned.requests) - len(engine.results))
    results = dict(engine.results)
    for r in planned.requests:  # whatever is still open when the deadline passed
        results.setdefault(r.key, Failure(r, FailureKind.DEADLINE, _DEADLINE_IN_FLIGHT))

    by_kr = {r.kr.id: r for r in planned.requests}
    outcomes = []
    for kr in plan.measured():
        if kr.id in planned.decided:
            outcomes.append(planned.decided[kr.id])
        elif kr.id in by_kr:
            outcomes.append(_outcome(results[by_kr[kr.id].key], added, engine.attempts))
        elif record:
            # not selected; a job of a distributed run (record=False) of 100 key results out
            # of thousands reports its own only, without making thousands of outcomes per job
            outcomes.append(_not_selected(kr.id))
    finished_at = dt.datetime.now(dt.timezone.utc)
    info: dict[str, Any] = {
        "connections": {
            job.connection.name: {
                "plugin": job.connection.plugin,
                "requests": len(job.requests),
                "fetch_calls": job.fetch_calls,
                "retries": job.retries,
                "failed": sum(
                    1 for r in job.requests if isinstance(results[r.key], Failure)
                ),
                **({"info": dict(job.info)} if job.info else {}),
                **({"auth_failure": job.scrub(job.auth_failure)} if job.auth_failure else {}),
            }
            for job in jobs
        },
        "seconds": round(clock() - started, 3),
    }
    if backfill is not None:
        info["backfill"] = [backfill[0].isoformat(), backfill[1].isoformat()]
    if selected is not None:
        info["only"] = sorted(selected)
    if deadline_hit:
        info["deadline"] = deadline
    run = RunRecord(run_id, started_at, finished_at, as_of, outcomes, info)
    if not record:
        return RefreshResult(run, (), False, (), plugins)
    store.record_run(run)
    _log.info("refresh %s done in %.1f s: %s", run_id, info["seconds"], ", ".join(
        f"{n} {status}" for status, n in sorted(collections.Counter(
            o.status for o in outcomes).items())) or "nothing to do")
    hook_errors = tuple(
        manager.call_event(
            "okrcore_refresh_finished", run=run, plan=plan, store=store, manager=manager
        )
    )
    if hook_errors:
        info["hook_errors"] = [{"plugin": f.name, "error": f.error} for f in hook_errors]
        run = attrs.evolve(run, info=info)
        store.record_run(run)
    return RefreshResult(run, (), False, hook_errors, plugins)


def _not_selected(kr_id: str) -> RunOutcome:
    return RunOutcome(kr_id, "skipped", error="not selected")


def _conn_of(kr: KeyResult) -> str | None:
    name = kr.source.get("connection") if kr.source else None
    return name if isinstance(name, str) else None


def _connection_jobs(
    requests: Sequence[FetchRequest], manager: PluginManager, timeout: float | None
) -> list[_ConnectionRun]:
    grouped: dict[str, list[FetchRequest]] = {}
    for r in requests:
        grouped.setdefault(r.connection.name, []).append(r)
    jobs = []
    for reqs in grouped.values():
        conn = reqs[0].connection
        source: Source | None = None
        error = None
        try:
            source = manager.sources.get(conn.plugin)(conn)
            if timeout is not None:
                source.timeout = timeout
            for problem in type(source).validate_connection(conn):
                field = problem.field or "settings"
                error = f"connection {conn.name!r}: {field}: {problem.message}"
                source = None
                break
        except Exception as exc:  # bad settings, a missing secret: fail this connection only
            error = f"connection {conn.name!r}: {exc}" if isinstance(exc, OkrError) else (
                f"connection {conn.name!r}: cannot set up plugin {conn.plugin!r}: {_exc_text(exc)}"
            )
        scrub = Scrubber.for_connection(conn)
        jobs.append(_ConnectionRun(conn, source, reqs, setup_error=error and scrub(error),
                                   scrub=scrub))
    return jobs


def _run_all(
    engine: _Engine, jobs: list[_ConnectionRun], store: Callable[[list[Reading]], None]
) -> bool:
    """Run every connection concurrently, handing readings to ``store`` (in this thread) as
    they come in; True when the deadline cut the run short.

    Storing while later answers are still on the wire keeps it off the run's time: only the
    readings of the last moments are stored after the last answer. Returns at the deadline even
    when calls still hang: the daemon workers are abandoned (their late answers are ignored) and
    cannot hold the process open.
    """
    with engine.lock:
        engine.running = len(jobs)
    threads: list[threading.Thread] = []
    try:
        for job in jobs:
            threads += _start(1, f"okr-refresh-{job.connection.name}", engine.guarded,
                              functools.partial(engine.run_connection, job))
        while True:
            left = engine.remaining()
            with engine.lock:
                if engine.running and not len(engine.fresh) >= STORE_EARLY:
                    engine.changed.wait(None if left is None else max(0.0, left))
                readings, engine.fresh = engine.fresh, []
                running = engine.running
            if readings:
                store(readings)
            left = engine.remaining()
            if not running or (left is not None and left <= 0):
                break
    finally:
        with engine.lock:
            engine.closed = True  # late answers (after the deadline) are ignored
            readings, engine.fresh = engine.fresh, []
    if readings:
        store(readings)
    if not running:
        for thread in threads:  # closing their sources
            left = engine.remaining()
            thread.join(None if left is None else max(0.0, left))
    with engine.lock:
        bugs = list(engine.bugs)
    if bugs:  # an engine bug: surface it
        raise bugs[0]
    return bool(running)


# key results whose readings one transaction stores: a commit per key result made storing a
# large refresh slow (PostgreSQL most), one commit for all of them risks a long transaction
STORE_CHUNK = 500
# readings stored as soon as that many are in, while the run goes on (fewer: at its end)
STORE_EARLY = 64


def _checkins(answer: Reading) -> list[CheckIn]:
    conn = answer.request.connection
    source = f"{conn.plugin}:{conn.name}"
    kr_id = answer.request.kr.id
    return [CheckIn(kr_id, float(v), day, source=source) for day, v in answer.points]


def _store_readings(
    store: Store, readings: Sequence[Reading], run_id: str
) -> dict[str, AddResult]:
    """Store the readings that pass their key result's checks, STORE_CHUNK key results per
    transaction when the store counts per key result (``add_checkins_by_kr``, as the built-in
    stores do), else one ``add_checkins`` per key result. Returns the counts by key result."""
    from .store import AddResult

    good = [r for r in readings if _check_reading(r, r.request.kr) is None]
    by_kr = getattr(store, "add_checkins_by_kr", None)
    added: dict[str, AddResult] = {}
    if by_kr is None:
        for r in good:
            added[r.request.kr.id] = store.add_checkins(_checkins(r), run_id=run_id)
        return added
    for start in range(0, len(good), STORE_CHUNK):
        chunk = good[start:start + STORE_CHUNK]
        counts = by_kr([c for r in chunk for c in _checkins(r)], run_id=run_id)
        for r in chunk:
            added[r.request.kr.id] = counts.get(r.request.kr.id, AddResult())
    return added


def _outcome(
    answer: Reading | Failure,
    added: Mapping[str, AddResult],
    attempts: Mapping[tuple[Any, ...], int],
) -> RunOutcome:
    """The run log's line for one key result, once its readings are stored."""
    request = answer.request
    kr, conn = request.kr, request.connection
    if isinstance(answer, Failure):
        return RunOutcome(kr.id, "failed", conn.name, error=answer.message, kind=answer.kind.value)
    problem = _check_reading(answer, kr)
    if problem is not None:
        return RunOutcome(
            kr.id, "failed", conn.name, error=problem, kind=FailureKind.PERMANENT.value,
            warnings=answer.warnings,
        )
    stored = added[kr.id]
    points = sorted(answer.points)
    if not points:
        value = None
    elif kr.measure is Measure.CUMULATIVE:
        value = float(sum(v for _, v in points))
    else:
        value = float(points[-1][1])
    warnings = list(answer.warnings)
    if request.series and not points:
        warnings.append(f"no data between {request.start} and {request.end}")
    n = attempts.get(request.key, 1)
    if n > 1:
        warnings.append(f"answered after {n} attempts")
    status: RunStatus = "refreshed" if stored.stored else "unchanged"
    return RunOutcome(
        kr.id, status, conn.name, value=value, stored=stored.new, revised=stored.revised,
        warnings=warnings,
    )
