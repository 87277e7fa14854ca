"""The okrcore entry point of this distribution: registers the ``notion`` source."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from okrcore.hookspecs import hookimpl

from .source import NotionSource


@hookimpl
def okrcore_register_sources(register: Callable[[type[Any]], None]) -> None:
    """Register :class:`NotionSource` under the name ``notion``."""
    register(NotionSource)
