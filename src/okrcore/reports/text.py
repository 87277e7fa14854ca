"""Terminal rendering of a report: rich tables with coloured lights (needs the ``cli`` extra)."""

from __future__ import annotations

import io
import re
from typing import Any

from okrcore.errors import OkrError
from okrcore.reports._format import (
    LIGHT_STYLE,
    confidence,
    fixed,
    kpi_bar,
    kpi_last,
    num,
    pct,
    pts,
    signed,
    sum_note,
    with_confidence,
)
from okrcore.reports._table import DEFAULT_WIDTH, Col, print_table
from okrcore.reports.data import KRLine, Report

__all__ = ["render_text"]


def _rich() -> Any:
    try:
        import rich.console
        import rich.table
        import rich.text
    except ModuleNotFoundError:
        raise OkrError(
            "text reports need rich: pip install 'okrcore[cli]' (or use --format md/json)"
        ) from None
    return rich


def _light(rich: Any, status: str) -> Any:
    return rich.text.Text(f"● {status}", style=LIGHT_STYLE.get(status, ""))


# Each table's columns; ``drop`` ranks say which leave first on a narrow terminal (documented in
# docs/reports.md, "Terminal output"): the light, the key result and its actual always stay.
_LEAD = (
    Col("Light"),
    Col("Key result", "name"),
    Col("Actual", justify="right"),
)
KR_COLUMNS = {
    "daily": (
        *_LEAD,
        Col("Plan to date", justify="right", drop=2),
        Col("Target", justify="right", drop=3),
        Col("Change", justify="right", drop=4),
        Col("Yesterday", drop=1),
        Col("Why", "note"),
    ),
    "weekly": (
        *_LEAD,
        Col("Plan to date", justify="right", drop=4),
        Col("Target", justify="right", drop=2),
        Col("Gap", justify="right"),
        Col("7 days", justify="right", drop=1),
        Col("Forecast", justify="right", drop=3),
        Col("Why", "note"),
    ),
    "monthly": (
        *_LEAD,
        Col("Plan to date", justify="right", drop=1),
        Col("Target", justify="right", drop=4),
        Col("Score", justify="right"),
        Col("Forecast", justify="right", drop=3),
        Col("Fc. score", justify="right", drop=2),
    ),
}


def _kr_row(rich: Any, line: KRLine, kind: str, owner: str | None = None) -> list[Any]:
    """One key result's row; ``owner`` (a label) follows the title when the key result's owner
    is not its objective's."""
    s = line.score
    row: list[Any] = [
        _light(rich, s.status.value),
        rich.text.Text(
            s.title
            + (f" · {owner}" if owner else "")
            + (f" ({sum_note(s.sum_of)})" if s.sum_of else "")
        ),
        num(s.actual, s.unit),  # the unit once per row keeps the numeric columns narrow
        num(s.plan_to_date),
        num(s.target),
    ]
    if kind == "daily":
        was = line.previous_status.value if line.previous_status else "—"
        row += [signed(line.change), was, s.reason]
    elif kind == "weekly":
        row += [pts(line.gap), signed(line.trend), num(s.forecast), s.reason]
    else:
        row += [fixed(s.score), num(s.forecast), fixed(s.forecast_score)]
    return row


CONFIDENCE_COLUMN = Col("Conf.", justify="right", drop=1)


def _kr_table(
    rich: Any,
    console: Any,
    title: str,
    lines: list[KRLine],
    kind: str,
    scale: int = 1,
    owners: dict[str, str | None] | None = None,
) -> None:
    owners = owners or {}
    rows = [_kr_row(rich, line, kind, owners.get(line.id)) for line in lines]
    columns: tuple[Col, ...] = KR_COLUMNS[kind]
    if kind == "monthly" and any(line.score.confidence is not None for line in lines):
        columns = (*columns, CONFIDENCE_COLUMN)  # next to the scores, only when stated
        for row, line in zip(rows, lines, strict=True):
            row.append(confidence(line.score.confidence, scale))
    print_table(console, columns, rows, title=rich.text.Text(title, style="bold"))


NODE_COLUMNS = (
    Col("Light"),
    Col("Name", "name"),
    Col("Score", justify="right"),
    Col("Exp. score", justify="right"),
    Col("Completion", justify="right"),
)


