"""Exact tree SHAP for the leaves no table holds: one pass down and one up the tree, per household,
with every polynomial kept as its values at a few Gauss–Legendre points.

A leaf's path-dependent Shapley value for feature j is v · (o_j − z_j) · Σ_k w_d(k) c_k, with c the
coefficients of Π_{i≠j} (z_i + o_i t) and w_d(k) = k!(d−1−k)!/d! (see `tree_shap._path_shap`).
Since w_d(k) = ∫₀¹ u^k (1−u)^(d−1−k) du, that sum is ∫₀¹ Π_{i≠j} g_i(u) du with
g_i(u) = z_i (1 − u) + o_i u: a polynomial of degree d − 1, which the n-point Gauss–Legendre rule
integrates exactly for n ≥ d/2. So every leaf's values are sums, over n points, of products of the
path's factors g — the form Linear TreeSHAP (Yu et al., 2022) uses, there at interpolation points.
Sums over leaves then happen once per node instead of once per leaf: going down, each node's
product of factors is its parent's times one ratio; going up, each node collects v · product over
the leaves below it, and the split above it turns that sum into its feature's share. A tree costs
about (its edges) × n multiply-adds per household, where the per-leaf formula costs Σ d² —
the difference between minutes and seconds at 500 trees of 63 leaves.

Every factor ratio a household can meet at an edge is tabulated once per model (three cases: the
feature already disagreed above, or the household goes the path's way here or not), and a
household's case is chosen by multiplying with 0/1 lanes rather than by branching, so the passes
hold no division and no branch on a household's values: LANES households run side by side in
vector registers (numba, with multiply-adds fused).
All terms are non-negative products of numbers in [0, 1] except the leaf values, so the rounding
stays at a few ulps of the leaf values (tests: within 1e-9 of LightGBM's `pred_contrib`).

A feature tested twice on a path counts once, with its factors combined: the lower split's factor
replaces the upper one's (the tabulated ratio divides the upper out), and a split's sum excludes
the leaves below the next split on the same feature, which count theirs there (`top`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache

import numba
import numpy as np

from serving.explain.tree_model import Forest

LANES = 128
"""Households computed side by side; measured best of 32, 64 and 128 at 500 × 63. A smaller block
(one household) runs only the lanes it fills, rounded up to whole vectors of 8."""

Step = tuple[int, bool]
"""(split, whether the path goes left there): one step of a path from the root, tree-local."""


@cache
def gauss_points(points: int) -> tuple[np.ndarray, np.ndarray]:
    """The `points`-point Gauss–Legendre rule on [0, 1]: exact for polynomials of degree < 2·points."""
    nodes, weights = np.polynomial.legendre.leggauss(points)
    return (nodes + 1.0) / 2.0, weights / 2.0


@dataclass(frozen=True)
class PathRegions:
    """For each tree, the edges of the paths to its leaves no table holds, in preorder.

    Tree t owns edges `edge_offset[t]:edge_offset[t+1]` and `nodes[t]` split nodes (local index 0 is
    the root), evaluated at `points[t]` Gauss points. An edge goes from split `parent` (local index)
    to `child` (local index, or −1 for a leaf), at tree split `split` in direction `left`."""

    edge_offset: np.ndarray  # int64[T+1]
    nodes: np.ndarray  # int64[T]
    points: np.ndarray  # int64[T]
    parent: np.ndarray  # int64[E]
    child: np.ndarray  # int64[E]
    split: np.ndarray  # uint64[E]
    left: np.ndarray  # uint64[E]: 1 where the edge is the split's left child
    column: np.ndarray  # int64[E]: the split's feature
    earlier: np.ndarray  # uint64[E]: bits of the splits above on the same feature
    earlier_left: np.ndarray  # uint64[E]: the directions the path takes there
    leaf_value: np.ndarray  # float64[E]: the leaf's value where `child` is a leaf
    goes: (
        np.ndarray
    )  # float64[E, P]: factor ratio where the feature agreed so far and the household goes this way
    strays: np.ndarray  # float64[E, P]: ratio where it agreed so far and goes the other way
    disagreed: np.ndarray  # float64[E]: ratio where it already disagreed above (z_after / z_before)
    agreed_share: np.ndarray  # float64[E, P]: weight · (1 − z) / g at the points, for a household agreeing
    top_offset: np.ndarray  # int64[E+1]
    top: np.ndarray  # int64[...]: the highest splits on the same feature below the child (local)
    disagreed_share: np.ndarray  # float64[P+1, P]: −weight / (1 − u) for the rule of n points, row n

    @property
    def edges(self) -> int:
        return len(self.parent)

    @property
    def arrays(self) -> tuple[np.ndarray, ...]:
        """The fields in `explain_region`'s order (after `tree` and `patterns`)."""
        return tuple(getattr(self, field.name) for field in fields(self))


