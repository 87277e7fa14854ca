"""Trello card-progress source for okrcore (source name ``trello``)."""

from __future__ import annotations

from ._version import __version__
from .source import TrelloSource

__all__ = ["TrelloSource", "__version__"]
