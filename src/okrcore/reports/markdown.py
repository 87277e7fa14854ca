"""A report as headings and bullet lists: Markdown for chats and issues, and the same content as
plain text and as simple HTML for mail.

Lists rather than tables: chat robots (Slack, DingTalk, Feishu cards, Teams) do not render
Markdown tables, a list reads well on a phone, and a mail client's proportional font cannot break
it. The report is first built as blocks (headings, paragraphs, list items) of spans (text, bold
or not); each format then writes those blocks with its own escaping, so plan text can never
inject markup in any of them.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Callable, Iterable

import attrs

from okrcore.reports._format import (
    LIGHT_ICON,
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
from okrcore.reports.data import InitiativeLine, KRLine, Report

__all__ = ["render_html_mail", "render_markdown", "render_plain"]

MOVERS_SHOWN = 5

# A span of text: a plain string, or a bold one.
Span = str | tuple[str]


def b(text: str) -> tuple[str]:
    """A bold span."""
    return (text,)


@attrs.frozen
class Block:
    """A heading (``h2``, ``h3``), a paragraph (``p``) or a list item (``li``, at ``level``)."""

    kind: str
    spans: tuple[Span, ...]
    level: int = 0


def _h(kind: str, *spans: Span) -> Block:
    return Block(kind, spans)


def _li(*spans: Span, level: int = 0) -> Block:
    return Block("li", spans, level)


# -- the content ----------------------------------------------------------------------------------


def _summary(rep: Report) -> tuple[Span, ...]:
    lights = rep.lights
    parts = [f"{LIGHT_ICON[k]} {lights[k]}" for k in ("green", "yellow", "red", "grey")]
    return (" · ".join(parts) + f" — {len(rep.key_results)} key results",)


def _kr_head(line: KRLine) -> tuple[Span, ...]:
    s = line.score
    return (
        f"{LIGHT_ICON[s.status.value]} ",
        b(s.title),
        f": {num(s.actual, s.unit)} of {num(s.target, s.unit)} "
        f"(plan to date {num(s.plan_to_date, s.unit)})"
        + (f", {sum_note(s.sum_of)}" if s.sum_of else ""),
    )


def _daily(rep: Report) -> Iterable[Block]:
    for obj in rep.objectives:
        node = obj.node
        owner = f" · {rep.owner_label(node.owner)}" if node.owner else ""
        scale = rep.scorecard.confidence_scale
        sure = with_confidence("", node.confidence, scale).replace(", ", " · ", 1)
        yield _h("h3", f"{LIGHT_ICON[node.status.value]} {node.title}{owner}{sure}")
        for kr_id in obj.key_results:
            line = rep.key_result(kr_id)
            s = line.score
            own = f" · {rep.owner_label(line.owner)}" if line.owner != node.owner else ""
            yield _li(*_kr_head(line), f"{own} — {s.reason}")
            bits: list[Span] = []
            if line.previous_checkin:
                bits.append(
                    f"since {line.previous_checkin.isoformat()}: {signed(line.change, s.unit)}"
                )
            if line.previous_status and line.previous_status is not s.status:
                bits.append(f"was {LIGHT_ICON[line.previous_status.value]} yesterday")
            if s.stale:
                bits.append(b("stale"))
            if bits:
                spans: list[Span] = []
                for i, bit in enumerate(bits):
                    spans += ["; ", bit] if i else [bit]
                yield _li(*spans, level=1)


def _weekly(rep: Report) -> Iterable[Block]:
    yield _h("h3", "Largest gaps first")
    for kr_id in rep.gaps:
        line = rep.key_result(kr_id)
        s = line.score
        yield _li(
            *_kr_head(line),
            f"; gap {pts(line.gap)} ({signed(line.gap_value, s.unit)}); "
            f"7 days: {signed(line.trend, s.unit)}; forecast at {s.deadline.isoformat()}: "
            f"{num(s.forecast, s.unit)} (score {fixed(s.forecast_score)})",
        )
    if rep.movers:
        yield _h("h3", "Moved most in 7 days")
        for kr_id in rep.movers[:MOVERS_SHOWN]:
            line = rep.key_result(kr_id)
            s = line.score
            yield _li(
                f"{LIGHT_ICON[s.status.value]} {s.title}: {pts(line.trend_progress)} "
                f"of the way ({signed(line.trend, s.unit)})"
            )
    waiting = [line for line in rep.key_results if line.gap is None]
    if waiting:
        yield _h("p", "No data yet: " + ", ".join(line.score.title for line in waiting))


def _monthly(rep: Report) -> Iterable[Block]:
    scale = rep.scorecard.confidence_scale
    yield _h("h3", "Objectives")
    for obj in rep.objectives:
        n = obj.node
        yield _li(
            f"{LIGHT_ICON[n.status.value]} ",
            b(n.title),
            with_confidence(f": score {fixed(n.score)}", n.confidence, scale)
            + f" (expected {fixed(n.expected_score)})"
            + (f" · {rep.owner_label(n.owner)}" if n.owner else ""),
        )
        for kr_id in obj.key_results:
            s = rep.key_result(kr_id).score
            yield _li(
                f"{LIGHT_ICON[s.status.value]} {s.title}: "
                f"{with_confidence(f'score {fixed(s.score)}', s.confidence, scale)}, "
                f"forecast {num(s.forecast, s.unit)} of {num(s.target, s.unit)} "
                f"(score {fixed(s.forecast_score)}, bar {s.success_bar:g})",
                *((" · ", b("below floor")) if s.below_floor else ()),
                level=1,
            )
    if rep.goals:
        yield _h("h3", "Goals")
        for g in rep.goals:
            text = with_confidence(f": score {fixed(g.score)}", g.confidence, scale)
            yield _li(f"{LIGHT_ICON[g.status.value]} ", b(g.title), text)
    for key, heading in (("owner", "By owner"), ("level", "By level")):
        nodes = rep.rollups.get(key, ())
        if nodes:
            yield _h("h3", heading)
            for n in nodes:
                score_text = with_confidence(f"score {fixed(n.score)}", n.confidence, scale)
                yield _li(
                    f"{LIGHT_ICON[n.status.value]} {n.title}: {score_text}, "
                    f"completion {pct(n.completion)}"
                )


def _initiative_item(rep: Report, ini: InitiativeLine, level: int = 0) -> Block:
    owner = rep.owner_label(ini.owner)
    return _li(
        b(ini.initiative.title),
        f": {ini.state}" + (f" · {owner}" if owner else ""),
        level=level,
    )


def _kpis(rep: Report) -> Iterable[Block]:
    """The KPIs, apart from the OKRs: each against its current period's bar."""
    if not rep.kpis:
        return
    yield _h("h3", "KPIs")
    for k in rep.kpis:
        yield _li(
            f"{LIGHT_ICON[k.status.value]} ",
            b(k.title),
            f": {num(k.actual, k.unit)} in {k.period} ({kpi_bar(k)} to date, target "
            f"{num(k.target)}; last period {kpi_last(k)}) — {k.reason}",
        )


def _initiatives(rep: Report) -> Iterable[Block]:
    """Daily: the overdue and blocked initiatives; weekly: the initiatives of each lagging key
    result; monthly: every initiative."""
    if rep.kind == "weekly":
        if rep.lagging:
            yield _h("h3", "Initiatives of lagging key results")
            for kr_id in rep.lagging:
                line = rep.key_result(kr_id)
                yield _li(b(line.score.title), f" (gap {pts(line.gap)})")
                for ini in rep.initiatives_for(kr_id):
                    yield _initiative_item(rep, ini, level=1)
        return
    shown = rep.attention if rep.kind == "daily" else rep.initiatives
    if shown:
        yield _h("h3", "Overdue and blocked initiatives" if rep.kind == "daily" else "Initiatives")
        for ini in shown:
            yield _initiative_item(rep, ini)


def _changes(rep: Report) -> Iterable[Block]:
    if rep.target_changes:
        yield _h("h3", "Target changes")
        for c in rep.target_changes:
            ch = c.change
            by = f", by {ch.author}" if ch.author else ""
            moved = ", ".join(rep.moved_with(c))
            yield _li(
                b(c.title),
                f" {ch.field}: {num(ch.old)} → {num(ch.new)} "
                f"(original {num(c.original)}, current {num(c.current)}) — "
                f"{ch.reason}{f' (moved with {moved})' if moved else ''} "
                f"({ch.changed_at.date().isoformat()}{by})",
            )
    if rep.strategy_changes:
        yield _h("h3", "Strategy changes")
        for sc in rep.strategy_changes:
            ch2 = sc.change
            by = f", by {ch2.author}" if ch2.author else ""
            yield _li(
                b(sc.title),
                f" {ch2.field}: {ch2.old} → {ch2.new} — {ch2.reason} "
                f"({ch2.changed_at.date().isoformat()}{by})",
            )


def _health(rep: Report) -> Iterable[Block]:
    if rep.stale:
        names = ", ".join(rep.key_result(k).score.title for k in rep.stale)
        yield _h("p", b("Stale"), f" (no recent check-in): {names}")
    if rep.failed_sources:
        run = rep.last_run
        when = f" (refresh run {run.id} for {run.as_of.isoformat()})" if run else ""
        yield _h("p", b("Failed sources"), f"{when}:")
        for f in rep.failed_sources:
            conn = f" via {f.connection}" if f.connection else ""
            yield _li(f"{f.title}{conn}: {f.error or f.kind or 'failed'}")


def blocks(rep: Report) -> list[Block]:
    """The report's headings, paragraphs and list items, in order."""
    out = [_h("h2", rep.title), _h("p", *_summary(rep))]
    body = {"daily": _daily, "weekly": _weekly}.get(rep.kind, _monthly)
    out += body(rep)
    out += _initiatives(rep)
    out += _kpis(rep)
    out += _changes(rep)
    out += _health(rep)
    return out


# -- the formats ----------------------------------------------------------------------------------


_SPACE = re.compile(r"\s+")


def _one_line(text: str) -> str:
    """Text on one line: each run of white space (newlines too) becomes one space."""
    return _SPACE.sub(" ", text)


def _inline(text: str) -> str:
    """Text on one line, with the characters that would start Markdown markup escaped."""
    text = _one_line(text)
    for ch in ("\\", "*", "_", "`", "[", "]", "<", ">", "|"):
        text = text.replace(ch, f"\\{ch}")
    return text


def _spans(spans: Iterable[Span], escape: Callable[[str], str], bold: str, end: str = "") -> str:
    out = []
    for span in spans:
        if isinstance(span, tuple):
            out.append(f"{bold}{escape(span[0])}{end or bold}")
        else:
            out.append(escape(span))
    return _one_line("".join(out)).strip()


def _lines(rep: Report, heading: dict[str, str], bold: str, escape: Callable[[str], str]) -> str:
    """Markdown or plain text: a blank line around headings and before paragraphs."""
    out: list[str] = []
    for block in blocks(rep):
        text = _spans(block.spans, escape, bold)
        if block.kind == "li":
            out.append(f"{'  ' * block.level}- {text}")
        elif block.kind == "p":
            out += ["", text]
        else:
            out += ["", heading[block.kind].format(text=text, rule="=" * len(text)), ""]
    while out and not out[0]:
        out.pop(0)
    text = "\n".join(out)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip() + "\n"


def render_markdown(rep: Report) -> str:
    """The report as Markdown (headings, bullet lists, emoji lights); plan text escaped."""
    return _lines(rep, {"h2": "## {text}", "h3": "### {text}"}, "**", _inline)


PLAIN_WIDTH = 78  # mail's customary line length


def render_plain(rep: Report) -> str:
    """The report as plain text for mail and webhooks: the Markdown's headings and lists without
    markup, wrapped at 78 characters (no tables, so a proportional font cannot break it)."""
    text = _lines(rep, {"h2": "{text}\n{rule}", "h3": "{text}"}, "", _one_line)
    out = []
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip(" -")) if line.lstrip().startswith("- ") else 0
        out += textwrap.wrap(
            line, PLAIN_WIDTH, subsequent_indent=" " * indent, break_on_hyphens=False
        ) or [""]
    return "\n".join(out) + "\n"


def render_html_mail(rep: Report) -> str:
    """The report as a small HTML document for a mail's HTML part: the Markdown's headings and
    lists, inline styles only (mail clients drop style sheets), plan text escaped."""
    out = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"><title>'
        + html.escape(_one_line(rep.title).strip())
        + "</title></head>",
        '<body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; '
        'font-size: 14px; line-height: 1.45; color: #1f2328;">',
    ]
    open_items: list[bool] = []  # per list depth: is an item open (a sublist goes inside it)
    for block in blocks(rep):
        want = block.level + 1 if block.kind == "li" else 0
        while len(open_items) > want or (
            len(open_items) == want and open_items and block.kind == "li" and open_items[-1]
        ):
            if open_items[-1]:
                out.append("</li>")
            if len(open_items) > want:
                out.append("</ul>")
                open_items.pop()
            else:
                open_items[-1] = False
        while len(open_items) < want:
            out.append('<ul style="margin: 0.2em 0; padding-left: 1.4em;">')
            open_items.append(False)
        text = _spans(block.spans, html.escape, "<strong>", "</strong>")
        if block.kind == "li":
            out.append(f"<li>{text}")
            open_items[-1] = True
        else:
            out.append(f"<{block.kind}>{text}</{block.kind}>")
    while open_items:
        out.append("</li></ul>" if open_items.pop() else "</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
