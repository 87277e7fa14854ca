"""The HTTP edge: one pooled requests session per connection, and header parsing."""

from __future__ import annotations

import email.utils
import time

import requests
from requests.adapters import HTTPAdapter

__all__ = ["make_session", "parse_retry_after"]


def make_session(user_agent: str, pool_size: int) -> requests.Session:
    """A session with a connection pool of ``pool_size``, no hidden retries, and our User-Agent.

    Retries are the refresh engine's job (it honours Retry-After), so urllib3 must not add its own.
    """
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, pool_size), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = user_agent
    session.headers["Accept"] = "application/json"
    return session


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date); ``None`` if absent."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
