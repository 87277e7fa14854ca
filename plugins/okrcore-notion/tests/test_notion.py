"""The notion source against a local fake of Notion's API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest
from notion_fake import TOKEN, FakeNotion, error
from okrcore_notion import NotionSource, __version__
from okrcore_notion.source import NOTION_VERSION

from okrcore.errors import SourceError
from okrcore.model import Connection, Cycle, KeyResult
from okrcore.plugins import PluginManager
from okrcore.sources import Failure, FailureKind, FetchRequest, Reading

D = dt.date
CYCLE = Cycle("2026-Q1", D(2026, 1, 1), D(2026, 3, 31))
MID_MARCH = D(2026, 3, 15)
DB = "1f2e3d4c-5b6a-4798-8776-655443322110"
SCHEMA = {"Name": "title", "Status": "status", "Done": "checkbox", "Team": "select",
          "Tags": "multi_select", "Owner": "people", "Completed": "date", "Points": "number"}


def source(fake: FakeNotion, **settings: Any) -> NotionSource:
    conf = {"token": "env:NOTION_TEST_TOKEN", "requests_per_second": 1000, **settings}
    return NotionSource(Connection("notion", "notion", conf, endpoint=fake.url))


def request(query: Mapping[str, Any], *, kr_id: str = "kr1", measure: str = "gauge",
            kind: str = "increase", series: bool = False, start: dt.date = CYCLE.start,
            end: dt.date = MID_MARCH) -> FetchRequest:
    kr = KeyResult(kr_id, "t", measure=measure, kind=kind, baseline=0, target=100)
    conn = Connection("notion", "notion", {})
    return FetchRequest(kr, {"database": DB, **query}, conn, CYCLE, start, end, end, series)


def one(src: NotionSource, req: FetchRequest) -> Reading | Failure:
    (result,) = src.fetch([req])
    return result


def reading(result: Reading | Failure) -> Reading:
    assert isinstance(result, Reading), result
    return result


def failure(result: Reading | Failure) -> Failure:
    assert isinstance(result, Failure), result
    return result


def done_day(i: int) -> dt.date:
    return D(2026, 2, 1) + dt.timedelta(days=i % 50)


@pytest.fixture
def tasks(fake: FakeNotion) -> str:
    """250 pages created in January; every third Done on a day in February or March."""
    (ds,) = fake.add_database(DB, SCHEMA)
    for i in range(250):
        done = i % 3 == 0
        fake.add_page(ds, D(2026, 1, 1 + i % 28), Name=f"Task {i}",
                      Status="Done" if done else ("In progress" if i % 2 else "Not started"),
                      Done=done, Team="Growth" if i % 2 else "Brand",
                      Tags=["launch", "web"] if i % 5 == 0 else ["web"],
                      Owner=["ana@example.com"] if i % 4 == 0 else [],
                      Completed=done_day(i) if done else None, Points=i % 10)
    return ds


def test_percent_done_pages_to_the_end_with_the_documented_request(
    fake: FakeNotion, tasks: str
) -> None:
    got = reading(one(source(fake), request({})))
    assert got.points[0][1] == pytest.approx(100 * len(range(0, 250, 3)) / 250)
    assert got.unit == "%"
    discover, *queries = fake.calls
    assert (discover.method, discover.path) == ("GET", f"/v1/databases/{DB}")
    assert [c.path for c in queries] == [f"/v1/data_sources/{tasks}/query"] * 3
    first = queries[0]
    assert first.headers["authorization"] == f"Bearer {TOKEN}"
    assert first.headers["notion-version"] == NOTION_VERSION
    assert first.headers["user-agent"] == f"okrcore-notion/{__version__}"
    assert first.body == {"page_size": 100}
    assert "start_cursor" in queries[1].body
    assert got.info == {"requests": 4, "pages": 250}


def test_completions_by_day_from_a_date_property(fake: FakeNotion, tasks: str) -> None:
    req = request({"completed_on": "Completed"}, measure="cumulative", series=True,
                  start=D(2026, 2, 1), end=D(2026, 2, 28))
    got = reading(one(source(fake), req))
    assert len(got.points) == 28
    for day, value in got.points:
        assert value == sum(1 for i in range(0, 250, 3) if done_day(i) == day), day


def test_gauge_backfill_uses_created_time_and_completion_dates(
    fake: FakeNotion, tasks: str
) -> None:
    req = request({"metric": "open", "completed_on": "Completed"}, series=True,
                  start=D(2026, 1, 27), end=D(2026, 2, 3))
    got = reading(one(source(fake), req))
    for day, value in got.points:
        created = [i for i in range(250) if D(2026, 1, 1 + i % 28) <= day]
        done = [i for i in created if i % 3 == 0 and done_day(i) <= day]
        assert value == len(created) - len(done), day


def test_done_by_checkbox_and_where_filters_share_one_read(
    fake: FakeNotion, tasks: str
) -> None:
    reqs = [
        request({"done": {"property": "Done"}, "metric": "completed"}, kr_id="checkbox"),
        request({"where": {"Team": "Growth"}, "metric": "total"}, kr_id="select"),
        request({"where": {"Tags": "launch"}, "metric": "total"}, kr_id="multi"),
        request({"where": {"Owner": "ana@example.com", "Points": [0, 4]}, "metric": "total"},
                kr_id="people"),
        request({"where": {"Status": ["In progress", "not started"]}, "metric": "total"},
                kr_id="status"),
        request({"where": {"Done": False}, "metric": "total"}, kr_id="bool"),
        request({"where": {"Team": "Nobody"}}, kr_id="undefined"),
    ]
    src = source(fake)
    assert src.batches(reqs) == [reqs]
    got = {r.request.kr.id: r for r in src.fetch(reqs)}
    assert reading(got["checkbox"]).points[0][1] == len(range(0, 250, 3))
    assert reading(got["select"]).points[0][1] == 125
    assert reading(got["multi"]).points[0][1] == 50
    assert reading(got["people"]).points[0][1] == sum(1 for i in range(0, 250, 4)
                                                      if i % 10 in (0, 4))
    assert reading(got["status"]).points[0][1] == 250 - len(range(0, 250, 3))
    assert reading(got["bool"]).points[0][1] == 250 - len(range(0, 250, 3))
    assert "no tasks match" in failure(got["undefined"]).message
    assert len(fake.queries(tasks)) == 3


def test_a_notion_filter_is_sent_and_groups_its_own_read(fake: FakeNotion, tasks: str) -> None:
    growth = {"property": "Team", "select": {"equals": "Growth"}}
    reqs = [request({"filter": growth, "metric": "total"}, kr_id="a"),
            request({"metric": "total"}, kr_id="b")]
    src = source(fake)
    assert src.batches(reqs) == [[reqs[0]], [reqs[1]]]
    got = reading(one(src, reqs[0]))
    assert got.points[0][1] == 125
    assert fake.queries(tasks)[0].body == {"page_size": 100, "filter": growth}


def test_data_source_ids_skip_discovery_and_databases_are_discovered_once(
    fake: FakeNotion, tasks: str
) -> None:
    src = source(fake)
    reading(one(src, request({"metric": "total"})))
    reading(one(src, request({"metric": "total", "where": {"Team": "Brand"}})))
    assert [c.path for c in fake.calls].count(f"/v1/databases/{DB}") == 1
    fake.calls.clear()
    direct = {"data_source": tasks.replace("-", ""), "metric": "total"}
    kr = KeyResult("d", "t", baseline=0, target=1)
    req = FetchRequest(kr, direct, Connection("notion", "notion", {}), CYCLE, CYCLE.start,
                       MID_MARCH, MID_MARCH)
    assert reading(one(src, req)).points[0][1] == 250
    assert all(c.path.endswith("/query") for c in fake.calls)


def test_every_data_source_of_a_database_is_read(fake: FakeNotion) -> None:
    a, b = fake.add_database(DB, {"Status": "status"}, sources=["a" * 32, "b" * 32])
    for ds, n in ((a, 3), (b, 5)):
        for _ in range(n):
            fake.add_page(ds, D(2026, 1, 2), Status="Done")
    assert reading(one(source(fake), request({"metric": "completed"}))).points[0][1] == 8


def test_milestone_defaults_to_the_fraction_done(fake: FakeNotion, tasks: str) -> None:
    got = reading(one(source(fake), request({}, kind="milestone")))
    assert got.points[0][1] == pytest.approx(len(range(0, 250, 3)) / 250)


def test_done_pages_without_a_completion_date_are_counted_and_warned(
    fake: FakeNotion,
) -> None:
    (ds,) = fake.add_database(DB, SCHEMA)
    fake.add_page(ds, D(2026, 1, 2), Status="Done", Completed=D(2026, 1, 9))
    fake.add_page(ds, D(2026, 1, 2), Status="Done")
    got = reading(one(source(fake), request({"completed_on": "Completed",
                                             "metric": "completed"})))
    assert got.points[0][1] == 2
    assert got.warnings == ("1 done pages have no 'Completed'; they count as done from their "
                            "creation",)


def test_completed_on_last_edited_time(fake: FakeNotion) -> None:
    (ds,) = fake.add_database(DB, SCHEMA)
    fake.add_page(ds, D(2026, 1, 2), Status="Done", edited=D(2026, 1, 20))
    req = request({"completed_on": "last_edited_time"}, measure="cumulative", series=True,
                  start=D(2026, 1, 19), end=D(2026, 1, 21))
    assert reading(one(source(fake), req)).points == (
        (D(2026, 1, 19), 0.0), (D(2026, 1, 20), 1.0), (D(2026, 1, 21), 0.0))


def test_a_status_done_property_needs_equals(fake: FakeNotion, tasks: str) -> None:
    got = failure(one(source(fake), request({"done": {"property": "Status"}})))
    assert got.kind is FailureKind.PERMANENT
    assert "done property 'Status' is a status, not a checkbox" in got.message


def test_the_10000_result_cap_is_a_named_failure(fake: FakeNotion, tasks: str) -> None:
    fake.cap = 200
    got = failure(one(source(fake), request({})))
    assert got.kind is FailureKind.PERMANENT
    assert "10,000 results (query_result_limit_reached): add a filter" in got.message


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "retry_after", "words"),
    [
        (401, error(401, "unauthorized", "API token is invalid."), {}, FailureKind.AUTH, None,
         "Notion 401 unauthorized: API token is invalid. (check the token)"),
        (403, error(403, "restricted_resource", "API token does not have access to this "
                    "resource."), {}, FailureKind.AUTH, None, "'Read content' capability"),
        (404, error(404, "object_not_found", "Could not find database with ID: x."), {},
         FailureKind.PERMANENT, None, "share the database with the connection"),
        (429, error(429, "rate_limited", "This request exceeds the number of requests allowed. "
                    "Slow down and try again."), {"Retry-After": "4"}, FailureKind.TRANSIENT, 4.0,
         "Notion 429 rate_limited"),
        (529, error(529, "service_overload", "Notion is overloaded."), {"Retry-After": "2"},
         FailureKind.TRANSIENT, 2.0, "Notion 529 service_overload"),
        (503, error(503, "service_unavailable", "Notion is unavailable."), {},
         FailureKind.TRANSIENT, None, "Notion 503"),
        (400, error(400, "validation_error", "body failed validation."), {},
         FailureKind.PERMANENT, None, "Notion 400 validation_error"),
        (502, "<html>Bad Gateway</html>", {}, FailureKind.TRANSIENT, None, "Notion 502"),
        (200, "not json", {}, FailureKind.TRANSIENT, None, "not a JSON object"),
        (200, {"object": "database", "id": DB}, {}, FailureKind.TRANSIENT, None,
         "without data_sources"),
    ],
)
def test_errors_are_classified(
    fake: FakeNotion, tasks: str, status: int, body: Any, headers: dict[str, str],
    kind: FailureKind, retry_after: float | None, words: str,
) -> None:
    fake.answer(status, body, headers)
    got = failure(one(source(fake), request({})))
    assert got.kind is kind
    assert got.retry_after == retry_after
    assert words in got.message
    assert TOKEN not in got.message


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"object": "list", "results": "pages", "has_more": False}, "without a results list"),
        ({"object": "list", "results": [], "has_more": True, "next_cursor": None},
         "has_more without a new next_cursor"),
    ],
)
def test_malformed_query_answers_are_transient(
    fake: FakeNotion, tasks: str, body: Any, words: str
) -> None:
    src = source(fake)
    reading(one(src, request({"metric": "total"})))  # discovers the data source
    fake.answer(200, body)
    got = failure(one(src, request({"metric": "total"})))
    assert (got.kind, got.message) == (FailureKind.TRANSIENT, f"Notion answered a query "
                                       f"{words}" if "results" in words else
                                       f"Notion said {words}")


def test_a_page_without_the_done_property_is_permanent(fake: FakeNotion, tasks: str) -> None:
    got = failure(one(source(fake), request({"done": {"property": "Finished"}})))
    assert "pages have no property 'Finished'" in got.message


def test_after_an_auth_failure_the_connection_sends_nothing_more(
    fake: FakeNotion, tasks: str
) -> None:
    fake.answer(401, error(401, "unauthorized", "API token is invalid."))
    src = source(fake)
    assert failure(one(src, request({}))).kind is FailureKind.AUTH
    again = failure(one(src, request({}, kr_id="other")))
    assert again.message.startswith("not sent: Notion 401")
    assert len(fake.calls) == 1


def test_wrong_or_missing_token_is_auth(
    fake: FakeNotion, tasks: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTION_TEST_TOKEN", "ntn_wrong")
    got = failure(one(source(fake), request({})))
    assert got.kind is FailureKind.AUTH
    assert "ntn_wrong" not in got.message
    monkeypatch.delenv("NOTION_TEST_TOKEN")
    fake.calls.clear()
    got = failure(one(source(fake), request({})))
    assert "NOTION_TEST_TOKEN is not set" in got.message
    assert fake.calls == []


def test_a_hang_times_out_as_transient(fake: FakeNotion, tasks: str) -> None:
    fake.answer(200, {}, hang=True)
    got = failure(one(source(fake, timeout=0.3), request({})))
    assert got.kind is FailureKind.TRANSIENT
    assert "did not answer within 0.3 s" in got.message


def kr(kind: str = "increase", measure: str = "gauge") -> KeyResult:
    return KeyResult("k", "t", kind=kind, measure=measure, baseline=0, target=1)


def fields(query: dict[str, Any], key_result: KeyResult | None = None) -> list[str]:
    return [p.field for p in NotionSource.validate_query(query, key_result or kr())]


def test_query_validation_names_each_problem() -> None:
    assert fields({"database": DB}) == []
    assert fields({"database": f"https://www.notion.so/acme/Tasks-{DB.replace('-', '')}?v=1"}) \
        == []
    assert fields({"data_source": DB, "done": {"property": "Done"}, "where": {"T": ["a", 1]},
                   "filter": {"property": "T", "select": {"equals": "a"}}}) == []
    assert fields({"database": "tasks", "metric": "done", "colour": 1}) == [
        "colour", "database", "metric"]
    assert fields({"database": DB, "data_source": DB}) == ["database"]
    assert fields({"database": DB, "done": "Status", "where": {"T": None}, "filter": "x"}) == [
        "done", "where.T", "filter"]
    assert fields({"database": DB, "done": {"property": "S", "equals": [], "when": 1}}) == [
        "done.when", "done.equals"]
    cumulative = kr(measure="cumulative")
    assert fields({"database": DB}, cumulative) == ["completed_on"]
    assert fields({"database": DB, "completed_on": "Completed", "metric": "open"},
                  cumulative) == ["metric"]


def test_connection_validation_refuses_inline_tokens() -> None:
    problems = NotionSource.validate_connection(
        Connection("notion", "notion", {"token": "ntn_123", "concurrency": 0, "colour": "x"}))
    assert {p.field for p in problems} == {"token", "concurrency", "colour"}


def test_check_online_reports_databases_and_properties(fake: FakeNotion, tasks: str) -> None:
    def q(kr_id: str, **query: Any) -> tuple[KeyResult, Mapping[str, Any]]:
        return (KeyResult(kr_id, "t", baseline=0, target=1), {"database": DB, **query})

    queries = [
        q("good", completed_on="Completed", where={"Team": "Growth"}),
        q("typo", done={"property": "Stauts", "equals": "Done"}),
        q("date", completed_on="Team"),
        q("equals", done={"property": "Team"}),
        q("where", where={"Teem": "Growth"}),
        (KeyResult("gone", "t", baseline=0, target=1), {"database": "0" * 32}),
    ]
    problems = [(k, p.field, p.message) for k, p in source(fake).check_online(queries)]
    known = ", ".join(sorted(SCHEMA))
    assert problems == [
        ("typo", "done", f"the database has no property 'Stauts' (properties: {known})"),
        ("date", "completed_on", "property 'Team' is a select, which cannot say when a page "
         "was done"),
        ("equals", "done.equals", "property 'Team' is a select: say which values mean done "
         "with equals"),
        ("where", "where.Teem", f"the database has no property 'Teem' (properties: {known})"),
        ("gone", "database", "Notion 404 object_not_found: Could not find database with ID: "
         "00000000-0000-0000-0000-000000000000. Make sure the relevant pages and databases are "
         "shared with your integration. (database 00000000-0000-0000-0000-000000000000: share "
         "the database with the connection under its ••• menu → Connections)"),
    ]
    assert len(fake.calls) == 3  # the database, its data source, the unknown database


def test_check_online_with_a_bad_token_raises(
    fake: FakeNotion, tasks: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTION_TEST_TOKEN", "ntn_wrong")
    with pytest.raises(SourceError, match="Notion 401"):
        source(fake).check_online([(kr(), {"database": DB})])


def test_plugin_registers_through_its_entry_point() -> None:
    assert PluginManager().sources.get("notion") is NotionSource
