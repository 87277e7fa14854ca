"""Every error class through the real client: kinds, messages, hints, and what is not sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from fake_ga4 import FakeGA4
from ga4_helpers import NOW, PROPERTY, request, run, source

from okrcore.sources import Failure, FailureKind, FetchRequest, Reading

if TYPE_CHECKING:
    from okrcore_ga4 import GA4Source

NOT_ON_PROPERTY = "User does not have sufficient permissions for this property."


def single_days(src: GA4Source, n: int, metric: str = "sessions") -> list[FetchRequest]:
    return [request(src, f"k{d}", {"metric": metric, "date_range": {
        "start": f"2026-01-{d:02d}", "end": f"2026-01-{d:02d}"}}) for d in range(1, n + 1)]


def test_unknown_metric_names_field_and_kr_and_the_rest_still_arrive(fake: FakeGA4) -> None:
    src = source(fake)
    out = run(src, [
        request(src, "good", {"metric": "sessions"}),
        request(src, "typo", {"metric": "sesions"}),
        request(src, "also-good", {"metric": "keyEvents"}),
    ])
    bad = out["typo"]
    assert isinstance(bad, Failure)
    assert bad.kind is FailureKind.PERMANENT
    assert "key result 'typo'" in bad.message
    assert "'sesions'" in bad.message
    assert "400 INVALID_ARGUMENT" in bad.message
    assert isinstance(out["good"], Reading)
    assert isinstance(out["also-good"], Reading)
    # the first report was refused whole; the second asks only for the valid metrics
    assert [[m["name"] for m in c.body["metrics"]] for c in fake.calls] == [
        ["sessions", "sesions", "keyEvents"], ["sessions", "keyEvents"]]


def test_unknown_filter_dimension_fails_only_its_kr(fake: FakeGA4) -> None:
    src = source(fake)
    out = run(src, [request(src, "a", {"metric": "sessions", "filter": 'contry == "FR"'}),
                    request(src, "b", {"metric": "sessions"})])
    assert out["a"].kind is FailureKind.PERMANENT
    assert "'contry'" in out["a"].message
    assert isinstance(out["b"], Reading)


def test_unattributable_400_in_a_batch_is_isolated_report_by_report(fake: FakeGA4) -> None:
    src = source(fake)
    fake.fail(400, "Request contains an invalid argument.", times=2)
    out = run(src, single_days(src, 2))
    assert [c.method for c in fake.calls] == ["batchRunReports", "runReport", "runReport"]
    assert out["k1"].kind is FailureKind.PERMANENT
    assert "Request contains an invalid argument." in out["k1"].message
    assert isinstance(out["k2"], Reading)


def test_403_is_auth_with_hint_and_stops_the_connection(fake: FakeGA4) -> None:
    src = source(fake, property="999")  # a property the service account cannot see
    first = next(iter(src.fetch(single_days(src, 1))))
    assert isinstance(first, Failure)
    assert first.kind is FailureKind.AUTH
    assert NOT_ON_PROPERTY in first.message
    assert "Property access management" in first.message
    assert "numeric property id" in first.message
    again = cast(list[Failure], list(src.fetch(single_days(src, 2))))
    assert {r.kind for r in again} == {FailureKind.AUTH}
    assert len(fake.calls) == 1  # nothing more was sent


def test_403_api_disabled_hint(fake: FakeGA4) -> None:
    fake.fail(403, "Google Analytics Data API has not been used in project 42 before or it is "
                   "disabled.")
    src = source(fake)
    [res] = src.fetch(single_days(src, 1))
    assert isinstance(res, Failure)
    assert res.kind is FailureKind.AUTH
    assert "enable the Google Analytics Data API" in res.message


def test_401_with_anonymous_credentials_is_auth_not_a_crash(fake: FakeGA4) -> None:
    fake.require_token = "real-token"
    src = source(fake)
    [res] = src.fetch(single_days(src, 1))
    assert isinstance(res, Failure)
    assert res.kind is FailureKind.AUTH
    assert "anonymous: true has no credentials" in res.message


@pytest.fixture(autouse=True)
def _no_access_boundary_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    # google-auth looks up a service account's "regional access boundary" at
    # iamcredentials.googleapis.com in a background thread: keep tests off the internet.
    from google.auth.credentials import CredentialsWithRegionalAccessBoundary

    monkeypatch.setattr(CredentialsWithRegionalAccessBoundary,
                        "_is_regional_access_boundary_lookup_required", lambda self: False)


def jwt_claims(header: str) -> dict[str, Any]:
    import base64

    payload = header.removeprefix("Bearer ").split(".")[1]
    padded = payload + "=" * (-len(payload) % 4)
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return claims


def service_account_key(fake: FakeGA4, tmp_path: Path) -> Path:
    """A real service-account key (fresh RSA key); its token endpoint is the fake."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    key = {"type": "service_account", "project_id": "p", "private_key_id": "kid",
           "private_key": pem, "client_email": "okr-reader@p.iam.gserviceaccount.com",
           "client_id": "1", "token_uri": f"{fake.url}/token"}
    path = tmp_path / "key.json"
    path.write_text(json.dumps(key))
    return path


