"""HubSpot CRM metric source for okrcore (source name ``hubspot``)."""

from __future__ import annotations

from ._version import __version__
from .source import HubSpotSource

__all__ = ["HubSpotSource", "__version__"]