def _nodes_table(rich: Any, console: Any, title: str, nodes: Any, scale: int = 1) -> None:
    rows = [
        [
            _light(rich, n.status.value),
            rich.text.Text(n.title),
            fixed(n.score),
            fixed(n.expected_score),
            pct(n.completion),
        ]
        for n in nodes
    ]
    columns: tuple[Col, ...] = NODE_COLUMNS
    if any(n.confidence is not None for n in nodes):
        columns = (*columns, CONFIDENCE_COLUMN)
        for row, n in zip(rows, nodes, strict=True):
            row.append(confidence(n.confidence, scale))
    print_table(console, columns, rows, title=rich.text.Text(title, style="bold"))


MOVER_COLUMNS = (
    Col("Light"),
    Col("Key result", "name"),
    Col("Progress", justify="right"),
    Col("Actual", justify="right"),
)
TARGET_CHANGE_COLUMNS = (
    Col("Key result", "name"),
    Col("Field"),
    Col("Old → new", justify="right"),
    Col("Original", justify="right", drop=2),
    Col("Current", justify="right", drop=1),
    Col("When"),
    Col("Why", "note"),
)
STRATEGY_CHANGE_COLUMNS = (
    Col("Strategy", "name"),
    Col("Field"),
    Col("Old → new", "name"),
    Col("When"),
    Col("Why", "note"),
)


def render_text(rep: Report, *, color: bool = False, width: int | None = None) -> str:
    """The report as terminal text laid out for ``width`` columns (100); ``color`` keeps ANSI
    colours (for a terminal). No number is ever cut: see docs/reports.md, "Terminal output"."""
    rich = _rich()
    buffer = io.StringIO()
    console = rich.console.Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        width=width or DEFAULT_WIDTH,
        highlight=False,
    )
    lights = rep.lights
    scale = rep.scorecard.confidence_scale
    console.print(rich.text.Text(rep.title, style="bold"))
    summary = rich.text.Text()
    for name in ("green", "yellow", "red", "grey"):
        summary.append(f"● {lights[name]} {name}  ", style=LIGHT_STYLE[name])
    summary.append(f"({len(rep.key_results)} key results)")
    console.print(summary)
    bold = "bold"
    if rep.kind == "weekly":
        gaps = [rep.key_result(k) for k in rep.gaps]
        gaps += [line for line in rep.key_results if line.gap is None]
        console.print()
        _kr_table(rich, console, "Gap analysis, largest gaps first", gaps, "weekly")
        if rep.movers:
            rows = []
            for kr_id in rep.movers[:5]:
                line = rep.key_result(kr_id)
                rows.append(
                    [
                        _light(rich, line.score.status.value),
                        rich.text.Text(line.score.title),
                        pts(line.trend_progress),
                        signed(line.trend, line.score.unit),
                    ]
                )
            console.print()
            title = rich.text.Text("Moved most in 7 days", style=bold)
            print_table(console, MOVER_COLUMNS, rows, title=title)
    else:
        for obj in rep.objectives:
            n = obj.node
            head = with_confidence(f"{n.title} — score {fixed(n.score)}", n.confidence, scale)
            head += f", {n.status.value}"
            if n.owner:
                head += f" ({rep.owner_label(n.owner)})"
            lines = [rep.key_result(k) for k in obj.key_results]
            owners = {ln.id: rep.owner_label(ln.owner) for ln in lines if ln.owner != n.owner}
            console.print()
            _kr_table(rich, console, head, lines, rep.kind, scale, owners)
    if rep.kind == "monthly":
        if rep.goals:
            console.print()
            _nodes_table(rich, console, "Goals", rep.goals, scale)
        for key, title in (("owner", "By owner"), ("level", "By level")):
            if rep.rollups.get(key):
                console.print()
                _nodes_table(rich, console, title, rep.rollups[key], scale)
    _initiatives_text(rich, console, rep)
    if rep.kpis:
        rows = [
            [
                _light(rich, k.status.value),
                rich.text.Text(k.title),
                k.period,
                num(k.actual, k.unit),
                kpi_bar(k),
                num(k.target),
                kpi_last(k),
                k.reason,
            ]
            for k in rep.kpis
        ]
        console.print()
        title = rich.text.Text("KPIs (apart from the OKRs)", style=bold)
        print_table(console, KPI_COLUMNS, rows, title=title)
    if rep.target_changes:
        rows = []
        for c in rep.target_changes:
            ch = c.change
            rows.append(
                [
                    rich.text.Text(c.title),
                    ch.field,
                    f"{num(ch.old)} → {num(ch.new)}",
                    num(c.original),
                    num(c.current),
                    ch.changed_at.date().isoformat(),
                    _with_move(ch.reason, rep.moved_with(c)),
                ]
            )
        console.print()
        title = rich.text.Text("Target changes", style=bold)
        print_table(console, TARGET_CHANGE_COLUMNS, rows, title=title)
    if rep.strategy_changes:
        rows = []
        for sc in rep.strategy_changes:
            ch2 = sc.change
            rows.append(
                [
                    rich.text.Text(sc.title),
                    ch2.field,
                    rich.text.Text(f"{ch2.old} → {ch2.new}"),
                    ch2.changed_at.date().isoformat(),
                    ch2.reason,
                ]
            )
        console.print()
        title = rich.text.Text("Strategy changes", style=bold)
        print_table(console, STRATEGY_CHANGE_COLUMNS, rows, title=title)
    if rep.stale or rep.failed_sources:
        console.print()
    if rep.stale:
        names = ", ".join(rep.key_result(k).score.title for k in rep.stale)
        console.print(rich.text.Text(f"Stale (no recent check-in): {names}", style="yellow"))
    if rep.failed_sources:
        console.print(rich.text.Text("Failed sources in the last refresh run:", style="bold red"))
        for f in rep.failed_sources:
            via = f" via {f.connection}" if f.connection else ""
            console.print(rich.text.Text(f"  {f.title}{via}: {f.error or f.kind or 'failed'}"))
    return _strip_line_ends(buffer.getvalue())


