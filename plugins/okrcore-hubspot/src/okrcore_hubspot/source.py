"""The ``hubspot`` metric source: CRM search (``POST /crm/v3/objects/{object}/search``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from okrcore.errors import SourceError
from okrcore.model import Connection, KeyResult, Measure
from okrcore.sources import (
    Credentials,
    FailureKind,
    FetchError,
    FetchRequest,
    HttpSource,
    Limits,
    QueryProblem,
    Reading,
    parse_retry_after,
)

from ._version import __version__
from .aggregate import Acc, parse_number, properties_of, record_day
from .query import HubSpotQuery, Window, day_end_ms, day_start_ms, parse_query, validate_query

if TYPE_CHECKING:  # imported where it is used, so that listing plugins stays fast
    import requests

__all__ = ["DEFAULT_ENDPOINT", "RESULT_CAP", "HubSpotSource"]

DEFAULT_ENDPOINT = "https://api.hubapi.com"
RESULT_CAP = 10_000  # search results reachable by paging one query
PAGE_SIZE = 200  # the search API's largest page
DEFAULT_RATE = 4.0  # the search endpoints' own limit, requests per second per token
DEFAULT_TIMEOUT = 30.0


class _Stats:
    """What one request's calls cost, for the run log."""

    def __init__(self) -> None:
        self.calls = 0
        self.ratelimit: dict[str, str] = {}

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {"requests": self.calls}
        if self.ratelimit:
            out["ratelimit"] = dict(self.ratelimit)
        return out


