"""A local fake of Trello's REST API 1, following its documented wire format.

``GET /1/boards/{id}/lists``, ``/members``, ``/cards`` (open cards) and ``/cards/all`` answer
bare JSON arrays, with only the ``fields`` asked for (plus ``id``). A board is found by its id
or short link. ``GET /1/cards/{id}`` (id or short link) answers one card object, with its
list object under ``list`` when asked with ``list=true`` (the reference's "Get a Card",
https://developer.atlassian.com/cloud/trello/rest/api-group-cards/#api-cards-id-get).
``key`` and ``token`` arrive as query parameters; a wrong one gets 401 with the
plain-text body ``invalid key`` or ``invalid token``; an unknown board 404 ``The requested
resource was not found.`` Tests can queue canned answers (rate limits with the JSON body
``{"error": "API_TOKEN_LIMIT_EXCEEDED", ...}``, malformed bodies, a hang) and read every call.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.parse
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any

KEY = "0123456789abcdef0123456789abcdef"
TOKEN = "ATTA5f0c2a0e8a3c01234567890test"


class Call:
    def __init__(self, path: str, query: dict[str, list[str]]) -> None:
        self.path, self.query = path, query


class Canned:
    def __init__(self, status: int, body: Any, headers: dict[str, str], hang: bool) -> None:
        self.status, self.body, self.headers, self.hang = status, body, headers, hang


def object_id(when: dt.date, n: int) -> str:
    """A 24-hex id whose first 8 digits are the creation time, as Trello's ids are."""
    seconds = int(dt.datetime(when.year, when.month, when.day, 9, tzinfo=dt.timezone.utc)
                  .timestamp())
    return f"{seconds:08x}{n:016x}"


class FakeTrello:
    def __init__(self) -> None:
        self.boards: dict[str, dict[str, Any]] = {}
        self.calls: list[Call] = []
        self.canned: list[Canned] = []
        self.url = ""
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._n = 0

    def add_board(self, short: str, lists: Sequence[str],
                  members: Sequence[tuple[str, str]] = ()) -> str:
        self._n += 1
        ident = object_id(dt.date(2025, 11, 1), self._n)
        self.boards[short] = self.boards[ident] = {
            "id": ident, "shortLink": short, "cards": [],
            "lists": [{"id": object_id(dt.date(2025, 11, 1), 100 + i), "name": n,
                       "closed": False} for i, n in enumerate(lists)],
            "members": [{"id": f"m{u}", "username": u, "fullName": f} for u, f in members]}
        return ident

    def list_id(self, board: str, name: str) -> str:
        return str(next(li["id"] for li in self.boards[board]["lists"] if li["name"] == name))

    def add_card(self, board: str, created: dt.date, in_list: str, *,
                 activity: dt.date | None = None, due: dt.date | None = None,
                 due_complete: bool = False, labels: Sequence[str] = (),
                 members: Sequence[str] = (), checks: tuple[int, int] = (0, 0),
                 closed: bool = False) -> str:
        """Add a card; returns its short link."""
        self._n += 1
        short = f"c{self._n:07d}"
        self.boards[board]["cards"].append({
            "id": object_id(created, self._n), "shortLink": short, "name": f"Card {self._n}",
            "idList": self.list_id(board, in_list), "closed": closed,
            "due": f"{due}T17:00:00.000Z" if due else None, "dueComplete": due_complete,
            "dateLastActivity": f"{activity or created}T12:00:00.000Z",
            "labels": [{"id": f"l{n}", "idBoard": board, "name": n, "color": "green"}
                       for n in labels],
            "idMembers": [f"m{m}" for m in members],
            "badges": {"checkItems": checks[0], "checkItemsChecked": checks[1],
                       "dueComplete": due_complete, "comments": 0, "attachments": 0},
        })
        return short

    def card(self, short: str) -> dict[str, Any]:
        return next(c for b in self.boards.values() for c in b["cards"] if c["shortLink"] == short)

    def answer(self, status: int, body: Any, headers: dict[str, str] | None = None,
               *, hang: bool = False) -> None:
        """Queue a canned answer for the next call (``body`` str is sent as text)."""
        self.canned.append(Canned(status, body, headers or {}, hang))

    def handle(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.calls.append(call)
            canned = self.canned.pop(0) if self.canned else None
        if canned is not None:
            if canned.hang:
                self.release.wait(30)
            return canned.status, canned.body, canned.headers
        # plain-text errors are not in Atlassian's reference for Trello (its OpenAPI gives no
        # error bodies); the texts are quoted from real answers in github.com/Lujeni/matterllo
        # issue 30 and github.com/Necmttn/gatsby-source-trello issue 8: still unconfirmed
        if call.query.get("key") != [KEY]:
            return 401, "invalid key", {}
        if call.query.get("token") != [TOKEN]:
            return 401, "invalid token", {}
        parts = call.path.strip("/").split("/")
        if parts[:2] == ["1", "cards"] and len(parts) == 3:
            return self._card(parts[2], call.query)
        if len(parts) < 4 or parts[:2] != ["1", "boards"]:
            return 404, "Cannot GET " + call.path, {}
        board = self.boards.get(parts[2])
        if board is None:
            return (400, "invalid id", {}) if len(parts[2]) not in (8, 24) else (
                404, "The requested resource was not found.", {})
        fields = [f for f in (call.query.get("fields") or [""])[0].split(",") if f]
        if parts[3:] == ["lists"]:
            items = board["lists"]
        elif parts[3:] == ["members"]:
            items = board["members"]
        elif parts[3:] == ["cards"]:
            open_lists = {li["id"] for li in board["lists"] if not li["closed"]}
            items = [c for c in board["cards"] if not c["closed"] and c["idList"] in open_lists]
        elif parts[3:] == ["cards", "all"]:
            items = board["cards"]
        else:
            return 404, "Cannot GET " + call.path, {}
        return 200, [{"id": i["id"], **{f: i.get(f) for f in fields}} if fields else i
                     for i in items], {}

    def _card(self, ident: str, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        for board in {id(b): b for b in self.boards.values()}.values():
            for card in board["cards"]:
                if ident in (card["id"], card["shortLink"]):
                    fields = [f for f in (query.get("fields") or [""])[0].split(",") if f]
                    out = {"id": card["id"], **{f: card.get(f) for f in fields}} if fields \
                        else dict(card)
                    if query.get("list") == ["true"]:
                        out["list"] = next(li for li in board["lists"]
                                           if li["id"] == card["idList"])
                    return 200, out, {}
        if len(ident) not in (8, 24):
            return 400, "invalid id", {}
        return 404, "The requested resource was not found.", {}


class Handler(BaseHTTPRequestHandler):
    fake: FakeTrello
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        call = Call(urllib.parse.unquote(parts.path), urllib.parse.parse_qs(parts.query))
        status, answer, extra = self.fake.handle(call)
        text = isinstance(answer, str)
        data = answer.encode() if text else json.dumps(answer).encode()
        self.send_response(status)
        kind = "text/plain; charset=utf-8" if text else "application/json; charset=utf-8"
        self.send_header("Content-Type", extra.get("Content-Type", kind))
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            if name != "Content-Type":
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass
