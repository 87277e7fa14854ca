"""Splitting one refresh into parts, deterministically and without any I/O.

A *unit* is a set of key results that one connection answers together: the source's own
:meth:`~okrcore.sources.Source.batches` (GA4 packs the reports of one property into one call), so a
split never costs extra requests. Units are packed into jobs (``split_jobs``) or dealt into static
shards (``shard``); the same plan, date and plugins give the same units on every machine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Sequence

import attrs

from okrcore.engine import refresh
from okrcore.errors import OkrError
from okrcore.model import Plan
from okrcore.plugins import PluginManager, default_manager
from okrcore.sources import FetchRequest, Source
from okrcore.store import MemoryStore

__all__ = ["Shard", "Unit", "plan_units", "shard", "split_jobs", "units_of"]


def _ids(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class Unit:
    """Key results of one connection that one batch of the source answers together."""

    connection: str
    kr_ids: tuple[str, ...] = attrs.field(converter=_ids)


@attrs.frozen
class Shard:
    """``index`` of ``count`` (1-based, as written on the command line: ``--shard 2/4``)."""

    index: int
    count: int

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise OkrError(f"shard {self.index}/{self.count}: expected K/N with 1 <= K <= N")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"2/4"`` -> ``Shard(2, 4)``; anything else raises :class:`~okrcore.OkrError`."""
        index, sep, count = text.partition("/")
        if not sep or not index.strip().isdigit() or not count.strip().isdigit():
            raise OkrError(f"shard {text!r}: expected K/N, e.g. 2/4")
        return cls(int(index), int(count))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def plan_units(
    plan: Plan,
    *,
    at: dt.date | None = None,
    backfill: tuple[dt.date, dt.date] | None = None,
    manager: PluginManager | None = None,
) -> list[Unit]:
    """The plan's fetchable key results as units, in plan order of their connections.

    Key results a refresh would not fetch (manual ones, a cycle not started, a source that does
    not validate) belong to no unit: the refresh decides them without any request.
    """
    manager = manager or default_manager()
    with MemoryStore() as unused:  # a dry run stores nothing
        planned = refresh(plan, unused, at=at, backfill=backfill, dry_run=True, manager=manager)
    return units_of(planned.requests, manager)


def units_of(requests: Iterable[FetchRequest], manager: PluginManager | None = None
             ) -> list[Unit]:
    """Planned requests (a dry run's ``result.requests``) as units, connection by connection."""
    manager = manager or default_manager()
    grouped: dict[str, list[FetchRequest]] = {}
    for request in requests:
        grouped.setdefault(request.connection.name, []).append(request)
    units: list[Unit] = []
    for name, group in grouped.items():
        units.extend(Unit(name, (r.kr.id for r in batch)) for batch in _batches(group, manager))
    return units


def _batches(requests: list[FetchRequest], manager: PluginManager) -> list[list[FetchRequest]]:
    """The source's own batches; one request each when the source cannot plan them (the
    refresh reports that error on each key result)."""
    conn = requests[0].connection
    source: Source | None = None
    try:
        source = manager.sources.get(conn.plugin)(conn)
        batches = [list(b) for b in source.batches(requests)]
    except Exception:  # a plugin that cannot plan here fails the same way in the job
        return [[r] for r in requests]
    finally:
        if source is not None:
            with contextlib.suppress(Exception):
                source.close()
    seen = {r.kr.id for b in batches for r in b}
    missing = [[r] for r in requests if r.kr.id not in seen]  # a source that drops requests
    return [b for b in batches if b] + missing


def split_jobs(units: Iterable[Unit], size: int) -> list[list[str]]:
    """Pack consecutive units of one connection into jobs of at most ``size`` key results (a
    unit larger than ``size`` stays whole: splitting it would cost requests)."""
    if size < 1:
        raise OkrError(f"job size {size}: expected at least 1 key result per job")
    jobs: list[list[str]] = []
    current: list[str] = []
    connection: str | None = None
    for unit in units:
        if current and (unit.connection != connection or len(current) + len(unit.kr_ids) > size):
            jobs.append(current)
            current = []
        current.extend(unit.kr_ids)
        connection = unit.connection
    if current:
        jobs.append(current)
    return jobs


def shard(units: Sequence[Unit], part: Shard) -> list[str]:
    """The key-result ids of one static shard.

    Units are dealt in order, each to the shard with the fewest key results so far (the lowest
    number on a tie): every key result lands in exactly one shard, shards differ by at most one
    unit in size, and every machine computes the same split.
    """
    loads = [0] * part.count
    mine: list[str] = []
    for unit in units:
        target = loads.index(min(loads))
        loads[target] += len(unit.kr_ids)
        if target == part.index - 1:
            mine.extend(unit.kr_ids)
    return mine
