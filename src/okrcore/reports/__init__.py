"""Reports as data: the daily status, the weekly gap analysis and the monthly review.

:func:`report` scores a plan from a store and gathers what each report kind talks about into a
:class:`Report`; every renderer (``text``, ``md``, ``json``, ``html``) and every notifier works
from that one structure. :meth:`Report.to_dict` is the stable JSON form documented in
docs/reports.md (``"schema": "okrcore.report/1"``).

Every report holds every section; the kind decides the period and what the renderers put first:

``daily``
    each key result's light and reason, the change since its previous check-in and its light the
    day before, stale key results, failed sources of the last refresh run.
``weekly``
    the gap analysis: actual vs plan to date per key result, largest gaps first, the trend over
    the last 7 days and the forecast at the deadline; the key results that moved most.
``monthly``
    scores and rollups per objective, goal, owner and level; forecasts; every target and strategy
    change since the first of the month, with its reason and the original vs current target.

The data classes are in :mod:`okrcore.reports.data`, the builder in :mod:`okrcore.reports.build`;
both are re-exported here.
"""

from okrcore.errors import OkrError

from .build import actual_series, check_owner, period_start, report
from .data import (
    FORMATS,
    KINDS,
    SCHEMA,
    FailedSource,
    KRLine,
    ObjectiveLine,
    Point,
    Report,
    ReportFormat,
    ReportKind,
    RunSummary,
    StrategyChangeLine,
    TargetChangeLine,
)

__all__ = [
    "FORMATS",
    "KINDS",
    "SCHEMA",
    "FailedSource",
    "KRLine",
    "ObjectiveLine",
    "Point",
    "Report",
    "ReportFormat",
    "ReportKind",
    "RunSummary",
    "StrategyChangeLine",
    "TargetChangeLine",
    "actual_series",
    "check_owner",
    "period_start",
    "render",
    "report",
]


def render(rep: Report, fmt: ReportFormat, *, color: bool = False, width: int | None = None) -> str:
    """Render a report as ``text``, ``md``, ``json`` or ``html`` (html needs the ``html`` extra)."""
    if fmt == "json":
        import json

        return json.dumps(rep.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if fmt == "md":
        from .markdown import render_markdown

        return render_markdown(rep)
    if fmt == "text":
        from .text import render_text

        return render_text(rep, color=color, width=width)
    if fmt == "html":
        from .html import render_html

        return render_html(rep)
    raise OkrError(f"unknown report format {fmt!r} (expected one of: {', '.join(FORMATS)})")
