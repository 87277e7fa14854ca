"""The built-in sources (file, http_json, sql, manual) and the ``sources`` check."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import okrcore
from okrcore.default_plugins.sources import FileSource, HttpJsonSource, SqlSource
from okrcore.model import Connection, Cycle, KeyResult, Objective, Plan
from okrcore.plugins import PluginManager
from okrcore.sources import Failure, FetchRequest, QueryProblem, Reading, Source
from okrcore.testing import FakeServer, Reply

CYCLE = Cycle("q1", dt.date(2026, 3, 1), dt.date(2026, 3, 31))
AT = dt.date(2026, 3, 5)


def request(query: dict[str, Any], conn: Connection, *, measure: str = "gauge",
            series: bool = False, start: dt.date = CYCLE.start, end: dt.date = AT,
            kr_id: str = "k") -> FetchRequest:
    kr = KeyResult(kr_id, kr_id, measure=measure, baseline=0, target=100,
                   source={"connection": conn.name, **query})
    return FetchRequest(kr, query, conn, CYCLE, start, end, end, series)


def fetch_one(source: Source, req: FetchRequest) -> Reading | Failure:
    try:
        (answer,) = list(source.fetch([req]))
    finally:
        source.close()
    return answer


def points(answer: Reading | Failure) -> list[tuple[int, float]]:
    assert isinstance(answer, Reading), answer
    return [(d.day, v) for d, v in answer.points]


def failure(answer: Reading | Failure) -> tuple[str, str]:
    assert isinstance(answer, Failure), answer
    return answer.kind.value, answer.message


# -- file ----------------------------------------------------------------------------------------
@pytest.fixture
def exports(tmp_path: Path) -> Connection:
    (tmp_path / "metrics.csv").write_text(textwrap.dedent("""\
        date,metric,value
        2026-02-27,leads,9
        2026-03-01,leads,10
        2026-03-01,visits,500
        2026-03-02,leads,12
        2026-03-02,leads,3
        2026-03-04,leads,"1,000"
        2026-03-09,leads,50
    """))
    rows = [{"day": "2026-03-01", "kind": "followers", "n": 100},
            {"day": "2026-03-03T10:00:00", "kind": "followers", "n": 120}]
    (tmp_path / "social.json").write_text(json.dumps(rows))
    (tmp_path / "part-1.jsonl").write_text('{"date": "2026-03-01", "value": 1}\n\n')
    (tmp_path / "part-2.jsonl").write_text('{"date": "2026-03-02", "value": 2}\n')
    return Connection("exports", "file", base_dir=str(tmp_path))


LEADS = {"path": "metrics.csv", "where": {"metric": "leads"}}


def test_file_cumulative_series_sums_each_day_within_the_window(exports: Connection) -> None:
    answer = fetch_one(FileSource(exports), request(LEADS, exports, measure="cumulative",
                                                    series=True))
    assert points(answer) == [(1, 10), (2, 15), (4, 1000)]


def test_file_totals_sum_or_take_the_latest(exports: Connection) -> None:
    source = FileSource(exports)
    total = fetch_one(source, request(LEADS, exports, measure="cumulative"))
    assert points(total) == [(5, 1025)]
    gauge = fetch_one(source, request(LEADS, exports, end=dt.date(2026, 3, 3)))
    # The last row of the latest day in the window, dated the day it was measured.
    assert points(gauge) == [(2, 3)]
    early = fetch_one(source, request(LEADS, exports, start=dt.date(2026, 3, 3),
                                      end=dt.date(2026, 3, 3)))
    assert failure(early) == ("permanent", "no data between 2026-03-03 and 2026-03-03")


def test_file_json_with_custom_columns_and_datetimes(exports: Connection) -> None:
    query = {"path": "social.json", "date": "day", "value": "n", "where": {"kind": "followers"}}
    assert points(fetch_one(FileSource(exports), request(query, exports))) == [(3, 120)]


def test_file_glob_of_json_lines(exports: Connection) -> None:
    answer = fetch_one(FileSource(exports), request({"path": "part-*.jsonl"}, exports,
                                                    measure="cumulative", series=True))
    assert points(answer) == [(1, 1), (2, 2)]


def test_file_where_accepts_a_list_and_base_setting(exports: Connection, tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "m.csv").write_text("date,metric,value\n2026-03-01,a,1\n2026-03-01,b,2\n"
                               "2026-03-01,c,4\n")
    conn = Connection("x", "file", {"base": "sub"}, base_dir=str(tmp_path))
    query = {"path": "m.csv", "where": {"metric": ["a", "c"]}}
    answer = fetch_one(FileSource(conn), request(query, conn, measure="cumulative"))
    assert points(answer) == [(5, 5)]


@pytest.mark.parametrize(
    ("content", "query", "message"),
    [
        ("date,value\n2026-03-01,lots\n", {}, "data.csv:2: value is 'lots'"),
        ("date,value\n2026-03-01,nan\n", {}, "not a number"),
        ("date,value\nyesterday,1\n", {}, "not a date"),
        ("day,value\n2026-03-01,1\n", {}, "no column 'date'"),
        ("date,metric,value\n2026-03-01,a,1\n", {"where": {"metric": "b"}}, "no row of"),
        ("date,value\n2026-03-09,1\n", {}, "no data between 2026-03-01 and 2026-03-05"),
    ],
)
def test_file_problems_are_permanent_and_name_the_place(
    tmp_path: Path, content: str, query: dict[str, Any], message: str
) -> None:
    (tmp_path / "data.csv").write_text(content)
    conn = Connection("x", "file", base_dir=str(tmp_path))
    kind, text = failure(fetch_one(FileSource(conn), request({"path": "data.csv", **query}, conn)))
    assert kind == "permanent"
    assert message in text


def test_file_missing_file_and_glob(tmp_path: Path) -> None:
    conn = Connection("x", "file", base_dir=str(tmp_path))
    assert "cannot read" in failure(fetch_one(FileSource(conn), request({"path": "no.csv"},
                                                                        conn)))[1]
    assert "no file matches" in failure(fetch_one(FileSource(conn), request({"path": "*.csv"},
                                                                            conn)))[1]


def test_file_validation() -> None:
    kr = KeyResult("k", "k", baseline=0, target=1)
    problems = FileSource.validate_query({"where": "metric=leads", "format": "xls", "pth": 1}, kr)
    assert {p.field for p in problems} == {"path", "where", "format", "pth"}
    assert FileSource.validate_query({"path": "a.csv"}, kr) == []


# -- http_json -------------------------------------------------------------------------------------
@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as s:
        yield s


def test_http_json_sends_headers_params_and_a_user_agent(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", "s3cret")
    server.route("/v1/stats", Reply(json={"data": [{"n": 2}, {"n": 3.5}]}))
    conn = Connection("api", "http_json", {"bearer": "env:API_TOKEN",
                                           "headers": {"X-Team": "growth"}},
                      endpoint=server.url + "/v1/")
    query = {"url": "stats", "value": "$.data[*].n", "params": {"from": "{start}", "to": "{end}"}}
    answer = fetch_one(HttpJsonSource(conn), request(query, conn))
    assert points(answer) == [(5, 5.5)]  # several matches are summed
    (call,) = server.calls
    assert call.query == {"from": "2026-03-01", "to": "2026-03-05"}
    assert call.headers["Authorization"] == "Bearer s3cret"
    assert call.headers["X-Team"] == "growth"
    assert call.headers["User-Agent"].startswith(f"okrcore/{okrcore.__version__}")


def test_http_json_post_with_a_body(server: FakeServer) -> None:
    server.handle("/query", lambda call: Reply(json={"total": len(call.body["metrics"])}))
    conn = Connection("api", "http_json", endpoint=server.url)
    query = {"url": "/query", "method": "POST", "value": "$.total",
             "body": {"metrics": ["a", "b"], "until": "{as_of}"}}
    assert points(fetch_one(HttpJsonSource(conn), request(query, conn))) == [(5, 2)]
    assert server.calls[0].body == {"metrics": ["a", "b"], "until": "2026-03-05"}
    assert server.calls[0].method == "POST"


def test_http_json_pagination_sums_across_pages(server: FakeServer) -> None:
    server.route("/deals", Reply(json={"items": [{"amount": 10}, {"amount": 5}],
                                       "next": "/deals/2?cursor=abc"}))
    server.route("/deals/2", Reply(json={"items": [{"amount": 1}], "next": None}))
    conn = Connection("api", "http_json", endpoint=server.url)
    query = {"url": "/deals", "value": "$.items[*].amount", "pagination": {"next": "$.next"}}
    assert points(fetch_one(HttpJsonSource(conn), request(query, conn))) == [(5, 16)]
    assert [c.path for c in server.calls] == ["/deals", "/deals/2"]
    assert server.calls[1].query == {"cursor": "abc"}


def test_http_json_series_mapping(server: FakeServer) -> None:
    server.route("/daily", Reply(json={"rows": [
        {"d": "2026-02-28", "v": 100}, {"d": "2026-03-01", "v": 1}, {"d": "2026-03-03", "v": 3}]}))
    conn = Connection("api", "http_json", endpoint=server.url)
    query = {"url": "/daily", "series": {"items": "$.rows", "date": "d", "value": "v"}}
    source = HttpJsonSource(conn)
    series = fetch_one(source, request(query, conn, measure="cumulative", series=True))
    assert points(series) == [(1, 1), (3, 3)]  # days outside the window are left out
    assert points(fetch_one(source, request(query, conn, measure="cumulative"))) == [(5, 4)]
    assert points(fetch_one(source, request(query, conn))) == [(3, 3)]  # gauge: the latest


def test_http_json_without_series_answers_a_series_with_the_last_day(server: FakeServer) -> None:
    server.route("/count", Reply(json={"count": 7}))
    conn = Connection("api", "http_json", endpoint=server.url)
    query = {"url": "/count", "value": "$.count", "params": {"from": "{start}", "to": "{end}"}}
    answer = fetch_one(HttpJsonSource(conn), request(query, conn, measure="cumulative",
                                                     series=True))
    assert points(answer) == [(5, 7)]
    assert server.calls[0].query == {"from": "2026-03-05", "to": "2026-03-05"}


def test_http_json_relative_url_needs_an_endpoint() -> None:
    conn = Connection("api", "http_json")
    kind, message = failure(fetch_one(HttpJsonSource(conn), request(
        {"url": "/x", "value": "$.a"}, conn)))
    assert kind == "permanent"
    assert "endpoint" in message


def test_http_json_missing_secret_is_an_auth_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    conn = Connection("api", "http_json", {"bearer": "env:NO_SUCH_TOKEN"}, endpoint="http://x")
    kind, message = failure(fetch_one(HttpJsonSource(conn), request({"url": "/x", "value": "$.a"},
                                                                    conn)))
    assert kind == "auth"
    assert "NO_SUCH_TOKEN" in message


def test_http_json_retry_after_as_an_http_date(server: FakeServer) -> None:
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=120)
    server.route("/x", Reply(status=429, headers={
        "Retry-After": later.strftime("%a, %d %b %Y %H:%M:%S GMT")}))
    conn = Connection("api", "http_json", endpoint=server.url)
    answer = fetch_one(HttpJsonSource(conn), request({"url": "/x", "value": "$.a"}, conn))
    assert isinstance(answer, Failure)
    assert answer.retry_after is not None
    assert 60 < answer.retry_after <= 120


def test_http_json_error_messages_keep_query_strings_out(server: FakeServer) -> None:
    server.route("/x", Reply(status=400, json={"error": "bad metric"}))
    conn = Connection("api", "http_json", endpoint=server.url)
    query = {"url": "/x?api_key=hunter2", "value": "$.a"}
    kind, message = failure(fetch_one(HttpJsonSource(conn), request(query, conn)))
    assert kind == "permanent"
    assert "HTTP 400" in message
    assert "bad metric" in message
    assert "hunter2" not in message


def test_http_json_validation() -> None:
    kr = KeyResult("k", "k", baseline=0, target=1)
    problems = HttpJsonSource.validate_query(
        {"url": "/x", "value": "$.[", "method": "DELETE", "series": {"items": "$.a"}}, kr)
    assert {p.field for p in problems} == {"value", "method", "series"}
    assert HttpJsonSource.validate_query({"url": "/x", "value": "$.a.b"}, kr) == []
    conn = Connection("api", "http_json", {"headers": {"Authorization": "Bearer abc",
                                                       "X-Api-Key": "env:KEY", "Accept": "x"},
                                           "concurrency": 0})
    fields = {p.field for p in HttpJsonSource.validate_connection(conn)}
    assert fields == {"headers.Authorization", "concurrency"}


def test_http_json_limits_come_from_settings() -> None:
    conn = Connection("api", "http_json", {"concurrency": 20, "rate": 5})
    limits = HttpJsonSource(conn).limits()
    assert (limits.concurrency, limits.rate, limits.max_batch) == (20, 5.0, 1)


# -- sql -------------------------------------------------------------------------------------------
@pytest.fixture
def db(tmp_path: Path) -> Connection:
    path = tmp_path / "warehouse.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE signups (day TEXT, n INTEGER, plan TEXT)")
        conn.executemany("INSERT INTO signups VALUES (?, ?, ?)", [
            ("2026-02-28", 100, "pro"), ("2026-03-01", 3, "pro"), ("2026-03-02", 4, "free"),
            ("2026-03-02", 5, "pro"), ("2026-03-08", 9, "pro")])
    return Connection("dw", "sql", {"url": "sqlite:///warehouse.db"}, base_dir=str(tmp_path))


def test_sql_one_number_with_bound_dates(db: Connection) -> None:
    query = {"sql": "SELECT SUM(n) FROM signups WHERE day BETWEEN :start AND :end"}
    assert points(fetch_one(SqlSource(db), request(query, db, measure="cumulative"))) == [(5, 12)]


def test_sql_rows_of_date_and_value(db: Connection) -> None:
    query = {"sql": "SELECT day, SUM(n) FROM signups WHERE day <= :as_of GROUP BY day"}
    source = SqlSource(db)
    series = fetch_one(source, request(query, db, measure="cumulative", series=True))
    assert points(series) == [(1, 3), (2, 9)]
    assert points(fetch_one(source, request(query, db))) == [(2, 9)]  # gauge: the latest row


def test_sql_placeholders_are_parameters_not_text(db: Connection) -> None:
    # a date parameter can never change the statement: the engine passes dates, and values are
    # bound by the driver
    query = {"sql": "SELECT COUNT(*) FROM signups WHERE day = :end"}
    req = request(query, db, end=dt.date(2026, 3, 2))
    assert points(fetch_one(SqlSource(db), req)) == [(2, 2)]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT SUM(n) FROM signups WHERE day > '2027-01-01'", "returned NULL"),
        ("SELECT plan FROM signups WHERE day = '2026-03-01'", "'pro' (str), not a number"),
        ("SELECT n FROM signups", "returned 5 rows of one column"),
        ("SELECT * FROM nowhere", "no such table"),
        ("SELECT 'soon', 1", "not a date"),
    ],
)
def test_sql_problems_are_permanent(db: Connection, sql: str, message: str) -> None:
    kind, text = failure(fetch_one(SqlSource(db), request({"sql": sql}, db)))
    assert kind == "permanent"
    assert message in text


def test_sql_opens_read_only(db: Connection) -> None:
    _kind, text = failure(fetch_one(SqlSource(db), request(
        {"sql": "INSERT INTO signups VALUES ('2026-03-03', 1, 'x') RETURNING 1"}, db)))
    assert "readonly" in text.replace(" ", "").lower()


def test_sql_validation() -> None:
    kr = KeyResult("k", "k", baseline=0, target=1)
    (problem,) = SqlSource.validate_query(
        {"sql": "SELECT 1 WHERE :start < :until AND x = 'a:b' AND t::text = '12:30'"}, kr)
    assert problem.field == "sql"
    assert ":until" in problem.message
    assert "':b'" not in problem.message
    bad = Connection("dw", "sql", {"url": "postgres://db/x"})
    assert [p.field for p in SqlSource.validate_connection(bad)] == ["url"]


# -- end to end with the engine, and the sources check -------------------------------------------
def test_a_plan_loaded_from_yaml_refreshes_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "history.csv").write_text(
        "date,metric,value\n2026-03-01,leads,4\n2026-03-02,leads,6\n2026-03-02,mrr,900\n")
    plan_file = tmp_path / "okrs.yaml"
    plan_file.write_text(PLAN_YAML)
    plan = okrcore.load_plan(str(plan_file))
    store = okrcore.open_store("memory://")
    result = okrcore.refresh(
        plan,
        store,
        at=dt.date(2026, 3, 2),
        manager=PluginManager(load_entry_points=False),
    )
    assert [(o.kr_id, o.status, o.value) for o in result.outcomes] == [
        ("leads", "refreshed", 10.0), ("mrr", "refreshed", 900.0), ("demos", "manual", None)]


PLAN_YAML = """\
okrcore: 1
cycles:
  - {id: q1, start: 2026-03-01, end: 2026-03-31}
objectives:
  - id: grow
    title: Grow the pipeline
    cycle: q1
    key_results:
      - id: leads
        title: 100 leads this quarter
        measure: cumulative
        baseline: 0
        target: 100
        source: {connection: exports, path: history.csv, where: {metric: leads}}
      - id: mrr
        title: MRR reaches 2000
        baseline: 800
        target: 2000
        source: {connection: exports, path: history.csv, where: {metric: mrr}}
      - id: demos
        title: Run 20 demos
        kind: count
        target: 20
        cadence: weekly
connections:
  exports:
    plugin: file
"""


def lint(yaml_text: str) -> list[okrcore.Finding]:
    plan = okrcore.loads_plan(yaml_text, name="okrs.yaml")
    findings = okrcore.check(plan, manager=PluginManager(load_entry_points=False))
    return [f for f in findings if f.code.startswith("SRC")]


def test_sources_check_points_at_the_bad_field_with_its_line() -> None:
    text = PLAN_YAML.replace("path: history.csv, where: {metric: mrr}",
                             "pathh: history.csv, where: metric=mrr")
    text += "  api:\n    plugin: http_json\n    headers: {Authorization: Bearer abc123}\n"
    text += "  crm:\n    plugin: nosuchcrm\n"
    findings = lint(text)
    by_where = {f.where: f for f in findings}
    assert set(by_where) == {
        "objectives[0].key_results[1].source.pathh",
        "objectives[0].key_results[1].source.path",
        "objectives[0].key_results[1].source.where",
        "connections.api.headers.Authorization",
        "connections.crm.plugin",
    }
    where = by_where["objectives[0].key_results[1].source.where"]
    assert where.severity.value == "error"
    assert where.line == text.splitlines().index(
        "        source: {connection: exports, pathh: history.csv, where: metric=mrr}") + 1
    assert "'mrr' (file)" in where.message
    assert "nosuchcrm" in by_where["connections.crm.plugin"].message
    assert "http_json" in by_where["connections.crm.plugin"].message  # lists the known plugins
    assert "abc123" not in by_where["connections.api.headers.Authorization"].message


def test_sources_check_is_quiet_on_a_good_plan() -> None:
    assert lint(PLAN_YAML) == []


def test_sources_check_reports_a_validator_that_raises() -> None:
    class Fragile(Source):
        name = "fragile"

        @classmethod
        def validate_query(cls, query: Any, kr: Any) -> list[QueryProblem]:
            raise KeyError("metric")

    class Plugin:
        @okrcore.hookimpl
        def okrcore_register_sources(self, register: Any) -> None:
            register(Fragile)

    manager = PluginManager(load_entry_points=False)
    manager.register(Plugin(), "fragile")
    kr = KeyResult("k", "k", baseline=0, target=1, source={"connection": "f", "x": 1})
    plan = Plan(cycles=[CYCLE], objectives=[Objective("o", "o", "q1", key_results=[kr])],
                connections={"f": Connection("f", "fragile")})
    (finding,) = [f for f in okrcore.check(plan, manager=manager) if f.code.startswith("SRC")]
    assert "validation raised KeyError" in finding.message
