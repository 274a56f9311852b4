"""Exact tree SHAP for a whole city: each small subtree's share precomputed for every way a
household can meet it, then looked up.

LightGBM's `pred_contrib` — what shap's TreeExplainer calls for a LightGBM booster — runs the
recursive tree SHAP algorithm for every household in every tree, O(leaves · depth²) each: about
800 µs a household at 300 trees on 2 cores, an hour for Seoul. The same numbers can be computed
with much less work. A tree's SHAP values are a sum over its leaves, and a leaf's part depends on a
household only through which of the leaf's path features it *agrees* with (whether it satisfies
every split on that feature along the path). So for a subtree of a few splits, the sum over its
leaves depends only on (a) whether the household agrees with each feature tested above the
subtree and (b) which way it goes at each of the subtree's own splits. Those few bits index a table
computed once per model (each leaf's path-dependent Shapley values, `_path_shap`: the values of
Lundberg et al.'s extend/unwind recursion, which GPUTreeShap and Fast TreeSHAP v2 tabulate per
leaf, from one polynomial and without division). A household then costs one pass over its trees'
splits and one table row per subtree: a tree of 31 leaves is about a dozen rows instead of 31 leaf
paths, and the rows are half the memory of per-leaf tables.

The split decisions are made for a block of households at once, split by split over a transposed
block, so the comparisons run branch-free (QuickScorer's idea). A tree's share then depends on a
household only through that decision pattern, and households share patterns: among Seoul's
households a 500-tree, 63-leaf model's tree sees on average 28 % distinct patterns in 100,000,
22 % in 250,000. So each tree is explained once per distinct pattern of a chunk (tables read,
region passes run), and every household adds its pattern's shares. A chunk of distinct rows
costs about what it did without this: the patterns are made either way, and the hash and the
adding are small beside the trees (tests/serving/explain: every household of a chunk, shared
pattern or not, against `pred_contrib`).

Table memory is bounded (`TABLE_BUDGET`): when a large model's tables would not fit, the subtrees
are made smaller. Leaves whose paths are too wide for any table go to the region passes
(path_regions.py): one pass down and one up the tree for 128 households side by side, polynomials
kept at Gauss–Legendre points, about (edges × points) work per tree however deep its leaves. For deep models that beats the tables outright (a 500-tree,
63-leaf model has thousands of leaves too wide for them), so each model gets whichever of "the
largest tables within the budget" and "no tables" `_cost` finds cheaper per household.

Nothing is approximated; only the order of floating-point additions differs from LightGBM's, and
the tests hold every household of a sample to `pred_contrib` within 1e-9.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from math import factorial

import lightgbm as lgb
import numba
import numpy as np

from serving.explain.path_regions import LANES, PathRegions, Step, explain_region, path_regions, region_work
from serving.explain.tree_model import MISSING_NONE, MISSING_ZERO, ZERO_THRESHOLD, Forest, UnsupportedModel

MAX_SPLITS = 64
"""Splits per tree that fit the one-word decision pattern (trees of up to 65 leaves)."""

TABLE_BITS = 14
"""Most index bits of one table (2^14 rows × its features); measured best at 300 × 31 (bench/city_scoring.py)."""

MIN_TABLE_BITS = 8
"""The table size a large model's tables are cut down to, at most, to fit the budget."""

GROUP_SPLITS = 5
"""Most splits of a subtree that shares one table (6 leaves or more, one row read instead of six)."""

TABLE_BUDGET = 1 << 28
"""Bytes of tables one model may take (256 MiB): a 500 × 63 model's largest layout would take 2.7 GiB.
Larger tables are read from memory rather than cache: with 1 GiB of them, Seoul's 500 × 63 ran at
19,138 households/s on a 250,000-household block, on the passes alone at 21,586 (2026-12-07)."""

TABLE_READ_COST = 1.5
"""A table value read (or index bit) costs about 1.5 (edge × point) steps of the region passes:
0.67 against 0.44–0.51 ns per household on this project's 2-core machine, fitted over the demo
champion, 300 × 31 and 500 × 63 at table sizes 0–14 bits (issue 37's notes)."""

BLOCK = 1024
"""Households per parallel task: their split decisions are made together, tree by tree."""

CHUNK = 1 << 18
"""Households explained together: each tree is explained once per distinct decision pattern among
them, and a larger chunk shares more (at Seoul's 500 × 63: 28 % distinct among 100,000 households,
22 % among 250,000, 15 % among a million). Costs 8 × (features + 1) bytes a household per thread."""

PARALLEL_FROM = 64
"""Households from which a batch is explained on every core: below it (one household of the service,
say) starting the threads takes longer than the work."""

PATTERN_BUDGET = 1 << 28
"""Bytes of decision patterns held at once (256 MiB): a chunk's trees are taken in groups that fit."""


@dataclass(frozen=True)
class SubtreeTables:
    """Every tree cut into subtrees ("groups"); tree t owns groups `tree_offset[t]:tree_offset[t+1]`.

    A group's table row is indexed by `index_bits` bits: first one bit per feature tested above the
    group (the household agrees with every such split), then one bit per split of the group (the
    household goes left there). A row holds the group's contribution to each of its features."""

    tree_offset: np.ndarray  # int64[T+1]
    went_left: np.ndarray  # uint64[G]: bit s set where the path to the group goes left at split s
    prefix_offset: np.ndarray  # int64[G+1]
    prefix_splits: np.ndarray  # uint64[...]: per feature above the group, the splits testing it
    split_offset: np.ndarray  # int64[G+1]
    split: np.ndarray  # uint64[...]: the group's own splits (tree-local)
    feature_offset: np.ndarray  # int64[G+1]
    feature: np.ndarray  # int64[...]: the group's features, those above it first
    table_offset: np.ndarray  # int64[G]: start in `table`, or -1 for a leaf computed per household
    table: np.ndarray  # float64
    leaf_offset: np.ndarray  # int64[G+1]: the group's leaves, as entries below
    leaf_value: np.ndarray  # float64[E]
    leaf_feature_offset: np.ndarray  # int64[E+1]
    leaf_slot: np.ndarray  # int64[...]: the leaf's distinct path features, as group feature slots
    leaf_zero: np.ndarray  # float64[...]: share of training rows that follow the path on that feature
    leaf_split_mask: np.ndarray  # int64[...]: the group split bits that test that feature on the path
    leaf_split_left: np.ndarray  # int64[...]: the directions the path takes there
    index_bits: np.ndarray  # int64[G]
    bias: float  # the sum of every tree's expected value
    widest: int  # most distinct features on one leaf's path
    shapley: np.ndarray  # float64[widest+1, widest+1]: shapley_weights(widest)
    regions: PathRegions  # the leaves no table holds

    @property
    def groups(self) -> int:
        return len(self.went_left)


class _Layout:
    """The cut of every tree into groups at a given table size, before anything is tabulated."""

    def __init__(self, forest: Forest, table_bits: int, entries: bool = True) -> None:
        """`entries`: also list every tabled leaf's path features (what `_tabulate` reads); without
        them the layout only tells its table sizes and costs, which is all choosing one needs."""
        self.forest, self.table_bits, self.entries = forest, table_bits, entries
        self.tree_offset = [0]
        self.went_left: list[int] = []
        self.prefix_offset, self.prefix_splits = [0], []
        self.split_offset, self.split = [0], []
        self.feature_offset, self.feature = [0], []
        self.leaf_offset, self.leaf_value, self.leaf_feature_offset = [0], [], [0]
        self.leaf_slot, self.leaf_zero, self.leaf_split_mask, self.leaf_split_left = [], [], [], []
        self.index_bits: list[int] = []
        self.wide: dict[int, list[tuple[int, list[Step]]]] = {}  # per tree: (leaf, path) no table holds
        self.bias = 0.0
        for tree in range(forest.trees):
            self._tree(tree)
            self.tree_offset.append(len(self.went_left))

    def _tree(self, tree: int) -> None:
        f = self.forest
        first_split, first_leaf = f.split_offset[tree], f.leaf_offset[tree]
        end_split, end_leaf = f.split_offset[tree + 1], f.leaf_offset[tree + 1]
        leaf_value = f.leaf_value[first_leaf:end_leaf]
        if end_split == first_split:  # a single leaf: only the expected value
            self.bias += leaf_value[0]
            return
        leaf_count = f.leaf_count[first_leaf:end_leaf]
        total = f.split_count[first_split]
        expected = 0.0
        for leaf in range(len(leaf_value)):  # LightGBM's Tree::ExpectedValue, in its order
            expected += (leaf_count[leaf] / total) * leaf_value[leaf]
        self.bias += expected
        self._tree_index = tree
        # Python lists of the tree's arrays: the walk below reads them millions of times at 500 trees.
        self._features = f.feature[first_split:end_split].tolist()
        self._left, self._right = (
            f.left[first_split:end_split].tolist(),
            f.right[first_split:end_split].tolist(),
        )
        self._split_counts = f.split_count[first_split:end_split].tolist()
        self._leaf_counts, self._leaf_values = leaf_count.tolist(), leaf_value.tolist()
        self._subtree_splits: dict[int, list[int]] = {}
        self._splits_below(0)
        self._visit(0, [], frozenset())

    def _children(self, node: int) -> tuple[int, int]:
        return self._left[node], self._right[node]

    def _feature(self, node: int) -> int:
        return self._features[node]

    def _count(self, child: int) -> float:
        return self._split_counts[child] if child >= 0 else self._leaf_counts[~child]

    def _splits_below(self, node: int) -> list[int]:
        if node < 0:
            return []
        left, right = self._children(node)
        below = [node, *self._splits_below(left), *self._splits_below(right)]
        self._subtree_splits[node] = below
        return below

    def _visit(self, node: int, prefix: list[Step], above: frozenset[int]) -> None:
        if node >= 0:
            own = len(self._subtree_splits[node])
            if own > GROUP_SPLITS or len(above) + own > self.table_bits:
                left, right = self._children(node)
                inner = above | {self._features[node]}
                self._visit(left, [*prefix, (node, True)], inner)
                self._visit(right, [*prefix, (node, False)], inner)
                return
        self._emit(node, prefix)

    def _leaves(self, node: int) -> list[tuple[int, list[tuple[int, bool]]]]:
        """(leaf, steps from `node` down to it) for every leaf under `node`."""
        if node < 0:
            return [(~node, [])]
        left, right = self._children(node)
        return [
            (leaf, [(node, went), *steps])
            for child, went in ((left, True), (right, False))
            for leaf, steps in self._leaves(child)
        ]

    def _emit(self, root: int, prefix: list[tuple[int, bool]]) -> None:
        slots: dict[int, int] = {}
        for node, _ in prefix:
            slots.setdefault(self._feature(node), len(slots))
        above = len(slots)
        splits_of, went_left = [0] * above, 0
        for node, left in prefix:
            splits_of[slots[self._feature(node)]] |= 1 << node
            went_left |= int(left) << node
        own = [] if root < 0 else self._subtree_splits[root]
        for node in own:
            slots.setdefault(self._feature(node), len(slots))
        self.went_left.append(went_left)
        self.prefix_splits.extend(splits_of)
        self.prefix_offset.append(len(self.prefix_splits))
        self.split.extend(own)
        self.split_offset.append(len(self.split))
        self.feature.extend(slots)
        self.feature_offset.append(len(self.feature))
        self.index_bits.append(above + len(own))
        if above + len(own) > self.table_bits:  # only a leaf is cut this far: `_visit`
            self.wide.setdefault(self._tree_index, []).append((~root, prefix))
        elif self.entries:
            self._leaf_entries(root, prefix, slots, {node: k for k, node in enumerate(own)})
        self.leaf_offset.append(len(self.leaf_value))

    def _leaf_entries(
        self, root: int, prefix: list[Step], slots: dict[int, int], bit: dict[int, int]
    ) -> None:
        for leaf, below in self._leaves(root):
            zero: dict[int, float] = {}
            split_mask: dict[int, int] = {}
            split_left: dict[int, int] = {}
            for node, left in prefix + below:
                feature = self._feature(node)
                child = self._left[node] if left else self._right[node]
                zero[feature] = zero.get(feature, 1.0) * (self._count(child) / self._count(node))
            for node, left in below:
                feature = self._feature(node)
                split_mask[feature] = split_mask.get(feature, 0) | (1 << bit[node])
                split_left[feature] = split_left.get(feature, 0) | (int(left) << bit[node])
            self.leaf_value.append(self._leaf_values[leaf])
            for feature, share in zero.items():  # first appearance on the path first
                self.leaf_slot.append(slots[feature])
                self.leaf_zero.append(share)
                self.leaf_split_mask.append(split_mask.get(feature, 0))
                self.leaf_split_left.append(split_left.get(feature, 0))
            self.leaf_feature_offset.append(len(self.leaf_slot))

    def table_sizes(self) -> tuple[np.ndarray, np.ndarray]:
        """Each group's table length (0 for a leaf too wide for one), and its start."""
        bits = np.array(self.index_bits, dtype=np.int64)
        width = np.diff(np.array(self.feature_offset, dtype=np.int64))
        tabled = bits <= self.table_bits
        sizes = np.where(tabled, (np.int64(1) << np.minimum(bits, self.table_bits)) * width, 0)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        return sizes, np.where(tabled, starts, -1).astype(np.int64)


def _table_work(layout: _Layout) -> int:
    """Values read and index bits gathered per household by the layout's tables."""
    bits = np.array(layout.index_bits, dtype=np.int64)
    width = np.diff(np.array(layout.feature_offset, dtype=np.int64))
    return int((width + bits)[bits <= layout.table_bits].sum())


def _cost(forest: Forest, layout: _Layout) -> float:
    """Per-household work of a layout, in region steps: its table reads plus its region passes."""
    return TABLE_READ_COST * _table_work(layout) + region_work(forest, layout.wide)


