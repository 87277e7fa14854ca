"""A base class for sources that read one HTTP API with requests (work trackers, CRMs...).

Import it from :mod:`okrcore.sources` (this module is its part; the names are public there).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from okrcore.errors import FailureKind, FetchError, SourceError

from ._contract import Limits, QueryProblem, Source, positive_number_problems, unknown_keys
from ._http import (
    HTTP_SETTINGS,
    Throttle,
    could_not_connect,
    http_session,
    http_setting_problems,
    parse_retry_after,
)
from ._secrets import is_secret_reference

if TYPE_CHECKING:
    import requests

    from okrcore.model import Connection

PACING_SETTINGS = ("requests_per_second", "concurrency", "timeout")
"""The connection settings every :class:`HttpSource` reads (positive numbers)."""


@attrs.frozen
class Credentials:
    """What authenticates every call of a connection: headers (``Authorization``) and query
    parameters (services such as Trello take ``key`` and ``token`` there), and the base URL of
    the calls when authenticating names it (an OAuth token answer's ``instance_url``): then it
    replaces the source's ``endpoint``."""

    headers: Mapping[str, str] = attrs.field(factory=dict)
    params: Mapping[str, str] = attrs.field(factory=dict)
    endpoint: str | None = None


class HttpSource(Source):
    """A source that calls one HTTP API: the connection set-up, pacing and failure rules that
    every such source needs, written once. Subclass it, set the class attributes, implement
    :meth:`credentials` and :meth:`error`, and make remote calls with :meth:`call`,
    :meth:`call_object` or :meth:`call_list` from ``fetch``.

    Per connection it reads ``endpoint`` (default :attr:`default_endpoint`), and the settings
    ``requests_per_second`` (default :attr:`default_rate`), ``concurrency`` (default
    :attr:`default_concurrency`) and ``timeout`` (seconds; default the engine's ``timeout``,
    else :attr:`default_timeout`). Each call:

    - is sent on one :func:`http_session` per connection (a pool of ``concurrency``, the
      ``max_response_bytes`` and ``allow_redirects_to`` guards), built at the first call and
      closed by :meth:`close`, to the :class:`Credentials`' ``endpoint`` when they name one,
      else to ``endpoint``; :meth:`credentials` is read once, at the first call;
    - when :meth:`credentials_expired` says an answer refused the credentials as expired (an
      OAuth access token past its life), reads :meth:`credentials` again (once for all the
      calls refused the same credentials) and is sent once more with the new ones; an answer
      that refuses those too goes to :meth:`error`;
    - is paced at ``requests_per_second`` (a source's one fetch may make many calls: paging),
      and waits while a ``Retry-After`` the service sent on this connection runs (its limits
      count per token, not per call);
    - after a failure of kind ``auth``, is not sent at all: every later call of the connection
      in the run fails at once as ``auth``, ``not sent: <the first error>``;
    - fails as a transient :class:`FetchError` when the service does not answer within the
      timeout (``timed_out``: "<service> did not answer within 30 s"), when no connection can
      be made (``timed_out`` too, so the engine retries it ``timeout_retries`` times: "cannot
      reach <endpoint>: no connection (refused, or an unknown host)"; see
      :func:`could_not_connect`) or when the connection breaks ("cannot reach <endpoint>:
      ConnectionError"); any answer other than 200 is classified by :meth:`error`.

    :meth:`validate_connection` checks the settings above, :data:`HTTP_SETTINGS`, the
    :attr:`extra_settings` and that each of :attr:`secrets` is an ``env:``/``file:`` reference.
    :meth:`limits` hands the engine batches of up to 1,000 requests, ``concurrency`` at a time,
    unpaced (the source paces its own calls); override :meth:`batches` to group requests one
    remote read answers.
    """

    service: ClassVar[str] = ""
    """The service's name in messages (``"Asana"``)."""
    user_agent: ClassVar[str] = "okrcore"
    """The User-Agent of every call (``"okrcore-asana/1.0.0"``)."""
    default_endpoint: ClassVar[str] = ""
    """The API's base URL; a connection's ``endpoint`` overrides it."""
    default_rate: ClassVar[float | None] = None
    """Remote calls per second on one connection, under the service's documented limit."""
    default_concurrency: ClassVar[int] = 2
    """Fetch calls in flight at once on one connection."""
    default_timeout: ClassVar[float] = 30.0
    """Seconds one call may take when neither the connection nor the engine sets a timeout."""
    secrets: ClassVar[tuple[tuple[str, str], ...]] = ()
    """The settings that name a secret, each with what it holds, for the lint message
    (``(("token", "an Asana access token"),)``)."""
    extra_settings: ClassVar[tuple[str, ...]] = ()
    """The source's other connection settings (``("site", "email")``)."""

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        settings = connection.settings
        self.endpoint = str(connection.endpoint or self.default_endpoint).rstrip("/")
        self.concurrency = int(settings.get("concurrency", self.default_concurrency))
        configured = settings.get("timeout")
        self._configured_timeout = float(configured) if configured is not None else None
        rate = settings.get("requests_per_second", self.default_rate)
        self._throttle = Throttle(float(rate) if rate is not None else None)
        self._lock = threading.Lock()
        self._session: requests.Session | None = None
        self._credentials: Credentials | None = None
        self._credentials_lock = threading.Lock()  # held while reading them (may call out)
        self._auth_error: str | None = None
        self._hold_until = 0.0

    # -- what a subclass provides -----------------------------------------------------------

    def credentials(self) -> Credentials:
        """The headers and parameters that authenticate every call, read once per connection.

        Read secrets with :meth:`required_secret`; raise :class:`FetchError` (kind ``auth``, or
        ``permanent`` for a setting that makes no call possible).
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement credentials")

    def error(self, response: requests.Response, what: str) -> FetchError:
        """Classify an answer other than 200 (kind, message naming the remote error, and the
        ``retry_after`` of a transient one); ``what`` names what was asked for."""
        raise NotImplementedError(f"{type(self).__name__} does not implement error")

    def credentials_expired(self, response: requests.Response) -> bool:
        """Whether an answer other than the call's ``ok`` refused the credentials as expired, so
        that reading :meth:`credentials` again gives ones that work (an OAuth access token past
        its life). Then :meth:`call` renews them and repeats itself once. Default: never."""
        return False

    # -- the contract -----------------------------------------------------------------------

    @property
    def call_timeout(self) -> tuple[float, float]:
        """(connect, read) seconds: the connection's ``timeout``, else the engine's, else
        :attr:`default_timeout`; connecting gets at most 10 s of it."""
        seconds = self._configured_timeout or self.timeout or self.default_timeout
        return (min(10.0, seconds), seconds)

    def limits(self) -> Limits:
        """Batches of up to 1,000 requests, ``concurrency`` at once; the source paces its own
        calls (one fetch reads pages)."""
        return Limits(max_batch=1000, concurrency=self.concurrency, rate=None)

    @classmethod
    def validate_connection(cls, connection: Connection) -> list[QueryProblem]:
        """Known settings only, secrets as references, positive numbers, the HTTP settings."""
        settings = connection.settings
        known = (*(k for k, _ in cls.secrets), *cls.extra_settings, *PACING_SETTINGS,
                 *HTTP_SETTINGS)
        problems = unknown_keys(settings, known)
        problems += http_setting_problems(settings)
        for key, holding in cls.secrets:
            if not is_secret_reference(settings.get(key)):
                problems.append(QueryProblem(
                    key, f"set {key} to 'env:NAME' or 'file:PATH' holding {holding}"))
        problems += positive_number_problems(settings, PACING_SETTINGS)
        return problems

    def close(self) -> None:
        """Close the connection pool."""
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    # -- calls ------------------------------------------------------------------------------

    def required_secret(self, setting: str) -> str:
        """The secret ``setting`` references; a :class:`FetchError` of kind ``auth`` when it is
        absent or cannot be read (naming the setting, never the secret)."""
        try:
            value = self.secret(setting)
        except SourceError as exc:
            raise FetchError(FailureKind.AUTH, str(exc)) from None
        if not value:
            raise FetchError(FailureKind.AUTH, f"connection {self.connection.name!r} has no "
                                               f"{setting} (set {setting}: env:NAME or file:PATH)")
        return value

    def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        ok: Collection[int] = (200,),
    ) -> requests.Response:
        """One paced call of ``endpoint + path`` (the credentials' ``endpoint`` when they name
        one); the answer when its status is one of ``ok`` (200 unless told, e.g. ``(200, 404)``
        to read "no such thing" as an answer), else a classified FetchError."""
        session, credentials = self._client()
        renewed = False
        while True:
            with self._lock:
                hold = self._hold_until - time.monotonic()
            if hold > 0:  # another call was told to wait: the service counts per token
                time.sleep(hold)
            self._throttle.wait()
            base = (credentials.endpoint or self.endpoint).rstrip("/")
            response = self._send(
                session, method, f"{base}{path}", shown=base,
                params={**(params or {}), **credentials.params},
                json=json, headers=dict(credentials.headers),
            )
            if response.status_code in ok:
                return response
            if renewed or not self.credentials_expired(response):
                break
            credentials, renewed = self._renewed(credentials), True
        error = self.error(response, what)
        with self._lock:
            if error.kind is FailureKind.AUTH:
                self._auth_error = self._auth_error or error.message
            if error.retry_after and error.kind is FailureKind.TRANSIENT:
                self._hold_until = max(self._hold_until, time.monotonic() + error.retry_after)
        raise error

    def call_object(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> Mapping[str, Any]:
        """:meth:`call`, answered by a JSON object (else a transient FetchError)."""
        answer = _decoded(self.call(method, path, what=what, params=params, json=json))
        if not isinstance(answer, Mapping):
            raise FetchError(FailureKind.TRANSIENT, f"{self.service} answered 200 for {what} "
                                                    "with a body that is not a JSON object")
        return answer

    def call_list(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> list[Mapping[str, Any]]:
        """:meth:`call`, answered by a JSON array of objects (else a transient FetchError)."""
        answer = _decoded(self.call(method, path, what=what, params=params, json=json))
        if not isinstance(answer, list) or not all(isinstance(a, Mapping) for a in answer):
            raise FetchError(FailureKind.TRANSIENT,
                             f"{self.service} answered {what} without a list of objects")
        return answer

    def oauth_token(self, url: str, form: Mapping[str, str], *, what: str) -> Mapping[str, Any]:
        """Ask an OAuth 2.0 token endpoint for an access token (RFC 6749, section 5), for
        :meth:`credentials`: post ``form`` (``grant_type`` and the client's fields) to ``url``
        on the connection's session, without credentials and unpaced, and return the JSON
        answer, which holds ``access_token``. No answer fails as in :meth:`call` (naming
        ``url``); a refusal, or an answer without ``access_token``, as "<service> token endpoint
        <status> <error>: <error_description> (<what>)": transient for 429 and 5xx, else
        ``auth``."""
        response = self._send(self._pool(), "POST", url, shown=url.partition("?")[0],
                              data=dict(form))
        answer = _decoded(response)
        answer = answer if isinstance(answer, Mapping) else {}
        status = response.status_code
        if status == 200 and answer.get("access_token"):
            return answer
        label = (f"{self.service} token endpoint {status} {answer.get('error') or response.reason}"
                 f": {answer.get('error_description') or 'no description'} ({what})")
        if status == 429 or status >= 500:
            raise FetchError(FailureKind.TRANSIENT, label,
                             parse_retry_after(response.headers.get("Retry-After")))
        raise FetchError(FailureKind.AUTH, label)

    def _send(
        self, session: requests.Session, method: str, url: str, *, shown: str, **kwargs: Any
    ) -> requests.Response:
        """One request within :attr:`call_timeout`; no answer, or a broken one, is a transient
        FetchError naming ``shown`` (never the query string: some services take keys there)."""
        import requests

        try:
            return session.request(method, url, timeout=self.call_timeout, **kwargs)
        except requests.Timeout:
            raise FetchError(
                FailureKind.TRANSIENT,
                f"{self.service} did not answer within {self.call_timeout[1]:g} s",
                timed_out=True,
            ) from None
        except requests.RequestException as exc:
            if could_not_connect(exc):  # no answer, like a hang: retried timeout_retries times
                raise FetchError(
                    FailureKind.TRANSIENT,
                    f"cannot reach {shown}: no connection (refused, or an unknown host)",
                    timed_out=True,
                ) from None
            raise FetchError(
                FailureKind.TRANSIENT, f"cannot reach {shown}: {type(exc).__name__}"
            ) from None

    def _pool(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                self._session = http_session(self.user_agent, self.concurrency,
                                             connection=self.connection)
            return self._session

    def _client(self) -> tuple[requests.Session, Credentials]:
        with self._lock:
            if self._auth_error is not None:
                raise FetchError(FailureKind.AUTH, f"not sent: {self._auth_error}")
        session = self._pool()
        with self._credentials_lock:
            if self._credentials is None:
                self._credentials = self.credentials()
            return session, self._credentials

    def _renewed(self, stale: Credentials) -> Credentials:
        """New credentials after ``stale`` expired, unless another call renewed them already."""
        with self._credentials_lock:
            if self._credentials is None or self._credentials is stale:
                self._credentials = None  # should reading them fail, the next call tries again
                self._credentials = self.credentials()
            return self._credentials


def _decoded(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
