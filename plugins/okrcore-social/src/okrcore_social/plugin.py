"""The okrcore entry point of this distribution: registers facebook, instagram and youtube."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from okrcore.hookspecs import hookimpl

from .graph import FacebookSource, InstagramSource
from .youtube import YouTubeSource


@hookimpl
def okrcore_register_sources(register: Callable[[type[Any]], None]) -> None:
    """Register the ``facebook``, ``instagram`` and ``youtube`` sources."""
    register(FacebookSource)
    register(InstagramSource)
    register(YouTubeSource)
