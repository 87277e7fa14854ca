"""End to end: one refresh of a plan that mixes HubSpot, Salesforce, Facebook and YouTube.

A single local server plays all four services with their documented answers. YouTube's quota is
used up and one Salesforce query is malformed: the healthy key results must be stored, the failed
ones reported with their kind and stored as nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

import okrcore
from okrcore import refresh
from okrcore.model import Connection, Cycle, KeyResult, Objective, Plan
from okrcore.testing import serve

PAGE = "1234567890"
CHANNEL = "UC" + "a" * 22
TODAY = dt.datetime.now(dt.timezone.utc).date()
MRR = [1200.5, 800.0, 450.25, 3000.0, 99.75]
# won deals: (days before today, amount); the one 40 days ago closed before the cycle began
DEALS = [(0, 5000.0), (1, 1250.0), (1, 750.0), (12, 20000.0), (29, 300.0), (40, 99999.0)]


class _Services(BaseHTTPRequestHandler):
    calls: list[str]

    def log_message(self, format: str, *args: Any) -> None:  # keep the CLI's output clean
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.calls.append(parsed.path)
        status, answer = self._answer(parsed.path, query, body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        auth = self.headers.get("Authorization")
        if path == "/crm/v3/objects/companies/search":  # HubSpot: two pages of companies
            assert auth == "Bearer pat-e2e"
            offset = int(body.get("after", "0"))
            page = [{"id": str(i), "properties": {"mrr": str(v)}}
                    for i, v in enumerate(MRR)][offset : offset + 3]
            answer: dict[str, Any] = {"total": len(MRR), "results": page}
            if offset + 3 < len(MRR):
                answer["paging"] = {"next": {"after": str(offset + 3)}}
            return 200, answer
        if path == "/crm/v3/objects/deals/search":  # HubSpot: won deals in the BETWEEN window
            assert auth == "Bearer pat-e2e"
            (window,) = [f for f in body["filterGroups"][0]["filters"]
                         if f["operator"] == "BETWEEN"]
            low, high = int(window["value"]), int(window["highValue"])
            epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
            rows = []
            for i, (ago, amount) in enumerate(DEALS):
                day = TODAY - dt.timedelta(days=ago)
                stamp = int((dt.datetime.combine(day, dt.time(15), dt.timezone.utc) - epoch)
                            .total_seconds() * 1000)
                if low <= stamp <= high:
                    rows.append({"id": str(i), "properties": {"amount": str(amount),
                                                              "closedate": str(stamp)}})
            return 200, {"total": len(rows), "results": rows}
        if path == "/services/data/v62.0/query":  # Salesforce
            assert auth == "Bearer 00De2e!token"
            if query["q"] == "SELECT COUNT() FROM Account WHERE Type = 'Customer'":
                return 200, {"totalSize": 42, "done": True, "records": []}
            return 400, [{"message": "unexpected token: FORM", "errorCode": "MALFORMED_QUERY"}]
        if path == f"/v25.0/{PAGE}":  # Facebook Page fields
            assert query["access_token"] == "EAAB-e2e"
            return 200, {"followers_count": 15321, "id": PAGE}
        if path == "/youtube/v3/channels":  # YouTube: the day's quota is used up
            return 403, {"error": {"code": 403, "message": "The request cannot be completed "
                                   "because you have exceeded your quota.",
                                   "errors": [{"domain": "youtube.quota",
                                               "reason": "quotaExceeded"}]}}
        return 404, {"error": "unexpected call"}


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[str]]]:
    calls: list[str] = []
    for name, value in {"E2E_HUBSPOT": "pat-e2e", "E2E_SF": "00De2e!token",
                        "E2E_FB": "EAAB-e2e", "E2E_YT": "AIza-e2e"}.items():
        monkeypatch.setenv(name, value)
    with serve(type("H", (_Services,), {"calls": calls})) as url:
        yield url, calls


def kr(id: str, source: dict[str, Any]) -> KeyResult:
    return KeyResult(id, id, baseline=1, target=1_000_000, source=source)


def mixed_plan(url: str) -> Plan:
    cycle = Cycle("now", TODAY - dt.timedelta(days=30), TODAY + dt.timedelta(days=60))
    key_results = [
        KeyResult("revenue", "Sales reach 5,000,000 this quarter", measure="cumulative",
                  baseline=0, target=5_000_000,
                  source={"connection": "crm", "object": "deals", "aggregate": "sum",
                          "property": "amount", "date_property": "closedate",
                          "filters": [{"property": "dealstage", "operator": "EQ",
                                       "value": "closedwon"}]}),
        kr("mrr", {"connection": "crm", "object": "companies", "aggregate": "sum",
                   "property": "mrr"}),
        kr("customers", {"connection": "sf",
                         "soql": "SELECT COUNT() FROM Account WHERE Type = :type",
                         "params": {"type": "Customer"}}),
        kr("broken", {"connection": "sf", "soql": "SELECT COUNT() FORM Account"}),
        kr("followers", {"connection": "fb", "field": "followers_count"}),
        kr("subscribers", {"connection": "yt", "channel": CHANNEL, "metric": "subscriberCount"}),
    ]
    connections = {
        "crm": Connection("crm", "hubspot", {"token": "env:E2E_HUBSPOT"}, endpoint=url),
        "sf": Connection("sf", "salesforce", {"access_token": "env:E2E_SF",
                                              "api_version": "62.0"}, endpoint=url),
        "fb": Connection("fb", "facebook", {"access_token": "env:E2E_FB", "page_id": PAGE},
                         endpoint=url),
        "yt": Connection("yt", "youtube", {"api_key": "env:E2E_YT"}, endpoint=url),
    }
    objective = Objective("grow", "Grow", "now", key_results=key_results)
    return Plan(cycles=[cycle], objectives=[objective], connections=connections)


def test_one_refresh_stores_the_healthy_and_reports_the_failed(
        services: tuple[str, list[str]]) -> None:
    url, calls = services
    store = okrcore.open_store("memory://")
    result = refresh(mixed_plan(url), store, at=TODAY)
    outcomes = {o.kr_id: o for o in result.outcomes}
    assert store.runs(1)[0].outcomes == result.outcomes  # the run is recorded

    # a cumulative key result arrives as a daily series over the cycle so far
    revenue = store.checkins(["revenue"])
    assert sum(c.value for c in revenue) == sum(a for ago, a in DEALS if ago <= 30)
    assert max(c.as_of for c in revenue) == TODAY
    stored = {c.kr_id: c for c in store.checkins(["mrr", "customers", "followers",
                                                   "broken", "subscribers"])}
    assert set(stored) == {"mrr", "customers", "followers"}
    assert stored["mrr"].value == pytest.approx(sum(MRR))
    assert stored["customers"].value == 42
    assert stored["followers"].value == 15321
    assert {c.as_of for c in stored.values()} == {TODAY}

    assert outcomes["subscribers"].status == "failed"
    assert outcomes["subscribers"].kind == "quota"
    assert "quotaExceeded" in (outcomes["subscribers"].error or "")
    assert outcomes["broken"].status == "failed"
    assert outcomes["broken"].kind == "permanent"
    assert "MALFORMED_QUERY" in (outcomes["broken"].error or "")
    assert {outcomes[k].status for k in ("revenue", "mrr", "customers", "followers")} == {
        "refreshed"}
    assert calls.count("/youtube/v3/channels") == 1  # a quota failure is never retried

    # the same refresh again stores nothing new
    count = len(store.checkins())
    again = refresh(mixed_plan(url), store, at=TODAY)
    assert len(store.checkins()) == count
    assert {o.kr_id for o in again.outcomes if o.stored} == set()


PLAN_YAML = """\
okrcore: 1
cycles:
  - {{id: now, start: {start}, end: {end}}}
