"""Built-in sources, registered through the okrcore hooks: ``manual``, ``file``, ``http_json``
and ``sql`` (one module each; shared helpers in ``_common``), and the ``sources`` check that
validates every key result's source binding.

Query keys of each source are documented in docs/plugins.md ("Built-in sources").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from okrcore.checks import Check
from okrcore.errors import MissingExtra  # importable from here before it moved to errors
from okrcore.hookspecs import hookimpl

from .check import check_sources
from .file import FileSource
from .http_json import HttpJsonSource
from .manual import ManualSource
from .sql import SqlSource

__all__ = [
    "FileSource",
    "HttpJsonSource",
    "ManualSource",
    "MissingExtra",
    "SqlSource",
    "check_sources",
]


@hookimpl
def okrcore_register_sources(register: Callable[[type[Any]], None]) -> None:
    """Register the built-in sources."""
    for cls in (ManualSource, FileSource, HttpJsonSource, SqlSource):
        register(cls)


@hookimpl
def okrcore_register_checks(register: Callable[[Any], None]) -> None:
    """Register the ``sources`` check (code prefix ``SRC``)."""
    register(Check("sources", "SRC", check_sources,
                   "source bindings name a known connection, plugin and a valid query"))
