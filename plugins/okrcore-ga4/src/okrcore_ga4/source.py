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
import threading
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

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

from .failures import Fail, bad_field, classify, remote_message, seconds_to_pacific_midnight
from .filters import filter_fields
from .query import cells_for, describe_window, parse_query
from .reports import (
    MAX_BATCH_REQUESTS,
    MAX_METRICS_PER_REPORT,
    MAX_REPORTS_PER_BATCH,
    Answer,
    Need,
    ReportKey,
    Spec,
    plan_reports,
)
from .settings import make_client, parse_settings

if TYPE_CHECKING:  # the client library (grpc, google-auth) is imported when a report is sent
    from google.analytics.data_v1beta import BetaAnalyticsDataClient
    from google.analytics.data_v1beta.types import RunReportRequest, RunReportResponse

__all__ = ["GA4Source"]

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
        from google.analytics.data_v1beta.types import GetMetadataRequest

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
        from google.api_core import exceptions as gexc

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
                message = remote_message(exc)
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
        from google.analytics.data_v1beta.types import BatchRunReportsRequest

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
        fail = classify(exc, self._where(), self._clock)
        if fail.stop:
            self._set_stop(fail)
        return fail

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
