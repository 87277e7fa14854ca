"""Local fake services on 127.0.0.1 for testing metric sources and notifiers.

A plugin is tested with its real client library against a fake of the service, never the service
itself. Two tools:

:func:`serve` runs your own :class:`~http.server.BaseHTTPRequestHandler` subclass (a stateful fake
that follows the service's documented wire format) on a free port and gives its URL.

:class:`FakeServer` answers scripted replies per path and injects faults::

    with FakeServer() as server:
        server.route("/leads", Reply(json={"total": 5}))
        server.route("/flaky", Reply(status=500), Reply(status=500), Reply(json={"total": 1}))
        url = server.url + "/leads"

Each route answers with its replies in order; the last one repeats; the route ``"*"`` answers any
path without its own. A reply can be a JSON body, raw bytes (malformed JSON, a gzip bomb with
``Content-Encoding: gzip``), a status with headers (429 + Retry-After, a redirect), a delay, a
hang (no answer until the server stops, then the connection is closed), a drip (the body a byte
at a time) or a reset (the connection is closed with a TCP RST). ``server.calls`` records every
request (method, path, query, headers, JSON body).

Point the connection's ``endpoint`` at the URL, register your plugin on a private
``PluginManager(load_entry_points=False)``, and run the real ``okrcore.refresh``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import attrs

from ._store_contract import StoreContract as StoreContract

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable
    from pathlib import Path

    from .engine import RefreshOptions, RefreshResult
    from .model import Connection, Initiative, Plan
    from .plugins import PluginManager
    from .sources import Failure, FetchRequest, Reading
    from .store import Store

__all__ = [
    "Call",
    "FakeServer",
    "Reply",
    "closed_port",
    "echo_credentials",
    "initiatives_plan",
    "plan_example",
    "plugin_manager",
    "refresh_without_waiting",
    "serve",
]


@contextlib.contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on 127.0.0.1 (a free port) in a background thread for the ``with`` block.

    Yields the base URL, ``http://127.0.0.1:PORT`` without a trailing slash; the server stops and
    its port is released when the block ends. Every connection it accepts sends with
    ``TCP_NODELAY``, as real services do, so a kept-alive answer written in two parts (headers,
    then body) is not held back by Nagle's algorithm until the client's delayed ACK (~40 ms).
    """
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address


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
    drip: float = 0.0
    """Seconds between the bytes of the body (a server that answers very slowly)."""


@attrs.frozen
class Call:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


def echo_credentials(call: Call) -> Reply:
    """A handler for a service that echoes the credentials it got in its error (some do): a 401
    whose message, in the fields services use (``message``, ``error.message``,
    ``errors[].message``), quotes every header value, query parameter and the body it got.

    A plugin's test points a connection at ``server.handle("*", echo_credentials)``, runs
    ``okrcore.refresh`` and checks that no secret reaches the outcome (okrcore scrubs them).
    """
    body = call.body if isinstance(call.body, str) else json.dumps(call.body)
    sent = " ".join([*call.headers.values(), *call.query.values(), body])
    text = f"invalid credentials: {sent}"
    return Reply(status=401, json={
        "message": text,
        "error": {"message": text, "code": 190, "type": "OAuthException", "status": 401},
        "errors": [{"message": text, "reason": "keyInvalid"}],
    })


def plan_example(page: str | Path) -> dict[str, Any]:
    """The full plan example of a docs page (its YAML block that starts with ``okrcore: 1``)
    as a mapping, for a test to aim at a fake (``raw["connections"][NAME]["endpoint"] = url``)
    and load: the plugins' tests run the plans their pages show."""
    import re
    from pathlib import Path

    import yaml

    text = Path(page).read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    (plan,) = [yaml.safe_load(b) for b in blocks if b.startswith("okrcore: 1")]
    if not isinstance(plan, dict):
        raise ValueError(f"{page}: the plan example is not a mapping")
    return plan


def plugin_manager(*modules: str) -> PluginManager:
    """A private :class:`~okrcore.plugins.PluginManager` (no entry points) with the plugin
    modules named (``"okrcore_jira.plugin"``) registered."""
    from .plugins import PluginManager

    manager = PluginManager(load_entry_points=False)
    for module in modules:
        manager.load_module(module)
    return manager


