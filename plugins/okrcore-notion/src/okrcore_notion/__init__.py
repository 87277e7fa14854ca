"""Notion task-progress source for okrcore (source name ``notion``)."""

from __future__ import annotations

from ._version import __version__
from .source import NotionSource

__all__ = ["NotionSource", "__version__"]
