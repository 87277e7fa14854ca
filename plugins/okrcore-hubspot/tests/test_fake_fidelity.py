"""The fake speaks HubSpot's wire format: the official client reads its answers.

hubspot-api-client is in this plugin's `test` extra; without it the check is skipped.
"""

from __future__ import annotations

import pytest
from hubspot_fake import TOKEN, FakeHubSpot


def test_the_official_client_pages_through_the_fake(fake: FakeHubSpot) -> None:
    hubspot = pytest.importorskip("hubspot")
    deals = pytest.importorskip("hubspot.crm.deals")
    for i in range(5):
        fake.add("deals", 100 + i, dealstage="closedwon", amount=str(1000 * i))
    client = hubspot.HubSpot(access_token=TOKEN, host=fake.url)
    request = deals.PublicObjectSearchRequest(
        filter_groups=[deals.FilterGroup(filters=[
            deals.Filter(property_name="dealstage", operator="EQ", value="closedwon")])],
        properties=["amount"], limit=2)
    page = client.crm.deals.search_api.do_search(public_object_search_request=request)
    assert page.total == 5
    assert [r.properties["amount"] for r in page.results] == ["0", "1000"]
    assert page.paging.next.after == "2"
    assert fake.calls[0].body["filterGroups"][0]["filters"][0]["propertyName"] == "dealstage"
