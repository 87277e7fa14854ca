"""The ``notion`` metric source: task progress of a database (``POST /v1/data_sources/{id}/query``).
"""

from __future__ import annotations

import json
import threading
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
from .query import (
    TIMESTAMPS,
    NotionQuery,
    Table,
    parse_query,
    parse_tracks,
    properties_of,
    validate_query,
)

if TYPE_CHECKING:  # imported where it is used, so that listing plugins stays fast
    import requests

__all__ = ["DEFAULT_ENDPOINT", "DEFAULT_RATE", "NOTION_VERSION", "PAGE_SIZE", "NotionSource"]

DEFAULT_ENDPOINT = "https://api.notion.com"
NOTION_VERSION = "2025-09-03"  # data sources: the first version that reads multi-source databases
PAGE_SIZE = 100  # the largest page_size Notion accepts
# Notion allows an average of three requests per second per connection: stay under it.
DEFAULT_RATE = 2.5


class NotionSource(HttpSource):
    """Share of done pages, completions by day, open and total pages of Notion databases.

    Connection settings: ``token`` (``env:NAME`` or ``file:PATH`` of an internal connection's
    secret or an OAuth access token), optional ``requests_per_second`` (default 2.5),
    ``concurrency`` (default 2) and ``timeout`` (seconds, default 30); ``endpoint`` overrides
    ``https://api.notion.com``. Key results on one database (and one ``filter``) share one read.
    """

    name = "notion"
    service = "Notion"
    user_agent = f"okrcore-notion/{__version__}"
    default_endpoint = DEFAULT_ENDPOINT
    default_rate = DEFAULT_RATE
    secrets = (("token", "a Notion token"),)

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self._sources_lock = threading.Lock()
        self._sources: dict[str, list[str]] = {}  # database id -> its data source ids

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        """Database id, metric (fitting the measure), done, completed_on and filter shapes."""
        return validate_query(query, kr)

    def batches(self, requests: Sequence[FetchRequest]) -> list[list[FetchRequest]]:
        """One batch per database and filter: its pages are read once for all key results."""
        groups: dict[Any, list[FetchRequest]] = {}
        for request in requests:
            try:
                key: Any = parse_query(request.query, request.kr).group
            except ValueError:
                key = ("invalid", request.kr.id)
            groups.setdefault(key, []).append(request)
        return list(groups.values())

    # -- fetching ---------------------------------------------------------------------------

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterable[Reading | Failure]:
        """Read each database's pages once, then compute every request of the batch from them."""
        groups: dict[Any, list[tuple[FetchRequest, NotionQuery]]] = {}
        for request in requests:
            try:
                query = parse_query(request.query, request.kr)
            except ValueError as exc:
                yield Failure(request, FailureKind.PERMANENT, f"invalid notion query: {exc}")
                continue
            groups.setdefault(query.group, []).append((request, query))
        for group in groups.values():
            first = group[0][1]
            try:
                pages, calls = self._pages(first)
            except FetchError as error:
                for request, _ in group:
                    yield error.failure(request)
                continue
            table = Table(pages)
            for request, query in group:
                yield _reading(request, query, table, calls)

    def _pages(self, query: NotionQuery) -> tuple[list[Mapping[str, Any]], int]:
        """Every page of the query's data sources (paged to the end) and the calls it took."""
        kind, ident = query.target
        calls = 0
        if kind == "database":
            sources, calls = self._data_sources(ident)
        else:
            sources = [ident]
        pages: list[Mapping[str, Any]] = []
        for source_id in sources:
            cursor: str | None = None
            while True:
                body: dict[str, Any] = {"page_size": PAGE_SIZE}
                if query.filter is not None:
                    body["filter"] = json.loads(query.filter)
                if cursor is not None:
                    body["start_cursor"] = cursor
                answer = self._call("POST", f"/v1/data_sources/{source_id}/query", body,
                                    f"data source {source_id}")
                calls += 1
                results = answer.get("results")
                if not isinstance(results, list) or not all(
                    isinstance(r, Mapping) for r in results
                ):
                    raise FetchError(FailureKind.TRANSIENT,
                                     "Notion answered a query without a results list")
                pages.extend(r for r in results if r.get("object", "page") == "page")
                status = answer.get("request_status")
                if isinstance(status, Mapping) and status.get("type") == "incomplete":
                    raise FetchError(
                        FailureKind.PERMANENT,
                        f"data source {source_id}: Notion stops a query at 10,000 results "
                        f"({status.get('incomplete_reason')}): add a filter to narrow it")
                if answer.get("has_more") is not True:
                    break
                following = answer.get("next_cursor")
                if not isinstance(following, str) or not following or following == cursor:
                    raise FetchError(FailureKind.TRANSIENT,
                                     "Notion said has_more without a new next_cursor")
                cursor = following
        return pages, calls

    def _data_sources(self, database: str) -> tuple[list[str], int]:
        """The data source ids of a database, read once per connection."""
        with self._sources_lock:
            known = self._sources.get(database)
        if known is not None:
            return known, 0
        answer = self._call("GET", f"/v1/databases/{database}", None, f"database {database}")
        found = answer.get("data_sources")
        if not isinstance(found, list) or not found or not all(
            isinstance(s, Mapping) and isinstance(s.get("id"), str) for s in found
        ):
            raise FetchError(FailureKind.TRANSIENT,
                             f"Notion answered database {database} without data_sources")
        ids = [str(s["id"]) for s in found]
        with self._sources_lock:
            self._sources[database] = ids
        return ids, 1

    # -- initiatives that follow a page -------------------------------------------------------

    def item_states(self, items: Sequence[TrackedItem]) -> list[ItemState]:
        """Each tracked page's state (``tracks: {connection: notion, page: URL or id}``, with an
        optional ``done`` as in a key result's query, default ``{property: Status, equals:
        Done}``): a page done by that rule is ``done``, one in the trash that is not
        ``dropped``, another ``open``; one ``GET /v1/pages/{id}`` per page."""
        out = []
        for item in items:
            try:
                query = parse_tracks(item.query)
            except ValueError as exc:
                out.append(ItemState(item, None, f"invalid tracks: {exc}"))
                continue
            page_id = query.target[1]
            try:
                page = self._call("GET", f"/v1/pages/{page_id}", None, f"page {page_id}")
                try:
                    done = query.is_done(Table([page]), 0)
                except ValueError as exc:
                    out.append(ItemState(item, None, f"page {page_id}: {exc}"))
                    continue
            except FetchError as failed:
                out.append(ItemState(item, None, failed.message))
                continue
            trashed = page.get("in_trash") is True or page.get("archived") is True
            out.append(ItemState(item, "done" if done else "dropped" if trashed else "open"))
        return out

    # -- HTTP -------------------------------------------------------------------------------

    def credentials(self) -> Credentials:
        """A bearer token, and the API version every call must name."""
        return Credentials(headers={"Authorization": f"Bearer {self.required_secret('token')}",
                                    "Notion-Version": NOTION_VERSION})

    def error(self, response: requests.Response, what: str) -> FetchError:
        """Classify an error answer (see :func:`_error`)."""
        return _error(response, what)

    def _call(
        self, method: str, path: str, body: Mapping[str, Any] | None, what: str
    ) -> Mapping[str, Any]:
        """One paced call answered by a JSON object."""
        return self.call_object(method, path, json=body, what=what)

    # -- online check -----------------------------------------------------------------------

    def check_online(
        self, queries: Sequence[tuple[KeyResult, Mapping[str, Any]]]
    ) -> list[tuple[str, QueryProblem]]:
        """Check that each database is shared with the connection and has the properties the
        query names (``done``, ``completed_on``, ``where``), of a fitting type.

        Reads each database and its data sources' schemas once. Authentication and network
        errors raise :class:`okrcore.errors.SourceError`.
        """
        found: list[tuple[str, QueryProblem]] = []
        schemas: dict[tuple[str, str], Mapping[str, Any] | str] = {}
        try:
            for kr, raw in queries:
                if validate_query(raw, kr):
                    continue  # the offline lint reports these
                query = parse_query(raw, kr)
                if query.target not in schemas:
                    schemas[query.target] = self._schema(query)
                schema = schemas[query.target]
                if isinstance(schema, str):
                    found.append((kr.id, QueryProblem(query.target[0], schema)))
                    continue
                found.extend((kr.id, p) for p in _schema_problems(query, schema))
        except FetchError as failed:
            raise SourceError(failed.message) from None
        return found

    def _schema(self, query: NotionQuery) -> Mapping[str, Any] | str:
        """Property name -> type over the query's data sources, or the reason it is unreadable."""
        kind, ident = query.target
        try:
            sources = self._data_sources(ident)[0] if kind == "database" else [ident]
            types: dict[str, Any] = {}
            for source_id in sources:
                answer = self._call("GET", f"/v1/data_sources/{source_id}", None,
                                    f"data source {source_id}")
                props = answer.get("properties")
                if isinstance(props, Mapping):
                    types.update({str(k): v.get("type") for k, v in props.items()
                                  if isinstance(v, Mapping)})
        except FetchError as failed:
            if failed.kind is FailureKind.PERMANENT:
                return failed.message
            raise
        return types


