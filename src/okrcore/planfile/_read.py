"""Reading plan text (YAML, JSON, TOML) into plain data plus the line and column of every key.

YAML positions come from the node tree libyaml composes (PyYAML's pure-Python parser when libyaml is
not installed), JSON positions from a small scanner over the (already valid) text, TOML positions
from a line scan that follows ``[table]`` and ``[[array]]`` headers and ``key = value`` lines (keys
inside inline tables and arrays are located at their enclosing key). Positions are computed only
when something asks for one (an error or a lint finding), unless reading found a repeated key or
a size limit passed; a YAML plan's text is then composed again.

Every way a file can be broken ends in a :class:`~okrcore.errors.PlanError` with a line and column:
syntax errors, control characters, integers too long to convert, nesting deeper than
:data:`~._limits.MAX_DEPTH`, more than :data:`~._limits.MAX_NODES` values (YAML aliases counted
as expanded). The limits are documented in docs/limits.md.
"""

from __future__ import annotations

import bisect
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

import yaml

from okrcore.errors import PlanError, Problem

from ._limits import MAX_BYTES, MAX_DEPTH, MAX_NODES
from ._spec import Ctx, join, locate
from ._yaml_plain import NotPlain, construct_plain, plain_yaml

Positions = dict[str, tuple[int, int]]

# json's own string scanner (not in the typeshed stubs): decodes one JSON string literal
scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]

# Python refuses to convert integers longer than this to int (CVE-2020-10735)
_MAX_DIGITS = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 4300

_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep (the most a plan may have)"
_TOO_MANY = (
    f"more than {MAX_NODES:,} values (YAML aliases counted as expanded): the most a plan may have"
)


def line_col(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of ``text[index]``."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _fail(file: str | None, message: str, position: tuple[int | None, int | None]) -> NoReturn:
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


def _check_size(data: Any, file: str | None, where: Callable[[str], tuple[int, int]]) -> None:
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
            message = _TOO_MANY if count > MAX_NODES else _TOO_DEEP
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


def _too_long_integer(text: str, file: str | None, format: str) -> NoReturn:
    """Name the integer Python refused to convert (more than _MAX_DIGITS digits)."""
    m = re.search(rf"[0-9][0-9_]{{{_MAX_DIGITS},}}", text)
    length = len(m.group().replace("_", "")) if m else 0
    message = f"{format}: a number of {length:,} digits is too long to read"
    _fail(file, message, line_col(text, m.start()) if m else (1, 1))


_BRACKETS = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*|[\[\]{}]')


def _deep_bracket(text: str) -> tuple[int, int] | None:
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


# -- YAML --------------------------------------------------------------------------------------


def _loader_class(base: Any) -> Any:
    """A safe loader over ``base`` (libyaml's or PyYAML's parser): an impossible date
    (2026-13-01) stays text for the checker to report; an integer too long to convert and
    nesting past MAX_DEPTH are errors at their position."""

    # implicit tags by a scalar's first character, the wildcard ones appended: PyYAML's resolve()
    # builds this list for every scalar of the document
    wildcard = base.yaml_implicit_resolvers.get(None, [])
    by_first = {
        first: [*resolvers, *wildcard]
        for first, resolvers in base.yaml_implicit_resolvers.items()
        if first is not None
    }

    class Loader(base):  # type: ignore[misc]
        depth = 0

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            # PyYAML's, less the path resolvers a safe loader has none of: called for every node
            if self.yaml_path_resolvers:
                return super().resolve(kind, value, implicit)
            if kind is yaml.ScalarNode:
                if implicit[0]:
                    for tag, regexp in by_first.get(value[:1], wildcard):
                        if regexp.match(value):
                            return tag
                return self.DEFAULT_SCALAR_TAG
            if kind is yaml.SequenceNode:
                return self.DEFAULT_SEQUENCE_TAG
            return self.DEFAULT_MAPPING_TAG

        def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
            try:
                return super().construct_yaml_timestamp(node)
            except ValueError:
                return self.construct_scalar(node)

        def construct_yaml_int(self, node: yaml.Node) -> Any:
            try:
                return super().construct_yaml_int(node)
            except ValueError:
                digits = len(re.sub(r"[^0-9a-fA-F]", "", str(node.value)))
                message = f"a number of {digits:,} digits is too long to read"
                raise yaml.constructor.ConstructorError(
                    None, None, message, node.start_mark
                ) from None

        def flatten_mapping(self, node: Any) -> None:
            # "<<" merges copy entries: merges of merges multiply them like an alias bomb
            super().flatten_mapping(node)
            if len(node.value) > MAX_NODES:
                raise yaml.constructor.ConstructorError(None, None, _TOO_MANY, node.start_mark)

        def compose_node(self, parent: Any, index: Any) -> Any:
            # only PyYAML's composer comes here: it recurses (libyaml's stops at 1000 levels)
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, _TOO_DEEP, mark)
            self.depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    Loader.add_constructor("tag:yaml.org,2002:timestamp", Loader.construct_yaml_timestamp)
    Loader.add_constructor("tag:yaml.org,2002:int", Loader.construct_yaml_int)
    return Loader


