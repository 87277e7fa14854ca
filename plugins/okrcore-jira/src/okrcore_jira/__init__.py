"""Jira issue-progress source for okrcore (source name ``jira``)."""

from __future__ import annotations

from ._version import __version__
from .source import JiraSource

__all__ = ["JiraSource", "__version__"]
