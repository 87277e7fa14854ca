"""The okrcore entry point of this distribution: registers the ``sheets`` source."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from okrcore.hookspecs import hookimpl

from .source import SheetsSource


@hookimpl
def okrcore_register_sources(register: Callable[[type[Any]], None]) -> None:
    """Register :class:`SheetsSource` under the name ``sheets``."""
    register(SheetsSource)
