"""Connection settings of the ``ga4`` source, and the Data API client built from them."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from okrcore.errors import SourceError
from okrcore.model import Connection
from okrcore.sources import QueryProblem, resolve_secret

if TYPE_CHECKING:  # the client library (grpc, google-auth) is imported when a client is made
    from google.analytics.data_v1beta import BetaAnalyticsDataClient

__all__ = ["SCOPE", "GA4Settings", "make_client", "parse_settings"]

SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
SETTING_KEYS = (
    "property",
    "credentials",
    "endpoint",
    "anonymous",
    "transport",
    "concurrency",
    "page_size",
    "quota_reserve",
    "timeout",
    "settle_days",
)
IGNORED_KEYS = ("plugin", "name")
DEFAULT_CONCURRENCY = 4  # GA4 allows 10 concurrent requests per property; leave room for others
DEFAULT_PAGE_SIZE = 10_000
DEFAULT_RESERVE = {"hourly": 1_000, "daily": 5_000}


@attrs.frozen
class GA4Settings:
    """A validated ``ga4`` connection."""

    property_id: str
    credentials: str | None = None
    endpoint: str | None = None
    anonymous: bool = False
    transport: str = "grpc"
    concurrency: int = DEFAULT_CONCURRENCY
    page_size: int = DEFAULT_PAGE_SIZE
    reserve_hourly: int = DEFAULT_RESERVE["hourly"]
    reserve_daily: int = DEFAULT_RESERVE["daily"]
    timeout: float | None = None  # None: the refresh's timeout, else 60 s
    settle_days: int = 1
    base_dir: str | None = None

    @property
    def property_name(self) -> str:
        """``properties/{id}``, as the API wants it."""
        return f"properties/{self.property_id}"


def _int(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


def parse_settings(connection: Connection) -> tuple[GA4Settings | None, list[QueryProblem]]:
    """Validate a connection's settings without any I/O."""
    s: Mapping[str, Any] = connection.settings
    problems: list[QueryProblem] = []

    def bad(field: str, message: str) -> None:
        problems.append(QueryProblem(field, message))

    for key in s:
        if key == "settings":
            bad("settings", "ga4 settings sit next to 'plugin' in the connection, not under "
                            "'settings:'")
        elif key not in SETTING_KEYS and key not in IGNORED_KEYS:
            bad(str(key), f"unknown ga4 setting (allowed: {', '.join(SETTING_KEYS)})")
    raw = s.get("property")
    prop = str(raw).strip() if isinstance(raw, (str, int)) and not isinstance(raw, bool) else ""
    prop = prop.removeprefix("properties/")
    if not prop:
        bad("property", "the GA4 property id is required (a number such as 123456789)")
    elif prop.upper().startswith(("G-", "UA-")):
        bad("property", f"{prop!r} is a measurement/tracking id; the property id is the number "
                        "under Admin > Property settings")
    elif not re.fullmatch(r"\d+", prop):
        bad("property", f"{prop!r} is not a GA4 property id (digits only)")
    creds = s.get("credentials")
    if creds is not None and (not isinstance(creds, str) or not creds.strip()):
        bad("credentials", "credentials is a service-account key path, env:NAME or file:PATH")
    endpoint = connection.endpoint or s.get("endpoint")
    if endpoint is not None and not isinstance(endpoint, str):
        bad("endpoint", "endpoint is a base URL such as http://127.0.0.1:8080")
        endpoint = None
    anonymous = s.get("anonymous", False)
    if not isinstance(anonymous, bool):
        bad("anonymous", "anonymous is true or false")
    elif anonymous and not endpoint:
        bad("anonymous", "anonymous: true is only allowed together with an endpoint (emulators)")
    elif anonymous and creds is not None:
        bad("anonymous", "give either anonymous: true or credentials, not both")
    transport = s.get("transport", "grpc")
    if transport not in ("grpc", "rest"):
        bad("transport", "transport is grpc or rest")
    concurrency = _int(s.get("concurrency", DEFAULT_CONCURRENCY), 1, 50)
    if concurrency is None:
        bad("concurrency", "concurrency is a whole number from 1 to 50 (GA4 allows 10, 360: 50)")
    page_size = _int(s.get("page_size", DEFAULT_PAGE_SIZE), 1, 250_000)
    if page_size is None:
        bad("page_size", "page_size is a whole number from 1 to 250000")
    reserve = s.get("quota_reserve", {})
    hourly = daily = None
    if not isinstance(reserve, Mapping) or set(reserve) - {"hourly", "daily"}:
        bad("quota_reserve", "quota_reserve is {hourly: TOKENS, daily: TOKENS}")
    else:
        hourly = _int(reserve.get("hourly", DEFAULT_RESERVE["hourly"]), 0, 10**9)
        daily = _int(reserve.get("daily", DEFAULT_RESERVE["daily"]), 0, 10**9)
        if hourly is None or daily is None:
            bad("quota_reserve", "reserved tokens are whole numbers >= 0")
    timeout = s.get("timeout")
    if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        bad("timeout", "timeout is a number of seconds > 0")
    settle = _int(s.get("settle_days", 1), 0, 7)
    if settle is None:
        bad("settle_days", "settle_days is a whole number of days from 0 to 7")
    if problems:
        return None, problems
    assert settle is not None
    assert concurrency is not None
    assert page_size is not None
    assert hourly is not None
    assert daily is not None
    return GA4Settings(
        property_id=prop,
        credentials=creds,
        endpoint=endpoint.rstrip("/") if endpoint else None,
        anonymous=bool(anonymous),
        transport=str(transport),
        concurrency=concurrency,
        page_size=page_size,
        reserve_hourly=hourly,
        reserve_daily=daily,
        timeout=None if timeout is None else float(timeout),
        settle_days=settle,
        base_dir=connection.base_dir,
    ), []


