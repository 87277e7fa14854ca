"""The ``salesforce`` metric source: SOQL over the REST API (``GET /services/data/vXX.X/query``)."""

from __future__ import annotations

import datetime as dt
import math
import re
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
    is_secret_reference,
    parse_retry_after,
)

from ._version import __version__
from .auth import FLOWS, flow_of, token_form
from .soql import (
    COUNT_ONLY,
    bind,
    builtin_values,
    null_is_zero,
    placeholders,
    to_series_soql,
    to_soql,
    validate_query,
)

if TYPE_CHECKING:  # imported where it is used, so that listing plugins stays fast
    import requests

__all__ = ["DEFAULT_API_VERSION", "SalesforceSource"]

DEFAULT_API_VERSION = "62.0"
DEFAULT_TIMEOUT = 60.0
_SECRETS = ("access_token", "client_secret", "refresh_token")
_VERSION = re.compile(r"^\d{2,3}\.0$")


class _NoValue(FetchError):
    """The query matched nothing, and its aggregate (an average, a minimum) is undefined."""


class _Stats:
    """What one request's calls cost, for the run log."""

    def __init__(self) -> None:
        self.calls = 0
        self.api_usage: str | None = None

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {"requests": self.calls}
        if self.api_usage:
            out["api_usage"] = self.api_usage
            used, _, limit = self.api_usage.partition("/")
            if used.isdigit() and limit.isdigit():
                out["api_used"], out["api_limit"] = int(used), int(limit)
        return out


