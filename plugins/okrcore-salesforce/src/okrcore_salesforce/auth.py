"""How one Salesforce connection authenticates: a referenced bearer token or an OAuth flow.

The OAuth client-credentials and refresh-token flows post to ``/services/oauth2/token``
(:meth:`okrcore.sources.HttpSource.oauth_token`); the source reads a new token only when
Salesforce answers that the session expired.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["FLOWS", "flow_of", "token_form"]

FLOWS = ("token", "client_credentials", "refresh_token")


def flow_of(settings: Mapping[str, Any]) -> str:
    """The connection's flow: ``auth``, else the one its credentials imply."""
    if "auth" in settings:
        return str(settings["auth"])
    if "access_token" in settings:
        return "token"
    if "refresh_token" in settings:
        return "refresh_token"
    return "client_credentials"


def token_form(flow: str, secrets: Mapping[str, str | None]) -> dict[str, str]:
    """The form body posted to the token endpoint for ``flow`` (absent values left out)."""
    form = {"grant_type": flow, "client_id": secrets["client_id"]}
    if secrets.get("client_secret"):
        form["client_secret"] = secrets["client_secret"]
    if flow == "refresh_token":
        form["refresh_token"] = secrets["refresh_token"]
    return {key: value for key, value in form.items() if value}
