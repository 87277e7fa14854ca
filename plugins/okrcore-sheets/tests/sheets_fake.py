"""A local fake of the Google Sheets API v4 and Google's OAuth token endpoint.

``POST /token`` takes a service account's signed JWT (``grant_type`` jwt-bearer) and answers an
access token. ``GET /v4/spreadsheets/{id}/values:batchGet`` reads repeated ``ranges`` in A1
notation (quoted sheet names, ``A2:A`` open ranges, no sheet: the first sheet) and answers
``valueRanges`` in the order asked, ``majorDimension`` ROWS or COLUMNS, without trailing blank
cells and without ``values`` for an empty range; an unknown sheet gives 400 "Unable to parse
range". ``GET /v4/spreadsheets/{id}`` lists the sheets' titles. Requests carry ``Authorization:
Bearer <token>`` or ``key=<API key>``; errors are ``{"error": {"code", "message", "status"}}``.
Tests can queue canned answers and read every call.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any

ACCESS_TOKEN = "ya29.fake-access-token"
API_KEY = "AIzaSyFakeKey0123456789"
_CELL = re.compile(r"^([A-Z]*)([0-9]*)$")


# The older "errors" list Sheets still sends beside the status (seen in public reports of real
# answers: 400 badRequest "Unable to parse range", 403 forbidden, 429 rateLimitExceeded). The
# texts are not in Google's reference: "Unable to parse range: <range>" is quoted from a real
# googleapiclient HttpError 400 (pastebin.com/TveiggQA; github.com/invokable/laravel-google-
# sheets issue 13), "Requested entity was not found." from integration vendors' error lists
# (integrately.com/integrations/google-sheets/error).
_REASONS = {400: "badRequest", 403: "forbidden", 404: "notFound", 429: "rateLimitExceeded"}


def gerror(code: int, status: str, message: str) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if code in _REASONS:
        error["errors"] = [{"message": message, "domain": "global", "reason": _REASONS[code]}]
    return {"error": error}


class Call:
    def __init__(self, method: str, path: str, query: dict[str, list[str]],
                 headers: dict[str, str], body: str) -> None:
        self.method, self.path, self.query, self.headers, self.body = (
            method, path, query, headers, body)


class Canned:
    def __init__(self, status: int, body: Any, headers: dict[str, str], hang: bool) -> None:
        self.status, self.body, self.headers, self.hang = status, body, headers, hang


def column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


class FakeSheets:
    def __init__(self) -> None:
        # spreadsheet id -> sheet title -> {(row, column): value}, sheets in order
        self.books: dict[str, dict[str, dict[tuple[int, int], Any]]] = {}
        self.private: set[str] = set()  # not shared with the caller
        self.calls: list[Call] = []
        self.canned: list[Canned] = []
        self.url = ""
        self.release = threading.Event()
        self._lock = threading.Lock()

    def put(self, book: str, sheet: str, cell: str, value: Any) -> None:
        letters, row = _CELL.match(cell).groups()  # type: ignore[union-attr]
        self.books.setdefault(book, {}).setdefault(sheet, {})[
            (int(row), column_number(letters))] = value

    def answer(self, status: int, body: Any, headers: dict[str, str] | None = None,
               *, hang: bool = False) -> None:
        self.canned.append(Canned(status, body, headers or {}, hang))

    def api_calls(self) -> list[Call]:
        return [c for c in self.calls if c.path.startswith("/v4/")]

    def handle(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.calls.append(call)
            canned = self.canned.pop(0) if self.canned and call.path != "/token" else None
        if canned is not None:
            if canned.hang:
                self.release.wait(30)
            return canned.status, canned.body, canned.headers
        if call.path == "/token":
            form = urllib.parse.parse_qs(call.body)
            if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"] or \
                    not form.get("assertion"):
                return 400, {"error": "invalid_grant", "error_description": "Bad request"}, {}
            return 200, {"access_token": ACCESS_TOKEN, "expires_in": 3599,
                         "token_type": "Bearer"}, {}
        if call.headers.get("authorization") != f"Bearer {ACCESS_TOKEN}":
            key = call.query.get("key")
            if key is None:
                return 401, gerror(401, "UNAUTHENTICATED", "Request is missing required "
                                   "authentication credential."), {}
            if key != [API_KEY]:
                return 400, gerror(400, "INVALID_ARGUMENT",
                                   "API key not valid. Please pass a valid API key."), {}
        match = re.match(r"^/v4/spreadsheets/([^/:]+)(:?.*)$", call.path)
        if not match:
            return 404, gerror(404, "NOT_FOUND", "Not found"), {}
        book_id, rest = match.groups()
        book = self.books.get(book_id)
        if book is None:
            return 404, gerror(404, "NOT_FOUND", "Requested entity was not found."), {}
        if book_id in self.private:
            return 403, gerror(403, "PERMISSION_DENIED",
                               "The caller does not have permission"), {}
        if rest == "":
            return 200, {"sheets": [{"properties": {"title": t}} for t in book]}, {}
        if rest != "/values:batchGet":
            return 404, gerror(404, "NOT_FOUND", "Not found"), {}
        major = (call.query.get("majorDimension") or ["ROWS"])[0]
        out = []
        for text in call.query.get("ranges", []):
            try:
                out.append(_value_range(book, text, major))
            except KeyError as exc:
                return 400, gerror(400, "INVALID_ARGUMENT",
                                   f"Unable to parse range: {exc.args[0]}"), {}
        return 200, {"spreadsheetId": book_id, "valueRanges": out}, {}


def _value_range(book: Mapping[str, dict[tuple[int, int], Any]], text: str,
                 major: str) -> dict[str, Any]:
    if text.startswith("'"):
        end = text.rindex("'!")  # the cells never hold a quote
        sheet, cells = text[1:end].replace("''", "'"), text[end + 2 :]
    elif "!" in text:
        sheet, cells = text.split("!", 1)
    else:
        sheet, cells = next(iter(book)), text
    if sheet not in book:
        raise KeyError(text)
    grid = book[sheet]
    first, _, last = cells.partition(":")
    c1, r1 = _CELL.match(first).groups()  # type: ignore[union-attr]
    c2, r2 = _CELL.match(last or first).groups()  # type: ignore[union-attr]
    max_row = max((r for r, _ in grid), default=0)
    rows = range(int(r1 or 1), int(r2 or max_row) + 1)
    cols = range(column_number(c1 or "A"), column_number(c2 or "Z") + 1)
    outer, inner = (cols, rows) if major == "COLUMNS" else (rows, cols)
    values = []
    for a in outer:
        line = [grid.get((b, a) if major == "COLUMNS" else (a, b), "") for b in inner]
        while line and line[-1] == "":
            line.pop()
        values.append(line)
    while values and not values[-1]:
        values.pop()
    answer: dict[str, Any] = {"range": f"{sheet}!{cells}", "majorDimension": major}
    if values:
        answer["values"] = values
    return answer


class Handler(BaseHTTPRequestHandler):
    fake: FakeSheets
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        parts = urllib.parse.urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        call = Call(self.command, urllib.parse.unquote(parts.path),
                    urllib.parse.parse_qs(parts.query), headers, body)
        status, answer, extra = self.fake.handle(call)
        data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass
