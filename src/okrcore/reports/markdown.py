"""Markdown rendering of a report: headings and bullet lists that read well in a chat or an issue.

Lists rather than tables: chat robots (Slack, DingTalk, Feishu cards, Teams) do not render
Markdown tables, and a list also reads well on a phone.
"""

from __future__ import annotations

from okrcore.reports._format import LIGHT_ICON, fixed, num, pct, pts, signed
from okrcore.reports.data import KRLine, Report

__all__ = ["render_markdown"]

MOVERS_SHOWN = 5


def _inline(text: str) -> str:
    """Plan text on one line, with the characters that would start Markdown markup escaped."""
    text = " ".join(text.split())
    for ch in ("\\", "*", "_", "`", "[", "]", "<", ">", "|"):
        text = text.replace(ch, f"\\{ch}")
    return text


def _summary(rep: Report) -> str:
    lights = rep.lights
    parts = [f"{LIGHT_ICON[k]} {lights[k]}" for k in ("green", "yellow", "red", "grey")]
    return " · ".join(parts) + f" — {len(rep.key_results)} key results"


def _kr_head(line: KRLine) -> str:
    s = line.score
    icon = LIGHT_ICON[s.status.value]
    return (
        f"{icon} **{_inline(s.title)}**: {num(s.actual, s.unit)} of {num(s.target, s.unit)} "
        f"(plan to date {num(s.plan_to_date, s.unit)})"
    )


def _daily(rep: Report, out: list[str]) -> None:
    for obj in rep.objectives:
        node = obj.node
        owner = f" · {_inline(node.owner)}" if node.owner else ""
        out += ["", f"### {LIGHT_ICON[node.status.value]} {_inline(node.title)}{owner}", ""]
        for kr_id in obj.key_results:
            line = rep.key_result(kr_id)
            s = line.score
            out.append(f"- {_kr_head(line)} — {_inline(s.reason)}")
            bits = []
            if line.previous_checkin:
                bits.append(
                    f"since {line.previous_checkin.isoformat()}: {signed(line.change, s.unit)}"
                )
            if line.previous_status and line.previous_status is not s.status:
                bits.append(f"was {LIGHT_ICON[line.previous_status.value]} yesterday")
            if s.stale:
                bits.append("**stale**")
            if bits:
                out.append(f"  - {'; '.join(bits)}")


def _weekly(rep: Report, out: list[str]) -> None:
    out += ["", "### Largest gaps first", ""]
    for kr_id in rep.gaps:
        line = rep.key_result(kr_id)
        s = line.score
        out.append(
            f"- {_kr_head(line)}; gap {pts(line.gap)} ({signed(line.gap_value, s.unit)}); "
            f"7 days: {signed(line.trend, s.unit)}; forecast at {s.deadline.isoformat()}: "
            f"{num(s.forecast, s.unit)} (score {fixed(s.forecast_score)})"
        )
    if rep.movers:
        out += ["", "### Moved most in 7 days", ""]
        for kr_id in rep.movers[:MOVERS_SHOWN]:
            line = rep.key_result(kr_id)
            s = line.score
            out.append(
                f"- {LIGHT_ICON[s.status.value]} {_inline(s.title)}: {pts(line.trend_progress)} "
                f"of the way ({signed(line.trend, s.unit)})"
            )
    waiting = [line for line in rep.key_results if line.gap is None]
    if waiting:
        names = ", ".join(_inline(line.score.title) for line in waiting)
        out += ["", f"No data yet: {names}"]


def _monthly(rep: Report, out: list[str]) -> None:
    out += ["", "### Objectives", ""]
    for obj in rep.objectives:
        n = obj.node
        out.append(
            f"- {LIGHT_ICON[n.status.value]} **{_inline(n.title)}**: score {fixed(n.score)} "
            f"(expected {fixed(n.expected_score)})" + (f" · {_inline(n.owner)}" if n.owner else "")
        )
        for kr_id in obj.key_results:
            s = rep.key_result(kr_id).score
            floor = " · **below floor**" if s.below_floor else ""
            out.append(
                f"  - {LIGHT_ICON[s.status.value]} {_inline(s.title)}: score {fixed(s.score)}, "
                f"forecast {num(s.forecast, s.unit)} of {num(s.target, s.unit)} "
                f"(score {fixed(s.forecast_score)}, bar {s.success_bar:g}){floor}"
            )
    if rep.goals:
        out += ["", "### Goals", ""]
        out += [
            f"- {LIGHT_ICON[g.status.value]} **{_inline(g.title)}**: score {fixed(g.score)}"
            for g in rep.goals
        ]
    for key, heading in (("owner", "By owner"), ("level", "By level")):
        nodes = rep.rollups.get(key, ())
        if nodes:
            out += ["", f"### {heading}", ""]
            out += [
                f"- {LIGHT_ICON[n.status.value]} {_inline(n.title)}: score {fixed(n.score)}, "
                f"completion {pct(n.completion)}"
                for n in nodes
            ]


def _changes(rep: Report, out: list[str]) -> None:
    if rep.target_changes:
        out += ["", "### Target changes", ""]
        for c in rep.target_changes:
            ch = c.change
            by = f", by {_inline(ch.author)}" if ch.author else ""
            out.append(
                f"- **{_inline(c.title)}** {ch.field}: {num(ch.old)} → {num(ch.new)} "
                f"(original {num(c.original)}, current {num(c.current)}) — "
                f"{_inline(ch.reason)} ({ch.changed_at.date().isoformat()}{by})"
            )
    if rep.strategy_changes:
        out += ["", "### Strategy changes", ""]
        for sc in rep.strategy_changes:
            ch2 = sc.change
            by = f", by {_inline(ch2.author)}" if ch2.author else ""
            out.append(
                f"- **{_inline(sc.title)}** {ch2.field}: {_inline(str(ch2.old))} → "
                f"{_inline(str(ch2.new))} — {_inline(ch2.reason)} "
                f"({ch2.changed_at.date().isoformat()}{by})"
            )


def _health(rep: Report, out: list[str]) -> None:
    if rep.stale:
        names = ", ".join(_inline(rep.key_result(k).score.title) for k in rep.stale)
        out += ["", f"**Stale** (no recent check-in): {names}"]
    if rep.failed_sources:
        run = rep.last_run
        when = f" (refresh run {run.id} for {run.as_of.isoformat()})" if run else ""
        out += ["", f"**Failed sources**{when}:"]
        for f in rep.failed_sources:
            conn = f" via {_inline(f.connection)}" if f.connection else ""
            out.append(f"- {_inline(f.title)}{conn}: {_inline(f.error or f.kind or 'failed')}")


def render_markdown(rep: Report) -> str:
    """The report as Markdown (headings, bullet lists, emoji lights)."""
    out = [f"## {_inline(rep.title)}", "", _summary(rep)]
    if rep.kind == "daily":
        _daily(rep, out)
    elif rep.kind == "weekly":
        _weekly(rep, out)
    else:
        _monthly(rep, out)
    _changes(rep, out)
    _health(rep, out)
    return "\n".join(out).rstrip() + "\n"
