"""The ``jira`` metric source: progress of the issues a JQL search selects (Jira Cloud REST v3,
``POST /rest/api/3/search/jql``)."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from okrcore.errors import SourceError
from okrcore.model import Connection, KeyResult, Measure
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
    Throttle,
    http_session,
    http_setting_problems,
    is_secret_reference,
    parse_retry_after,
    positive_number_problems,
    unknown_keys,
)
from okrcore.tasks import NoTasks, Task, day_of, points, total

from ._version import __version__
from .query import JiraQuery, Table, parse_query, validate_query

if TYPE_CHECKING:  # imported where it is used, so that listing plugins stays fast
    import requests

__all__ = ["DEFAULT_RATE", "MAX_RESULTS", "SEARCH", "JiraSource"]

SEARCH = "/rest/api/3/search/jql"
# Jira's documented ceiling for one page; it sends fewer when fields are asked for, and the
# source follows nextPageToken whatever the page size.
MAX_RESULTS = 5000
# Jira Cloud publishes no number for its per-second burst limit on API-token traffic: stay modest.
DEFAULT_RATE = 5.0
DEFAULT_TIMEOUT = 30.0
_SETTINGS = ("site", "email", "token", "requests_per_second", "concurrency", "timeout")


class JiraSource(Source):
    """Share of done issues, completions by day, open and total issues of JQL searches.

    Connection settings: ``site`` (``https://<name>.atlassian.net``), ``email`` and ``token``
    (``env:NAME`` or ``file:PATH`` of an API token; without ``email`` the token is sent as a
    bearer token), optional ``requests_per_second`` (default 5), ``concurrency`` (default 2) and
    ``timeout`` (seconds, default 30); ``endpoint`` overrides ``site``. Key results with the same
    JQL share one search.
    """

    name = "jira"

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        settings = connection.settings
        self._site = str(connection.endpoint or settings.get("site") or "").rstrip("/")
        self._concurrency = int(settings.get("concurrency", 2))
        configured = settings.get("timeout")
        self._configured_timeout = float(configured) if configured is not None else None
        self._throttle = Throttle(float(settings.get("requests_per_second", DEFAULT_RATE)))
        self._lock = threading.Lock()
        self._session: requests.Session | None = None
        self._authorization: str | None = None
        self._auth_error: str | None = None
        self._hold_until = 0.0

    @property
    def _timeout(self) -> tuple[float, float]:
        """(connect, read) seconds: the connection's ``timeout``, else the engine's, else ours."""
        seconds = self._configured_timeout or self.timeout or DEFAULT_TIMEOUT
        return (min(10.0, seconds), seconds)

    # -- contract ---------------------------------------------------------------------------

    def limits(self) -> Limits:
        """One JQL per fetch call; the source paces its own calls (a fetch reads pages)."""
        return Limits(max_batch=1000, concurrency=self._concurrency, rate=None)

    @classmethod
    def validate_connection(cls, connection: Connection) -> list[QueryProblem]:
        """A site URL, a token given as a secret reference, positive numbers."""
        settings = connection.settings
        problems = unknown_keys(settings, (*_SETTINGS, *HTTP_SETTINGS))
        problems += http_setting_problems(settings)
        site = connection.endpoint or settings.get("site")
        if not (isinstance(site, str) and site.startswith(("https://", "http://"))):
            problems.append(QueryProblem(
                "site", "set site to your Jira Cloud URL, e.g. https://acme.atlassian.net"))
        if not is_secret_reference(settings.get("token")):
            problems.append(QueryProblem(
                "token", "set token to 'env:NAME' or 'file:PATH' holding a Jira API token"))
        email = settings.get("email")
        if email is not None and not (isinstance(email, str) and "@" in email):
            problems.append(QueryProblem("email", "email is the Atlassian account's address"))
        problems += positive_number_problems(
            settings, ("requests_per_second", "concurrency", "timeout")
        )
        return problems

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        """JQL present and bounded, metric fitting the measure, field ids and filter shapes."""
        return validate_query(query, kr)

    def batches(self, requests: Sequence[FetchRequest]) -> list[list[FetchRequest]]:
        """One batch per JQL: its issues are searched once for all its key results."""
        groups: dict[str, list[FetchRequest]] = {}
        for request in requests:
            try:
                key = parse_query(request.query, request.kr).jql
            except ValueError:
                key = f"\0{request.kr.id}"
            groups.setdefault(key, []).append(request)
        return list(groups.values())

    def close(self) -> None:
        """Close the connection pool."""
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    # -- fetching ---------------------------------------------------------------------------

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterable[Reading | Failure]:
        """Search each JQL once, then compute every request of the batch from the issues."""
        groups: dict[str, list[tuple[FetchRequest, JiraQuery]]] = {}
        for request in requests:
            try:
                query = parse_query(request.query, request.kr)
            except ValueError as exc:
                yield Failure(request, FailureKind.PERMANENT, f"invalid jira query: {exc}")
                continue
            groups.setdefault(query.jql, []).append((request, query))
        for jql, group in groups.items():
            fields = list(dict.fromkeys(f for _, q in group for f in q.fields()))
            try:
                issues, calls = self._search(jql, fields)
            except FetchError as error:
                for request, _ in group:
                    yield error.failure(request)
                continue
            try:
                table = _table(issues)
            except FetchError as error:
                for request, _ in group:
                    yield error.failure(request)
                continue
            for request, query in group:
                yield _reading(request, query, table, calls)

    def _search(self, jql: str, fields: list[str]) -> tuple[list[Mapping[str, Any]], int]:
        """Every issue the JQL selects, following ``nextPageToken`` to the last page."""
        issues: list[Mapping[str, Any]] = []
        token: str | None = None
        calls = 0
        while True:
            body: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": MAX_RESULTS}
            if token is not None:
                body["nextPageToken"] = token
            page = self._call("POST", SEARCH, body)
            calls += 1
            found = page.get("issues")
            if not isinstance(found, list) or not all(isinstance(i, Mapping) for i in found):
                raise FetchError(FailureKind.TRANSIENT, "Jira answered a search without an "
                                                        "issues list")
            issues.extend(found)
            following = page.get("nextPageToken")
            if page.get("isLast") is True or following in (None, ""):
                if page.get("isLast") is False:
                    raise FetchError(FailureKind.TRANSIENT,
                                     "Jira said isLast false without a nextPageToken")
                return issues, calls
            if not isinstance(following, str) or following == token:
                raise FetchError(FailureKind.TRANSIENT, "Jira returned the same page token twice")
            token = following

    # -- HTTP -------------------------------------------------------------------------------

    def _client(self) -> tuple[requests.Session, str]:
        with self._lock:
            if self._auth_error is not None:
                raise FetchError(FailureKind.AUTH, f"not sent: {self._auth_error}")
            if not self._site:
                raise FetchError(FailureKind.PERMANENT,
                                 f"connection {self.connection.name!r} has no site URL")
            if self._authorization is None:
                try:
                    token = self.secret("token")
                except SourceError as exc:
                    raise FetchError(FailureKind.AUTH, str(exc)) from None
                if not token:
                    raise FetchError(
                        FailureKind.AUTH,
                        f"connection {self.connection.name!r} has no token "
                        "(set token: env:NAME or file:PATH)",
                    )
                email = self.connection.settings.get("email")
                if email:
                    pair = base64.b64encode(f"{email}:{token}".encode()).decode()
                    self._authorization = f"Basic {pair}"
                else:
                    self._authorization = f"Bearer {token}"
            if self._session is None:
                self._session = http_session(f"okrcore-jira/{__version__}", self._concurrency,
                                             connection=self.connection)
            return self._session, self._authorization

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None) -> Mapping[str, Any]:
        """One paced call; an error answer is raised as a classified FetchError."""
        import requests

        session, authorization = self._client()
        with self._lock:
            hold = self._hold_until - time.monotonic()
        if hold > 0:  # another call was told to wait
            time.sleep(hold)
        self._throttle.wait()
        try:
            response = session.request(
                method, f"{self._site}{path}", json=body,
                headers={"Authorization": authorization}, timeout=self._timeout,
            )
        except requests.Timeout:
            raise FetchError(
                FailureKind.TRANSIENT, f"Jira did not answer within {self._timeout[1]:g} s",
                timed_out=True,
            ) from None
        except requests.RequestException as exc:
            raise FetchError(
                FailureKind.TRANSIENT, f"cannot reach {self._site}: {type(exc).__name__}"
            ) from None
        if response.status_code == 200:
            try:
                answer = response.json()
            except ValueError:
                answer = None
            if not isinstance(answer, Mapping):
                raise FetchError(FailureKind.TRANSIENT,
                                 f"Jira answered 200 for {path} with a body that is not a JSON "
                                 "object")
            return answer
        error = _error(response)
        with self._lock:
            if error.kind is FailureKind.AUTH:
                self._auth_error = self._auth_error or error.message
            if error.retry_after and error.kind is FailureKind.TRANSIENT:
                self._hold_until = max(self._hold_until, time.monotonic() + error.retry_after)
        raise error

    # -- online check -----------------------------------------------------------------------

    def check_online(
        self, queries: Sequence[tuple[KeyResult, Mapping[str, Any]]]
    ) -> list[tuple[str, QueryProblem]]:
        """Check the credentials (``GET /rest/api/3/myself``), that each JQL runs (a search for
        one issue id) and that the fields the queries name exist (``GET /rest/api/3/field``).

        Authentication and network errors raise :class:`okrcore.errors.SourceError`.
        """
        found: list[tuple[str, QueryProblem]] = []
        searched: dict[str, str | None] = {}
        try:
            self._call("GET", "/rest/api/3/myself", None)
            listed = self._call_list("/rest/api/3/field")
            ids = {str(f.get("id")) for f in listed}
            names = {str(f.get("name", "")).lower(): str(f.get("id")) for f in listed}
            for kr, raw in queries:
                if validate_query(raw, kr):
                    continue  # the offline lint reports these
                query = parse_query(raw, kr)
                if query.jql not in searched:
                    searched[query.jql] = self._jql_problem(query.jql)
                if searched[query.jql]:
                    found.append((kr.id, QueryProblem("jql", str(searched[query.jql]))))
                wanted = [("completed_on", query.completed_on)]
                wanted += [(f"where.{name}", name) for name, _ in query.where]
                for field, name in wanted:
                    if name not in ids:
                        hint = names.get(name.lower())
                        found.append((kr.id, QueryProblem(
                            field, f"Jira has no field {name!r}"
                            + (f" (the field named so has the id {hint})" if hint else ""))))
        except FetchError as failed:
            raise SourceError(failed.message) from None
        return found

    def _jql_problem(self, jql: str) -> str | None:
        try:
            self._call("POST", SEARCH, {"jql": jql, "fields": ["id"], "maxResults": 1})
        except FetchError as failed:
            if failed.kind is FailureKind.PERMANENT:
                return failed.message
            raise
        return None

    def _call_list(self, path: str) -> list[Mapping[str, Any]]:
        """A GET whose answer is a JSON array (``/field``)."""
        import requests

        session, authorization = self._client()
        self._throttle.wait()
        try:
            response = session.get(f"{self._site}{path}", headers={"Authorization": authorization},
                                   timeout=self._timeout)
        except requests.RequestException as exc:
            raise FetchError(FailureKind.TRANSIENT,
                             f"cannot reach {self._site}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise _error(response)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, list):
            raise FetchError(FailureKind.TRANSIENT, f"Jira answered {path} without a list")
        return [f for f in answer if isinstance(f, Mapping)]


def _table(issues: Sequence[Mapping[str, Any]]) -> Table:
    """The issues' fields; FetchError when an issue has none."""
    for issue in issues:
        if not isinstance(issue.get("fields"), Mapping):
            raise FetchError(FailureKind.TRANSIENT,
                             f"Jira sent a malformed issue: {issue.get('key')} has no fields")
    return Table([issue["fields"] for issue in issues])


def _reading(
    request: FetchRequest, query: JiraQuery, table: Table, calls: int
) -> Reading | Failure:
    tasks: list[Task] = []
    undated = 0
    try:
        for i in query.select(table):
            fields = table.fields[i]
            done = query.is_done(fields)
            completed = day_of(_stamp(fields.get(query.completed_on))) if done else None
            if done and completed is None:
                undated += 1
            tasks.append(Task(done, day_of(_stamp(fields.get("created"))), completed))
    except (TypeError, ValueError) as exc:
        return Failure(request, FailureKind.TRANSIENT, f"Jira sent a malformed issue: {exc}")
    cumulative = request.measure is Measure.CUMULATIVE
    warnings = []
    if undated:
        warnings.append(f"{undated} done issues have no {query.completed_on}; they count as done "
                        "from their creation")
    info = {"requests": calls, "issues": len(tasks)}
    unit = "%" if query.metric == "percent_done" else None
    try:
        if request.series:
            series = points(tasks, query.metric, request.start, request.end,
                            cumulative=cumulative)
            return Reading(request, series, unit=unit, warnings=warnings, info=info)
        value = total(tasks, query.metric, request.start, request.end, cumulative=cumulative)
    except NoTasks as exc:
        return Failure(request, FailureKind.PERMANENT,
                       f"{exc} (jql: {query.jql}; check the JQL and where)")
    return Reading.total(request, value, unit=unit, warnings=warnings, info=info)


def _stamp(value: Any) -> str | None:
    """A Jira timestamp (``2026-11-02T10:00:00.000+0000``) as text; anything else is no date."""
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{value!r} is not a date")


def _error(response: requests.Response) -> FetchError:
    """Classify an error answer (``{"errorMessages": [...], "errors": {...}}``, or text)."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    messages: list[str] = []
    if isinstance(body, Mapping):
        messages += [str(m) for m in body.get("errorMessages") or [] if m]
        errors = body.get("errors")
        if isinstance(errors, Mapping):
            messages += [f"{k}: {v}" for k, v in errors.items()]
        if body.get("message"):
            messages.append(str(body["message"]))
    elif "text/plain" in response.headers.get("Content-Type", ""):
        messages.append(response.text.strip()[:200])
    label = f"Jira {status}: {'; '.join(messages) or response.reason or 'no message'}"
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 401:
        return FetchError(FailureKind.AUTH, f"{label} (check email and API token)")
    if status == 403:
        return FetchError(FailureKind.AUTH, f"{label} (the account may not browse these "
                                            "projects, or must solve a CAPTCHA after failed "
                                            "logins)")
    if status == 429:
        reason = response.headers.get("RateLimit-Reason", "")
        if "quota" in reason:
            reset = response.headers.get("X-RateLimit-Reset")
            return FetchError(FailureKind.QUOTA, f"{label} ({reason}: the quota resets "
                                                 f"{'at ' + reset if reset else 'later'})")
        return FetchError(FailureKind.TRANSIENT, f"{label}{' (' + reason + ')' if reason else ''}",
                          retry_after)
    if status >= 500 or status == 408:
        return FetchError(FailureKind.TRANSIENT, label, retry_after)
    if status == 404:
        return FetchError(FailureKind.PERMANENT, f"{label} (check the site URL)")
    return FetchError(FailureKind.PERMANENT, label)
