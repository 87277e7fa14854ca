"""The HTML dashboard: one self-contained file that works offline (needs the ``html`` extra).

Jinja2 renders the page with autoescaping on, so every text from the plan is escaped; pygal draws
each key result's chart as inline SVG (actual to date, the expected pace, the target and, where set,
the floor, the stretch and the original target when it was changed). No script, stylesheet, font or
image is loaded from anywhere: pygal's inline configuration script is removed (its interactive
JavaScript is not used) and chart ids are derived from the key results, so the same report renders
to the same bytes.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from okrcore.errors import OkrError
from okrcore.reports._format import LIGHT_ICON, fixed, num, pct, pts, signed
from okrcore.reports.data import KRLine, Report

__all__ = ["chart_svg", "render_html"]

# series name -> colour; the order is the drawing order (the actual last, on top)
SERIES_COLOURS = {
    "Original target": "#86efac",
    "Target": "#15803d",
    "Stretch": "#7c3aed",
    "Floor": "#ea580c",
    "Expected pace": "#6b7280",
    "Actual": "#1d4ed8",
}
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _need(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        raise OkrError(
            f"HTML reports need {module.split('.')[0]}: pip install 'okrcore[html]'"
        ) from None


def chart_svg(line: KRLine, chart_id: str) -> str:
    """The chart of one key result as an inline ``<svg>`` element (no scripts, no comments).

    Only fixed series names and numbers go into the chart; the key result's title and unit are
    written by the page around it (escaped).
    """
    pygal = _need("pygal")
    style_mod = _need("pygal.style")
    s = line.score
    deadline = s.deadline
    series: dict[str, list[tuple[dt.date, float]]] = {}
    original = line.original.get("target")
    if original is not None and original != s.target:  # the target was changed: show both
        series["Original target"] = [(line.cycle_start, original), (deadline, original)]
    for name, value in (("Target", s.target), ("Stretch", s.stretch), ("Floor", s.floor)):
        if value is not None:
            series[name] = [(line.cycle_start, value), (deadline, value)]
    if line.pace:
        series["Expected pace"] = [(p.date, p.value) for p in line.pace]
    series["Actual"] = [(p.date, p.value) for p in line.series]
    names = [n for n in SERIES_COLOURS if n in series]
    style = style_mod.Style(
        background="transparent",
        plot_background="transparent",
        foreground="#374151",
        foreground_strong="#111827",
        foreground_subtle="#d1d5db",
        guide_stroke_color="#eceff3",
        guide_stroke_dasharray="0",
        major_guide_stroke_color="#e5e7eb",
        major_guide_stroke_dasharray="0",
        colors=tuple(SERIES_COLOURS[n] for n in names),
        font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
        label_font_size=11,
        major_label_font_size=11,
        legend_font_size=11,
        value_font_size=10,
        tooltip_font_size=11,
    )
    chart = pygal.DateLine(
        js=[],
        disable_xml_declaration=True,
        width=560,
        height=260,
        explicit_size=False,
        style=style,
        legend_at_bottom=True,
        legend_at_bottom_columns=min(len(names), 3),
        show_x_guides=False,
        dots_size=2.5,
        x_value_formatter=lambda d: d.strftime("%b %d"),
        value_formatter=num,
        x_label_rotation=0,
        truncate_legend=-1,
        print_values=False,
    )
    chart.uuid = chart_id
    for name in names:
        dashed = name != "Actual"
        chart.add(
            name,
            series[name],
            show_dots=name == "Actual" and len(series[name]) <= 45,
            stroke_style={"width": 2, "dasharray": "6,4" if name == "Expected pace" else "2,0"}
            if dashed
            else {"width": 2.5},
        )
    svg: str = chart.render(is_unicode=True)
    return _COMMENT.sub("", _SCRIPT.sub("", svg))


def _chart_id(index: int, kr_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", kr_id)
    return f"kr-{index}-{safe}"


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
    env.filters.update(num=num, signed=signed, pct=pct, pts=pts, fixed=fixed)
    charts = {
        line.id: markupsafe.Markup(chart_svg(line, _chart_id(i, line.id)))
        for i, line in enumerate(rep.key_results)
    }
    template = env.get_template("dashboard.html.j2")
    return str(
        template.render(
            rep=rep,
            charts=charts,
            icons=LIGHT_ICON,
            lines={line.id: line for line in rep.key_results},
            gap_lines=[rep.key_result(k) for k in rep.gaps],
        )
    )
