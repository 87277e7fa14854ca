"""The ``youtube`` source: channel statistics from the YouTube Data API v3 by API key."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

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
    parse_retry_after,
    unknown_keys,
)

from ._version import __version__
from .common import current_only_problem, number

if TYPE_CHECKING:  # imported where it is used, so that listing plugins stays fast
    import requests

__all__ = ["METRICS", "YouTubeSource"]

DEFAULT_ENDPOINT = "https://www.googleapis.com"
METRICS = ("subscriberCount", "viewCount", "videoCount")
MAX_IDS = 50  # channels.list takes up to 50 ids a call, for 1 quota unit
_SETTINGS = {"api_key", "timeout", "concurrency", "channel"}
_CHANNEL = re.compile(r"^UC[A-Za-z0-9_-]{22}$")
_QUOTA_REASONS = ("quotaExceeded", "dailyLimitExceeded")
_RATE_REASONS = ("rateLimitExceeded", "userRateLimitExceeded")
_AUTH_REASONS = ("keyInvalid", "keyExpired", "forbidden", "accessNotConfigured",
                 "ipRefererBlocked", "authError")  # fmt: skip
HISTORY_HINT = "YouTube Analytics reports are needed for history; check in daily instead"


def seconds_to_pacific_midnight(now: dt.datetime | None = None) -> float | None:
    """Seconds until the daily quota resets (midnight Pacific time); ``None`` without tz data."""
    try:
        from zoneinfo import ZoneInfo

        pacific = ZoneInfo("America/Los_Angeles")
    except Exception:  # no tz database (e.g. Windows without tzdata)
        return None
    local = (now or dt.datetime.now(dt.timezone.utc)).astimezone(pacific)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tzinfo=pacific)
    return (midnight - local).total_seconds()


class YouTubeSource(HttpSource):
    """A channel's ``subscriberCount``, ``viewCount`` or ``videoCount`` (current values).

    Connection settings: ``api_key`` (``env:``/``file:`` reference), optional default
    ``channel``, ``timeout`` and ``concurrency``. ``endpoint`` overrides
    ``https://www.googleapis.com``. Query: ``channel`` (a UC... id) or ``handle`` (@name) and
    ``metric``.
    """

    name = "youtube"
    service = "YouTube"
    user_agent = f"okrcore-social/{__version__}"
    default_endpoint = DEFAULT_ENDPOINT

    def limits(self) -> Limits:
        """Up to 50 channels a call (1 quota unit)."""
        return Limits(max_batch=MAX_IDS, concurrency=self.concurrency, rate=None)

    @classmethod
    def validate_connection(cls, connection: Connection) -> list[QueryProblem]:
        """The API key must be a reference."""
        settings = connection.settings
        problems = unknown_keys(settings, {*_SETTINGS, *HTTP_SETTINGS})
        problems += http_setting_problems(settings)
        if not is_secret_reference(settings.get("api_key")):
            problems.append(
                QueryProblem("api_key", "set api_key to 'env:NAME' or 'file:PATH' (never inline)")
            )
        return problems

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        """A metric of the statistics part, and a channel id or a handle."""
        known = {"channel", "handle", "metric"}
        problems = [
            QueryProblem(key, f"unknown key {key!r} (known: {', '.join(sorted(known))})")
            for key in sorted(set(query) - known)
        ]
        if kr.measure is Measure.CUMULATIVE:
            problems.append(
                QueryProblem(
                    "metric", "channel statistics are current totals: use measure gauge"
                )
            )
        if query.get("metric") not in METRICS:
            problems.append(QueryProblem("metric", f"metric is one of {', '.join(METRICS)}"))
        if "channel" in query and "handle" in query:
            problems.append(QueryProblem("", "give channel or handle, not both"))
        channel = query.get("channel")
        if channel is not None and not (isinstance(channel, str) and _CHANNEL.match(channel)):
            problems.append(QueryProblem("channel", f"{channel!r} is not a channel id (UC...)"))
        handle = query.get("handle")
        if handle is not None and not (isinstance(handle, str) and handle.startswith("@")):
            problems.append(QueryProblem("handle", "a handle starts with @"))
        return problems

    def check_online(
        self, queries: Sequence[tuple[KeyResult, Mapping[str, Any]]]
    ) -> list[tuple[str, QueryProblem]]:
        """Check that each channel (or handle) exists; a key or quota error raises SourceError."""
        found: list[tuple[str, QueryProblem]] = []
        for kr, query in queries:
            if self.validate_query(query, kr):
                continue  # the offline lint reports these
            if "handle" in query:
                params, field, who = {"forHandle": str(query["handle"])}, "handle", query["handle"]
            else:
                who = query.get("channel") or self.connection.settings.get("channel")
                params, field = {"id": str(who or "")}, "channel"
            try:
                body = self._get({"part": "id", **params})
            except FetchError as failed:
                if failed.kind is not FailureKind.PERMANENT:
                    raise SourceError(failed.message) from None
                found.append((kr.id, QueryProblem(field, failed.message)))
                continue
            if not body.get("items"):
                found.append((kr.id, QueryProblem(field, f"YouTube has no channel {who}")))
        return found

    def batches(self, requests: Sequence[FetchRequest]) -> list[list[FetchRequest]]:
        """Channels by id share calls (50 ids each); each handle needs a call of its own."""
        by_id = [r for r in requests if "handle" not in r.query]
        out: list[list[FetchRequest]] = []
        ids: dict[str, list[FetchRequest]] = {}
        for request in by_id:
            ids.setdefault(self._channel(request), []).append(request)
        chunk: list[FetchRequest] = []
        count = 0
        for group in ids.values():
            if count == MAX_IDS:
                out.append(chunk)
                chunk, count = [], 0
            chunk.extend(group)
            count += 1
        if chunk:
            out.append(chunk)
        handles: dict[str, list[FetchRequest]] = {}
        for request in requests:
            if "handle" in request.query:
                handles.setdefault(str(request.query["handle"]), []).append(request)
        out.extend(handles.values())
        return out

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterable[Reading | Failure]:
        """One reading or failure per request; remote errors are classified, never raised."""
        for batch in self.batches(requests):
            ready = []
            for request in batch:
                why = current_only_problem(request, str(request.query.get("metric")), HISTORY_HINT)
                if why:
                    yield Failure(request, FailureKind.PERMANENT, why)
                elif "handle" not in request.query and not self._channel(request):
                    yield Failure(request, FailureKind.PERMANENT, "no channel: set channel")
                else:
                    ready.append(request)
            if ready:
                yield from self._fetch_batch(ready)

    def _channel(self, request: FetchRequest) -> str:
        value = request.query.get("channel") or self.connection.settings.get("channel")
        return str(value) if value else ""

    def _fetch_batch(self, batch: list[FetchRequest]) -> Iterable[Reading | Failure]:
        params: dict[str, str] = {"part": "statistics"}
        if "handle" in batch[0].query:
            params["forHandle"] = str(batch[0].query["handle"])
        else:
            ids = list(dict.fromkeys(self._channel(r) for r in batch))
            params["id"] = ",".join(ids)
            params["maxResults"] = str(MAX_IDS)
        try:
            body = self._get(params)
        except FetchError as failed:
            for request in batch:
                yield failed.failure(request)
            return
        items = [i for i in body.get("items") or [] if isinstance(i, Mapping)]
        by_id = {str(i.get("id")): i for i in items}
        info = {"quota_units": 1}
        for request in batch:
            if "handle" in request.query:
                item = items[0] if items else None
                who = str(request.query["handle"])
            else:
                who = self._channel(request)
                item = by_id.get(who)
            metric = str(request.query["metric"])
            try:
                if item is None:
                    raise FetchError(FailureKind.PERMANENT, f"YouTube has no channel {who}")
                stats = item.get("statistics")
                stats = stats if isinstance(stats, Mapping) else {}
                if metric == "subscriberCount" and stats.get("hiddenSubscriberCount") is True:
                    raise FetchError(
                        FailureKind.PERMANENT, f"channel {who} hides its subscriber count"
                    )
                if stats.get(metric) is None:
                    raise FetchError(FailureKind.PERMANENT, f"channel {who} reports no {metric}")
                value = number(stats[metric], metric)  # counts arrive as strings
            except FetchError as failed:
                yield Failure(request, failed.kind, failed.message)
                continue
            yield Reading.total(request, value, info=info)

    def credentials(self) -> Credentials:
        """The API key as the ``key`` parameter (no message names the URL)."""
        try:
            key = self.secret("api_key")
        except SourceError as exc:
            raise FetchError(FailureKind.AUTH, str(exc)) from None
        if not key:
            raise FetchError(FailureKind.AUTH, "the connection has no api_key")
        return Credentials(params={"key": key})

    def error(self, response: requests.Response, what: str) -> FetchError:
        """Classify an error answer by its first ``errors[].reason`` (:func:`youtube_error`)."""
        return youtube_error(response.status_code, _body(response),
                             response.headers.get("Retry-After"))

    def _get(self, params: Mapping[str, str]) -> Mapping[str, Any]:
        body = _body(self.call("GET", "/youtube/v3/channels", params=params, what="channels"))
        if not isinstance(body, Mapping):
            raise FetchError(FailureKind.TRANSIENT, "YouTube answered with a body that is not JSON")
        return body


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def youtube_error(status: int, body: Any, retry_after: str | None) -> FetchError:
    """Classify a Google API error by its first ``errors[].reason``."""
    error = body.get("error") if isinstance(body, Mapping) else None
    error = error if isinstance(error, Mapping) else {}
    details = error.get("errors")
    first = details[0] if isinstance(details, list) and details else {}
    reason = str(first.get("reason", "")) if isinstance(first, Mapping) else ""
    label = (
        f"YouTube {status}{f' {reason}' if reason else ''}: "
        f"{error.get('message', 'no message')}"
    )
    if reason in _QUOTA_REASONS:
        return FetchError(
            FailureKind.QUOTA,
            f"{label} (the daily quota resets at midnight Pacific time)",
            seconds_to_pacific_midnight(),
        )
    if reason in _RATE_REASONS or status == 429:
        return FetchError(FailureKind.TRANSIENT, label, parse_retry_after(retry_after))
    if status in (401, 403) or reason in _AUTH_REASONS or "API key not valid" in label:
        return FetchError(FailureKind.AUTH, label)
    if status >= 500:
        return FetchError(FailureKind.TRANSIENT, label, parse_retry_after(retry_after))
    return FetchError(FailureKind.PERMANENT, label)
