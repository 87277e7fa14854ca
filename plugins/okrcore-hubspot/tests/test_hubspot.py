"""The hubspot source against a local fake of the CRM search API."""

from __future__ import annotations

import datetime as dt
import random
import statistics
from collections.abc import Callable, Mapping
from typing import Any, cast

import pytest
from hubspot_fake import TOKEN, FakeHubSpot
from okrcore_hubspot import HubSpotSource, __version__
from okrcore_hubspot.query import day_end_ms, day_start_ms

from okrcore.errors import SourceError
from okrcore.model import Connection, Cycle, KeyResult
from okrcore.plugins import PluginManager
from okrcore.sources import Failure, FailureKind, FetchRequest, Reading

CYCLE = Cycle("2026-Q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))
DEALS = {"object": "deals", "filters": [{"property": "dealstage", "operator": "EQ",
                                         "value": "closedwon"}]}
Deals = list[tuple[dt.date, str, float | None]]


def ms(day: dt.date, hour: int = 12) -> str:
    return str(day_start_ms(day) + hour * 3_600_000)


def source(fake: FakeHubSpot, **settings: Any) -> HubSpotSource:
    conf = {"token": "env:HUBSPOT_TEST_TOKEN", "requests_per_second": 1000, **settings}
    return HubSpotSource(Connection("crm", "hubspot", conf, endpoint=fake.url))


def request(query: dict[str, Any], *, measure: str = "cumulative", series: bool = False,
            start: dt.date = CYCLE.start, end: dt.date = dt.date(2026, 2, 15)) -> FetchRequest:
    kr = KeyResult("kr1", "Sales", measure=measure, baseline=0, target=5_000_000)
    conn = Connection("crm", "hubspot", {})
    return FetchRequest(kr, query, conn, CYCLE, start, end, end, series=series)


def fetch_one(src: HubSpotSource, req: FetchRequest) -> Reading | Failure:
    (result,) = list(src.fetch([req]))
    return result


def reading(result: Reading | Failure) -> Reading:
    assert isinstance(result, Reading), result
    return result


def failure(result: Reading | Failure) -> Failure:
    assert isinstance(result, Failure), result
    return result


@pytest.fixture
def deals(fake: FakeHubSpot) -> Deals:
    """2,400 deals over Dec..Mar, mixed stages, some without amount: (day, stage, amount)."""
    rng = random.Random(7)
    rows = []
    for i in range(2400):
        day = dt.date(2025, 12, 1) + dt.timedelta(days=rng.randrange(120))
        stage = rng.choice(["closedwon", "closedwon", "closedlost", "appointmentscheduled"])
        amount: float | None = round(rng.uniform(100, 20_000), 2)
        if i % 37 == 0:
            amount = None
        fake.add("deals", 1000 + i, dealstage=stage, closedate=ms(day),
                 amount="" if amount is None else f"{amount:.2f}")
        rows.append((day, stage, amount))
    return rows


def expected(rows: Deals, low: dt.date, high: dt.date) -> list[float | None]:
    return [a for d, s, a in rows if s == "closedwon" and low <= d <= high]


def test_sum_pages_through_results_and_sends_the_documented_body(
    fake: FakeHubSpot, deals: Deals
) -> None:
    req = request({**DEALS, "aggregate": "sum", "property": "amount",
                   "date_property": "closedate"})
    got = reading(fetch_one(source(fake), req))
    amounts = [a for a in expected(deals, CYCLE.start, req.end) if a is not None]
    assert got.points == ((req.end, cast(Any, pytest.approx(sum(amounts)))),)
    first = fake.calls[0]
    assert first.method == "POST"
    assert first.path == "/crm/v3/objects/deals/search"
    assert first.headers["authorization"] == f"Bearer {TOKEN}"
    assert first.headers["user-agent"] == f"okrcore-hubspot/{__version__}"
    assert first.body == {
        "limit": 200,
        "properties": ["amount", "closedate"],
        "filterGroups": [{"filters": [
            {"propertyName": "dealstage", "operator": "EQ", "value": "closedwon"},
            {"propertyName": "closedate", "operator": "BETWEEN",
             "value": str(day_start_ms(CYCLE.start)), "highValue": str(day_end_ms(req.end))},
        ]}],
    }
    matched = len(expected(deals, CYCLE.start, req.end))
    assert len(fake.calls) == -(-matched // 200) > 1  # several pages
    assert [c.body.get("after") for c in fake.calls] == [None] + [
        str(200 * i) for i in range(1, len(fake.calls))
    ]
    missing = sum(1 for a in expected(deals, CYCLE.start, req.end) if a is None)
    assert got.warnings == (f"{missing} of {matched} deals have no 'amount'; left out of the sum",)
    assert got.info["requests"] == len(fake.calls)


@pytest.mark.parametrize(
    ("aggregate", "combine"),
    [("avg", statistics.fmean), ("min", min), ("max", max)],
)
def test_avg_min_max_over_several_pages(
    fake: FakeHubSpot, deals: Deals, aggregate: str, combine: Callable[[list[float]], float]
) -> None:
    req = request({**DEALS, "aggregate": aggregate, "property": "amount",
                   "date_property": "closedate"})
    got = reading(fetch_one(source(fake), req))
    amounts = [a for a in expected(deals, CYCLE.start, req.end) if a is not None]
    assert got.points[0][1] == pytest.approx(combine(amounts))


def test_count_uses_total_in_one_call(fake: FakeHubSpot, deals: Deals) -> None:
    req = request({**DEALS, "date_property": "closedate"})
    got = reading(fetch_one(source(fake), req))
    assert got.points == ((req.end, float(len(expected(deals, CYCLE.start, req.end)))),)
    assert len(fake.calls) == 1
    assert fake.calls[0].body["limit"] == 1


def test_gauge_counts_everything_dated_up_to_the_end(fake: FakeHubSpot, deals: Deals) -> None:
    req = request({**DEALS, "date_property": "closedate"}, measure="gauge")
    got = reading(fetch_one(source(fake), req))
    assert got.points[0][1] == len(expected(deals, dt.date(1970, 1, 1), req.end))
    between = fake.calls[0].body["filterGroups"][0]["filters"][1]
    assert between["value"] == "0"


def test_cumulative_daily_series_buckets_by_day(fake: FakeHubSpot, deals: Deals) -> None:
    start, end = dt.date(2026, 1, 1), dt.date(2026, 1, 31)
    req = request({**DEALS, "aggregate": "sum", "property": "amount",
                   "date_property": "closedate"}, series=True, start=start, end=end)
    got = reading(fetch_one(source(fake), req))
    assert len(got.points) == 31
    for day, value in got.points:
        assert value == pytest.approx(sum(a for a in expected(deals, day, day) if a))


def test_gauge_daily_series_starts_from_the_level_before_the_window(
    fake: FakeHubSpot, deals: Deals
) -> None:
    start, end = dt.date(2026, 1, 10), dt.date(2026, 1, 20)
    req = request({**DEALS, "date_property": "closedate"}, measure="gauge", series=True,
                  start=start, end=end)
    got = reading(fetch_one(source(fake), req))
    assert got.points == tuple(
        (start + dt.timedelta(days=i),
         float(len(expected(deals, dt.date(1970, 1, 1), start + dt.timedelta(days=i)))))
        for i in range(11)
    )


def test_series_without_date_property_is_permanent(fake: FakeHubSpot) -> None:
    got = failure(fetch_one(source(fake), request(DEALS, series=True)))
    assert got.kind is FailureKind.PERMANENT
    assert "date_property" in got.message


def test_totals_past_the_10000_cap_split_the_window(fake: FakeHubSpot) -> None:
    # 12,500 won deals in January: one search can reach only 10,000 of them
    base = day_start_ms(dt.date(2026, 1, 1))
    for i in range(12_500):
        fake.add("deals", i, dealstage="closedwon", amount=str(i % 100),
                 closedate=str(base + i * 200_000))
    req = request({**DEALS, "aggregate": "sum", "property": "amount",
                   "date_property": "closedate"}, end=dt.date(2026, 3, 31))
    got = reading(fetch_one(source(fake), req))
    assert got.points[0][1] == sum(i % 100 for i in range(12_500))
    assert all(int(c.body.get("after", "0")) < 10_000 for c in fake.calls)
    windows = {c.body["filterGroups"][0]["filters"][1]["value"] for c in fake.calls}
    assert len(windows) > 1


def test_cap_without_date_property_is_a_named_permanent_failure(fake: FakeHubSpot) -> None:
    for i in range(10_001):
        fake.add("deals", i, dealstage="closedwon", amount="1")
    got = failure(fetch_one(source(fake), request({**DEALS, "aggregate": "sum",
                                                   "property": "amount"})))
    assert got.kind is FailureKind.PERMANENT
    assert "10001 deals match" in got.message
    assert "date_property" in got.message


def test_count_past_the_cap_is_the_reported_total(fake: FakeHubSpot) -> None:
    for i in range(10_500):
        fake.add("deals", i, dealstage="closedwon")
    got = reading(fetch_one(source(fake), request(DEALS)))
    assert got.points[0][1] == 10_500


def test_placeholders_become_epoch_milliseconds(fake: FakeHubSpot, deals: Deals) -> None:
    query = {"object": "deals", "filters": [
        {"property": "closedate", "operator": "GTE", "value": "{cycle_start}"},
        {"property": "closedate", "operator": "LTE", "value": "{as_of}"},
        {"property": "dealstage", "operator": "IN", "values": ["closedwon", "closedlost"]},
    ]}
    req = request(query)
    reading(fetch_one(source(fake), req))
    assert fake.calls[0].body["filterGroups"] == [{"filters": [
        {"propertyName": "closedate", "operator": "GTE", "value": str(day_start_ms(CYCLE.start))},
        {"propertyName": "closedate", "operator": "LTE", "value": str(day_end_ms(req.as_of))},
        {"propertyName": "dealstage", "operator": "IN", "values": ["closedwon", "closedlost"]},
    ]}]


def test_or_groups_each_get_the_date_window(fake: FakeHubSpot, deals: Deals) -> None:
    query = {"object": "deals", "date_property": "closedate", "filter_groups": [
        [{"property": "dealstage", "operator": "EQ", "value": "closedwon"}],
        [{"property": "dealstage", "operator": "EQ", "value": "closedlost"}],
    ]}
    req = request(query)
    got = reading(fetch_one(source(fake), req))
    want = sum(1 for d, s, _ in deals if s in ("closedwon", "closedlost")
               and CYCLE.start <= d <= req.end)
    assert got.points[0][1] == want
    groups = fake.calls[0].body["filterGroups"]
    assert [g["filters"][1]["propertyName"] for g in groups] == ["closedate", "closedate"]


def test_non_numeric_property_is_permanent_and_named(fake: FakeHubSpot) -> None:
    fake.add("deals", 1, dealstage="closedwon", amount="12,5 EUR", closedate=ms(CYCLE.start))
    got = failure(fetch_one(source(fake), request({**DEALS, "aggregate": "sum",
                                                   "property": "amount"})))
    assert got.kind is FailureKind.PERMANENT
    assert "'amount'" in got.message
    assert "'12,5 EUR'" in got.message
    assert "deals 1" in got.message


def test_avg_of_nothing_is_a_failure_not_a_zero(fake: FakeHubSpot) -> None:
    got = failure(fetch_one(source(fake), request({**DEALS, "aggregate": "avg",
                                                   "property": "amount"})))
    assert got.kind is FailureKind.PERMANENT
    assert "undefined" in got.message


def test_sum_of_nothing_is_zero(fake: FakeHubSpot) -> None:
    got = reading(fetch_one(source(fake), request({**DEALS, "aggregate": "sum",
                                                   "property": "amount"})))
    assert got.points[0][1] == 0.0


def test_rate_limit_headers_are_recorded(fake: FakeHubSpot, deals: Deals) -> None:
    fake.headers = {"X-HubSpot-RateLimit-Daily": "500000",
                    "X-HubSpot-RateLimit-Daily-Remaining": "499000"}
    got = reading(fetch_one(source(fake), request(DEALS)))
    assert got.info["ratelimit"] == {"daily": "500000", "daily-remaining": "499000"}


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "retry_after", "words"),
    [
        (401, {"status": "error", "message": "expired", "category": "INVALID_AUTHENTICATION"},
         {}, FailureKind.AUTH, None, "HubSpot 401 INVALID_AUTHENTICATION: expired"),
        (403, {"status": "error", "message": "missing scopes", "category": "MISSING_SCOPES"},
         {}, FailureKind.AUTH, None, "crm.objects.deals.read"),
        (429, {"status": "error", "message": "You have reached your secondly limit.",
               "errorType": "RATE_LIMIT", "policyName": "SECONDLY"},
         {"Retry-After": "3"}, FailureKind.TRANSIENT, 3.0, "policy SECONDLY"),
        (429, {"status": "error", "message": "You have reached your daily limit.",
               "errorType": "RATE_LIMIT", "policyName": "DAILY"},
         {}, FailureKind.QUOTA, None, "policy DAILY"),
        (502, "<html>bad gateway</html>", {}, FailureKind.TRANSIENT, None, "HubSpot 502"),
        (400, {"status": "error", "message": "Property amount2 does not exist",
               "category": "VALIDATION_ERROR"},
         {}, FailureKind.PERMANENT, None, "VALIDATION_ERROR: Property amount2 does not exist"),
        (200, "not json", {}, FailureKind.TRANSIENT, None, "not JSON"),
    ],
)
def test_errors_are_classified(
    fake: FakeHubSpot, status: int, body: Any, headers: dict[str, str], kind: FailureKind,
    retry_after: float | None, words: str,
) -> None:
    fake.answer(status, body, headers)
    got = failure(fetch_one(source(fake), request(DEALS)))
    assert got.kind is kind
    assert got.retry_after == retry_after
    assert words in got.message
    assert TOKEN not in got.message


