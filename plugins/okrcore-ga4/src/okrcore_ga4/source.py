"""The ``ga4`` metric source: key-result actuals from the Google Analytics 4 Data API.

One :class:`GA4Source` serves one connection (one GA4 property). Key results that share a date
window and a filter become one report with up to 10 metrics; reports go out up to 5 per
``batchRunReports`` call. Each response's property quota is recorded on the readings; when the
remaining hourly or daily tokens fall below the connection's reserve the source stops sending and
fails the rest with a ``quota`` failure.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import math
import re
import threading
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import attrs
from google.analytics.data_v1beta import BetaAnalyticsDataClient
from google.analytics.data_v1beta.types import (
    BatchRunReportsRequest,
    DateRange,
    Dimension,
    GetMetadataRequest,
    Metric,
    OrderBy,
    RunReportRequest,
    RunReportResponse,
)
from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc

from okrcore.errors import SourceError
from okrcore.model import KeyResult, Measure
from okrcore.sources import (
    Failure,
    FailureKind,
    FetchRequest,
    Limits,
    QueryProblem,
    Reading,
    Source,
)

from .filters import Node, filter_fields, to_expression
from .query import Cell, GA4Query, cells_for, describe_window, parse_query
from .settings import make_client, parse_settings

__all__ = ["GA4Source"]

MAX_METRICS_PER_REPORT = 10
MAX_REPORTS_PER_BATCH = 5
MAX_BATCH_REQUESTS = 1000
PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")
QUOTA_BUCKETS = (
    "tokens_per_day",
    "tokens_per_hour",
    "tokens_per_project_per_hour",
    "concurrent_requests",
    "server_errors_per_project_per_hour",
    "potentially_thresholded_requests_per_hour",
)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# -- planning ----------------------------------------------------------------------------------


@attrs.frozen
class ReportKey:
    """What key results must share to be answered by one report."""

    start: dt.date
    end: dt.date
    by_date: bool
    filter_key: str


@attrs.frozen
class Need:
    """One request, parsed: its query, the report cells it needs and the reports they come from.

    Build it with :meth:`of`. A series of single days (``by_date``) comes from one report with
    the ``date`` dimension; other cells each need the report of their own window.
    """

    request: FetchRequest
    query: GA4Query
    cells: tuple[Cell, ...]
    by_date: bool
    keys: tuple[ReportKey, ...]

    @classmethod
    def of(cls, request: FetchRequest, query: GA4Query, cells: Sequence[Cell]) -> Need:
        """Work out the reports once (requests can have hundreds of cells)."""
        fk = query.filter_key
        by_date = request.series and all(c.single_day for c in cells)
        if by_date:
            keys: tuple[ReportKey, ...] = (ReportKey(cells[0].start, cells[-1].end, True, fk),)
        else:
            keys = tuple(dict.fromkeys(ReportKey(c.start, c.end, False, fk) for c in cells))
        return cls(request, query, tuple(cells), by_date, keys)

    def report_keys(self) -> list[ReportKey]:
        """The reports this request needs, in order, without repeats."""
        return list(self.keys)

    def key_of(self, cell: Cell) -> ReportKey:
        """The report a cell is read from."""
        if self.by_date:
            return self.keys[0]
        return ReportKey(cell.start, cell.end, False, self.query.filter_key)

    def uses(self, field: str) -> bool:
        """Whether the query names this metric or dimension."""
        if self.query.metric == field:
            return True
        return self.query.filter is not None and field in filter_fields(self.query.filter)


@attrs.frozen
class Spec:
    """One report to request."""

    key: ReportKey
    metrics: tuple[str, ...]
    filter: Node | None

    def request(self, page_size: int, offset: int = 0, prop: str | None = None) -> RunReportRequest:
        """The RunReportRequest (``prop`` only for a standalone runReport)."""
        req = RunReportRequest(
            date_ranges=[DateRange(start_date=self.key.start.isoformat(),
                                   end_date=self.key.end.isoformat())],
            metrics=[Metric(name=m) for m in self.metrics],
            return_property_quota=True,
        )
        if prop:
            req.property = prop
        if self.filter is not None:
            req.dimension_filter = to_expression(self.filter)
        if self.key.by_date:
            req.dimensions = [Dimension(name="date")]
            req.order_bys = [OrderBy(dimension=OrderBy.DimensionOrderBy(dimension_name="date"))]
            req.limit = page_size
            if offset:
                req.offset = offset
        return req


def plan_reports(needs: Sequence[Need]) -> tuple[list[Spec], dict[tuple[ReportKey, str], int]]:
    """Group the needs into reports of up to 10 metrics; return them and where each value is."""
    metrics: dict[ReportKey, list[str]] = {}
    filters: dict[ReportKey, Node | None] = {}
    for need in needs:
        for key in need.report_keys():
            names = metrics.setdefault(key, [])
            filters[key] = need.query.filter
            if need.query.metric not in names:
                names.append(need.query.metric)
    specs: list[Spec] = []
    where: dict[tuple[ReportKey, str], int] = {}
    for key, names in metrics.items():
        for i in range(0, len(names), MAX_METRICS_PER_REPORT):
            chunk = tuple(names[i : i + MAX_METRICS_PER_REPORT])
            for name in chunk:
                where[(key, name)] = len(specs)
            specs.append(Spec(key, chunk, filters[key]))
    return specs, where


# -- answers and failures ----------------------------------------------------------------------


@attrs.define
class Answer:
    """One report's rows (``date`` -> metric values, ``""`` for a total) and its metadata."""

    metrics: list[str]
    rows: dict[str, list[str]]
    row_count: int
    time_zone: str | None
    warnings: list[str]
    quota: dict[str, int]
    currency: str | None
    empty_reason: str | None

    def value(self, metric: str, day: str) -> str | None:
        """The raw value of a metric on a day (``""``: the total row), or None."""
        values = self.rows.get(day)
        if values is None or metric not in self.metrics:
            return None
        i = self.metrics.index(metric)
        return values[i] if i < len(values) else None