_DONE_TYPES = ("checkbox", "status", "select", "multi_select", "formula", "rich_text", "title",
               "people", "number")
_DATE_TYPES = ("date", "formula", "rollup", "last_edited_time", "created_time")


def _schema_problems(query: NotionQuery, types: Mapping[str, Any]) -> list[QueryProblem]:
    known = ", ".join(sorted(types)) or "none"
    out: list[QueryProblem] = []
    wanted: list[tuple[str, str, tuple[str, ...] | None]] = [
        ("done", query.done_property, _DONE_TYPES)]
    if query.completed_on and query.completed_on not in TIMESTAMPS:
        wanted.append(("completed_on", query.completed_on, _DATE_TYPES))
    wanted += [(f"where.{name}", name, None) for name, _ in query.where]
    for field, name, allowed in wanted:
        have = types.get(name)
        if name not in types:
            out.append(QueryProblem(field, f"the database has no property {name!r} "
                                           f"(properties: {known})"))
        elif allowed is not None and have not in allowed:
            purpose = "when a page was done" if field == "completed_on" else "if a page is done"
            out.append(QueryProblem(field, f"property {name!r} is a {have}, which cannot say "
                                           f"{purpose}"))
        elif field == "done" and have != "checkbox" and not query.done_values:
            out.append(QueryProblem("done.equals", f"property {name!r} is a {have}: say which "
                                                   "values mean done with equals"))
    return out


