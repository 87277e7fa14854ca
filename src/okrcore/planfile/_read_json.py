"""Reading a JSON plan: the data with :mod:`json`, and the position of every key from a small
scanner over the (already valid) text, run only when a position is asked for or a key repeats."""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable
from typing import Any

from okrcore.errors import Problem

from ._read import (
    TOO_DEEP,
    LazyPositions,
    Positions,
    check_size,
    deep_bracket,
    fail,
    too_long_integer,
)
from ._spec import Ctx, join, locate

# json's own string scanner (not in the typeshed stubs): decodes one JSON string literal
scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]

_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_ATOM = re.compile(
    r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null|NaN|-?Infinity"
)


def _json_positions(text: str, ctx: Ctx) -> Positions:
    """The position of every key and item of (valid, size-checked) JSON text; duplicate keys
    are recorded as problems."""
    positions: Positions = {"": (1, 1)}
    starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def pos(index: int) -> tuple[int, int]:
        line = bisect.bisect_right(starts, index)
        return line, index - starts[line - 1] + 1

    def skip(i: int) -> int:
        m = _JSON_WS.match(text, i)
        return m.end() if m else i

    def value(i: int, path: str) -> int:
        i = skip(i)
        c = text[i]
        if c == "{":
            seen: dict[str, int] = {}
            i = skip(i + 1)
            while text[i] != "}":
                key, end = scanstring(text, i + 1)
                where = join(path, key)
                if key in seen:
                    message = f"duplicate key {key!r} (first on line {seen[key]})"
                    ctx.problems.append(Problem(where, message, *pos(i)))
                else:
                    seen[key] = pos(i)[0]
                    positions[where] = pos(i)
                i = skip(end) + 1  # past the colon
                i = skip(value(i, where))
                if text[i] == ",":
                    i = skip(i + 1)
            return i + 1
        if c == "[":
            n = 0
            i = skip(i + 1)
            while text[i] != "]":
                where = f"{path}[{n}]"
                positions[where] = pos(i)
                i = skip(value(i, where))
                n += 1
                if text[i] == ",":
                    i = skip(i + 1)
            return i + 1
        if c == '"':
            return scanstring(text, i + 1)[1]
        m = _JSON_ATOM.match(text, i)
        return m.end() if m else i + 1

    value(0, "")
    return positions


def _json_place(text: str, path: str) -> tuple[int, int]:
    """Where a too-deep or too-big value is."""
    found = deep_bracket(text)
    if found is not None:
        return found
    line, col = locate(_json_positions(text, Ctx({})), path)
    return (line or 1, col or 1)


def parse(text: str, ctx: Ctx) -> Any:
    """Parse JSON plan text into plain data, as :func:`._read.parse` describes."""
    duplicates = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal duplicates
        out = dict(items)
        duplicates = duplicates or len(out) < len(items)
        return out

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        fail(ctx.file, f"JSON syntax error: {exc.msg}", (exc.lineno, exc.colno))
    except RecursionError:
        fail(ctx.file, TOO_DEEP, deep_bracket(text) or (1, 1))
    except ValueError:
        too_long_integer(text, ctx.file, "JSON")
    check_size(data, ctx.file, lambda path: _json_place(text, path))
    if duplicates:
        ctx.positions = _json_positions(text, ctx)
    else:
        ctx.positions = LazyPositions(lambda: _json_positions(text, Ctx({})))
    return data
