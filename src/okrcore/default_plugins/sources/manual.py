"""The ``manual`` source: values come only from ``okr checkin``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from okrcore.sources import Failure, FailureKind, FetchRequest, Reading, Source

__all__ = ["ManualSource"]


class ManualSource(Source):
    """Values come only from ``okr checkin``; the engine never fetches a manual key result."""

    name = "manual"

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterable[Reading | Failure]:
        for r in requests:
            yield Failure(r, FailureKind.PERMANENT, "a manual key result is never fetched")
