"""Weighted rollups of key-result values up the alignment tree, in full and incrementally.

The tree is compiled once from a plan into flat lists (:class:`RollupTree`): every key result is a
*leaf* with the index of its objective and its weight; every objective and goal is a *node* with
the index of its parent node and the weight of that alignment. A :class:`Rollup` then holds, for
one quantity (scores, expected progress...), the running weighted sum and total weight of every
node, so that changing one key result's value touches only that key result and its ancestors:
``O(depth)`` work, independent of the size of the plan.

Rules (docs/scoring.md, "Rollup"):

- An objective's value is the weighted mean of its key results' values (``KeyResult.weight``) and
  of its child objectives' values (``Objective.weight``, the weight of the alignment to its parent).
  An objective aligned to several parents (``Objective.parents``) counts in each of them with the
  weight of that alignment.
- A goal's value is the weighted mean of the objectives aligned to it *that have no parent
  objective*. A child objective already counts through its parent; counting it toward the goal as
  well would count it twice. (Its ``goal`` field still says which goal it serves.)
- A key result or objective without a value (no check-in yet) is left out of the mean, and so is
  anything of weight 0. A node with nothing left has no value (``None``), not 0.
- Alignment loops are rejected when a :class:`~okrcore.model.Plan` is built; compiling a tree
  checks again and raises :class:`~okrcore.errors.AlignmentLoopError` naming the loop.

Incremental updates add and subtract floats, so after very many updates a node's value can differ
from a full recomputation in the last few bits; :meth:`Rollup.full` starts afresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ._graph import find_loops
from .errors import AlignmentLoopError, ValidationError
from .model import Plan

__all__ = ["Rollup", "RollupTree", "weighted_mean"]


def weighted_mean(pairs: Iterable[tuple[float | None, float]]) -> float | None:
    """The weighted mean of ``(value, weight)`` pairs, leaving out ``None`` values and 0 weights.

    ``None`` when nothing is left.
    """
    total = 0.0
    weights = 0.0
    for value, weight in pairs:
        if value is None or weight <= 0:
            continue
        total += weight * value
        weights += weight
    return total / weights if weights > 0 else None


class RollupTree:
    """The shape of a rollup: leaves (key results) under nodes (objectives, goals).

    Built from a plan with :meth:`from_plan`, or straight from flat lists (a generated
    organisation, a database export) with the constructor. ``node_parent[i]`` is the index of
    node ``i``'s parent node or ``-1``; ``leaf_parent[j]`` is the node of leaf ``j``.
    ``more_parents`` maps a node aligned to several parents to its further ``(parent, weight)``
    pairs, beyond ``node_parent`` and ``node_weight`` (a tree then becomes a graph without loops).
    """

    __slots__ = (
        "_leaf_index",
        "leaf_ids",
        "leaf_parent",
        "leaf_weight",
        "more_parents",
        "node_ids",
        "node_index",
        "node_parent",
        "node_weight",
        "order",
    )

    def __init__(
        self,
        node_ids: Sequence[str],
        node_parent: Sequence[int],
        node_weight: Sequence[float],
        leaf_ids: Sequence[str],
        leaf_parent: Sequence[int],
        leaf_weight: Sequence[float],
        more_parents: Mapping[int, Sequence[tuple[int, float]]] | None = None,
    ) -> None:
        n = len(node_ids)
        if not len(node_parent) == len(node_weight) == n:
            raise ValidationError("node_ids, node_parent and node_weight differ in length")
        if not len(leaf_parent) == len(leaf_weight) == len(leaf_ids):
            raise ValidationError("leaf_ids, leaf_parent and leaf_weight differ in length")
        for p in node_parent:
            if not -1 <= p < n:
                raise ValidationError(f"node parent index {p} out of range")
        for p in leaf_parent:
            if not 0 <= p < n:
                raise ValidationError(f"leaf parent index {p} out of range")
        more: dict[int, tuple[tuple[int, float], ...]] = {}
        for i, edges in (more_parents or {}).items():
            if not 0 <= i < n or node_parent[i] < 0:
                raise ValidationError(f"node {i} has further parents but no first parent")
            for p, _w in edges:
                if not 0 <= p < n:
                    raise ValidationError(f"node parent index {p} out of range")
            if edges:
                more[i] = tuple((p, float(w)) for p, w in edges)
        self.more_parents = more
        self.node_ids = list(node_ids)
        self.node_parent = list(node_parent)
        self.node_weight = [float(w) for w in node_weight]
        self.leaf_ids = list(leaf_ids)
        self.leaf_parent = list(leaf_parent)
        self.leaf_weight = [float(w) for w in leaf_weight]
        self.node_index = {nid: i for i, nid in enumerate(self.node_ids)}
        self._leaf_index: dict[str, int] | None = None
        self.order = self._deepest_first()

    @property
    def leaf_index(self) -> dict[str, int]:
        """Leaf id -> leaf index (built on first use: scoring a whole plan never needs it)."""
        if self._leaf_index is None:
            self._leaf_index = {lid: i for i, lid in enumerate(self.leaf_ids)}
        return self._leaf_index

    @classmethod
    def from_plan(cls, plan: Plan) -> RollupTree:
        """Compile a plan: goals then objectives as nodes, key results as leaves (plan order).

        Node ids are ``"goal:ID"`` and ``"objective:ID"`` so a goal and an objective may share
        an id; leaf ids are the key-result ids.
        """
        node_ids = [f"goal:{g.id}" for g in plan.goals]
        node_ids += [f"objective:{o.id}" for o in plan.objectives]
        index = {nid: i for i, nid in enumerate(node_ids)}
        node_parent = [-1] * len(plan.goals)
        node_weight = [1.0] * len(plan.goals)
        leaf_ids: list[str] = []
        leaf_parent: list[int] = []
        leaf_weight: list[float] = []
        more_parents: dict[int, list[tuple[int, float]]] = {}
        for obj in plan.objectives:
            me = index[f"objective:{obj.id}"]
            first, *more = obj.alignments or (None,)
            if first is not None:
                node_parent.append(index[f"objective:{first.parent}"])
                node_weight.append(first.weight)
                if more:
                    more_parents[me] = [(index[f"objective:{a.parent}"], a.weight) for a in more]
            else:
                node_parent.append(index[f"goal:{obj.goal}"] if obj.goal is not None else -1)
                node_weight.append(obj.weight)
            for kr in obj.key_results:
                leaf_ids.append(kr.id)
                leaf_parent.append(me)
                leaf_weight.append(kr.weight)
        return cls(
            node_ids, node_parent, node_weight, leaf_ids, leaf_parent, leaf_weight, more_parents
        )

    def parents(self, node: int) -> list[int]:
        """Every parent node of node ``node`` (none for a root)."""
        first = self.node_parent[node]
        if first < 0:
            return []
        return [first, *(p for p, _w in self.more_parents.get(node, ()))]

    def _deepest_first(self) -> list[int]:
        """Node indexes ordered so every node comes before its parents; guards against loops."""
        parent = self.node_parent
        if self.more_parents:
            graph = {i: self.parents(i) for i in range(len(parent)) if parent[i] >= 0}
        else:
            graph = {i: [p] for i, p in enumerate(parent) if p >= 0}
        loops = find_loops(graph)
        if loops:
            raise AlignmentLoopError([self.node_ids[i] for i in loops[0]])
        if self.more_parents:
            return self._longest_path_first()
        depth = [-1] * len(parent)
        for start in range(len(parent)):
            path: list[int] = []
            n = start
            while n >= 0 and depth[n] < 0:
                path.append(n)
                n = parent[n]
            d = depth[n] if n >= 0 else -1
            for i in reversed(path):
                d += 1
                depth[i] = d
        return sorted(range(len(parent)), key=depth.__getitem__, reverse=True)

    def _longest_path_first(self) -> list[int]:
        """The order of :meth:`_deepest_first` when nodes have several parents: a node's depth is
        its longest path to a root, so it still comes after all of its children."""
        n = len(self.node_parent)
        depth = [-1] * n
        for start in range(n):
            stack = [start]
            while stack:
                node = stack[-1]
                if depth[node] >= 0:
                    stack.pop()
                    continue
                up = self.parents(node)
                pending = [p for p in up if depth[p] < 0]
                if pending:
                    stack.extend(pending)
                else:
                    stack.pop()
                    depth[node] = 1 + max((depth[p] for p in up), default=-1)
        return sorted(range(n), key=depth.__getitem__, reverse=True)

    def ancestors(self, leaf: str) -> list[str]:
        """Node ids from a leaf's objective up to the roots (the nodes an update touches), nearest
        first; a node reached through several parents is named once."""
        out: list[str] = []
        seen: set[int] = set()
        level = [self.leaf_parent[self.leaf_index[leaf]]]
        while level:
            up: list[int] = []
            for n in level:
                if n not in seen:
                    seen.add(n)
                    out.append(self.node_ids[n])
                    up.extend(self.parents(n))
            level = up
        return out


class Rollup:
    """Running weighted means of one quantity over a :class:`RollupTree`.

    ``full(values)`` computes every node from the leaves in ``O(leaves + nodes)``;
    ``update(leaf, value)`` changes one leaf and re-computes only its ancestors, stopping early
    when a node's value does not change.
    """

    __slots__ = ("_count", "_leaf", "_value", "_wsum", "_wtot", "tree")

    def __init__(self, tree: RollupTree, values: Sequence[float | None] | None = None) -> None:
        self.tree = tree
        n = len(tree.node_ids)
        self._leaf: list[float | None] = [None] * len(tree.leaf_ids)
        self._value: list[float | None] = [None] * n
        # the running sums update() needs, built on its first call (a full rollup that is only
        # read, as score() does, never needs them)
        self._wsum: list[float] = []
        self._wtot: list[float] = []
        self._count: list[int] = []  # children with a value and a positive weight
        if values is not None:
            self.full(values)

    def full(self, values: Sequence[float | None]) -> None:
        """Set every leaf's value (in leaf order; ``None`` = no value) and recompute every node."""
        tree = self.tree
        if len(values) != len(tree.leaf_ids):
            raise ValidationError(f"expected {len(tree.leaf_ids)} leaf values, got {len(values)}")
        self._leaf = list(values)
        self._value = _sums(tree, self._leaf)[3]
        self._wsum, self._wtot, self._count = [], [], []

    def update(self, leaf: str | int, value: float | None) -> None:
        """Change one leaf's value (by id or index) and re-compute its ancestors only."""
        tree = self.tree
        i = tree.leaf_index[leaf] if isinstance(leaf, str) else leaf
        old = self._leaf[i]
        if old == value:
            return
        if not self._count:  # the first update: the sums as full() computed them
            self._wsum, self._wtot, self._count, _ = _sums(tree, self._leaf)
        self._leaf[i] = value
        n = tree.leaf_parent[i]
        w = tree.leaf_weight[i]
        if w <= 0:
            return
        new = value
        wsum, wtot, count, node_value = self._wsum, self._wtot, self._count, self._value
        parent, weight, more = tree.node_parent, tree.node_weight, tree.more_parents
        # the changes still to pass to further parents (only for nodes aligned to several)
        pending: list[tuple[int, float | None, float | None, float]] = []
        while True:
            while n >= 0:
                if old is not None:
                    wsum[n] -= w * old
                    wtot[n] -= w
                    count[n] -= 1
                if new is not None:
                    wsum[n] += w * new
                    wtot[n] += w
                    count[n] += 1
                before = node_value[n]
                if count[n]:
                    after: float | None = wsum[n] / wtot[n]
                else:
                    wsum[n] = wtot[n] = 0.0  # nothing left: drop accumulated rounding
                    after = None
                if after == before:
                    break
                node_value[n] = after
                if more and n in more:
                    pending.extend((p, before, after, pw) for p, pw in more[n] if pw > 0)
                old, new, w = before, after, weight[n]
                if w <= 0:
                    break
                n = parent[n]
            if not pending:
                return
            n, old, new, w = pending.pop()

    def leaf(self, leaf: str | int) -> float | None:
        """The current value of a leaf."""
        return self._leaf[self.tree.leaf_index[leaf] if isinstance(leaf, str) else leaf]

    def node(self, node: str | int) -> float | None:
        """The rolled-up value of a node (by id such as ``"objective:o1"`` or index)."""
        return self._value[self.tree.node_index[node] if isinstance(node, str) else node]

    def nodes(self) -> Mapping[str, float | None]:
        """Every node's value by node id."""
        return dict(zip(self.tree.node_ids, self._value, strict=True))


def _sums(
    tree: RollupTree, values: Sequence[float | None]
) -> tuple[list[float], list[float], list[int], list[float | None]]:
    """Every node's weighted sum, total weight, count of children with a value, and value."""
    n = len(tree.node_ids)
    wsum = [0.0] * n
    wtot = [0.0] * n
    count = [0] * n
    value: list[float | None] = [None] * n
    for p, w, v in zip(tree.leaf_parent, tree.leaf_weight, values, strict=True):
        if v is not None and w > 0:
            wsum[p] += w * v
            wtot[p] += w
            count[p] += 1
    parent = tree.node_parent
    weight = tree.node_weight
    more = tree.more_parents
    for i in tree.order:
        if count[i]:
            v = wsum[i] / wtot[i]
            value[i] = v
            p = parent[i]
            w = weight[i]
            if p >= 0 and w > 0:
                wsum[p] += w * v
                wtot[p] += w
                count[p] += 1
            if more and i in more:  # aligned to several parents: each alignment counts
                for p, w in more[i]:
                    if w > 0:
                        wsum[p] += w * v
                        wtot[p] += w
                        count[p] += 1
    return wsum, wtot, count, value
