"""Every exception okrcore raises on purpose, in one family under :class:`OkrError`.

Each class is also the matching builtin where there is one (a :class:`PlanError` is a
``ValueError``, a :class:`WrongTypeError` a ``TypeError``), so code that catches builtins keeps
working. Messages are meant to be shown as they are: the command line prints them without a
traceback (exit codes in docs/cli.md).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:  # the source contract sits above this module
    from okrcore.sources import Failure, FetchRequest

__all__ = [
    "AlignmentLoopError",
    "FailureKind",
    "FetchError",
    "FunnelError",
    "MissingExtra",
    "NoTasks",
    "NotifyError",
    "OkrError",
    "PlanError",
    "PluginError",
    "Problem",
    "SourceError",
    "StoreError",
    "ValidationError",
    "WrongTypeError",
]


class OkrError(Exception):
    """Base class of every error okrcore raises on purpose."""


class ValidationError(OkrError, ValueError):
    """A value the domain model cannot accept; ``field`` names it (``"CheckIn.confidence"``)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class WrongTypeError(ValidationError, TypeError):
    """A value of the wrong type where it enters the model (a string where a date belongs)."""


@attrs.frozen
class Problem:
    """One problem found in a plan: where it is and what was expected there.

    ``path`` is the field path (``objectives[1].key_results[0].target``); ``line`` and
    ``column`` are 1-based positions in the plan file when they are known.
    """

    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def describe(self, file: str | None = None) -> str:
        where = file or "<plan>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class PlanError(OkrError, ValueError):
    """A plan is unusable. Holds every problem found in one pass, not just the first."""

    def __init__(self, problems: Sequence[Problem], file: str | None = None) -> None:
        self.problems = tuple(problems)
        self.file = file
        lines = [p.describe(file) for p in self.problems]
        head = f"{len(lines)} problem(s) in {file or 'the plan'}:" if len(lines) > 1 else ""
        super().__init__("\n".join([head, *lines]) if head else (lines[0] if lines else "bad plan"))


class AlignmentLoopError(PlanError):
    """Objectives (or dependencies) align to each other in a loop; the message names the loop."""

    def __init__(
        self, loop: Sequence[str], what: str = "alignment", file: str | None = None
    ) -> None:
        self.loop = tuple(loop)
        chain = " -> ".join([*self.loop, self.loop[0]]) if self.loop else "?"
        super().__init__([Problem("", f"{what} loop: {chain}")], file)


class StoreError(OkrError):
    """A check-in store cannot be opened or used (bad URL, unknown scheme, corrupt database)."""


class PluginError(OkrError):
    """A plugin misbehaves: a duplicate registration, a bad registered object, an unknown name."""


class SourceError(OkrError):
    """A metric source cannot be configured (bad connection settings, missing secret)."""


class MissingExtra(SourceError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class FunnelError(OkrError, ValueError):
    """A what-if override cannot be used: an unknown step name or an impossible value."""


class NoTasks(OkrError, ValueError):
    """A share of done tasks was asked of no tasks: undefined, never zero (``okrcore.tasks``)."""


class NotifyError(OkrError):
    """Sending failed. The message names the channel and the platform's own error code.

    ``transient``: worth another try; ``retry_after``: seconds the platform asked to wait first
    (its Retry-After), or ``None``.
    """

    def __init__(
        self, message: str, *, transient: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


class FailureKind(str, enum.Enum):
    """Why a request failed, which decides what the engine does next."""

    TRANSIENT = "transient"
    """Worth retrying after a backoff (rate limit, 5xx, timeout, reset); see ``retry_after``."""
    AUTH = "auth"
    """Credentials missing, expired or refused: the engine stops that connection's work."""
    PERMANENT = "permanent"
    """The request itself is wrong (unknown metric, malformed query, bad value): never retried."""
    QUOTA = "quota"
    """A quota that resets later (a daily limit): not retried in this run."""
    DEADLINE = "deadline"
    """Set by the engine, not by sources: the run's deadline passed before an answer came."""


class FetchError(OkrError):
    """A classified failure raised inside a source, for the request being fetched.

    Raise it from :meth:`okrcore.sources.Source.fetch_one` (or any helper it calls); the default
    :meth:`~okrcore.sources.Source.fetch` turns it into that request's
    :class:`~okrcore.sources.Failure`.
    """

    def __init__(
        self,
        kind: FailureKind | str,
        message: str,
        retry_after: float | None = None,
        *,
        timed_out: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = FailureKind(kind)
        self.message = message
        self.retry_after = retry_after
        self.timed_out = timed_out

    def failure(self, request: FetchRequest) -> Failure:
        """This error as the failure of ``request``."""
        from okrcore.sources import Failure

        return Failure(request, self.kind, self.message, self.retry_after, timed_out=self.timed_out)


class StoreNotFoundError(StoreError, FileNotFoundError):
    """A store opened with ``create=False`` does not exist (a mistyped ``--store`` URL)."""
