"""Local fakes of the Graph API (Facebook Page / Instagram) and YouTube Data API v3.

They follow the documented shapes: Page fields as integers, insights as daily values whose
``end_time`` is the next day at 08:00 UTC, the error envelope ``{"error": {"code": ...}}`` with
HTTP 400, the Graph token in the query string, at most 90 (Facebook) or 30 (Instagram) days
between since and until, YouTube counts as strings. Every call is recorded; canned answers
queued by a test take precedence.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import Any

GRAPH_TOKEN = "EAAB-test-token"
YT_KEY = "AIza-test-key"
REMOVED = {"page_impressions", "page_fans", "page_impressions_unique", "impressions"}


class Call:
    def __init__(self, path: str, query: dict[str, str], headers: dict[str, str]) -> None:
        self.path = path
        self.query = query
        self.headers = headers


def graph_error(code: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": "OAuthException", "code": code,
                      "fbtrace_id": "AbC123", **extra}}


class FakeSocial:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.daily: dict[tuple[str, str], dict[dt.date, Any]] = {}
        self.max_days: dict[str, int] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.handles: dict[str, str] = {}
        self.calls: list[Call] = []
        self.canned: list[tuple[int, Any, dict[str, str]]] = []
        self.headers: dict[str, str] = {}
        self.url = ""
        self._lock = threading.Lock()

    def answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.canned.append((status, body, headers or {}))

    def handle(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.calls.append(call)
            if self.canned:
                return self.canned.pop(0)
        if call.path == "/youtube/v3/channels":
            return self._youtube(call.query)
        return self._graph(call)

    def _graph(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        headers = dict(self.headers)
        if call.query.get("access_token") != GRAPH_TOKEN:
            return 400, graph_error(190, "Error validating access token: Session has expired",
                                    error_subcode=463), headers
        parts = [p for p in call.path.split("/") if p]
        if not parts or parts[0] != "v25.0":
            return 400, graph_error(2635, "unsupported version"), headers
        obj = parts[1]
        if obj not in self.objects:
            return 400, graph_error(100, f"Unsupported get request. Object with ID '{obj}' "
                                    "does not exist"), headers
        if len(parts) == 2:
            wanted = call.query.get("fields", "id").split(",")
            found = {f: self.objects[obj][f] for f in wanted if f in self.objects[obj]}
            return 200, {**found, "id": obj}, headers
        raw = call.query["metric"]
        metrics = json.loads(raw) if raw.startswith("[") else raw.split(",")
        bad = [m for m in metrics if m in REMOVED or (obj, m) not in self.daily]
        if bad:
            message = "(#100) The value must be a valid insights metric"
            return 400, graph_error(100, message), headers
        since = dt.date.fromisoformat(call.query["since"])
        until = dt.date.fromisoformat(call.query["until"])
        if (until - since).days > self.max_days.get(obj, 90):
            return 400, graph_error(100, "(#100) There cannot be more than 90 days between "
                                    "since and until"), headers
        data = []
        for m in metrics:
            days = [since + dt.timedelta(days=i) for i in range((until - since).days)]
            series = self.daily[(obj, m)]
            item: dict[str, Any] = {"name": m, "period": call.query.get("period", "day"),
                                    "title": m, "description": m,
                                    "id": f"{obj}/insights/{m}/day"}
            if call.query.get("metric_type") == "total_value":
                item["total_value"] = {"value": sum(series.get(d, 0) for d in days)}
            else:
                item["values"] = [
                    {"value": series[d],
                     "end_time": f"{(d + dt.timedelta(days=1)).isoformat()}T08:00:00+0000"}
                    for d in days if d in series
                ]
            data.append(item)
        return 200, {"data": data, "paging": {"previous": "https://x/prev",
                                              "next": "https://x/next"}}, headers

    def _youtube(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if query.get("key") != YT_KEY:
            return 400, {"error": {"code": 400, "message": "API key not valid. Please pass a "
                                   "valid API key.", "errors": [{"message": "API key not valid.",
                                   "domain": "global", "reason": "badRequest"}]}}, {}
        if "forHandle" in query:
            ids = [self.handles[query["forHandle"]]] if query["forHandle"] in self.handles else []
        else:
            ids = query["id"].split(",")
        items = [{"kind": "youtube#channel", "etag": "e", "id": i,
                  "statistics": self.channels[i]} for i in ids if i in self.channels]
        body: dict[str, Any] = {"kind": "youtube#channelListResponse", "etag": "e",
                                "pageInfo": {"totalResults": len(items), "resultsPerPage": 5}}
        if items:
            body["items"] = items
        return 200, body, {}


class Handler(BaseHTTPRequestHandler):
    fake: FakeSocial

    def do_GET(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, answer, extra = self.fake.handle(Call(parsed.path, query, headers))
        data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass
