"""Benchmark ranges: typical values of a metric (a conversion, click-through or bounce rate of a
channel) that plugins supply through the ``okrcore_register_benchmarks`` hook. The Achievable
check compares a key result's target with its benchmark when the key result has no history
(docs/checks.md, "Benchmarks")."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import attrs

from .errors import ValidationError
from .model import KeyResult

__all__ = ["Benchmark", "benchmark_for"]


@attrs.frozen
class Benchmark:
    """The typical range ``[low, high]`` of a metric, and where it comes from.

    ``name`` keys it (unique, e.g. ``"ctr:search"``); ``metric`` is the ``KeyResult.metric`` it
    applies to; ``source`` names the study or page the range comes from (findings cite it);
    ``unit`` is the unit of ``low`` and ``high`` (a key result in another unit is not compared).
    """

    name: str
    metric: str
    low: float
    high: float
    source: str
    unit: str = ""
    title: str = ""

    def __attrs_post_init__(self) -> None:
        for field in ("low", "high"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValidationError(f"benchmark {self.name!r}: {field} must be a number")
            if not math.isfinite(value):
                raise ValidationError(f"benchmark {self.name!r}: {field} must be finite")
        if self.low > self.high:
            raise ValidationError(f"benchmark {self.name!r}: low is above high")
        if not self.source.strip():
            raise ValidationError(f"benchmark {self.name!r} needs a source to cite")

    def outside(self, value: float, factor: float) -> str | None:
        """``"above"`` or ``"below"`` when ``value`` is beyond ``high * factor`` or below
        ``low / factor`` (far outside the range), else ``None``."""
        if value > self.high * factor:
            return "above"
        if value < self.low / factor:
            return "below"
        return None


def benchmark_for(
    kr: KeyResult, benchmarks: Iterable[Benchmark], bound: Mapping[str, str]
) -> Benchmark | None:
    """The benchmark of a key result: the one ``bound`` names for its id, else the only one for
    its ``metric`` in its unit (several, for several channels, need a binding)."""
    candidates = list(benchmarks)
    name = bound.get(kr.id)
    if name is not None:
        return next((b for b in candidates if b.name == name), None)
    if kr.metric is None:
        return None
    matching = [b for b in candidates if b.metric == kr.metric and b.unit == kr.unit]
    return matching[0] if len(matching) == 1 else None