class SalesforceSource(HttpSource):
    """Values of SOQL queries: aggregates (``SUM(Amount)``), ``COUNT()`` or combined rows.

    Connection settings: ``instance_url`` (``https://acme.my.salesforce.com``), ``api_version``
    (pinned, default 62.0), and either ``access_token`` (``env:``/``file:`` reference) or an
    OAuth flow (``auth: client_credentials`` with ``client_id`` and ``client_secret``, or
    ``auth: refresh_token`` with ``client_id``, ``refresh_token`` and optional
    ``client_secret``) against ``{login_url or instance_url}/services/oauth2/token``. Optional
    ``timeout`` (seconds, default 60), ``concurrency`` (default 4) and ``requests_per_second``
    (default: unpaced). ``endpoint`` overrides the instance URL.
    """

    name = "salesforce"
    service = "Salesforce"
    user_agent = f"okrcore-salesforce/{__version__}"
    default_concurrency = 4
    default_timeout = DEFAULT_TIMEOUT
    extra_settings = ("instance_url", "api_version", "auth", "access_token", "client_id",
                      "client_secret", "refresh_token", "login_url")

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        settings = connection.settings
        self._version = str(settings.get("api_version", DEFAULT_API_VERSION)).lstrip("v")
        self._flow = flow_of(settings)
        instance = settings.get("instance_url")
        if not connection.endpoint and instance:
            self.endpoint = str(instance).rstrip("/")
        login = settings.get("login_url") or self.endpoint
        self._token_url = f"{str(login).rstrip('/')}/services/oauth2/token" if login else None

    # -- contract ---------------------------------------------------------------------------

    def limits(self) -> Limits:
        """One query per fetch; Salesforce limits calls per 24 h, not per second."""
        return Limits(max_batch=1, concurrency=self.concurrency, rate=None)

    @classmethod
    def validate_connection(cls, connection: Connection) -> list[QueryProblem]:
        """Instance URL, pinned version, one complete auth flow, secrets only by reference."""
        settings = connection.settings
        problems = super().validate_connection(connection)
        flow = flow_of(settings)
        # an OAuth answer names the instance itself; a bare token needs to be told where to go
        where = [settings.get("instance_url"), connection.endpoint]
        if flow != "token":
            where.append(settings.get("login_url"))
        if not any(where):
            problems.append(
                QueryProblem("instance_url", "set instance_url, e.g. https://acme.my.salesforce.com")
            )
        version = str(settings.get("api_version", DEFAULT_API_VERSION)).lstrip("v")
        if not _VERSION.match(version):
            problems.append(
                QueryProblem("api_version", f"api_version {version!r} is not like 62.0")
            )
        if flow not in FLOWS:
            problems.append(QueryProblem("auth", f"auth must be one of {', '.join(FLOWS)}"))
            return problems
        needed = {
            "token": ["access_token"],
            "client_credentials": ["client_id", "client_secret"],
            "refresh_token": ["client_id", "refresh_token"],
        }[flow]
        for key in needed:
            if not settings.get(key):
                problems.append(QueryProblem(key, f"auth {flow} needs {key}"))
        for key in _SECRETS:
            value = settings.get(key)
            if value is not None and not is_secret_reference(value):
                problems.append(
                    QueryProblem(key, f"{key} must be a reference: 'env:NAME' or 'file:PATH'")
                )
        return problems

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        """Either form, placeholders with values, parameters that bind as SOQL literals."""
        problems = validate_query(query)
        if kr.measure is Measure.CUMULATIVE and not problems:
            if "soql" in query:
                names = set(placeholders(str(query["soql"])))
                if not (names & {"start", "start_time"} and names & {"end", "end_time"}):
                    problems.append(
                        QueryProblem(
                            "soql",
                            "a cumulative key result is refreshed day by day: bound the query's "
                            "dates with :start (or :start_time) and :end (or :end_time)",
                        )
                    )
            elif not query.get("date_field"):
                problems.append(
                    QueryProblem(
                        "date_field",
                        "a cumulative key result is refreshed as a daily series: set date_field "
                        "(e.g. CloseDate)",
                    )
                )
        return problems

    def check_online(
        self, queries: Sequence[tuple[KeyResult, Mapping[str, Any]]]
    ) -> list[tuple[str, QueryProblem]]:
        """Ask Salesforce to plan each query (``?explain=``) without running it.

        Unknown objects and fields, and malformed SOQL, come back as problems; authentication
        and network errors raise :class:`okrcore.errors.SourceError`.
        """
        found: list[tuple[str, QueryProblem]] = []
        day = dt.date.today()
        for kr, query in queries:
            if validate_query(query):
                continue  # the offline lint reports these
            values = builtin_values(day, day, day, day, day)
            soql = bind(to_soql(query, gauge=False), {**values, **(query.get("params") or {})})
            try:
                self._get(f"/services/data/v{self._version}/query", {"explain": soql}, _Stats())
            except FetchError as failed:
                if failed.kind is not FailureKind.PERMANENT:
                    raise SourceError(failed.message) from None
                field = "soql" if "soql" in query else ""
                found.append((kr.id, QueryProblem(field, failed.message)))
        return found

    # -- one request ------------------------------------------------------------------------

    def fetch_one(self, request: FetchRequest) -> Reading:
        """One request's reading; a remote error is raised as a classified FetchError."""
        query = request.query
        problems = validate_query(query)
        if problems:
            text = "; ".join(f"{p.field or 'query'}: {p.message}" for p in problems)
            raise FetchError(FailureKind.PERMANENT, f"invalid salesforce query: {text}")
        gauge = request.measure is Measure.GAUGE
        soql = to_soql(query, gauge=gauge)
        params = dict(query.get("params") or {})
        cycle = request.cycle
        stats = _Stats()
        if not request.series:
            values = builtin_values(
                request.start, request.end, request.as_of, cycle.start, cycle.end
            )
            value = self._value(query, bind_or_fail(soql, {**values, **params}), stats)
            return Reading.total(request, value, info=stats.info())
        if not gauge and "soql" not in query and query.get("date_field"):
            return self._grouped_series(request, query, params, stats)
        # Otherwise a daily series runs the query once per day: the window is that day
        # (cumulative), or from the request's start to that day (gauge).
        points: list[tuple[dt.date, float]] = []
        day = request.start
        while day <= request.end:
            start = request.start if gauge else day
            values = builtin_values(start, day, day, cycle.start, cycle.end)
            try:
                value = self._value(query, bind_or_fail(soql, {**values, **params}), stats)
            except _NoValue:
                pass  # an average of nothing that day is no point, not a zero
            else:
                points.append((day, value))
            day += dt.timedelta(days=1)
        return Reading(request, points, info=stats.info())

    def _grouped_series(
        self,
        request: FetchRequest,
        query: Mapping[str, Any],
        params: Mapping[str, Any],
        stats: _Stats,
    ) -> Reading:
        """A cumulative daily series of the structured form in one query, grouped by day."""
        cycle = request.cycle
        values = builtin_values(request.start, request.end, request.as_of, cycle.start, cycle.end)
        soql = bind_or_fail(to_series_soql(query), {**values, **params})
        page = self._get(f"/services/data/v{self._version}/query", {"q": soql}, stats)
        records = list(_records(page))
        while page.get("done") is False and page.get("nextRecordsUrl"):
            page = self._get(str(page["nextRecordsUrl"]), None, stats)
            records.extend(_records(page))
        by_day: dict[dt.date, float] = {}
        for record in records:
            raw = record.get("day")
            try:
                day = dt.date.fromisoformat(str(raw)[:10])
            except ValueError:
                raise FetchError(FailureKind.PERMANENT, f"a grouped row has day {raw!r}") from None
            number = _number(record, "value")
            if number is not None:
                by_day[day] = number
        additive = query.get("aggregate", "count") in ("count", "sum")
        points: list[tuple[dt.date, float]] = []
        day = request.start
        while day <= request.end:
            if day in by_day:
                points.append((day, by_day[day]))
            elif additive:  # no rows that day: nothing was sold, a true zero
                points.append((day, 0.0))
            day += dt.timedelta(days=1)
        return Reading(request, points, info=stats.info())

    def _value(self, query: Mapping[str, Any], soql: str, stats: _Stats) -> float:
        """Run the bound SOQL (following nextRecordsUrl) and reduce the answer to one number."""
        page = self._get(f"/services/data/v{self._version}/query", {"q": soql}, stats)
        if COUNT_ONLY.match(soql):
            return float(_total_size(page))
        records = list(_records(page))
        while page.get("done") is False and page.get("nextRecordsUrl"):
            page = self._get(str(page["nextRecordsUrl"]), None, stats)
            records.extend(_records(page))
        structured = "soql" not in query
        column = "value" if structured else query.get("value")
        combine = None if structured else query.get("aggregate")
        if not records:
            if combine in ("sum", "count") or (combine is None and null_is_zero(soql)):
                return 0.0
            raise _NoValue(FailureKind.PERMANENT, "the query returned no rows: no value")
        if column is None:
            columns = [k for k in records[0] if k != "attributes"]
            if len(columns) != 1:
                raise FetchError(
                    FailureKind.PERMANENT,
                    f"the query returns columns {', '.join(columns) or 'none'}: "
                    "name the one to use with value:",
                )
            column = columns[0]
        numbers = [_number(record, str(column)) for record in records]
        if combine is None and len(records) == 1:
            if numbers[0] is None:
                if null_is_zero(soql):
                    return 0.0
                raise _NoValue(FailureKind.PERMANENT, f"the query returned no value for {column}")
            return numbers[0]
        present = [n for n in numbers if n is not None]
        combine = combine or "sum"
        if combine == "count":
            return float(len(records))
        if combine == "sum":
            return math.fsum(present)
        if not present:
            raise _NoValue(FailureKind.PERMANENT, f"no row has a value for {column}")
        if combine == "avg":
            return math.fsum(present) / len(present)
        return min(present) if combine == "min" else max(present)

    # -- HTTP -------------------------------------------------------------------------------

    def credentials(self) -> Credentials:
        """A bearer token: the referenced ``access_token``, or one from the OAuth token
        endpoint, whose answer names the instance the calls go to (unless ``endpoint`` is set).
        """
        instance = None
        if self._flow == "token":
            token = self.required_secret("access_token")
        elif self._flow not in FLOWS or self._token_url is None:
            raise FetchError(
                FailureKind.AUTH,
                f"connection {self.connection.name!r}: auth {self._flow!r} is not usable "
                "(see okr lint)",
            )
        else:
            secrets = {k: self._secret(k) for k in ("client_id", "client_secret", "refresh_token")}
            answer = self.oauth_token(self._token_url, token_form(self._flow, secrets),
                                      what=f"auth {self._flow}")
            token, instance = str(answer["access_token"]), answer.get("instance_url")
        named = str(instance) if instance and not self.connection.endpoint else None
        if not (named or self.endpoint):
            raise FetchError(FailureKind.PERMANENT, "the connection has no instance_url")
        return Credentials(headers={"Authorization": f"Bearer {token}"}, endpoint=named)

    def credentials_expired(self, response: requests.Response) -> bool:
        """A 401 ``INVALID_SESSION_ID`` with an OAuth flow: the token is renewed, once."""
        return (self._flow != "token" and response.status_code == 401
                and _error_code(response) == "INVALID_SESSION_ID")

    def error(self, response: requests.Response, what: str) -> FetchError:
        """Classify an error answer (see :func:`_error`)."""
        return _error(response)

    def _secret(self, key: str) -> str | None:
        value = self.connection.settings.get(key)
        plain = isinstance(value, str) and not is_secret_reference(value)
        if key == "client_id" and plain:
            return str(value)  # a consumer key is an identifier; a reference is accepted too
        try:
            return self.secret(key)
        except SourceError as exc:
            raise FetchError(FailureKind.AUTH, str(exc)) from None

    def _get(
        self, path: str, params: Mapping[str, str] | None, stats: _Stats
    ) -> Mapping[str, Any]:
        """One paced call (:meth:`HttpSource.call`), counted with its API usage."""
        response = self.call("GET", path, params=params, what="the query")
        stats.calls += 1
        usage = response.headers.get("Sforce-Limit-Info", "")
        if usage.startswith("api-usage="):
            stats.api_usage = usage[len("api-usage=") :].strip()
        try:
            page = response.json()
        except ValueError:
            raise FetchError(
                FailureKind.TRANSIENT, "Salesforce answered 200 with a body that is not JSON"
            ) from None
        if not isinstance(page, Mapping):
            raise FetchError(
                FailureKind.TRANSIENT, "Salesforce answered 200 with an unexpected body"
            )
        return page


