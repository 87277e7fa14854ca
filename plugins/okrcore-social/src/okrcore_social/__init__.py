"""Social metric sources for okrcore: ``facebook``, ``instagram`` and ``youtube``."""

from __future__ import annotations

from ._version import __version__
from .graph import FacebookSource, InstagramSource
from .youtube import YouTubeSource

__all__ = ["FacebookSource", "InstagramSource", "YouTubeSource", "__version__"]
