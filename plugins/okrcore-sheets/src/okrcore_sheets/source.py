"""The ``sheets`` metric source: a cell, or a date column and a value column, of a Google Sheets
spreadsheet (Sheets API v4 ``values:batchGet``, through Google's own client libraries)."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from okrcore.errors import SourceError
from okrcore.model import Connection, KeyResult, Measure
from okrcore.sources import (
    Failure,
    FailureKind,
    FetchError,
    FetchRequest,
    Limits,
    QueryProblem,
    Reading,
    Source,
    Throttle,
    is_secret_reference,
    parse_retry_after,
    positive_number_problems,
    unknown_keys,
)

from .cells import cell_date, cell_number, range_problem, sheet_of

__all__ = ["DEFAULT_ENDPOINT", "DEFAULT_RATE", "SCOPES", "SheetsSource", "spreadsheet_id"]

DEFAULT_ENDPOINT = "https://sheets.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/spreadsheets.readonly"]
# Sheets allows 60 read requests per minute per user: stay under it.
DEFAULT_RATE = 0.9
QUOTA_WINDOW = 60.0  # "after 1 minute, you can execute requests again"
DEFAULT_TIMEOUT = 30.0
_SETTINGS = ("credentials", "api_key", "requests_per_second", "timeout")
_KEYS = ("spreadsheet", "cell", "dates", "values", "date_format")
_ID = re.compile(r"^[A-Za-z0-9_-]{20,}$")
_URL = re.compile(r"/spreadsheets/d/([A-Za-z0-9_-]+)")


def spreadsheet_id(value: Any) -> str | None:
    """A spreadsheet's id, from the id or the spreadsheet's URL."""
    if not isinstance(value, str):
        return None
    match = _URL.search(value)
    text = match.group(1) if match else value.strip()
    return text if _ID.match(text) else None


class SheetsSource(Source):
    """A cell (a gauge's level) or dated rows (a daily series) of Google Sheets spreadsheets.

    Connection settings: ``credentials`` (``file:PATH`` of a service account's JSON key) or
    ``api_key`` (``env:NAME`` or ``file:PATH``, for spreadsheets anyone with the link can view),
    optional ``requests_per_second`` (default 0.9) and ``timeout`` (seconds, default 30);
    ``endpoint`` overrides ``https://sheets.googleapis.com``. All key results on one
    spreadsheet are read with one ``values:batchGet``.
    """

    name = "sheets"

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        settings = connection.settings
        self._endpoint = (connection.endpoint or DEFAULT_ENDPOINT).rstrip("/")
        configured = settings.get("timeout")
        self._configured_timeout = float(configured) if configured is not None else None
        self._throttle = Throttle(float(settings.get("requests_per_second", DEFAULT_RATE)))
        self._lock = threading.Lock()  # the client's httplib2 connection is not thread-safe
        self._service: Any = None
        self._auth_error: str | None = None

    @property
    def _seconds(self) -> float:
        return self._configured_timeout or self.timeout or DEFAULT_TIMEOUT

    # -- contract ---------------------------------------------------------------------------

    def limits(self) -> Limits:
        """One spreadsheet per fetch call, one call at a time (one client connection)."""
        return Limits(max_batch=1000, concurrency=1, rate=None)

    @classmethod
    def validate_connection(cls, connection: Connection) -> list[QueryProblem]:
        """Exactly one of credentials and api_key, as secret references; positive numbers."""
        settings = connection.settings
        problems = unknown_keys(settings, _SETTINGS)
        given = [k for k in ("credentials", "api_key") if k in settings]
        if len(given) != 1:
            problems.append(QueryProblem(
                "credentials", "set credentials to 'file:PATH' of a service account key, or "
                "api_key to 'env:NAME' for a spreadsheet anyone with the link can view"))
        for key in given:
            if not is_secret_reference(settings[key]):
                problems.append(QueryProblem(key, f"set {key} to 'env:NAME' or 'file:PATH'"))
        problems += positive_number_problems(settings, ("requests_per_second", "timeout"))
        return problems

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        """Spreadsheet id, A1 ranges (quoted sheet names), and a cell only for a gauge."""
        problems = unknown_keys(query, _KEYS, "key")
        if spreadsheet_id(query.get("spreadsheet")) is None:
            problems.append(QueryProblem("spreadsheet", "spreadsheet is the spreadsheet's URL "
                                                        "or the id in it"))
        if ("cell" in query) == ("dates" in query or "values" in query):
            problems.append(QueryProblem("cell", "give either cell, or dates and values"))
        elif "cell" in query:
            problem = range_problem(query["cell"], single=True)
            if problem:
                problems.append(QueryProblem("cell", problem))
            if kr.measure is Measure.CUMULATIVE:
                problems.append(QueryProblem(
                    "cell", "a cumulative key result needs daily amounts: give dates and values "
                    "(a date column and a value column)"))
        else:
            for key in ("dates", "values"):
                problem = range_problem(query.get(key))
                if problem:
                    problems.append(QueryProblem(key, problem))
        fmt = query.get("date_format")
        if fmt is not None and not (isinstance(fmt, str) and "%" in fmt):
            problems.append(QueryProblem("date_format", "date_format is a strptime format, "
                                                        "e.g. '%d/%m/%Y'"))
        return problems

    def batches(self, requests: Sequence[FetchRequest]) -> list[list[FetchRequest]]:
        """One batch per spreadsheet: one batchGet reads every range its key results name."""
        groups: dict[str, list[FetchRequest]] = {}
        for request in requests:
            ident = spreadsheet_id(request.query.get("spreadsheet")) or f"\0{request.kr.id}"
            groups.setdefault(ident, []).append(request)
        return list(groups.values())

    # -- fetching ---------------------------------------------------------------------------

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterable[Reading | Failure]:
        """Read the ranges of each spreadsheet with one batchGet, then answer every request."""
        groups: dict[str, list[FetchRequest]] = {}
        for request in requests:
            problems = self.validate_query(request.query, request.kr)
            if problems:
                text = "; ".join(f"{p.field}: {p.message}" for p in problems)
                yield Failure(request, FailureKind.PERMANENT, f"invalid sheets query: {text}")
                continue
            groups.setdefault(str(spreadsheet_id(request.query["spreadsheet"])), []).append(
                request)
        for ident, group in groups.items():
            ranges = list(dict.fromkeys(
                str(r.query[k]).strip() for r in group for k in ("cell", "dates", "values")
                if k in r.query))
            try:
                columns = self._batch_get(ident, ranges)
            except FetchError as error:
                for request in group:
                    yield error.failure(request)
                continue
            for request in group:
                yield _reading(request, dict(zip(ranges, columns, strict=True)))

    def _batch_get(self, ident: str, ranges: list[str]) -> list[list[Any]]:
        """The first column of each range, in order (trailing blank cells are left out)."""
        answer = self._execute(
            lambda s: s.spreadsheets().values().batchGet(
                spreadsheetId=ident, ranges=ranges, majorDimension="COLUMNS",
                valueRenderOption="UNFORMATTED_VALUE", dateTimeRenderOption="SERIAL_NUMBER"),
            f"spreadsheet {ident}")
        found = answer.get("valueRanges")
        if not isinstance(found, list) or len(found) != len(ranges) or not all(
            isinstance(v, Mapping) for v in found
        ):
            raise FetchError(FailureKind.TRANSIENT, f"Sheets answered spreadsheet {ident} "
                                                    "without one valueRange per range")
        columns: list[list[Any]] = []
        for value_range in found:
            values = value_range.get("values") or [[]]  # no values key: an empty range
            if not isinstance(values, list) or not isinstance(values[0], list):
                raise FetchError(FailureKind.TRANSIENT,
                                 f"Sheets answered spreadsheet {ident} with malformed values")
            columns.append(values[0])
        return columns

    # -- the client -------------------------------------------------------------------------

    def _client(self) -> Any:
        """The Sheets service: built once, with the connection's credentials or API key."""
        if self._auth_error is not None:
            raise FetchError(FailureKind.AUTH, f"not sent: {self._auth_error}")
        if self._service is not None:
            return self._service
        # Google's clients ship no type information
        import google_auth_httplib2  # type: ignore[import-untyped]
        import httplib2  # type: ignore[import-untyped]
        from googleapiclient.discovery import build  # type: ignore[import-untyped]

        options = {"api_endpoint": self._endpoint}
        try:
            if "credentials" in self.connection.settings:
                from google.oauth2 import service_account

                info = json.loads(self.secret("credentials") or "")
                creds = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                    info, scopes=SCOPES)
                http: Any = google_auth_httplib2.AuthorizedHttp(
                    creds, http=httplib2.Http(timeout=self._seconds))
                self._service = build("sheets", "v4", http=http, static_discovery=True,
                                      client_options=options, cache_discovery=False)
            else:
                key = self.secret("api_key")
                self._service = build("sheets", "v4", developerKey=key,
                                      http=httplib2.Http(timeout=self._seconds),
                                      static_discovery=True, client_options=options,
                                      cache_discovery=False)
        except SourceError as exc:
            raise FetchError(FailureKind.AUTH, str(exc)) from None
        except (ValueError, KeyError) as exc:
            raise FetchError(FailureKind.AUTH,
                             f"connection {self.connection.name!r} credentials: not a service "
                             f"account key ({type(exc).__name__})") from None
        return self._service

    def _execute(self, make: Any, what: str) -> Mapping[str, Any]:
        """Build and run one request under the lock; errors become classified FetchErrors."""
        from google.auth.exceptions import RefreshError, TransportError
        from googleapiclient.errors import HttpError  # type: ignore[import-untyped]

        with self._lock:
            service = self._client()
            self._throttle.wait()
            try:
                answer = make(service).execute(num_retries=0)
            except HttpError as exc:
                error = _error(exc, what)
            except RefreshError as exc:
                error = FetchError(FailureKind.AUTH, "Google refused the service account key: "
                                   f"{_first_line(exc)}")
            except TransportError as exc:
                error = FetchError(FailureKind.TRANSIENT,
                                   f"cannot reach Google's token endpoint: {type(exc).__name__}")
            except (TimeoutError, OSError) as exc:
                # no answer (a hang, or no connection at all: refused, or an unknown host) is
                # marked timed_out: the engine retries it timeout_retries times, not retries
                hung = isinstance(exc, TimeoutError) or "timed out" in str(exc)
                refused = isinstance(exc, (ConnectionRefusedError, socket.gaierror))
                if hung:
                    message = f"Sheets did not answer within {self._seconds:g} s"
                elif refused:
                    message = (f"cannot reach {self._endpoint}: no connection (refused, or an "
                               "unknown host)")
                else:
                    message = f"cannot reach {self._endpoint}: {type(exc).__name__}"
                self._service = None  # a broken connection is not reused
                error = FetchError(FailureKind.TRANSIENT, message, timed_out=hung or refused)
            except Exception as exc:  # httplib2's own errors, malformed JSON
                self._service = None
                error = FetchError(FailureKind.TRANSIENT,
                                   f"Sheets answered {what} unreadably: {type(exc).__name__}")
            else:
                if not isinstance(answer, Mapping):
                    raise FetchError(FailureKind.TRANSIENT,
                                     f"Sheets answered {what} with a body that is not a JSON "
                                     "object")
                return answer
            if error.kind is FailureKind.AUTH:
                self._auth_error = self._auth_error or error.message
        raise error

    # -- online check -----------------------------------------------------------------------

    def check_online(
        self, queries: Sequence[tuple[KeyResult, Mapping[str, Any]]]
    ) -> list[tuple[str, QueryProblem]]:
        """Check that each spreadsheet is readable and has the sheets the ranges name.

        Reads each spreadsheet's sheet titles once. Authentication and network errors raise
        :class:`okrcore.errors.SourceError`.
        """
        found: list[tuple[str, QueryProblem]] = []
        titles: dict[str, set[str] | str] = {}
        try:
            for kr, raw in queries:
                if self.validate_query(raw, kr):
                    continue  # the offline lint reports these
                ident = str(spreadsheet_id(raw["spreadsheet"]))
                if ident not in titles:
                    titles[ident] = self._titles(ident)
                have = titles[ident]
                if isinstance(have, str):
                    found.append((kr.id, QueryProblem("spreadsheet", have)))
                    continue
                for key in ("cell", "dates", "values"):
                    sheet = sheet_of(str(raw[key]).strip()) if key in raw else None
                    if sheet is not None and sheet not in have:
                        found.append((kr.id, QueryProblem(
                            key, f"spreadsheet {ident} has no sheet {sheet!r} (sheets: "
                            f"{', '.join(sorted(have)) or 'none'})")))
        except FetchError as failed:
            raise SourceError(failed.message) from None
        return found

    def _titles(self, ident: str) -> set[str] | str:
        try:
            answer = self._execute(
                lambda s: s.spreadsheets().get(spreadsheetId=ident,
                                               fields="sheets.properties.title"),
                f"spreadsheet {ident}")
        except FetchError as failed:
            if failed.kind is FailureKind.PERMANENT:
                return failed.message
            raise
        sheets = answer.get("sheets")
        return {str(s.get("properties", {}).get("title")) for s in sheets or []
                if isinstance(s, Mapping)}


def _reading(request: FetchRequest, columns: Mapping[str, list[Any]]) -> Reading | Failure:
    query = request.query
    cumulative = request.measure is Measure.CUMULATIVE
    if "cell" in query:
        raw = (columns[str(query["cell"]).strip()] or [None])[0]
        if request.series:
            return Failure(request, FailureKind.PERMANENT, "a single cell has no history: a "
                           "backfill needs dates and values")
        try:
            value = cell_number(raw)
        except ValueError as exc:
            return Failure(request, FailureKind.PERMANENT, f"cell {query['cell']}: {exc}")
        if value is None:
            return Failure(request, FailureKind.PERMANENT, f"cell {query['cell']} is empty")
        return Reading.total(request, value)
    try:
        rows = _rows(columns[str(query["dates"]).strip()],
                     columns[str(query["values"]).strip()], query.get("date_format"))
    except ValueError as exc:
        return Failure(request, FailureKind.PERMANENT, str(exc))
    inside = [(day, value) for day, value in rows if request.start <= day <= request.end]
    if cumulative:
        sums: dict[dt.date, float] = {}
        for day, value in inside:
            sums[day] = sums.get(day, 0.0) + value
        if request.series:
            return Reading(request, sorted(sums.items()), info={"rows": len(inside)})
        return Reading.total(request, sum(sums.values()), info={"rows": len(inside)})
    levels = dict(sorted(inside))  # the last row of a day is its level
    if request.series:
        return Reading(request, sorted(levels.items()), info={"rows": len(inside)})
    if not levels:
        return Failure(request, FailureKind.PERMANENT,
                       f"no row of {query['dates']} is dated {request.start}..{request.end}")
    day = max(levels)
    return Reading(request, [(day, levels[day])], info={"rows": len(inside)})


def _rows(dates: list[Any], values: list[Any], fmt: str | None) -> list[tuple[dt.date, float]]:
    """(day, value) of the rows with both a date and a value; ValueError names a bad row."""
    out = []
    for i, raw_day in enumerate(dates):
        raw_value = values[i] if i < len(values) else None  # blank trailing cells are left out
        try:
            day = cell_date(raw_day, fmt)
        except ValueError:
            raise ValueError(f"row {i + 1} of the dates: {raw_day!r} is not a date"
                             + ("" if fmt else " (set date_format for text dates)")) from None
        try:
            value = cell_number(raw_value)
        except ValueError as exc:
            raise ValueError(f"row {i + 1} of the values: {exc}") from None
        if day is not None and value is not None:
            out.append((day, value))
    return out


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _error(exc: Any, what: str) -> FetchError:
    """Classify an HttpError by status and Google's error status/reason."""
    status = int(exc.resp.status)
    try:
        body = json.loads(exc.content)
        error = body.get("error", {}) if isinstance(body, Mapping) else {}
    except (TypeError, ValueError):
        error = {}
    reason = str(error.get("status") or "") if isinstance(error, Mapping) else ""
    message = str(error.get("message") or exc.reason or "") if isinstance(error, Mapping) else ""
    label = f"Sheets {status}{' ' + reason if reason else ''}: {message or 'no message'}"
    retry_after = parse_retry_after(exc.resp.get("retry-after"))
    if status == 401 or "API key not valid" in message:
        return FetchError(FailureKind.AUTH, f"{label} (check the credentials or API key)")
    if status == 429 or reason == "RESOURCE_EXHAUSTED" or "rateLimitExceeded" in str(
        exc.content
    ):
        # per-minute quotas: "after 1 minute, you can execute requests again"
        return FetchError(FailureKind.TRANSIENT, label, retry_after or QUOTA_WINDOW)
    if status >= 500:
        return FetchError(FailureKind.TRANSIENT, label, retry_after)
    if status == 403:
        return FetchError(FailureKind.PERMANENT, f"{label} ({what}: share it with the service "
                                                 "account's client_email, or make it viewable "
                                                 "by link for an API key)")
    return FetchError(FailureKind.PERMANENT, f"{label} ({what})")
