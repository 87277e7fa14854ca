"""The okrcore plugin module: registers every notifier of this distribution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from okrcore.hookspecs import hookimpl

from . import NOTIFIERS


@hookimpl
def okrcore_register_notifiers(register: Callable[[type[Any]], None]) -> None:
    for notifier in NOTIFIERS:
        register(notifier)