def _points(forest: Forest, tree: int, leaves: list[tuple[int, list[Step]]]) -> int:
    """Gauss points a tree's region needs: its widest path has d distinct features, a degree d − 1
    integrand, exact with ⌈d/2⌉ points."""
    first = forest.split_offset[tree]
    widest = max(len({int(forest.feature[first + node]) for node, _ in path}) for _, path in leaves)
    return (widest + 1) // 2


def region_work(forest: Forest, paths: dict[int, list[tuple[int, list[Step]]]]) -> int:
    """What `path_regions` would cost per household for these paths, without building it:
    the distinct edges × the points each tree needs."""
    return sum(
        len({step for _, path in leaves for step in path}) * _points(forest, tree, leaves)
        for tree, leaves in paths.items()
        if leaves
    )


def path_regions(forest: Forest, paths: dict[int, list[tuple[int, list[Step]]]]) -> PathRegions:
    """The regions of the given leaves: `paths[tree]` lists (leaf, steps from the root to it)."""
    columns: dict[str, list] = {
        k: [] for k in ("parent", "child", "split", "left", "column", "earlier", "earlier_left", "leaf_value")
    }
    before, after, first, top, top_offset = [], [], [], [], [0]
    points_of, node_points = [], []
    edge_offset, nodes = [0], []
    for tree in range(forest.trees):
        leaves = paths.get(tree)
        if not leaves:
            edge_offset.append(edge_offset[-1])
            nodes.append(0)
            points_of.append(0)
            continue
        region = _TreeRegion(forest, tree, leaves)
        for key, values in region.columns.items():
            columns[key].extend(values)
        before.extend(region.share_before)
        after.extend(region.share_after)
        first.extend(region.first)
        for tops in region.tops:
            top.extend(tops)
            top_offset.append(len(top))
        edge_offset.append(len(columns["parent"]))
        nodes.append(region.splits)
        points_of.append(region.points)
        node_points.extend([region.points] * len(region.first))
    most_points = max([1, *points_of])
    u, weight = _edge_points(np.array(node_points, dtype=np.int64), most_points)
    z_before = np.array(before, dtype=np.float64)[:, None]
    z_after = np.array(after, dtype=np.float64)[:, None]
    is_first = np.array(first, dtype=bool)[:, None]
    agree_after = z_after + u * (1.0 - z_after)
    agree_before = np.where(is_first, 1.0, z_before + u * (1.0 - z_before))
    with np.errstate(divide="ignore", invalid="ignore"):
        disagreed = np.where(z_before[:, 0] > 0.0, z_after[:, 0] / z_before[:, 0], 0.0)
        agreed_share = np.where(weight > 0.0, weight * (1.0 - z_after) / agree_after, 0.0)
    disagreed_share = np.zeros((most_points + 1, most_points))
    for n in range(1, most_points + 1):
        nodes_n, weights_n = gauss_points(n)
        disagreed_share[n, :n] = -weights_n / (1.0 - nodes_n)
    return PathRegions(
        edge_offset=np.array(edge_offset, dtype=np.int64),
        nodes=np.array(nodes, dtype=np.int64),
        points=np.array(points_of, dtype=np.int64),
        parent=np.array(columns["parent"], dtype=np.int64),
        child=np.array(columns["child"], dtype=np.int64),
        split=np.array(columns["split"], dtype=np.uint64),
        left=np.array(columns["left"], dtype=np.uint64),
        column=np.array(columns["column"], dtype=np.int64),
        earlier=np.array(columns["earlier"], dtype=np.uint64),
        earlier_left=np.array(columns["earlier_left"], dtype=np.uint64),
        leaf_value=np.array(columns["leaf_value"], dtype=np.float64),
        goes=np.ascontiguousarray(agree_after / agree_before),
        strays=np.ascontiguousarray(z_after * (1.0 - u) / agree_before),
        disagreed=disagreed.astype(np.float64),
        agreed_share=np.ascontiguousarray(agreed_share),
        top_offset=np.array(top_offset, dtype=np.int64),
        top=np.array(top, dtype=np.int64),
        disagreed_share=disagreed_share,
    )


