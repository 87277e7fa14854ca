"""GA4 failures: the exceptions of the Data API client and google-auth as failure kinds and
messages that name the connection and say what to do."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Mapping

import attrs

from okrcore.errors import SourceError
from okrcore.sources import FailureKind

__all__ = [
    "Fail",
    "bad_field",
    "classify",
    "remote_message",
    "seconds_to_pacific_midnight",
]

PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")


@attrs.frozen
class Fail:
    """A failed report or call, before it is attributed to key results."""

    kind: FailureKind
    message: str
    retry_after: float | None = None
    timed_out: bool = False
    stop: bool = False
    """The failure stops the connection for the rest of the run (auth, daily quota)."""


def remote_message(exc: BaseException) -> str:
    msg = str(getattr(exc, "message", None) or exc)
    return re.sub(r"^(GET|POST) \S+: ", "", msg).strip()


_BAD_FIELD = (
    re.compile(r"[Ff]ield ([A-Za-z][\w:]*) is not a valid (?:metric|dimension)"),
    re.compile(r"(?:metric|dimension)s? ([A-Za-z][\w:]*) (?:is|are) not (?:valid|compatible)"),
    re.compile(r"[Ff]ield[ :]+'?([A-Za-z][\w:]*)'?"),
)


def bad_field(message: str) -> str | None:
    """The metric or dimension a 400 INVALID_ARGUMENT message names, if any."""
    for pattern in _BAD_FIELD:
        m = pattern.search(message)
        if m:
            return m.group(1).rstrip(".")
    return None


def seconds_to_pacific_midnight(now: dt.datetime) -> float:
    """Seconds until GA4's daily quota resets (midnight, Pacific time)."""
    local = now.astimezone(PACIFIC)
    tomorrow = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), PACIFIC)
    return max(1.0, (tomorrow - local).total_seconds())


def retry_hint(exc: BaseException) -> float | None:
    """The wait an error asks for: its Retry-After header or its retry_delay detail."""
    response = getattr(exc, "response", None)
    headers: Mapping[str, str] = getattr(response, "headers", None) or {}
    header = headers.get("Retry-After")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
    for detail in getattr(exc, "details", None) or ():
        delay = getattr(detail, "retry_delay", None)
        if delay is not None and hasattr(delay, "seconds"):
            return float(delay.seconds) + float(getattr(delay, "nanos", 0)) / 1e9
    return None


def classify(exc: BaseException, where: str, now: Callable[[], dt.datetime]) -> Fail:
    """An exception from the client or google-auth as a failure kind and message (``where``
    names the connection; ``now`` is the clock, for the daily quota's reset)."""
    from google.api_core import exceptions as gexc  # imported on a failure, not to list plugins
    from google.auth import exceptions as auth_exc

    remote = remote_message(exc)
    if isinstance(exc, gexc.TooManyRequests):  # ResourceExhausted (gRPC) is a subclass
        lowered = remote.lower()
        if "per day" in lowered or "daily" in lowered:
            wait = seconds_to_pacific_midnight(now())
            return Fail(FailureKind.QUOTA,
                        f"{where}: daily quota exhausted (429 RESOURCE_EXHAUSTED: {remote}); "
                        f"tokens return after midnight Pacific time, in about "
                        f"{wait / 3600:.1f} h", retry_after=wait, stop=True)
        wait_s = retry_hint(exc)
        if wait_s is None:
            wait_s = 1.0 if "concurrent" in lowered else 60.0
        return Fail(FailureKind.TRANSIENT, f"{where}: rate limited (429 RESOURCE_EXHAUSTED: "
                                           f"{remote})", retry_after=wait_s)
    if isinstance(exc, gexc.Unauthorized):  # Unauthenticated (gRPC)
        return Fail(FailureKind.AUTH, f"{where}: 401 UNAUTHENTICATED: {remote}. Hint: the "
                    "credentials are invalid or expired; check the service-account key", stop=True)
    if isinstance(exc, gexc.Forbidden):  # PermissionDenied (gRPC)
        lowered = remote.lower()
        if "has not been used" in lowered or "disabled" in lowered:
            hint = ("enable the Google Analytics Data API in the service account's Google "
                    "Cloud project (APIs & Services > Library)")
        else:
            hint = ("add the service account's e-mail (client_email in the key file) to the "
                    "GA4 property as a Viewer (Admin > Property access management), and "
                    "check that 'property' is the numeric property id, not a G- measurement id")
        return Fail(FailureKind.AUTH, f"{where}: 403 PERMISSION_DENIED: {remote}. Hint: {hint}",
                    stop=True)
    if isinstance(exc, auth_exc.InvalidOperation) and "nonymous" in str(exc):
        return Fail(FailureKind.AUTH, f"{where}: the server answered 401 Unauthorized and "
                    "anonymous: true has no credentials to offer; drop anonymous and set "
                    "credentials", stop=True)
    if isinstance(exc, auth_exc.TransportError):
        return Fail(FailureKind.TRANSIENT, f"{where}: cannot reach the token server: {exc}")
    if isinstance(exc, auth_exc.DefaultCredentialsError):
        return Fail(FailureKind.AUTH, f"{where}: no usable credentials ({exc}). Hint: set "
                    "'credentials' to a service-account key (or env:NAME), or set up "
                    "Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS or "
                    "gcloud auth application-default login)", stop=True)
    if isinstance(exc, (auth_exc.GoogleAuthError, SourceError)):
        return Fail(FailureKind.AUTH, f"{where}: credentials: {exc}", stop=True)
    if isinstance(exc, gexc.BadRequest):  # InvalidArgument (gRPC)
        field = bad_field(remote)
        named = f" (field {field!r})" if field else ""
        return Fail(FailureKind.PERMANENT,
                    f"{where}: GA4 rejected the report{named} (400 INVALID_ARGUMENT): {remote}")
    if isinstance(exc, gexc.NotFound):
        return Fail(FailureKind.PERMANENT, f"{where}: 404 NOT_FOUND: {remote}. Hint: check "
                                           "the property id")
    if isinstance(exc, (gexc.ServerError, gexc.DeadlineExceeded, gexc.RetryError,
                        gexc.ServiceUnavailable, TimeoutError, ConnectionError)):
        return Fail(FailureKind.TRANSIENT, f"{where}: {type(exc).__name__}: {remote}",
                    timed_out=isinstance(exc, (gexc.DeadlineExceeded, TimeoutError)))
    if is_network_error(exc):
        return Fail(FailureKind.TRANSIENT, f"{where}: network error: {type(exc).__name__}: "
                                           f"{remote}", timed_out=is_timeout(exc))
    if isinstance(exc, gexc.GoogleAPICallError):
        return Fail(FailureKind.PERMANENT, f"{where}: {type(exc).__name__}: {remote}")
    return Fail(FailureKind.PERMANENT, f"{where}: unexpected {type(exc).__name__}: {remote}")


def is_network_error(exc: BaseException) -> bool:
    try:
        import requests
    except ImportError:  # pragma: no cover - requests comes with google-auth[requests]
        return False
    return isinstance(exc, (requests.ConnectionError, requests.Timeout))


def is_timeout(exc: BaseException) -> bool:
    try:
        import requests
    except ImportError:  # pragma: no cover - requests comes with google-auth[requests]
        return False
    return isinstance(exc, requests.Timeout)
