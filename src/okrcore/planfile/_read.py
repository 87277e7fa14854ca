"""Reading plan text (YAML, JSON, TOML) into plain data plus the line and column of every key.

Each format has its own reader, imported only for a plan in that format (a JSON plan does not load
PyYAML): :mod:`._read_yaml`, :mod:`._read_json`, :mod:`._read_toml`. This module holds what they
share: the size limits, the positions computed on first use, and the errors with a position.
Positions are computed only when something asks for one (an error or a lint finding), unless
reading found a repeated key or a size limit passed.

Every way a file can be broken ends in a :class:`~okrcore.errors.PlanError` with a line and column:
syntax errors, control characters, integers too long to convert, nesting deeper than
:data:`~._limits.MAX_DEPTH`, more than :data:`~._limits.MAX_NODES` values (YAML aliases counted
as expanded). The limits are documented in docs/limits.md.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

from okrcore.errors import PlanError, Problem

from ._limits import MAX_BYTES, MAX_DEPTH, MAX_NODES
from ._spec import Ctx, join

Positions = dict[str, tuple[int, int]]


# Python refuses to convert integers longer than this to int (CVE-2020-10735)
_MAX_DIGITS = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 4300

TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep (the most a plan may have)"
TOO_MANY = (
    f"more than {MAX_NODES:,} values (YAML aliases counted as expanded): the most a plan may have"
)


def line_col(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of ``text[index]``."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def fail(file: str | None, message: str, position: tuple[int | None, int | None]) -> NoReturn:
    raise PlanError([Problem("", message, *position)], file)


class LazyPositions(Mapping[str, tuple[int, int]]):
    """Positions computed on first use: most loads never need one."""

    def __init__(self, compute: Callable[[], Positions]) -> None:
        self._compute: Callable[[], Positions] | None = compute
        self._positions: Positions = {}

    def _get(self) -> Positions:
        if self._compute is not None:
            compute, self._compute = self._compute, None
            self._positions = compute()
        return self._positions

    def __getitem__(self, key: str) -> tuple[int, int]:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def check_size(data: Any, file: str | None, where: Callable[[str], tuple[int, int]]) -> None:
    """Refuse data nested deeper than MAX_DEPTH or holding more than MAX_NODES values; ``where``
    places the offending field path."""
    count = 1
    # (container, depth, parent entry, key): paths are spelled out only for an error
    stack: list[tuple[Any, int, Any, Any]] = [(data, 1, None, "")]
    while stack:
        entry = stack.pop()
        value, depth = entry[0], entry[1]
        if isinstance(value, dict):
            pairs: Any = value.items()
        elif isinstance(value, list):
            pairs = enumerate(value)
        else:
            continue
        count += len(value)
        if count > MAX_NODES or depth > MAX_DEPTH:
            path = _spell(entry)
            message = TOO_MANY if count > MAX_NODES else TOO_DEEP
            raise PlanError([Problem(path, message, *where(path))], file)
        stack.extend(
            (child, depth + 1, entry, key)
            for key, child in pairs
            if isinstance(child, (dict, list))
        )


def _spell(entry: tuple[Any, int, Any, Any]) -> str:
    keys = []
    while entry[2] is not None:
        keys.append(entry[3])
        entry = entry[2]
    path = ""
    for key in reversed(keys):
        path = f"{path}[{key}]" if isinstance(key, int) else join(path, str(key))
    return path


def too_long_integer(text: str, file: str | None, format: str) -> NoReturn:
    """Name the integer Python refused to convert (more than _MAX_DIGITS digits)."""
    m = re.search(rf"[0-9][0-9_]{{{_MAX_DIGITS},}}", text)
    length = len(m.group().replace("_", "")) if m else 0
    message = f"{format}: a number of {length:,} digits is too long to read"
    fail(file, message, line_col(text, m.start()) if m else (1, 1))


_BRACKETS = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*|[\[\]{}]')


def deep_bracket(text: str) -> tuple[int, int] | None:
    """Where ``[`` and ``{`` first nest deeper than MAX_DEPTH (JSON and TOML), if they do."""
    depth = 0
    for m in _BRACKETS.finditer(text):
        token = m.group()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line_col(text, m.start())
        elif token in "]}":
            depth -= 1
    return None


#: each format's reader module; its ``parse(text, ctx)`` is imported on first use
READERS = {"yaml": "._read_yaml", "json": "._read_json", "toml": "._read_toml"}


def parse(text: str, format: str, ctx: Ctx) -> Any:
    """Parse ``text`` into plain data; sets ``ctx.positions`` and records duplicate keys in
    ``ctx``. Raises :class:`~okrcore.errors.PlanError` for anything unreadable."""
    if len(text) > MAX_BYTES:
        message = f"the plan has {len(text):,} characters; plans are limited to {MAX_BYTES:,}"
        fail(ctx.file, message, (1, 1))
    reader: Callable[[str, Ctx], Any] = importlib.import_module(READERS[format], __package__).parse
    return reader(text, ctx)
