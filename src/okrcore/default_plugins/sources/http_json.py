"""The ``http_json`` source: any JSON API, the value picked with JSONPath (docs/plugins.md,
"Built-in sources")."""

from __future__ import annotations

import datetime as dt
import functools
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from okrcore.errors import MissingExtra, SourceError
from okrcore.model import Connection, KeyResult
from okrcore.sources import (
    HTTP_SETTINGS,
    Failure,
    FailureKind,
    FetchError,
    FetchRequest,
    Limits,
    QueryProblem,
    Reading,
    Source,
    http_session,
    http_setting_problems,
    is_secret_reference,
    parse_retry_after,
    resolve_secret,
    unknown_keys,
)

from ._common import (
    connection_limits,
    describe_bad,
    fill_dates,
    finite_number,
    limit_problems,
    reduce_rows,
    to_date,
)

__all__ = ["HttpJsonSource"]


SECRET_HEADER = re.compile(r"auth|token|key|secret|cookie|session|password", re.IGNORECASE)


class HttpJsonSource(Source):
    """GET or POST a URL and pick the value from the JSON answer with a JSONPath expression.

    Needs the ``http`` extra (requests, jsonpath-ng). Connection settings: ``headers`` (values
    that carry credentials must be ``env:NAME`` or ``file:PATH``), ``bearer`` (a token reference
    sent as ``Authorization: Bearer ...``), ``timeout``, ``verify``, ``concurrency``, ``rate``,
    ``max_response_bytes``, ``allow_redirects_to`` (see :func:`okrcore.sources.http_session`).
    Query keys: ``url``, ``value`` (JSONPath; several matches are summed), ``method``, ``params``,
    ``body``, ``pagination: {next: JSONPath, max_pages: N}``, ``series: {items, date, value}``.
    Strings in ``url``, ``params`` and ``body`` may use ``{start}``, ``{end}``, ``{as_of}``.
    """

    name = "http_json"
    QUERY_KEYS = ("url", "value", "method", "params", "body", "pagination", "series")
    SETTINGS = ("headers", "bearer", "timeout", "verify", "concurrency", "rate", "max_batch",
                *HTTP_SETTINGS)

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self._session: Any = None

    def limits(self) -> Limits:
        return connection_limits(self.connection, Limits(max_batch=1, concurrency=32))

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
        return problems + limit_problems(s) + http_setting_problems(s)

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
        session = http_session(agent, self.limits().concurrency, connection=self.connection)
        for name, value in (self.connection.settings.get("headers") or {}).items():
            if is_secret_reference(value):
                value = resolve_secret(value, what=f"header {name}", base=base)
            session.headers[str(name)] = _header_value(f"header {name}", str(value))
        bearer = self.connection.settings.get("bearer")
        if bearer is not None:
            token = resolve_secret(bearer, what="bearer", base=base)
            session.headers["Authorization"] = _header_value("bearer", f"Bearer {token}")
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
        url = str(fill_dates(request.query["url"], request))
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
        params = fill_dates(q.get("params"), req)
        body = fill_dates(q.get("body"), req)
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
                    number = finite_number(value)
                    if number is None:
                        return Failure(r, FailureKind.PERMANENT, f"{where}: {q['value']} is "
                                       f"{describe_bad(value)}")
                    values.append(number)
            next_url = None
            if next_path is not None:
                link = [m.value for m in next_path.find(answer)]
                if link and isinstance(link[0], str) and link[0]:
                    next_url = urllib.parse.urljoin(url, link[0])
        if series_spec is not None:
            reduced = reduce_rows(r, rows)
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
        except FetchError as exc:  # the session's guards: too large, a redirect elsewhere
            return Failure(r, exc.kind, f"{where}: {exc.message}")
        except requests.Timeout:
            return Failure(r, FailureKind.TRANSIENT,
                           f"{where}: no answer within {self._timeout():g} s", timed_out=True)
        except requests.ConnectionError as exc:
            if _could_not_connect(exc):
                # refused, or no such host: the service is down or the URL is wrong. Like a call
                # that hangs, it is retried timeout_retries times, not retries times
                return Failure(r, FailureKind.TRANSIENT, f"{where}: connection failed: "
                               f"{_short(_without_url(str(exc)))}", timed_out=True)
            return Failure(r, FailureKind.TRANSIENT, f"{where}: connection failed: "
                           f"{_short(_without_url(str(exc)))}")
        except requests.RequestException as exc:
            return Failure(r, FailureKind.PERMANENT, f"{where}: {_short(_without_url(str(exc)))}")
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
        day = to_date(item.get(spec["date"]))
        if day is None:
            return f"{where}: series item {i}: {spec['date']} is {item.get(spec['date'])!r}, " \
                   "not a date"
        value = finite_number(item.get(spec["value"]))
        if value is None:
            return f"{where}: series item {i}: {spec['value']} is " \
                   f"{describe_bad(item.get(spec['value']))}"
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


def _header_value(what: str, value: str) -> str:
    """A header value that can be sent; one with a line break (a token file with two lines) is
    refused here, naming the setting, before requests would quote it in an error."""
    if "\n" in value or "\r" in value:
        raise SourceError(f"{what}: the value contains a line break; a credential file must "
                          "hold the credential on one line")
    return value


_URL_IN_ERROR = re.compile(r"\s*with url: \S+")


def _could_not_connect(exc: BaseException) -> bool:
    """The connection was refused or the host is unknown (no request was sent)."""
    import urllib3.exceptions

    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _without_url(text: str) -> str:
    """urllib3's error text without the URL it names (its query string may carry an API key)."""
    return _URL_IN_ERROR.sub("", text)


def _short(text: str, size: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 3] + "..."
