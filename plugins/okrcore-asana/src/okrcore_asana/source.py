"""The ``asana`` metric source: task progress of a project (``GET /projects/{gid}/tasks``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from okrcore.errors import SourceError
from okrcore.model import KeyResult, Measure
from okrcore.sources import (
    Credentials,
    Failure,
    FailureKind,
    FetchError,
    FetchRequest,
    HttpSource,
    ItemState,
    QueryProblem,
    Reading,
    TrackedItem,
    parse_retry_after,
)
from okrcore.tasks import Task, TaskCache, day_of, tasks_reading

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


class AsanaSource(HttpSource):
    """Share of done tasks, completions by day, open and total tasks of Asana projects.

    Connection settings: ``token`` (``env:NAME`` or ``file:PATH`` of a personal access token,
    OAuth or service-account token), optional ``requests_per_second`` (default 2.4),
    ``concurrency`` (default 2) and ``timeout`` (seconds, default 30); ``endpoint`` overrides
    ``https://app.asana.com/api/1.0``. All key results on one project share one read of its tasks.
    """

    name = "asana"
    service = "Asana"
    user_agent = f"okrcore-asana/{__version__}"
    default_endpoint = DEFAULT_ENDPOINT
    default_rate = DEFAULT_RATE
    secrets = (("token", "an Asana access token"),)

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
            cache = TaskCache()
            for request, query in group:
                yield self._reading(request, query, tasks, cache, calls)

    def _reading(
        self,
        request: FetchRequest,
        query: AsanaQuery,
        tasks: Sequence[Mapping[str, Any]],
        cache: TaskCache,
        calls: int,
    ) -> Reading | Failure:
        try:
            # key results on one project share its tasks: each task is parsed once
            chosen = cache.tasks("task", [i for i, t in enumerate(tasks) if query.matches(t)],
                                 lambda i: _task(tasks[i]))
        except ValueError as exc:
            return Failure(request, FailureKind.TRANSIENT, f"Asana sent a malformed task: {exc}")
        return tasks_reading(request, chosen, query.metric, where=f"project {query.project}",
                             hint="check the filters",
                             info={"requests": calls, "tasks": len(chosen)})

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

    # -- initiatives that follow a task -----------------------------------------------------

    def item_states(self, items: Sequence[TrackedItem]) -> list[ItemState]:
        """Each tracked task's state (``tracks: {connection: asana, task: "1206..."}``): a
        completed task is ``done``, another ``open`` (Asana has no in-progress state of its
        own); one ``GET /tasks/{gid}?opt_fields=completed`` per task."""
        out = []
        for item in items:
            gid = str(item.query.get("task") or "").strip()
            if not gid.isdigit():
                out.append(ItemState(item, None, "tracks needs task: the task's gid (the "
                                                 "number in its URL)"))
                continue
            try:
                answer = self._get(f"/tasks/{gid}", {"opt_fields": "completed"}, f"task {gid}")
                data = answer.get("data")
                done = data.get("completed") if isinstance(data, Mapping) else None
                if not isinstance(done, bool):
                    raise FetchError(FailureKind.TRANSIENT,
                                     f"Asana answered task {gid} without completed")
            except FetchError as failed:
                out.append(ItemState(item, None, failed.message))
                continue
            out.append(ItemState(item, "done" if done else "open"))
        return out

    # -- HTTP -------------------------------------------------------------------------------

    def credentials(self) -> Credentials:
        """Asana takes every kind of token as a bearer token."""
        return Credentials(headers={"Authorization": f"Bearer {self.required_secret('token')}"})

    def error(self, response: requests.Response, what: str) -> FetchError:
        """Classify an error answer (see :func:`_error`)."""
        return _error(response, what)

    def _get(self, path: str, params: Mapping[str, str], what: str) -> Mapping[str, Any]:
        """One paced GET answered by a JSON object."""
        return self.call_object("GET", path, params=params, what=what)

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
