"""Terminal tables that fit the console's width without cutting a number (needs rich).

The rules, stated for users in docs/reports.md ("Terminal output"):

- a ``fixed`` column (numbers, lights, dates, ids) is as wide as its widest cell: never wrapped,
  never cut; a header wraps at its spaces;
- the ``name`` column (the key result) keeps at least :data:`NAME_MIN` characters (less when its
  longest name is shorter) and wraps at spaces;
- ``note`` columns (the free text: why, reason, note) stay columns when each can get
  :data:`NOTE_MIN` characters; otherwise every note moves to its own line under its row;
- when the columns still do not fit, the columns with a ``drop`` rank leave in that order
  (1 first); the others always stay.

Rows are printed without vertical borders (two spaces between columns), which leaves the width
to the content and reads well in a pipe or a mail.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from collections.abc import Sequence
from typing import Any, Literal

import attrs

__all__ = ["Col", "print_table", "terminal_width", "wrap", "wrap_width"]

NAME_MIN = 20
NOTE_MIN = 30
GAP = 2  # spaces between columns
NOTE_INDENT = 4
DEFAULT_WIDTH = 100  # without a terminal (a pipe, cron) and without $COLUMNS


def terminal_width(stream: Any = None) -> int:
    """The width to lay tables out for: the terminal's, else ``$COLUMNS``, else 100."""
    stream = stream if stream is not None else sys.stdout
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return DEFAULT_WIDTH


def wrap_width(stream: Any = None) -> int | None:
    """The width to wrap plain lines at: the terminal's, or ``$COLUMNS``; ``None`` in a pipe
    without ``$COLUMNS``, where one line per item serves ``grep`` best."""
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    if os.environ.get("COLUMNS", "").isdigit() or (isatty is not None and isatty()):
        return terminal_width(stream)
    return None


def wrap(text: str, width: int | None, indent: int = 4) -> str:
    """A line of output wrapped at ``width`` (``None``: not wrapped), continuation lines
    indented; a word (an id, a number, a URL) is never broken, even when longer than the line."""
    if width is None:
        return text
    lines = textwrap.wrap(
        text,
        width,
        subsequent_indent=" " * indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return "\n".join(lines) or text


@attrs.frozen
class Col:
    """A column: its header, its kind (``fixed``, ``name`` or ``note``), its alignment and its
    rank in the order columns are dropped when the table does not fit (0: never dropped)."""

    header: str
    kind: Literal["fixed", "name", "note"] = "fixed"
    justify: Literal["left", "right"] = "left"
    drop: int = 0


def _plain(cell: Any) -> str:
    return str(getattr(cell, "plain", cell))


def _cells(text: str) -> int:
    """Terminal cells ``text`` takes (wide characters count twice)."""
    from rich.cells import cell_len

    return cell_len(text)


def _longest_line(text: str) -> int:
    return max((_cells(line) for line in text.splitlines()), default=0)


def _longest_word(text: str) -> int:
    return max((_cells(word) for word in text.split()), default=0)


def _header_width(header: str) -> int:
    """The narrowest width that wraps a header on at most two lines (at its spaces)."""
    words = [_cells(w) for w in header.split()]
    for width in range(max(words, default=0), sum(words) + len(words)):
        lines, used = 1, -1
        for w in words:
            if used + 1 + w > width:
                lines, used = lines + 1, w
            else:
                used += 1 + w
        if lines <= 2:
            return width
    return sum(words) + len(words) - 1


@attrs.define
class _Layout:
    columns: list[int]  # indexes of the columns in the table
    widths: dict[int, int]
    notes_under: list[int]  # indexes of note columns printed under each row


def _layout(cols: Sequence[Col], rows: Sequence[Sequence[Any]], width: int) -> _Layout:
    natural: dict[int, int] = {}
    least: dict[int, int] = {}
    for i, col in enumerate(cols):
        cells = [_plain(row[i]) for row in rows]
        head = _header_width(col.header)
        widest = max([head, *(_longest_line(c) for c in cells)])
        natural[i] = widest
        if col.kind == "fixed":
            least[i] = widest
        elif col.kind == "name":
            longest_word = max([head, *(_longest_word(c) for c in cells)])
            least[i] = min(widest, max(NAME_MIN, longest_word))
        else:
            least[i] = min(widest, NOTE_MIN)

    def need(shown: list[int]) -> int:
        return sum(least[i] for i in shown) + GAP * (len(shown) - 1)

    shown = list(range(len(cols)))
    notes = [i for i in shown if cols[i].kind == "note"]
    under: list[int] = []
    if need(shown) > width and notes:
        under = notes
        shown = [i for i in shown if i not in notes]
    for rank in sorted({c.drop for c in cols if c.drop}):
        if need(shown) <= width:
            break
        shown = [i for i in shown if cols[i].drop != rank]
    widths = {i: least[i] for i in shown}
    spare = width - need(shown)
    # the room left goes to the names first, then to the notes kept as columns
    for kind in ("name", "note"):
        for i in shown:
            if cols[i].kind == kind and spare > 0:
                extra = min(spare, natural[i] - widths[i])
                widths[i] += extra
                spare -= extra
    if spare < 0:  # narrower than every number: names and notes give way, numbers still whole
        for i in shown:
            if cols[i].kind != "fixed" and spare < 0:
                give = min(-spare, widths[i] - 1)
                widths[i] -= give
                spare += give
    return _Layout(shown, widths, under)


def print_table(
    console: Any,
    cols: Sequence[Col],
    rows: Sequence[Sequence[Any]],
    *,
    title: Any = None,
) -> None:
    """Print ``rows`` under ``title`` at ``console``'s width. Cells are plain text (never read
    as rich markup: plan text is the user's) or rich ``Text`` for styles."""
    from rich.text import Text

    def text(cell: Any) -> Any:
        return cell if isinstance(cell, Text) else Text(str(cell))

    cells = [[text(c) for c in row] for row in rows]
    lay = _layout(cols, cells, console.width)
    shown = [(cols[i], lay.widths[i], i) for i in lay.columns]

    def emit(row: Sequence[Any]) -> None:
        wrapped = []
        for col, width, i in shown:
            lines = row[i].wrap(console, width, justify=col.justify, overflow="fold")
            wrapped.append(list(lines))
        for k in range(max((len(lines) for lines in wrapped), default=0)):
            line = Text()
            for n, ((col, width, _), lines) in enumerate(zip(shown, wrapped, strict=True)):
                piece = lines[k].copy() if k < len(lines) else Text()
                piece.align(col.justify, width)
                line.append(" " * GAP if n else "")
                line.append_text(piece)
            line.rstrip()
            console.print(line, no_wrap=True, overflow="ignore", crop=False)

    if title is not None:
        console.print(text(title))
    emit([Text(c.header, style="bold") for c in cols])
    console.print(Text((" " * GAP).join("─" * w for _, w, _ in shown), style="dim"))
    for row in cells:
        emit(row)
        for i in lay.notes_under:
            note = " ".join(row[i].plain.split())
            if not note:
                continue
            wrapped = Text(f"{cols[i].header}: {note}", style="dim").wrap(
                console, max(1, console.width - NOTE_INDENT)
            )
            for piece in wrapped:
                piece.rstrip()
                console.print(Text(" " * NOTE_INDENT) + piece, no_wrap=True, crop=False)