def _completed_on(query: NotionQuery, page: Mapping[str, Any]) -> str | None:
    """The raw completion timestamp of a page: a date property, formula, or page attribute."""
    name = query.completed_on
    if name is None:
        return None
    if name in TIMESTAMPS and name not in properties_of(page):
        value = page.get(name)
        return str(value) if value else None
    prop = properties_of(page).get(name)
    if not isinstance(prop, Mapping):
        raise ValueError(f"pages have no property {name!r} (completed_on)")
    kind = prop.get("type")
    value = prop.get(kind) if isinstance(kind, str) else None
    if kind in ("formula", "rollup") and isinstance(value, Mapping):
        value = value.get("date")
    if isinstance(value, Mapping):
        value = value.get("start")
    if value is not None and not isinstance(value, str):
        raise ValueError(f"property {name!r} is a {kind}, not a date")
    return value or None


def _reading(
    request: FetchRequest, query: NotionQuery, table: Table, calls: int
) -> Reading | Failure:
    def build(i: int) -> Task:
        page = table.pages[i]
        done = query.is_done(table, i)
        completed = day_of(_completed_on(query, page)) if done else None
        return Task(done, day_of(page.get("created_time")), completed)

    try:
        # key results reading a database alike share its tasks: each page is parsed once
        how = (query.done_property, query.done_values, query.completed_on)
        tasks = table.tasks.tasks(how, query.select(table), build)
    except (TypeError, ValueError) as exc:
        return Failure(request, FailureKind.PERMANENT, f"{_where(query)}: {exc}")
    undated = sum(1 for t in tasks if t.done and t.completed is None) \
        if query.completed_on else 0
    warnings = []
    if undated:
        warnings.append(f"{undated} done pages have no {query.completed_on!r}; "
                        "they count as done from their creation")
    return tasks_reading(request, tasks, query.metric, where=_where(query),
                         hint="check where and filter", warnings=warnings,
                         info={"requests": calls, "pages": len(tasks)})


def _where(query: NotionQuery) -> str:
    kind, ident = query.target
    return f"{kind.replace('_', ' ')} {ident}"


def _error(response: requests.Response, what: str) -> FetchError:
    """Classify an error answer: ``{"object": "error", "status", "code", "message"}``."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    code = message = ""
    if isinstance(body, Mapping):
        code, message = str(body.get("code") or ""), str(body.get("message") or "")
    label = f"Notion {status}{' ' + code if code else ''}: {message or response.reason or '?'}"
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 401:
        return FetchError(FailureKind.AUTH, f"{label} (check the token)")
    if status == 403:
        return FetchError(FailureKind.AUTH,
                          f"{label} (give the connection the 'Read content' capability)")
    if status in (429, 529) or status >= 500 or status == 408:
        return FetchError(FailureKind.TRANSIENT, label, retry_after)
    if status == 404:
        shared = "page" if what.startswith("page ") else "database"
        return FetchError(FailureKind.PERMANENT,
                          f"{label} ({what}: share the {shared} with the connection "
                          "under its ••• menu → Connections)")
    return FetchError(FailureKind.PERMANENT, f"{label} ({what})")
