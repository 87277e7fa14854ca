"""okrcore.testing: the local fakes that plugin tests run against."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import requests

from okrcore.testing import FakeServer, Reply, serve


class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_serve_runs_a_handler_for_the_block_only() -> None:
    with serve(Hello) as url:
        assert url.startswith("http://127.0.0.1:")
        assert not url.endswith("/")
        assert requests.get(f"{url}/x", timeout=5).text == "hello /x"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/x", timeout=5)


class NoDelay(BaseHTTPRequestHandler):
    """Answers with the TCP_NODELAY setting of the socket it answers on."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        import socket

        flag = self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        body = str(int(bool(flag))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_served_connections_send_without_nagle_delay() -> None:
    """Headers and body go out in two writes; with Nagle on, a kept-alive answer's body waits for
    the client's delayed ACK (~40 ms). Every handler served, the plugins' own included, gets
    TCP_NODELAY, on a kept-alive connection's every answer."""
    with serve(NoDelay) as url, requests.Session() as session:
        assert [session.get(f"{url}/x", timeout=5).text for _ in range(2)] == ["1", "1"]


def test_fake_server_replies_in_order_repeats_the_last_and_records_calls() -> None:
    server = FakeServer()
    with pytest.raises(RuntimeError, match="not running"):
        server.url  # noqa: B018
    with server:
        server.route("/n", Reply(status=429, headers={"Retry-After": "2"}), Reply(json={"n": 1}))
        first = requests.get(f"{server.url}/n?page=2", timeout=5)
        assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
        assert [requests.post(f"{server.url}/n", json={"a": 1}, timeout=5).json()
                for _ in range(2)] == [{"n": 1}, {"n": 1}]
        assert requests.get(f"{server.url}/other", timeout=5).status_code == 404
        calls = server.calls_to("/n")
        assert [(c.method, c.query, c.body) for c in calls] == [
            ("GET", {"page": "2"}, None), ("POST", {}, {"a": 1}), ("POST", {}, {"a": 1})]


def test_closing_the_server_releases_a_hung_client() -> None:
    """A client waiting on a hang gets the connection closed when the server stops, instead of
    waiting out its own timeout (which held test processes open at exit)."""
    import threading

    errors: list[BaseException] = []
    with FakeServer() as server:
        server.route("/hang", Reply(hang=True))

        def call() -> None:
            try:
                requests.get(server.url + "/hang", timeout=(5, 20))
            except requests.RequestException as exc:
                errors.append(exc)

        client = threading.Thread(target=call, daemon=True)
        client.start()
        while not server.calls_to("/hang"):
            threading.Event().wait(0.01)
    client.join(30)
    (error,) = errors
    assert not isinstance(error, requests.Timeout)
    assert isinstance(error, requests.ConnectionError)