@attrs.frozen
class Fail:
    """A failed report or call, before it is attributed to key results."""

    kind: FailureKind
    message: str
    retry_after: float | None = None
    timed_out: bool = False


def _remote_message(exc: BaseException) -> str:
    msg = str(getattr(exc, "message", None) or exc)
    return re.sub(r"^(GET|POST) \S+: ", "", msg).strip()


_BAD_FIELD = (
    re.compile(r"[Ff]ield ([A-Za-z][\w:]*) is not a valid (?:metric|dimension)"),
    re.compile(r"(?:metric|dimension)s? ([A-Za-z][\w:]*) (?:is|are) not (?:valid|compatible)"),
    re.compile(r"[Ff]ield[ :]+'?([A-Za-z][\w:]*)'?"),
)


def bad_field(message: str) -> str | None:
    """The metric or dimension a 400 INVALID_ARGUMENT message names, if any."""
    for pattern in _BAD_FIELD:
        m = pattern.search(message)
        if m:
            return m.group(1).rstrip(".")
    return None


def seconds_to_pacific_midnight(now: dt.datetime) -> float:
    """Seconds until GA4's daily quota resets (midnight, Pacific time)."""
    local = now.astimezone(PACIFIC)
    tomorrow = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), PACIFIC)
    return max(1.0, (tomorrow - local).total_seconds())