def _edge_points(points: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray]:
    """Each edge's Gauss nodes and weights (its tree's rule), padded to `most` with weight 0."""
    u = np.full((len(points), most), 0.5)
    weight = np.zeros((len(points), most))
    for n in np.unique(points):
        nodes, weights = gauss_points(int(n))
        rows = points == n
        u[rows, :n], weight[rows, :n] = nodes, weights
    return u, weight


class _TreeRegion:
    """One tree's region: the union of the given paths, walked in preorder."""

    def __init__(self, forest: Forest, tree: int, leaves: list[tuple[int, list[Step]]]) -> None:
        self.forest, self.first_split = forest, int(forest.split_offset[tree])
        self.first_leaf = int(forest.leaf_offset[tree])
        self.below: dict[int, dict[bool, int]] = {}
        for leaf, path in leaves:
            for k, (node, left) in enumerate(path):
                child = path[k + 1][0] if k + 1 < len(path) else ~leaf
                self.below.setdefault(node, {})[left] = child
        self.points = _points(forest, tree, leaves)
        self.columns: dict[str, list] = {
            k: []
            for k in ("parent", "child", "split", "left", "column", "earlier", "earlier_left", "leaf_value")
        }
        self.share_before: list[float] = []
        self.share_after: list[float] = []
        self.first: list[bool] = []
        self.tops: list[list[int]] = []
        self.local = {0: 0}
        self._walk(0, {})
        self.splits = len(self.local)
        self.tops = [[self.local[node] for node in tops] for tops in self.tops]

    def _feature(self, node: int) -> int:
        return int(self.forest.feature[self.first_split + node])

    def _count(self, child: int) -> float:
        if child >= 0:
            return float(self.forest.split_count[self.first_split + child])
        return float(self.forest.leaf_count[self.first_leaf + ~child])

    def _walk(self, node: int, seen: dict[int, tuple[float, int, int]]) -> None:
        """`seen[feature]`: (share of training rows agreeing, split bits, directions) above `node`."""
        feature = self._feature(node)
        share_before, earlier, earlier_left = seen.get(feature, (1.0, 0, 0))
        for left in (True, False):
            child = self.below[node].get(left)
            if child is None:
                continue
            share_after = share_before * self._count(child) / self._count(node)
            if child >= 0:
                self.local[child] = len(self.local)
            c = self.columns
            c["parent"].append(self.local[node])
            c["child"].append(self.local[child] if child >= 0 else -1)
            c["split"].append(node)
            c["left"].append(int(left))
            c["column"].append(feature)
            c["earlier"].append(earlier)
            c["earlier_left"].append(earlier_left)
            c["leaf_value"].append(
                0.0 if child >= 0 else float(self.forest.leaf_value[self.first_leaf + ~child])
            )
            self.share_before.append(share_before)
            self.share_after.append(share_after)
            self.first.append(earlier == 0)
            self.tops.append(self._highest(child, feature) if child >= 0 else [])
            if child >= 0:
                inner = dict(seen)
                inner[feature] = (share_after, earlier | (1 << node), earlier_left | (int(left) << node))
                self._walk(child, inner)

    def _highest(self, node: int, feature: int) -> list[int]:
        """The highest splits on `feature` in the region at or below `node` (tree-local)."""
        if node < 0:
            return []
        if self._feature(node) == feature:
            return [node]
        return [found for child in self.below[node].values() for found in self._highest(child, feature)]


