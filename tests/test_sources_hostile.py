"""Servers that misbehave, against http_json and the shared HTTP session every HTTP source uses:
a slow drip, a huge answer, a gzip bomb, a redirect to another origin (docs/plugins.md, "Servers
that misbehave")."""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from okrcore.engine import RefreshOptions
from okrcore.model import Connection, Cycle, KeyResult, Objective, Plan, RunOutcome
from okrcore.plugins import PluginManager
from okrcore.store import MemoryStore
from okrcore.testing import Call, FakeServer, Reply, refresh_without_waiting

AT = dt.date(2026, 3, 10)
CYCLE = Cycle("q1", dt.date(2026, 3, 1), dt.date(2026, 3, 31))


def gzip_bomb(size: int) -> bytes:
    """A valid JSON document that inflates to ``size`` bytes (zeros inside a string)."""
    head, tail = b'{"total": 1, "pad": "', b'"}'
    return gzip.compress(head + b"0" * (size - len(head) - len(tail)) + tail, compresslevel=9)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as s:
        yield s


def run(url: str, path: str = "/v", *, timeout: float = 5, **settings: Any) -> RunOutcome:
    settings.setdefault("headers", {"X-Api-Key": "env:OKR_HOSTILE_KEY"})
    kr = KeyResult("k", "k", baseline=0, target=10,
                   source={"connection": "api", "url": path, "value": "$.total"})
    plan = Plan(cycles=[CYCLE], objectives=[Objective("o", "O", "q1", key_results=[kr])],
                connections={"api": Connection("api", "http_json", settings, endpoint=url)})
    with MemoryStore() as store:
        result = refresh_without_waiting(
            plan,
            store,
            at=AT,
            manager=PluginManager(load_entry_points=False),
            sleep=lambda _s: None,
            options=RefreshOptions(timeout=timeout),
        )
        assert store.checkins() == [] or result.ok
    (outcome,) = result.outcomes
    return outcome


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKR_HOSTILE_KEY", "k-3141592653")


def test_a_slow_drip_fails_at_the_timeout_not_per_read(server: FakeServer) -> None:
    # 40 bytes at 0.25 s each would take 10 s; every single read is quick
    server.route("/v", Reply(json={"total": 1, "pad": "x" * 20}, drip=0.25))
    outcome = run(server.url, timeout=1)
    assert outcome.status == "failed"
    assert outcome.kind == "transient"
    assert (outcome.error or "").endswith("no answer within 1 s, twice")
    assert len(server.calls_to("/v")) == 2


def test_an_answer_over_the_size_cap_is_permanent(server: FakeServer) -> None:
    server.route("/v", Reply(body=b'{"total": 1, "pad": "' + b"x" * 3_000 + b'"}'))
    outcome = run(server.url, max_response_bytes=1_000)
    assert (outcome.status, outcome.kind) == ("failed", "permanent")
    assert "larger than 1,000 bytes" in (outcome.error or "")
    assert "max_response_bytes of connection 'api'" in (outcome.error or "")
    assert len(server.calls_to("/v")) == 1


def test_the_default_size_cap_is_10_mb(server: FakeServer) -> None:
    server.route("/v", Reply(body=b'{"total": 1, "pad": "' + b"x" * 10_000_000 + b'"}'))
    outcome = run(server.url)
    assert (outcome.status, outcome.kind) == ("failed", "permanent")
    assert "larger than 10,000,000 bytes" in (outcome.error or "")