def test_wrong_token_is_auth(fake: FakeHubSpot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_TEST_TOKEN", "pat-wrong")
    got = failure(fetch_one(source(fake), request(DEALS)))
    assert got.kind is FailureKind.AUTH


def test_missing_secret_is_auth_without_a_call(
    fake: FakeHubSpot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUBSPOT_TEST_TOKEN")
    got = failure(fetch_one(source(fake), request(DEALS)))
    assert got.kind is FailureKind.AUTH
    assert "HUBSPOT_TEST_TOKEN is not set" in got.message
    assert fake.calls == []


def test_unreachable_endpoint_is_transient() -> None:
    src = HubSpotSource(Connection("crm", "hubspot", {"token": "env:HUBSPOT_TEST_TOKEN"},
                                   endpoint="http://127.0.0.1:9"))
    got = failure(fetch_one(src, request(DEALS)))
    assert got.kind is FailureKind.TRANSIENT


def test_limits_declare_the_search_rate() -> None:
    src = HubSpotSource(Connection("crm", "hubspot", {"token": "env:X"}))
    assert (src.limits().max_batch, src.limits().rate) == (1, 4.0)


def test_connection_validation_refuses_inline_tokens() -> None:
    problems = HubSpotSource.validate_connection(
        Connection("crm", "hubspot", {"token": "pat-na1-123", "timeout": -1, "colour": "x"})
    )
    assert {p.field for p in problems} == {"token", "timeout", "colour"}


def kr() -> KeyResult:
    return KeyResult("k", "t", baseline=0, target=1)


def fields(query: dict[str, Any]) -> list[str]:
    return [p.field for p in HubSpotSource.validate_query(query, kr())]


def test_query_validation_accepts_a_good_query() -> None:
    assert fields({**DEALS, "aggregate": "sum", "property": "amount",
                   "date_property": "closedate"}) == []


def test_query_validation_names_each_problem() -> None:
    assert fields({"object": "deals/x", "aggregate": "median", "unknown": 1}) == [
        "unknown", "object", "aggregate"]
    assert fields({"object": "deals", "aggregate": "sum"}) == ["property"]
    assert fields({"object": "deals", "filters": [{"property": "a", "operator": "LIKE"}]}) == [
        "filters[0]"]
    assert fields({"object": "deals", "filters": [{"property": "a", "operator": "IN"}]}) == [
        "filters[0]"]
    assert fields({"object": "deals", "filters": [
        {"property": "a", "operator": "BETWEEN", "value": 1}]}) == ["filters[0]"]
    problems = HubSpotSource.validate_query(
        {"object": "deals", "filters": [{"property": "d", "operator": "GTE", "value": "{today}"}]},
        kr())
    assert "unknown placeholder {today}" in problems[0].message


def test_a_cumulative_key_result_needs_date_property() -> None:
    cumulative = KeyResult("k", "t", measure="cumulative", baseline=0, target=1)
    (problem,) = HubSpotSource.validate_query(DEALS, cumulative)
    assert problem.field == "date_property"
    assert "daily series" in problem.message
    assert HubSpotSource.validate_query({**DEALS, "date_property": "closedate"}, cumulative) == []


def test_filter_limits_are_checked_at_lint_time() -> None:
    f = {"property": "a", "operator": "EQ", "value": "1"}
    ten = {"object": "deals", "filters": [f] * 10}
    assert fields(ten) == []
    problems = HubSpotSource.validate_query({**ten, "date_property": "closedate"}, kr())
    assert [p.field for p in problems] == ["filters"]
    assert "11 filters in one group" in problems[0].message
    assert fields({"object": "deals", "filter_groups": [[f]] * 6}) == ["filter_groups"]
    problems = HubSpotSource.validate_query(
        {"object": "deals", "filter_groups": [[f] * 9] * 3}, kr())
    assert [p.message for p in problems] == [
        "27 filters in all (including date windows) exceed HubSpot's limit of 25"]


def test_check_online_finds_missing_and_mistyped_properties(fake: FakeHubSpot) -> None:
    fake.property_types["deals"] = {"dealstage": "enumeration", "amount": "number",
                                    "closedate": "datetime", "dealname": "string"}
    good = {**DEALS, "aggregate": "sum", "property": "amount", "date_property": "closedate"}
    queries: list[tuple[KeyResult, Mapping[str, Any]]] = [
        (KeyResult("good", "t", baseline=0, target=1), good),
        (KeyResult("typo", "t", baseline=0, target=1), {**good, "property": "amout"}),
        (KeyResult("text", "t", baseline=0, target=1),
         {**good, "property": "dealname", "date_property": "dealstage"}),
        (KeyResult("object", "t", baseline=0, target=1), {"object": "dealz"}),
    ]
    problems = [(kr, p.field, p.message) for kr, p in source(fake).check_online(queries)]
    assert problems == [
        ("typo", "property", "HubSpot deals have no property 'amout'"),
        ("text", "property", "property 'dealname' of deals has type string, not number"),
        ("text", "date_property",
         "property 'dealstage' of deals has type enumeration, not date or datetime"),
        ("object", "object",
         "HubSpot 400 VALIDATION_ERROR: Unable to infer object type from: dealz"),
    ]
    # each property is asked once (the object's hs_object_id shows that the object exists)
    paths = [c.path for c in fake.calls]
    assert len(paths) == len(set(paths)) == 7


def test_check_online_with_a_bad_token_raises(
    fake: FakeHubSpot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TEST_TOKEN", "pat-wrong")
    with pytest.raises(SourceError, match="HubSpot 401"):
        source(fake).check_online([(KeyResult("k", "t", baseline=0, target=1),
                                    {**DEALS, "aggregate": "sum", "property": "amount"})])


def test_plugin_registers_through_its_entry_point() -> None:
    manager = PluginManager()
    assert manager.sources.get("hubspot") is HubSpotSource