def build_tables(forest: Forest, table_bits: int | None = None, budget: int = TABLE_BUDGET) -> SubtreeTables:
    """Cut every tree into groups and tabulate them, once per model. `table_bits` None: the largest
    tables within `budget` (down to MIN_TABLE_BITS) or none at all, whichever `_cost` finds cheaper
    per household; a number: tables of at most that many index bits, made smaller while they pass
    the budget; 0: no tables, every leaf in the region passes (path_regions.py)."""
    chosen = None
    most = TABLE_BITS if table_bits is None else table_bits
    for bits in range(most, min(most, MIN_TABLE_BITS) - 1, -1) if most > 0 else ():
        candidate = _Layout(forest, bits, entries=False)
        if candidate.table_sizes()[0].sum() * 8 <= budget:
            chosen = candidate
            break
    if chosen is None or table_bits is None:
        untabled = _Layout(forest, 0, entries=False)
        if chosen is None or _cost(forest, untabled) <= _cost(forest, chosen):
            chosen = untabled
    layout = _Layout(forest, chosen.table_bits)
    sizes, starts = layout.table_sizes()
    as_int = {
        k: np.array(getattr(layout, k), dtype=np.int64)
        for k in (
            "tree_offset",
            "prefix_offset",
            "split_offset",
            "feature_offset",
            "feature",
            "leaf_offset",
            "leaf_feature_offset",
            "leaf_slot",
            "leaf_split_mask",
            "leaf_split_left",
            "index_bits",
        )
    }
    leaf_value = np.array(layout.leaf_value, dtype=np.float64)
    leaf_zero = np.array(layout.leaf_zero, dtype=np.float64)
    widths = np.diff(as_int["leaf_feature_offset"])
    shapley = shapley_weights(int(widths.max(initial=0)))
    table = _tabulate(
        starts,
        as_int["index_bits"],
        as_int["feature_offset"],
        as_int["prefix_offset"],
        as_int["leaf_offset"],
        leaf_value,
        as_int["leaf_feature_offset"],
        as_int["leaf_slot"],
        leaf_zero,
        as_int["leaf_split_mask"],
        as_int["leaf_split_left"],
        int(sizes.sum()),
        shapley,
    )
    return SubtreeTables(
        went_left=np.array(layout.went_left, dtype=np.uint64),
        prefix_splits=np.array(layout.prefix_splits, dtype=np.uint64),
        split=np.array(layout.split, dtype=np.uint64),
        table_offset=starts,
        table=table,
        leaf_value=leaf_value,
        leaf_zero=leaf_zero,
        bias=layout.bias,
        widest=int(widths.max(initial=0)),
        shapley=shapley,
        regions=path_regions(forest, layout.wide),
        **as_int,
    )


@numba.njit(cache=True, inline="always")
def _path_shap(zero, one, value, out, scratch, shapley) -> None:
    """One leaf's SHAP values for its path's distinct features: out[j] for feature j, given its zero
    fraction and whether the household agrees (one = 1) or not (0).

    The path-dependent Shapley value of feature j is value · (one_j − zero_j) · Σ_k w_d(k) c_k, with
    c the coefficients of Π_{i≠j} (zero_i + one_i · t) and w_d(k) = k!(d−1−k)!/d! (`shapley[d]`).
    With A the features the household agrees with and Q(t) = Π_{i∈A} (zero_i + t), every feature
    it disagrees with gets the same value, −value · Π_{i∉A} zero_i · Σ_k w_d(k) Q_k, and a feature
    j in A gets value · (1 − zero_j) · Π_{i∉A} zero_i · Σ_k w_d(k) [Q / (t + zero_j)]_k. That is
    O(|A|²) multiply-adds and no division (LightGBM's extend/unwind recursion is O(d²) with
    divisions), written without data-dependent branches, and the divisions by (t + zero_j) run side
    by side for every j. `scratch` is float64[4, d + 2]."""
    d = len(zero)
    weights = shapley[d]
    product, agreeing, quotient, total = scratch[0], scratch[1], scratch[2], scratch[3]
    n = 0
    scale = value
    for i in range(d):
        z = zero[i]
        agrees = one[i] != 0
        agreeing[n] = z
        n += agrees
        scale *= 1.0 if agrees else z
    product[0] = 1.0
    for i in range(n):
        z = agreeing[i]
        product[i + 1] = product[i]
        for k in range(i, 0, -1):
            product[k] = z * product[k] + product[k - 1]
        product[0] = z * product[0]
    whole = 0.0
    for k in range(n + 1):
        whole += weights[k] * product[k]
    for m in range(n):
        quotient[m] = product[n]
        total[m] = 0.0
    for k in range(n - 1, -1, -1):  # Q / (t + zero_m) by synthetic division from the top, all m at once
        weight, coefficient = weights[k], product[k]
        for m in range(n):
            total[m] += weight * quotient[m]
            quotient[m] = coefficient - agreeing[m] * quotient[m]
    disagreeing = -scale * whole
    m = 0
    for j in range(d):
        agrees = one[j] != 0
        out[j] = scale * (1.0 - zero[j]) * total[min(m, d)] if agrees else disagreeing
        m += agrees


def shapley_weights(widest: int) -> np.ndarray:
    """w[d, k] = k!(d−1−k)!/d!, the share of coalitions of size k among d players, exactly rounded."""
    weights = np.zeros((widest + 1, widest + 1))
    for d in range(1, widest + 1):
        for k in range(d):
            weights[d, k] = float(Fraction(factorial(k) * factorial(d - 1 - k), factorial(d)))
    return weights


@numba.njit(cache=True, inline="always")
def _leaf_shap(
    entry,
    index,
    above,
    leaf_value,
    leaf_feature_offset,
    leaf_slot,
    leaf_zero,
    leaf_split_mask,
    leaf_split_left,
    zero,
    one,
    share,
    scratch,
    shapley,
):
    """A group's leaf for the household (or table row) `index`: its features agree when the bit of a
    feature above the group is set and the group's splits on it go the path's way."""
    first = leaf_feature_offset[entry]
    d = leaf_feature_offset[entry + 1] - first
    splits = index >> above
    for j in range(d):
        k = first + j
        slot = leaf_slot[k]
        agrees = ((slot >= above) | ((index >> slot) & 1 == 1)) & (
            (splits & leaf_split_mask[k]) == leaf_split_left[k]
        )
        zero[j] = leaf_zero[k]
        one[j] = 1.0 if agrees else 0.0
    _path_shap(zero[:d], one[:d], leaf_value[entry], share[:d], scratch, shapley)
    return d