def test_a_gzip_bomb_is_not_inflated_past_the_cap(server: FakeServer) -> None:
    import tracemalloc

    bomb = gzip_bomb(200_000_000)  # 200 MB of zeros in about 200 KB
    server.route("/v", Reply(body=bomb, headers={"Content-Encoding": "gzip"}))
    tracemalloc.start()
    try:
        outcome = run(server.url, max_response_bytes=1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (outcome.status, outcome.kind) == ("failed", "permanent")
    assert "larger than 1,000,000 bytes" in (outcome.error or "")
    assert peak < 50_000_000  # far below the 200 MB it inflates to


def test_a_small_gzip_answer_is_read(server: FakeServer) -> None:
    server.route("/v", Reply(body=gzip.compress(b'{"total": 7}'),
                             headers={"Content-Encoding": "gzip"}))
    outcome = run(server.url)
    assert (outcome.status, outcome.value) == ("refreshed", 7.0)


def test_a_redirect_to_another_origin_is_refused_and_gets_no_credential(
    server: FakeServer,
) -> None:
    with FakeServer() as other:
        other.route("/stolen", Reply(json={"total": 999}))
        server.route("/v", Reply(status=302, headers={"Location": other.url + "/stolen?a=1"}))
        outcome = run(server.url)
        assert (outcome.status, outcome.kind) == ("failed", "permanent")
        assert f"redirected to {other.url}/stolen," in (outcome.error or "")
        assert "allow_redirects_to" in (outcome.error or "")
        assert other.calls == []


def test_an_allowed_redirect_sends_no_credential(server: FakeServer) -> None:
    with FakeServer() as other:
        other.route("/moved", Reply(json={"total": 4}))
        server.route("/v", Reply(status=302, headers={"Location": other.url + "/moved"}))
        outcome = run(server.url, allow_redirects_to=[other.url], bearer="env:OKR_HOSTILE_KEY")
        assert (outcome.status, outcome.value) == ("refreshed", 4.0)
        (call,) = other.calls
        sent = {k.lower(): v for k, v in call.headers.items()}
        assert "x-api-key" not in sent
        assert "authorization" not in sent
        assert not any("k-3141592653" in v for v in sent.values())


def test_a_redirect_on_the_same_origin_is_followed_with_its_headers(server: FakeServer) -> None:
    server.route("/v", Reply(status=301, headers={"Location": "/v2"}))
    server.route("/v2", Reply(json={"total": 3}))
    outcome = run(server.url)
    assert (outcome.status, outcome.value) == ("refreshed", 3.0)
    (call,) = server.calls_to("/v2")
    assert {k.lower(): v for k, v in call.headers.items()}["x-api-key"] == "k-3141592653"


def test_http_settings_are_validated() -> None:
    from okrcore.default_plugins.sources import HttpJsonSource

    problems = HttpJsonSource.validate_connection(Connection(
        "api", "http_json", {"max_response_bytes": 0, "allow_redirects_to": "x"},
        endpoint="https://a.example"))
    assert [p.field for p in problems] == ["max_response_bytes", "allow_redirects_to"]


# -- secrets -------------------------------------------------------------------------------------
SECRET = "k-3141592653"


def echo(call: Call) -> Reply:
    """A service that echoes the credential it got in its error (some do)."""
    key = {k.lower(): v for k, v in call.headers.items()}.get("x-api-key", "")
    return Reply(status=401, json={"error": f"invalid key {key!r} (from {key})"})


def cli(*args: str) -> Any:
    from click.testing import CliRunner

    from okrcore.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def leaks_everywhere(plan: Path, store: str, secrets: list[str]) -> list[str]:
    """Where any of ``secrets`` shows up: refresh output, okr runs, the store, every report."""
    outputs = {"refresh": cli("refresh", str(plan), "--store", store, "--at", "2026-03-10",
                              "--retries", "0")}
    assert outputs["refresh"].exit_code == 1, outputs["refresh"].output
    outputs["runs"] = cli("runs", "--store", store)
    outputs["runs json"] = cli("runs", "--store", store, "--format", "json")
    for fmt in ("text", "md", "json", "html"):
        outputs[f"report {fmt}"] = cli("report", str(plan), "--store", store, "--at",
                                       "2026-03-10", "--format", fmt)
    found = [name for name, result in outputs.items()
             if any(s in result.output for s in secrets)]
    db = Path(store.removeprefix("sqlite:///")).read_bytes()
    found += ["store"] * any(s.encode() in db for s in secrets)
    return found


CLI_PLAN = """\
okrcore: 1
cycles: [{{id: q1, start: 2026-03-01, end: 2026-03-31}}]
objectives:
  - id: o
    title: Grow
    cycle: q1
    key_results:
      - {{id: k, title: Reach 10, baseline: 0, target: 10,
         source: {{connection: api, url: "{path}", value: $.total}}}}
connections:
  api: {{plugin: http_json, endpoint: "{url}", headers: {{X-Api-Key: "{key}"}}}}
"""


def test_an_echoed_credential_is_scrubbed_everywhere(server: FakeServer, tmp_path: Path) -> None:
    server.handle("/v", echo)
    plan = tmp_path / "okrs.yaml"
    plan.write_text(CLI_PLAN.format(url=server.url, path="/v", key="env:OKR_HOSTILE_KEY"))
    store = f"sqlite:///{tmp_path / 'okr.db'}"
    assert leaks_everywhere(plan, store, [SECRET]) == []
    assert "invalid key '[secret]'" in cli("runs", "--store", store).output


def test_a_token_file_with_a_line_break_never_shows(server: FakeServer, tmp_path: Path) -> None:
    server.route("/v", Reply(json={"total": 1}))
    (tmp_path / "token").write_text("first-half-7777\nsecond-half-8888\n")
    plan = tmp_path / "okrs.yaml"
    plan.write_text(CLI_PLAN.format(url=server.url, path="/v", key="file:token"))
    store = f"sqlite:///{tmp_path / 'okr.db'}"
    assert leaks_everywhere(plan, store, ["first-half-7777", "second-half-8888"]) == []
    assert "contains a line break" in cli("runs", "--store", store).output
    assert server.calls == []


def test_a_connection_error_hides_the_query_string(tmp_path: Path) -> None:
    plan = tmp_path / "okrs.yaml"
    plan.write_text(CLI_PLAN.format(url="http://127.0.0.1:9", path="/v?api_key=qs-secret-4242",
                                    key="env:OKR_HOSTILE_KEY"))
    store = f"sqlite:///{tmp_path / 'okr.db'}"
    assert leaks_everywhere(plan, store, ["qs-secret-4242"]) == []
    assert "GET http://127.0.0.1:9/v: connection failed" in cli("runs", "--store", store).output


def test_the_scrubber_finds_encoded_forms() -> None:
    import base64
    import urllib.parse

    from okrcore.sources import Scrubber

    secret = "p@ss/word+1\n2"
    scrub = Scrubber([secret])
    for form in (secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret),
                 base64.b64encode(secret.encode()).decode(), repr(secret)):
        assert "p@ss" not in scrub(f"error: {form}!"), form
        assert "[secret]" in scrub(f"error: {form}!")
    assert Scrubber(["abc"])("abc") == "abc"  # too short to be told from ordinary text


