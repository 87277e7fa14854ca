"""The ``jira`` metric source: progress of the issues a JQL search selects (Jira Cloud REST v3,
``POST /rest/api/3/search/jql``)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from okrcore.errors import SourceError
from okrcore.model import Connection, KeyResult
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
from okrcore.tasks import Task, day_of, tasks_reading

from ._version import __version__
from .query import JiraQuery, Table, parse_query, validate_query

if TYPE_CHECKING:  # imported where it is used, so that listing plugins stays fast
    import requests

__all__ = ["DEFAULT_RATE", "MAX_RESULTS", "SEARCH", "JiraSource"]

SEARCH = "/rest/api/3/search/jql"
# an issue's status category -> the state of an initiative that follows it
_CATEGORIES = {"new": "planned", "indeterminate": "doing", "done": "done"}
_ISSUE_KEY = re.compile(r"^([A-Z][A-Z0-9_]*-[0-9]+|[0-9]+)$")  # MKT-12, or the issue's id
# Jira's documented ceiling for one page; it sends fewer when fields are asked for, and the
# source follows nextPageToken whatever the page size.
MAX_RESULTS = 5000
# Jira Cloud publishes no number for its per-second burst limit on API-token traffic: stay modest.
DEFAULT_RATE = 5.0


class JiraSource(HttpSource):
    """Share of done issues, completions by day, open and total issues of JQL searches.

    Connection settings: ``site`` (``https://<name>.atlassian.net``), ``email`` and ``token``
    (``env:NAME`` or ``file:PATH`` of an API token; without ``email`` the token is sent as a
    bearer token), optional ``requests_per_second`` (default 5), ``concurrency`` (default 2) and
    ``timeout`` (seconds, default 30); ``endpoint`` overrides ``site``. Key results with the same
    JQL share one search.
    """

    name = "jira"
    service = "Jira"
    user_agent = f"okrcore-jira/{__version__}"
    default_rate = DEFAULT_RATE
    secrets = (("token", "a Jira API token"),)
    extra_settings = ("site", "email")

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self.endpoint = str(connection.endpoint or connection.settings.get("site") or "")
        self.endpoint = self.endpoint.rstrip("/")

    @classmethod
    def validate_connection(cls, connection: Connection) -> list[QueryProblem]:
        """A site URL, a token given as a secret reference, positive numbers."""
        settings = connection.settings
        problems = super().validate_connection(connection)
        site = connection.endpoint or settings.get("site")
        if not (isinstance(site, str) and site.startswith(("https://", "http://"))):
            problems.append(QueryProblem(
                "site", "set site to your Jira Cloud URL, e.g. https://acme.atlassian.net"))
        email = settings.get("email")
        if email is not None and not (isinstance(email, str) and "@" in email):
            problems.append(QueryProblem("email", "email is the Atlassian account's address"))
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

    # -- initiatives that follow an issue ------------------------------------------------------

    def item_states(self, items: Sequence[TrackedItem]) -> list[ItemState]:
        """Each tracked issue's status category (``tracks: {connection: jira, issue: MKT-12}``):
        To Do is ``planned``, In Progress ``doing``, Done ``done``; one
        ``GET /rest/api/3/issue/{key}?fields=status`` per issue."""
        out = []
        for item in items:
            key = item.query.get("issue")
            if not isinstance(key, str) or not _ISSUE_KEY.match(key.strip()):
                out.append(ItemState(item, None, "tracks needs issue: the issue's key, e.g. "
                                                 "MKT-12"))
                continue
            key = key.strip()
            try:
                answer = self.call_object("GET", f"/rest/api/3/issue/{key}",
                                          params={"fields": "status"}, what=f"issue {key}")
                fields = answer.get("fields")
                status = fields.get("status") if isinstance(fields, Mapping) else None
                category = status.get("statusCategory") if isinstance(status, Mapping) else None
                state = _CATEGORIES.get(str(category.get("key"))) \
                    if isinstance(category, Mapping) else None
                if state is None:
                    raise FetchError(FailureKind.TRANSIENT,
                                     f"Jira answered issue {key} without a status category")
            except FetchError as failed:
                out.append(ItemState(item, None, failed.message))
                continue
            out.append(ItemState(item, state))
        return out

    # -- HTTP -------------------------------------------------------------------------------

    def credentials(self) -> Credentials:
        """Basic auth of email and API token; without an email, the token as a bearer token."""
        if not self.endpoint:
            raise FetchError(FailureKind.PERMANENT,
                             f"connection {self.connection.name!r} has no site URL")
        token = self.required_secret("token")
        email = self.connection.settings.get("email")
        if email:
            pair = base64.b64encode(f"{email}:{token}".encode()).decode()
            return Credentials(headers={"Authorization": f"Basic {pair}"})
        return Credentials(headers={"Authorization": f"Bearer {token}"})

    def error(self, response: requests.Response, what: str) -> FetchError:
        """Classify an error answer (see :func:`_error`)."""
        return _error(response, what)

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None) -> Mapping[str, Any]:
        """One paced call answered by a JSON object."""
        return self.call_object(method, path, json=body, what=path)

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
            listed = self.call_list("GET", "/rest/api/3/field", what="/rest/api/3/field")
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
    def build(i: int) -> Task:
        fields = table.fields[i]
        done = query.is_done(fields)
        completed = day_of(_stamp(fields.get(query.completed_on))) if done else None
        return Task(done, day_of(_stamp(fields.get("created"))), completed)

    try:
        # key results reading one search alike share its tasks: each issue is parsed once
        tasks = table.tasks.tasks((query.done_status, query.completed_on), query.select(table),
                                  build)
    except (TypeError, ValueError) as exc:
        return Failure(request, FailureKind.TRANSIENT, f"Jira sent a malformed issue: {exc}")
    undated = sum(1 for t in tasks if t.done and t.completed is None)
    warnings = []
    if undated:
        warnings.append(f"{undated} done issues have no {query.completed_on}; they count as done "
                        "from their creation")
    return tasks_reading(request, tasks, query.metric, hint=f"jql: {query.jql}; check the JQL "
                         "and where", warnings=warnings,
                         info={"requests": calls, "issues": len(tasks)})


def _stamp(value: Any) -> str | None:
    """A Jira timestamp (``2026-11-02T10:00:00.000+0000``) as text; anything else is no date."""
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{value!r} is not a date")


def _error(response: requests.Response, what: str = "") -> FetchError:
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
        # the hourly quota was first announced in beta headers (X-Beta-RateLimit-Reason:
        # jira-quota-tenant-based, X-Beta-RateLimit-Reset), the burst limit in the plain ones
        headers = response.headers
        reason = headers.get("RateLimit-Reason") or headers.get("X-Beta-RateLimit-Reason", "")
        if "quota" in reason:
            reset = headers.get("X-RateLimit-Reset") or headers.get("X-Beta-RateLimit-Reset")
            return FetchError(FailureKind.QUOTA, f"{label} ({reason}: the quota resets "
                                                 f"{'at ' + reset if reset else 'later'})")
        return FetchError(FailureKind.TRANSIENT, f"{label}{' (' + reason + ')' if reason else ''}",
                          retry_after)
    if status >= 500 or status == 408:
        return FetchError(FailureKind.TRANSIENT, label, retry_after)
    if status == 404 and what.startswith("issue "):
        return FetchError(FailureKind.PERMANENT, f"{label} (check the key of {what})")
    if status == 404:
        return FetchError(FailureKind.PERMANENT, f"{label} (check the site URL)")
    return FetchError(FailureKind.PERMANENT, label)
