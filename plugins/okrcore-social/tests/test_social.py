"""The facebook, instagram and youtube sources against local fakes of their APIs."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import pytest
from okrcore_social import FacebookSource, InstagramSource, YouTubeSource, __version__
from social_fake import GRAPH_TOKEN, YT_KEY, FakeSocial, graph_error

from okrcore.errors import SourceError
from okrcore.model import Connection, Cycle, KeyResult
from okrcore.plugins import PluginManager
from okrcore.sources import Failure, FailureKind, FetchRequest, Reading, Source

PAGE = "1234567890"
IG = "17841400000000001"
UC = ["UC" + c * 22 for c in "abc"]
CYCLE = Cycle("2025-Q4", dt.date(2025, 10, 1), dt.date(2025, 12, 31))
TODAY = dt.datetime.now(dt.timezone.utc).date()


def facebook(fake: FakeSocial, **settings: Any) -> FacebookSource:
    conf = {"access_token": "env:FB_TEST_TOKEN", "page_id": PAGE, **settings}
    return FacebookSource(Connection("fb", "facebook", conf, endpoint=fake.url))


def instagram(fake: FakeSocial) -> InstagramSource:
    conf = {"access_token": "env:FB_TEST_TOKEN", "ig_user_id": IG}
    return InstagramSource(Connection("ig", "instagram", conf, endpoint=fake.url))


def youtube(fake: FakeSocial) -> YouTubeSource:
    return YouTubeSource(Connection("yt", "youtube", {"api_key": "env:YT_TEST_KEY"},
                                    endpoint=fake.url))


def request(query: dict[str, Any], *, kr: str = "kr", measure: str = "gauge",
            start: dt.date = CYCLE.start, end: dt.date = TODAY,
            series: bool = False) -> FetchRequest:
    key_result = KeyResult(kr, "t", measure=measure, baseline=1, target=2)
    return FetchRequest(key_result, query, Connection("c", "x", {}), CYCLE, start, end, end,
                        series=series)


def run(src: Source, *requests: FetchRequest) -> dict[str, Reading | Failure]:
    return {r.request.kr.id: r for r in src.fetch(list(requests))}


def reading(result: Reading | Failure) -> Reading:
    assert isinstance(result, Reading), result
    return result


def failure(result: Reading | Failure) -> Failure:
    assert isinstance(result, Failure), result
    return result


def daily(fake: FakeSocial, obj: str, metric: str, start: dt.date, days: int) -> dict[dt.date, int]:
    values = {start + dt.timedelta(days=i): 100 + i for i in range(days)}
    fake.daily[(obj, metric)] = values
    return values


# -- Facebook ------------------------------------------------------------------------------------


def test_page_fields_share_one_call_with_the_token_in_the_query_string(fake: FakeSocial) -> None:
    fake.objects[PAGE] = {"followers_count": 15321, "fan_count": 14990}
    fake.headers = {"X-App-Usage": '{"call_count":3,"total_cputime":1,"total_time":2}'}
    got = run(facebook(fake), request({"field": "followers_count"}, kr="followers"),
              request({"field": "fan_count"}, kr="fans"))
    assert reading(got["followers"]).points == ((TODAY, 15321.0),)
    assert reading(got["fans"]).points == ((TODAY, 14990.0),)
    (call,) = fake.calls
    assert call.path == f"/v25.0/{PAGE}"
    assert call.query == {"fields": "followers_count,fan_count", "access_token": GRAPH_TOKEN}
    assert "authorization" not in call.headers
    assert call.headers["user-agent"] == f"okrcore-social/{__version__}"
    assert reading(got["followers"]).info["usage"] == {
        "x-app-usage": {"call_count": 3, "total_cputime": 1, "total_time": 2}}


def test_app_secret_proof(fake: FakeSocial) -> None:
    fake.objects[PAGE] = {"followers_count": 1}
    run(facebook(fake, app_secret="env:FB_TEST_APP_SECRET"), request({"field": "followers_count"}))
    want = hmac.new(b"app-secret", GRAPH_TOKEN.encode(), hashlib.sha256).hexdigest()
    assert fake.calls[0].query["appsecret_proof"] == want


def test_insights_sum_for_cumulative_and_last_for_gauge(fake: FakeSocial) -> None:
    fake.objects[PAGE] = {}
    values = daily(fake, PAGE, "page_post_engagements", dt.date(2025, 11, 1), 30)
    start, end = dt.date(2025, 11, 5), dt.date(2025, 11, 20)
    got = run(facebook(fake),
              request({"metric": "page_post_engagements"}, kr="sum", measure="cumulative",
                      start=start, end=end))
    window = [v for d, v in values.items() if start <= d <= end]
    assert reading(got["sum"]).points == ((end, float(sum(window))),)
    assert fake.calls[0].path == f"/v25.0/{PAGE}/insights"
    assert {k: v for k, v in fake.calls[0].query.items() if k != "access_token"} == {
        "metric": "page_post_engagements", "period": "day", "since": "2025-11-05",
        "until": "2025-11-21"}
    got = run(facebook(fake), request({"metric": "page_post_engagements"}, kr="last",
                                      start=start, end=end))
    assert reading(got["last"]).points == ((end, float(values[end])),)


def test_insights_daily_series_dates_each_value_by_the_day_it_covers(fake: FakeSocial) -> None:
    fake.objects[PAGE] = {}
    values = daily(fake, PAGE, "page_follows", dt.date(2025, 12, 1), 10)
    got = run(facebook(fake), request({"metric": "page_follows"}, start=dt.date(2025, 12, 1),
                                      end=dt.date(2025, 12, 4), series=True))
    assert reading(got["kr"]).points == tuple(
        (dt.date(2025, 12, d), float(values[dt.date(2025, 12, d)])) for d in range(1, 5))


def test_windows_longer_than_90_days_are_asked_in_chunks(fake: FakeSocial) -> None:
    fake.objects[PAGE] = {}
    values = daily(fake, PAGE, "page_media_view", dt.date(2025, 1, 1), 365)
    start, end = dt.date(2025, 2, 1), dt.date(2025, 8, 31)  # 212 days
    got = run(facebook(fake), request({"metric": "page_media_view"}, measure="cumulative",
                                      start=start, end=end))
    assert reading(got["kr"]).points[0][1] == sum(v for d, v in values.items()
                                                  if start <= d <= end)
    spans = [(c.query["since"], c.query["until"]) for c in fake.calls]
    assert spans == [("2025-02-01", "2025-05-02"), ("2025-05-02", "2025-07-31"),
                     ("2025-07-31", "2025-09-01")]


def test_metrics_of_one_window_share_a_call_and_a_bad_one_is_isolated(fake: FakeSocial) -> None:
    fake.objects[PAGE] = {}
    daily(fake, PAGE, "page_media_view", dt.date(2025, 11, 1), 10)
    daily(fake, PAGE, "page_follows", dt.date(2025, 11, 1), 10)
    end = dt.date(2025, 11, 5)
    src = facebook(fake)
    got = run(src, request({"metric": "page_media_view"}, kr="views", end=end,
                           start=dt.date(2025, 11, 1)),
              request({"metric": "page_follows"}, kr="follows", end=end,
                      start=dt.date(2025, 11, 1)))
    assert reading(got["views"]).points[0][1] == 104.0
    assert reading(got["follows"]).points[0][1] == 104.0
    assert len(fake.calls) == 1
    assert fake.calls[0].query["metric"] == "page_media_view,page_follows"
    fake.calls.clear()
    got = run(src, request({"metric": "page_media_view"}, kr="views", end=end),
              request({"metric": "page_nonsense"}, kr="bad", end=end))
    assert reading(got["views"]).points[0][1] == 104.0
    bad = failure(got["bad"])
    assert bad.kind is FailureKind.PERMANENT
    assert "error 100" in bad.message
    assert len(fake.calls) == 3  # the shared call, then each metric alone


def test_removed_metric_at_fetch_names_its_replacement(fake: FakeSocial) -> None:
    fake.objects[PAGE] = {}
    got = failure(run(facebook(fake), request({"metric": "page_impressions"},
                                              end=dt.date(2025, 12, 1)))["kr"])
    assert got.kind is FailureKind.PERMANENT
    assert "use 'page_media_view'" in got.message


@pytest.mark.parametrize(
    ("metric", "replacement"),
    [("page_impressions", "page_media_view"),
     ("page_impressions_unique", "page_total_media_view_unique"),
     ("page_impressions_paid", "page_media_view"),
     ("page_fans", "page_follows"),
     ("page_fans_country", "page_follows"),
     ("page_fan_adds", "page_daily_follows_unique")],
)
def test_removed_facebook_metrics_are_refused_at_lint_time(metric: str, replacement: str) -> None:
    (problem,) = FacebookSource.validate_query({"metric": metric}, KeyResult("k", "t", target=1,
                                                                             baseline=0))
    assert problem.field == "metric"
    assert problem.message == f"Meta has removed {metric!r}; use {replacement!r} instead"


def test_query_and_connection_validation() -> None:
    kr = KeyResult("k", "t", target=1, baseline=0)
    assert FacebookSource.validate_query({"metric": "page_media_view"}, kr) == []
    assert [p.field for p in FacebookSource.validate_query(
        {"field": "likes", "metric": "x", "period": "hour"}, kr)] == ["", "field", "period"]
    assert [p.field for p in InstagramSource.validate_query(
        {"metric": "impressions", "metric_type": "sum"}, kr)] == ["metric", "metric_type"]
    problems = FacebookSource.validate_connection(Connection("fb", "facebook", {
        "access_token": "EAAB-inline", "graph_version": "25"}))
    assert [p.field for p in problems] == ["access_token", "graph_version"]


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "retry_after"),
    [
        (400, graph_error(4, "(#4) Application request limit reached", is_transient=True), {},
         FailureKind.TRANSIENT, None),
        (400, graph_error(17, "(#17) User request limit reached"), {}, FailureKind.TRANSIENT,
         None),
        (400, graph_error(32, "(#32) Page request limit reached"), {}, FailureKind.TRANSIENT,
         None),
        (400, graph_error(613, "Calls to this api have exceeded the rate limit."), {},
         FailureKind.TRANSIENT, None),
        (400, graph_error(80001, "There have been too many calls to this Page account."),
         {"X-Business-Use-Case-Usage": json.dumps({PAGE: [
             {"type": "pages", "call_count": 100, "total_cputime": 20, "total_time": 30,
              "estimated_time_to_regain_access": 5}]})},
         FailureKind.TRANSIENT, 300.0),
        (400, graph_error(190, "Error validating access token", error_subcode=463), {},
         FailureKind.AUTH, None),
        (403, graph_error(10, "(#10) This endpoint requires the 'read_insights' permission"), {},
         FailureKind.AUTH, None),
        (400, graph_error(200, "(#200) Permissions error"), {}, FailureKind.AUTH, None),
        (400, graph_error(100, "(#100) Invalid parameter"), {}, FailureKind.PERMANENT, None),
        (500, "", {}, FailureKind.TRANSIENT, None),
    ],
)
def test_graph_errors_are_classified_by_code(
        fake: FakeSocial, status: int, body: dict[str, Any] | str, headers: dict[str, str],
        kind: FailureKind, retry_after: float | None) -> None:
    fake.objects[PAGE] = {"followers_count": 1}
    fake.answer(status, body, headers)
    got = failure(run(facebook(fake), request({"field": "followers_count"}))["kr"])
    assert got.kind is kind
    assert got.retry_after == retry_after
    assert GRAPH_TOKEN not in got.message
    if isinstance(body, dict):
        assert f"error {body['error']['code']}" in got.message


def test_wrong_token_is_auth(fake: FakeSocial, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.objects[PAGE] = {"followers_count": 1}
    monkeypatch.setenv("FB_TEST_TOKEN", "EAAB-revoked")
    got = failure(run(facebook(fake), request({"field": "followers_count"}))["kr"])
    assert got.kind is FailureKind.AUTH
    assert "error 190/463" in got.message


def test_a_current_value_never_stands_for_a_past_day_or_a_series(fake: FakeSocial) -> None:
    fake.objects[PAGE] = {"followers_count": 1}
    src = facebook(fake)
    old = failure(run(src, request({"field": "followers_count"}, end=dt.date(2025, 1, 1)))["kr"])
    assert old.kind is FailureKind.PERMANENT
    assert "cannot stand for 2025-01-01" in old.message
    series = failure(run(src, request({"field": "followers_count"}, series=True))["kr"])
    assert "no daily series" in series.message
    assert fake.calls == []


def test_no_page_and_missing_secret(fake: FakeSocial, monkeypatch: pytest.MonkeyPatch) -> None:
    src = FacebookSource(Connection("fb", "facebook", {"access_token": "env:FB_TEST_TOKEN"},
                                    endpoint=fake.url))
    got = failure(run(src, request({"field": "followers_count"}))["kr"])
    assert got.kind is FailureKind.PERMANENT
    assert "page_id" in got.message
    monkeypatch.delenv("FB_TEST_TOKEN")
    got = failure(run(facebook(fake), request({"field": "followers_count"}))["kr"])
    assert got.kind is FailureKind.AUTH
    assert fake.calls == []


# -- Instagram -----------------------------------------------------------------------------------


def test_instagram_fields_and_30_day_insight_chunks(fake: FakeSocial) -> None:
    fake.objects[IG] = {"followers_count": 5120, "media_count": 88}
    fake.max_days[IG] = 30
    values = daily(fake, IG, "reach", dt.date(2025, 10, 1), 92)
    src = instagram(fake)
    got = run(src, request({"field": "followers_count"}, kr="followers"),
              request({"metric": "reach"}, kr="reach", measure="cumulative",
                      start=dt.date(2025, 10, 1), end=dt.date(2025, 12, 31)))
    assert reading(got["followers"]).points[0][1] == 5120.0
    assert reading(got["reach"]).points[0][1] == sum(values.values())
    insight_calls = [c for c in fake.calls if c.path.endswith("/insights")]
    assert len(insight_calls) == 4  # 92 days in 30-day windows


def test_instagram_total_value_metric(fake: FakeSocial) -> None:
    fake.objects[IG] = {}
    values = daily(fake, IG, "total_interactions", dt.date(2025, 11, 1), 10)
    got = run(instagram(fake), request({"metric": "total_interactions",
                                        "metric_type": "total_value"}, measure="cumulative",
                                       start=dt.date(2025, 11, 1), end=dt.date(2025, 11, 10)))
    assert reading(got["kr"]).points[0][1] == sum(values.values())
    assert fake.calls[0].query["metric_type"] == "total_value"


# -- YouTube -------------------------------------------------------------------------------------


def test_youtube_batches_channels_and_parses_string_counts(fake: FakeSocial) -> None:
    for i, uc in enumerate(UC):
        fake.channels[uc] = {"viewCount": str(1_234_567 * (i + 1)),
                             "subscriberCount": str(8900 + i), "hiddenSubscriberCount": False,
                             "videoCount": "42"}
    got = run(youtube(fake), *[request({"channel": uc, "metric": "subscriberCount"}, kr=uc)
                               for uc in UC],
              request({"channel": UC[0], "metric": "viewCount"}, kr="views"))
    assert [reading(got[uc]).points[0][1] for uc in UC] == [8900.0, 8901.0, 8902.0]
    assert reading(got["views"]).points[0][1] == 1_234_567.0
    (call,) = fake.calls
    assert call.path == "/youtube/v3/channels"
    assert call.query == {"part": "statistics", "id": ",".join(UC), "maxResults": "50",
                          "key": YT_KEY}


def test_youtube_handle_hidden_and_unknown_channels(fake: FakeSocial) -> None:
    fake.channels[UC[0]] = {"viewCount": "10", "hiddenSubscriberCount": True, "videoCount": "1"}
    fake.handles["@acme"] = UC[0]
    got = run(youtube(fake), request({"handle": "@acme", "metric": "viewCount"}, kr="handle"),
              request({"channel": UC[0], "metric": "subscriberCount"}, kr="hidden"),
              request({"channel": UC[1], "metric": "viewCount"}, kr="unknown"))
    assert reading(got["handle"]).points[0][1] == 10.0
    assert "hides its subscriber count" in failure(got["hidden"]).message
    assert failure(got["unknown"]).message == f"YouTube has no channel {UC[1]}"
    assert [c.query.get("forHandle") for c in fake.calls] == [None, "@acme"]


@pytest.mark.parametrize(
    ("status", "reason", "kind"),
    [(403, "quotaExceeded", FailureKind.QUOTA),
     (403, "rateLimitExceeded", FailureKind.TRANSIENT),
     (403, "forbidden", FailureKind.AUTH),
     (400, "invalidFilters", FailureKind.PERMANENT),
     (503, "backendError", FailureKind.TRANSIENT)],
)
def test_youtube_errors(fake: FakeSocial, status: int, reason: str, kind: FailureKind) -> None:
    fake.answer(status, {"error": {"code": status, "message": f"{reason} happened",
                                   "errors": [{"domain": "youtube.quota", "reason": reason}]}})
    got = failure(run(youtube(fake), request({"channel": UC[0], "metric": "viewCount"}))["kr"])
    assert got.kind is kind
    assert f"YouTube {status} {reason}" in got.message
    if kind is FailureKind.QUOTA:
        assert got.retry_after is not None
        assert 0 < got.retry_after <= 25 * 3600


def test_youtube_bad_key_is_auth_and_not_echoed(fake: FakeSocial,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YT_TEST_KEY", "AIza-wrong")
    got = failure(run(youtube(fake), request({"channel": UC[0], "metric": "viewCount"}))["kr"])
    assert got.kind is FailureKind.AUTH
    assert "AIza-wrong" not in got.message


def test_youtube_validation() -> None:
    kr = KeyResult("k", "t", target=1, baseline=0)
    assert YouTubeSource.validate_query({"channel": UC[0], "metric": "viewCount"}, kr) == []
    assert [p.field for p in YouTubeSource.validate_query(
        {"channel": "acme", "metric": "likes"}, kr)] == ["metric", "channel"]
    assert [p.field for p in YouTubeSource.validate_connection(
        Connection("yt", "youtube", {"api_key": "AIza-inline"}))] == ["api_key"]


def test_check_online(fake: FakeSocial, monkeypatch: pytest.MonkeyPatch) -> None:
    kr = KeyResult("k", "t", target=1, baseline=0)
    fake.objects[PAGE] = {"followers_count": 1}
    daily(fake, PAGE, "page_follows", TODAY - dt.timedelta(days=5), 10)
    problems = facebook(fake).check_online([
        (kr, {"field": "followers_count"}),
        (kr, {"metric": "page_follows"}),
        (KeyResult("bad", "t", target=1, baseline=0), {"metric": "page_nonsense"}),
        (KeyResult("removed", "t", target=1, baseline=0), {"metric": "page_fans"}),  # lint's job
    ])
    assert [(k, p.field) for k, p in problems] == [("bad", "metric")]
    assert "error 100" in problems[0][1].message
    assert len(fake.calls) == 3
    fake.channels[UC[0]] = {"viewCount": "1"}
    problems = youtube(fake).check_online([
        (kr, {"channel": UC[0], "metric": "viewCount"}),
        (KeyResult("gone", "t", target=1, baseline=0), {"channel": UC[1], "metric": "viewCount"}),
    ])
    assert [(k, p.field, p.message) for k, p in problems] == [
        ("gone", "channel", f"YouTube has no channel {UC[1]}")]
    monkeypatch.setenv("FB_TEST_TOKEN", "EAAB-revoked")
    with pytest.raises(SourceError, match="error 190"):
        facebook(fake).check_online([(kr, {"field": "followers_count"})])


def test_current_values_cannot_be_cumulative() -> None:
    cumulative = KeyResult("k", "t", measure="cumulative", baseline=0, target=1)
    assert [p.field for p in FacebookSource.validate_query({"field": "followers_count"},
                                                            cumulative)] == ["field"]
    assert FacebookSource.validate_query({"metric": "page_post_engagements"}, cumulative) == []
    assert [p.field for p in YouTubeSource.validate_query(
        {"channel": UC[0], "metric": "viewCount"}, cumulative)] == ["metric"]


def test_instagram_total_value_series_asks_one_day_at_a_time(fake: FakeSocial) -> None:
    fake.objects[IG] = {}
    values = daily(fake, IG, "views", dt.date(2025, 11, 1), 10)
    got = run(instagram(fake), request({"metric": "views", "metric_type": "total_value"},
                                       measure="cumulative", series=True,
                                       start=dt.date(2025, 11, 2), end=dt.date(2025, 11, 4)))
    assert reading(got["kr"]).points == tuple(
        (dt.date(2025, 11, d), float(values[dt.date(2025, 11, d)])) for d in (2, 3, 4))
    assert [(c.query["since"], c.query["until"]) for c in fake.calls] == [
        ("2025-11-02", "2025-11-03"), ("2025-11-03", "2025-11-04"), ("2025-11-04", "2025-11-05")]


def test_plugin_registers_three_sources() -> None:
    sources = PluginManager().sources
    assert sources.get("facebook") is FacebookSource
    assert sources.get("instagram") is InstagramSource
    assert sources.get("youtube") is YouTubeSource
