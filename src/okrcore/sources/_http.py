"""Helpers for sources that speak HTTP: a guarded requests session, pacing, Retry-After.

Import these from :mod:`okrcore.sources` (this module is its part; the names are public there).
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from okrcore.errors import FailureKind, FetchError

from ._contract import QueryProblem

if TYPE_CHECKING:
    import requests

    from okrcore.model import Connection


DEFAULT_MAX_RESPONSE_BYTES = 10_000_000
"""The most bytes of one decoded answer a source reads (``max_response_bytes`` per connection)."""

HTTP_SETTINGS = ("max_response_bytes", "allow_redirects_to")
"""Connection settings every HTTP source accepts (see :func:`http_session`); add them to the
source's known settings and check them with :func:`http_setting_problems`."""

# Headers that carry no credential: the only ones sent on to another origin.
_SAFE_HEADERS = frozenset({"user-agent", "accept", "accept-encoding", "connection"})
_MAX_REDIRECTS = 10


def http_session(
    user_agent: str, pool_size: int, *, connection: Connection | None = None
) -> requests.Session:
    """A requests session for one connection: a pool of ``pool_size``, our User-Agent, JSON,
    and the guards every HTTP source needs against a server that misbehaves:

    - a call's ``timeout`` bounds the whole call, connecting and reading the whole answer (a
      server that drips its answer fails at the timeout, as :class:`requests.ReadTimeout`);
      with a ``(connect, read)`` pair the larger number is the budget;
    - an answer is read up to ``max_response_bytes`` decoded bytes (default 10 MB, settable per
      connection); past it the call fails as a permanent :class:`FetchError` without inflating the
      rest (a gzip bomb costs at most the cap);
    - a redirect is followed only to the same scheme, host and port, or to an origin the
      connection lists in ``allow_redirects_to`` (``["https://api2.example.com"]``); then only
      headers that carry no credential go along. Any other redirect is a permanent
      :class:`FetchError`.

    urllib3 adds no retries of its own: retrying is the refresh engine's job (it backs off and
    honours Retry-After). Needs requests (the core's ``http`` extra, or the plugin's own
    dependency). The rules are in docs/plugins.md ("Servers that misbehave").
    """
    import requests.adapters

    settings = connection.settings if connection is not None else {}
    max_bytes = settings.get("max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES)
    allowed = settings.get("allow_redirects_to") or ()
    session = _guarded_session_class()()
    session.max_bytes = int(max_bytes)  # type: ignore[attr-defined]
    session.allowed_origins = frozenset(  # type: ignore[attr-defined]
        _origin(str(o)) for o in allowed
    )
    session.what = (  # type: ignore[attr-defined]
        f"connection {connection.name!r}" if connection is not None else "this source"
    )
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=1, pool_maxsize=max(1, pool_size), max_retries=0
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = user_agent
    session.headers["Accept"] = "application/json"
    return session


def http_setting_problems(settings: Mapping[str, Any]) -> list[QueryProblem]:
    """Problems with the :data:`HTTP_SETTINGS` of a connection (no I/O)."""
    problems = []
    size = settings.get("max_response_bytes")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        problems.append(QueryProblem("max_response_bytes",
                                     f"expected a whole number of bytes >= 1, got {size!r}"))
    allowed = settings.get("allow_redirects_to")
    if allowed is not None and (not isinstance(allowed, list) or not all(
        isinstance(o, str) and o.startswith(("http://", "https://")) for o in allowed
    )):
        problems.append(QueryProblem("allow_redirects_to",
                                     "expected a list of origins such as "
                                     "['https://api2.example.com']"))
    return problems


def _origin(url: str) -> tuple[str, str, int | None]:
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port if port is not None else default


def _budget(timeout: Any) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, tuple):
        numbers = [float(x) for x in timeout if x is not None]
        return max(numbers) if numbers else None
    return float(timeout)


