"""The HTML dashboard: one self-contained file that works offline (needs the ``html`` extra).

Jinja2 renders the page with autoescaping on, so every text from the plan is escaped. Each key
result's chart is a few inline SVG polylines (:func:`chart_svg`): the actual to date, the expected
pace, the target and, where set, the floor, the stretch and the original target when it was
changed. Colours and line styles are in the page's one stylesheet, so a 1,000 key-result
dashboard stays small and renders fast.
No script, stylesheet, font or image is loaded from anywhere, and the same report renders to the
same bytes.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from html import escape
from typing import Any

from okrcore.errors import OkrError
from okrcore.reports._format import (
    LIGHT_ICON,
    confidence,
    fixed,
    kpi_bar,
    kpi_last,
    num,
    pct,
    pts,
    signed,
)
from okrcore.reports.data import KRLine, Report

__all__ = ["chart_svg", "render_html"]

# series name -> CSS class (colours in dashboard.html.j2); the order is the drawing order, the
# actual last, on top
SERIES = {
    "Original target": "original",
    "Target": "target",
    "Stretch": "stretch",
    "Floor": "floor",
    "Expected pace": "pace",
    "Actual": "actual",
}
WIDTH, HEIGHT = 560, 232
LEFT, RIGHT, TOP, BOTTOM = 64, 548, 10, 172  # the plot area
LEGEND_TOP, LEGEND_COLUMNS, LEGEND_STEP = 200, 3, 164


def _need(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        raise OkrError(
            f"HTML reports need {module.split('.')[0]}: pip install 'okrcore[html]'"
        ) from None


def chart_svg(line: KRLine) -> str:
    """The chart of one key result as an inline ``<svg>`` element.

    Only series names, numbers and dates go into it (every label is escaped all the same); the
    key result's title and unit are written by the page around it.
    """
    s = line.score
    start, end = line.cycle_start, max(s.deadline, line.cycle_start + dt.timedelta(days=1))
    series: dict[str, list[tuple[dt.date, float]]] = {}
    original = line.original.get("target")
    if original is not None and original != s.target:  # the target was changed: show both
        series["Original target"] = [(start, original), (end, original)]
    for name, value in (("Target", s.target), ("Stretch", s.stretch), ("Floor", s.floor)):
        if value is not None:
            series[name] = [(start, value), (end, value)]
    if line.pace:
        series["Expected pace"] = [(p.date, p.value) for p in line.pace]
    series["Actual"] = [(p.date, p.value) for p in line.series]
    for name, points in series.items():
        series[name] = [(d, v) for d, v in points if math.isfinite(v)]
    values = [v for points in series.values() for _, v in points]
    low, high = min(values, default=0.0), max(values, default=1.0)
    if 0 < low < high / 2:  # a series from near 0 starts the axis at 0
        low = 0.0
    if low == high:  # a flat chart: the line in the middle
        low, high = low - abs(low) / 2 - 1, high + abs(high) / 2 + 1
    # halves keep any two finite floats from overflowing (1e308 - -1e308)
    half_low, span = low / 2, high / 2 - low / 2
    y_scale = (BOTTOM - TOP) / span if span > 0 else 0.0
    first, days = start.toordinal(), (end - start).days
    x_scale = (RIGHT - LEFT) / days

    def xy(points: list[tuple[dt.date, float]]) -> list[tuple[int, int]]:
        # every day is within the cycle and every value within [low, high]: nothing to clamp
        return [
            (LEFT + round((d.toordinal() - first) * x_scale),
             BOTTOM - round((v / 2 - half_low) * y_scale))
            for d, v in points
        ]

    levels = (low, low / 2 + high / 2, high)
    ticks = xy([(start, v) for v in levels])
    out = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}"><path class="grid" d="',
        *(f"M{LEFT} {y}H{RIGHT}" for _, y in ticks),
        '"/><g text-anchor="end">',
        *(
            f'<text x="{LEFT - 6}" y="{y + 4}">{escape(num(v))}</text>'
            for (_, y), v in zip(ticks, levels, strict=True)
        ),
        f'</g><text x="{LEFT}" y="{BOTTOM + 16}">{_day(start)}</text>'
        f'<text x="{RIGHT}" y="{BOTTOM + 16}" text-anchor="end">{_day(end)}</text>',
    ]
    names = [name for name in SERIES if series.get(name)]
    for name in names:
        joined = " ".join(f"{x},{y}" for x, y in _straighten(xy(series[name])))
        out.append(f'<polyline class="line {SERIES[name]}" points="{joined}"/>')
    if series["Actual"]:
        x, y = xy(series["Actual"][-1:])[0]
        out.append(f'<circle cx="{x}" cy="{y}" r="3.5"/>')
    for i, name in enumerate(names):
        x = LEFT + (i % LEGEND_COLUMNS) * LEGEND_STEP
        y = LEGEND_TOP + (i // LEGEND_COLUMNS) * 18
        mark = "╍╍" if name == "Expected pace" else "━━"
        out.append(f'<text class="key" x="{x}" y="{y}"><tspan class="{SERIES[name]}">{mark}'
                   f"</tspan> {name}</text>")
    out.append("</svg>")
    return "".join(out)


def _straighten(points: list[tuple[int, int]], tolerance: float = 0.6) -> list[tuple[int, int]]:
    """``points`` without those within ``tolerance`` pixels of the line through their neighbours
    (a plan line needs its two ends; a steady series a few corners): a lighter file, the same
    picture."""
    if len(points) < 3:
        return points
    kept = [points[0]]
    for b, c in itertools.pairwise(points[1:]):
        a = kept[-1]
        dx, dy = c[0] - a[0], c[1] - a[1]
        length = math.hypot(dx, dy)
        off = abs(dx * (b[1] - a[1]) - dy * (b[0] - a[0])) / length if length else math.inf
        if off > tolerance:
            kept.append(b)
    kept.append(points[-1])
    return kept


def _day(day: dt.date) -> str:
    return f"{day:%b} {day.day}"


def render_html(rep: Report) -> str:
    """The report as one self-contained HTML page."""
    jinja2 = _need("jinja2")
    markupsafe = _need("markupsafe")
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("okrcore.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    scale = rep.scorecard.confidence_scale
    env.filters.update(
        num=num,
        signed=signed,
        pct=pct,
        pts=pts,
        fixed=fixed,
        confidence=lambda value: confidence(value, scale),
        kpi_bar=kpi_bar,
        kpi_last=kpi_last,
    )
    template = env.get_template("dashboard.html.j2")
    lines = {line.id: line for line in rep.key_results}
    return str(
        template.render(
            rep=rep,
            charts={line.id: markupsafe.Markup(chart_svg(line)) for line in rep.key_results},
            icons=LIGHT_ICON,
            lines=lines,
            gap_lines=[lines[k] for k in rep.gaps],
        )
    )
