"""The Meta Graph API's wire details: dates of daily values, usage headers, throttling and error
codes (classified into okrcore failure kinds)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from okrcore.sources import FailureKind, FetchError

if TYPE_CHECKING:  # imported where it is used, so that listing plugins stays fast
    import requests

__all__ = ["THROTTLE_CODES", "day_of", "graph_error", "regain_seconds", "usage_of"]

THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
_USAGE_HEADERS = ("X-App-Usage", "X-Page-Usage", "X-Business-Use-Case-Usage")


def day_of(end_time: Any) -> dt.date | None:
    """The day a daily value covers: its ``end_time`` (the next Pacific midnight) minus a day."""
    if not isinstance(end_time, str):
        return None
    try:
        stamp = dt.datetime.strptime(end_time, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None
    return stamp.astimezone(dt.timezone.utc).date() - dt.timedelta(days=1)


def usage_of(response: requests.Response) -> dict[str, Any]:
    """The usage headers of an answer (how close the app, page or business is to throttling)."""
    out: dict[str, Any] = {}
    for name in _USAGE_HEADERS:
        raw = response.headers.get(name)
        if raw:
            try:
                out[name.lower()] = json.loads(raw)
            except ValueError:
                out[name.lower()] = raw
    return out


def regain_seconds(usage: Mapping[str, Any]) -> float | None:
    """Seconds until access returns, from X-Business-Use-Case-Usage (given in minutes)."""
    buc = usage.get("x-business-use-case-usage")
    minutes = []
    if isinstance(buc, Mapping):
        for entries in buc.values():
            for entry in entries if isinstance(entries, list) else []:
                if not isinstance(entry, Mapping):
                    continue
                value = entry.get("estimated_time_to_regain_access")
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                    minutes.append(float(value))
    return max(minutes) * 60.0 if minutes else None


def graph_error(status: int, body: Any, usage: Mapping[str, Any]) -> FetchError:
    """Classify a Graph API error by ``error.code`` (the HTTP status is usually just 400)."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping):
        kind = FailureKind.TRANSIENT if status >= 500 or status == 429 else FailureKind.PERMANENT
        return FetchError(kind, f"Graph API answered {status} without an error body")
    code = error.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else -1
    subcode = error.get("error_subcode")
    label = (
        f"Graph API error {code}{f'/{subcode}' if subcode else ''} "
        f"({error.get('type', 'error')}): {error.get('message', 'no message')}"
    )
    if code in THROTTLE_CODES:
        return FetchError(FailureKind.TRANSIENT, f"{label} (rate limited)", regain_seconds(usage))
    if code == 190:
        return FetchError(FailureKind.AUTH, f"{label} (the access token is expired or invalid)")
    if code == 10 or 200 <= code <= 299:
        return FetchError(FailureKind.AUTH, f"{label} (the token lacks a permission)")
    if code in (1, 2) or error.get("is_transient") is True or status >= 500:
        return FetchError(FailureKind.TRANSIENT, label)
    return FetchError(FailureKind.PERMANENT, label)
