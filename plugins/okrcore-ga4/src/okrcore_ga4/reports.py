"""GA4 report planning: key results that share a date window and a filter become one report of
up to 10 metrics; what comes back is an :class:`Answer` per report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from okrcore.sources import FetchRequest

from .filters import Node, filter_fields, to_expression

if TYPE_CHECKING:  # the client library is imported when a request is built
    from google.analytics.data_v1beta.types import RunReportRequest
from .query import Cell, GA4Query

__all__ = ["Answer", "Need", "ReportKey", "Spec", "plan_reports"]

MAX_METRICS_PER_REPORT = 10
MAX_REPORTS_PER_BATCH = 5
MAX_BATCH_REQUESTS = 1000


@attrs.frozen
class ReportKey:
    """What key results must share to be answered by one report."""

    start: dt.date
    end: dt.date
    by_date: bool
    filter_key: str


@attrs.frozen
class Need:
    """One request, parsed: its query, the report cells it needs and the reports they come from.

    Build it with :meth:`of`. A series of single days (``by_date``) comes from one report with
    the ``date`` dimension; other cells each need the report of their own window.
    """

    request: FetchRequest
    query: GA4Query
    cells: tuple[Cell, ...]
    by_date: bool
    keys: tuple[ReportKey, ...]

    @classmethod
    def of(cls, request: FetchRequest, query: GA4Query, cells: Sequence[Cell]) -> Need:
        """Work out the reports once (requests can have hundreds of cells)."""
        fk = query.filter_key
        by_date = request.series and all(c.single_day for c in cells)
        if by_date:
            keys: tuple[ReportKey, ...] = (ReportKey(cells[0].start, cells[-1].end, True, fk),)
        else:
            keys = tuple(dict.fromkeys(ReportKey(c.start, c.end, False, fk) for c in cells))
        return cls(request, query, tuple(cells), by_date, keys)

    def report_keys(self) -> list[ReportKey]:
        """The reports this request needs, in order, without repeats."""
        return list(self.keys)

    def key_of(self, cell: Cell) -> ReportKey:
        """The report a cell is read from."""
        if self.by_date:
            return self.keys[0]
        return ReportKey(cell.start, cell.end, False, self.query.filter_key)

    def uses(self, field: str) -> bool:
        """Whether the query names this metric or dimension."""
        if self.query.metric == field:
            return True
        return self.query.filter is not None and field in filter_fields(self.query.filter)


@attrs.frozen
class Spec:
    """One report to request."""

    key: ReportKey
    metrics: tuple[str, ...]
    filter: Node | None

    def request(self, page_size: int, offset: int = 0, prop: str | None = None) -> RunReportRequest:
        """The RunReportRequest (``prop`` only for a standalone runReport)."""
        from google.analytics.data_v1beta.types import (
            DateRange,
            Dimension,
            Metric,
            OrderBy,
            RunReportRequest,
        )

        req = RunReportRequest(
            date_ranges=[DateRange(start_date=self.key.start.isoformat(),
                                   end_date=self.key.end.isoformat())],
            metrics=[Metric(name=m) for m in self.metrics],
            return_property_quota=True,
        )
        if prop:
            req.property = prop
        if self.filter is not None:
            req.dimension_filter = to_expression(self.filter)
        if self.key.by_date:
            req.dimensions = [Dimension(name="date")]
            req.order_bys = [OrderBy(dimension=OrderBy.DimensionOrderBy(dimension_name="date"))]
            req.limit = page_size
            if offset:
                req.offset = offset
        return req


def plan_reports(needs: Sequence[Need]) -> tuple[list[Spec], dict[tuple[ReportKey, str], int]]:
    """Group the needs into reports of up to 10 metrics; return them and where each value is."""
    metrics: dict[ReportKey, list[str]] = {}
    filters: dict[ReportKey, Node | None] = {}
    for need in needs:
        for key in need.report_keys():
            names = metrics.setdefault(key, [])
            filters[key] = need.query.filter
            if need.query.metric not in names:
                names.append(need.query.metric)
    specs: list[Spec] = []
    where: dict[tuple[ReportKey, str], int] = {}
    for key, names in metrics.items():
        for i in range(0, len(names), MAX_METRICS_PER_REPORT):
            chunk = tuple(names[i : i + MAX_METRICS_PER_REPORT])
            for name in chunk:
                where[(key, name)] = len(specs)
            specs.append(Spec(key, chunk, filters[key]))
    return specs, where


@attrs.define
class Answer:
    """One report's rows (``date`` -> metric values, ``""`` for a total) and its metadata."""

    metrics: list[str]
    rows: dict[str, list[str]]
    row_count: int
    time_zone: str | None
    warnings: list[str]
    quota: dict[str, int]
    currency: str | None
    empty_reason: str | None

    def value(self, metric: str, day: str) -> str | None:
        """The raw value of a metric on a day (``""``: the total row), or None."""
        values = self.rows.get(day)
        if values is None or metric not in self.metrics:
            return None
        i = self.metrics.index(metric)
        return values[i] if i < len(values) else None
