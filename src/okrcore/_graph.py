"""Loops in a graph: the one detector for alignment (objective -> parent) and dependency
(key result -> what it depends on) loops, used by the model, the plan loader, the quality checks
and the rollup."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar

N = TypeVar("N", str, int)

__all__ = ["find_loops"]


def find_loops(graph: Mapping[N, Iterable[N]]) -> list[list[N]]:
    """Loops in a graph (node -> the nodes it points to), each named once.

    Each loop starts at its smallest node; edges to nodes that are not keys of ``graph`` are
    ignored. At least one loop is reported for every tangle of nodes that reach each other.
    Iterative, so a long chain cannot exhaust the recursion limit.
    """
    loops: dict[tuple[N, ...], list[N]] = {}
    state: dict[N, int] = {}  # 1 = on the current path, 2 = done
    for start in sorted(graph):
        if start in state:
            continue
        path: list[N] = [start]
        stack: list[Iterator[N]] = [iter(graph[start])]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                state[path.pop()] = 2
            elif nxt not in graph:
                continue
            elif state.get(nxt) == 1:
                loop = path[path.index(nxt) :]
                k = loop.index(min(loop))
                canonical = loop[k:] + loop[:k]
                loops.setdefault(tuple(canonical), canonical)
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(graph[nxt]))
    return [loops[key] for key in sorted(loops)]
