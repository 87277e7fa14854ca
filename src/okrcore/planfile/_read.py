"""Reading plan text (YAML, JSON, TOML) into plain data plus the line and column of every key.

YAML positions come from the composed node tree, JSON positions from a small scanner over the
(already valid) text. TOML positions are best effort: a line scan that follows ``[table]`` and
``[[array]]`` headers and ``key = value`` lines; keys inside inline tables and arrays are located at
their enclosing key.
"""

from __future__ import annotations

import bisect
import json
import re
import sys
from collections.abc import Callable
from typing import Any

import yaml

from okrcore.errors import PlanError, Problem

from ._spec import Ctx, join, locate

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

Positions = dict[str, tuple[int, int]]

# json's own string scanner (not in the typeshed stubs): decodes one JSON string literal
scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


def _yaml_walk(node: yaml.Node, path: str, positions: Positions, ctx: Ctx, stack: set[int]) -> None:
    if id(node) in stack:  # an alias to its own ancestor: the data would be infinite
        message = "recursive YAML alias: a value cannot contain itself"
        raise PlanError([Problem(path, message, *locate(positions, path))], ctx.file)
    stack = stack | {id(node)}
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            where = join(path, key)
            mark = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            # keys merged in with "<<: *anchor" lie outside this mapping; its own keys override
            own = node.start_mark.index <= key_node.start_mark.index <= node.end_mark.index
            if own and key in seen:
                message = f"duplicate key {key!r} (first on line {seen[key]})"
                ctx.problems.append(Problem(where, message, *mark))
            elif own or where not in positions:
                if own:
                    seen[key] = mark[0]
                positions[where] = mark
            _yaml_walk(value_node, where, positions, ctx, stack)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            where = f"{path}[{i}]"
            positions[where] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _yaml_walk(item, where, positions, ctx, stack)


class _Loader(yaml.SafeLoader):
    """Safe loading, but an impossible date (2026-13-01) stays text for the checker to report."""

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
        try:
            return super().construct_yaml_timestamp(node)  # type: ignore[arg-type]
        except ValueError:
            return self.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _parse_yaml(text: str, file: str | None, ctx: Ctx, positions: Positions) -> Any:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        raise PlanError([Problem("", f"YAML syntax error: {what}", line, col)], file) from None
    except yaml.YAMLError as exc:
        raise PlanError([Problem("", f"YAML error: {exc}")], file) from None
    finally:
        loader.dispose()
    if node is not None:
        _yaml_walk(node, "", positions, ctx, set())
    return data


_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_ATOM = re.compile(
    r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null|NaN|"
    r"-?Infinity"
)


def _json_positions(text: str, ctx: Ctx, positions: Positions) -> None:
    """Record the position of every key and item of (valid) JSON text."""
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


def _parse_json(text: str, file: str | None, ctx: Ctx, positions: Positions) -> Any:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(
            [Problem("", f"JSON syntax error: {exc.msg}", exc.lineno, exc.colno)], file
        ) from None
    _json_positions(text, ctx, positions)
    return data


_TOML_KEY = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_TOML_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_TOML_KEY}(?:\s*\.\s*{_TOML_KEY})*)\s*\]\]?")
_TOML_ASSIGN = re.compile(rf"^(\s*)({_TOML_KEY}(?:\s*\.\s*{_TOML_KEY})*)\s*=")


def _toml_parts(dotted: str) -> list[str]:
    parts = re.findall(_TOML_KEY, dotted)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def _toml_positions(text: str, positions: Positions) -> None:
    """Best effort: follow table headers and ``key =`` lines (see the module docstring)."""
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


def _parse_toml(text: str, file: str | None, ctx: Ctx, positions: Positions) -> Any:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)", message)
        line, col = (int(m.group(1)), int(m.group(2))) if m else (None, None)
        message = message[: m.start()] if m else message
        raise PlanError([Problem("", f"TOML syntax error: {message}", line, col)], file) from None
    _toml_positions(text, positions)
    return data


PARSERS = {"yaml": _parse_yaml, "json": _parse_json, "toml": _parse_toml}