def _retry_hint(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers: Mapping[str, str] = getattr(response, "headers", None) or {}
    header = headers.get("Retry-After")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
    for detail in getattr(exc, "details", None) or ():
        delay = getattr(detail, "retry_delay", None)
        if delay is not None and hasattr(delay, "seconds"):
            return float(delay.seconds) + float(getattr(delay, "nanos", 0)) / 1e9
    return None


# -- the source --------------------------------------------------------------------------------


class GA4Source(Source):
    """Google Analytics 4 (Data API v1beta) metric source, plugin name ``ga4``.

    Connection settings: ``property`` (id), ``credentials`` (service-account key path, ``env:`` or
    ``file:`` reference; omitted: Application Default Credentials), ``endpoint``, ``anonymous``
    (only with ``endpoint``), ``transport`` (``grpc``/``rest``), ``concurrency`` (default 4),
    ``page_size``, ``quota_reserve`` (``{hourly, daily}`` tokens to leave unused), ``timeout``.

    ``clock`` returns the current UTC time; it decides which day is "today" in the property's time
    zone (partial-day warnings, zero-filling) and when the daily quota resets.
    """

    name: ClassVar[str] = "ga4"

    def __init__(
        self, connection: Any, *, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        super().__init__(connection)
        self.settings, self.problems = parse_settings(connection)
        self._clock = clock or _utcnow
        self._lock = threading.Lock()
        self._client: BetaAnalyticsDataClient | None = None
        self._stop: Fail | None = None
        self._quota: dict[str, int] = {}
        self._time_zone: str | None = None
        self.calls: dict[str, int] = {"runReport": 0, "batchRunReports": 0, "getMetadata": 0}
        """API calls made so far, by method (for the run log and benchmarks)."""

    # -- contract ------------------------------------------------------------------------
    def limits(self) -> Limits:
        """The connection's concurrency; batch size is bounded by reports, not requests.

        :meth:`batches` packs requests into at most 5 reports of up to 10 distinct metrics each;
        any number of key results can share a metric slot, hence the generous ``max_batch``.
        """
        concurrency = self.settings.concurrency if self.settings else 4
        return Limits(max_batch=MAX_BATCH_REQUESTS, concurrency=concurrency)

    @classmethod
    def validate_connection(cls, connection: Any) -> list[QueryProblem]:
        """Problems with the connection's settings (no I/O)."""
        return parse_settings(connection)[1]

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        """Problems with a key result's GA4 query (no I/O); filter errors carry the column.

        A cumulative key result is stored as daily amounts that okrcore adds up, so it takes no
        trailing window: ``last_7_days`` summed day after day would count each day seven times.
        """
        q, problems = parse_query(query)
        ranged = q is not None and (q.window is not None or q.date_range not in (None, "cycle"))
        if q is not None and ranged and kr.measure is Measure.CUMULATIVE:
            field = "window" if q.window is not None else "date_range"
            problems.append(QueryProblem(
                field, "a cumulative key result adds up each day's amount over the cycle; "
                       "a trailing or fixed range belongs to a gauge (measure: gauge)"))
        return problems

    def batches(self, requests: Sequence[FetchRequest]) -> list[list[FetchRequest]]:
        """Pack requests so that each batch is at most 5 reports of up to 10 metrics."""
        invalid: list[FetchRequest] = []
        groups: dict[tuple[ReportKey, ...], list[Need]] = {}
        for req in requests:
            need = self._need(req)
            if isinstance(need, Failure):
                invalid.append(req)
            else:
                groups.setdefault(tuple(need.report_keys()), []).append(need)
        units: list[tuple[int, list[FetchRequest]]] = []
        for keys, needs in groups.items():
            names: list[str] = []
            for n in needs:
                if n.query.metric not in names:
                    names.append(n.query.metric)
            for i in range(0, len(names), MAX_METRICS_PER_REPORT):
                chunk = set(names[i : i + MAX_METRICS_PER_REPORT])
                units.append((len(keys), [n.request for n in needs if n.query.metric in chunk]))
        out: list[tuple[int, list[FetchRequest]]] = []
        for size, reqs in units:
            for j, (used, batch) in enumerate(out):
                if used + size <= MAX_REPORTS_PER_BATCH:
                    out[j] = (used + size, batch + reqs)
                    break
            else:
                out.append((size, list(reqs)))
        batches = [batch for _, batch in out]
        if invalid:
            batches.append(invalid)
        return batches

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterable[Reading | Failure]:
        """Answer a batch: one runReport or batchRunReports call per 5 reports (plus pages)."""
        results: dict[int, Reading | Failure] = {}
        needs: list[tuple[int, Need]] = []
        for i, req in enumerate(requests):
            need = self._need(req)
            if isinstance(need, Failure):
                results[i] = need
            else:
                needs.append((i, need))
        if needs:
            try:
                client = self._get_client()
            except Exception as exc:  # credentials that cannot be loaded end the connection
                fail = self._classify(exc)
                for i, need in needs:
                    results[i] = self._failure(need, fail)
            else:
                self._execute(client, needs, results)
        return [results[i] for i in range(len(requests))]

    def check_online(
        self, queries: Sequence[tuple[KeyResult, Mapping[str, Any]]]
    ) -> list[tuple[str, QueryProblem]]:
        """Check metric and filter dimension names (custom ones too) against getMetadata."""
        if self.settings is None:
            return [(kr.id, QueryProblem("", f"connection {self.connection.name}: {p.field}: "
                                             f"{p.message}")) for kr, _ in queries
                    for p in self.problems[:1]]
        try:
            client = self._get_client()
            self._count("getMetadata")
            meta = client.get_metadata(
                GetMetadataRequest(name=f"{self.settings.property_name}/metadata"),
                timeout=self._timeout(),
            )
        except Exception as exc:
            fail = self._classify(exc)
            message = f"could not read the property's metadata: {fail.message}"
            return [(kr.id, QueryProblem("", message)) for kr, _ in queries]
        metrics = {m.api_name for m in meta.metrics}
        dimensions = {d.api_name for d in meta.dimensions}
        for m in meta.metrics:
            metrics.update(m.deprecated_api_names)
        for d in meta.dimensions:
            dimensions.update(d.deprecated_api_names)
        out: list[tuple[str, QueryProblem]] = []
        for kr, query in queries:
            q, _ = parse_query(query)
            if q is None:
                continue  # offline lint reports these
            if q.metric not in metrics:
                if q.metric in dimensions:
                    msg = f"{q.metric!r} is a dimension, not a metric"
                else:
                    msg = f"property {self.settings.property_id} has no metric {q.metric!r}"
                    close = difflib.get_close_matches(q.metric, sorted(metrics), n=1)
                    if close:
                        msg += f" (did you mean {close[0]!r}?)"
                out.append((kr.id, QueryProblem("metric", msg)))
            for name in filter_fields(q.filter) if q.filter is not None else []:
                if name in dimensions:
                    continue
                if name in metrics:
                    msg = f"{name!r} is a metric; filters take dimensions"
                else:
                    msg = f"property {self.settings.property_id} has no dimension {name!r}"
                    close = difflib.get_close_matches(name, sorted(dimensions), n=1)
                    if close:
                        msg += f" (did you mean {close[0]!r}?)"
                out.append((kr.id, QueryProblem("filter", msg)))
        return out

    def close(self) -> None:
        """Close the client's channel or session."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.transport.close()  # type: ignore[no-untyped-call]

    # -- internals -----------------------------------------------------------------------
    def _get_client(self) -> BetaAnalyticsDataClient:
        assert self.settings is not None
        with self._lock:
            if self._client is None:
                self._client = make_client(self.settings)
            return self._client

    def _timeout(self) -> float:
        """The connection's own timeout, else the refresh's (``Source.timeout``), else 60 s."""
        if self.settings is not None and self.settings.timeout is not None:
            return self.settings.timeout
        return self.timeout if self.timeout is not None else 60.0

    def _count(self, method: str) -> None:
        with self._lock:
            self.calls[method] += 1

    def _where(self) -> str:
        prop = self.settings.property_id if self.settings else "?"
        return f"GA4 connection {self.connection.name!r} (property {prop})"

    def _need(self, req: FetchRequest) -> Need | Failure:
        if self.settings is None:
            detail = "; ".join(f"{p.field}: {p.message}" for p in self.problems)
            return Failure(req, FailureKind.PERMANENT,
                           f"connection {self.connection.name!r} is misconfigured: {detail}")
        q, problems = parse_query(req.query)
        if q is None:
            detail = "; ".join(f"{p.field}: {p.message}" for p in problems)
            return Failure(req, FailureKind.PERMANENT,
                           f"key result {req.kr.id!r}: bad GA4 query: {detail}")
        cells = cells_for(q, req.measure, req.cycle, req.start, req.end, req.series)
        if not cells:
            return Failure(req, FailureKind.PERMANENT, f"key result {req.kr.id!r}: empty window")
        return Need.of(req, q, cells)

    def _failure(self, need: Need, fail: Fail) -> Failure:
        message = f"key result {need.request.kr.id!r}: {fail.message}"
        return Failure(need.request, fail.kind, message, retry_after=fail.retry_after,
                       timed_out=fail.timed_out)

    def _stopped(self) -> Fail | None:
        with self._lock:
            return self._stop

    def _set_stop(self, fail: Fail) -> None:
        with self._lock:
            if self._stop is None or self._stop.kind is not FailureKind.AUTH:
                self._stop = fail

    def _execute(
        self,
        client: BetaAnalyticsDataClient,
        needs: list[tuple[int, Need]],
        results: dict[int, Reading | Failure],
    ) -> None:
        """Send the reports the needs require, chunk by chunk, and attribute the answers."""
        assert self.settings is not None
        specs, where = plan_reports([n for _, n in needs])
        outcome: dict[int, Answer | Fail] = {}
        for first in range(0, len(specs), MAX_REPORTS_PER_BATCH):
            chunk = list(range(first, min(first + MAX_REPORTS_PER_BATCH, len(specs))))
            stop = self._stopped()
            if stop is not None:
                outcome.update(dict.fromkeys(chunk, stop))
                continue
            try:
                answers = self._send([specs[s] for s in chunk])
            except gexc.BadRequest as exc:
                message = _remote_message(exc)
                field = bad_field(message)
                culprits = [(i, n) for i, n in needs if field and n.uses(field)]
                if culprits:
                    # The field is wrong for this property wherever it is used; the others are
                    # re-planned without it (answered reports are not asked again).
                    for i, n in culprits:
                        results[i] = self._failure(n, Fail(
                            FailureKind.PERMANENT,
                            f"GA4 rejected {field!r} (400 INVALID_ARGUMENT): {message}"))
                    done = {i for i, _ in culprits}
                    rest: list[tuple[int, Need]] = []
                    for i, n in needs:
                        if i in done:
                            continue
                        if all(where[(n.key_of(c), n.query.metric)] in outcome for c in n.cells):
                            results[i] = self._assemble(n, where, outcome)
                        else:
                            rest.append((i, n))
                    if rest:
                        self._execute(client, rest, results)
                    return
                if len(chunk) > 1:  # find the bad report by asking each one alone
                    for s in chunk:
                        try:
                            outcome[s] = self._send([specs[s]])[0]
                        except Exception as one:
                            outcome[s] = self._classify(one)
                else:
                    outcome[chunk[0]] = self._classify(exc)
            except Exception as exc:
                fail = self._classify(exc)
                outcome.update(dict.fromkeys(chunk, fail))
            else:
                outcome.update(zip(chunk, answers, strict=True))
        for i, n in needs:
            results[i] = self._assemble(n, where, outcome)

    def _send(self, specs: list[Spec]) -> list[Answer | Fail]:
        """One runReport (one spec) or batchRunReports call, then any further pages."""
        assert self.settings is not None
        st = self.settings
        if len(specs) == 1:
            self._count("runReport")
            responses = [self._client_run(specs[0].request(st.page_size, prop=st.property_name))]
        else:
            self._count("batchRunReports")
            batch = BatchRunReportsRequest(
                property=st.property_name, requests=[s.request(st.page_size) for s in specs]
            )
            assert self._client is not None
            responses = list(self._client.batch_run_reports(batch, timeout=self._timeout()).reports)
        out: list[Answer | Fail] = []
        for spec, resp in zip(specs, responses, strict=False):
            out.append(self._pages(spec, self._answer(spec, resp)))
        if len(responses) != len(specs):
            missing = Fail(FailureKind.TRANSIENT, "GA4 answered fewer reports than asked for")
            out.extend([missing] * (len(specs) - len(responses)))
        return out

    def _pages(self, spec: Spec, answer: Answer) -> Answer | Fail:
        """Fetch the further pages of a long daily series (rows are ordered by date)."""
        assert self.settings is not None
        st = self.settings
        while spec.key.by_date and len(answer.rows) < answer.row_count:
            stop = self._stopped()
            if stop is not None:
                return stop
            try:
                self._count("runReport")
                page = self._client_run(
                    spec.request(st.page_size, offset=len(answer.rows), prop=st.property_name)
                )
            except Exception as exc:
                return self._classify(exc)
            more = self._answer(spec, page)
            if not more.rows:
                break
            answer.rows.update(more.rows)
            answer.quota = more.quota or answer.quota
            answer.warnings.extend(w for w in more.warnings if w not in answer.warnings)
        return answer

    def _client_run(self, req: RunReportRequest) -> RunReportResponse:
        assert self._client is not None
        assert self.settings is not None
        return self._client.run_report(req, timeout=self._timeout())

    def _answer(self, spec: Spec, resp: RunReportResponse) -> Answer:
        names = [h.name for h in resp.metric_headers] or list(spec.metrics)
        rows: dict[str, list[str]] = {}
        for row in resp.rows:
            day = row.dimension_values[0].value if spec.key.by_date and row.dimension_values else ""
            rows[day] = [v.value for v in row.metric_values]
        meta = resp.metadata
        warnings: list[str] = []
        if meta.subject_to_thresholding:
            warnings.append("GA4 applied data thresholding (small user counts withheld, e.g. with "
                            "Google signals): the value may be lower than the real one")
        for sm in meta.sampling_metadatas:
            if sm.sampling_space_size:
                pct = 100.0 * sm.samples_read_count / sm.sampling_space_size
                warnings.append(f"GA4 sampled this report: {sm.samples_read_count} of "
                                f"{sm.sampling_space_size} events read ({pct:.1f}%)")
        if meta.data_loss_from_other_row:
            warnings.append("GA4 grouped some rows into '(other)': values may be incomplete")
        quota = self._record_quota(resp)
        tz = meta.time_zone or None
        if tz:
            with self._lock:
                self._time_zone = tz
        return Answer(
            metrics=names,
            rows=rows,
            row_count=int(resp.row_count),
            time_zone=tz,
            warnings=warnings,
            quota=quota,
            currency=meta.currency_code or None,
            empty_reason=meta.empty_reason or None,
        )

    def _record_quota(self, resp: RunReportResponse) -> dict[str, int]:
        """Remember the remaining tokens; stop the connection when they run below the reserve."""
        assert self.settings is not None
        if "property_quota" not in resp:
            return {}
        pq = resp.property_quota
        quota = {b: int(getattr(pq, b).remaining) for b in QUOTA_BUCKETS if b in pq}
        with self._lock:
            self._quota.update(quota)
        st = self.settings
        now = self._clock()
        low: tuple[str, int, int, str, float] | None = None
        if "tokens_per_day" in quota and quota["tokens_per_day"] < st.reserve_daily:
            low = ("daily", quota["tokens_per_day"], st.reserve_daily,
                   "daily tokens come back after midnight Pacific time",
                   seconds_to_pacific_midnight(now))
        else:
            for bucket in ("tokens_per_hour", "tokens_per_project_per_hour"):
                if bucket in quota and quota[bucket] < st.reserve_hourly:
                    next_hour = (now.replace(minute=0, second=0, microsecond=0)
                                 + dt.timedelta(hours=1))
                    low = ("hourly", quota[bucket], st.reserve_hourly,
                           "hourly tokens come back within the hour",
                           (next_hour - now).total_seconds())
                    break
        if low is not None:
            which, left, reserve, when, retry = low
            self._set_stop(Fail(
                FailureKind.QUOTA,
                f"{self._where()}: stopped before using up the quota: {left} {which} tokens left, "
                f"below the reserve of {reserve} (quota_reserve.{which}); not requested, "
                f"{when}",
                retry_after=retry,
            ))
        return quota

    def _classify(self, exc: BaseException) -> Fail:
        """Turn an exception from the client or google-auth into a failure kind and message."""
        where = self._where()
        remote = _remote_message(exc)
        if isinstance(exc, gexc.TooManyRequests):  # ResourceExhausted (gRPC) is a subclass
            lowered = remote.lower()
            if "per day" in lowered or "daily" in lowered:
                wait = seconds_to_pacific_midnight(self._clock())
                fail = Fail(FailureKind.QUOTA,
                            f"{where}: daily quota exhausted (429 RESOURCE_EXHAUSTED: {remote}); "
                            f"tokens return after midnight Pacific time, in about "
                            f"{wait / 3600:.1f} h", retry_after=wait)
                self._set_stop(fail)
                return fail
            wait_s = _retry_hint(exc)
            if wait_s is None:
                wait_s = 1.0 if "concurrent" in lowered else 60.0
            return Fail(FailureKind.TRANSIENT, f"{where}: rate limited (429 RESOURCE_EXHAUSTED: "
                                               f"{remote})", retry_after=wait_s)
        if isinstance(exc, gexc.Unauthorized):  # Unauthenticated (gRPC)
            fail = Fail(FailureKind.AUTH, f"{where}: 401 UNAUTHENTICATED: {remote}. Hint: the "
                        "credentials are invalid or expired; check the service-account key")
            self._set_stop(fail)
            return fail
        if isinstance(exc, gexc.Forbidden):  # PermissionDenied (gRPC)
            lowered = remote.lower()
            if "has not been used" in lowered or "disabled" in lowered:
                hint = ("enable the Google Analytics Data API in the service account's Google "
                        "Cloud project (APIs & Services > Library)")
            else:
                hint = ("add the service account's e-mail (client_email in the key file) to the "
                        "GA4 property as a Viewer (Admin > Property access management), and "
                        "check that 'property' is the numeric property id, not a G- measurement id")
            fail = Fail(FailureKind.AUTH, f"{where}: 403 PERMISSION_DENIED: {remote}. Hint: {hint}")
            self._set_stop(fail)
            return fail
        if isinstance(exc, auth_exc.InvalidOperation) and "nonymous" in str(exc):
            fail = Fail(FailureKind.AUTH, f"{where}: the server answered 401 Unauthorized and "
                        "anonymous: true has no credentials to offer; drop anonymous and set "
                        "credentials")
            self._set_stop(fail)
            return fail
        if isinstance(exc, auth_exc.TransportError):
            return Fail(FailureKind.TRANSIENT, f"{where}: cannot reach the token server: {exc}")
        if isinstance(exc, auth_exc.DefaultCredentialsError):
            fail = Fail(FailureKind.AUTH, f"{where}: no usable credentials ({exc}). Hint: set "
                        "'credentials' to a service-account key (or env:NAME), or set up "
                        "Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS or "
                        "gcloud auth application-default login)")
            self._set_stop(fail)
            return fail
        if isinstance(exc, (auth_exc.GoogleAuthError, SourceError)):
            fail = Fail(FailureKind.AUTH, f"{where}: credentials: {exc}")
            self._set_stop(fail)
            return fail
        if isinstance(exc, gexc.BadRequest):  # InvalidArgument (gRPC)
            field = bad_field(remote)
            named = f" (field {field!r})" if field else ""
            return Fail(FailureKind.PERMANENT,
                        f"{where}: GA4 rejected the report{named} (400 INVALID_ARGUMENT): {remote}")
        if isinstance(exc, gexc.NotFound):
            return Fail(FailureKind.PERMANENT, f"{where}: 404 NOT_FOUND: {remote}. Hint: check "
                                               "the property id")
        if isinstance(exc, (gexc.ServerError, gexc.DeadlineExceeded, gexc.RetryError,
                            gexc.ServiceUnavailable, TimeoutError, ConnectionError)):
            return Fail(FailureKind.TRANSIENT, f"{where}: {type(exc).__name__}: {remote}",
                        timed_out=isinstance(exc, (gexc.DeadlineExceeded, TimeoutError)))
        if _is_network_error(exc):
            return Fail(FailureKind.TRANSIENT, f"{where}: network error: {type(exc).__name__}: "
                                               f"{remote}", timed_out=_is_timeout(exc))
        if isinstance(exc, gexc.GoogleAPICallError):
            return Fail(FailureKind.PERMANENT, f"{where}: {type(exc).__name__}: {remote}")
        return Fail(FailureKind.PERMANENT, f"{where}: unexpected {type(exc).__name__}: {remote}")

    # -- turning answers into readings ---------------------------------------------------
    def _today(self, tz: str | None) -> dt.date:
        zone: dt.tzinfo = dt.timezone.utc
        if tz:
            with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, ValueError):
                zone = zoneinfo.ZoneInfo(tz)
        return self._clock().astimezone(zone).date()

    def _assemble(
        self, need: Need, where: dict[tuple[ReportKey, str], int], outcome: dict[int, Answer | Fail]
    ) -> Reading | Failure:
        q, req = need.query, need.request
        points: list[tuple[dt.date, float]] = []
        warnings: list[str] = []
        missing: list[str] = []
        unsettled: list[dt.date] = []
        todays: dict[str | None, dt.date] = {}
        last: Answer | None = None
        for cell in need.cells:
            spec_index = where.get((need.key_of(cell), q.metric))
            got = outcome.get(spec_index) if spec_index is not None else None
            if got is None:
                return Failure(req, FailureKind.TRANSIENT,
                               f"key result {req.kr.id!r}: {self._where()}: report not answered")
            if isinstance(got, Fail):
                return self._failure(need, got)
            last = got
            for w in got.warnings:
                if w not in warnings:
                    warnings.append(w)
            if got.time_zone not in todays:
                todays[got.time_zone] = self._today(got.time_zone)
            today = todays[got.time_zone]
            zone = got.time_zone or "UTC"
            day_key = cell.start.strftime("%Y%m%d") if need.by_date else ""
            raw = got.value(q.metric, day_key)
            if req.series and self.settings is not None and (
                    cell.end > today - dt.timedelta(days=self.settings.settle_days)):
                # okrcore keeps the first value stored for a day: an unfinished day is left for
                # a later refresh rather than frozen half-counted.
                unsettled.append(cell.point)
                continue
            if cell.start > today:
                missing.append(f"{describe_window(cell.start, cell.end)} is after today "
                               f"({today}) in the property's time zone ({zone})")
                continue
            if cell.end >= today:
                msg = (f"the window ends {cell.end}, which is not over yet in the property's time "
                       f"zone ({zone}): partial data, the value will change")
                if msg not in warnings:
                    warnings.append(msg)
            if raw is None:
                if q.zero_when_empty():
                    points.append((cell.point, 0.0))
                    continue
                reason = f": {got.empty_reason}" if got.empty_reason else ""
                missing.append(f"no data for {q.metric} in {describe_window(cell.start, cell.end)}"
                               f"{reason} (a ratio or average has no value without traffic; "
                               "add 'empty: zero' to count it as 0)")
                continue
            try:
                value = float(raw) * q.scale
            except ValueError:
                return Failure(req, FailureKind.PERMANENT,
                               f"key result {req.kr.id!r}: GA4 returned {raw!r} for {q.metric}")
            if not math.isfinite(value):
                return Failure(req, FailureKind.PERMANENT,
                               f"key result {req.kr.id!r}: GA4 returned {raw!r} for {q.metric}")
            points.append((cell.point, value))
        if unsettled:
            first_day = min(unsettled)
            warnings.append(
                f"{len(unsettled)} day(s) from {first_day} not read yet: not over (or not "
                f"{self.settings.settle_days if self.settings else 1} day(s) old) in the "
                f"property's time zone ({(last.time_zone if last else None) or 'UTC'}); a later "
                "refresh stores them (settle_days)")
        if not points and missing:
            return Failure(req, FailureKind.PERMANENT,
                           f"key result {req.kr.id!r}: {self._where()}: {missing[0]}")
        if missing:
            warnings.append(f"no value on {len(missing)} of {len(need.cells)} days "
                            f"(first: {missing[0]})")
        # Connection-level facts: the engine merges readings' info into the run log per connection.
        with self._lock:
            calls = dict(self.calls)
        info: dict[str, Any] = {
            "property": self.settings.property_id if self.settings else None,
            "time_zone": last.time_zone if last else None,
            "quota_remaining": dict(last.quota) if last else {},
            "api_calls": calls,
        }
        if last is not None and last.currency:
            info["currency"] = last.currency
        return Reading(req, points, warnings=warnings, info=info)


def _is_network_error(exc: BaseException) -> bool:
    try:
        import requests
    except ImportError:  # pragma: no cover - requests comes with google-auth[requests]
        return False
    return isinstance(exc, (requests.ConnectionError, requests.Timeout))


def _is_timeout(exc: BaseException) -> bool:
    try:
        import requests
    except ImportError:  # pragma: no cover - requests comes with google-auth[requests]
        return False
    return isinstance(exc, requests.Timeout)