connections:
  crm: {{plugin: hubspot, endpoint: "{url}", token: env:E2E_HUBSPOT}}
  sf: {{plugin: salesforce, endpoint: "{url}", access_token: env:E2E_SF, api_version: "62.0"}}
  fb: {{plugin: facebook, endpoint: "{url}", access_token: env:E2E_FB, page_id: "{page}"}}
  yt: {{plugin: youtube, endpoint: "{url}", api_key: env:E2E_YT}}
objectives:
  - id: grow
    title: Grow sales and audience
    cycle: now
    key_results:
      - id: mrr
        title: MRR +15%
        baseline: 5000
        target: +15%
        source: {{connection: crm, object: companies, aggregate: sum, property: mrr}}
      - id: customers
        title: Customers +15%
        baseline: 40
        target: +15%
        source:
          connection: sf
          soql: "SELECT COUNT() FROM Account WHERE Type = :type"
          params: {{type: Customer}}
      - id: followers
        title: Facebook followers +15%
        baseline: 15000
        target: +15%
        source: {{connection: fb, field: followers_count}}
      - id: subscribers
        title: YouTube subscribers +15%
        baseline: 8900
        target: +15%
        source: {{connection: yt, channel: {channel}, metric: subscriberCount}}
"""


def test_okr_refresh_on_a_plan_file(services: tuple[str, list[str]], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from okrcore.cli import main

    url, _calls = services
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN_YAML.format(url=url, page=PAGE, channel=CHANNEL,
                                     start=TODAY - dt.timedelta(days=30),
                                     end=TODAY + dt.timedelta(days=60)), encoding="utf-8")
    store = f"sqlite:///{tmp_path / 'okr.db'}"
    args = ["refresh", str(plan), "--store", store, "--at", TODAY.isoformat(), "--format", "json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output  # one key result failed
    summary = json.loads(result.output)
    assert {r["id"]: r["value"] for r in summary["refreshed"]} == {
        "mrr": pytest.approx(sum(MRR)), "customers": 42, "followers": 15321}
    assert [(f["id"], f["connection"], f["kind"]) for f in summary["failed"]] == [
        ("subscribers", "yt", "quota")]
    for secret in ("pat-e2e", "00De2e!token", "EAAB-e2e", "AIza-e2e"):
        assert secret not in result.output