@numba.njit(parallel=True, cache=True)
def _tabulate(
    table_offset,
    index_bits,
    feature_offset,
    prefix_offset,
    leaf_offset,
    leaf_value,
    leaf_feature_offset,
    leaf_slot,
    leaf_zero,
    leaf_split_mask,
    leaf_split_left,
    size,
    shapley,
):
    widest = shapley.shape[0] - 1
    table = np.zeros(size, dtype=np.float64)
    for group in numba.prange(len(table_offset)):
        start = table_offset[group]
        if start < 0:
            continue
        zero, one, share = np.empty(widest + 1), np.empty(widest + 1), np.empty(widest + 1)
        scratch = np.empty((4, widest + 2))
        width = feature_offset[group + 1] - feature_offset[group]
        above = prefix_offset[group + 1] - prefix_offset[group]
        for index in range(1 << index_bits[group]):
            row = start + index * width
            for entry in range(leaf_offset[group], leaf_offset[group + 1]):
                d = _leaf_shap(
                    entry,
                    index,
                    above,
                    leaf_value,
                    leaf_feature_offset,
                    leaf_slot,
                    leaf_zero,
                    leaf_split_mask,
                    leaf_split_left,
                    zero,
                    one,
                    share,
                    scratch,
                    shapley,
                )
                first = leaf_feature_offset[entry]
                for j in range(d):
                    table[row + leaf_slot[first + j]] += share[j]
    return table


def split_rules(forest: Forest) -> tuple[np.ndarray, np.ndarray]:
    """Where each numeric split sends a missing value and a zero (LightGBM's Tree::NumericalDecision:
    with no missing-value rule a NaN is read as 0; with zero-as-missing both go the default way)."""
    zero_goes_left = forest.threshold >= 0.0
    missing_left = np.where(forest.missing_type == MISSING_NONE, zero_goes_left, forest.default_left)
    zero_left = np.where(forest.missing_type == MISSING_ZERO, forest.default_left, zero_goes_left)
    return missing_left.astype(np.bool_), zero_left.astype(np.bool_)


