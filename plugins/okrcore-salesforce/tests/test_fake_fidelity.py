"""The fake speaks Salesforce's wire format: simple-salesforce reads its answers.

simple-salesforce is in this plugin's `test` extra; without it the check is skipped. It forces
https, so an adapter downgrades loopback calls.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from salesforce_fake import VERSION, FakeSalesforce


class _HttpsToHttp(requests.adapters.HTTPAdapter):
    def send(self, request: requests.PreparedRequest, *args: Any,
             **kw: Any) -> requests.Response:
        assert request.url is not None
        request.url = request.url.replace("https://", "http://", 1)
        return super().send(request, *args, **kw)


def test_simple_salesforce_reads_the_fake(fake: FakeSalesforce) -> None:
    simple = pytest.importorskip("simple_salesforce")
    soql = "SELECT Id, Amount FROM Opportunity"
    fake.rows(soql, [{"Id": str(i), "Amount": float(i)} for i in range(5)])
    fake.batch = 2
    session = requests.Session()
    host = fake.url.replace("http://", "https://")
    session.mount(host, _HttpsToHttp())
    sf = simple.Salesforce(instance_url=host, session_id="00Dstatic!token", session=session,
                           version=VERSION)
    answer = sf.query_all(soql)
    assert answer["totalSize"] == 5
    assert [r["Amount"] for r in answer["records"]] == [0.0, 1.0, 2.0, 3.0, 4.0]
    fake.count("SELECT COUNT() FROM Lead", 9)
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 9
