"""A local fake of Notion's API (version 2025-09-03), following its documented wire format.

``GET /v1/databases/{id}`` lists the database's ``data_sources``; ``GET /v1/data_sources/{id}``
gives the schema; ``POST /v1/data_sources/{id}/query`` pages with ``page_size`` (at most 100)
and an opaque ``start_cursor``, answering ``results``, ``has_more`` and ``next_cursor`` (null at
the end), and stops at ``cap`` results with ``request_status`` incomplete (10,000 at Notion).
Simple property filters (checkbox, status, select ``equals``; ``and``/``or``) are applied.
``GET /v1/pages/{id}`` answers one page object (its properties, ``in_trash``; "Retrieve a
page", https://developers.notion.com/reference/retrieve-a-page), 404 ``object_not_found`` for
a page that does not exist or is not shared with the connection.
Every request needs ``Notion-Version`` (else 400 ``missing_version``) and the bearer token (else
401 ``unauthorized``). Errors are ``{"object": "error", "status", "code", "message"}``. Tests can
queue canned answers (errors, rate limits, malformed bodies, a hang) and read every call;
``delay`` adds latency to every answer.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any

TOKEN = "ntn_4471_test_secret"
VERSIONS = ("2025-09-03", "2026-03-11")


def error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"object": "error", "status": status, "code": code, "message": message,
            "request_id": str(uuid.uuid4())}


class Call:
    def __init__(self, method: str, path: str, headers: dict[str, str], body: Any) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body


class Canned:
    def __init__(self, status: int, body: Any, headers: dict[str, str], hang: bool) -> None:
        self.status, self.body, self.headers, self.hang = status, body, headers, hang


class FakeNotion:
    def __init__(self) -> None:
        self.databases: dict[str, list[str]] = {}
        self.schemas: dict[str, dict[str, str]] = {}
        self.pages: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[Call] = []
        self.canned: list[Canned] = []
        self.cap = 10_000
        self.delay = 0.0
        self.url = ""
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._found: dict[str, list[dict[str, Any]]] = {}  # source + filter -> matching pages
        self._count = 0

    def add_database(self, database: str, schema: Mapping[str, str],
                     sources: Sequence[str] = ()) -> list[str]:
        """A database with data sources (one by default) sharing ``schema`` (name -> type)."""
        ids = list(sources) or [str(uuid.uuid5(uuid.NAMESPACE_URL, database))]
        self.databases[database] = ids
        for ds in ids:
            self.schemas[ds] = dict(schema)
            self.pages[ds] = []
        return ids

    def add_page(self, source: str, created: dt.date, **values: Any) -> str:
        """Add a page (property values by name, spaces as ``_``; ``trashed=True`` puts it in
        the trash); returns its id."""
        self._count += 1
        self._found.clear()
        props = {name: _value(kind, values.get(name.replace(" ", "_")))
                 for name, kind in self.schemas[source].items()}
        for name, prop in props.items():
            prop["id"] = name[:4].lower()
        self.pages[source].append({
            "object": "page", "id": str(uuid.UUID(int=self._count)),
            "created_time": f"{created}T09:15:00.000Z",
            "last_edited_time": f"{values.get('edited', created)}T17:00:00.000Z",
            "in_trash": bool(values.get("trashed")),
            "parent": {"type": "data_source_id", "data_source_id": source},
            "properties": props,
        })
        return str(self.pages[source][-1]["id"])

    def answer(self, status: int, body: Any, headers: dict[str, str] | None = None,
               *, hang: bool = False) -> None:
        """Queue a canned answer for the next call (``body`` str is sent as is)."""
        self.canned.append(Canned(status, body, headers or {}, hang))

    def queries(self, source: str) -> list[Call]:
        return [c for c in self.calls if c.path == f"/v1/data_sources/{source}/query"]

    def handle(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.calls.append(call)
            canned = self.canned.pop(0) if self.canned else None
        if self.delay:
            time.sleep(self.delay)
        if canned is not None:
            if canned.hang:
                self.release.wait(30)
            return canned.status, canned.body, canned.headers
        if "notion-version" not in call.headers:
            return 400, error(400, "missing_version", "Notion-Version header failed validation: "
                              "Notion-Version header should be defined, instead was undefined."), {}
        if call.headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, error(401, "unauthorized", "API token is invalid."), {}
        if call.headers["notion-version"] not in VERSIONS:
            return 400, error(400, "invalid_request_url", "Invalid request URL."), {}
        parts = call.path.strip("/").split("/")
        if call.method == "GET" and parts[:2] == ["v1", "pages"] and len(parts) == 3:
            for page in (p for pages in self.pages.values() for p in pages):
                if page["id"] == parts[2]:
                    return 200, page, {}
            return 404, _not_found("page", parts[2]), {}
        if call.method == "GET" and parts[:2] == ["v1", "databases"] and len(parts) == 3:
            if parts[2] not in self.databases:
                return 404, _not_found("database", parts[2]), {}
            return 200, {"object": "database", "id": parts[2], "title": [],
                         "data_sources": [{"id": d, "name": f"Tasks {i}"}
                                          for i, d in enumerate(self.databases[parts[2]])]}, {}
        if parts[:2] != ["v1", "data_sources"] or len(parts) < 3:
            return 400, error(400, "invalid_request_url", "Invalid request URL."), {}
        source = parts[2]
        if source not in self.schemas:
            return 404, _not_found("data_source", source), {}
        if call.method == "GET" and len(parts) == 3:
            return 200, {"object": "data_source", "id": source,
                         "properties": {n: {"id": n[:4].lower(), "name": n, "type": t, t: {}}
                                        for n, t in self.schemas[source].items()}}, {}
        if call.method == "POST" and parts[3:] == ["query"]:
            return self._query(source, call.body or {})
        return 400, error(400, "invalid_request_url", "Invalid request URL."), {}

    def _query(self, source: str, body: Mapping[str, Any]) -> tuple[int, Any, dict[str, str]]:
        size = body.get("page_size", 100)
        if not isinstance(size, int) or not 1 <= size <= 100:
            return 400, error(400, "validation_error",
                              "body failed validation: body.page_size should be ≤ `100`."), {}
        start = 0
        if body.get("start_cursor") is not None:
            try:
                start = json.loads(base64.b64decode(body["start_cursor"]))["at"]
            except (ValueError, KeyError, TypeError):
                return 400, error(400, "validation_error",
                                  "body failed validation: body.start_cursor is invalid."), {}
        key = source + json.dumps(body.get("filter"), sort_keys=True)
        if key not in self._found:  # a query pages through the same filter: apply it once
            self._found[key] = [p for p in self.pages[source] if _passes(p, body.get("filter"))]
        matching = self._found[key]
        reachable = matching[: self.cap]
        chunk = reachable[start : start + size]
        more = start + size < len(reachable)
        answer: dict[str, Any] = {
            "object": "list", "results": chunk, "has_more": more,
            "next_cursor": base64.b64encode(json.dumps({"at": start + size}).encode()).decode()
            if more else None,
            "type": "page_or_data_source", "page_or_data_source": {},
        }
        if not more and len(matching) > self.cap:
            answer["request_status"] = {"type": "incomplete",
                                        "incomplete_reason": "query_result_limit_reached"}
        return 200, answer, {}


def _not_found(kind: str, ident: str) -> dict[str, Any]:
    return error(404, "object_not_found", f"Could not find {kind} with ID: {ident}. Make sure "
                 "the relevant pages and databases are shared with your integration.")


def _value(kind: str, value: Any) -> dict[str, Any]:
    """A page property value of ``kind`` holding ``value``, shaped as Notion sends it."""
    if kind == "checkbox":
        return {"type": kind, kind: bool(value)}
    if kind in ("status", "select"):
        return {"type": kind, kind: None if value is None else
                {"id": f"o-{value}", "name": value, "color": "green"}}
    if kind == "multi_select":
        return {"type": kind, kind: [{"id": f"o-{v}", "name": v, "color": "blue"}
                                     for v in value or []]}
    if kind == "date":
        return {"type": kind, kind: None if value is None else
                {"start": str(value), "end": None, "time_zone": None}}
    if kind == "people":
        return {"type": kind, kind: [{"object": "user", "id": f"u-{v}", "name": v.split("@")[0],
                                      "type": "person", "person": {"email": v}}
                                     for v in value or []]}
    if kind == "number":
        return {"type": kind, kind: value}
    if kind == "title":
        text = str(value or "")
        return {"type": kind, kind: [{"type": "text", "text": {"content": text},
                                      "plain_text": text}]}
    raise AssertionError(f"the fake has no property type {kind}")


def _passes(page: Mapping[str, Any], spec: Any) -> bool:
    if not spec:
        return True
    if "and" in spec:
        return all(_passes(page, s) for s in spec["and"])
    if "or" in spec:
        return any(_passes(page, s) for s in spec["or"])
    prop = page["properties"][spec["property"]]
    for kind in ("checkbox", "status", "select"):
        if kind in spec:
            have = prop[kind]
            if isinstance(have, Mapping):
                have = have["name"]
            return bool(have == spec[kind]["equals"])
    raise AssertionError(f"the fake cannot apply filter {spec}")


class Handler(BaseHTTPRequestHandler):
    fake: FakeNotion
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = urllib.parse.urlsplit(self.path).path
        status, answer, extra = self.fake.handle(Call(self.command, path, headers, body))
        data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass
