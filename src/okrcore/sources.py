"""The metric-source contract: what a plugin implements to feed key-result actuals.

A source is a class registered through the ``okrcore_register_sources`` hook. okrcore creates one
instance per connection (``Source(connection)``), validates each key result's ``source`` mapping
with :meth:`Source.validate_query` when a plan is linted, and during a refresh hands the instance
batches of :class:`FetchRequest` to :meth:`Source.fetch`, which yields one :class:`Reading` or
:class:`Failure` per request. The refresh engine does the rest: grouping by connection, batching
within :attr:`Limits.max_batch`, concurrency and rate limits, retries with backoff, storing.

This module is public and stable; plugins import from it (``from okrcore.sources import ...``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from .errors import (  # re-exported: part of this contract
    FailureKind,
    FetchError,
    SourceError,
    ValidationError,
)
from .model import Connection, Cycle, KeyResult, Measure

if TYPE_CHECKING:
    import requests

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "HTTP_SETTINGS",
    "REDACTED",
    "Failure",
    "FailureKind",
    "FetchError",
    "FetchRequest",
    "Limits",
    "QueryProblem",
    "Reading",
    "Scrubber",
    "Source",
    "Throttle",
    "http_session",
    "http_setting_problems",
    "is_secret_reference",
    "parse_retry_after",
    "positive_number_problems",
    "resolve_secret",
    "unknown_keys",
]


@attrs.frozen
class Limits:
    """What a source (per connection) allows the engine to do.

    ``max_batch``: most requests handed to one :meth:`Source.fetch` call. ``concurrency``: most
    ``fetch`` calls in flight at once on one connection. ``rate``: most ``fetch`` calls per second
    on one connection (``None``: no limit).
    """

    max_batch: int = 1
    concurrency: int = 4
    rate: float | None = None

    def __attrs_post_init__(self) -> None:
        if self.max_batch < 1 or self.concurrency < 1:
            raise ValidationError("max_batch and concurrency must be >= 1")
        if self.rate is not None and self.rate <= 0:
            raise ValidationError("rate must be > 0 requests per second")


@attrs.frozen
class FetchRequest:
    """One key result's value to fetch.

    ``start``..``end`` is the date window (both inclusive; ``end`` is normally ``as_of``). With
    ``series`` the source returns one point per day of the window; without, one total (for a
    cumulative measure: the sum over the window; for a gauge: the current level, dated ``end``,
    or, from sources that keep history, the latest reading in the window dated the day it was
    measured, so that an old reading is never stored as a fresh one).
    ``query`` is the key result's ``source`` mapping without ``connection``.
    """

    kr: KeyResult
    query: Mapping[str, Any]
    connection: Connection
    cycle: Cycle
    start: dt.date
    end: dt.date
    as_of: dt.date
    series: bool = False

    @property
    def measure(self) -> Measure:
        """The key result's measure (gauge or cumulative)."""
        return self.kr.measure

    @property
    def key(self) -> tuple[str, dt.date, dt.date, bool]:
        """Identifies the request within a run."""
        return (self.kr.id, self.start, self.end, self.series)


def _points(value: Iterable[tuple[dt.date, float]]) -> tuple[tuple[dt.date, float], ...]:
    return tuple(value)


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class Reading:
    """A successful answer: ``points`` are ``(day, value)`` pairs; a total has one, at ``end``.

    ``warnings`` are shown in the run log and reports (sampled data, thresholding); ``info`` is
    free-form detail for the run log (remaining quota, API usage).
    """

    request: FetchRequest
    points: tuple[tuple[dt.date, float], ...] = attrs.field(converter=_points)
    unit: str | None = None
    warnings: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    info: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def total(cls, request: FetchRequest, value: float, **kw: Any) -> Reading:
        """A single value for the request's window, dated at its end."""
        return cls(request, ((request.end, value),), **kw)


@attrs.frozen
class Failure:
    """A failed request: its kind, a message naming the remote error, and when to retry.

    ``timed_out`` marks a transient failure where the service gave no (complete) answer within
    the timeout: the engine retries those fewer times (``timeout_retries``), since a service that
    hangs once is likely to hang again.
    """

    request: FetchRequest
    kind: FailureKind = attrs.field(converter=FailureKind)
    message: str
    retry_after: float | None = None
    timed_out: bool = attrs.field(default=False, kw_only=True)