@numba.njit(cache=True)
def _block_patterns(values, rules, first_tree, start, n, patterns):
    """`patterns[tree - first_tree, start:start + n]`, bit s: the household goes left at the tree's
    split s, for the trees from `first_tree` on that `patterns` has rows for. Made for the block of
    households at once, split by split over the block transposed (in cache for every tree), so the
    comparisons run branch-free (QuickScorer's idea)."""
    (
        split_offset,
        feature,
        threshold,
        missing_left,
        zero_left,
        categorical,
        category_offset,
        category_bits,
    ) = rules
    features = values.shape[1]
    # The block transposed, with what LightGBM reads as zero (|value| <= 1e-35) made exactly 0.
    column = np.empty((features, n))
    for r in range(n):
        for f in range(features):
            value = values[start + r, f]
            column[f, r] = 0.0 if -ZERO_THRESHOLD <= value <= ZERO_THRESHOLD else value
    pattern = np.empty(n, dtype=np.uint64)
    for row in range(len(patterns)):
        tree = first_tree + row
        first_split = split_offset[tree]
        pattern[:] = 0
        for split in range(first_split, split_offset[tree + 1]):
            at = np.uint64(split - first_split)
            values_of = column[feature[split]]
            if categorical[split]:  # Tree::CategoricalDecision: NaN and negative codes go right
                first_word = category_offset[split]
                words = category_offset[split + 1] - first_word
                for r in range(n):
                    value = values_of[r]
                    if np.isnan(value):
                        continue
                    code = int(value)
                    if code >= 0 and code // 32 < words:
                        bit = (category_bits[first_word + code // 32] >> np.uint32(code % 32)) & np.uint32(1)
                        pattern[r] |= np.uint64(bit) << at
            else:  # branch-free, so the block's comparisons vectorise
                limit = threshold[split]
                if_left = np.uint64(1) << at
                if_missing = np.uint64(missing_left[split]) << at
                if_zero = np.uint64(zero_left[split]) << at
                for r in range(n):
                    value = values_of[r]
                    bit = if_left if value <= limit else np.uint64(0)
                    bit = if_zero if value == 0.0 else bit
                    bit = if_missing if value != value else bit
                    pattern[r] |= bit
        patterns[row, start : start + n] = pattern


@numba.njit(parallel=True, cache=True)
def _decision_patterns(values, rules, first_tree, block_size, patterns):
    """`_block_patterns` for every block of `block_size` households, the blocks shared out among the cores."""
    households = len(values)
    for block in numba.prange((households + block_size - 1) // block_size):
        start = block * block_size
        _block_patterns(
            values, rules, first_tree, start, min(households, start + block_size) - start, patterns
        )


@numba.njit(cache=True)
def _distinct(patterns, slot_pattern, slot_index, bits, index, distinct) -> int:
    """Numbers the distinct patterns in order of first appearance: `index[h]` is household h's,
    `distinct[:count]` the patterns; an open-addressing hash table of 2^bits slots (Fibonacci
    hashing: the product's top bits)."""
    size = len(slot_index)
    shift = np.uint64(64 - bits)
    slot_index[:] = -1
    count = 0
    for h in range(len(patterns)):
        pattern = patterns[h]
        slot = np.int64((pattern * np.uint64(0x9E3779B97F4A7C15)) >> shift) & (size - 1)
        while True:
            found = slot_index[slot]
            if found < 0:
                slot_index[slot] = count
                slot_pattern[slot] = pattern
                distinct[count] = pattern
                index[h] = count
                count += 1
                break
            if slot_pattern[slot] == pattern:
                index[h] = found
                break
            slot = (slot + 1) & (size - 1)
    return count


@numba.njit(cache=True)
def _explain_part(part, patterns, first_tree, tree_features, tables, regions, out):
    """Adds the shares of every `parts`-th tree from tree `part` on, of those `patterns` has rows for
    (from `first_tree` on), to `out[part, feature, household]`, where `parts` is `out`'s length.

    A tree's share depends on a household only through its decision pattern, so each tree is
    explained once per distinct pattern among the households (tables read, region passes run) and
    the result handed to every household with that pattern."""
    tree_feature_offset, tree_feature = tree_features
    region, region_trees, most_nodes, most_points = regions
    (
        tree_offset,
        went_left,
        prefix_offset,
        prefix_splits,
        group_split_offset,
        group_split,
        feature_offset,
        group_feature,
        table_offset,
        table,
    ) = tables
    parts, features, households = out.shape
    trees = len(patterns)
    bits = 1
    while (1 << bits) < 2 * households:
        bits += 1
    size = 1 << bits
    into = out[part]
    slot_pattern = np.empty(size, dtype=np.uint64)
    slot_index = np.empty(size, dtype=np.int64)
    index = np.empty(households, dtype=np.int64)
    distinct = np.empty(households, dtype=np.uint64)
    shares = np.zeros((features, households))  # by distinct pattern
    power = np.empty((most_nodes, most_points, LANES))
    below = np.empty((most_nodes, most_points, LANES))
    for row in range(part, trees, parts):
        tree = first_tree + row
        count = _distinct(patterns[row], slot_pattern, slot_index, bits, index, distinct)
        for u in range(count):
            pattern = distinct[u]
            for group in range(tree_offset[tree], tree_offset[tree + 1]):
                begin = table_offset[group]
                if begin < 0:
                    continue  # a leaf no table holds: the region passes, below
                strays = pattern ^ went_left[group]  # splits above the group the household leaves
                first = prefix_offset[group]
                above = prefix_offset[group + 1] - first
                entry = 0  # the table row: agreement above, then the way at each of its splits
                for j in range(above):
                    entry |= np.int64((strays & prefix_splits[first + j]) == 0) << j
                first = group_split_offset[group]
                for j in range(group_split_offset[group + 1] - first):
                    entry |= np.int64((pattern >> group_split[first + j]) & np.uint64(1)) << (above + j)
                first = feature_offset[group]
                width = feature_offset[group + 1] - first
                begin += entry * width
                for j in range(width):
                    shares[group_feature[first + j], u] += table[begin + j]
        if region_trees[tree]:
            explain_region(tree, distinct[:count], *region, power, below, shares)
        for j in range(tree_feature_offset[tree], tree_feature_offset[tree + 1]):
            f = tree_feature[j]
            share_of = shares[f]
            to = into[f]
            for h in range(households):
                to[h] += share_of[index[h]]
            share_of[:count] = 0.0


@numba.njit(parallel=True, cache=True)
def _explain(patterns, first_tree, tree_features, tables, region, region_trees, most_nodes, most_points, out):
    """`_explain_part` for every part of `out`, one thread each, each adding into its own copy. The
    region arguments come one by one, and are bundled inside the loop: a parallel loop refuses a
    tuple that holds arrays and numbers."""
    for part in numba.prange(len(out)):
        regions = (region, region_trees, most_nodes, most_points)
        _explain_part(part, patterns, first_tree, tree_features, tables, regions, out)


@numba.njit(cache=True)
def _rows_by_household(shares, bias, start, end, out):
    """`out[start:end]`: the parts' shares by feature added up, household-major, then the expected
    value."""
    parts, features, _ = shares.shape
    for h in range(start, end):
        out[h, features] = bias
    for f in range(features):
        for h in range(start, end):
            total = shares[0, f, h]
            for part in range(1, parts):
                total += shares[part, f, h]
            out[h, f] = total


@numba.njit(cache=True)
def _explain_serially(values, rules, tree_features, tables, regions, bias, out):
    """A small batch on this thread, in one call: its patterns, its trees, its rows (what `_chunk`
    does in steps on every core)."""
    households = len(values)
    patterns = np.empty((len(rules[0]) - 1, households), dtype=np.uint64)
    _block_patterns(values, rules, 0, 0, households, patterns)
    shares = np.zeros((1, out.shape[1] - 1, households))
    _explain_part(0, patterns, 0, tree_features, tables, regions, shares)
    _rows_by_household(shares, bias, 0, households, out)


@numba.njit(parallel=True, cache=True)
def _by_household(shares, bias, out):
    """`_rows_by_household` for blocks of 256 households, so both sides stay in cache."""
    households = shares.shape[2]
    for block in numba.prange((households + 255) // 256):
        _rows_by_household(shares, bias, block * 256, min(households, block * 256 + 256), out)


_DE_BRUIJN = np.uint64(0x03F79D71B4CB0A89)
_DE_BRUIJN_POSITION = np.zeros(64, dtype=np.int64)
for _bit in range(64):
    _DE_BRUIJN_POSITION[((1 << _bit) * 0x03F79D71B4CB0A89 % (1 << 64)) >> 58] = _bit


@numba.njit(cache=True, inline="always")
def _lowest_bit(word, positions) -> int:
    """The position of the lowest set bit of `word` (64 for 0): de Bruijn's multiply and look-up."""
    if word == 0:
        return 64
    return positions[((word & (~word + np.uint64(1))) * _DE_BRUIJN) >> np.uint64(58)]


@numba.njit(parallel=True, cache=True)
def _raw_scores(values, rules, not_left, exit_leaf, leaf_offset, leaf_value, positions, block_size, out):
    """`out[household]`: the sum of the leaf values its decision patterns lead to, tree by tree in the
    model's order from 0, as LightGBM adds them (GBDT::PredictRaw): the same float64 sum. The leaf is
    found without walking the tree (QuickScorer): with the leaves numbered left to right, every split
    the household goes right at removes the leaves left of it, and the leftmost leaf left is its own."""
    households = len(values)
    split_offset = rules[0]
    trees = len(split_offset) - 1
    for block in numba.prange((households + block_size - 1) // block_size):
        start = block * block_size
        n = min(households, start + block_size) - start
        patterns = np.empty((trees, n), dtype=np.uint64)
        _block_patterns(values[start : start + n], rules, 0, 0, n, patterns)
        total = np.zeros(n)
        left = np.empty(n, dtype=np.uint64)
        for tree in range(trees):
            first = split_offset[tree]
            left[:] = ~np.uint64(0)
            for split in range(first, split_offset[tree + 1]):
                at = np.uint64(split - first)
                keep = not_left[split]
                for r in range(n):
                    left[r] &= keep | (np.uint64(0) - ((patterns[tree, r] >> at) & np.uint64(1)))
            for r in range(n):
                leaf = exit_leaf[leaf_offset[tree] + _lowest_bit(left[r], positions)]
                total[r] += leaf_value[leaf_offset[tree] + leaf]
        out[start : start + n] = total


def _exits(forest: Forest) -> tuple[np.ndarray, np.ndarray]:
    """Per split, the mask of the leaves outside its left subtree; per tree, its leaves in left-to-right
    order (`exit_leaf[leaf_offset[t] + position]`). A 65th leaf has no bit: it is the one left when
    every bit is gone."""
    not_left = np.zeros(len(forest.feature), dtype=np.uint64)
    exit_leaf = np.zeros(len(forest.leaf_value), dtype=np.int64)
    for tree in range(forest.trees):
        first = int(forest.split_offset[tree])
        if forest.split_offset[tree + 1] > first:
            order: list[int] = []
            _left_to_right(forest, first, 0, order, not_left)
            begin = int(forest.leaf_offset[tree])
            exit_leaf[begin : begin + len(order)] = order
    return not_left, exit_leaf


def _left_to_right(
    forest: Forest, first: int, node: int, order: list[int], not_left: np.ndarray
) -> list[int]:
    """The positions of the leaves below `node`, numbered left to right into `order` on the way."""
    if node < 0:
        order.append(~node)
        return [len(order) - 1]
    below = _left_to_right(forest, first, int(forest.left[first + node]), order, not_left)
    inside = sum(1 << position for position in below if position < 64)
    not_left[first + node] = np.uint64(~inside & ((1 << 64) - 1))
    return below + _left_to_right(forest, first, int(forest.right[first + node]), order, not_left)


def _tree_features(forest: Forest) -> tuple[np.ndarray, np.ndarray]:
    """Each tree's distinct split features: tree t's are `feature[offset[t]:offset[t+1]]`."""
    per_tree = [
        np.unique(forest.feature[forest.split_offset[t] : forest.split_offset[t + 1]])
        for t in range(forest.trees)
    ]
    offset = np.concatenate([[0], np.cumsum([len(f) for f in per_tree])]).astype(np.int64)
    return offset, np.concatenate([np.zeros(0, dtype=np.int64), *per_tree]).astype(np.int64)


class PathExplainer:
    """`pred_contrib` for one booster by the subtree tables: the same values, much less work.

    Trees of more than 65 leaves are explained by LightGBM's own `pred_contrib` (exact, slower).
    A model no exact explanation covers — linear trees, whose leaves are linear models LightGBM's
    SHAP leaves out, or several classes — has a `refusal` and no contributions: it is refused at
    promotion and never served."""

    def __init__(
        self, booster: lgb.Booster, table_bits: int | None = None, budget: int = TABLE_BUDGET
    ) -> None:
        self.booster = booster
        self.features = booster.num_feature()
        self.refusal: str | None = None
        self.beyond_tables: str | None = None
        try:
            self.forest = Forest.of(booster)
        except UnsupportedModel as reason:
            self.refusal = str(reason)
            return
        widest_tree = int(np.diff(self.forest.split_offset).max(initial=0))
        if widest_tree > MAX_SPLITS:
            self.beyond_tables = f"a tree has {widest_tree} splits; the tables cover up to {MAX_SPLITS}"
            return
        self.tables = build_tables(self.forest, table_bits, budget)
        f, t = self.forest, self.tables
        r = t.regions
        rules = (
            f.split_offset,
            f.feature,
            f.threshold,
            *split_rules(f),
            f.categorical,
            f.category_offset,
            f.category_bits,
        )
        tables = (
            t.tree_offset,
            t.went_left,
            t.prefix_offset,
            t.prefix_splits,
            t.split_offset,
            t.split,
            t.feature_offset,
            t.feature,
            t.table_offset,
            t.table,
        )
        tree_features = _tree_features(f)
        regions = (r.arrays, r.nodes > 0, max(1, int(r.nodes.max(initial=0))), r.disagreed_share.shape[1])
        self._kernel_arguments = (rules, tables, tree_features, regions)  # made once: a call is short

    @cached_property
    def _leaf_order(self) -> tuple[np.ndarray, np.ndarray]:
        """`_exits`, made the first time raw scores are asked for (the service never asks)."""
        return _exits(self.forest)

    def _checked(self, values: np.ndarray) -> np.ndarray:
        if self.refusal is not None:
            raise UnsupportedModel(self.refusal)
        values = np.asarray(values, dtype=np.float64)
        if not (values.flags.c_contiguous or values.flags.f_contiguous):
            values = np.ascontiguousarray(values)  # a block read by column (pandas) is kept as it is
        if values.ndim != 2 or values.shape[1] != self.features:
            raise ValueError(
                f"expected a matrix of {self.features} feature columns, got shape {values.shape}"
            )
        return values

    def contributions(self, values: np.ndarray, block: int = BLOCK) -> np.ndarray:
        """float64[households, features + 1]: per-feature SHAP values, then the expected value."""
        values = self._checked(values)
        if self.beyond_tables is not None:
            return np.asarray(self.booster.predict(values, pred_contrib=True), dtype=np.float64)
        out = np.empty((len(values), self.features + 1), dtype=np.float64)
        for start in range(0, len(values), CHUNK):
            self._chunk(values[start : start + CHUNK], block, out[start : start + CHUNK])
        return out

    def raw_scores(self, values: np.ndarray, block: int = BLOCK) -> np.ndarray:
        """float64[households]: the model's raw score (log-odds), LightGBM's own sum of leaf values
        in its order, found from the decision patterns made as for the contributions: a fifth of
        LightGBM's time at 500 × 63 (its walk down each tree branches on every value)."""
        values = self._checked(values)
        if self.beyond_tables is not None:
            return np.asarray(self.booster.predict(values, raw_score=True), dtype=np.float64)
        out = np.empty(len(values), dtype=np.float64)
        f = self.forest
        not_left, exit_leaf = self._leaf_order
        rules = self._kernel_arguments[0]
        _raw_scores(
            values, rules, not_left, exit_leaf, f.leaf_offset, f.leaf_value, _DE_BRUIJN_POSITION, block, out
        )
        return out

    def _chunk(self, values: np.ndarray, block: int, out: np.ndarray) -> None:
        """`out`'s rows for one chunk of households, explained together (see `_explain_part`); a
        batch of fewer than PARALLEL_FROM households on one thread, as starting the others would
        take longer than the work."""
        f, t = self.forest, self.tables
        households = len(values)
        rules, tables, tree_features, regions = self._kernel_arguments
        if households < PARALLEL_FROM:
            _explain_serially(values, rules, tree_features, tables, regions, t.bias, out)
            return
        parts = max(1, min(numba.get_num_threads(), f.trees))
        shares = np.zeros((parts, self.features, households), dtype=np.float64)
        group = max(1, PATTERN_BUDGET // (8 * max(1, households)))
        for first_tree in range(0, f.trees, group):
            patterns = np.empty((min(group, f.trees - first_tree), households), dtype=np.uint64)
            _decision_patterns(values, rules, first_tree, block, patterns)
            _explain(patterns, first_tree, tree_features, tables, *regions, shares)
        _by_household(shares, t.bias, out)
