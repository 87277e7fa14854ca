"""Entry point of the ``okrcore-ga4`` distribution: registers the ``ga4`` source."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from okrcore.hookspecs import hookimpl

from .source import GA4Source


@hookimpl
def okrcore_register_sources(register: Callable[[type[Any]], None]) -> None:
    """Register :class:`~okrcore_ga4.source.GA4Source` under the name ``ga4``."""
    register(GA4Source)