@attrs.frozen
class QueryProblem:
    """A problem with a key result's ``source`` mapping, found by :meth:`Source.validate_query`.

    ``field`` is the key inside the mapping (``"filter"``), or ``""`` for the mapping as a whole.
    """

    field: str
    message: str


class Source:
    """Base class of metric sources. Subclass it, set :attr:`name`, implement :meth:`fetch`.

    Sources are synchronous; the engine runs them in threads within :meth:`limits`.
    """

    name: ClassVar[str] = ""
    """The name plans use in a connection's ``plugin`` key."""

    timeout: float | None = None
    """Seconds one remote call may take. The refresh engine sets it on the instance before the
    first :meth:`fetch` (``refresh(timeout=...)``); ``None`` means the source's own default."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def secret(self, setting: str) -> str | None:
        """The secret a connection setting references, or ``None`` when the setting is absent.

        Reads ``env:NAME`` or ``file:PATH`` (relative to the plan's folder) with
        :func:`resolve_secret`; a :class:`~okrcore.SourceError` names the connection and the
        setting, never the secret.
        """
        base = Path(self.connection.base_dir) if self.connection.base_dir else None
        return resolve_secret(self.connection.settings.get(setting), base=base,
                              what=f"connection {self.connection.name!r} {setting}")

    def limits(self) -> Limits:
        """Limits for this connection; override to read them from settings."""
        return Limits()

    @classmethod
    def validate_connection(cls, connection: Connection) -> list[QueryProblem]:
        """Problems with a connection's settings, found without any I/O. Default: none."""
        return []

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        """Problems with a key result's ``source`` mapping, found without any I/O. Default: none."""
        return []

    def check_online(
        self, queries: Sequence[tuple[KeyResult, Mapping[str, Any]]]
    ) -> list[tuple[str, QueryProblem]]:
        """Check queries against the live service (metric names, custom fields...).

        Used by ``okr lint --online``; returns ``(kr_id, problem)`` pairs. Default: no online check.
        """
        return []

    def batches(self, requests: Sequence[FetchRequest]) -> list[list[FetchRequest]]:
        """Split one connection's requests into batches for :meth:`fetch`.

        The default cuts them in order into chunks of ``limits().max_batch``; override to group
        requests that one remote call can answer together.
        """
        size = self.limits().max_batch
        return [list(requests[i : i + size]) for i in range(0, len(requests), size)]

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterable[Reading | Failure]:
        """Fetch a batch; yield exactly one Reading or Failure per request, in any order.

        Never raise for a remote error: classify it as a :class:`Failure`. An exception that escapes
        is reported as a permanent failure of every request of the batch.

        The default calls :meth:`fetch_one` for each request, turning a :class:`FetchError` into
        that request's failure; override ``fetch`` instead when one remote call answers a batch.
        """
        for request in requests:
            try:
                yield self.fetch_one(request)
            except FetchError as error:
                yield error.failure(request)

    def fetch_one(self, request: FetchRequest) -> Reading:
        """Fetch one request (used by the default :meth:`fetch`); raise :class:`FetchError`."""
        raise NotImplementedError(f"{type(self).__name__} implements neither fetch nor fetch_one")

    def close(self) -> None:
        """Release sessions and pools. Called once when the refresh is done."""


def is_secret_reference(value: Any) -> bool:
    """True for ``env:NAME`` or ``file:PATH``: the only ways a plan may name a secret."""
    return isinstance(value, str) and value.startswith(("env:", "file:"))


def unknown_keys(
    mapping: Mapping[str, Any], known: Iterable[str], what: str = "setting"
) -> list[QueryProblem]:
    """A problem for each key of ``mapping`` not in ``known`` (a typo), naming the known ones."""
    allowed = set(known)
    return [
        QueryProblem(key, f"unknown {what} {key!r} (known: {', '.join(sorted(allowed))})")
        for key in mapping
        if key not in allowed
    ]


def resolve_secret(value: Any, *, what: str = "secret", base: Path | None = None) -> str | None:
    """Read a secret that a connection references, never one written inline.

    ``env:NAME`` reads the environment variable NAME; ``file:PATH`` reads a file (relative paths are
    relative to ``base``, the plan's folder); ``None`` stays ``None``. Anything else is refused, so
    that a pasted token never works by accident. The error names the reference, never its value.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        kind = type(value).__name__
        raise SourceError(f"{what}: expected 'env:NAME' or 'file:PATH', got a {kind}")
    if value.startswith("env:"):
        name = value[4:]
        secret = os.environ.get(name)
        if not secret:
            raise SourceError(f"{what}: environment variable {name} is not set")
        return secret
    if value.startswith("file:"):
        path = Path(value[5:]).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SourceError(f"{what}: cannot read {path}: {exc.strerror}") from None
    raise SourceError(
        f"{what}: secrets are never written in the plan; use 'env:NAME' or 'file:PATH'"
    )


REDACTED = "[secret]"
"""What :class:`Scrubber` puts where a secret was."""


class Scrubber:
    """Removes a connection's secrets from text that leaves a source (errors, warnings).

    It knows every secret the connection's settings reference (``env:NAME``, ``file:PATH``, at
    any depth, e.g. inside ``headers``) and finds each one as written, URL-encoded, base64-encoded,
    escaped as Python shows it in a ``repr`` (a newline as ``\\n``), and line by line. The
    refresh engine and ``okr lint --online`` pass every failure message through it, so no service
    that echoes a credential can put it in the output, the run log, the store or a report. Call
    it: ``scrub(text)``.
    """

    MIN_LENGTH = 4  # shorter "secrets" would blank out ordinary words

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._forms: set[str] = set()
        for secret in secrets:
            self.add(secret)

    @classmethod
    def for_connection(cls, connection: Connection) -> Scrubber:
        """A scrubber for the secrets ``connection``'s settings reference (those that can be read;
        one that cannot is reported elsewhere and never sent)."""
        base = Path(connection.base_dir) if connection.base_dir else None
        scrubber = cls()
        for reference in _references(connection.settings):
            try:
                value = resolve_secret(reference, base=base)
            except SourceError:
                continue
            if value:
                scrubber.add(value)
        return scrubber

    def add(self, secret: str) -> None:
        """Also remove ``secret`` (and its encoded forms)."""
        import base64
        import urllib.parse

        raw = secret.encode("utf-8", "surrogateescape")
        forms = {
            secret,
            repr(secret)[1:-1],
            urllib.parse.quote(secret, safe=""),
            urllib.parse.quote_plus(secret),
            base64.b64encode(raw).decode(),
            base64.b64encode(raw).decode().rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("="),
            *secret.splitlines(),
        }
        self._forms |= {f.strip() for f in forms if len(f.strip()) >= self.MIN_LENGTH}
        for part in _secret_fields(secret):  # a key file: its secret fields one by one
            self.add(part)

    def __call__(self, text: str) -> str:
        for form in sorted(self._forms, key=len, reverse=True):
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def __bool__(self) -> bool:
        return bool(self._forms)


_SECRET_FIELD = re.compile(r"secret|private_key|refresh_token|access_token|password",
                           re.IGNORECASE)


def _secret_fields(secret: str) -> list[str]:
    """The secret values inside a JSON key file (a service account's ``private_key``...)."""
    if not secret.lstrip().startswith("{"):
        return []
    try:
        data = json.loads(secret)
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    return [v for k, v in data.items()
            if isinstance(v, str) and _SECRET_FIELD.search(str(k)) and v != secret]


def _references(value: Any) -> Iterable[str]:
    if is_secret_reference(value):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _references(item)


# -- helpers for sources that speak HTTP --------------------------------------------------------


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


def positive_number_problems(
    settings: Mapping[str, Any], keys: Iterable[str]
) -> list[QueryProblem]:
    """A problem for each of ``keys`` that is set but is not a positive number (no I/O)."""
    return [
        QueryProblem(key, f"{key} must be a positive number")
        for key in keys
        if (value := settings.get(key)) is not None
        and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0)
    ]


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