@functools.cache
def _guarded_session_class() -> type[requests.Session]:
    """The session class, defined on first use so that importing this module stays cheap."""
    import urllib.parse

    import requests
    import urllib3.exceptions

    class GuardedSession(requests.Session):
        max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
        allowed_origins: frozenset[tuple[str, str, int | None]] = frozenset()
        what: str = "this source"

        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            budget = _budget(kwargs.pop("timeout", None))
            follow = kwargs.pop("allow_redirects", True)
            kwargs.pop("stream", None)
            deadline = None if budget is None else time.monotonic() + budget
            for _ in range(_MAX_REDIRECTS + 1):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise requests.ReadTimeout(f"no complete answer within {budget:g} s",
                                               request=request)
                response = super().send(request, stream=True, allow_redirects=False,
                                        timeout=left, **kwargs)
                if not (follow and response.is_redirect):
                    self._read_body(response, deadline, budget)
                    return response
                request = self._redirected(request, response)
            raise requests.TooManyRedirects(f"more than {_MAX_REDIRECTS} redirects",
                                            request=request)

        def _redirected(
            self, request: requests.PreparedRequest, response: requests.Response
        ) -> requests.PreparedRequest:
            location = response.headers.get("Location", "")
            target = urllib.parse.urljoin(str(request.url), location)
            response.close()
            here, there = _origin(str(request.url)), _origin(target)
            if there != here and there not in self.allowed_origins:
                shown = urllib.parse.urlunsplit((*urllib.parse.urlsplit(target)[:3], "", ""))
                raise FetchError(
                    FailureKind.PERMANENT,
                    f"the server redirected to {shown}, another scheme, host or port; not "
                    f"followed (list its origin in {self.what}'s allow_redirects_to to allow it; "
                    "credentials are never sent there)",
                )
            new = request.copy()
            new.url = target
            self.rebuild_method(new, response)
            if new.method == "GET" and request.method != "GET":
                new.body = None
                for name in ("Content-Length", "Content-Type", "Transfer-Encoding"):
                    new.headers.pop(name, None)
            if there != here:  # allowed, but no credential crosses origins
                for name in list(new.headers):
                    if name.lower() not in _SAFE_HEADERS:
                        del new.headers[name]
            return new

        def _read_body(
            self, response: requests.Response, deadline: float | None, budget: float | None
        ) -> None:
            raw = response.raw
            read = getattr(raw, "read1", None) or raw.read  # read1: return what has arrived
            chunks: list[bytes] = []
            size = 0
            try:
                while True:
                    if deadline is not None and time.monotonic() > deadline:
                        raise requests.ReadTimeout(
                            f"no complete answer within {budget:g} s", response=response
                        )
                    chunk = read(65536, decode_content=True)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FetchError(
                            FailureKind.PERMANENT,
                            f"the answer is larger than {self.max_bytes:,} bytes (the "
                            f"max_response_bytes of {self.what}); not read further",
                        )
                    chunks.append(chunk)
            except requests.RequestException:  # ours, above (an OSError too)
                raise
            except urllib3.exceptions.ReadTimeoutError:
                raise requests.ReadTimeout(f"no complete answer within {budget:g} s",
                                           response=response) from None
            except urllib3.exceptions.DecodeError as exc:
                raise requests.exceptions.ContentDecodingError(exc, response=response) from None
            except (urllib3.exceptions.ProtocolError, OSError) as exc:
                raise requests.ConnectionError(exc, response=response) from None
            finally:
                if size > self.max_bytes or (deadline is not None and
                                             time.monotonic() > deadline):
                    response.close()
            response._content = b"".join(chunks)
            response._content_consumed = True  # type: ignore[attr-defined]

    return GuardedSession


class Throttle:
    """Spaces calls at least ``1 / rate`` seconds apart, across threads; ``rate=None``: no limit.

    The engine paces each connection's fetch calls with one (``Limits.rate``). A source whose one
    fetch makes several remote calls (paging) paces those with its own, for the service's limit.
    """

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until the next call is allowed."""
        if not self._interval:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            self._sleep(start - now)


def could_not_connect(exc: BaseException) -> bool:
    """Whether a requests exception means no connection was made at all: refused, or a host
    name that does not resolve. Such a call got no answer, like one that hangs: a source marks
    its :class:`FetchError` ``timed_out``, so the engine retries it ``timeout_retries`` times
    (the service is down or the URL is wrong; waiting rarely mends either)."""
    import urllib3.exceptions

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # requests wraps urllib3's errors
        seen.add(id(current))
        if isinstance(current, urllib3.exceptions.NewConnectionError):
            return True
        reason = getattr(current, "reason", None)
        inner = current.args[0] if current.args else None
        current = reason if isinstance(reason, BaseException) else (
            inner if isinstance(inner, BaseException) else None)
    return False


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta seconds or an HTTP date (UTC when the
    date carries no zone). ``None`` when absent or unreadable; never negative."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import email.utils  # an HTTP date is rare, and email.utils is slow to import

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())