PURE_LOADER = _loader_class(yaml.SafeLoader)
LOADER = _loader_class(yaml.CSafeLoader) if yaml.__with_libyaml__ else PURE_LOADER


class _YamlWalk:
    """One pass over the composed nodes: positions, duplicate keys, and the size limits (the
    walk follows aliases, so it counts the values the data will hold)."""

    def __init__(self, ctx: Ctx, positions: Positions) -> None:
        self.ctx = ctx
        self.positions = positions
        self.count = 0

    def refuse(self, node: yaml.Node, path: str, message: str) -> NoReturn:
        mark = node.start_mark
        raise PlanError([Problem(path, message, mark.line + 1, mark.column + 1)], self.ctx.file)

    def walk(self, node: yaml.Node, path: str, stack: tuple[int, ...]) -> None:
        """Walk a mapping or sequence node (scalars are counted by their parent)."""
        if id(node) in stack:  # an alias to its own ancestor: the data would be infinite
            message = "recursive YAML alias: a value cannot contain itself"
            problem = Problem(path, message, *locate(self.positions, path))
            raise PlanError([problem], self.ctx.file)
        if len(stack) >= MAX_DEPTH:
            self.refuse(node, path, _TOO_DEEP)
        self.count += len(node.value)
        if self.count > MAX_NODES:
            self.refuse(node, path, _TOO_MANY)
        stack = (*stack, id(node))
        positions = self.positions
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            first, last = node.start_mark.index, node.end_mark.index
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                where = f"{path}.{key}" if path else key
                mark = key_node.start_mark
                # keys merged in with "<<: *anchor" lie outside this mapping; its own keys override
                own = first <= mark.index <= last
                if own and key in seen:
                    message = f"duplicate key {key!r} (first on line {seen[key]})"
                    problem = Problem(where, message, mark.line + 1, mark.column + 1)
                    self.ctx.problems.append(problem)
                elif own or where not in positions:
                    if own:
                        seen[key] = mark.line + 1
                    positions[where] = (mark.line + 1, mark.column + 1)
                if not isinstance(value_node, yaml.ScalarNode):
                    self.walk(value_node, where, stack)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                where = f"{path}[{i}]"
                mark = item.start_mark
                positions[where] = (mark.line + 1, mark.column + 1)
                if not isinstance(item, yaml.ScalarNode):
                    self.walk(item, where, stack)


def _yaml_positions(text: str, loader_class: Any) -> Positions:
    """The position of every key and item of a YAML plan: its text read again, when a position
    is first asked for (an error or a lint finding) of a plan read without positions."""
    positions: Positions = {"": (1, 1)}
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is not None and not isinstance(node, yaml.ScalarNode):
            loader.construct_document(node)  # flattens "<<" merges, as when it was loaded
            _YamlWalk(Ctx(positions), positions).walk(node, "", ())
    finally:
        loader.dispose()
    return positions


def _yaml_character(text: str, exc: yaml.reader.ReaderError) -> tuple[str, tuple[int, int]]:
    char = exc.character if isinstance(exc.character, str) else chr(exc.character)
    index = exc.position if 0 <= exc.position <= len(text) else text.find(char)
    message = (
        f"YAML does not allow the control character U+{ord(char):04X}; remove it, or write it "
        'as an escape ("\\x..") inside double quotes'
    )
    return message, line_col(text, max(index, 0))


def _parse_yaml(text: str, ctx: Ctx, loader_class: Any = None) -> Any:
    positions: Positions = {"": (1, 1)}
    ctx.positions = positions
    loader_class = loader_class or LOADER
    try:
        loader = loader_class(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            if not isinstance(node, yaml.ScalarNode):
                try:
                    data = construct_plain(loader, node)
                except NotPlain:
                    pass
                else:  # the usual case: positions only when one is asked for
                    ctx.positions = LazyPositions(lambda: _yaml_positions(text, loader_class))
                    return data
            # constructing first flattens "<<" merges into the mappings the walk then sees; the
            # data shares aliased values, so an alias bomb is still small here
            data = loader.construct_document(node)
            if isinstance(node, yaml.ScalarNode):
                return data
            if plain_yaml(node):  # the usual case: positions only when one is asked for
                ctx.positions = LazyPositions(lambda: _yaml_positions(text, loader_class))
            else:
                _YamlWalk(ctx, positions).walk(node, "", ())
            return data
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as exc:
        _fail(ctx.file, *_yaml_character(text, exc))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        if "maximum nesting depth" in what and loader_class is not PURE_LOADER:
            # libyaml's own limit (1000 levels): PyYAML's composer finds where MAX_DEPTH is passed
            return _parse_yaml(text, ctx, PURE_LOADER)
        kind = "YAML syntax error" if isinstance(exc, yaml.scanner.ScannerError) else "YAML error"
        if isinstance(exc, yaml.parser.ParserError):
            kind = "YAML syntax error"
        _fail(ctx.file, f"{kind}: {what}", (line, col))
    except yaml.YAMLError as exc:
        _fail(ctx.file, f"YAML error: {exc}", (1, 1))
    except RecursionError:
        if loader_class is not PURE_LOADER:  # PyYAML's composer finds where MAX_DEPTH is passed
            return _parse_yaml(text, ctx, PURE_LOADER)
        _fail(ctx.file, _TOO_DEEP, (1, 1))  # a caller's deep stack: depth is bounded, not by much


# -- JSON --------------------------------------------------------------------------------------

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
    found = _deep_bracket(text)
    if found is not None:
        return found
    line, col = locate(_json_positions(text, Ctx({})), path)
    return (line or 1, col or 1)


def _parse_json(text: str, ctx: Ctx) -> Any:
    duplicates = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal duplicates
        out = dict(items)
        duplicates = duplicates or len(out) < len(items)
        return out

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        _fail(ctx.file, f"JSON syntax error: {exc.msg}", (exc.lineno, exc.colno))
    except RecursionError:
        _fail(ctx.file, _TOO_DEEP, _deep_bracket(text) or (1, 1))
    except ValueError:
        _too_long_integer(text, ctx.file, "JSON")
    _check_size(data, ctx.file, lambda path: _json_place(text, path))
    if duplicates:
        ctx.positions = _json_positions(text, ctx)
    else:
        ctx.positions = LazyPositions(lambda: _json_positions(text, Ctx({})))
    return data


# -- TOML --------------------------------------------------------------------------------------

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
    found = _deep_bracket(text)
    if found is not None:
        return found
    positions = _toml_positions(text)
    under = [pos for key, pos in positions.items() if key.startswith(path)]
    return min(under) if under else (1, 1)


def _parse_toml(text: str, ctx: Ctx) -> Any:
    if sys.version_info >= (3, 11):  # imported here: a YAML plan does not need it
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
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
        _fail(ctx.file, f"TOML syntax error: {message}", position)
    except RecursionError:
        _fail(ctx.file, _TOO_DEEP, _deep_bracket(text) or (1, 1))
    except ValueError:
        _too_long_integer(text, ctx.file, "TOML")
    _check_size(data, ctx.file, lambda path: _toml_place(text, path))
    ctx.positions = LazyPositions(lambda: _toml_positions(text))
    return data


PARSERS: dict[str, Callable[[str, Ctx], Any]] = {
    "yaml": _parse_yaml,
    "json": _parse_json,
    "toml": _parse_toml,
}


def parse(text: str, format: str, ctx: Ctx) -> Any:
    """Parse ``text`` into plain data; sets ``ctx.positions`` and records duplicate keys in
    ``ctx``. Raises :class:`~okrcore.errors.PlanError` for anything unreadable."""
    if len(text) > MAX_BYTES:
        message = f"the plan has {len(text):,} characters; plans are limited to {MAX_BYTES:,}"
        _fail(ctx.file, message, (1, 1))
    return PARSERS[format](text, ctx)