def _with_move(reason: str, moved_with: list[str]) -> str:
    return f"{reason} (moved with {', '.join(moved_with)})" if moved_with else reason


KPI_COLUMNS = (
    Col("Light"),
    Col("KPI", "name"),
    Col("Period", drop=3),
    Col("Actual", justify="right"),
    Col("Bar", justify="right", drop=1),
    Col("Target", justify="right", drop=2),
    Col("Last period", justify="right", drop=4),
    Col("Why", "note"),
)
INITIATIVE_COLUMNS = (
    Col("Initiative", "name"),
    Col("Owner", drop=1),
    Col("State", "note"),
)
LAGGING_COLUMNS = (
    Col("Key result", "name"),
    Col("Gap", justify="right"),
    Col("Initiative", "name"),
    Col("State", "note"),
)


def _initiatives_text(rich: Any, console: Any, rep: Report) -> None:
    """Daily: the overdue and blocked initiatives; weekly: the initiatives of each lagging key
    result; monthly: every initiative."""
    bold = "bold"
    if rep.kind == "weekly":
        rows = []
        for kr_id in rep.lagging:
            line = rep.key_result(kr_id)
            for i, ini in enumerate(rep.initiatives_for(kr_id)):
                title = line.score.title if i == 0 else ""
                gap = pts(line.gap) if i == 0 else ""
                rows.append([rich.text.Text(title), gap, rich.text.Text(ini.initiative.title),
                             ini.state])
        if rows:
            console.print()
            title = rich.text.Text("Initiatives of lagging key results", style=bold)
            print_table(console, LAGGING_COLUMNS, rows, title=title)
        return
    shown = rep.attention if rep.kind == "daily" else rep.initiatives
    if not shown:
        return
    rows = [
        [rich.text.Text(i.initiative.title), rep.owner_label(i.owner) or "—", i.state]
        for i in shown
    ]
    console.print()
    heading = "Overdue and blocked initiatives" if rep.kind == "daily" else "Initiatives"
    print_table(console, INITIATIVE_COLUMNS, rows, title=rich.text.Text(heading, style=bold))


_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
_LINE_END = re.compile(r"(?:[ ]|\x1b\[[0-9;]*m)+$", re.MULTILINE)


def _strip_line_ends(text: str) -> str:
    """Without the spaces rich pads table lines with (noise in a pipe or a mail); colour codes
    at a line's end stay."""
    return _LINE_END.sub(lambda m: "".join(_ESCAPE.findall(m.group())), text)
