"""A fault-injecting HTTP server on 127.0.0.1 for testing sources and the refresh engine.

Usage::

    with FakeServer() as server:
        server.route("/leads", Reply(json={"total": 5}))
        server.route("/flaky", Reply(status=500), Reply(status=500), Reply(json={"total": 1}))
        url = server.url + "/leads"

Each route answers with its replies in order; the last one repeats. A reply can be a JSON body, raw
bytes (malformed JSON), a status with headers (429 + Retry-After), a delay, a hang (no answer until
the server stops) or a reset (the connection is closed with a TCP RST). ``server.calls`` records
every request (method, path, query, headers, JSON body).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

__all__ = ["Call", "FakeServer", "Reply"]


@attrs.frozen
class Reply:
    """One answer. ``json`` is serialised (``NaN`` allowed, as Python's json writes it)."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = attrs.field(factory=dict)
    delay: float = 0.0
    hang: bool = False
    reset: bool = False


@attrs.frozen
class Call:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class FakeServer:
    """A threaded HTTP server with scripted replies per path; use as a context manager."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._routes: dict[str, list[Reply]] = {}
        self._handlers: dict[str, Callable[[Call], Reply]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(self, path: str, *replies: Reply) -> None:
        """Answer requests for ``path`` (without query) with ``replies`` in order."""
        with self._lock:
            self._routes[path] = list(replies) or [Reply()]

    def handle(self, path: str, func: Callable[[Call], Reply]) -> None:
        """Answer requests for ``path`` by calling ``func(call)``."""
        with self._lock:
            self._handlers[path] = func

    def calls_to(self, path: str) -> list[Call]:
        """The requests received for ``path``."""
        with self._lock:
            return [c for c in self.calls if c.path == path]

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving; hung replies are released."""
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def _next_reply(self, call: Call) -> Reply:
        with self._lock:
            self.calls.append(call)
            handler = self._handlers.get(call.path)
            replies = self._routes.get(call.path)
            if handler is None and replies is not None:
                return replies.pop(0) if len(replies) > 1 else replies[0]
        if handler is not None:
            return handler(call)
        return Reply(status=404, json={"error": f"no route for {call.path}"})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                call = Call(self.command, parts.path, dict(urllib.parse.parse_qsl(parts.query)),
                            dict(self.headers.items()), body)
                reply = server._next_reply(call)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.hang:
                    server._stop.wait(30)
                    return
                if reply.reset:
                    # SO_LINGER with a zero timeout makes close() send a TCP RST.
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                    self.close_connection = True
                    return
                data = reply.body if reply.body is not None else json.dumps(reply.json).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler
