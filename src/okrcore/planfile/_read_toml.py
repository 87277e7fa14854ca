"""Reading a TOML plan: the data with :mod:`tomllib`, and the position of every key from a line
scan that follows ``[table]`` and ``[[array]]`` headers and ``key = value`` lines (keys inside
inline tables and arrays are located at their enclosing key), run when a position is asked for."""

from __future__ import annotations

import re
import sys
from typing import Any

from ._read import (
    TOO_DEEP,
    LazyPositions,
    Positions,
    check_size,
    deep_bracket,
    fail,
    line_col,
    too_long_integer,
)
from ._spec import Ctx, join

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_TOML_KEY = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_TOML_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_TOML_KEY}(?:\s*\.\s*{_TOML_KEY})*)\s*\]\]?")
_TOML_ASSIGN = re.compile(rf"^(\s*)({_TOML_KEY}(?:\s*\.\s*{_TOML_KEY})*)\s*=")


def _toml_parts(dotted: str) -> list[str]:
    parts = re.findall(_TOML_KEY, dotted)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def _toml_positions(text: str) -> Positions:
    """Best effort: follow table headers and ``key =`` lines (see the module docstring)."""
    positions: Positions = {"": (1, 1)}
    counts: dict[str, int] = {}
    current = ""
    in_string = False
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string:
            in_string = line.count('"""') % 2 == 0 and line.count("'''") % 2 == 0
            continue
        header = _TOML_HEADER.match(line)
        if header:
            parts = _toml_parts(header.group(2))
            base = ""
            for part in parts[:-1]:
                base = join(base, part)
                if base in counts:
                    base = f"{base}[{counts[base] - 1}]"
            table = join(base, parts[-1])
            if header.group(1) == "[[":
                counts[table] = counts.get(table, 0) + 1
                positions.setdefault(table, (number, line.index("[") + 1))
                table = f"{table}[{counts[table] - 1}]"
            current = table
            positions[current] = (number, line.index("[") + 1)
            continue
        assign = _TOML_ASSIGN.match(line)
        if assign:
            where = current
            for part in _toml_parts(assign.group(2)):
                where = join(where, part)
            positions.setdefault(where, (number, len(assign.group(1)) + 1))
            rest = line[assign.end() :]
            in_string = rest.count('"""') % 2 == 1 or rest.count("'''") % 2 == 1
    return positions


def _toml_place(text: str, path: str) -> tuple[int, int]:
    """Where a too-deep or too-big value is: deep brackets, else the first line under ``path``
    (a long dotted key nests without brackets)."""
    found = deep_bracket(text)
    if found is not None:
        return found
    positions = _toml_positions(text)
    under = [pos for key, pos in positions.items() if key.startswith(path)]
    return min(under) if under else (1, 1)


def parse(text: str, ctx: Ctx) -> Any:
    """Parse TOML plan text into plain data, as :func:`._read.parse` describes."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)", message)
        if m:
            position = (int(m.group(1)), int(m.group(2)))
            message = message[: m.start()]
        else:  # "(at end of document)"
            position = line_col(text, len(text))
        fail(ctx.file, f"TOML syntax error: {message}", position)
    except RecursionError:
        fail(ctx.file, TOO_DEEP, deep_bracket(text) or (1, 1))
    except ValueError:
        too_long_integer(text, ctx.file, "TOML")
    check_size(data, ctx.file, lambda path: _toml_place(text, path))
    ctx.positions = LazyPositions(lambda: _toml_positions(text))
    return data