def test_credentials_file_sends_a_bearer_token(fake: FakeGA4, tmp_path: Path) -> None:
    path = service_account_key(fake, tmp_path)
    src = source(fake, anonymous=False, credentials=f"file:{path}")
    [res] = src.fetch(single_days(src, 1))
    assert isinstance(res, Reading)
    # the client signs a JWT with the key (self-signed JWT access, no token exchange)
    claims = jwt_claims(fake.calls[0].headers["authorization"])
    assert claims["iss"] == "okr-reader@p.iam.gserviceaccount.com"
    assert claims["scope"] == "https://www.googleapis.com/auth/analytics.readonly"


def test_credentials_from_env_json_and_relative_path(
    fake: FakeGA4, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = service_account_key(fake, tmp_path)
    monkeypatch.setenv("GA4_KEY_JSON", path.read_text())
    src = source(fake, anonymous=False, credentials="env:GA4_KEY_JSON")
    assert isinstance(next(iter(src.fetch(single_days(src, 1)))), Reading)
    assert jwt_claims(fake.calls[-1].headers["authorization"])["sub"].startswith("okr-reader@")
    from okrcore_ga4 import GA4Source

    from okrcore.model import Connection
    conn = Connection("ga", "ga4", settings={"property": PROPERTY, "credentials": "key.json",
                                             "transport": "rest"},
                      endpoint=fake.url, base_dir=str(tmp_path))
    assert isinstance(next(iter(GA4Source(conn).fetch(single_days(src, 1)))), Reading)


def test_401_with_real_credentials_is_auth(fake: FakeGA4, tmp_path: Path) -> None:
    path = service_account_key(fake, tmp_path)
    fake.require_token = "another-token"
    src = source(fake, anonymous=False, credentials=str(path))
    [res] = src.fetch(single_days(src, 1))
    assert isinstance(res, Failure)
    assert res.kind is FailureKind.AUTH
    assert "401 UNAUTHENTICATED" in res.message
    assert "Request had invalid authentication credentials." in res.message


def test_missing_key_file_and_missing_adc_are_auth(
    fake: FakeGA4, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = source(fake, anonymous=False, credentials=str(tmp_path / "nope.json"))
    [res] = src.fetch(single_days(src, 1))
    assert isinstance(res, Failure)
    assert res.kind is FailureKind.AUTH
    assert "no service-account key file at" in res.message
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing-adc.json"))
    src = source(fake, anonymous=False)
    [res] = src.fetch(single_days(src, 1))
    assert isinstance(res, Failure)
    assert res.kind is FailureKind.AUTH
    assert "Application Default Credentials" in res.message
    monkeypatch.delenv("NOT_SET_GA4", raising=False)
    src = source(fake, anonymous=False, credentials="env:NOT_SET_GA4")
    [res] = src.fetch(single_days(src, 1))
    assert isinstance(res, Failure)
    assert res.kind is FailureKind.AUTH
    assert "NOT_SET_GA4 is not set" in res.message
    assert fake.calls == []


@pytest.mark.parametrize(
    ("message", "headers", "retry_after"),
    [
        ("Exhausted property tokens per hour.", {}, 60.0),
        ("Exhausted property tokens for a project per hour.", {"Retry-After": "7"}, 7.0),
        ("Exhausted concurrent requests quota.", {}, 1.0),
        ("Exhausted potentially thresholded requests quota.", {}, 60.0),
    ],
)
def test_429_hourly_and_concurrent_are_transient(
    fake: FakeGA4, message: str, headers: dict[str, str], retry_after: float
) -> None:
    fake.fail(429, message, headers=headers)
    src = source(fake)
    [res] = src.fetch(single_days(src, 1))
    assert isinstance(res, Failure)
    assert res.kind is FailureKind.TRANSIENT
    assert res.retry_after == retry_after
    assert message in res.message
    [res] = src.fetch(single_days(src, 1))  # transient: the next try is sent and succeeds
    assert isinstance(res, Reading)


def test_429_daily_is_quota_until_pacific_midnight_and_stops(fake: FakeGA4) -> None:
    fake.set_quota(PROPERTY, day=0)
    src = source(fake)
    [res] = src.fetch(single_days(src, 1))
    assert isinstance(res, Failure)
    assert res.kind is FailureKind.QUOTA
    assert "Exhausted property tokens per day" in res.message
    # NOW is 2026-04-15 12:00 UTC = 05:00 PDT: 19 hours to midnight Pacific
    assert res.retry_after == 19 * 3600
    assert "19.0 h" in res.message
    again = cast(list[Failure], list(src.fetch(single_days(src, 3))))
    assert {r.kind for r in again} == {FailureKind.QUOTA}
    assert len(fake.calls) == 1


def test_hourly_tokens_exhausted_on_the_server_is_transient(fake: FakeGA4) -> None:
    fake.set_quota(PROPERTY, hour=0)
    src = source(fake)
    [res] = src.fetch(single_days(src, 1))
    assert isinstance(res, Failure)
    assert res.kind is FailureKind.TRANSIENT


def test_low_daily_tokens_stop_sending_mid_refresh(fake: FakeGA4) -> None:
    # 5 tokens per report; reserve 5000: after the third report only 4997 are left.
    fake.set_quota(PROPERTY, day=5_012)
    src = source(fake)
    reqs = single_days(src, 6)
    results = [next(iter(src.fetch([r]))) for r in reqs]
    kinds = [type(r).__name__ if isinstance(r, Reading) else r.kind.value for r in results]
    assert kinds == ["Reading", "Reading", "Reading", "quota", "quota", "quota"]
    assert len(fake.calls) == 3
    assert isinstance(results[2], Reading)
    assert results[2].info["quota_remaining"]["tokens_per_day"] == 4_997
    assert isinstance(results[3], Failure)
    msg = results[3].message
    assert "4997 daily tokens left, below the reserve of 5000 (quota_reserve.daily)" in msg
    assert results[3].retry_after == 19 * 3600


def test_low_hourly_tokens_stop_within_a_batch(fake: FakeGA4) -> None:
    fake.set_quota(PROPERTY, hour=2_000)  # per-project-per-hour = 35% = 700 < 1000 at once
    src = source(fake)
    results = list(src.fetch(single_days(src, 8)))  # two calls: 5 reports + 3 reports
    assert sum(isinstance(r, Reading) for r in results) == 5
    quota = [r for r in results if isinstance(r, Failure)]
    assert len(quota) == 3
    assert all(r.kind is FailureKind.QUOTA for r in quota)
    assert "hourly tokens left" in quota[0].message
    assert len(fake.calls) == 1
    minutes = NOW.minute
    assert quota[0].retry_after == (60 - minutes) * 60


def test_reserve_is_configurable(fake: FakeGA4) -> None:
    fake.set_quota(PROPERTY, hour=2_000)
    src = source(fake, quota_reserve={"hourly": 100, "daily": 0})
    assert all(isinstance(r, Reading) for r in src.fetch(single_days(src, 8)))


@pytest.mark.parametrize(("status", "message"), [(500, "Internal error encountered."),
                                                 (503, "The service is currently unavailable.")])
def test_server_errors_are_transient(fake: FakeGA4, status: int, message: str) -> None:
    fake.fail(status, message)
    src = source(fake)
    [res] = src.fetch(single_days(src, 1))
    assert isinstance(res, Failure)
    assert res.kind is FailureKind.TRANSIENT
    assert message in res.message


def test_unreachable_endpoint_is_transient(fake: FakeGA4) -> None:
    src = source(fake)
    fake.stop()
    [res] = src.fetch(single_days(src, 1))
    assert isinstance(res, Failure)
    assert res.kind is FailureKind.TRANSIENT
    assert "property 1001" in res.message


def test_misconfigured_connection_fails_every_request_permanently(fake: FakeGA4) -> None:
    src = source(fake, property="G-12345")
    [res] = src.fetch(single_days(src, 1))
    assert isinstance(res, Failure)
    assert res.kind is FailureKind.PERMANENT
    assert "measurement/tracking id" in res.message
    assert fake.calls == []


def test_404_is_permanent_with_a_property_hint(fake: FakeGA4) -> None:
    fake.fail(404, "Requested entity was not found.")
    src = source(fake)
    [res] = src.fetch(single_days(src, 1))
    assert isinstance(res, Failure)
    assert res.kind is FailureKind.PERMANENT
    assert "404 NOT_FOUND" in res.message
    assert "check the property id" in res.message


def test_nested_settings_mapping_gets_a_hint() -> None:
    from okrcore_ga4 import GA4Source

    from okrcore.model import Connection

    conn = Connection("ga", "ga4", settings={"settings": {"property": "1"}})
    fields = {p.field: p.message for p in GA4Source.validate_connection(conn)}
    assert "next to 'plugin'" in fields["settings"]
