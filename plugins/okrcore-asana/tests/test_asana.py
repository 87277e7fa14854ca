"""The asana source against a local fake of Asana's REST API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest
from asana_fake import PREFIX, TOKEN, FakeAsana
from okrcore_asana import AsanaSource, __version__

from okrcore.errors import SourceError
from okrcore.model import Connection, Cycle, KeyResult
from okrcore.plugins import PluginManager
from okrcore.sources import Failure, FailureKind, FetchRequest, Reading

D = dt.date
CYCLE = Cycle("2026-Q1", D(2026, 1, 1), D(2026, 3, 31))
P1, P2 = "1206000000000001", "1206000000000002"
TASKS = f"{PREFIX}/projects/{P1}/tasks"
MID_MARCH = D(2026, 3, 15)


def source(fake: FakeAsana, **settings: Any) -> AsanaSource:
    conf = {"token": "env:ASANA_TEST_TOKEN", "requests_per_second": 1000, **settings}
    return AsanaSource(Connection("asana", "asana", conf, endpoint=fake.url + PREFIX))


def request(query: Mapping[str, Any], *, kr_id: str = "kr1", measure: str = "gauge",
            kind: str = "increase", series: bool = False, start: dt.date = CYCLE.start,
            end: dt.date = MID_MARCH) -> FetchRequest:
    kr = KeyResult(kr_id, "t", measure=measure, kind=kind, baseline=0, target=100)
    conn = Connection("asana", "asana", {})
    return FetchRequest(kr, {"project": P1, **query}, conn, CYCLE, start, end, end, series)


def fetch(src: AsanaSource, *reqs: FetchRequest) -> dict[str, Reading | Failure]:
    return {r.request.kr.id: r for r in src.fetch(list(reqs))}


def one(src: AsanaSource, req: FetchRequest) -> Reading | Failure:
    (result,) = src.fetch([req])
    return result


def reading(result: Reading | Failure) -> Reading:
    assert isinstance(result, Reading), result
    return result


def failure(result: Reading | Failure) -> Failure:
    assert isinstance(result, Failure), result
    return result


@pytest.fixture
def project(fake: FakeAsana) -> FakeAsana:
    """250 tasks created in January; every third completed on a day in February or March."""
    fake.add_project(P1, sections=["Launch", "Later"], fields=["Priority", "Channel"])
    for i in range(250):
        done = D(2026, 2, 1) + dt.timedelta(days=i % 50) if i % 3 == 0 else None
        fake.add_task(P1, created=D(2026, 1, 1 + i % 28), completed=done,
                      section="Launch" if i % 2 else "Later",
                      tags=["content"] if i % 5 == 0 else [],
                      assignee="ana@example.com" if i % 4 == 0 else None,
                      custom={"Priority": "High" if i % 7 == 0 else "Low",
                              "Channel": ["Email", "Social"] if i % 6 == 0 else ["Web"],
                              "Points": i % 10})
    return fake


def test_percent_done_pages_to_the_end_with_the_documented_request(project: FakeAsana) -> None:
    got = reading(one(source(project), request({})))
    done = sum(1 for i in range(250) if i % 3 == 0 and D(2026, 2, 1) + dt.timedelta(days=i % 50)
               <= D(2026, 3, 15))
    assert [day for day, _ in got.points] == [MID_MARCH]
    assert got.points[0][1] == pytest.approx(100 * done / 250)
    assert got.unit == "%"
    calls = project.pages(TASKS)
    assert len(calls) == 3  # 100 + 100 + 50
    assert calls[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert calls[0].headers["user-agent"] == f"okrcore-asana/{__version__}"
    assert calls[0].param("opt_fields") == "completed,completed_at,created_at"
    assert calls[0].param("limit") == "100"
    assert calls[0].param("offset") is None
    assert [c.param("offset") is not None for c in calls] == [False, True, True]
    assert "completed_since" not in calls[0].query
    assert got.info == {"requests": 3, "tasks": 250}


def test_cumulative_completions_by_day_skip_tasks_done_before_the_window(
    project: FakeAsana,
) -> None:
    req = request({}, measure="cumulative", series=True, start=D(2026, 2, 1),
                  end=D(2026, 2, 28))
    got = reading(one(source(project), req))
    assert len(got.points) == 28
    for day, value in got.points:
        want = sum(1 for i in range(250)
                   if i % 3 == 0 and D(2026, 2, 1) + dt.timedelta(days=i % 50) == day)
        assert value == want, day
    assert project.pages(TASKS)[0].param("completed_since") == "2026-02-01T00:00:00.000Z"


def test_gauge_backfill_rebuilds_each_days_level_from_dates(project: FakeAsana) -> None:
    req = request({"metric": "open"}, series=True, start=D(2026, 1, 27), end=D(2026, 2, 3))
    got = reading(one(source(project), req))
    for day, value in got.points:
        created = [i for i in range(250) if D(2026, 1, 1 + i % 28) <= day]
        done = [i for i in created if i % 3 == 0 and D(2026, 2, 1) + dt.timedelta(days=i % 50)
                <= day]
        assert value == len(created) - len(done), day
    assert len(got.points) == 8


def test_filters_share_one_read_of_the_project(project: FakeAsana) -> None:
    reqs = [
        request({"section": "Launch", "metric": "total"}, kr_id="section"),
        request({"tag": "content", "metric": "total"}, kr_id="tag"),
        request({"assignee": "ANA@example.com", "metric": "total"}, kr_id="assignee"),
        request({"custom_fields": {"Priority": "High"}, "metric": "total"}, kr_id="enum"),
        request({"custom_fields": {"Channel": ["Social"], "Points": 3}, "metric": "total"},
                kr_id="multi"),
        request({"section": "Nope", "metric": "total"}, kr_id="none"),
        request({"section": "Nope"}, kr_id="undefined"),
    ]
    src = source(project)
    assert src.batches(reqs) == [reqs]
    got = fetch(src, *reqs)
    assert reading(got["section"]).points[0][1] == 125
    assert reading(got["tag"]).points[0][1] == 50
    assert reading(got["assignee"]).points[0][1] == len(range(0, 250, 4))
    assert reading(got["enum"]).points[0][1] == len(range(0, 250, 7))
    assert reading(got["multi"]).points[0][1] == sum(1 for i in range(250)
                                                     if i % 6 == 0 and i % 10 == 3)
    assert reading(got["none"]).points[0][1] == 0
    assert "no tasks match" in failure(got["undefined"]).message
    assert len(project.pages(TASKS)) == 3
    fields = project.pages(TASKS)[0].param("opt_fields") or ""
    assert {"memberships.section.name", "tags.name", "assignee.email",
            "custom_fields.display_value"} <= set(fields.split(","))


def test_milestone_defaults_to_the_fraction_done(project: FakeAsana) -> None:
    got = reading(one(source(project), request({"section": "Launch"}, kind="milestone")))
    assert 0 < got.points[0][1] < 1
    assert got.unit is None


def test_requests_on_two_projects_are_two_batches(project: FakeAsana) -> None:
    project.add_project(P2)
    a, b = request({}, kr_id="a"), request({"project": P2, "metric": "total"}, kr_id="b")
    assert source(project).batches([a, b, request({}, kr_id="c")]) == [
        [a, request({}, kr_id="c")], [b]]


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "retry_after", "words"),
    [
        (401, {"errors": [{"message": "Not Authorized"}]}, {}, FailureKind.AUTH, None,
         "Asana 401: Not Authorized (check the access token)"),
        (403, {"errors": [{"message": "Forbidden"}]}, {}, FailureKind.PERMANENT, None,
         f"project {P1} does not exist or the token's user cannot see it"),
        (404, {"errors": [{"message": "project: Unknown object"}]}, {}, FailureKind.PERMANENT,
         None, "Asana 404: project: Unknown object"),
        (429, {"errors": [{"message": "You've made too many requests and hit a rate limit. "
                           "Please retry after the given amount of time."}]},
         {"Retry-After": "30"}, FailureKind.TRANSIENT, 30.0, "Asana 429: You've made"),
        (500, {"errors": [{"message": "Server Error", "phrase": "6 sad squid snuggle softly"}]},
         {}, FailureKind.TRANSIENT, None, "Asana 500: Server Error"),
        (502, "<html>Bad Gateway</html>", {}, FailureKind.TRANSIENT, None, "Asana 502"),
        (200, "not json", {}, FailureKind.TRANSIENT, None, "not a JSON object"),
        (200, {"data": {"gid": "1"}}, {}, FailureKind.TRANSIENT, None, "without a list"),
        (200, {"data": [], "next_page": {"path": "/x"}}, {}, FailureKind.TRANSIENT, None,
         "malformed next_page"),
        (200, {"data": [{"gid": "1", "completed": "yes"}], "next_page": None}, {},
         FailureKind.TRANSIENT, None, "task 1: completed is 'yes'"),
        (200, {"data": [{"gid": "2", "completed": True, "completed_at": "soon"}],
               "next_page": None}, {}, FailureKind.TRANSIENT, None, "task 2: created_at or"),
    ],
)
def test_errors_are_classified(
    project: FakeAsana, status: int, body: Any, headers: dict[str, str], kind: FailureKind,
    retry_after: float | None, words: str,
) -> None:
    project.answer(status, body, headers)
    got = failure(one(source(project), request({})))
    assert got.kind is kind
    assert got.retry_after == retry_after
    assert words in got.message
    assert TOKEN not in got.message


def test_an_error_on_a_later_page_fails_the_whole_read(project: FakeAsana) -> None:
    src = source(project)
    calls = []
    original = src._get

    def second_fails(path: str, params: Mapping[str, str], what: str) -> Mapping[str, Any]:
        calls.append(path)
        if len(calls) == 2:
            project.answer(429, {"errors": [{"message": "slow down"}]}, {"Retry-After": "1"})
        return original(path, params, what)

    src._get = second_fails  # type: ignore[method-assign]
    got = failure(one(src, request({})))
    assert (got.kind, got.retry_after) == (FailureKind.TRANSIENT, 1.0)


def test_after_an_auth_failure_the_connection_sends_nothing_more(project: FakeAsana) -> None:
    project.answer(401, {"errors": [{"message": "Not Authorized"}]})
    src = source(project)
    assert failure(one(src, request({}))).kind is FailureKind.AUTH
    again = failure(one(src, request({}, kr_id="other")))
    assert again.kind is FailureKind.AUTH
    assert again.message.startswith("not sent: Asana 401")
    assert len(project.calls) == 1


def test_wrong_token_is_auth(project: FakeAsana, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASANA_TEST_TOKEN", "0/wrong")
    got = failure(one(source(project), request({})))
    assert got.kind is FailureKind.AUTH
    assert "0/wrong" not in got.message


def test_missing_secret_is_auth_without_a_call(
    project: FakeAsana, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASANA_TEST_TOKEN")
    got = failure(one(source(project), request({})))
    assert got.kind is FailureKind.AUTH
    assert "ASANA_TEST_TOKEN is not set" in got.message
    assert project.calls == []


def test_a_hang_times_out_as_transient(project: FakeAsana) -> None:
    project.answer(200, {"data": []}, hang=True)
    got = failure(one(source(project, timeout=0.3), request({})))
    assert got.kind is FailureKind.TRANSIENT
    assert "did not answer within 0.3 s" in got.message


def test_unreachable_endpoint_is_transient() -> None:
    src = AsanaSource(Connection("asana", "asana", {"token": "env:ASANA_TEST_TOKEN"},
                                 endpoint="http://127.0.0.1:9"))
    assert failure(one(src, request({}))).kind is FailureKind.TRANSIENT


def test_a_repeated_offset_stops_paging(project: FakeAsana) -> None:
    loop = {"data": [], "next_page": {"offset": "same", "path": "/x", "uri": "http://x"}}
    project.answer(200, loop)
    project.answer(200, loop)
    got = failure(one(source(project), request({})))
    assert "same page offset twice" in got.message


def kr(kind: str = "increase", measure: str = "gauge") -> KeyResult:
    return KeyResult("k", "t", kind=kind, measure=measure, baseline=0, target=1)


def fields(query: dict[str, Any], key_result: KeyResult | None = None) -> list[str]:
    return [p.field for p in AsanaSource.validate_query(query, key_result or kr())]


def test_query_validation_names_each_problem() -> None:
    assert fields({"project": P1}) == []
    assert fields({"project": int(P1), "section": "Launch", "tag": ["a", "b"],
                   "assignee": "a@example.com", "custom_fields": {"P": ["x", 2]}}) == []
    assert fields({"project": "launch-plan", "metric": "done", "colour": 1}) == [
        "colour", "project", "metric"]
    assert fields({"project": P1, "tag": [], "assignee": {"a": 1}}) == ["tag", "assignee"]
    assert fields({"project": P1, "custom_fields": {"P": None}}) == ["custom_fields.P"]
    assert fields({"project": P1, "custom_fields": []}) == ["custom_fields"]
    assert fields({"project": P1, "metric": "percent_done"}, kr(measure="cumulative")) == [
        "metric"]
    assert fields({"project": P1}, kr(measure="cumulative")) == []


def test_connection_validation_refuses_inline_tokens() -> None:
    problems = AsanaSource.validate_connection(
        Connection("asana", "asana", {"token": "2/123:abc", "timeout": 0, "colour": "x"}))
    assert {p.field for p in problems} == {"token", "timeout", "colour"}
    assert AsanaSource.validate_connection(
        Connection("asana", "asana", {"token": "file:asana-token", "concurrency": 4})) == []


def test_the_token_can_come_from_a_file(project: FakeAsana, tmp_path: Any) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    conn = Connection("asana", "asana", {"token": "file:token", "requests_per_second": 1000},
                      endpoint=project.url + PREFIX, base_dir=str(tmp_path))
    reading(one(AsanaSource(conn), request({})))


def test_check_online_reports_projects_sections_and_fields(project: FakeAsana) -> None:
    queries: list[tuple[KeyResult, Mapping[str, Any]]] = [
        (KeyResult("good", "t", baseline=0, target=1),
         {"project": P1, "section": "Launch", "custom_fields": {"Priority": "High"}}),
        (KeyResult("section", "t", baseline=0, target=1), {"project": P1, "section": "Lanch"}),
        (KeyResult("field", "t", baseline=0, target=1),
         {"project": P1, "custom_fields": {"Priorty": "High"}}),
        (KeyResult("gone", "t", baseline=0, target=1), {"project": "999"}),
    ]
    problems = [(k, p.field, p.message) for k, p in source(project).check_online(queries)]
    assert problems == [
        ("section", "section", f"project {P1} has no section 'Lanch' (sections: Later, Launch)"),
        ("field", "custom_fields.Priorty",
         f"project {P1} has no custom field 'Priorty' (fields: Channel, Priority)"),
        ("gone", "project", "Asana 404: project: Unknown object: 999 (project 999 does not "
         "exist or the token's user cannot see it)"),
    ]
    paths = [c.path for c in project.calls]
    assert len(paths) == len(set(paths)) == 4  # each project, its sections and fields once


def test_check_online_with_a_bad_token_raises(
    project: FakeAsana, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASANA_TEST_TOKEN", "0/wrong")
    with pytest.raises(SourceError, match="Asana 401"):
        source(project).check_online([(kr(), {"project": P1})])


def test_plugin_registers_through_its_entry_point() -> None:
    assert PluginManager().sources.get("asana") is AsanaSource
