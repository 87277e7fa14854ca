"""A local fake of HubSpot's CRM search API, following the documented wire shapes.

It evaluates filter groups (OR of ANDs) over an in-memory record set, pages by ``after`` with
``limit`` <= 200, reports ``total``, refuses to page past 10,000 results (400, as HubSpot does),
checks the bearer token, and records every call so tests can assert the exact wire payload.
Tests can also queue canned answers (errors, rate limits) that take precedence.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

TOKEN = "pat-na1-test"
CAP = 10_000


class Call:
    def __init__(self, method: str, path: str, headers: dict[str, str], body: Any) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body


class FakeHubSpot:
    def __init__(self) -> None:
        self.records: dict[str, list[dict[str, Any]]] = {"deals": []}
        self.property_types: dict[str, dict[str, str]] = {"deals": {}}
        self.calls: list[Call] = []
        self.canned: list[tuple[int, Any, dict[str, str]]] = []
        self.headers: dict[str, str] = {}
        self.url = ""
        self._lock = threading.Lock()

    def add(self, obj: str, rid: int, **props: Any) -> None:
        self.records.setdefault(obj, []).append({"id": str(rid), "properties": props})

    def answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        """Queue a canned answer for the next call."""
        self.canned.append((status, body, headers or {}))

    def handle(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.calls.append(call)
            if self.canned:
                return self.canned.pop(0)
        if call.headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {"status": "error", "message": "Authentication credentials not found.",
                         "category": "INVALID_AUTHENTICATION"}, {}
        parts = call.path.split("/")
        if call.method == "GET" and len(parts) == 6 and parts[3] == "properties":
            return self._property(parts[4], parts[5])
        if call.method != "POST" or len(parts) != 6 or parts[5] != "search":
            return 404, {"status": "error", "message": "not found"}, {}
        obj = parts[4]
        if obj not in self.records:
            return 400, {"status": "error", "message": f"Unable to infer object type from: {obj}",
                         "category": "VALIDATION_ERROR"}, {}
        body = call.body
        limit = int(body.get("limit", 10))
        if limit > 200:
            return 400, {"status": "error", "message": "limit too high",
                         "category": "VALIDATION_ERROR"}, {}
        offset = int(body.get("after", "0"))
        matches = [r for r in self.records[obj] if _matches(r, body.get("filterGroups", []))]
        if offset >= CAP:
            return 400, {"status": "error", "category": "VALIDATION_ERROR",
                         "message": "paging past 10000 results is not allowed"}, {}
        wanted = body.get("properties") or ["hs_object_id"]
        page = [
            {"id": r["id"], "properties": {p: r["properties"].get(p) for p in wanted},
             "archived": False}
            for r in matches[offset : offset + limit]
        ]
        answer: dict[str, Any] = {"total": len(matches), "results": page}
        if offset + limit < len(matches):
            answer["paging"] = {"next": {"after": str(offset + limit),
                                         "link": f"?after={offset + limit}"}}
        return 200, answer, dict(self.headers)


    def _property(self, obj: str, name: str) -> tuple[int, Any, dict[str, str]]:
        if obj not in self.property_types:
            return 400, {"status": "error", "message": f"Unable to infer object type from: {obj}",
                         "category": "VALIDATION_ERROR"}, {}
        if name not in self.property_types[obj] and name != "hs_object_id":
            return 404, {"status": "error", "category": "OBJECT_NOT_FOUND",
                         "message": f"Unable to find property {name}"}, {}
        kind = self.property_types[obj].get(name, "number")
        return 200, {"name": name, "label": name, "type": kind,
                     "fieldType": "number" if kind == "number" else "text"}, {}


def _num(text: Any) -> Any:
    try:
        return float(text)
    except (TypeError, ValueError):
        return text


def _matches(record: dict[str, Any], groups: list[dict[str, Any]]) -> bool:
    if not groups:
        return True
    return any(all(_ok(record, f) for f in g["filters"]) for g in groups)


def _ok(record: dict[str, Any], f: dict[str, Any]) -> bool:
    raw = record["properties"].get(f["propertyName"])
    op = f["operator"]
    if op == "HAS_PROPERTY":
        return raw not in (None, "")
    if raw in (None, ""):
        return False
    value, have = _num(f.get("value")), _num(raw)
    if op == "EQ":
        return str(raw) == str(f["value"])
    if op == "NEQ":
        return str(raw) != str(f["value"])
    if op == "IN":
        return str(raw) in [str(v) for v in f["values"]]
    if op == "GTE":
        return bool(have >= value)
    if op == "LTE":
        return bool(have <= value)
    if op == "GT":
        return bool(have > value)
    if op == "LT":
        return bool(have < value)
    if op == "BETWEEN":
        return bool(value <= have <= _num(f["highValue"]))
    raise AssertionError(f"fake does not know operator {op}")


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHubSpot

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, answer, extra = self.fake.handle(Call(self.command, self.path, headers, body))
        data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass
