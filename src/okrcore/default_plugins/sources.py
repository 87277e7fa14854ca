"""Built-in sources, registered through the okrcore hooks: ``manual``, ``file``, ``http_json``
and ``sql``, and the ``sources`` check that validates every key result's source binding.

Query keys of each source are documented in docs/plugins.md ("Built-in sources").
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import glob
import json
import math
import re
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from okrcore.checks import Check, CheckContext, Finding, Severity
from okrcore.errors import MissingExtra, SourceError
from okrcore.hookspecs import hookimpl
from okrcore.model import Connection, KeyResult, Measure, Plan
from okrcore.sources import (
    Failure,
    FailureKind,
    FetchRequest,
    Limits,
    QueryProblem,
    Reading,
    Source,
    http_session,
    is_secret_reference,
    parse_retry_after,
    resolve_secret,
    unknown_keys,
)

__all__ = [
    "FileSource",
    "HttpJsonSource",
    "ManualSource",
    "SqlSource",
    "check_sources",
]

DATE_PLACEHOLDERS = ("{start}", "{end}", "{as_of}")


# -- shared helpers ----------------------------------------------------------------------------
def _number(value: Any) -> float | None:
    """A finite float from a JSON/DB value that is a number (not a bool, not a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _describe_bad(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value!r}, not a finite number"
    return f"{value!r} ({type(value).__name__}), not a number"


def _to_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return dt.date.fromisoformat(text[:10])
        except ValueError:
            return None
    return None


def _reduce(
    request: FetchRequest, rows: Iterable[tuple[dt.date, float]]
) -> Reading | str:
    """Turn dated values into the reading the request asks for, or say why not.

    A series gets one point per day of the window (several values of one day are summed for a
    cumulative key result; the last one counts for a gauge). A total is the sum over the window
    (cumulative) or the latest value in the window (gauge), dated the day it was measured: an old
    reading is never passed off as one of the window's end, so staleness stays visible.
    """
    cumulative = request.measure is Measure.CUMULATIVE
    days: dict[dt.date, float] = {}
    latest: tuple[dt.date, float] | None = None
    for day, value in rows:
        if request.start <= day <= request.end and (latest is None or day >= latest[0]):
            latest = (day, value)
        if request.start <= day <= request.end:
            days[day] = days.get(day, 0.0) + value if cumulative else value
    if request.series:
        return Reading(request, sorted(days.items()))
    if cumulative:
        if not days:
            return f"no data between {request.start} and {request.end}"
        return Reading.total(request, sum(days.values()))
    if latest is None:
        return f"no data between {request.start} and {request.end}"
    return Reading(request, (latest,))


def _fill_dates(value: Any, request: FetchRequest) -> Any:
    """Replace ``{start}``, ``{end}`` and ``{as_of}`` in strings (recursively) with ISO dates."""
    if isinstance(value, str):
        return (
            value.replace("{start}", request.start.isoformat())
            .replace("{end}", request.end.isoformat())
            .replace("{as_of}", request.as_of.isoformat())
        )
    if isinstance(value, Mapping):
        return {k: _fill_dates(v, request) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_dates(v, request) for v in value]
    return value


def _base_dir(connection: Connection) -> Path:
    base = Path(connection.base_dir or ".")
    setting = connection.settings.get("base")
    if isinstance(setting, str):
        base = base / Path(setting).expanduser()
    return base


def _limits(connection: Connection, default: Limits) -> Limits:
    s = connection.settings
    return Limits(
        max_batch=int(s.get("max_batch", default.max_batch)),
        concurrency=int(s.get("concurrency", default.concurrency)),
        rate=float(s["rate"]) if s.get("rate") is not None else default.rate,
    )


def _limit_problems(settings: Mapping[str, Any]) -> list[QueryProblem]:
    problems = []
    for key in ("max_batch", "concurrency"):
        value = settings.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            problems.append(QueryProblem(key, f"expected a whole number >= 1, got {value!r}"))
    rate = settings.get("rate")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float))
                             or rate <= 0):
        problems.append(QueryProblem("rate", f"expected calls per second > 0, got {rate!r}"))
    return problems


# -- manual --------------------------------------------------------------------------------------
class ManualSource(Source):
    """Values come only from ``okr checkin``; the engine never fetches a manual key result."""

    name = "manual"

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterable[Reading | Failure]:
        for r in requests:
            yield Failure(r, FailureKind.PERMANENT, "a manual key result is never fetched")


# -- file ----------------------------------------------------------------------------------------
FILE_FORMATS = ("csv", "json", "jsonl")


class FileSource(Source):
    """Exports from any tool: CSV, JSON (a list of objects) or JSON Lines.

    Connection settings: ``base`` (folder for relative paths; default the plan's folder),
    ``format``. Query keys: ``path`` (file or glob), ``date`` (column, default ``date``), ``value``
    (column, default ``value``), ``where`` (column -> value or list of values), ``format``.
    """

    name = "file"
    QUERY_KEYS = ("path", "date", "value", "where", "format")

    def limits(self) -> Limits:
        return _limits(self.connection, Limits(max_batch=50, concurrency=2))

    @classmethod
    def validate_connection(cls, connection: Connection) -> list[QueryProblem]:
        s = connection.settings
        problems = unknown_keys(s, ("base", "format", "max_batch", "concurrency", "rate"),
                                "file connection key")
        if "format" in s and s["format"] not in FILE_FORMATS:
            problems.append(QueryProblem("format", f"expected one of {', '.join(FILE_FORMATS)}"))
        return problems + _limit_problems(s)

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        problems = unknown_keys(query, cls.QUERY_KEYS, "file query key")
        if not isinstance(query.get("path"), str) or not query.get("path"):
            problems.append(QueryProblem("path", "a file path or glob is required"))
        for key in ("date", "value"):
            if key in query and (not isinstance(query[key], str) or not query[key]):
                problems.append(QueryProblem(key, "expected a column name"))
        if "where" in query and not isinstance(query["where"], Mapping):
            problems.append(QueryProblem("where", "expected a mapping of column -> value"))
        if "format" in query and query["format"] not in FILE_FORMATS:
            problems.append(QueryProblem("format", f"expected one of {', '.join(FILE_FORMATS)}"))
        return problems

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterable[Reading | Failure]:
        cache: dict[tuple[str, str], list[tuple[str, Mapping[str, Any]]] | str] = {}
        for r in requests:
            answer = self._one(r, cache)
            yield answer if isinstance(answer, Reading) else Failure(
                r, FailureKind.PERMANENT, answer
            )

    def _one(
        self,
        r: FetchRequest,
        cache: dict[tuple[str, str], list[tuple[str, Mapping[str, Any]]] | str],
    ) -> Reading | str:
        q = r.query
        pattern = str(q["path"])
        fmt = q.get("format") or self.connection.settings.get("format")
        key = (pattern, str(fmt))
        if key not in cache:
            cache[key] = self._read(pattern, fmt)
        rows = cache[key]
        if isinstance(rows, str):
            return rows
        date_col, value_col = str(q.get("date", "date")), str(q.get("value", "value"))
        where = {str(k): v for k, v in (q.get("where") or {}).items()}
        points: list[tuple[dt.date, float]] = []
        for place, row in rows:
            if not all(_matches(row.get(col), want) for col, want in where.items()):
                continue
            if date_col not in row or value_col not in row:
                missing = date_col if date_col not in row else value_col
                return f"{place}: no column {missing!r} (columns: {', '.join(map(str, row))})"
            day = _to_date(row[date_col])
            if day is None:
                return f"{place}: {date_col} is {row[date_col]!r}, not a date (YYYY-MM-DD)"
            value = _file_number(row[value_col])
            if value is None:
                return f"{place}: {value_col} is {_describe_bad(row[value_col])}"
            points.append((day, value))
        if not points:
            return f"no row of {pattern} matches {where}" if where else f"{pattern} has no rows"
        return _reduce(r, points)

    def _read(self, pattern: str, fmt: Any) -> list[tuple[str, Mapping[str, Any]]] | str:
        base = _base_dir(self.connection)
        full = Path(pattern).expanduser()
        if not full.is_absolute():
            full = base / full
        if glob.has_magic(str(full)):
            paths = [Path(p) for p in sorted(glob.glob(str(full)))]
            if not paths:
                return f"no file matches {full}"
        else:
            paths = [full]
        rows: list[tuple[str, Mapping[str, Any]]] = []
        for path in paths:
            kind = fmt or _format_of(path)
            try:
                rows.extend(_read_rows(path, kind))
            except OSError as exc:
                return f"cannot read {path}: {exc.strerror or exc}"
            except (ValueError, csv.Error) as exc:
                return f"cannot parse {path} as {kind}: {exc}"
        return rows


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    return {"ndjson": "jsonl", "jsonl": "jsonl", "json": "json"}.get(suffix, "csv")


def _read_rows(path: Path, kind: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if kind == "csv":
        with path.open(newline="", encoding="utf-8-sig") as f:
            for i, row in enumerate(csv.DictReader(f), start=2):
                yield f"{path}:{i}", row
    elif kind == "json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise ValueError("expected a list of objects at the top level")
        for i, row in enumerate(data):
            if not isinstance(row, Mapping):
                raise ValueError(f"item {i} is not an object")
            yield f"{path}[{i}]", row
    elif kind == "jsonl":
        with path.open(encoding="utf-8") as f:
            for i, line in enumerate(f, start=1):
                if line.strip():
                    row = json.loads(line)
                    if not isinstance(row, Mapping):
                        raise ValueError(f"line {i} is not an object")
                    yield f"{path}:{i}", row
    else:
        raise ValueError(f"unknown format {kind!r} (known: {', '.join(FILE_FORMATS)})")


def _matches(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, (list, tuple)):
        return any(_matches(actual, w) for w in wanted)
    return actual is not None and str(actual) == str(wanted)


def _file_number(value: Any) -> float | None:
    if isinstance(value, str):  # CSV cells are text
        try:
            number = float(value.strip().replace(",", "")) if value.strip() else None
        except ValueError:
            return None
        return number if number is not None and math.isfinite(number) else None
    return _number(value)


# -- http_json ---------------------------------------------------------------------------------
SECRET_HEADER = re.compile(r"auth|token|key|secret|cookie|session|password", re.IGNORECASE)


class HttpJsonSource(Source):
    """GET or POST a URL and pick the value from the JSON answer with a JSONPath expression.

    Needs the ``http`` extra (requests, jsonpath-ng). Connection settings: ``headers`` (values
    that carry credentials must be ``env:NAME`` or ``file:PATH``), ``bearer`` (a token reference
    sent as ``Authorization: Bearer ...``), ``timeout``, ``verify``, ``concurrency``, ``rate``.
    Query keys: ``url``, ``value`` (JSONPath; several matches are summed), ``method``, ``params``,
    ``body``, ``pagination: {next: JSONPath, max_pages: N}``, ``series: {items, date, value}``.
    Strings in ``url``, ``params`` and ``body`` may use ``{start}``, ``{end}``, ``{as_of}``.
    """

    name = "http_json"
    QUERY_KEYS = ("url", "value", "method", "params", "body", "pagination", "series")
    SETTINGS = ("headers", "bearer", "timeout", "verify", "concurrency", "rate", "max_batch")

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self._session: Any = None

    def limits(self) -> Limits:
        return _limits(self.connection, Limits(max_batch=1, concurrency=8))

    @classmethod
    def validate_connection(cls, connection: Connection) -> list[QueryProblem]:
        s = connection.settings
        problems = unknown_keys(s, cls.SETTINGS, "http_json connection key")
        headers = s.get("headers", {})
        if not isinstance(headers, Mapping):
            problems.append(QueryProblem("headers", "expected a mapping of header -> value"))
        else:
            for name, value in headers.items():
                if SECRET_HEADER.search(str(name)) and not is_secret_reference(value):
                    problems.append(QueryProblem(
                        f"headers.{name}",
                        "credentials are never written in the plan; use 'env:NAME' or 'file:PATH'",
                    ))
        timeout = s.get("timeout")
        if timeout is not None and (isinstance(timeout, bool)
                                    or not isinstance(timeout, (int, float)) or timeout <= 0):
            problems.append(QueryProblem("timeout", f"expected seconds > 0, got {timeout!r}"))
        if connection.endpoint is not None and not _is_http(connection.endpoint):
            problems.append(QueryProblem("endpoint", "expected an http:// or https:// URL"))
        return problems + _limit_problems(s)

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        problems = unknown_keys(query, cls.QUERY_KEYS, "http_json query key")
        if not isinstance(query.get("url"), str) or not query.get("url"):
            problems.append(QueryProblem("url", "a URL (absolute, or relative to the endpoint)"))
        method = str(query.get("method", "GET")).upper()
        if method not in ("GET", "POST"):
            problems.append(QueryProblem("method", f"expected GET or POST, got {method!r}"))
        if "params" in query and not isinstance(query["params"], Mapping):
            problems.append(QueryProblem("params", "expected a mapping"))
        series = query.get("series")
        if "value" not in query and series is None:
            problems.append(QueryProblem("value", "a JSONPath (or a series mapping) is required"))
        paths: list[tuple[str, Any]] = [("value", query.get("value"))] if "value" in query else []
        if series is not None:
            if not isinstance(series, Mapping) or not {"items", "date", "value"} <= set(series):
                problems.append(QueryProblem("series", "expected {items: JSONPath, date: field, "
                                                       "value: field}"))
            else:
                paths.append(("series.items", series["items"]))
        pagination = query.get("pagination")
        if pagination is not None:
            if not isinstance(pagination, Mapping) or "next" not in pagination:
                problems.append(QueryProblem("pagination", "expected {next: JSONPath}"))
            else:
                paths.append(("pagination.next", pagination["next"]))
        for field, expr in paths:
            problem = _jsonpath_problem(expr)
            if problem:
                problems.append(QueryProblem(field, problem))
        return problems

    # -- I/O ---------------------------------------------------------------------------------
    def _open(self) -> Any:
        if self._session is not None:
            return self._session
        try:
            import requests  # noqa: F401  (the extra is there)
        except ImportError:  # pragma: no cover - depends on the installation
            raise MissingExtra(
                "the http_json source needs the 'http' extra: pip install 'okrcore[http]'"
            ) from None
        from okrcore import __version__

        base = Path(self.connection.base_dir) if self.connection.base_dir else None
        agent = f"okrcore/{__version__} (+http_json)"
        session = http_session(agent, self.limits().concurrency)
        for name, value in (self.connection.settings.get("headers") or {}).items():
            if is_secret_reference(value):
                value = resolve_secret(value, what=f"header {name}", base=base)
            session.headers[str(name)] = str(value)
        bearer = self.connection.settings.get("bearer")
        if bearer is not None:
            token = resolve_secret(bearer, what="bearer", base=base)
            session.headers["Authorization"] = f"Bearer {token}"
        if "verify" in self.connection.settings:
            session.verify = self.connection.settings["verify"]
        self._session = session
        return session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def _timeout(self) -> float:
        setting = self.connection.settings.get("timeout")
        if self.timeout is not None:
            return self.timeout
        return float(setting) if setting is not None else 30.0

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterable[Reading | Failure]:
        try:
            session = self._open()
        except SourceError as exc:  # a missing extra, or a credential that cannot be read
            kind = FailureKind.PERMANENT if isinstance(exc, MissingExtra) else FailureKind.AUTH
            for r in requests:
                yield Failure(r, kind, str(exc))
            return
        for r in requests:
            yield self._one(session, r)

    def _url(self, request: FetchRequest) -> str | None:
        url = str(_fill_dates(request.query["url"], request))
        if _is_http(url):
            return url
        endpoint = self.connection.endpoint
        if not endpoint:
            return None
        return endpoint.rstrip("/") + "/" + url.lstrip("/")

    def _one(self, session: Any, r: FetchRequest) -> Reading | Failure:
        q = r.query
        series_spec = q.get("series")
        # Without a series mapping a series request becomes one value for its last day: with
        # {start}/{end} in the URL that is the day's amount.
        single_day = r.series and series_spec is None
        req = _day_request(r) if single_day else r
        url = self._url(req)
        if url is None:
            return Failure(r, FailureKind.PERMANENT, f"relative url {q['url']!r} needs the "
                           f"connection's endpoint (connection {self.connection.name!r})")
        method = str(q.get("method", "GET")).upper()
        params = _fill_dates(q.get("params"), req)
        body = _fill_dates(q.get("body"), req)
        pagination = q.get("pagination") or {}
        next_path = _jsonpath(pagination["next"]) if pagination else None
        max_pages = int(pagination.get("max_pages", 100)) if pagination else 1
        values: list[float] = []
        rows: list[tuple[dt.date, float]] = []
        seen: set[str] = set()
        pages = 0
        next_url: str | None = url
        while next_url is not None:
            if next_url in seen or pages >= max_pages:
                break
            seen.add(next_url)
            pages += 1
            answer = self._call(session, r, method, next_url, params if pages == 1 else None,
                                body)
            if isinstance(answer, Failure):
                return answer
            where = f"{method} {_safe_url(next_url)}"
            if series_spec is not None:
                found = _series_rows(answer, series_spec, where)
                if isinstance(found, str):
                    return Failure(r, FailureKind.PERMANENT, found)
                rows.extend(found)
            else:
                matches = [m.value for m in _jsonpath(str(q["value"])).find(answer)]
                if not matches and next_path is None:
                    return Failure(r, FailureKind.PERMANENT,
                                   f"{where}: JSONPath {q['value']} matched nothing")
                for value in matches:
                    number = _number(value)
                    if number is None:
                        return Failure(r, FailureKind.PERMANENT, f"{where}: {q['value']} is "
                                       f"{_describe_bad(value)}")
                    values.append(number)
            next_url = None
            if next_path is not None:
                link = [m.value for m in next_path.find(answer)]
                if link and isinstance(link[0], str) and link[0]:
                    next_url = urllib.parse.urljoin(url, link[0])
        if series_spec is not None:
            reduced = _reduce(r, rows)
            return reduced if isinstance(reduced, Reading) else Failure(
                r, FailureKind.PERMANENT, reduced)
        if not values:
            return Failure(r, FailureKind.PERMANENT, f"JSONPath {q['value']} matched nothing "
                           f"on any of {pages} page(s)")
        total = sum(values)
        if single_day:
            return Reading(r, ((r.end, total),))
        return Reading.total(r, total)

    def _call(self, session: Any, r: FetchRequest, method: str, url: str,
              params: Any, body: Any) -> Any:
        import requests

        where = f"{method} {_safe_url(url)}"
        try:
            response = session.request(method, url, params=params,
                                       json=body if method == "POST" else None,
                                       timeout=self._timeout())
        except requests.Timeout:
            return Failure(r, FailureKind.TRANSIENT,
                           f"{where}: no answer within {self._timeout():g} s")
        except requests.ConnectionError as exc:
            return Failure(r, FailureKind.TRANSIENT, f"{where}: connection failed: "
                           f"{_short(str(exc))}")
        except requests.RequestException as exc:
            return Failure(r, FailureKind.PERMANENT, f"{where}: {_short(str(exc))}")
        status = response.status_code
        if status >= 400:
            detail = f"{where}: HTTP {status} {response.reason}: {_short(response.text)}"
            if status in (429, 503) or status >= 500 or status == 408:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                return Failure(r, FailureKind.TRANSIENT, detail, retry_after=retry_after)
            if status in (401, 403):
                return Failure(r, FailureKind.AUTH, detail)
            return Failure(r, FailureKind.PERMANENT, detail)
        try:
            return response.json()
        except ValueError as exc:
            return Failure(r, FailureKind.PERMANENT, f"{where}: the answer is not valid JSON "
                           f"({exc}): {_short(response.text)}")


def _day_request(r: FetchRequest) -> FetchRequest:
    import attrs

    return attrs.evolve(r, start=r.end, series=False)


def _series_rows(answer: Any, spec: Mapping[str, Any], where: str
                 ) -> list[tuple[dt.date, float]] | str:
    items: list[Any] = []
    for m in _jsonpath(str(spec["items"])).find(answer):
        items.extend(m.value if isinstance(m.value, list) else [m.value])
    rows = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            return f"{where}: series item {i} is not an object"
        day = _to_date(item.get(spec["date"]))
        if day is None:
            return f"{where}: series item {i}: {spec['date']} is {item.get(spec['date'])!r}, " \
                   "not a date"
        value = _number(item.get(spec["value"]))
        if value is None:
            return f"{where}: series item {i}: {spec['value']} is " \
                   f"{_describe_bad(item.get(spec['value']))}"
        rows.append((day, value))
    return rows


@functools.lru_cache(maxsize=1024)
def _jsonpath(expr: str) -> Any:
    """A compiled JSONPath (parsing costs about half a millisecond, so each is parsed once)."""
    from jsonpath_ng.ext.parser import parse as compile_jsonpath

    return compile_jsonpath(expr)


def _jsonpath_problem(expr: Any) -> str | None:
    if not isinstance(expr, str) or not expr:
        return "expected a JSONPath expression such as $.data.total"
    try:
        _jsonpath(expr)
    except ImportError:  # checked again when fetching; a missing extra does not fail lint
        return None
    except Exception as exc:  # jsonpath-ng raises several exception types for bad syntax
        return f"bad JSONPath {expr!r}: {exc}"
    return None


def _is_http(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _safe_url(url: str) -> str:
    """The URL without its query string, which may carry an API key."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _short(text: str, size: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 3] + "..."


# -- sql -------------------------------------------------------------------------------------------
SQL_PARAMS = ("start", "end", "as_of")
_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class SqlSource(Source):
    """A SQL query through a DB-API connection; SQLite is built in (``url: sqlite:///path``).

    The query (key ``sql``) returns one number, or rows of ``(date, value)``. The named
    placeholders ``:start``, ``:end`` and ``:as_of`` are bound as parameters, never pasted in.
    SQLite files are opened read-only.
    """

    name = "sql"
    QUERY_KEYS = ("sql",)

    def limits(self) -> Limits:
        return _limits(self.connection, Limits(max_batch=20, concurrency=1))

    @classmethod
    def validate_connection(cls, connection: Connection) -> list[QueryProblem]:
        s = connection.settings
        problems = unknown_keys(s, ("url", "max_batch", "concurrency", "rate"),
                                "sql connection key")
        url = s.get("url")
        if not isinstance(url, str) or not url.startswith("sqlite:///"):
            problems.append(QueryProblem("url", "expected sqlite:///path/to/file.db (other "
                                                "databases need a plugin)"))
        return problems + _limit_problems(s)

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        problems = unknown_keys(query, cls.QUERY_KEYS, "sql query key")
        sql = query.get("sql")
        if not isinstance(sql, str) or not sql.strip():
            return [*problems, QueryProblem("sql", "a SQL query is required")]
        unknown = sorted(set(_PLACEHOLDER.findall(_strip_literals(sql))) - set(SQL_PARAMS))
        if unknown:
            problems.append(QueryProblem("sql", f"unknown placeholder(s) "
                                                f"{', '.join(':' + u for u in unknown)} (known: "
                                                f"{', '.join(':' + p for p in SQL_PARAMS)})"))
        return problems

    def _path(self) -> Path:
        url = str(self.connection.settings.get("url", ""))
        path = Path(url[len("sqlite:///"):]).expanduser()
        if not path.is_absolute() and self.connection.base_dir:
            path = Path(self.connection.base_dir) / path
        return path

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterable[Reading | Failure]:
        path = self._path()
        if not path.exists():
            for r in requests:
                yield Failure(r, FailureKind.PERMANENT, f"no SQLite database at {path}")
            return
        timeout = self.timeout if self.timeout is not None else 30.0
        try:
            conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=timeout)
        except sqlite3.Error as exc:
            for r in requests:
                yield Failure(r, FailureKind.TRANSIENT, f"cannot open {path}: {exc}")
            return
        try:
            for r in requests:
                yield self._one(conn, r)
        finally:
            conn.close()

    def _one(self, conn: sqlite3.Connection, r: FetchRequest) -> Reading | Failure:
        params = {"start": r.start.isoformat(), "end": r.end.isoformat(),
                  "as_of": r.as_of.isoformat()}
        try:
            rows = conn.execute(str(r.query["sql"]), params).fetchall()
        except sqlite3.OperationalError as exc:
            kind = FailureKind.TRANSIENT if "locked" in str(exc) else FailureKind.PERMANENT
            return Failure(r, kind, f"SQL error: {exc}")
        except sqlite3.Error as exc:
            return Failure(r, FailureKind.PERMANENT, f"SQL error: {exc}")
        if rows and len(rows[0]) == 1:
            if len(rows) != 1:
                return Failure(r, FailureKind.PERMANENT,
                               f"the query returned {len(rows)} rows of one column; expected "
                               "one number or rows of (date, value)")
            value = rows[0][0]
            if value is None:
                return Failure(r, FailureKind.PERMANENT, "the query returned NULL (no rows?); "
                               "write COALESCE(SUM(...), 0) if zero is the right answer")
            number = _number(value)
            if number is None:
                return Failure(r, FailureKind.PERMANENT, f"the query returned "
                               f"{_describe_bad(value)}")
            return Reading(r, ((r.end, number),)) if r.series else Reading.total(r, number)
        points = []
        for i, row in enumerate(rows, start=1):
            if len(row) != 2:
                return Failure(r, FailureKind.PERMANENT, f"row {i} has {len(row)} columns; "
                               "expected one number or rows of (date, value)")
            day = _to_date(row[0])
            if day is None:
                return Failure(r, FailureKind.PERMANENT, f"row {i}: {row[0]!r} is not a date")
            number = _number(row[1])
            if number is None:
                return Failure(r, FailureKind.PERMANENT, f"row {i}: the value is "
                               f"{_describe_bad(row[1])}")
            points.append((day, number))
        reduced = _reduce(r, points)
        return reduced if isinstance(reduced, Reading) else Failure(
            r, FailureKind.PERMANENT, reduced)


def _strip_literals(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", sql)


# -- the sources check ---------------------------------------------------------------------------
def check_sources(plan: Plan, context: CheckContext) -> Iterator[Finding]:
    """Every key result's source binding names a known connection whose plugin is installed,
    and the connection's settings and the query pass the plugin's own validation."""
    manager = context.manager
    if manager is None:
        from okrcore.plugins import default_manager

        manager = default_manager()
    registry = manager.sources
    known = ", ".join(registry) or "none"
    for name, conn in sorted(plan.connections.items()):
        where = f"connections.{name}"
        if conn.plugin not in registry:
            yield Finding("SRC-002", Severity.ERROR,
                          f"connection {name!r} uses plugin {conn.plugin!r}, which no installed "
                          f"plugin provides (known: {known}); is its plugin installed?",
                          f"{where}.plugin")
            continue
        source_cls: type[Source] = registry.get(conn.plugin)
        for p in _safely(source_cls.validate_connection, conn):
            field = f"{where}.{p.field}" if p.field else where
            yield Finding("SRC-003", Severity.ERROR, f"connection {name!r}: {p.message}", field)
    for i, obj in enumerate(plan.objectives):
        for j, kr in enumerate(obj.key_results):
            if kr.source is None:
                continue
            at = f"objectives[{i}].key_results[{j}].source"
            conn_name = kr.source.get("connection")
            if not isinstance(conn_name, str) or conn_name not in plan.connections:
                names = ", ".join(sorted(plan.connections)) or "none"
                message = (f"key result {kr.id!r}: unknown connection {conn_name!r} (known: "
                           f"{names})" if conn_name is not None else
                           f"key result {kr.id!r}: the source needs a connection")
                yield Finding("SRC-001", Severity.ERROR, message, f"{at}.connection")
                continue
            conn = plan.connections[conn_name]
            if conn.plugin not in registry:
                continue  # reported once, on the connection
            source_cls = registry.get(conn.plugin)
            query = {k: v for k, v in kr.source.items() if k != "connection"}
            for p in _safely(source_cls.validate_query, query, kr):
                field = f"{at}.{p.field}" if p.field else at
                yield Finding("SRC-004", Severity.ERROR,
                              f"key result {kr.id!r} ({conn.plugin}): {p.message}", field)


def _safely(func: Callable[..., list[QueryProblem]], *args: Any) -> list[QueryProblem]:
    try:
        return list(func(*args))
    except Exception as exc:  # a plugin's validator that raises is a problem to show
        return [QueryProblem("", f"validation raised {type(exc).__name__}: {exc}")]


# -- registration --------------------------------------------------------------------------------
@hookimpl
def okrcore_register_sources(register: Callable[[type[Any]], None]) -> None:
    """Register the built-in sources."""
    for cls in (ManualSource, FileSource, HttpJsonSource, SqlSource):
        register(cls)


@hookimpl
def okrcore_register_checks(register: Callable[[Any], None]) -> None:
    """Register the ``sources`` check (code prefix ``SRC``)."""
    register(Check("sources", "SRC", check_sources,
                   "source bindings name a known connection, plugin and a valid query"))
