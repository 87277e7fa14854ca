"""The fakes speak the real wire formats: the official clients read them.

facebook-business and google-api-python-client are in this plugin's `test` extra; without
them the checks are skipped.
"""

from __future__ import annotations

import datetime as dt

import pytest
from social_fake import GRAPH_TOKEN, YT_KEY, FakeSocial


@pytest.mark.filterwarnings("ignore:value of metric might not be compatible:UserWarning")
def test_facebook_business_reads_the_graph_fake(fake: FakeSocial) -> None:
    api_module = pytest.importorskip("facebook_business.api")
    page_module = pytest.importorskip("facebook_business.adobjects.page")
    fake.objects["1234567890"] = {"followers_count": 15321, "fan_count": 14990}
    fake.daily[("1234567890", "page_follows")] = {dt.date(2025, 12, 1): 7, dt.date(2025, 12, 2): 9}
    api = api_module.FacebookAdsApi.init(access_token=GRAPH_TOKEN, api_version="v25.0")
    api._session.GRAPH = fake.url
    page = page_module.Page("1234567890").api_get(fields=["followers_count", "fan_count"])
    assert (page["followers_count"], page["fan_count"]) == (15321, 14990)
    insights = page_module.Page("1234567890").get_insights(params={
        "metric": ["page_follows"], "period": "day", "since": "2025-12-01",
        "until": "2025-12-03"})
    assert [v["value"] for v in insights[0]["values"]] == [7, 9]


def test_google_api_client_reads_the_youtube_fake(fake: FakeSocial) -> None:
    discovery = pytest.importorskip("googleapiclient.discovery")
    uc = "UC" + "a" * 22
    fake.channels[uc] = {"viewCount": "1234567", "subscriberCount": "8900",
                         "hiddenSubscriberCount": False, "videoCount": "42"}
    youtube = discovery.build("youtube", "v3", developerKey=YT_KEY, static_discovery=True,
                              client_options={"api_endpoint": fake.url + "/"})
    answer = youtube.channels().list(part="statistics", id=uc).execute()
    assert answer["items"][0]["statistics"]["subscriberCount"] == "8900"