class HubSpotSource(HttpSource):
    """Counts and sums of HubSpot CRM records (deals, contacts, companies, tickets, custom objects).

    Connection settings: ``token`` (``env:NAME`` or ``file:PATH`` of a private-app or OAuth access
    token), optional ``requests_per_second`` (default 4, the search API's limit), ``concurrency``
    (default 2) and ``timeout`` (seconds, default 30); ``endpoint`` overrides
    ``https://api.hubapi.com``.
    """

    name = "hubspot"
    service = "HubSpot"
    user_agent = f"okrcore-hubspot/{__version__}"
    default_endpoint = DEFAULT_ENDPOINT
    default_rate = DEFAULT_RATE
    default_timeout = DEFAULT_TIMEOUT
    secrets = (("token", "a HubSpot access token"),)

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self._rate = float(connection.settings.get("requests_per_second", DEFAULT_RATE))

    # -- contract ---------------------------------------------------------------------------

    def limits(self) -> Limits:
        """One request per fetch; the search API's per-second limit declared as the rate."""
        return Limits(max_batch=1, concurrency=self.concurrency, rate=self._rate)

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        """Object, aggregate, filters, operators, placeholders and HubSpot's filter limits."""
        problems = validate_query(query)
        if kr.measure is Measure.CUMULATIVE and not query.get("date_property"):
            problems.append(
                QueryProblem(
                    "date_property",
                    "a cumulative key result is refreshed as a daily series: set date_property "
                    "(the property that dates each record, e.g. closedate)",
                )
            )
        return problems

    # -- one request ------------------------------------------------------------------------

    def fetch_one(self, request: FetchRequest) -> Reading:
        """One request's reading; a remote error is raised as a classified FetchError."""
        try:
            query = parse_query(request.query)
        except ValueError as exc:
            raise FetchError(FailureKind.PERMANENT, f"invalid hubspot query: {exc}") from None
        values = {
            "start": day_start_ms(request.start),
            "end": day_end_ms(request.end),
            "as_of": day_end_ms(request.as_of),
            "cycle_start": day_start_ms(request.cycle.start),
            "cycle_end": day_end_ms(request.cycle.end),
        }
        stats = _Stats()
        warnings: list[str] = []
        gauge = request.measure is Measure.GAUGE
        if request.series:
            points = self._series(request, query, values, stats, warnings, gauge=gauge)
            return Reading(request, points, warnings=warnings, info=stats.info())
        window = None
        if query.date_property:
            low = 0 if gauge else day_start_ms(request.start)
            window = Window(low, day_end_ms(request.end))
        acc = self._acc(query, values, window, stats, warnings)
        value = acc.value(query.aggregate)
        if value is None:
            raise FetchError(
                FailureKind.PERMANENT,
                f"no {query.object} with a value of {query.property!r} match the filters: "
                f"the {query.aggregate} is undefined",
            )
        return Reading.total(request, value, warnings=warnings, info=stats.info())

    def _series(
        self,
        request: FetchRequest,
        query: HubSpotQuery,
        values: Mapping[str, int],
        stats: _Stats,
        warnings: list[str],
        *,
        gauge: bool,
    ) -> list[tuple[dt.date, float]]:
        """Daily points: each day's records (cumulative) or the level at each day's end (gauge)."""
        if not query.date_property:
            raise FetchError(
                FailureKind.PERMANENT,
                "a daily series needs date_property (the property that dates each record)",
            )
        running = Acc()
        if gauge and request.start > dt.date(1970, 1, 1):
            before = Window(0, day_start_ms(request.start) - 1)
            running = self._acc(query, values, before, stats, warnings)
        window = Window(day_start_ms(request.start), day_end_ms(request.end))
        days: dict[dt.date, Acc] = {}
        for record in self._records(query, values, window, stats):
            props = properties_of(record)
            try:
                day = record_day(props.get(query.date_property))
            except ValueError:
                raise FetchError(
                    FailureKind.PERMANENT,
                    f"{query.object} {record.get('id')}: {query.date_property!r} is "
                    f"{props.get(query.date_property)!r}, not a date",
                ) from None
            if day is None:
                continue
            days[day] = days.get(day, Acc()).add(self._number(query, record))
        points: list[tuple[dt.date, float]] = []
        day = request.start
        while day <= request.end:
            today = days.get(day, Acc())
            running = running.merge(today) if gauge else today
            value = running.value(query.aggregate)
            if value is not None:  # an average of no records is no point, not a zero
                points.append((day, value))
            day += dt.timedelta(days=1)
        return points

    def _acc(
        self,
        query: HubSpotQuery,
        values: Mapping[str, int],
        window: Window | None,
        stats: _Stats,
        warnings: list[str],
    ) -> Acc:
        """The summary of all matching records; a count needs only the search's ``total``."""
        if query.aggregate == "count":
            page = self._search(query, query.body(values, window, limit=1), stats)
            return Acc(count=_total(page))
        acc = Acc()
        for record in self._records(query, values, window, stats):
            acc = acc.add(self._number(query, record))
        missing = acc.count - acc.n
        if missing:
            warnings.append(
                f"{missing} of {acc.count} {query.object} have no {query.property!r}; "
                f"left out of the {query.aggregate}"
            )
        return acc

    def _number(self, query: HubSpotQuery, record: Mapping[str, Any]) -> float | None:
        if query.aggregate == "count" or not query.property:
            return None
        raw = properties_of(record).get(query.property)
        try:
            return parse_number(raw)
        except ValueError:
            raise FetchError(
                FailureKind.PERMANENT,
                f"{query.object} {record.get('id')}: property {query.property!r} is {raw!r}, "
                "not a number",
            ) from None

    def _records(
        self,
        query: HubSpotQuery,
        values: Mapping[str, int],
        window: Window | None,
        stats: _Stats,
    ) -> list[Mapping[str, Any]]:
        """Every matching record, paging by ``after``; past the 10,000 cap, split the window."""
        first = self._search(query, query.body(values, window, limit=PAGE_SIZE), stats)
        total = _total(first)
        if total > RESULT_CAP:
            if window is None:
                raise FetchError(
                    FailureKind.PERMANENT,
                    f"{total} {query.object} match, and HubSpot's search returns at most "
                    f"{RESULT_CAP}: set date_property so that okrcore can split the date window",
                )
            if window.high <= window.low:
                raise FetchError(
                    FailureKind.PERMANENT,
                    f"{total} {query.object} share one {query.date_property} timestamp; "
                    "narrow the filters",
                )
            low, high = window.halves()
            return self._records(query, values, low, stats) + self._records(
                query, values, high, stats
            )
        records = list(_results(first))
        after = _next_after(first)
        while after is not None:
            page = self._search(
                query, query.body(values, window, limit=PAGE_SIZE, after=after), stats
            )
            records.extend(_results(page))
            following = _next_after(page)
            if following == after:  # a server that repeats itself must not loop us forever
                raise FetchError(
                    FailureKind.TRANSIENT, "HubSpot returned the same page cursor twice"
                )
            after = following
        return records

    # -- HTTP -------------------------------------------------------------------------------

    def credentials(self) -> Credentials:
        """A private-app or OAuth access token, as a bearer token."""
        return Credentials(headers={"Authorization": f"Bearer {self.required_secret('token')}"})

    def error(self, response: requests.Response, what: str) -> FetchError:
        """Classify an error answer (see :func:`_error`); ``what`` is the CRM object."""
        return _error(response, what)

    def _search(
        self, query: HubSpotQuery, body: Mapping[str, Any], stats: _Stats
    ) -> Mapping[str, Any]:
        path = f"/crm/v3/objects/{query.object}/search"
        return _json(self._request("POST", path, body, stats, query.object))

    def _request(
        self, method: str, path: str, body: Mapping[str, Any] | None, stats: _Stats, obj: str,
        ok: Sequence[int] = (200,),
    ) -> requests.Response:
        """One paced call (:meth:`HttpSource.call`), counted with its rate-limit headers."""
        response = self.call(method, path, json=body, what=obj, ok=ok)
        stats.calls += 1
        for name, value in response.headers.items():
            if name.lower().startswith("x-hubspot-ratelimit-"):
                stats.ratelimit[name[len("x-hubspot-ratelimit-") :].lower()] = value
        return response

    # -- online check -----------------------------------------------------------------------

    def check_online(
        self, queries: Sequence[tuple[KeyResult, Mapping[str, Any]]]
    ) -> list[tuple[str, QueryProblem]]:
        """Check that every property a query names exists, with a fitting type.

        Reads ``GET /crm/v3/properties/{object}/{name}`` once per property. Authentication and
        network errors raise :class:`okrcore.errors.SourceError`.
        """
        found: list[tuple[str, QueryProblem]] = []
        cache: dict[tuple[str, str], Mapping[str, Any] | None] = {}
        for kr, raw in queries:
            if validate_query(raw):
                continue  # the offline lint reports these
            query = parse_query(raw)
            wanted: list[tuple[str, str, str | None]] = [("object", "hs_object_id", None)]
            if query.aggregate != "count" and query.property:
                wanted.append(("property", query.property, "number"))
            if query.date_property:
                wanted.append(("date_property", query.date_property, "date"))
            field = "filter_groups" if "filter_groups" in raw else "filters"
            for g, group in enumerate(query.groups):
                for i, spec in enumerate(group):
                    where = f"{field}[{g}][{i}]" if field == "filter_groups" else f"{field}[{i}]"
                    wanted.append((where, str(spec["property"]), None))
            for where, name, kind in wanted:
                key = (query.object, name)
                try:
                    if key not in cache:
                        cache[key] = self._property(query.object, name)
                except FetchError as failed:
                    if failed.kind is FailureKind.PERMANENT:
                        found.append((kr.id, QueryProblem("object", failed.message)))
                        break
                    raise SourceError(failed.message) from None
                prop = cache[key]
                problem = _property_problem(query.object, name, prop, kind)
                if problem:
                    found.append((kr.id, QueryProblem(where, problem)))
        return found

    def _property(self, obj: str, name: str) -> Mapping[str, Any] | None:
        response = self._request("GET", f"/crm/v3/properties/{obj}/{name}", None, _Stats(), obj,
                                 ok=(200, 404))
        return None if response.status_code == 404 else _json(response)


