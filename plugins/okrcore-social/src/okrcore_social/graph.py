"""Meta Graph API sources: Facebook Page and Instagram professional-account numbers.

Two kinds of query: a ``field`` of the account object (``followers_count``: the level now) or an
Insights ``metric`` over the request's window (daily values; summed for a cumulative key result,
the last one for a gauge). Requests for the same account and window share one call.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from okrcore.errors import SourceError
from okrcore.model import Connection, KeyResult, Measure
from okrcore.sources import (
    HTTP_SETTINGS,
    Credentials,
    Failure,
    FailureKind,
    FetchError,
    FetchRequest,
    HttpSource,
    Limits,
    QueryProblem,
    Reading,
    http_setting_problems,
    is_secret_reference,
    unknown_keys,
)

from ._version import __version__
from .common import current_only_problem, number, today
from .graph_api import day_of, graph_error, usage_of
from .removed import facebook_replacement, instagram_replacement

if TYPE_CHECKING:  # imported where it is used, so that listing plugins stays fast
    import requests

__all__ = ["DEFAULT_GRAPH_VERSION", "FacebookSource", "GraphSource", "InstagramSource"]

DEFAULT_GRAPH_VERSION = "v25.0"
DEFAULT_ENDPOINT = "https://graph.facebook.com"
DEFAULT_TIMEOUT = 30.0
_SETTINGS = {"access_token", "app_secret", "graph_version", "page_id", "ig_user_id", "timeout",
             "concurrency", "max_batch", "requests_per_second"}  # fmt: skip
_VERSION = re.compile(r"^v\d+\.\d+$")
_METRIC = re.compile(r"^[a-z0-9_]+$")
_PERIODS = ("day", "week", "days_28", "month", "lifetime", "total_over_range")


class GraphSource(HttpSource):
    """Shared machinery of the Graph API sources (not registered itself).

    Connection settings: ``access_token`` (``env:``/``file:`` reference to a Page or user
    token), optional ``app_secret`` (reference; adds ``appsecret_proof``), ``graph_version``
    (pinned, default v25.0), the default account id (``page_id`` or ``ig_user_id``),
    ``timeout``, ``concurrency``, ``max_batch`` and ``requests_per_second``. ``endpoint``
    overrides ``https://graph.facebook.com``.
    """

    account_key: ClassVar[str] = ""
    account_setting: ClassVar[str] = ""
    fields: ClassVar[frozenset[str]] = frozenset()
    window_days: ClassVar[int] = 90
    service: ClassVar[str] = ""
    history_hint: ClassVar[str] = ""
    query_keys: ClassVar[frozenset[str]] = frozenset({"field", "metric", "period", "combine"})

    @classmethod
    def replacement(cls, metric: str) -> str | None:
        """The metric that replaces a removed one; ``None`` when ``metric`` is not removed."""
        return None

    user_agent = f"okrcore-social/{__version__}"
    default_endpoint = DEFAULT_ENDPOINT
    default_concurrency = 4
    default_timeout = DEFAULT_TIMEOUT

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        settings = connection.settings
        self._version = str(settings.get("graph_version", DEFAULT_GRAPH_VERSION))
        self._max_batch = int(settings.get("max_batch", 10))
        rate = settings.get("requests_per_second")
        self._rate = float(rate) if rate else None

    # -- contract ---------------------------------------------------------------------------

    def limits(self) -> Limits:
        """Batches of requests for one account answered by one call."""
        return Limits(max_batch=self._max_batch, concurrency=self.concurrency, rate=self._rate)

    @classmethod
    def validate_connection(cls, connection: Connection) -> list[QueryProblem]:
        """Token and app secret by reference; a pinned Graph version like v25.0."""
        settings = connection.settings
        problems = unknown_keys(settings, {*_SETTINGS, *HTTP_SETTINGS})
        problems += http_setting_problems(settings)
        for key in ("access_token", "app_secret"):
            value = settings.get(key)
            if (value is not None or key == "access_token") and not is_secret_reference(value):
                problems.append(
                    QueryProblem(key, f"set {key} to 'env:NAME' or 'file:PATH' (never inline)")
                )
        version = settings.get("graph_version", DEFAULT_GRAPH_VERSION)
        if not (isinstance(version, str) and _VERSION.match(version)):
            problems.append(QueryProblem("graph_version", f"{version!r} is not like v25.0"))
        return problems

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        """One of field or metric; removed metrics are refused with their replacement named."""
        known = cls.query_keys | {cls.account_key}
        problems = [
            QueryProblem(key, f"unknown key {key!r} (known: {', '.join(sorted(known))})")
            for key in sorted(set(query) - known)
        ]
        account = query.get(cls.account_key)
        if account is not None and not (isinstance(account, (str, int)) and str(account)):
            problems.append(QueryProblem(cls.account_key, "expected an id"))
        field, metric = query.get("field"), query.get("metric")
        if (field is None) == (metric is None):
            problems.append(
                QueryProblem("", f"give either field ({', '.join(sorted(cls.fields))}) or metric")
            )
        if field is not None and field not in cls.fields:
            problems.append(
                QueryProblem(
                    "field",
                    f"{field!r} is not a {cls.service} field okrcore reads "
                    f"(known: {', '.join(sorted(cls.fields))})",
                )
            )
        if metric is not None:
            if not (isinstance(metric, str) and _METRIC.match(metric)):
                problems.append(QueryProblem("metric", f"{metric!r} is not a metric name"))
            else:
                instead = cls.replacement(metric)
                if instead:
                    problems.append(
                        QueryProblem(
                            "metric", f"Meta has removed {metric!r}; use {instead!r} instead"
                        )
                    )
        if query.get("period", "day") not in _PERIODS:
            problems.append(QueryProblem("period", f"period must be one of {', '.join(_PERIODS)}"))
        if field is not None and kr.measure is Measure.CUMULATIVE:
            problems.append(
                QueryProblem(
                    "field",
                    f"{field} is a level with no daily history: use measure gauge, or an "
                    "insights metric for a cumulative key result",
                )
            )
        if query.get("combine", "sum") not in ("sum", "last"):
            problems.append(QueryProblem("combine", "combine is sum or last"))
        return problems

    def check_online(
        self, queries: Sequence[tuple[KeyResult, Mapping[str, Any]]]
    ) -> list[tuple[str, QueryProblem]]:
        """Ask for each field, and for each metric over yesterday, to see that the API knows it.

        Authentication, permission and network errors raise :class:`okrcore.errors.SourceError`.
        """
        found: list[tuple[str, QueryProblem]] = []
        yesterday = today() - dt.timedelta(days=1)
        for kr, query in queries:
            if self.validate_query(query, kr):
                continue  # the offline lint reports these
            account = str(query.get(self.account_key) or self.connection.settings.get(
                self.account_setting) or "")
            if not account:
                found.append((kr.id, QueryProblem(self.account_key, f"no {self.account_key} id")))
                continue
            try:
                if "field" in query:
                    self._get(f"/{account}", {"fields": str(query["field"])})
                else:
                    params = {
                        "metric": str(query["metric"]),
                        "period": str(query.get("period", "day")),
                        "since": yesterday.isoformat(),
                        "until": today().isoformat(),
                    }
                    if query.get("metric_type", "time_series") != "time_series":
                        params["metric_type"] = str(query["metric_type"])
                    self._get(f"/{account}/insights", params)
            except FetchError as failed:
                if failed.kind is not FailureKind.PERMANENT:
                    raise SourceError(failed.message) from None
                field = "field" if "field" in query else "metric"
                found.append((kr.id, QueryProblem(field, failed.message)))
        return found

    def batches(self, requests: Sequence[FetchRequest]) -> list[list[FetchRequest]]:
        """Group requests one call can answer (same account, same window), then chunk them."""
        groups: dict[tuple[Any, ...], list[FetchRequest]] = {}
        for request in requests:
            groups.setdefault(self._group_key(request), []).append(request)
        out: list[list[FetchRequest]] = []
        for group in groups.values():
            size = self._max_batch
            out.extend(group[i : i + size] for i in range(0, len(group), size))
        return out

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterable[Reading | Failure]:
        """One reading or failure per request; remote errors are classified, never raised."""
        for group in self.batches(requests):
            account = self._account(group[0])
            if not account:
                for request in group:
                    yield Failure(
                        request,
                        FailureKind.PERMANENT,
                        f"no {self.account_key} id: set {self.account_key} in the query or "
                        f"{self.account_setting} in connection {self.connection.name!r}",
                    )
            elif "field" in group[0].query:
                yield from self._fields(account, group)
            else:
                yield from self._insights(account, group)

    # -- fields -----------------------------------------------------------------------------

    def _group_key(self, request: FetchRequest) -> tuple[Any, ...]:
        query = request.query
        if "field" in query:
            return (self._account(request), "field")
        return (
            self._account(request),
            "metric",
            query.get("period", "day"),
            query.get("metric_type", "time_series"),
            request.start,
            request.end,
            request.series,
        )

    def _account(self, request: FetchRequest) -> str:
        value = request.query.get(self.account_key) or self.connection.settings.get(
            self.account_setting
        )
        return str(value) if value else ""

    def _fields(self, account: str, group: list[FetchRequest]) -> Iterable[Reading | Failure]:
        ready = []
        for request in group:
            why = current_only_problem(request, str(request.query["field"]), self.history_hint)
            if why:
                yield Failure(request, FailureKind.PERMANENT, why)
            else:
                ready.append(request)
        if not ready:
            return
        names = list(dict.fromkeys(str(r.query["field"]) for r in ready))
        try:
            body, info = self._get(f"/{account}", {"fields": ",".join(names)})
        except FetchError as failed:
            for request in ready:
                yield failed.failure(request)
            return
        for request in ready:
            name = str(request.query["field"])
            try:
                if body.get(name) is None:
                    raise FetchError(
                        FailureKind.PERMANENT,
                        f"{self.service} {account} returned no {name} (not available for this "
                        "account, or the token lacks the permission)",
                    )
                value = number(body[name], name)
            except FetchError as failed:
                yield Failure(request, failed.kind, failed.message)
                continue
            yield Reading.total(request, value, info=info)

    # -- insights ---------------------------------------------------------------------------

    def _insights(self, account: str, group: list[FetchRequest]) -> Iterable[Reading | Failure]:
        first = group[0]
        metrics = list(dict.fromkeys(str(r.query["metric"]) for r in group))
        period = str(first.query.get("period", "day"))
        metric_type = str(first.query.get("metric_type", "time_series"))
        try:
            data, info = self._insights_data(account, metrics, period, metric_type, first)
        except FetchError as failed:
            if failed.kind is FailureKind.PERMANENT and len(metrics) > 1:
                # one bad metric fails the whole call: ask for each alone to isolate it
                for metric in metrics:
                    yield from self._insights(
                        account, [r for r in group if r.query["metric"] == metric]
                    )
                return
            message = failed.message
            instead = self.replacement(metrics[0]) if len(metrics) == 1 else None
            if instead:
                message += f" ({metrics[0]!r} was removed by Meta; use {instead!r})"
            for request in group:
                yield Failure(request, failed.kind, message, failed.retry_after)
            return
        for request in group:
            try:
                yield self._reading(request, data, metric_type, info)
            except FetchError as failed:
                yield Failure(request, failed.kind, failed.message)

    def _reading(
        self,
        request: FetchRequest,
        data: Mapping[str, list[tuple[dt.date | None, float]]],
        metric_type: str,
        info: Mapping[str, Any],
    ) -> Reading:
        metric = str(request.query["metric"])
        points = [
            (day, value)
            for day, value in data.get(metric, [])
            if day is None or request.start <= day <= request.end
        ]
        if not points:
            raise FetchError(
                FailureKind.PERMANENT,
                f"{metric} returned no values for {request.start}..{request.end}",
            )
        if request.series:
            return Reading(request, [(d, v) for d, v in points if d is not None], info=info)
        default = "last" if request.measure is Measure.GAUGE else "sum"
        combine = request.query.get("combine", default)
        value = points[-1][1] if combine == "last" else math.fsum(v for _, v in points)
        return Reading.total(request, value, info=info)

    def _insights_data(
        self,
        account: str,
        metrics: list[str],
        period: str,
        metric_type: str,
        request: FetchRequest,
    ) -> tuple[dict[str, list[tuple[dt.date | None, float]]], dict[str, Any]]:
        """Values per metric over the window, asked in chunks of at most ``window_days``."""
        data: dict[str, list[tuple[dt.date | None, float]]] = {m: [] for m in metrics}
        info: dict[str, Any] = {}
        calls = 0
        # a total_value metric has no daily values: a daily series asks one day at a time
        span = 1 if request.series and metric_type == "total_value" else self.window_days
        low = request.start
        while low <= request.end:
            high = min(request.end, low + dt.timedelta(days=span - 1))
            params = {
                "metric": ",".join(metrics),
                "period": period,
                "since": low.isoformat(),
                "until": (high + dt.timedelta(days=1)).isoformat(),
            }
            if metric_type != "time_series":
                params["metric_type"] = metric_type
            body, info = self._get(f"/{account}/insights", params)
            calls += 1
            for item in body.get("data") or []:
                if not isinstance(item, Mapping) or item.get("name") not in data:
                    continue
                name = str(item["name"])
                if metric_type == "total_value":
                    total = item.get("total_value")
                    value = total.get("value") if isinstance(total, Mapping) else None
                    data[name].append((low if span == 1 else None, number(value, name)))
                    continue
                for entry in item.get("values") or []:
                    if isinstance(entry, Mapping) and "value" in entry:
                        day = day_of(entry.get("end_time"))
                        data[name].append((day, number(entry["value"], name)))
            low = high + dt.timedelta(days=1)
        info = {**info, "requests": calls}
        return data, info

    # -- HTTP -------------------------------------------------------------------------------

    def credentials(self) -> Credentials:
        """The token in the query string (the Graph API takes it there; no message names the
        URL), with its ``appsecret_proof`` when the connection has an app secret."""
        name = self.connection.name
        try:
            token = self.secret("access_token")
            app_secret = self.secret("app_secret")
        except SourceError as exc:
            raise FetchError(FailureKind.AUTH, str(exc)) from None
        if not token:
            raise FetchError(FailureKind.AUTH, f"connection {name!r} has no access_token")
        params = {"access_token": token}
        if app_secret:
            params["appsecret_proof"] = hmac.new(
                app_secret.encode(), token.encode(), hashlib.sha256
            ).hexdigest()
        return Credentials(params=params)

    def error(self, response: requests.Response, what: str) -> FetchError:
        """Classify an error answer by its ``error.code`` (:func:`graph_error`)."""
        return graph_error(response.status_code, _body(response), usage_of(response))

    def _get(
        self, path: str, params: Mapping[str, str]
    ) -> tuple[Mapping[str, Any], dict[str, Any]]:
        response = self.call("GET", f"/{self._version}{path}", params=params, what=path)
        usage = usage_of(response)
        body = _body(response)
        if isinstance(body, Mapping) and "error" in body:  # an error can come with a 200
            raise graph_error(response.status_code, body, usage)
        if not isinstance(body, Mapping):
            raise FetchError(
                FailureKind.TRANSIENT, f"{self.service} answered with a body that is not JSON"
            )
        return body, {"usage": usage} if usage else {}


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class FacebookSource(GraphSource):
    """Facebook Page fields (followers_count, fan_count...) and Page Insights metrics."""

    name = "facebook"
    account_key = "page"
    account_setting = "page_id"
    fields = frozenset({
        "followers_count", "fan_count", "talking_about_count", "were_here_count", "checkins",
        "rating_count", "new_like_count",
    })  # fmt: skip
    window_days = 90
    service = "Facebook Page"
    history_hint = "use the Insights metric page_follows for a history"
    @classmethod
    def replacement(cls, metric: str) -> str | None:
        """The replacement of a removed Page Insights metric."""
        return facebook_replacement(metric)


class InstagramSource(GraphSource):
    """Instagram professional-account fields and insights (``metric_type`` time_series or
    total_value)."""

    name = "instagram"
    account_key = "account"
    account_setting = "ig_user_id"
    fields = frozenset({"followers_count", "follows_count", "media_count"})
    window_days = 30
    service = "Instagram account"
    history_hint = "use an insights metric such as follower_count or reach for a history"
    @classmethod
    def replacement(cls, metric: str) -> str | None:
        """The replacement of a removed Instagram metric."""
        return instagram_replacement(metric)
    query_keys = GraphSource.query_keys | {"metric_type"}

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        """As for Graph sources, plus ``metric_type``."""
        problems = super().validate_query(query, kr)
        if query.get("metric_type", "time_series") not in ("time_series", "total_value"):
            problems.append(
                QueryProblem("metric_type", "metric_type is time_series or total_value")
            )
        return problems
