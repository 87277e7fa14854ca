"""Salesforce metric source for okrcore (source name ``salesforce``)."""

from __future__ import annotations

from ._version import __version__
from .source import SalesforceSource

__all__ = ["SalesforceSource", "__version__"]
