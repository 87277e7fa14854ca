"""okrcore's loggers: standard :mod:`logging` loggers (``okrcore`` and its children), made once the
application has imported :mod:`logging`.

A library logs only where the application asks it to, so the ``okrcore`` logger carries a
``NullHandler`` and nothing else: until the application imports :mod:`logging` (to configure a
handler, or through ``okr -v``), no record of okrcore's can reach anyone. Importing
:mod:`logging` with what it needs (traceback, string, threading) would cost every cron script
about 5 ms of start-up for records nobody can see; so a :class:`Logger` asks :mod:`logging` for
the real logger only once the application has imported it, and drops a record before that.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

ROOT = "okrcore"
DEBUG, INFO, WARNING = 10, 20, 30  # logging's own values


class Logger:
    """A named logger that forwards to ``logging.getLogger(name)`` once :mod:`logging` is imported
    (records before that have no handler to go to; see the module's docstring)."""

    __slots__ = ("_real", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._real: logging.Logger | None = None

    def __repr__(self) -> str:
        return f"<okrcore logger {self.name}>"

    def real(self) -> logging.Logger | None:
        """The standard logger, or None while the application has not imported :mod:`logging`."""
        if self._real is None:
            logging = sys.modules.get("logging")
            if logging is None:
                return None
            quiet()
            self._real = logging.getLogger(self.name)
        return self._real

    def _log(self, level: int, message: str, args: tuple[Any, ...]) -> None:
        logger = self.real()
        if logger is not None and logger.isEnabledFor(level):
            # stacklevel 3: the record names okrcore's caller, not this class
            logger.log(level, message, *args, stacklevel=3)

    def debug(self, message: str, *args: Any) -> None:
        self._log(DEBUG, message, args)

    def info(self, message: str, *args: Any) -> None:
        self._log(INFO, message, args)

    def warning(self, message: str, *args: Any) -> None:
        self._log(WARNING, message, args)


def quiet() -> None:
    """Give the ``okrcore`` logger its ``NullHandler`` (once) if :mod:`logging` is imported:
    without it, the last-resort handler would print okrcore's warnings on stderr of every
    embedding program (Python's logging HOWTO)."""
    logging = sys.modules.get("logging")
    if logging is None:
        return
    root = logging.getLogger(ROOT)
    if not any(isinstance(h, logging.NullHandler) for h in root.handlers):
        root.addHandler(logging.NullHandler())


def get_logger(name: str) -> Logger:
    """The logger of an okrcore module (``get_logger(__name__)``)."""
    return Logger(name)