def bind_or_fail(soql: str, values: Mapping[str, Any]) -> str:
    """Bind placeholders; a missing or unbindable value is a permanent failure."""
    try:
        return bind(soql, values)
    except KeyError as exc:
        message = f"placeholder :{exc.args[0]} has no value"
        raise FetchError(FailureKind.PERMANENT, message) from None
    except ValueError as exc:
        raise FetchError(FailureKind.PERMANENT, f"cannot bind a placeholder: {exc}") from None


def _first_error(response: requests.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        return body[0]
    return body if isinstance(body, Mapping) else {}


def _error_code(response: requests.Response) -> str:
    return str(_first_error(response).get("errorCode") or "")


def _error(response: requests.Response) -> FetchError:
    """Classify an error answer (a JSON array of {message, errorCode}) by status and code."""
    status = response.status_code
    first = _first_error(response)
    code = first.get("errorCode") or response.reason or "error"
    message = first.get("message") or "no message"
    label = f"Salesforce {status} {code}: {message}"
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 401:
        return FetchError(FailureKind.AUTH, f"{label} (the session is invalid or expired)")
    if code == "REQUEST_LIMIT_EXCEEDED":
        if "TotalRequests" in str(message):
            # the org's 24-hour rolling API allowance: retrying in this run cannot help
            quota = f"{label} (24-hour rolling org limit)"
            return FetchError(FailureKind.QUOTA, quota, retry_after)
        return FetchError(FailureKind.TRANSIENT, label, retry_after)  # e.g. concurrent requests
    if status == 403:
        return FetchError(FailureKind.AUTH, f"{label} (the user lacks access or API is disabled)")
    if status >= 500 or code in ("SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW"):
        return FetchError(FailureKind.TRANSIENT, label, retry_after)
    return FetchError(FailureKind.PERMANENT, label)


def _total_size(page: Mapping[str, Any]) -> int:
    total = page.get("totalSize")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise FetchError(
            FailureKind.TRANSIENT, f"Salesforce answer has no valid totalSize: {total!r}"
        )
    return total


def _records(page: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    records = page.get("records")
    if not isinstance(records, list):
        raise FetchError(FailureKind.TRANSIENT, "Salesforce answer has no records list")
    return [r for r in records if isinstance(r, Mapping)]


def _number(record: Mapping[str, Any], column: str) -> float | None:
    """A column's value (``Account.AnnualRevenue`` follows relationships) as a number."""
    value: Any = record
    for part in column.split("."):
        if not isinstance(value, Mapping):
            return None
        if part in value:
            value = value[part]
            continue
        lowered = {str(k).lower(): k for k in value}
        if part.lower() not in lowered:
            raise FetchError(FailureKind.PERMANENT, f"the query's rows have no column {column!r}")
        value = value[lowered[part.lower()]]
    if value is None:
        return None
    if isinstance(value, bool):
        raise FetchError(FailureKind.PERMANENT, f"column {column!r} is {value!r}, not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FetchError(
            FailureKind.PERMANENT, f"column {column!r} is {value!r}, not a number"
        ) from None
    if not math.isfinite(number):
        raise FetchError(FailureKind.PERMANENT, f"column {column!r} is {value!r}, not a number")
    return number
