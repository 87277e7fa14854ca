"""gRPC transport, ``okr lint --online`` (getMetadata), and registration through the entry point."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from typing import Any

import pytest
from fake_ga4 import FakeGA4
from ga4_helpers import CYCLE, PROPERTY, connection, key_result, request, run, source, total
from okrcore_ga4 import GA4Source

from okrcore.plugins import PluginManager
from okrcore.sources import Failure, FailureKind, Reading


@pytest.fixture
def grpc_fake(fake: FakeGA4) -> FakeGA4:
    fake.start_grpc()
    return fake


def grpc_source(fake: FakeGA4, **settings: Any) -> GA4Source:
    conn = connection(fake, transport="grpc", **settings)
    conn = type(conn)(conn.name, conn.plugin, settings=conn.settings,
                      endpoint=f"http://{fake.grpc_target}")
    return GA4Source(conn, clock=lambda: dt.datetime(2026, 4, 15, tzinfo=dt.timezone.utc))


def test_grpc_batch_happy_path(grpc_fake: FakeGA4, data: list[dict[str, Any]]) -> None:
    src = grpc_source(grpc_fake)
    reqs = [request(src, "organic", {"metric": "sessions",
                                     "filter": 'sessionDefaultChannelGroup == "Organic Search"'}),
            request(src, "all", {"metric": "keyEvents"})]
    out = run(src, reqs)
    [call] = grpc_fake.calls
    assert call.transport == "grpc"
    assert call.method == "batchRunReports"
    assert call.property == PROPERTY
    assert [[m["name"] for m in r["metrics"]] for r in call.body["requests"]] == [
        ["sessions"], ["keyEvents"]]
    flt = call.body["requests"][0]["dimensionFilter"]["filter"]
    assert flt["fieldName"] == "sessionDefaultChannelGroup"
    assert flt["stringFilter"]["value"] == "Organic Search"
    assert out["organic"].points[0][1] == total(
        data, "sessions", CYCLE.start, CYCLE.end,
        lambda r: r["sessionDefaultChannelGroup"] == "Organic Search")
    assert out["all"].points[0][1] == total(data, "keyEvents", CYCLE.start, CYCLE.end)
    assert out["all"].info["quota_remaining"]["tokens_per_day"] == 200_000 - 10
    src.close()


def test_grpc_errors_are_classified_like_rest(grpc_fake: FakeGA4) -> None:
    src = grpc_source(grpc_fake)
    grpc_fake.fail(429, "Exhausted concurrent requests quota.")
    [res] = src.fetch([request(src, "a", {"metric": "sessions"})])
    assert isinstance(res, Failure)
    assert res.kind is FailureKind.TRANSIENT
    out = run(src, [request(src, "typo", {"metric": "sesions"}),
                    request(src, "ok", {"metric": "sessions"})])
    assert out["typo"].kind is FailureKind.PERMANENT
    assert "'sesions'" in out["typo"].message
    assert isinstance(out["ok"], Reading)
    src2 = grpc_source(grpc_fake, property="31337")
    [res] = src2.fetch([request(src2, "a", {"metric": "sessions"})])
    assert isinstance(res, Failure)
    assert res.kind is FailureKind.AUTH
    assert "Property access management" in res.message


def test_check_online_finds_unknown_names_and_suggests(fake: FakeGA4) -> None:
    src = source(fake)
    queries = [
        (key_result("ok"), {"metric": "customEvent:signup_value",
                            "filter": 'customEvent:plan_tier == "pro"'}),
        (key_result("typo"), {"metric": "sesions"}),
        (key_result("dim"), {"metric": "country"}),
        (key_result("flt"), {"metric": "sessions",
                             "filter": 'contry == "FR" and sessions == "3"'}),
        (key_result("bad"), {"metric": "sessions", "filter": "country =="}),  # offline problem
    ]
    problems = src.check_online(queries)
    assert [(kr, p.field) for kr, p in problems] == [
        ("typo", "metric"), ("dim", "metric"), ("flt", "filter"), ("flt", "filter")]
    text = [p.message for _, p in problems]
    assert text[0] == "property 1001 has no metric 'sesions' (did you mean 'sessions'?)"
    assert text[1] == "'country' is a dimension, not a metric"
    assert text[2] == "property 1001 has no dimension 'contry' (did you mean 'country'?)"
    assert text[3] == "'sessions' is a metric; filters take dimensions"
    [call] = fake.calls
    assert call.method == "getMetadata"
    assert call.path == f"/v1beta/properties/{PROPERTY}/metadata"
    assert src.calls["getMetadata"] == 1


def test_check_online_reports_access_problems_per_kr(fake: FakeGA4) -> None:
    src = source(fake, property="424242")
    problems = src.check_online([(key_result("a"), {"metric": "sessions"})])
    assert len(problems) == 1
    assert problems[0][0] == "a"
    assert "could not read the property's metadata" in problems[0][1].message
    assert "Property access management" in problems[0][1].message


def test_entry_point_and_registry() -> None:
    eps = importlib.metadata.entry_points(group="okrcore")
    assert any(ep.name == "ga4" and ep.value == "okrcore_ga4.plugin" for ep in eps)
    manager = PluginManager(load_entry_points=False)
    manager.load_module("okrcore_ga4.plugin")
    assert manager.sources.get("ga4") is GA4Source