def initiatives_plan(connection: Connection, *initiatives: Initiative) -> Plan:
    """A plan of one cycle (``q1``: 2026-01-01 to 2026-03-31), one objective and one strategy
    holding ``initiatives``, with ``connection``: what a test of initiatives that follow a
    tracker (``tracks``) needs."""
    import datetime as dt

    from .model import Cycle, Objective, Plan, Strategy

    strategy = Strategy("s", "Launch", initiatives=list(initiatives))
    objective = Objective("o", "Grow", cycle="q1", strategies=[strategy])
    return Plan(cycles=[Cycle("q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))],
                objectives=[objective], connections={connection.name: connection})


def closed_port() -> str:
    """``http://127.0.0.1:PORT`` where nothing listens: every connection there is refused (the
    port was free a moment ago and is released at once, so another process taking it meanwhile
    is very unlikely). A source's test points a connection at it to check that a refused
    connection is retried ``timeout_retries`` times only."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def refresh_without_waiting(
    plan: Plan,
    store: Store,
    *,
    at: dt.date | None = None,
    only: Iterable[str] | None = None,
    backfill: tuple[dt.date, dt.date] | None = None,
    dry_run: bool = False,
    manager: PluginManager | None = None,
    options: RefreshOptions | None = None,
    on_result: Callable[[FetchRequest, Reading | Failure], None] | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
    jitter: Callable[[], float] | None = None,
) -> RefreshResult:
    """:func:`okrcore.refresh` for tests: the engine's waits (backoff, ``Retry-After``, pacing)
    go to ``sleep`` instead of :func:`time.sleep` (default: no wait at all), so a test of retries
    runs at once; ``sleep`` can record the delays. ``clock`` and ``jitter`` replace
    :func:`time.monotonic` and :func:`random.random`. The other arguments are
    :func:`okrcore.refresh`'s.
    """
    import random

    from .engine import RefreshOptions, _refresh

    return _refresh(plan, store, at=at, only=only, backfill=backfill, dry_run=dry_run,
                    manager=manager, options=options or RefreshOptions(), on_result=on_result,
                    sleep=sleep or (lambda _seconds: None), clock=clock or time.monotonic,
                    jitter=jitter or random.random)


class FakeServer:
    """A threaded HTTP server with scripted replies per path; use it as a context manager."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._routes: dict[str, list[Reply]] = {}
        self._handlers: dict[str, Callable[[Call], Reply]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._running = contextlib.ExitStack()
        self._url: str | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash), once the server runs."""
        if self._url is None:
            raise RuntimeError("the FakeServer is not running: use it in a with block")
        return self._url

    def route(self, path: str, *replies: Reply) -> None:
        """Answer requests for ``path`` (without query; ``"*"``: any other path) with ``replies``
        in order."""
        with self._lock:
            self._routes[path] = list(replies) or [Reply()]

    def handle(self, path: str, func: Callable[[Call], Reply]) -> None:
        """Answer requests for ``path`` (``"*"``: any other path) by calling ``func(call)``."""
        with self._lock:
            self._handlers[path] = func

    def calls_to(self, path: str) -> list[Call]:
        """The requests received for ``path``."""
        with self._lock:
            return [c for c in self.calls if c.path == path]

    def __enter__(self) -> FakeServer:
        self._url = self._running.enter_context(serve(self._handler_class()))
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving; hung replies are released."""
        self._stop.set()
        self._running.close()
        self._url = None

    def _next_reply(self, call: Call) -> Reply:
        with self._lock:
            self.calls.append(call)
            handler = self._handlers.get(call.path)
            replies = self._routes.get(call.path)
            if handler is None and replies is None:
                handler, replies = self._handlers.get("*"), self._routes.get("*")
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

            def handle(self) -> None:
                # a client that gives up (a timeout, a size cap) is normal here, not an error
                with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                    super().handle()

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
                    # Close the connection: a client must not wait out its own timeout after
                    # the server stopped (that held test processes open at exit).
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
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
                if not reply.drip:
                    self.wfile.write(data)
                    return
                for i in range(len(data)):
                    if server._stop.wait(reply.drip):
                        break
                    try:
                        self.wfile.write(data[i : i + 1])
                        self.wfile.flush()
                    except OSError:  # the client gave up
                        break
                self.close_connection = True

        return Handler
