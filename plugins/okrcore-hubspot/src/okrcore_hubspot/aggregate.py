"""Aggregation of HubSpot records: pure functions over parsed values (no I/O)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

__all__ = ["Acc", "parse_number", "record_day"]


@attrs.frozen
class Acc:
    """A mergeable summary of values: count of records, and sum/min/max of those with a value."""

    count: int = 0
    n: int = 0
    sum: float = 0.0
    min: float | None = None
    max: float | None = None

    def add(self, value: float | None) -> Acc:
        """This summary with one more record (``None``: the record has no value)."""
        if value is None:
            return attrs.evolve(self, count=self.count + 1)
        return Acc(
            self.count + 1,
            self.n + 1,
            self.sum + value,
            value if self.min is None else min(self.min, value),
            value if self.max is None else max(self.max, value),
        )

    def merge(self, other: Acc) -> Acc:
        """The summary of both sets of records."""
        lows = [v for v in (self.min, other.min) if v is not None]
        highs = [v for v in (self.max, other.max) if v is not None]
        return Acc(
            self.count + other.count,
            self.n + other.n,
            self.sum + other.sum,
            min(lows) if lows else None,
            max(highs) if highs else None,
        )

    def value(self, aggregate: str) -> float | None:
        """The aggregate's value; ``None`` when undefined (avg, min or max of nothing)."""
        if aggregate == "count":
            return float(self.count)
        if aggregate == "sum":
            return self.sum
        if aggregate == "avg":
            return self.sum / self.n if self.n else None
        if aggregate == "min":
            return self.min
        if aggregate == "max":
            return self.max
        raise ValueError(f"unknown aggregate {aggregate!r}")


def summarize(values: Iterable[float | None]) -> Acc:
    """The :class:`Acc` of many values."""
    acc = Acc()
    for value in values:
        acc = acc.add(value)
    return acc


def parse_number(raw: Any) -> float | None:
    """A property value as a number: HubSpot sends strings; empty means unset.

    Raises ValueError for text that is not a number.
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ValueError(repr(raw))
    if isinstance(raw, (int, float)):
        value = float(raw)
    else:
        text = str(raw).strip()
        if not text:
            return None
        value = float(text)  # ValueError for "abc"
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(repr(raw))
    return value


def record_day(raw: Any) -> dt.date | None:
    """The UTC day of a date or datetime property value (epoch ms, ISO 8601 or YYYY-MM-DD)."""
    if raw is None or raw == "":
        return None
    text = str(raw).strip()
    if text.lstrip("-").isdigit():
        return dt.datetime.fromtimestamp(int(text) / 1000, tz=dt.timezone.utc).date()
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.timezone.utc)
    return stamp.date()


def properties_of(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """A search result's ``properties`` mapping (empty when missing)."""
    props = record.get("properties")
    return props if isinstance(props, Mapping) else {}
