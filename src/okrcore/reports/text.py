"""Terminal rendering of a report: rich tables with coloured lights (needs the ``cli`` extra)."""

from __future__ import annotations

import io
from typing import Any

from okrcore.errors import OkrError
from okrcore.reports._format import LIGHT_STYLE, fixed, num, pct, pts, signed
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


def _kr_row(rich: Any, line: KRLine, kind: str) -> list[Any]:
    s = line.score
    row: list[Any] = [
        _light(rich, s.status.value),
        rich.text.Text(s.title),
        num(s.actual, s.unit),  # the unit once per row keeps the numeric columns narrow
        num(s.plan_to_date),
        num(s.target),
    ]
    if kind == "daily":
        was = line.previous_status.value if line.previous_status else "—"
        row += [signed(line.change), was, rich.text.Text(s.reason)]
    elif kind == "weekly":
        row += [
            pts(line.gap),
            signed(line.trend),
            num(s.forecast),
            rich.text.Text(s.reason),
        ]
    else:
        row += [fixed(s.score), num(s.forecast), fixed(s.forecast_score)]
    return row


def _kr_table(rich: Any, title: str, lines: list[KRLine], kind: str) -> Any:
    table = rich.table.Table(title=title, title_justify="left", expand=True)
    table.add_column("Light", no_wrap=True)
    table.add_column("Key result", min_width=20, ratio=2)
    for head in ("Actual", "Plan to date", "Target"):
        table.add_column(head, no_wrap=True, justify="right")
    extra = {
        "daily": ("Change", "Yesterday", "Why"),
        "weekly": ("Gap", "7 days", "Forecast", "Why"),
        "monthly": ("Score", "Forecast", "Fc. score"),
    }[kind]
    for head in extra:
        if head == "Why":
            table.add_column(head, min_width=30, ratio=3)
        else:
            table.add_column(head, no_wrap=True, justify="right" if head != "Yesterday" else "left")
    for line in lines:
        table.add_row(*_kr_row(rich, line, kind))
    return table


def _nodes_table(rich: Any, title: str, nodes: Any) -> Any:
    table = rich.table.Table(title=title, title_justify="left")
    for head in ("Light", "Name", "Score", "Expected", "Completion"):
        table.add_column(head)
    for n in nodes:
        table.add_row(
            _light(rich, n.status.value),
            rich.text.Text(n.title),
            fixed(n.score),
            fixed(n.expected),
            pct(n.completion),
        )
    return table


def render_text(rep: Report, *, color: bool = False, width: int | None = None) -> str:
    """The report as terminal text; ``color`` keeps ANSI colours (for a terminal)."""
    rich = _rich()
    buffer = io.StringIO()
    console = rich.console.Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        width=width or 140,
        highlight=False,
    )
    lights = rep.lights
    console.print(rich.text.Text(rep.title, style="bold"))
    summary = rich.text.Text()
    for name in ("green", "yellow", "red", "grey"):
        summary.append(f"● {lights[name]} {name}  ", style=LIGHT_STYLE[name])
    summary.append(f"({len(rep.key_results)} key results)")
    console.print(summary)
    if rep.kind == "weekly":
        gaps = [rep.key_result(k) for k in rep.gaps]
        gaps += [line for line in rep.key_results if line.gap is None]
        console.print(_kr_table(rich, "Gap analysis, largest gaps first", gaps, "weekly"))
        if rep.movers:
            table = rich.table.Table(title="Moved most in 7 days", title_justify="left")
            for head in ("Light", "Key result", "Progress", "Actual"):
                table.add_column(head)
            for kr_id in rep.movers[:5]:
                line = rep.key_result(kr_id)
                table.add_row(
                    _light(rich, line.score.status.value),
                    rich.text.Text(line.score.title),
                    pts(line.trend_progress),
                    signed(line.trend, line.score.unit),
                )
            console.print(table)
    else:
        for obj in rep.objectives:
            n = obj.node
            head = f"{n.title} — score {fixed(n.score)}, {n.status.value}"
            if n.owner:
                head += f" ({n.owner})"
            lines = [rep.key_result(k) for k in obj.key_results]
            console.print(_kr_table(rich, head, lines, rep.kind))
    if rep.kind == "monthly":
        if rep.goals:
            console.print(_nodes_table(rich, "Goals", rep.goals))
        for key, title in (("owner", "By owner"), ("level", "By level")):
            if rep.rollups.get(key):
                console.print(_nodes_table(rich, title, rep.rollups[key]))
    if rep.target_changes:
        table = rich.table.Table(title="Target changes", title_justify="left")
        for head in ("Key result", "Field", "Old → new", "Original", "Current", "Why", "When"):
            table.add_column(head, overflow="fold")
        for c in rep.target_changes:
            ch = c.change
            table.add_row(
                rich.text.Text(c.title),
                ch.field,
                f"{num(ch.old)} → {num(ch.new)}",
                num(c.original),
                num(c.current),
                rich.text.Text(ch.reason),
                ch.changed_at.date().isoformat(),
            )
        console.print(table)
    if rep.strategy_changes:
        table = rich.table.Table(title="Strategy changes", title_justify="left")
        for head in ("Strategy", "Field", "Old → new", "Why", "When"):
            table.add_column(head, overflow="fold")
        for sc in rep.strategy_changes:
            ch2 = sc.change
            table.add_row(
                rich.text.Text(sc.title),
                ch2.field,
                rich.text.Text(f"{ch2.old} → {ch2.new}"),
                rich.text.Text(ch2.reason),
                ch2.changed_at.date().isoformat(),
            )
        console.print(table)
    if rep.stale:
        names = ", ".join(rep.key_result(k).score.title for k in rep.stale)
        console.print(rich.text.Text(f"Stale (no recent check-in): {names}", style="yellow"))
    if rep.failed_sources:
        console.print(rich.text.Text("Failed sources in the last refresh run:", style="bold red"))
        for f in rep.failed_sources:
            via = f" via {f.connection}" if f.connection else ""
            console.print(rich.text.Text(f"  {f.title}{via}: {f.error or f.kind or 'failed'}"))
    return buffer.getvalue()
