"""Exceptions raised by okrcore.

Every exception a user can act on derives from :class:`OkrError`; its message is meant to be shown
as is (the command line prints it without a traceback).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs


class OkrError(Exception):
    """Base class of every error okrcore raises on purpose."""


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


class PlanError(OkrError):
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


class StoreNotFoundError(StoreError, FileNotFoundError):
    """A store opened with ``create=False`` does not exist (a mistyped ``--store`` URL)."""
