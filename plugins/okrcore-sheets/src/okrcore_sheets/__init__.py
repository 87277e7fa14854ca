"""Google Sheets source for okrcore (source name ``sheets``)."""

from __future__ import annotations

from ._version import __version__
from .source import SheetsSource

__all__ = ["SheetsSource", "__version__"]
