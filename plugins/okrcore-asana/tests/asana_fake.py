"""A local fake of Asana's REST API 1.0, following its documented wire format.

Every answer wraps the payload in ``{"data": ...}``; list endpoints page with ``limit`` (1-100)
and an opaque ``offset`` and add ``next_page`` (null on the last page; absent without ``limit``).
Objects carry only the ``opt_fields`` asked for (dotted paths select nested fields) plus ``gid``.
``completed_since`` keeps open tasks and those completed since then. A missing or wrong bearer
token gets 401 ``{"errors": [{"message": "Not Authorized"}]}``. Tests can queue canned answers
(errors, rate limits, malformed bodies, a hang) that take precedence, and read every call.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any

TOKEN = "2/1200000000000001/1206000000000009:7f3c"
PREFIX = "/api/1.0"


class Call:
    def __init__(self, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> None:
        self.path = path
        self.query = query
        self.headers = headers

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


class Canned:
    def __init__(self, status: int, body: Any, headers: dict[str, str], hang: bool) -> None:
        self.status, self.body, self.headers, self.hang = status, body, headers, hang


class FakeAsana:
    def __init__(self) -> None:
        self.tasks: dict[str, list[dict[str, Any]]] = {}
        self.sections: dict[str, list[dict[str, Any]]] = {}
        self.fields: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[Call] = []
        self.canned: list[Canned] = []
        self.url = ""
        self.release = threading.Event()
        self._lock = threading.Lock()

    def add_project(
        self, gid: str, sections: Sequence[str] = (), fields: Sequence[str] = ()
    ) -> None:
        self.tasks.setdefault(gid, [])
        self.sections[gid] = [{"gid": f"{gid}{i}", "name": n} for i, n in enumerate(sections)]
        self.fields[gid] = [{"gid": f"{gid}9{i}", "custom_field": {"gid": f"9{i}", "name": n}}
                            for i, n in enumerate(fields)]

    def add_task(
        self,
        project: str,
        *,
        created: dt.date,
        completed: dt.date | None = None,
        section: str | None = None,
        tags: Sequence[str] = (),
        assignee: str | None = None,
        custom: Mapping[str, Any] | None = None,
    ) -> None:
        gid = str(1206000000000100 + sum(len(t) for t in self.tasks.values()))
        memberships: list[dict[str, Any]] = [{"project": {"gid": project, "name": "P"},
                        "section": {"gid": f"{project}s", "name": section or "Untitled"}}]
        fields: list[dict[str, Any]] = []
        for name, value in (custom or {}).items():
            if isinstance(value, (int, float)):
                fields.append({"gid": f"f{name}", "name": name, "display_value": f"{value}",
                               "number_value": value, "multi_enum_values": []})
            elif isinstance(value, list):
                fields.append({"gid": f"f{name}", "name": name, "display_value": ", ".join(value),
                               "number_value": None,
                               "multi_enum_values": [{"gid": v, "name": v} for v in value]})
            else:
                fields.append({"gid": f"f{name}", "name": name, "display_value": value,
                               "number_value": None, "multi_enum_values": []})
        self.tasks.setdefault(project, []).append({
            "gid": gid, "name": f"Task {gid}", "resource_type": "task",
            "resource_subtype": "default_task",
            "completed": completed is not None,
            "completed_at": f"{completed}T10:00:00.000Z" if completed else None,
            "created_at": f"{created}T08:30:00.000Z",
            "memberships": memberships,
            "tags": [{"gid": f"t{t}", "name": t} for t in tags],
            "assignee": {"gid": f"u{assignee}", "email": assignee} if assignee else None,
            "custom_fields": fields,
        })

    def answer(self, status: int, body: Any, headers: dict[str, str] | None = None,
               *, hang: bool = False) -> None:
        """Queue a canned answer for the next call (``body`` str is sent as is)."""
        self.canned.append(Canned(status, body, headers or {}, hang))

    def pages(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    def handle(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.calls.append(call)
            canned = self.canned.pop(0) if self.canned else None
        if canned is not None:
            if canned.hang:
                self.release.wait(30)
            return canned.status, canned.body, canned.headers
        if call.headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {"errors": [{"message": "Not Authorized"}]}, {}
        parts = call.path[len(PREFIX):].strip("/").split("/")
        if parts[0] == "tasks" and len(parts) == 2:  # GET /tasks/{task_gid}: one task
            fields = [f for f in (call.param("opt_fields") or "").split(",") if f]
            for task in (t for tasks in self.tasks.values() for t in tasks):
                if task["gid"] == parts[1]:
                    return 200, {"data": _select(task, fields)}, {}
            # Asana documents 404 and the errors[] shape, not the text; "<kind>: Not a recognized
            # ID: <gid>" is seen with 404 for an unknown object (github.com/infiniflow/ragflow
            # issue 13669) and with 400 when the gid is of another kind of object (a project
            # gid as a task: github.com/Asana/create-app-attachment-github-action issue 6);
            # the source fails both as permanent
            return 404, {"errors": [{"message": f"task: Not a recognized ID: {parts[1]}"}]}, {}
        if parts[0] != "projects" or len(parts) < 2:
            return 404, {"errors": [{"message": "Unknown path"}]}, {}
        gid = parts[1]
        if gid not in self.tasks:
            return 404, {"errors": [{"message": f"project: Unknown object: {gid}"}]}, {}
        fields = [f for f in (call.param("opt_fields") or "").split(",") if f]
        if len(parts) == 2:
            return 200, {"data": _select({"gid": gid, "name": "P", "resource_type": "project"},
                                         fields)}, {}
        if parts[2] == "tasks":
            items = self.tasks[gid]
            since = call.param("completed_since")
            if since is not None:
                cut = "9999" if since == "now" else since
                items = [t for t in items if not t["completed"] or t["completed_at"] >= cut]
        elif parts[2] == "sections":
            items = self.sections[gid]
        elif parts[2] == "custom_field_settings":
            items = self.fields[gid]
        else:
            return 404, {"errors": [{"message": "Unknown path"}]}, {}
        return _page(call, [_select(t, fields) for t in items])


def _page(call: Call, items: list[dict[str, Any]]) -> tuple[int, Any, dict[str, str]]:
    limit_text = call.param("limit")
    if limit_text is None:  # unpaginated (grandfathered endpoints)
        return 200, {"data": items}, {}
    limit = int(limit_text)
    if not 1 <= limit <= 100:
        return 400, {"errors": [{"message": "limit: Must be between 1 and 100"}]}, {}
    start = 0
    offset = call.param("offset")
    if offset is not None:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(offset))["at"])
        except (ValueError, KeyError):
            return 400, {"errors": [{"message": "offset: Your pagination token is invalid"}]}, {}
    chunk = items[start : start + limit]
    following = None
    if start + limit < len(items):
        token = base64.urlsafe_b64encode(json.dumps({"at": start + limit}).encode()).decode()
        query = urllib.parse.urlencode({"limit": limit, "offset": token})
        following = {"offset": token, "path": f"{call.path[len(PREFIX):]}?{query}",
                     "uri": f"https://app.asana.com{call.path}?{query}"}
    return 200, {"data": chunk, "next_page": following}, {}


def _select(obj: Mapping[str, Any], fields: list[str]) -> dict[str, Any]:
    """The object with only the (dotted) fields asked for, and its gid."""
    if not fields:  # the compact form
        return {k: obj[k] for k in ("gid", "name", "resource_type", "resource_subtype")
                if k in obj}
    out: dict[str, Any] = {"gid": obj["gid"]} if "gid" in obj else {}
    nested: dict[str, list[str]] = {}
    for field in fields:
        head, _, rest = field.partition(".")
        if rest:
            nested.setdefault(head, []).append(rest)
        elif head in obj:
            out[head] = obj[head]
    for head, rests in nested.items():
        value = obj.get(head)
        if isinstance(value, list):
            out[head] = [_select(v, rests) for v in value]
        elif isinstance(value, Mapping):
            out[head] = _select(value, rests)
        else:
            out[head] = value
    return out


class Handler(BaseHTTPRequestHandler):
    fake: FakeAsana
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        call = Call(urllib.parse.unquote(parts.path), urllib.parse.parse_qs(parts.query), headers)
        status, answer, extra = self.fake.handle(call)
        data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass
