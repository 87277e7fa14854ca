"""The ``asana`` metric source: task progress of a project (``GET /projects/{gid}/tasks``)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
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
from .query import AsanaQuery, parse_query, validate_query

if TYPE_CHECKING:  # imported where it is used, so that listing plugins stays fast
    import requests

__all__ = ["DEFAULT_ENDPOINT", "DEFAULT_RATE", "PAGE_SIZE", "AsanaSource"]

DEFAULT_ENDPOINT = "https://app.asana.com/api/1.0"
PAGE_SIZE = 100  # the largest `limit` Asana accepts
# Asana allows 150 requests per minute per token on the free plan (1,500 on paid plans):
# 2.4 per second stays under the smaller one; paid workspaces may raise it.
DEFAULT_RATE = 2.4
DEFAULT_TIMEOUT = 30.0
_SETTINGS = ("token", "requests_per_second", "concurrency", "timeout")


class AsanaSource(Source):
    """Share of done tasks, completions by day, open and total tasks of Asana projects.

    Connection settings: ``token`` (``env:NAME`` or ``file:PATH`` of a personal access token,
    OAuth or service-account token), optional ``requests_per_second`` (default 2.4),
    ``concurrency`` (default 2) and ``timeout`` (seconds, default 30); ``endpoint`` overrides
    ``https://app.asana.com/api/1.0``. All key results on one project share one read of its tasks.
    """

    name = "asana"

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        settings = connection.settings
        self._endpoint = (connection.endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self._concurrency = int(settings.get("concurrency", 2))
        configured = settings.get("timeout")
        self._configured_timeout = float(configured) if configured is not None else None
        self._throttle = Throttle(float(settings.get("requests_per_second", DEFAULT_RATE)))
        self._lock = threading.Lock()
        self._session: requests.Session | None = None
        self._token: str | None = None
        self._auth_error: str | None = None
        self._hold_until = 0.0

    @property
    def _timeout(self) -> tuple[float, float]:
        """(connect, read) seconds: the connection's ``timeout``, else the engine's, else ours."""
        seconds = self._configured_timeout or self.timeout or DEFAULT_TIMEOUT
        return (min(10.0, seconds), seconds)

    # -- contract ---------------------------------------------------------------------------

    def limits(self) -> Limits:
        """One project per fetch call; the source paces its own calls (a fetch reads pages)."""
        return Limits(max_batch=1000, concurrency=self._concurrency, rate=None)

    @classmethod
    def validate_connection(cls, connection: Connection) -> list[QueryProblem]:
        """The token must be a secret reference; numbers must be positive."""
        settings = connection.settings
        problems = unknown_keys(settings, (*_SETTINGS, *HTTP_SETTINGS))
        problems += http_setting_problems(settings)
        if not is_secret_reference(settings.get("token")):
            problems.append(QueryProblem(
                "token", "set token to 'env:NAME' or 'file:PATH' holding an Asana access token"))
        problems += positive_number_problems(
            settings, ("requests_per_second", "concurrency", "timeout")
        )
        return problems

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        """Project gid, metric (fitting the measure) and filter shapes."""
        return validate_query(query, kr)

    def batches(self, requests: Sequence[FetchRequest]) -> list[list[FetchRequest]]:
        """One batch per project: its tasks are read once for all its key results."""
        groups: dict[str, list[FetchRequest]] = {}
        for request in requests:
            groups.setdefault(str(request.query.get("project")), []).append(request)
        return list(groups.values())

    def close(self) -> None:
        """Close the connection pool."""
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    # -- fetching ---------------------------------------------------------------------------

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterable[Reading | Failure]:
        """Read each project's tasks once, then compute every request of the batch from them."""
        parsed: list[tuple[FetchRequest, AsanaQuery]] = []
        for request in requests:
            try:
                parsed.append((request, parse_query(request.query, request.kr)))
            except ValueError as exc:
                yield Failure(request, FailureKind.PERMANENT, f"invalid asana query: {exc}")
        by_project: dict[str, list[tuple[FetchRequest, AsanaQuery]]] = {}
        for request, query in parsed:
            by_project.setdefault(query.project, []).append((request, query))
        for project, group in by_project.items():
            fields = sorted({f for _, q in group for f in q.opt_fields()})
            # only completions in the window matter to cumulative counts: skip older ones
            since = None
            if all(q.metric == "completed" and r.measure is Measure.CUMULATIVE for r, q in group):
                since = min(r.start for r, _ in group)
            try:
                tasks, calls = self._tasks(project, fields, since)
            except FetchError as error:
                for request, _ in group:
                    yield error.failure(request)
                continue
            for request, query in group:
                yield self._reading(request, query, tasks, calls)

    def _reading(
        self,
        request: FetchRequest,
        query: AsanaQuery,
        tasks: Sequence[Mapping[str, Any]],
        calls: int,
    ) -> Reading | Failure:
        try:
            chosen = [_task(t) for t in tasks if query.matches(t)]
        except ValueError as exc:
            return Failure(request, FailureKind.TRANSIENT, f"Asana sent a malformed task: {exc}")
        cumulative = request.measure is Measure.CUMULATIVE
        info = {"requests": calls, "tasks": len(chosen)}
        unit = "%" if query.metric == "percent_done" else None
        try:
            if request.series:
                series = points(chosen, query.metric, request.start, request.end,
                                cumulative=cumulative)
                return Reading(request, series, unit=unit, info=info)
            value = total(chosen, query.metric, request.start, request.end, cumulative=cumulative)
        except NoTasks as exc:
            return Failure(request, FailureKind.PERMANENT,
                           f"project {query.project}: {exc} (check the filters)")
        return Reading.total(request, value, unit=unit, info=info)

    def _tasks(
        self, project: str, fields: list[str], since: dt.date | None
    ) -> tuple[list[Mapping[str, Any]], int]:
        """Every task of a project (paged to the end) and the number of calls it took."""
        params: dict[str, str] = {"opt_fields": ",".join(fields)}
        if since is not None:
            params["completed_since"] = f"{since.isoformat()}T00:00:00.000Z"
        tasks: list[Mapping[str, Any]] = []
        calls = 0
        for page in self._pages(f"/projects/{project}/tasks", params, f"project {project}"):
            calls += 1
            tasks.extend(page)
        return tasks, calls

    def _pages(
        self, path: str, params: Mapping[str, str], what: str
    ) -> Iterator[list[Mapping[str, Any]]]:
        """Each page's ``data`` list, following ``next_page.offset`` until it is null."""
        offset: str | None = None
        seen: set[str] = set()
        while True:
            query = {**params, "limit": str(PAGE_SIZE)}
            if offset is not None:
                query["offset"] = offset
            body = self._get(path, query, what)
            data = body.get("data")
            if not isinstance(data, list) or not all(isinstance(t, Mapping) for t in data):
                raise FetchError(FailureKind.TRANSIENT,
                                 f"Asana answered {path} without a list of objects in data")
            yield data
            following = body.get("next_page")
            if following is None:
                return
            if not isinstance(following, Mapping) or not following.get("offset"):
                raise FetchError(FailureKind.TRANSIENT,
                                 f"Asana answered {path} with a malformed next_page")
            offset = str(following["offset"])
            if offset in seen:  # a server that repeats itself must not loop us forever
                raise FetchError(FailureKind.TRANSIENT, "Asana returned the same page offset twice")
            seen.add(offset)

    # -- HTTP -------------------------------------------------------------------------------

    def _client(self) -> tuple[requests.Session, str]:
        with self._lock:
            if self._auth_error is not None:
                raise FetchError(FailureKind.AUTH, f"not sent: {self._auth_error}")
            if self._token is None:
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
                self._token = token
            if self._session is None:
                self._session = http_session(f"okrcore-asana/{__version__}", self._concurrency,
                                             connection=self.connection)
            return self._session, self._token

    def _get(self, path: str, params: Mapping[str, str], what: str) -> Mapping[str, Any]:
        """One paced GET; an error answer is raised as a classified FetchError."""
        import requests

        session, token = self._client()
        with self._lock:
            hold = self._hold_until - time.monotonic()
        if hold > 0:  # another call was told to wait: the limit is per token
            time.sleep(hold)
        self._throttle.wait()
        try:
            response = session.get(
                f"{self._endpoint}{path}",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
                timeout=self._timeout,
            )
        except requests.Timeout:
            raise FetchError(
                FailureKind.TRANSIENT, f"Asana did not answer within {self._timeout[1]:g} s",
                timed_out=True,
            ) from None
        except requests.RequestException as exc:
            raise FetchError(
                FailureKind.TRANSIENT, f"cannot reach {self._endpoint}: {type(exc).__name__}"
            ) from None
        if response.status_code == 200:
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, Mapping):
                raise FetchError(FailureKind.TRANSIENT,
                                 f"Asana answered 200 for {what} with a body that is not a JSON "
                                 "object")
            return body
        error = _error(response, what)
        if error.kind is FailureKind.AUTH:
            with self._lock:
                self._auth_error = self._auth_error or error.message
        if error.retry_after:
            with self._lock:
                self._hold_until = max(self._hold_until, time.monotonic() + error.retry_after)
        raise error

    # -- online check -----------------------------------------------------------------------

    def check_online(
        self, queries: Sequence[tuple[KeyResult, Mapping[str, Any]]]
    ) -> list[tuple[str, QueryProblem]]:
        """Check that each project is readable and its sections and custom fields exist.

        Reads the project, and its sections or custom-field settings when a query filters by
        them, once per project. Authentication and network errors raise
        :class:`okrcore.errors.SourceError`.
        """
        found: list[tuple[str, QueryProblem]] = []
        projects: dict[str, str | None] = {}  # gid -> problem
        sections: dict[str, set[str]] = {}
        fields: dict[str, set[str]] = {}
        try:
            for kr, raw in queries:
                if validate_query(raw, kr):
                    continue  # the offline lint reports these
                query = parse_query(raw, kr)
                gid = query.project
                if gid not in projects:
                    projects[gid] = self._project_problem(gid)
                if projects[gid] is not None:
                    found.append((kr.id, QueryProblem("project", str(projects[gid]))))
                    continue
                if query.section:
                    if gid not in sections:
                        sections[gid] = self._names(f"/projects/{gid}/sections", "name", gid)
                    if query.section not in sections[gid]:
                        known = ", ".join(sorted(sections[gid])) or "none"
                        found.append((kr.id, QueryProblem(
                            "section",
                            f"project {gid} has no section {query.section!r} (sections: {known})",
                        )))
                for name, _ in query.custom_fields:
                    if gid not in fields:
                        fields[gid] = self._names(
                            f"/projects/{gid}/custom_field_settings", "custom_field.name", gid)
                    if name not in fields[gid]:
                        known = ", ".join(sorted(fields[gid])) or "none"
                        found.append((kr.id, QueryProblem(
                            f"custom_fields.{name}",
                            f"project {gid} has no custom field {name!r} (fields: {known})",
                        )))
        except FetchError as failed:
            raise SourceError(failed.message) from None
        return found

    def _project_problem(self, gid: str) -> str | None:
        try:
            self._get(f"/projects/{gid}", {"opt_fields": "name"}, f"project {gid}")
        except FetchError as failed:
            if failed.kind is FailureKind.PERMANENT:
                return failed.message
            raise
        return None

    def _names(self, path: str, field: str, gid: str) -> set[str]:
        """Names (``name``, or ``custom_field.name``) of every object a list endpoint returns."""
        names: set[str] = set()
        for page in self._pages(path, {"opt_fields": field}, f"project {gid}"):
            for item in page:
                inner = item.get("custom_field") if field.startswith("custom_field.") else item
                if isinstance(inner, Mapping) and inner.get("name"):
                    names.add(str(inner["name"]))
        return names


def _task(raw: Mapping[str, Any]) -> Task:
    """A task's progress facts; ValueError names a malformed field."""
    done = raw.get("completed")
    if not isinstance(done, bool):
        raise ValueError(f"task {raw.get('gid')}: completed is {done!r}, not true or false")
    try:
        return Task(done, day_of(raw.get("created_at")), day_of(raw.get("completed_at")))
    except (TypeError, ValueError):
        raise ValueError(f"task {raw.get('gid')}: created_at or completed_at is not a date") \
            from None


def _error(response: requests.Response, what: str) -> FetchError:
    """Classify an error answer; Asana's body is ``{"errors": [{"message": ...}]}``."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    messages = []
    if isinstance(body, Mapping) and isinstance(body.get("errors"), list):
        messages = [str(e.get("message")) for e in body["errors"]
                    if isinstance(e, Mapping) and e.get("message")]
    label = f"Asana {status}: {'; '.join(messages) or response.reason or 'no message'}"
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 401:
        return FetchError(FailureKind.AUTH, f"{label} (check the access token)")
    if status == 429:
        return FetchError(FailureKind.TRANSIENT, label, retry_after)
    if status >= 500 or status == 408:
        return FetchError(FailureKind.TRANSIENT, label, retry_after)
    if status in (403, 404):
        return FetchError(
            FailureKind.PERMANENT,
            f"{label} ({what} does not exist or the token's user cannot see it)",
        )
    if status == 402:
        return FetchError(FailureKind.PERMANENT, f"{label} (a premium-only feature)")
    return FetchError(FailureKind.PERMANENT, f"{label} ({what})")
