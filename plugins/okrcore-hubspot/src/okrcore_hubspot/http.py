"""The HTTP edge: one pooled requests session per connection, a request throttle, header parsing."""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable

import requests
from requests.adapters import HTTPAdapter

__all__ = ["Throttle", "make_session", "parse_retry_after"]


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


class Throttle:
    """Spaces calls at least ``1/rate`` seconds apart, across threads (a paced token stream).

    The engine's rate limit counts ``fetch`` calls; one fetch may page through many search calls,
    so the search endpoint's own per-second limit is enforced here as well.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until the next call is allowed."""
        with self._lock:
            now = self._clock()
            at = max(now, self._next)
            self._next = at + self._interval
        if at > now:
            self._sleep(at - now)


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
