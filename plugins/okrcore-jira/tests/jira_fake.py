"""A local fake of Jira Cloud's REST API v3 search, following its documented wire format.

``POST /rest/api/3/search/jql`` takes ``jql``, ``fields`` (only ``id`` by default),
``maxResults`` and ``nextPageToken``, and answers ``issues``, ``nextPageToken`` (absent on the
last page) and ``isLast``. A page holds at most ``page_limit`` issues (100) when fields beyond
``id``/``key`` are asked for, and up to 5,000 otherwise. The JQL understood is a conjunction of
``field = value`` and ``field in (a, b)`` clauses over project, labels, issuetype, status and
statusCategory, with an optional ORDER BY; a query without a restriction is refused (400), as is
one the fake cannot parse. ``GET /rest/api/3/myself`` and ``GET /rest/api/3/field`` serve the
online check. Basic auth (email + API token) is checked (401 JSON otherwise). Errors use
``{"errorMessages": [...], "errors": {}}``. Tests can queue canned answers and read every call;
``delay`` adds latency to every answer.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any

EMAIL = "ana@example.com"
TOKEN = "ATATT3xFfGF0test"
BASIC = "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
CATEGORIES = {"To Do": "new", "In Progress": "indeterminate", "Done": "done",
              "Released": "done", "Won't do": "done"}
FIELDS = [
    {"id": "status", "name": "Status", "custom": False},
    {"id": "created", "name": "Created", "custom": False},
    {"id": "resolutiondate", "name": "Resolved", "custom": False},
    {"id": "statuscategorychangedate", "name": "Status Category Changed", "custom": False},
    {"id": "labels", "name": "Labels", "custom": False},
    {"id": "assignee", "name": "Assignee", "custom": False},
    {"id": "issuetype", "name": "Issue Type", "custom": False},
    {"id": "components", "name": "Components", "custom": False},
    {"id": "customfield_10020", "name": "Sprint", "custom": True},
    {"id": "customfield_10042", "name": "Channel", "custom": True},
]
_CLAUSE = re.compile(r'^\s*(\w+)\s*(=|in)\s*(.+?)\s*$', re.I)


class Call:
    def __init__(self, method: str, path: str, headers: dict[str, str], body: Any) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body


class Canned:
    def __init__(self, status: int, body: Any, headers: dict[str, str], hang: bool) -> None:
        self.status, self.body, self.headers, self.hang = status, body, headers, hang


def errors(*messages: str) -> dict[str, Any]:
    return {"errorMessages": list(messages), "errors": {}}


class FakeJira:
    def __init__(self) -> None:
        self.issues: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self.canned: list[Canned] = []
        self.page_limit = 100
        self.delay = 0.0
        self.url = ""
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._found: dict[str, list[dict[str, Any]]] = {}  # JQL -> matching issues

    def add(self, project: str, created: dt.date, status: str = "To Do",
            resolved: dt.date | None = None, labels: Sequence[str] = (),
            assignee: str | None = None, issuetype: str = "Task",
            components: Sequence[str] = (), **custom: Any) -> None:
        n = sum(1 for i in self.issues if i["key"].startswith(project + "-")) + 1
        ident = str(10000 + len(self.issues))
        fields: dict[str, Any] = {
            "project": {"key": project},
            "status": {"name": status, "id": str(len(status)),
                       "statusCategory": {"id": 2, "key": CATEGORIES[status],
                                          "name": status, "colorName": "green"}},
            "created": f"{created}T09:30:00.000+0000",
            "resolutiondate": f"{resolved}T14:05:11.123+0000" if resolved else None,
            "statuscategorychangedate": f"{resolved or created}T14:05:11.123+0000",
            "labels": list(labels),
            "assignee": None if assignee is None else {
                "accountId": f"5b10{len(assignee)}", "emailAddress": assignee,
                "displayName": assignee.split("@")[0].title()},
            "issuetype": {"name": issuetype, "id": "10001"},
            "components": [{"name": c, "id": c} for c in components],
            **custom,
        }
        self._found.clear()
        self.issues.append({"id": ident, "key": f"{project}-{n}",
                            "self": f"https://acme.atlassian.net/rest/api/3/issue/{ident}",
                            "fields": fields})

    def answer(self, status: int, body: Any, headers: dict[str, str] | None = None,
               *, hang: bool = False) -> None:
        """Queue a canned answer for the next call (``body`` str is sent as is)."""
        self.canned.append(Canned(status, body, headers or {}, hang))

    def searches(self) -> list[Call]:
        return [c for c in self.calls if c.path == "/rest/api/3/search/jql"]

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
        if call.headers.get("authorization") != BASIC:
            # not in Atlassian's reference (it documents ErrorCollection, not the 401 body); this
            # JSON is quoted from real answers in github.com/jira-node/node-jira-client issue 255,
            # and the same sentence as a text body in github.com/atlassian/gajira-login issue 59
            return 401, {"message": "Client must be authenticated to access this resource.",
                         "status-code": 401}, {}
        if call.method == "GET" and call.path == "/rest/api/3/myself":
            return 200, {"accountId": "5b10a", "emailAddress": EMAIL, "active": True}, {}
        if call.method == "GET" and call.path == "/rest/api/3/field":
            return 200, FIELDS, {}
        if call.path in ("/rest/api/3/search", "/rest/api/2/search"):
            return 410, errors("The requested API has been removed. Please migrate to the "
                               "/rest/api/3/search/jql API. A full migration guideline is "
                               "available at https://developer.atlassian.com/changelog/"
                               "#CHANGE-2046"), {}
        if call.method == "POST" and call.path == "/rest/api/3/search/jql":
            return self._search(call.body or {})
        if call.method == "GET" and call.path.startswith("/rest/api/3/issue/"):
            return self._issue(call.path.rsplit("/", 1)[1])
        return 404, errors("Not found"), {}

    def _issue(self, key: str) -> tuple[int, Any, dict[str, str]]:
        """``GET /rest/api/3/issue/{issueIdOrKey}?fields=status``: one issue by key or id."""
        for issue in self.issues:
            if key in (issue["key"], issue["id"]):
                return 200, {"id": issue["id"], "key": issue["key"], "self": issue["self"],
                             "fields": {"status": issue["fields"]["status"]}}, {}
        return 404, errors("Issue does not exist or you do not have permission to see it."), {}

    def _search(self, body: Mapping[str, Any]) -> tuple[int, Any, dict[str, str]]:
        try:
            clauses = _parse(str(body.get("jql", "")))
        except ValueError as exc:
            return 400, errors(str(exc)), {}
        if not clauses:
            return 400, errors("Unbounded JQL queries are not allowed here. Please add a search "
                               "restriction to your query."), {}
        jql = str(body["jql"])
        if jql not in self._found:  # searches page through the same JQL: match it once
            self._found[jql] = [i for i in self.issues if all(_holds(i, c) for c in clauses)]
        matching = self._found[jql]
        wanted = body.get("fields") or ["id"]
        few = set(wanted) <= {"id", "key"}
        size = min(int(body.get("maxResults", 50)), 5000 if few else self.page_limit)
        start = 0
        if body.get("nextPageToken"):
            try:
                start = int(base64.b64decode(body["nextPageToken"]).decode())
            except ValueError:
                return 400, errors("The provided next page token is invalid or expired."), {}
        chunk = matching[start : start + size]
        answer: dict[str, Any] = {"issues": [
            {"id": i["id"], "key": i["key"], "self": i["self"],
             "fields": {f: i["fields"].get(f) for f in wanted if f not in ("id", "key")}}
            for i in chunk], "isLast": start + size >= len(matching)}
        if not answer["isLast"]:
            answer["nextPageToken"] = base64.b64encode(str(start + size).encode()).decode()
        return 200, answer, {}


def _parse(jql: str) -> list[tuple[str, list[str]]]:
    where = re.split(r"\border\s+by\b", jql, flags=re.I)[0].strip()
    if not where:
        return []
    out = []
    for part in re.split(r"\s+and\s+", where, flags=re.I):
        match = _CLAUSE.match(part)
        if not match or match.group(1).lower() not in (
                "project", "labels", "issuetype", "status", "statuscategory"):
            raise ValueError(f"Error in the JQL Query: cannot parse '{part.strip()}'.")
        field, op, value = match.groups()
        values = ([v.strip().strip("'\"") for v in value.strip("()").split(",")]
                  if op.lower() == "in" else [value.strip("'\"")])
        out.append((field.lower(), values))
    return out


def _holds(issue: Mapping[str, Any], clause: tuple[str, list[str]]) -> bool:
    field, values = clause
    f = issue["fields"]
    if field == "project":
        have = [f["project"]["key"]]
    elif field == "labels":
        have = f["labels"]
    elif field in ("issuetype", "status"):
        have = [f[field]["name"]]
    else:  # statuscategory: its name or its key's usual name
        category = f["status"]["statusCategory"]
        have = [category["name"], {"new": "To Do", "indeterminate": "In Progress",
                                   "done": "Done"}[category["key"]]]
    return bool({h.lower() for h in have} & {v.lower() for v in values})


class Handler(BaseHTTPRequestHandler):
    fake: FakeJira
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = urllib.parse.urlsplit(self.path).path
        status, answer, extra = self.fake.handle(Call(self.command, path, headers, body))
        extra = dict(extra)
        data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        self.send_response(status)
        kind = extra.pop("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass
