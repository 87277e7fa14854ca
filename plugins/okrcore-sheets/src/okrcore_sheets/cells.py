"""A1 ranges and cell values: pure functions (no I/O).

A range is ``Sheet!A1:B9`` or ``A1:B9`` (the first visible sheet). A sheet name with anything but
letters, digits and underscores is quoted, ``'KR Data'!B2``, with an apostrophe inside doubled
(``'Jon''s sheet'!A1``). Values arrive unformatted: numbers as numbers, a date cell as its serial
number (days since 1899-12-30), text as text.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

__all__ = ["cell_date", "cell_number", "range_problem", "sheet_of"]

_EPOCH = dt.date(1899, 12, 30)  # day 0 of Sheets' serial numbers
_CELLS = re.compile(r"^(?:[A-Za-z]{1,3}[0-9]*|[0-9]+)(?::(?:[A-Za-z]{1,3}[0-9]*|[0-9]+))?$")
_PLAIN_SHEET = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LOOKS_LIKE_CELL = re.compile(r"^[A-Za-z]{1,3}[0-9]+$")
_NUMBER = re.compile(r"^[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?$")


def _split(text: str) -> tuple[str | None, str]:
    """(sheet, cells) of a range; the sheet unquoted; ValueError on a malformed quote."""
    if text.startswith("'"):
        end = 1
        while True:
            end = text.find("'", end)
            if end < 0:
                raise ValueError("a quoted sheet name has no closing quote")
            if text[end + 1 : end + 2] == "'":
                end += 2
                continue
            break
        if text[end + 1 : end + 2] != "!":
            raise ValueError("a quoted sheet name is followed by '!' and the cells")
        return text[1:end].replace("''", "'"), text[end + 2 :]
    if "!" in text:
        sheet, _, cells = text.rpartition("!")
        return sheet, cells
    return None, text


def sheet_of(text: str) -> str | None:
    """The sheet a valid range names (``None``: the first visible sheet)."""
    return _split(text)[0]


def range_problem(value: Any, *, single: bool = False) -> str | None:
    """Why ``value`` is not a usable A1 range (one cell when ``single``), or ``None``."""
    if not isinstance(value, str) or not value.strip():
        return "expected an A1 range such as 'KR Data'!B2"
    text = value.strip()
    try:
        sheet, cells = _split(text)
    except ValueError as exc:
        return str(exc)
    if sheet is not None and not text.startswith("'") and (
        not _PLAIN_SHEET.match(sheet) or _LOOKS_LIKE_CELL.match(sheet)
    ):
        quoted = "'" + sheet.replace("'", "''") + "'"
        return f"quote the sheet name: {quoted}!{cells}"
    if not _CELLS.match(cells):
        return f"{cells!r} is not a cell range such as B2 or A2:A"
    if single and (":" in cells or not re.search(r"[0-9]$", cells)):
        return f"{cells!r} is not a single cell such as B2"
    return None


def cell_number(raw: Any) -> float | None:
    """A cell as a number: numbers as they are, text like ``1,234.5``, ``87%`` or ``$12``;
    ``None`` for an empty cell. ValueError for other text."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a number")
    if isinstance(raw, (int, float)):
        return float(raw)
    text = str(raw).strip().replace(",", "").replace("\u00a0", "").replace(" ", "")
    percent = text.endswith("%")
    text = text.rstrip("%").lstrip("$€£")
    if not _NUMBER.match(text):
        raise ValueError(f"{raw!r} is not a number")
    return float(text) / (100 if percent else 1)


def cell_date(raw: Any, fmt: str | None = None) -> dt.date | None:
    """A cell as a date: a serial number, or text in ``fmt`` (a strptime format; by default
    ISO ``2026-03-31``); ``None`` for an empty cell. ValueError otherwise."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a date")
    if isinstance(raw, (int, float)):
        return _EPOCH + dt.timedelta(days=int(raw))  # the fraction is the time of day
    text = str(raw).strip()
    if fmt:
        return dt.datetime.strptime(text, fmt).date()
    return dt.date.fromisoformat(text[:10])
