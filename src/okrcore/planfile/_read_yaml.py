"""Reading a YAML plan: the data, and the position of every key from the node tree libyaml
composes (PyYAML's pure-Python parser when libyaml is not installed).

A plain document (the usual plan) is built by :mod:`._yaml_plain` in one pass and its positions
are composed again only when one is asked for; anything else (merges, other tags, a repeated key,
a limit passed) is constructed by PyYAML and walked with positions at once.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

import yaml

from okrcore.errors import PlanError, Problem

from ._limits import MAX_DEPTH, MAX_NODES
from ._read import TOO_DEEP, TOO_MANY, LazyPositions, Positions, fail, line_col
from ._spec import Ctx, locate
from ._yaml_plain import NotPlain, construct_plain, plain_yaml


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
                raise yaml.constructor.ConstructorError(None, None, TOO_MANY, node.start_mark)

        def compose_node(self, parent: Any, index: Any) -> Any:
            # only PyYAML's composer comes here: it recurses (libyaml's stops at 1000 levels)
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, TOO_DEEP, mark)
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
            self.refuse(node, path, TOO_DEEP)
        self.count += len(node.value)
        if self.count > MAX_NODES:
            self.refuse(node, path, TOO_MANY)
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


def parse(text: str, ctx: Ctx, loader_class: Any = None) -> Any:
    """Parse YAML plan text into plain data, as :func:`._read.parse` describes.
    ``loader_class``: PyYAML's pure-Python loader when libyaml stops at its own depth limit."""
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
        fail(ctx.file, *_yaml_character(text, exc))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        if "maximum nesting depth" in what and loader_class is not PURE_LOADER:
            # libyaml's own limit (1000 levels): PyYAML's composer finds where MAX_DEPTH is passed
            return parse(text, ctx, PURE_LOADER)
        kind = "YAML syntax error" if isinstance(exc, yaml.scanner.ScannerError) else "YAML error"
        if isinstance(exc, yaml.parser.ParserError):
            kind = "YAML syntax error"
        fail(ctx.file, f"{kind}: {what}", (line, col))
    except yaml.YAMLError as exc:
        fail(ctx.file, f"YAML error: {exc}", (1, 1))
    except RecursionError:
        if loader_class is not PURE_LOADER:  # PyYAML's composer finds where MAX_DEPTH is passed
            return parse(text, ctx, PURE_LOADER)
        fail(ctx.file, TOO_DEEP, (1, 1))  # a caller's deep stack: depth is bounded, not by much
