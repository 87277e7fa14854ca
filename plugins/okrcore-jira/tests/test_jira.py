"""The jira source against a local fake of Jira Cloud's enhanced JQL search."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest
from jira_fake import BASIC, EMAIL, TOKEN, FakeJira, errors
from okrcore_jira import JiraSource, __version__
from okrcore_jira.source import MAX_RESULTS, SEARCH

from okrcore.errors import SourceError
from okrcore.model import Connection, Cycle, KeyResult
from okrcore.plugins import PluginManager
from okrcore.sources import Failure, FailureKind, FetchRequest, Reading

D = dt.date
CYCLE = Cycle("2026-Q1", D(2026, 1, 1), D(2026, 3, 31))
MID_MARCH = D(2026, 3, 15)
JQL = "project = MKT"


def source(fake: FakeJira, **settings: Any) -> JiraSource:
    conf = {"email": EMAIL, "token": "env:JIRA_TEST_TOKEN", "requests_per_second": 1000,
            **settings}
    return JiraSource(Connection("jira", "jira", conf, endpoint=fake.url))


def request(query: Mapping[str, Any], *, kr_id: str = "kr1", measure: str = "gauge",
            kind: str = "increase", series: bool = False, start: dt.date = CYCLE.start,
            end: dt.date = MID_MARCH) -> FetchRequest:
    kr = KeyResult(kr_id, "t", measure=measure, kind=kind, baseline=0, target=100)
    conn = Connection("jira", "jira", {})
    return FetchRequest(kr, {"jql": JQL, **query}, conn, CYCLE, start, end, end, series)


def one(src: JiraSource, req: FetchRequest) -> Reading | Failure:
    (result,) = src.fetch([req])
    return result


def reading(result: Reading | Failure) -> Reading:
    assert isinstance(result, Reading), result
    return result


def failure(result: Reading | Failure) -> Failure:
    assert isinstance(result, Failure), result
    return result


def resolved(i: int) -> dt.date:
    return D(2026, 2, 1) + dt.timedelta(days=i % 50)


@pytest.fixture
def issues(fake: FakeJira) -> FakeJira:
    """250 MKT issues created in January; every third resolved in February or March."""
    for i in range(250):
        done = i % 3 == 0
        fake.add("MKT", D(2026, 1, 1 + i % 28),
                 status=("Released" if i % 2 else "Done") if done else "In Progress",
                 resolved=resolved(i) if done else None,
                 labels=["launch"] if i % 5 == 0 else [],
                 assignee="ana@example.com" if i % 4 == 0 else None,
                 issuetype="Bug" if i % 7 == 0 else "Task",
                 components=["Web"] if i % 2 else ["Email", "Web"],
                 customfield_10042={"value": "Paid" if i % 6 == 0 else "Organic", "id": "1"})
    fake.add("OPS", D(2026, 1, 1), status="Done", resolved=D(2026, 1, 2))
    return fake


def test_percent_done_pages_to_the_end_with_the_documented_request(issues: FakeJira) -> None:
    got = reading(one(source(issues), request({})))
    done = sum(1 for i in range(0, 250, 3) if resolved(i) <= MID_MARCH)
    assert got.points[0][1] == pytest.approx(100 * done / 250)
    assert got.unit == "%"
    calls = issues.searches()
    assert len(calls) == 3  # Jira sends 100 issues a page when fields are asked for
    first = calls[0]
    assert first.method == "POST"
    assert first.headers["authorization"] == BASIC
    assert first.headers["user-agent"] == f"okrcore-jira/{__version__}"
    assert first.body == {"jql": JQL, "fields": ["status", "created", "resolutiondate"],
                          "maxResults": MAX_RESULTS}
    assert [c.body.get("nextPageToken") is not None for c in calls] == [False, True, True]
    assert got.info == {"requests": 3, "issues": 250}


def test_resolutions_by_day(issues: FakeJira) -> None:
    req = request({}, measure="cumulative", series=True, start=D(2026, 2, 1),
                  end=D(2026, 2, 28))
    got = reading(one(source(issues), req))
    assert len(got.points) == 28
    for day, value in got.points:
        assert value == sum(1 for i in range(0, 250, 3) if resolved(i) == day), day


def test_gauge_backfill_uses_created_and_resolution_dates(issues: FakeJira) -> None:
    req = request({"metric": "open"}, series=True, start=D(2026, 1, 27), end=D(2026, 2, 3))
    got = reading(one(source(issues), req))
    for day, value in got.points:
        created = [i for i in range(250) if D(2026, 1, 1 + i % 28) <= day]
        done = [i for i in created if i % 3 == 0 and resolved(i) <= day]
        assert value == len(created) - len(done), day


def test_where_filters_and_done_status_share_one_search(issues: FakeJira) -> None:
    reqs = [
        request({"where": {"labels": "launch"}, "metric": "total"}, kr_id="labels"),
        request({"where": {"assignee": "ANA@example.com"}, "metric": "total"}, kr_id="person"),
        request({"where": {"issuetype": "Bug", "components": "Email"}, "metric": "total"},
                kr_id="type"),
        request({"where": {"customfield_10042": "Paid"}, "metric": "total"}, kr_id="custom"),
        request({"done_status": "Released", "metric": "completed"}, kr_id="released"),
        request({"where": {"labels": "nothing"}}, kr_id="undefined"),
    ]
    src = source(issues)
    assert src.batches(reqs) == [reqs]
    got = {r.request.kr.id: r for r in src.fetch(reqs)}
    assert reading(got["labels"]).points[0][1] == 50
    assert reading(got["person"]).points[0][1] == len(range(0, 250, 4))
    assert reading(got["type"]).points[0][1] == sum(1 for i in range(0, 250, 7) if i % 2 == 0)
    assert reading(got["custom"]).points[0][1] == len(range(0, 250, 6))
    assert reading(got["released"]).points[0][1] == sum(
        1 for i in range(0, 250, 3) if i % 2 and resolved(i) <= MID_MARCH)
    assert "no tasks match" in failure(got["undefined"]).message
    assert len(issues.searches()) == 3
    assert set(issues.searches()[0].body["fields"]) == {
        "status", "created", "resolutiondate", "labels", "assignee", "issuetype", "components",
        "customfield_10042"}


def test_each_jql_is_its_own_search(issues: FakeJira) -> None:
    a = request({"metric": "total"}, kr_id="a")
    b = request({"jql": "project = MKT AND labels = launch", "metric": "total"}, kr_id="b")
    c = request({"jql": "  project =   MKT ", "metric": "open"}, kr_id="c")
    src = source(issues)
    assert src.batches([a, b, c]) == [[a, c], [b]]
    assert reading(one(src, b)).points[0][1] == 50


def test_milestone_defaults_to_the_fraction_done(issues: FakeJira) -> None:
    got = reading(one(source(issues), request({"jql": "project = OPS"}, kind="milestone")))
    assert got.points[0][1] == 1.0


def test_done_issues_without_the_completion_field_are_counted_and_warned(
    fake: FakeJira,
) -> None:
    fake.add("MKT", D(2026, 1, 2), status="Done", resolved=D(2026, 1, 9))
    fake.add("MKT", D(2026, 1, 2), status="Won't do")
    got = reading(one(source(fake), request({"metric": "completed"})))
    assert got.points[0][1] == 2
    assert got.warnings == ("1 done issues have no resolutiondate; they count as done from "
                            "their creation",)
    req = request({"completed_on": "statuscategorychangedate"}, measure="cumulative",
                  series=True, start=D(2026, 1, 1), end=D(2026, 1, 9))
    points = dict(reading(one(source(fake), req)).points)
    assert (points[D(2026, 1, 2)], points[D(2026, 1, 9)]) == (1, 1)


def test_a_bearer_token_without_email(fake: FakeJira) -> None:
    failure(one(source(fake, email=None), request({})))
    assert fake.calls[0].headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "retry_after", "words"),
    [
        (401, {"message": "Client must be authenticated to access this resource.",
               "status-code": 401}, {}, FailureKind.AUTH, None,
         "Jira 401: Client must be authenticated to access this resource. (check email"),
        (401, "Basic authentication with passwords is deprecated.",
         {"Content-Type": "text/plain"}, FailureKind.AUTH, None,
         "Jira 401: Basic authentication with passwords is deprecated."),
        (403, errors(), {}, FailureKind.AUTH, None, "Jira 403"),
        (400, errors("Error in the JQL Query: Expecting operator but got 'MKT'."), {},
         FailureKind.PERMANENT, None, "Jira 400: Error in the JQL Query"),
        (410, errors("The requested API has been removed."), {}, FailureKind.PERMANENT, None,
         "Jira 410"),
        (429, "", {"Retry-After": "5", "RateLimit-Reason": "jira-burst-based",
                   "X-RateLimit-Reset": "2026-03-15T10:01Z"}, FailureKind.TRANSIENT, 5.0,
         "Jira 429: Too Many Requests (jira-burst-based)"),
        (429, "<html><body>Oops - an error has occurred</body></html>",
         {"Retry-After": "0", "Content-Type": "text/html"}, FailureKind.TRANSIENT, 0.0,
         "Jira 429: Too Many Requests"),
        (429, "", {"Retry-After": "1800", "RateLimit-Reason": "jira-quota-tenant-based",
                   "X-RateLimit-Reset": "2026-03-15T11:00Z"}, FailureKind.QUOTA, None,
         "the quota resets at 2026-03-15T11:00Z"),
        (429, "", {"X-Beta-RateLimit-Reason": "jira-quota-tenant-based",
                   "X-Beta-RateLimit-Reset": "2026-03-26T17:00Z",
                   "Beta-RateLimit": '"tenant-app-quota";r=0;t=2788'}, FailureKind.QUOTA, None,
         "(jira-quota-tenant-based: the quota resets at 2026-03-26T17:00Z)"),
        (503, "", {"Retry-After": "3"}, FailureKind.TRANSIENT, 3.0, "Jira 503"),
        (200, "not json", {}, FailureKind.TRANSIENT, None, "not a JSON object"),
        (200, {"issues": {}}, {}, FailureKind.TRANSIENT, None, "without an issues list"),
        (200, {"issues": [], "isLast": False}, {}, FailureKind.TRANSIENT, None,
         "isLast false without a nextPageToken"),
        (200, {"issues": [{"key": "MKT-1", "fields": {"status": {"name": "Done"},
                                                      "created": "2026-01-01"}}],
               "isLast": True}, {}, FailureKind.TRANSIENT, None, "no statusCategory"),
        (200, {"issues": [{"key": "MKT-1", "fields": {
            "status": {"name": "Done", "statusCategory": {"key": "done"}},
            "created": "yesterday"}}], "isLast": True}, {}, FailureKind.TRANSIENT, None,
         "malformed issue"),
    ],
)
def test_errors_are_classified(
    issues: FakeJira, status: int, body: Any, headers: dict[str, str], kind: FailureKind,
    retry_after: float | None, words: str,
) -> None:
    issues.answer(status, body, headers)
    got = failure(one(source(issues), request({})))
    assert got.kind is kind
    assert got.retry_after == retry_after
    assert words in got.message
    assert TOKEN not in got.message


def test_after_an_auth_failure_the_connection_sends_nothing_more(issues: FakeJira) -> None:
    issues.answer(401, {"message": "Client must be authenticated to access this resource."})
    src = source(issues)
    assert failure(one(src, request({}))).kind is FailureKind.AUTH
    again = failure(one(src, request({"jql": "project = OPS"}, kr_id="other")))
    assert again.message.startswith("not sent: Jira 401")
    assert len(issues.calls) == 1


def test_wrong_or_missing_token_is_auth(
    issues: FakeJira, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIRA_TEST_TOKEN", "wrong-token")
    got = failure(one(source(issues), request({})))
    assert got.kind is FailureKind.AUTH
    assert "wrong-token" not in got.message
    monkeypatch.delenv("JIRA_TEST_TOKEN")
    issues.calls.clear()
    assert "JIRA_TEST_TOKEN is not set" in failure(one(source(issues), request({}))).message
    assert issues.calls == []


def test_a_hang_times_out_as_transient(issues: FakeJira) -> None:
    issues.answer(200, {}, hang=True)
    got = failure(one(source(issues, timeout=0.3), request({})))
    assert got.kind is FailureKind.TRANSIENT
    assert "did not answer within 0.3 s" in got.message


def test_a_repeated_page_token_stops_paging(issues: FakeJira) -> None:
    loop = {"issues": [], "nextPageToken": "same", "isLast": False}
    issues.answer(200, loop)
    issues.answer(200, loop)
    assert "same page token twice" in failure(one(source(issues), request({}))).message


def kr(kind: str = "increase", measure: str = "gauge") -> KeyResult:
    return KeyResult("k", "t", kind=kind, measure=measure, baseline=0, target=1)


def fields(query: dict[str, Any], key_result: KeyResult | None = None) -> list[str]:
    return [p.field for p in JiraSource.validate_query(query, key_result or kr())]


def test_query_validation_names_each_problem() -> None:
    assert fields({"jql": JQL}) == []
    assert fields({"jql": JQL, "done_status": ["Done", "Released"], "completed_on":
                   "customfield_10050", "where": {"labels": ["a", "b"], "customfield_1": 3}}) \
        == []
    assert fields({"jql": "ORDER BY created DESC", "metric": "done", "colour": 1}) == [
        "colour", "jql", "metric"]
    assert fields({"jql": ""}) == ["jql"]
    assert fields({"jql": JQL, "done_status": [], "completed_on": "Resolved date",
                   "where": {"Sprint name": "x", "labels": None}}) == [
        "done_status", "completed_on", "where.Sprint name", "where.labels"]
    assert fields({"jql": JQL, "metric": "open"}, kr(measure="cumulative")) == ["metric"]


def test_connection_validation() -> None:
    good = Connection("jira", "jira", {"site": "https://acme.atlassian.net", "email": EMAIL,
                                       "token": "env:JIRA_API_TOKEN"})
    assert JiraSource.validate_connection(good) == []
    bad = Connection("jira", "jira", {"site": "acme", "email": "ana", "token": "ATATT3x",
                                      "timeout": -1, "colour": 1})
    assert [p.field for p in JiraSource.validate_connection(bad)] == [
        "colour", "token", "timeout", "site", "email"]


def test_check_online_reports_jql_and_field_problems(issues: FakeJira) -> None:
    def q(kr_id: str, **query: Any) -> tuple[KeyResult, Mapping[str, Any]]:
        return (KeyResult(kr_id, "t", baseline=0, target=1), {"jql": JQL, **query})

    queries = [
        q("good", where={"customfield_10042": "Paid", "labels": "x"}),
        q("same-jql", where={"Channel": "Paid"}),
        q("jql", jql="project = MKT AND sprint ~ 5"),
        q("completed", completed_on="resolved"),
    ]
    problems = [(k, p.field, p.message) for k, p in source(issues).check_online(queries)]
    assert problems == [
        ("same-jql", "where.Channel",
         "Jira has no field 'Channel' (the field named so has the id customfield_10042)"),
        ("jql", "jql", "Jira 400: Error in the JQL Query: cannot parse 'sprint ~ 5'."),
        ("completed", "completed_on",
         "Jira has no field 'resolved' (the field named so has the id resolutiondate)"),
    ]
    assert [c.path for c in issues.calls] == [
        "/rest/api/3/myself", "/rest/api/3/field", SEARCH, SEARCH]


def test_check_online_with_a_bad_token_raises(
    issues: FakeJira, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIRA_TEST_TOKEN", "wrong")
    with pytest.raises(SourceError, match="Jira 401"):
        source(issues).check_online([(kr(), {"jql": JQL})])


def test_plugin_registers_through_its_entry_point() -> None:
    assert PluginManager().sources.get("jira") is JiraSource