@numba.njit(cache=True, fastmath={"contract"})
def explain_region(
    tree,
    patterns,
    edge_offset,
    nodes,
    points,
    parent,
    child,
    split,
    left,
    column,
    earlier,
    earlier_left,
    leaf_value,
    goes,
    strays,
    disagreed,
    agreed_share,
    top_offset,
    top,
    disagreed_share,
    power,
    below,
    shares,
):
    """Adds tree `tree`'s region shares for households with decision `patterns` (bit s: left at
    split s) to `shares[feature, household]`. `power` and `below` are float64[nodes, points, LANES]
    scratch: a split's product of path factors, and the sum of v · product over the leaves below it."""
    households = len(patterns)
    first_edge, end_edge = edge_offset[tree], edge_offset[tree + 1]
    n = points[tree]
    disagreeing = disagreed_share[n]
    agrees = np.empty((end_edge - first_edge, LANES))
    agreed_so_far = np.empty(LANES)
    lane_patterns = np.empty(LANES, dtype=np.uint64)
    total = np.empty(LANES)
    rest = np.empty(LANES)
    for begin in range(0, households, LANES):
        m = min(LANES, households - begin)
        width = min(LANES, (m + 7) // 8 * 8)  # whole vectors: padded lanes compute, unwritten
        for r in range(width):
            lane_patterns[r] = patterns[begin + r] if r < m else np.uint64(0)
        for q in range(n):
            for r in range(width):
                power[0, q, r] = 1.0
        for node in range(nodes[tree]):
            for q in range(n):
                for r in range(width):
                    below[node, q, r] = 0.0
        for e in range(first_edge, end_edge):  # down: products of factors; leaves finished at once
            p, c, at, way = parent[e], child[e], split[e], left[e]
            mask, directions = earlier[e], earlier_left[e]
            agree = agrees[e - first_edge]
            for r in range(width):
                pattern = lane_patterns[r]
                was = ((pattern ^ directions) & mask) == 0
                goes_here = ((pattern >> at) & np.uint64(1)) == way
                agreed_so_far[r] = 1.0 if was else 0.0
                agree[r] = 1.0 if was and goes_here else 0.0
            ratio = disagreed[e]
            if c >= 0:
                for q in range(n):
                    base, step1, step2 = ratio, strays[e, q] - ratio, goes[e, q] - strays[e, q]
                    from_row = power[p, q]
                    to_row = power[c, q]
                    for r in range(width):
                        to_row[r] = from_row[r] * (base + agreed_so_far[r] * step1 + agree[r] * step2)
                continue
            value = leaf_value[e]
            for r in range(width):
                total[r] = 0.0
            for q in range(n):
                base = value * ratio
                step1 = value * strays[e, q] - base
                step2 = value * goes[e, q] - value * strays[e, q]
                not_agreeing = disagreeing[q]
                step3 = agreed_share[e, q] - not_agreeing
                from_row = power[p, q]
                sum_row = below[p, q]
                for r in range(width):
                    term = from_row[r] * (base + agreed_so_far[r] * step1 + agree[r] * step2)
                    total[r] += (not_agreeing + agree[r] * step3) * term
                    sum_row[r] += term
            feature = column[e]
            for r in range(m):
                shares[feature, begin + r] += total[r]
        for e in range(end_edge - 1, first_edge - 1, -1):  # up: sums over the leaves below a split
            p, c = parent[e], child[e]
            if c < 0:
                continue
            agree = agrees[e - first_edge]
            for r in range(width):
                total[r] = 0.0
            first_top, end_top = top_offset[e], top_offset[e + 1]
            for q in range(n):
                not_agreeing = disagreeing[q]
                step3 = agreed_share[e, q] - not_agreeing
                child_row = below[c, q]
                parent_row = below[p, q]
                if end_top > first_top:  # leaves under a lower split on this feature count there
                    for r in range(width):
                        rest[r] = child_row[r]
                    for t in range(first_top, end_top):
                        top_row = below[top[t], q]
                        for r in range(width):
                            rest[r] -= top_row[r]
                    for r in range(width):
                        total[r] += (not_agreeing + agree[r] * step3) * rest[r]
                else:
                    for r in range(width):
                        total[r] += (not_agreeing + agree[r] * step3) * child_row[r]
                for r in range(width):
                    parent_row[r] += child_row[r]
            feature = column[e]
            for r in range(m):
                shares[feature, begin + r] += total[r]