ECHO_ONLINE_PLUGIN = """
from okrcore.hookspecs import hookimpl
from okrcore.sources import QueryProblem, Source


class EchoOnline(Source):
    name = "echo-online"

    def check_online(self, queries):
        token = self.secret("token")
        if self.connection.name == "down":
            raise ConnectionError(f"the service refused token {token}")
        return [(kr.id, QueryProblem("metric", f"unknown metric for key {token}"))
                for kr, _query in queries]

    def fetch(self, requests):
        return []


@hookimpl
def okrcore_register_sources(register):
    register(EchoOnline)
"""

ECHO_ONLINE_PLAN = """\
okrcore: 1
plugins: [okr_test_echo_online]
cycles: [{id: q1, start: 2026-03-01, end: 2026-03-31}]
objectives:
  - id: o
    title: Grow
    cycle: q1
    key_results:
      - {id: a, title: Reach 10, baseline: 0, target: 10, source: {connection: up, metric: m}}
      - {id: b, title: Reach 20, baseline: 0, target: 20, source: {connection: down, metric: m}}
connections:
  up: {plugin: echo-online, token: env:OKR_HOSTILE_KEY}
  down: {plugin: echo-online, token: env:OKR_HOSTILE_KEY}
"""


def test_lint_online_scrubs_an_echoed_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "okr_test_echo_online.py").write_text(ECHO_ONLINE_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    plan = tmp_path / "okrs.yaml"
    plan.write_text(ECHO_ONLINE_PLAN)
    done = cli("lint", str(plan), "--online")
    assert "unknown metric for key [secret]" in done.output
    assert "refused token [secret]" in done.output
    assert SECRET not in done.output


def test_log_records_of_attempts_and_retries_hold_no_secret(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    server.handle("/v", lambda call: Reply(status=503, json=echo(call).json))
    with caplog.at_level(logging.DEBUG, logger="okrcore"):
        outcome = run(server.url)
    assert outcome.status == "failed"
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("okrcore")]
    assert any("fetching k (attempt 2)" in m for m in messages), messages
    assert any("retry 1 in" in m and "[secret]" in m for m in messages), messages
    assert any(r.levelno == logging.WARNING and "failed (transient)" in r.getMessage()
               for r in caplog.records)
    assert not [m for m in messages if SECRET in m]


def test_okr_refresh_verbose_logs_to_stderr(server: FakeServer, tmp_path: Path) -> None:
    server.handle("/v", echo)
    plan = tmp_path / "okrs.yaml"
    plan.write_text(CLI_PLAN.format(url=server.url, path="/v", key="env:OKR_HOSTILE_KEY"))
    done = cli("refresh", str(plan), "--store", f"sqlite:///{tmp_path / 'okr.db'}", "-vv")
    assert "DEBUG okrcore.engine: connection api: fetching k (attempt 1)" in done.stderr
    assert "WARNING okrcore.engine: key result k [api] failed (auth)" in done.stderr
    assert SECRET not in done.stderr

    # without -v nothing is logged, not even by Python's last-resort handler (a subprocess: pytest
    # itself installs a logging handler)
    import subprocess
    import sys

    quiet = subprocess.run(
        [sys.executable, "-m", "okrcore.cli", "refresh", str(plan),
         "--store", f"sqlite:///{tmp_path / 'okr.db'}"],
        capture_output=True, text=True, timeout=120,
    )
    assert quiet.returncode == 1, quiet.stderr
    assert "failed (auth)" not in quiet.stderr