def _property_problem(
    obj: str, name: str, prop: Mapping[str, Any] | None, kind: str | None
) -> str | None:
    if prop is None:
        return f"HubSpot {obj} have no property {name!r}"
    have = prop.get("type")
    if kind == "number" and have != "number":
        return f"property {name!r} of {obj} has type {have}, not number"
    if kind == "date" and have not in ("date", "datetime"):
        return f"property {name!r} of {obj} has type {have}, not date or datetime"
    return None


def _json(response: requests.Response) -> Mapping[str, Any]:
    try:
        page = response.json()
    except ValueError:
        raise FetchError(
            FailureKind.TRANSIENT, "HubSpot answered 200 with a body that is not JSON"
        ) from None
    if not isinstance(page, Mapping):
        raise FetchError(FailureKind.TRANSIENT, "HubSpot answered 200 with an unexpected body")
    return page


def _error(response: requests.Response, obj: str) -> FetchError:
    """Classify an error response by status and HubSpot's policy name."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, Mapping):
        body = {}
    message = str(body.get("message") or response.reason or "no message")
    category = body.get("category") or body.get("errorType") or ""
    label = f"HubSpot {status}{' ' + str(category) if category else ''}: {message}"
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 401:
        return FetchError(FailureKind.AUTH, f"{label} (check the access token)")
    if status == 403:
        return FetchError(
            FailureKind.AUTH,
            f"{label} (the app needs read scope for {obj}, e.g. crm.objects.{obj}.read)",
        )
    if status == 429:
        policy = body.get("policyName")
        if policy == "DAILY":
            return FetchError(
                FailureKind.QUOTA,
                f"{label} (policy DAILY: the daily API limit resets at midnight in the "
                "account's time zone)",
                retry_after,
            )
        return FetchError(
            FailureKind.TRANSIENT, f"{label} (policy {policy or 'unknown'})", retry_after
        )
    if status >= 500 or status == 408:
        return FetchError(FailureKind.TRANSIENT, label, retry_after)
    return FetchError(FailureKind.PERMANENT, label)


def _total(page: Mapping[str, Any]) -> int:
    total = page.get("total")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise FetchError(
            FailureKind.TRANSIENT, f"HubSpot search answer has no valid total: {total!r}"
        )
    return total


def _results(page: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    results = page.get("results")
    if not isinstance(results, list):
        raise FetchError(FailureKind.TRANSIENT, "HubSpot search answer has no results list")
    return [r for r in results if isinstance(r, Mapping)]


def _next_after(page: Mapping[str, Any]) -> str | None:
    paging = page.get("paging")
    if not isinstance(paging, Mapping):
        return None
    following = paging.get("next")
    if not isinstance(following, Mapping) or following.get("after") in (None, ""):
        return None
    return str(following["after"])
