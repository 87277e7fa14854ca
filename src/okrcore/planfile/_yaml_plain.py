"""Reading a plain YAML document fast: the usual plan, mappings with text keys, lists and
scalars, checked for what the positional walk of :mod:`._read` refuses without computing any
position. Anything else (merges, other tags, a problem) is left to PyYAML and that walk, which
find and report it with its line and column.
"""

from __future__ import annotations

from typing import Any

import yaml

from ._limits import MAX_DEPTH, MAX_NODES

_STR, _SEQ, _MAP = "tag:yaml.org,2002:str", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
# scalars built by the loader's own constructor (what a plan holds besides text)
_PLAIN_SCALARS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp")
)


class NotPlain(Exception):
    """The document needs PyYAML's own construction and the positional walk."""


def construct_plain(loader: Any, root: yaml.Node) -> Any:
    """The data of a document of plain mappings (text keys), sequences and scalars, built in one
    pass that also checks what the positional walk refuses (the size limits, recursive aliases,
    repeated keys). Raises :class:`NotPlain` for anything else (a ``<<`` merge, another tag, a
    scalar the loader refuses, a problem): PyYAML then constructs it and the walk reports. The
    result is what ``loader.construct_document`` returns, in a third of its time."""
    constructors = loader.yaml_constructors
    built: dict[int, tuple[Any, int, int]] = {}  # node -> data, values counted, container levels
    on_path: set[int] = set()
    count = 0

    def scalar(node: Any) -> Any:
        if node.tag == _STR:
            return node.value
        if node.tag not in _PLAIN_SCALARS:
            raise NotPlain
        try:
            return constructors[node.tag](loader, node)
        except Exception:  # the loader's own error, raised again by its construction
            raise NotPlain from None

    def build(node: Any, depth: int) -> tuple[Any, int]:
        nonlocal count
        ident = id(node)
        if ident in built:  # an alias: its values count again, as the data holds them again
            again, size, height = built[ident]
            count += size
            if count > MAX_NODES or depth + height > MAX_DEPTH:
                raise NotPlain
            return again, height
        if ident in on_path or depth >= MAX_DEPTH:
            raise NotPlain
        before = count
        count += len(node.value)
        if count > MAX_NODES:
            raise NotPlain
        on_path.add(ident)
        levels = 0
        data: Any
        if node.tag == _MAP and isinstance(node, yaml.MappingNode):
            data = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR:
                    raise NotPlain
                key = key_node.value
                if key in data:
                    raise NotPlain
                if isinstance(value_node, yaml.ScalarNode):
                    data[key] = scalar(value_node)
                else:
                    data[key], below = build(value_node, depth + 1)
                    levels = max(levels, below)
        elif node.tag == _SEQ and isinstance(node, yaml.SequenceNode):
            data = []
            for item in node.value:
                if isinstance(item, yaml.ScalarNode):
                    data.append(scalar(item))
                else:
                    value, below = build(item, depth + 1)
                    data.append(value)
                    levels = max(levels, below)
        else:
            raise NotPlain
        on_path.discard(ident)
        built[ident] = (data, count - before, levels + 1)
        return data, levels + 1

    return build(root, 0)[0]


def plain_yaml(root: yaml.Node) -> bool:
    """Whether a composed document is within the size limits and has no recursive alias and no
    repeated key: checked without positions, the usual case. When it is not, the positional walk
    finds and reports what is wrong (a key repeated by a ``<<`` merge is not a mistake, and is
    left to the walk too)."""
    count = 0
    on_path: set[int] = set()

    def scan(node: yaml.Node, depth: int) -> bool:
        nonlocal count
        if id(node) in on_path or depth >= MAX_DEPTH:
            return False
        count += len(node.value)
        if count > MAX_NODES:
            return False
        if isinstance(node, yaml.MappingNode):
            keys = [k.value if isinstance(k, yaml.ScalarNode) else "?" for k, _ in node.value]
            if len(set(keys)) < len(keys):
                return False
            children = [v for _, v in node.value if not isinstance(v, yaml.ScalarNode)]
        else:
            children = [v for v in node.value if not isinstance(v, yaml.ScalarNode)]
        on_path.add(id(node))
        if not all(scan(child, depth + 1) for child in children):
            return False
        on_path.discard(id(node))
        return True

    return scan(root, 0)