def _credentials(settings: GA4Settings) -> Any:
    """Credentials from the settings; ``None`` means Application Default Credentials."""
    from google.auth.credentials import AnonymousCredentials

    if settings.anonymous:
        return AnonymousCredentials()  # type: ignore[no-untyped-call]
    ref = settings.credentials
    if ref is None:
        return None
    base = Path(settings.base_dir) if settings.base_dir else None
    if ref.startswith(("env:", "file:")):
        # env:NAME may hold the key's JSON or its path; file:PATH reads the key file itself.
        value = resolve_secret(ref, what="ga4 credentials", base=base) or ""
        origin = ref
    else:
        value, origin = ref, ref  # a plain path: not a secret itself
    if not value.lstrip().startswith("{"):
        path = Path(value).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        if not path.is_file():
            raise SourceError(f"ga4 credentials: no service-account key file at {path}")
        value, origin = path.read_text(encoding="utf-8"), str(path)
    try:
        info = json.loads(value)
    except ValueError:
        raise SourceError(f"ga4 credentials ({origin}): not valid JSON") from None
    return _load(info, origin)


def _load(info: Any, origin: str) -> Any:
    """Only the two key types a GA4 reader needs are accepted (no arbitrary external configs)."""
    kind = info.get("type") if isinstance(info, dict) else None
    try:
        if kind == "service_account":
            from google.oauth2 import service_account

            sa: Any = service_account.Credentials
            return sa.from_service_account_info(info, scopes=[SCOPE])
        if kind == "authorized_user":
            from google.oauth2 import credentials as user_credentials

            user: Any = user_credentials.Credentials
            return user.from_authorized_user_info(info, scopes=[SCOPE])
    except (ValueError, KeyError) as exc:
        raise SourceError(f"ga4 credentials ({origin}): unusable {kind} key: {exc}") from None
    raise SourceError(
        f"ga4 credentials ({origin}): type {kind!r} is not supported; use a service_account "
        "or authorized_user key, or omit credentials for Application Default Credentials"
    )


def make_client(settings: GA4Settings) -> BetaAnalyticsDataClient:
    """A Data API client for the connection (may raise google.auth errors or SourceError)."""
    from google.analytics.data_v1beta import BetaAnalyticsDataClient
    from google.analytics.data_v1beta.services.beta_analytics_data.transports import (
        BetaAnalyticsDataGrpcTransport,
    )

    creds = _credentials(settings)
    endpoint = settings.endpoint
    if not endpoint:
        return BetaAnalyticsDataClient(credentials=creds, transport=settings.transport)
    if settings.transport == "rest":
        # the REST transport keeps an explicit http:// or https:// scheme
        return BetaAnalyticsDataClient(
            credentials=creds, transport="rest", client_options={"api_endpoint": endpoint}
        )
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    target = parts.netloc
    if parts.scheme == "http":
        # plaintext gRPC: local emulators only; no credentials can travel over it
        import grpc  # type: ignore[import-untyped]

        channel = grpc.insecure_channel(target)
        return BetaAnalyticsDataClient(transport=BetaAnalyticsDataGrpcTransport(channel=channel))
    return BetaAnalyticsDataClient(
        credentials=creds, transport="grpc", client_options={"api_endpoint": target}
    )
