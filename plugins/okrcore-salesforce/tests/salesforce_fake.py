"""A local fake of the Salesforce REST query API and OAuth token endpoint (documented shapes).

Queries are answered from a table that maps exact SOQL text to an answer: rows (served in
batches with ``nextRecordsUrl`` while ``done`` is false), an aggregate row, or a COUNT() total.
Unknown SOQL gets ``MALFORMED_QUERY``. Every answer carries ``Sforce-Limit-Info``. Bearer tokens
are checked; the token endpoint issues numbered tokens for client-credentials and refresh-token
grants. Every call is recorded; canned answers queued by a test (for queries, or for the token
endpoint) take precedence.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import Any

VERSION = "62.0"
CLIENT_ID = "3MVG9-consumer-key"
CLIENT_SECRET = "s3cr3t-client"
REFRESH_TOKEN = "5Aep-refresh"


class Call:
    def __init__(self, method: str, path: str, query: dict[str, list[str]],
                 headers: dict[str, str], body: str) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body

    @property
    def soql(self) -> str:
        return self.query["q"][0]

    @property
    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body))


class FakeSalesforce:
    def __init__(self) -> None:
        self.answers: dict[str, dict[str, Any]] = {}
        self.cursors: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self.calls: list[Call] = []
        self.canned: list[tuple[int, Any, dict[str, str]]] = []
        self.canned_tokens: list[tuple[int, Any, dict[str, str]]] = []
        self.valid_tokens: set[str] = {"00Dstatic!token"}
        self.issued = 0
        self.batch = 2000
        self.url = ""
        self._lock = threading.Lock()

    def rows(self, soql: str, rows: list[dict[str, Any]], sobject: str = "Opportunity") -> None:
        self.answers[soql] = {"rows": [
            {"attributes": {"type": sobject, "url": f"/services/data/v{VERSION}/sobjects/"
                            f"{sobject}/006{i:06d}"}, **row}
            for i, row in enumerate(rows)
        ]}

    def aggregate(self, soql: str, row: dict[str, Any]) -> None:
        self.answers[soql] = {"rows": [{"attributes": {"type": "AggregateResult"}, **row}]}

    def count(self, soql: str, total: int) -> None:
        self.answers[soql] = {"count": total}

    def answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.canned.append((status, body, headers or {}))

    def token_answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.canned_tokens.append((status, body, headers or {}))

    def queries(self) -> list[Call]:
        return [c for c in self.calls if c.path.startswith("/services/data/")]

    def token_calls(self) -> list[Call]:
        return [c for c in self.calls if c.path == "/services/oauth2/token"]

    def handle(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.calls.append(call)
            n = len(self.calls)
            headers = {"Sforce-Limit-Info": f"api-usage={n}/15000"}
            if call.path == "/services/oauth2/token":
                if self.canned_tokens:
                    return self.canned_tokens.pop(0)
                return self._token(call.form)
            if self.canned:
                status, body, extra = self.canned.pop(0)
                return status, body, {**headers, **extra}
            auth = call.headers.get("authorization", "")
            if auth.removeprefix("Bearer ") not in self.valid_tokens:
                return 401, [{"message": "Session expired or invalid",
                              "errorCode": "INVALID_SESSION_ID"}], headers
            base = f"/services/data/v{VERSION}/query"
            if call.path == base and "explain" in call.query:
                soql = call.query["explain"][0]
                if soql not in self.answers:
                    return 400, [{"message": "No such column 'Amout' on entity 'Opportunity'",
                                  "errorCode": "INVALID_FIELD"}], headers
                plan = {"cardinality": 1, "leadingOperationType": "TableScan",
                        "relativeCost": 1.0, "sobjectType": "Opportunity"}
                return 200, {"plans": [plan]}, headers
            if call.path == base:
                soql = call.soql
                if soql not in self.answers:
                    return 400, [{"message": f"unexpected token: {soql[:20]}",
                                  "errorCode": "MALFORMED_QUERY"}], headers
                answer = self.answers[soql]
                if "count" in answer:
                    return 200, {"totalSize": answer["count"], "done": True, "records": []}, headers
                return 200, self._page(answer["rows"], 0), headers
            if call.path.startswith(base + "/01gFAKE"):
                key, offset = call.path.rsplit("/", 1)[1].split("-")
                rows = self.cursors[key][0]
                return 200, self._page(rows, int(offset)), headers
            return 404, [{"message": "The requested resource does not exist",
                          "errorCode": "NOT_FOUND"}], headers

    def _page(self, rows: list[dict[str, Any]], offset: int) -> dict[str, Any]:
        key = f"01gFAKE{id(rows) % 100000}"
        self.cursors[key] = (rows, 0)
        chunk = rows[offset : offset + self.batch]
        page: dict[str, Any] = {"totalSize": len(rows), "done": offset + self.batch >= len(rows),
                                "records": chunk}
        if not page["done"]:
            page["nextRecordsUrl"] = (f"/services/data/v{VERSION}/query/"
                                      f"{key}-{offset + self.batch}")
        return page

    def _token(self, form: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        grant = form.get("grant_type")
        refused = None
        if form.get("client_id") != CLIENT_ID:
            refused = ("invalid_client_id", "client identifier invalid")
        elif grant == "client_credentials" and form.get("client_secret") != CLIENT_SECRET:
            refused = ("invalid_client", "invalid client credentials")
        elif grant == "refresh_token" and form.get("refresh_token") != REFRESH_TOKEN:
            refused = ("invalid_grant", "expired access/refresh token")
        if refused:
            return 400, {"error": refused[0], "error_description": refused[1]}, {}
        if grant not in ("client_credentials", "refresh_token"):
            return 400, {"error": "unsupported_grant_type", "error_description": grant}, {}
        self.issued += 1
        token = f"00Dissued!{self.issued}"
        self.valid_tokens.add(token)
        return 200, {"access_token": token, "instance_url": self.url, "token_type": "Bearer",
                     "issued_at": "1764000000000", "signature": "sig", "id": "x"}, {}


class Handler(BaseHTTPRequestHandler):
    fake: FakeSalesforce

    def _serve(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = parsed.path.rstrip("/") or "/"  # Salesforce takes /query and /query/ alike
        call = Call(self.command, path, urllib.parse.parse_qs(parsed.query), headers, body)
        status, answer, extra = self.fake.handle(call)
        data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass
