"""The trello source against a local fake of Trello's REST API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest
from okrcore_trello import TrelloSource, __version__
from okrcore_trello.query import board_id, card_created
from trello_fake import KEY, TOKEN, FakeTrello

from okrcore.errors import SourceError
from okrcore.model import Connection, Cycle, KeyResult
from okrcore.plugins import PluginManager
from okrcore.sources import Failure, FailureKind, FetchRequest, Reading

D = dt.date
CYCLE = Cycle("2026-Q1", D(2026, 1, 1), D(2026, 3, 31))
MID_MARCH = D(2026, 3, 15)
BOARD = "Vx8Zk2Qa"


def source(fake: FakeTrello, **settings: Any) -> TrelloSource:
    conf = {"key": "env:TRELLO_TEST_KEY", "token": "env:TRELLO_TEST_TOKEN",
            "requests_per_second": 1000, **settings}
    return TrelloSource(Connection("trello", "trello", conf, endpoint=fake.url + "/1"))


def request(query: Mapping[str, Any], *, kr_id: str = "kr1", measure: str = "gauge",
            kind: str = "increase", series: bool = False, start: dt.date = CYCLE.start,
            end: dt.date = MID_MARCH) -> FetchRequest:
    kr = KeyResult(kr_id, "t", measure=measure, kind=kind, baseline=0, target=100)
    conn = Connection("trello", "trello", {})
    return FetchRequest(kr, {"board": BOARD, **query}, conn, CYCLE, start, end, end, series)


def one(src: TrelloSource, req: FetchRequest) -> Reading | Failure:
    (result,) = src.fetch([req])
    return result


def reading(result: Reading | Failure) -> Reading:
    assert isinstance(result, Reading), result
    return result


def failure(result: Reading | Failure) -> Failure:
    assert isinstance(result, Failure), result
    return result


def moved(i: int) -> dt.date:
    return D(2026, 2, 1) + dt.timedelta(days=i % 50)


@pytest.fixture
def board(fake: FakeTrello) -> FakeTrello:
    """120 cards created in January over four lists; every third in Done, moved in Feb/March."""
    fake.add_board(BOARD, ["Backlog", "Doing", "Review", "Done"],
                   members=[("ana", "Ana Lima"), ("bo", "Bo Berg")])
    for i in range(120):
        done = i % 3 == 0
        fake.add_card(BOARD, D(2026, 1, 1 + i % 28),
                      "Done" if done else ("Doing" if i % 2 else "Backlog"),
                      activity=moved(i) if done else D(2026, 1, 28),
                      due=D(2026, 3, 1), due_complete=i % 4 == 0,
                      labels=["launch"] if i % 5 == 0 else ["web"],
                      members=["ana"] if i % 6 == 0 else [], checks=(4, i % 5))
    fake.add_card(BOARD, D(2026, 1, 2), "Done", closed=True)  # archived
    return fake


def test_percent_done_reads_lists_and_cards_with_the_documented_request(
    board: FakeTrello,
) -> None:
    got = reading(one(source(board), request({})))
    done = sum(1 for i in range(0, 120, 3) if moved(i) <= MID_MARCH)
    assert got.points[0][1] == pytest.approx(100 * done / 120)
    lists, cards = board.calls
    assert lists.path == f"/1/boards/{BOARD}/lists"
    assert lists.query["filter"] == ["all"]
    assert cards.path == f"/1/boards/{BOARD}/cards"
    assert cards.query["key"] == [KEY]
    assert cards.query["token"] == [TOKEN]
    assert cards.query["fields"] == [
        "idList,closed,due,dueComplete,dateLastActivity,labels,idMembers,badges"]
    assert got.info == {"requests": 2, "cards": 120}


def test_completions_by_day_from_the_last_activity(board: FakeTrello) -> None:
    req = request({}, measure="cumulative", series=True, start=D(2026, 2, 1),
                  end=D(2026, 2, 28))
    got = reading(one(source(board), req))
    for day, value in got.points:
        assert value == sum(1 for i in range(0, 120, 3) if moved(i) == day), day


def test_filters_checklists_and_due_complete_share_one_read(board: FakeTrello) -> None:
    reqs = [
        request({"list": ["Doing", "Review"], "metric": "total"}, kr_id="list"),
        request({"label": "Launch", "metric": "total"}, kr_id="label"),
        request({"member": "Ana Lima", "metric": "total"}, kr_id="member"),
        request({"count": "checklist"}, kr_id="checklist"),
        request({"done": "due_complete", "metric": "completed"}, kr_id="due"),
        request({"archived": True, "metric": "total"}, kr_id="archived"),
        request({"label": "nothing"}, kr_id="undefined"),
    ]
    src = source(board)
    assert [len(b) for b in src.batches(reqs)] == [6, 1]
    got = {r.request.kr.id: r for r in src.fetch(reqs)}
    assert reading(got["list"]).points[0][1] == sum(1 for i in range(120) if i % 3 and i % 2)
    assert reading(got["label"]).points[0][1] == 24
    assert reading(got["member"]).points[0][1] == 20
    assert reading(got["checklist"]).points[0][1] == pytest.approx(
        100 * sum(i % 5 for i in range(120)) / 480)
    assert reading(got["due"]).points[0][1] == sum(  # dated by the card's last activity
        1 for i in range(0, 120, 4) if i % 3 or moved(i) <= MID_MARCH)
    assert reading(got["archived"]).points[0][1] == 121
    assert "no tasks match" in failure(got["undefined"]).message
    paths = [c.path for c in board.calls]
    assert paths == [f"/1/boards/{BOARD}/lists", f"/1/boards/{BOARD}/members",
                     f"/1/boards/{BOARD}/cards", f"/1/boards/{BOARD}/lists",
                     f"/1/boards/{BOARD}/cards/all"]


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "retry_after", "words"),
    [
        (401, "invalid token", {}, FailureKind.AUTH, None,
         "Trello 401: invalid token (check the API key and the user token)"),
        (404, "The requested resource was not found.", {}, FailureKind.PERMANENT, None,
         "Trello 404: The requested resource was not found."),
        (429, {"error": "API_TOKEN_LIMIT_EXCEEDED", "message": "Rate limit exceeded"}, {},
         FailureKind.TRANSIENT, 10.0, "Trello 429: API_TOKEN_LIMIT_EXCEEDED: Rate limit"),
        (429, {"error": "API_KEY_LIMIT_EXCEEDED", "message": "Rate limit exceeded"},
         {"Retry-After": "3"}, FailureKind.TRANSIENT, 3.0, "API_KEY_LIMIT_EXCEEDED"),
        (503, "<html>Service Unavailable</html>", {"Content-Type": "text/html"},
         FailureKind.TRANSIENT, None, "Trello 503: Service Unavailable"),
        (200, "not json", {}, FailureKind.TRANSIENT, None, "without a list of objects"),
        (200, {"id": BOARD}, {}, FailureKind.TRANSIENT, None, "without a list of objects"),
    ],
)
def test_errors_are_classified(
    board: FakeTrello, status: int, body: Any, headers: dict[str, str], kind: FailureKind,
    retry_after: float | None, words: str,
) -> None:
    board.answer(status, body, headers)
    got = failure(one(source(board), request({})))
    assert got.kind is kind
    assert got.retry_after == retry_after
    assert words in got.message
    assert TOKEN not in got.message
    assert KEY not in got.message


def test_a_malformed_card_stores_nothing(board: FakeTrello) -> None:
    board.answer(200, [{"id": "1", "name": "Done"}])
    board.answer(200, [{"id": "x", "badges": {"checkItems": "four"}}])
    got = failure(one(source(board), request({"count": "checklist"})))
    assert (got.kind, got.message.startswith("Trello sent a malformed card")) == (
        FailureKind.TRANSIENT, True)


def test_after_an_auth_failure_the_connection_sends_nothing_more(board: FakeTrello) -> None:
    board.answer(401, "invalid key")
    src = source(board)
    assert failure(one(src, request({}))).kind is FailureKind.AUTH
    again = failure(one(src, request({"board": "AAAAAAAA"}, kr_id="other")))
    assert again.message.startswith("not sent: Trello 401: invalid key")
    assert len(board.calls) == 1


def test_missing_secrets_are_auth_without_a_call(
    board: FakeTrello, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRELLO_TEST_KEY")
    got = failure(one(source(board), request({})))
    assert (got.kind, "TRELLO_TEST_KEY is not set" in got.message) == (FailureKind.AUTH, True)
    assert board.calls == []


def test_a_hang_times_out_as_transient(board: FakeTrello) -> None:
    board.answer(200, [], hang=True)
    got = failure(one(source(board, timeout=0.3), request({})))
    assert (got.kind, got.message) == (FailureKind.TRANSIENT,
                                       "Trello did not answer within 0.3 s")


def test_board_ids_and_card_dates() -> None:
    assert board_id("https://trello.com/b/Vx8Zk2Qa/launch-plan") == "Vx8Zk2Qa"
    assert board_id("5abbe4b7ddc1b351ef961414") == "5abbe4b7ddc1b351ef961414"
    assert board_id("launch") is None
    assert card_created("5abbe4b7ddc1b351ef961414") == D(2018, 3, 28)


def kr(measure: str = "gauge") -> KeyResult:
    return KeyResult("k", "t", measure=measure, baseline=0, target=1)


def fields(query: dict[str, Any], key_result: KeyResult | None = None) -> list[str]:
    return [p.field for p in TrelloSource.validate_query(query, key_result or kr())]


def test_query_validation_names_each_problem() -> None:
    assert fields({"board": BOARD, "done": {"list": ["Done", "Live"]}, "label": ["a"],
                   "member": "ana", "list": "Doing", "count": "checklist"}) == []
    assert fields({"board": "launch", "metric": "x", "colour": 1}) == [
        "colour", "board", "metric"]
    assert fields({"board": BOARD, "done": "Done", "count": "labels", "label": [],
                   "archived": "yes", "completed_on": "moved"}) == [
        "count", "done", "completed_on", "label", "archived"]
    assert fields({"board": BOARD, "count": "checklist"}, kr("cumulative")) == ["count"]


def test_connection_validation_refuses_inline_secrets() -> None:
    problems = TrelloSource.validate_connection(
        Connection("t", "trello", {"key": KEY, "token": TOKEN, "timeout": 0}))
    assert [p.field for p in problems] == ["key", "token", "timeout"]


def test_check_online_reports_boards_and_lists(board: FakeTrello) -> None:
    queries: list[tuple[KeyResult, Mapping[str, Any]]] = [
        (kr(), {"board": BOARD, "list": "Doing"}),
        (KeyResult("typo", "t", baseline=0, target=1), {"board": BOARD, "list": "Doin",
                                                        "done": {"list": "Shipped"}}),
        (KeyResult("gone", "t", baseline=0, target=1), {"board": "AAAAAAAA"}),
    ]
    problems = [(k, p.field, p.message) for k, p in source(board).check_online(queries)]
    assert problems == [
        ("typo", "list", f"board {BOARD} has no list 'Doin' (lists: backlog, doing, done, "
         "review)"),
        ("typo", "done", f"board {BOARD} has no list 'Shipped' (lists: backlog, doing, done, "
         "review)"),
        ("gone", "board", "Trello 404: The requested resource was not found. "
         "(/boards/AAAAAAAA/lists: check the board, and that the token's user is a member "
         "of it)"),
    ]
    assert len(board.calls) == 2


def test_check_online_with_a_bad_token_raises(
    board: FakeTrello, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRELLO_TEST_TOKEN", "wrong")
    with pytest.raises(SourceError, match="Trello 401: invalid token"):
        source(board).check_online([(kr(), {"board": BOARD})])


def test_plugin_registers_through_its_entry_point() -> None:
    assert PluginManager().sources.get("trello") is TrelloSource
    assert __version__
