"""Asana task-progress source for okrcore (source name ``asana``)."""

from __future__ import annotations

from ._version import __version__
from .source import AsanaSource

__all__ = ["AsanaSource", "__version__"]
