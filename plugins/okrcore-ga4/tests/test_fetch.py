"""Fetching through the real client (REST) against the fake: payloads, batching, values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from fake_ga4 import FakeGA4
from ga4_helpers import CYCLE, PROPERTY, request, run, source, total

from okrcore.sources import Failure, FailureKind, Reading

D = dt.date
ORGANIC = 'sessionDefaultChannelGroup == "Organic Search"'


def is_organic(r: Mapping[str, Any]) -> bool:
    return bool(r["sessionDefaultChannelGroup"] == "Organic Search")


def test_single_report_wire_payload(fake: FakeGA4, data: list[dict[str, Any]]) -> None:
    src = source(fake)
    out = run(src, [request(src, "organic", {
        "metric": "sessions", "filter": ORGANIC + ' and country in ["FR", "DE"]'})])
    [call] = fake.calls
    assert call.method == "runReport"
    assert call.path == f"/v1beta/properties/{PROPERTY}:runReport"
    assert call.query == {"$alt": ["json;enum-encoding=int"]}
    assert call.headers["x-goog-request-params"] == f"property=properties/{PROPERTY}"
    assert "authorization" not in call.headers  # anonymous: true sends no credentials
    assert call.body == {
        "metrics": [{"name": "sessions"}],
        "dateRanges": [{"startDate": "2026-01-01", "endDate": "2026-03-31"}],
        "dimensionFilter": {"andGroup": {"expressions": [
            {"filter": {"fieldName": "sessionDefaultChannelGroup", "stringFilter": {
                "matchType": 1, "value": "Organic Search", "caseSensitive": True}}},
            {"filter": {"fieldName": "country", "inListFilter": {
                "values": ["FR", "DE"], "caseSensitive": True}}},
        ]}},
        "returnPropertyQuota": True,
    }
    reading = out["organic"]
    assert isinstance(reading, Reading)
    expected = total(data, "sessions", CYCLE.start, CYCLE.end,
                     lambda r: is_organic(r) and r["country"] in ("FR", "DE"))
    assert reading.points == ((D(2026, 3, 31), expected),)
    assert reading.warnings == ()
    assert reading.info["time_zone"] == "America/Los_Angeles"
    assert reading.info["api_calls"] == {"runReport": 1, "batchRunReports": 0, "getMetadata": 0}
    assert reading.info["quota_remaining"]["tokens_per_day"] == 200_000 - 5
    assert reading.info["quota_remaining"]["tokens_per_hour"] == 40_000 - 5


def test_shared_window_and_filter_become_one_report(
    fake: FakeGA4, data: list[dict[str, Any]]
) -> None:
    src = source(fake)
    reqs = [request(src, m, {"metric": m, "filter": ORGANIC})
            for m in ("sessions", "keyEvents", "totalRevenue", "screenPageViews")]
    reqs.append(request(src, "sessions-again", {"metric": "sessions", "filter": ORGANIC}))
    out = run(src, reqs)
    [call] = fake.calls
    assert call.method == "runReport"
    assert [m["name"] for m in call.body["metrics"]] == [
        "sessions", "keyEvents", "totalRevenue", "screenPageViews"]
    for m in ("sessions", "keyEvents", "totalRevenue", "screenPageViews"):
        assert out[m].points[0][1] == total(data, m, CYCLE.start, CYCLE.end, is_organic)
    assert out["sessions-again"].points == out["sessions"].points
    assert out["totalRevenue"].info["currency"] == "USD"


def test_eleven_metrics_make_two_reports_in_one_batch_call(fake: FakeGA4) -> None:
    src = source(fake)
    metrics = ["sessions", "engagedSessions", "keyEventSessions", "activeUsers", "totalUsers",
               "newUsers", "keyEvents", "screenPageViews", "eventCount", "totalRevenue",
               "bounceRate"]
    reqs = [request(src, m, {"metric": m}) for m in metrics]
    out = run(src, reqs)
    [call] = fake.calls
    assert call.method == "batchRunReports"
    assert call.path == f"/v1beta/properties/{PROPERTY}:batchRunReports"
    inner = call.body["requests"]
    assert [[m["name"] for m in r["metrics"]] for r in inner] == [metrics[:10], metrics[10:]]
    assert all("property" not in r for r in inner)
    assert all(isinstance(r, Reading) for r in out.values())


def test_reports_go_five_per_call_and_batches_respect_it(
    fake: FakeGA4, data: list[dict[str, Any]]
) -> None:
    src = source(fake)
    # 7 distinct (window, filter) groups -> 7 reports -> 2 calls (5 + 2)
    filters = [f'country == "{c}"' for c in ("FR", "DE", "US")] + [ORGANIC, None]
    reqs = []
    for i, f in enumerate(filters):
        q = {"metric": "sessions"} | ({"filter": f} if f else {})
        reqs.append(request(src, f"f{i}", q))
    reqs.append(request(src, "y", {"metric": "sessions", "date_range": "yesterday"}))
    reqs.append(request(src, "w", {"metric": "sessions", "date_range": "last_7_days"}))
    batches = src.batches(reqs)
    assert [len(b) for b in batches] == [5, 2]
    out = run(src, reqs)
    assert [c.method for c in fake.calls] == ["batchRunReports", "batchRunReports"]
    assert [len(c.body["requests"]) for c in fake.calls] == [5, 2]
    assert out["y"].points[0][1] == total(data, "sessions", D(2026, 3, 30), D(2026, 3, 30))
    assert out["w"].points[0][1] == total(data, "sessions", D(2026, 3, 24), D(2026, 3, 30))
    assert out["f2"].points[0][1] == total(data, "sessions", CYCLE.start, CYCLE.end,
                                           lambda r: r["country"] == "US")


def test_fetch_with_more_than_five_reports_splits_calls_itself(fake: FakeGA4) -> None:
    # The engine may hand fetch any batch (e.g. retries); fetch never sends over 5 reports.
    src = source(fake)
    reqs = [request(src, f"k{d}", {"metric": "sessions", "date_range": {
        "start": f"2026-01-{d:02d}", "end": f"2026-01-{d:02d}"}}) for d in range(1, 13)]
    results = list(src.fetch(reqs))
    assert all(isinstance(r, Reading) for r in results)
    assert [len(c.body["requests"]) for c in fake.calls] == [5, 5, 2]
    assert src.calls == {"runReport": 0, "batchRunReports": 3, "getMetadata": 0}


def test_gauge_window_and_scale(fake: FakeGA4, data: list[dict[str, Any]]) -> None:
    src = source(fake)
    out = run(src, [request(src, "bounce", {"metric": "bounceRate", "window": 7, "scale": 100},
                            measure="gauge")])
    start, end = D(2026, 3, 25), D(2026, 3, 31)
    expected = 100 * (1 - total(data, "engagedSessions", start, end)
                      / total(data, "sessions", start, end))
    assert abs(out["bounce"].points[0][1] - expected) < 1e-9
    assert fake.calls[0].body["dateRanges"] == [{"startDate": "2026-03-25",
                                                 "endDate": "2026-03-31"}]


def test_series_uses_the_date_dimension_and_pages(
    fake: FakeGA4, data: list[dict[str, Any]]
) -> None:
    src = source(fake, page_size=30)
    req = request(src, "daily", {"metric": "sessions", "filter": ORGANIC},
                  start=D(2026, 1, 1), as_of=D(2026, 3, 31), series=True)
    out = run(src, [req])
    calls = fake.calls
    assert len(calls) == 3  # 89 days with data, 30 per page
    assert calls[0].body["dimensions"] == [{"name": "date"}]
    assert calls[0].body["orderBys"] == [{"dimension": {"dimensionName": "date"}}]
    assert [c.body.get("limit") for c in calls] == ["30", "30", "30"]
    assert [c.body.get("offset") for c in calls] == [None, "30", "60"]
    points = dict(out["daily"].points)
    assert len(points) == 90
    assert points[D(2026, 1, 2)] == total(data, "sessions", D(2026, 1, 2), D(2026, 1, 2),
                                          is_organic)
    assert points[D(2026, 2, 14)] == 0.0  # no rows that day: a count of 0


def test_series_of_a_ratio_skips_days_without_data(
    fake: FakeGA4, data: list[dict[str, Any]]
) -> None:
    src = source(fake)
    req = request(src, "bounce", {"metric": "bounceRate", "window": 1}, measure="gauge",
                  start=D(2026, 2, 13), as_of=D(2026, 2, 15), series=True)
    out = run(src, [req])
    reading = out["bounce"]
    assert [d for d, _ in reading.points] == [D(2026, 2, 13), D(2026, 2, 15)]
    assert any("no value on 1 of 3 days" in w for w in reading.warnings)
    assert len(fake.calls) == 1


def test_windowed_gauge_series_asks_one_report_per_day(
    fake: FakeGA4, data: list[dict[str, Any]]
) -> None:
    src = source(fake)
    req = request(src, "bounce", {"metric": "bounceRate", "window": 7}, measure="gauge",
                  start=D(2026, 3, 1), as_of=D(2026, 3, 7), series=True)
    out = run(src, [req])
    assert [len(c.body.get("requests", [c.body])) for c in fake.calls] == [5, 2]
    first = fake.calls[0].body["requests"][0]["dateRanges"][0]
    assert first == {"startDate": "2026-02-23", "endDate": "2026-03-01"}
    value = dict(out["bounce"].points)[D(2026, 3, 7)]
    s, e = D(2026, 3, 1), D(2026, 3, 7)
    assert abs(value - (1 - total(data, "engagedSessions", s, e) / total(data, "sessions", s, e))
               ) < 1e-12


def test_empty_report_count_is_zero_ratio_is_no_data(fake: FakeGA4) -> None:
    src = source(fake)
    valentine = {"start": "2026-02-14", "end": "2026-02-14"}
    out = run(src, [
        request(src, "sessions", {"metric": "sessions", "date_range": valentine}),
        request(src, "bounce", {"metric": "bounceRate", "date_range": valentine},
                measure="gauge"),
        request(src, "bounce0", {"metric": "bounceRate", "date_range": valentine,
                                 "empty": "zero"}, measure="gauge"),
        request(src, "strict", {"metric": "keyEvents", "date_range": valentine,
                                "empty": "error"}),
    ])
    assert out["sessions"].points[0][1] == 0.0
    assert out["bounce0"].points[0][1] == 0.0
    for kr in ("bounce", "strict"):
        assert isinstance(out[kr], Failure)
        assert out[kr].kind is FailureKind.PERMANENT
        assert "no data for" in out[kr].message
        assert "2026-02-14" in out[kr].message
    assert len(fake.calls) == 1


def test_thresholding_and_sampling_become_warnings(fake: FakeGA4) -> None:
    fake.thresholded.add(PROPERTY)
    fake.sampled[PROPERTY] = (250_000, 1_000_000)
    src = source(fake)
    out = run(src, [request(src, "k", {"metric": "activeUsers"})])
    warnings = out["k"].warnings
    assert any("thresholding" in w for w in warnings)
    assert any("250000 of 1000000 events read (25.0%)" in w for w in warnings)


def test_property_time_zone_decides_partial_and_future_days(fake: FakeGA4) -> None:
    # 2026-03-31 07:00 UTC is still 2026-03-31 00:00 in Los Angeles: that day has just begun.
    src = source(fake, clock=dt.datetime(2026, 3, 31, 7, 0, tzinfo=dt.timezone.utc))
    out = run(src, [request(src, "cum", {"metric": "sessions"}),
                    request(src, "yday", {"metric": "sessions", "date_range": "yesterday"}),
                    request(src, "future", {"metric": "sessions", "date_range": {
                        "start": "2026-04-01", "end": "2026-04-02"}})])
    assert any("not over yet in the property's time zone (America/Los_Angeles)" in w
               for w in out["cum"].warnings)
    assert out["yday"].warnings == ()
    assert isinstance(out["future"], Failure)
    assert "after today (2026-03-31) in the property's time zone" in out["future"].message
    # The same instant in UTC+14 is already 2026-03-31 21:00: the 31st is still partial there,
    # but in UTC-10 (Honolulu) it is the 30th, so 31 March is in the future.
    fake.time_zone = "Pacific/Honolulu"
    src = source(fake, clock=dt.datetime(2026, 3, 31, 7, 0, tzinfo=dt.timezone.utc))
    out = run(src, [request(src, "cum", {"metric": "sessions",
                                          "date_range": {"start": "2026-03-31",
                                                         "end": "2026-03-31"}})])
    assert isinstance(out["cum"], Failure)
    assert "after today (2026-03-30)" in out["cum"].message


def test_custom_metric_and_custom_dimension_filter(
    fake: FakeGA4, data: list[dict[str, Any]]
) -> None:
    for r in data:
        r["customEvent:plan_tier"] = "pro" if r["country"] == "DE" else "free"
        r["customEvent:signup_value"] = 3
    src = source(fake)
    out = run(src, [request(src, "k", {"metric": "customEvent:signup_value",
                                       "filter": 'customEvent:plan_tier == "pro"'})])
    body = fake.calls[0].body
    assert body["metrics"] == [{"name": "customEvent:signup_value"}]
    assert body["dimensionFilter"]["filter"]["fieldName"] == "customEvent:plan_tier"
    assert out["k"].points[0][1] == total(data, "customEvent:signup_value", CYCLE.start,
                                          CYCLE.end, lambda r: r["country"] == "DE")


def test_bad_query_fails_without_a_call(fake: FakeGA4) -> None:
    src = source(fake)
    out = run(src, [request(src, "k", {"metric": "sessions", "filter": "country =="})])
    assert isinstance(out["k"], Failure)
    assert out["k"].kind is FailureKind.PERMANENT
    assert "column 11" in out["k"].message
    assert fake.calls == []


def test_cumulative_reads_only_the_window_the_refresh_asks_for(
    fake: FakeGA4, data: list[dict[str, Any]]
) -> None:
    src = source(fake)
    out = run(src, [request(src, "k", {"metric": "sessions"}, start=D(2026, 3, 25))])
    assert fake.calls[0].body["dateRanges"] == [{"startDate": "2026-03-25",
                                                 "endDate": "2026-03-31"}]
    assert out["k"].points == ((D(2026, 3, 31),
                                total(data, "sessions", D(2026, 3, 25), D(2026, 3, 31))),)


def test_series_leaves_unfinished_days_for_a_later_refresh(
    fake: FakeGA4, data: list[dict[str, Any]]
) -> None:
    # 2026-03-31 19:00 UTC is noon in Los Angeles: the 31st is not over there.
    noon_la = dt.datetime(2026, 3, 31, 19, 0, tzinfo=dt.timezone.utc)
    expected = {d: total(data, "sessions", d, d) for d in (D(2026, 3, 29), D(2026, 3, 30))}
    for settle, last_day in ((1, D(2026, 3, 30)), (2, D(2026, 3, 29))):
        src = source(fake, clock=noon_la, settle_days=settle)
        out = run(src, [request(src, "k", {"metric": "sessions"}, start=D(2026, 3, 25),
                                series=True)])
        points = dict(out["k"].points)
        assert max(points) == last_day
        assert points[last_day] == expected[last_day]
        assert any("not read yet" in w and "America/Los_Angeles" in w
                   for w in out["k"].warnings)
    src = source(fake, clock=noon_la, settle_days=0)  # read as GA4's UI shows it, partial day too
    out = run(src, [request(src, "k", {"metric": "sessions"}, start=D(2026, 3, 25), series=True)])
    assert max(dict(out["k"].points)) == D(2026, 3, 31)
    assert any("partial data" in w for w in out["k"].warnings)


def test_series_with_only_unfinished_days_is_an_empty_reading_not_a_failure(fake: FakeGA4) -> None:
    src = source(fake, clock=dt.datetime(2026, 3, 31, 19, 0, tzinfo=dt.timezone.utc))
    out = run(src, [request(src, "k", {"metric": "bounceRate", "window": 1}, measure="gauge",
                            start=D(2026, 3, 31), series=True)])
    assert isinstance(out["k"], Reading)
    assert out["k"].points == ()
    assert any("not read yet" in w for w in out["k"].warnings)
