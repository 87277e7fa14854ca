"""The sheets source, through Google's client libraries, against a local fake of the API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from okrcore_sheets import SheetsSource
from okrcore_sheets.cells import cell_date, cell_number, range_problem
from sheets_fake import ACCESS_TOKEN, API_KEY, FakeSheets, gerror

from okrcore.errors import SourceError
from okrcore.model import Connection, Cycle, KeyResult
from okrcore.plugins import PluginManager
from okrcore.sources import Failure, FailureKind, FetchRequest, Reading

D = dt.date
CYCLE = Cycle("2026-Q1", D(2026, 1, 1), D(2026, 3, 31))
BOOK = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
SERIAL_2026_01_01 = 46023  # days from 1899-12-30
MID_MARCH = D(2026, 3, 15)


def source(fake: FakeSheets, key_file: Path | None = None, **settings: Any) -> SheetsSource:
    conf: dict[str, Any] = {"requests_per_second": 1000, **settings}
    if key_file is not None:
        conf["credentials"] = f"file:{key_file}"
    else:
        conf.setdefault("api_key", "env:SHEETS_TEST_KEY")
    return SheetsSource(Connection("sheets", "sheets", conf, endpoint=fake.url))


def request(query: Mapping[str, Any], *, kr_id: str = "kr1", measure: str = "gauge",
            series: bool = False, start: dt.date = CYCLE.start,
            end: dt.date = MID_MARCH) -> FetchRequest:
    kr = KeyResult(kr_id, "t", measure=measure, baseline=0, target=100)
    conn = Connection("sheets", "sheets", {})
    return FetchRequest(kr, {"spreadsheet": BOOK, **query}, conn, CYCLE, start, end, end,
                        series)


def one(src: SheetsSource, req: FetchRequest) -> Reading | Failure:
    (result,) = src.fetch([req])
    return result


def reading(result: Reading | Failure) -> Reading:
    assert isinstance(result, Reading), result
    return result


def failure(result: Reading | Failure) -> Failure:
    assert isinstance(result, Failure), result
    return result


SIGNUPS = {"dates": "'KR Data'!A2:A", "values": "'KR Data'!B2:B"}


@pytest.fixture
def book(fake: FakeSheets) -> FakeSheets:
    """A gauge cell on Summary, and 80 dated rows on 'KR Data' (serial dates, some text)."""
    fake.put(BOOK, "Summary", "B2", 0.87)
    fake.put(BOOK, "Summary", "C2", "1,234.50")
    fake.put(BOOK, "KR Data", "A1", "Date")
    fake.put(BOOK, "KR Data", "B1", "Signups")
    for i in range(80):
        fake.put(BOOK, "KR Data", f"A{i + 2}",
                 SERIAL_2026_01_01 + i if i % 10 else (D(2026, 1, 1) + dt.timedelta(i)).isoformat())
        if i != 40:  # a blank value in the middle: no point that day
            fake.put(BOOK, "KR Data", f"B{i + 2}", i % 7)
    fake.put(BOOK, "KR Data", "A82", SERIAL_2026_01_01 + 80)  # a date whose value is blank
    fake.put(BOOK, "Jon's data", "A1", 5)
    return fake


def test_a_cell_with_an_api_key_through_one_batch_get(book: FakeSheets) -> None:
    got = reading(one(source(book), request({"cell": "Summary!B2"})))
    assert got.points == ((D(2026, 3, 15), 0.87),)
    (call,) = book.calls
    assert call.path == f"/v4/spreadsheets/{BOOK}/values:batchGet"
    assert call.query["ranges"] == ["Summary!B2"]
    assert call.query["key"] == [API_KEY]
    assert call.query["majorDimension"] == ["COLUMNS"]
    assert call.query["valueRenderOption"] == ["UNFORMATTED_VALUE"]
    assert call.query["dateTimeRenderOption"] == ["SERIAL_NUMBER"]


def test_a_service_account_gets_a_token_from_its_token_uri(
    book: FakeSheets, key_file: Path
) -> None:
    reading(one(source(book, key_file), request({"cell": "Summary!C2"})))
    token, api = book.calls
    assert token.path == "/token"
    assert "jwt-bearer" in token.body
    assert api.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert "key" not in api.query


def test_cumulative_daily_series_from_dated_rows(book: FakeSheets) -> None:
    req = request(SIGNUPS, measure="cumulative", series=True, start=D(2026, 2, 1),
                  end=D(2026, 2, 28))
    got = reading(one(source(book), req))
    want = [(D(2026, 1, 1) + dt.timedelta(i), float(i % 7)) for i in range(80)
            if i != 40 and D(2026, 2, 1) <= D(2026, 1, 1) + dt.timedelta(i) <= D(2026, 2, 28)]
    assert list(got.points) == want
    assert len(want) == 27  # 10 February (row 40) has no value


def test_gauge_total_is_the_latest_row_dated_in_the_window(book: FakeSheets) -> None:
    got = reading(one(source(book), request(SIGNUPS, end=D(2026, 2, 10))))
    assert got.points == ((D(2026, 2, 9), float(39 % 7)),)  # 10 February is blank


def test_many_key_results_share_one_batch_get(book: FakeSheets) -> None:
    reqs = [request({"cell": "Summary!B2"}, kr_id="a"),
            request({"cell": "'Summary'!C2"}, kr_id="b"),
            request(SIGNUPS, kr_id="c", measure="cumulative", series=True),
            request({"cell": "'Jon''s data'!A1"}, kr_id="d")]
    src = source(book)
    assert src.batches(reqs) == [reqs]
    got = {r.request.kr.id: r for r in src.fetch(reqs)}
    assert reading(got["b"]).points[0][1] == 1234.5
    assert reading(got["d"]).points[0][1] == 5
    (call,) = book.calls
    assert call.query["ranges"] == ["Summary!B2", "'Summary'!C2", "'KR Data'!A2:A",
                                    "'KR Data'!B2:B", "'Jon''s data'!A1"]


def test_bad_cells_and_rows_fail_permanently_and_by_name(book: FakeSheets) -> None:
    book.put(BOOK, "Summary", "D2", "n/a")
    got = failure(one(source(book), request({"cell": "Summary!D2"})))
    assert (got.kind, got.message) == (FailureKind.PERMANENT,
                                       "cell Summary!D2: 'n/a' is not a number")
    assert "is empty" in failure(one(source(book), request({"cell": "Summary!Z9"}))).message
    book.put(BOOK, "KR Data", "A5", "03/01/2026")
    got = failure(one(source(book), request(SIGNUPS)))
    assert got.message == "row 4 of the dates: '03/01/2026' is not a date (set date_format " \
                          "for text dates)"
    got = failure(one(source(book), request({**SIGNUPS, "date_format": "%d/%m/%Y"})))
    assert "row 1 of the dates: '2026-01-01' is not a date" in got.message  # nor ISO text now


def test_a_cell_has_no_history(book: FakeSheets) -> None:
    got = failure(one(source(book), request({"cell": "Summary!B2"}, series=True)))
    assert "a single cell has no history" in got.message


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "retry_after", "words"),
    [
        (429, gerror(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Read "
                     "requests' and limit 'Read requests per minute per user'"), {},
         FailureKind.TRANSIENT, 60.0, "Sheets 429 RESOURCE_EXHAUSTED: Quota exceeded"),
        (429, gerror(429, "RESOURCE_EXHAUSTED", "Quota exceeded"), {"Retry-After": "7"},
         FailureKind.TRANSIENT, 7.0, "Sheets 429"),
        (401, gerror(401, "UNAUTHENTICATED", "Request had invalid authentication "
                     "credentials."), {}, FailureKind.AUTH, None, "Sheets 401 UNAUTHENTICATED"),
        (403, gerror(403, "PERMISSION_DENIED", "The caller does not have permission"), {},
         FailureKind.PERMANENT, None, "share it with the service account's client_email"),
        (404, gerror(404, "NOT_FOUND", "Requested entity was not found."), {},
         FailureKind.PERMANENT, None, "Sheets 404 NOT_FOUND"),
        (400, gerror(400, "INVALID_ARGUMENT", "Unable to parse range: Sheet 1!B2"), {},
         FailureKind.PERMANENT, None, "Unable to parse range"),
        (503, gerror(503, "UNAVAILABLE", "The service is currently unavailable."), {},
         FailureKind.TRANSIENT, None, "Sheets 503 UNAVAILABLE"),
        (200, "not json", {}, FailureKind.TRANSIENT, None, "not a JSON object"),
        (200, {"spreadsheetId": BOOK}, {}, FailureKind.TRANSIENT, None,
         "without one valueRange per range"),
    ],
)
def test_errors_are_classified(
    book: FakeSheets, status: int, body: Any, headers: dict[str, str], kind: FailureKind,
    retry_after: float | None, words: str,
) -> None:
    book.answer(status, body, headers)
    got = failure(one(source(book), request({"cell": "Summary!B2"})))
    assert got.kind is kind
    assert got.retry_after == retry_after
    assert words in got.message
    assert API_KEY not in got.message


def test_a_wrong_api_key_is_auth_and_stops_the_connection(
    book: FakeSheets, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHEETS_TEST_KEY", "AIzaWrong")
    src = source(book)
    got = failure(one(src, request({"cell": "Summary!B2"})))
    assert got.kind is FailureKind.AUTH
    assert "API key not valid" in got.message
    again = failure(one(src, request({"cell": "Summary!B2"}, kr_id="other")))
    assert again.message.startswith("not sent:")
    assert len(book.calls) == 1


def test_a_refused_service_account_is_auth(book: FakeSheets, key_file: Path) -> None:
    book.canned.clear()
    src = source(book, key_file)
    book.put(BOOK, "x", "A1", 1)
    original = book.handle

    def refuse(call: Any) -> tuple[int, Any, dict[str, str]]:
        if call.path == "/token":
            book.calls.append(call)
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT "
                         "Signature."}, {}
        return original(call)

    book.handle = refuse  # type: ignore[method-assign]
    got = failure(one(src, request({"cell": "Summary!B2"})))
    assert got.kind is FailureKind.AUTH
    assert "Google refused the service account key: ('invalid_grant: Invalid JWT Signature." \
        in got.message


def test_a_key_file_that_is_no_key_is_auth(book: FakeSheets, tmp_path: Path) -> None:
    bad = tmp_path / "key.json"
    bad.write_text('{"type": "authorized_user"}')
    got = failure(one(source(book, bad), request({"cell": "Summary!B2"})))
    assert (got.kind, "not a service account key" in got.message) == (FailureKind.AUTH, True)
    assert book.calls == []


def test_a_hang_times_out_as_transient(book: FakeSheets) -> None:
    book.answer(200, {}, hang=True)
    got = failure(one(source(book, timeout=0.3), request({"cell": "Summary!B2"})))
    assert got.kind is FailureKind.TRANSIENT
    assert "did not answer within 0.3 s" in got.message


def test_cells_and_ranges() -> None:
    assert range_problem("'KR Data'!A2:A") is None
    assert range_problem("Summary!B2", single=True) is None
    assert range_problem("B2:C9") is None
    assert range_problem("KR Data!A2:A") == "quote the sheet name: 'KR Data'!A2:A"
    assert range_problem("Jon's data!A1") == "quote the sheet name: 'Jon''s data'!A1"
    assert range_problem("H7!A1") == "quote the sheet name: 'H7'!A1"
    assert range_problem("'KR Data!A1") == "a quoted sheet name has no closing quote"
    assert range_problem("Summary!A2:A", single=True) == "'A2:A' is not a single cell such as B2"
    assert range_problem("Summary!total") == "'total' is not a cell range such as B2 or A2:A"
    assert cell_number("87%") == pytest.approx(0.87)
    assert cell_number("$1,234.50") == 1234.5
    assert cell_number("") is None
    assert cell_date(SERIAL_2026_01_01 + 0.75) == D(2026, 1, 1)
    assert cell_date("31/03/2026", "%d/%m/%Y") == D(2026, 3, 31)
    with pytest.raises(ValueError, match="not a number"):
        cell_number("twelve")


def kr(measure: str = "gauge") -> KeyResult:
    return KeyResult("k", "t", measure=measure, baseline=0, target=1)


def fields(query: dict[str, Any], key_result: KeyResult | None = None) -> list[str]:
    return [p.field for p in SheetsSource.validate_query(query, key_result or kr())]


def test_query_and_connection_validation() -> None:
    url = f"https://docs.google.com/spreadsheets/d/{BOOK}/edit#gid=0"
    assert fields({"spreadsheet": url, "cell": "'KR Data'!B2"}) == []
    assert fields({"spreadsheet": BOOK, **SIGNUPS, "date_format": "%d/%m/%Y"}) == []
    assert fields({"spreadsheet": "sales", "cell": "KR Data!B2", "colour": 1}) == [
        "colour", "spreadsheet", "cell"]
    assert fields({"spreadsheet": BOOK, "cell": "B2", "dates": "A:A"}) == ["cell"]
    assert fields({"spreadsheet": BOOK, "dates": "A2:A", "date_format": "dd/mm"}) == [
        "values", "date_format"]
    assert fields({"spreadsheet": BOOK, "cell": "B2"}, kr("cumulative")) == ["cell"]
    problems = SheetsSource.validate_connection(Connection("s", "sheets", {
        "api_key": "AIzaInline", "credentials": "file:k.json", "timeout": 0}))
    assert [p.field for p in problems] == ["credentials", "api_key", "timeout"]
    assert SheetsSource.validate_connection(Connection("s", "sheets", {
        "credentials": "file:k.json"})) == []


def test_check_online_reports_sheets_and_spreadsheets(book: FakeSheets) -> None:
    book.put("1PrivateSheet00000000000000", "S", "A1", 1)
    book.private.add("1PrivateSheet00000000000000")
    queries: list[tuple[KeyResult, Mapping[str, Any]]] = [
        (kr(), {"spreadsheet": BOOK, "cell": "Summary!B2"}),
        (KeyResult("typo", "t", baseline=0, target=1),
         {"spreadsheet": BOOK, "dates": "'KR Dates'!A2:A", "values": "'KR Data'!B2:B"}),
        (KeyResult("private", "t", baseline=0, target=1),
         {"spreadsheet": "1PrivateSheet00000000000000", "cell": "S!A1"}),
    ]
    problems = [(k, p.field, p.message) for k, p in source(book).check_online(queries)]
    assert problems == [
        ("typo", "dates", f"spreadsheet {BOOK} has no sheet 'KR Dates' (sheets: Jon's data, "
         "KR Data, Summary)"),
        ("private", "spreadsheet", "Sheets 403 PERMISSION_DENIED: The caller does not have "
         "permission (spreadsheet 1PrivateSheet00000000000000: share it with the service "
         "account's client_email, or make it viewable by link for an API key)"),
    ]
    assert [c.query.get("fields") for c in book.calls] == [["sheets.properties.title"]] * 2


def test_check_online_with_a_bad_key_raises(
    book: FakeSheets, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHEETS_TEST_KEY", "AIzaWrong")
    with pytest.raises(SourceError, match="API key not valid"):
        source(book).check_online([(kr(), {"spreadsheet": BOOK, "cell": "Summary!B2"})])


def test_plugin_registers_through_its_entry_point() -> None:
    assert PluginManager().sources.get("sheets") is SheetsSource
