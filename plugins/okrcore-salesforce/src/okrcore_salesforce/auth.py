"""Access tokens of one Salesforce connection: a referenced bearer token or an OAuth flow.

The OAuth client-credentials and refresh-token flows post to ``/services/oauth2/token``; the
token is cached for the connection and replaced only when a request found it expired.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs

__all__ = ["FLOWS", "Credentials", "TokenCache"]

FLOWS = ("token", "client_credentials", "refresh_token")


@attrs.frozen
class Credentials:
    """A token and the instance URL the token endpoint named (``None`` for a static token)."""

    access_token: str
    instance_url: str | None = None


class TokenCache:
    """Thread-safe cache around a ``fetch_token`` function.

    ``fetch_token`` gets a token (static or from the OAuth endpoint). :meth:`renew` replaces the
    cached token unless another thread already did so after the caller's stale token was handed
    out, so a burst of 401s costs one token request, not one per thread.
    """

    def __init__(self, fetch_token: Callable[[], Credentials], *, renewable: bool) -> None:
        self._fetch = fetch_token
        self.renewable = renewable
        self._lock = threading.Lock()
        self._current: Credentials | None = None

    def get(self) -> Credentials:
        """The cached credentials, fetching them on first use."""
        with self._lock:
            if self._current is None:
                self._current = self._fetch()
            return self._current

    def renew(self, stale: Credentials) -> Credentials:
        """Fresh credentials after ``stale`` was refused."""
        with self._lock:
            if self._current is None or self._current == stale:
                self._current = self._fetch()
            return self._current


def token_form(flow: str, secrets: Mapping[str, str | None]) -> dict[str, Any]:
    """The form body posted to the token endpoint for ``flow``."""
    form: dict[str, Any] = {"grant_type": flow, "client_id": secrets["client_id"]}
    if secrets.get("client_secret"):
        form["client_secret"] = secrets["client_secret"]
    if flow == "refresh_token":
        form["refresh_token"] = secrets["refresh_token"]
    return form
