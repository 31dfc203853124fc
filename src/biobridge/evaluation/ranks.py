"""Filtered ranks of gold candidates, with PyKEEN's tie conventions, and the top-k gold counts.

For one query with candidate scores ``s`` and gold set ``G``, the rank of a gold candidate ``g`` is computed
against the *non-gold* candidates only (the other golds are filtered out, as in filtered KG-completion
evaluation):

* optimistic rank  = 1 + #{c not in G : s[c] >  s[g]}
* pessimistic rank = 1 + #{c not in G : s[c] >= s[g]}
* realistic rank   = (optimistic + pessimistic) / 2, the expected rank under a uniformly random order of ties.

Higher scores are better. ``+inf`` / ``-inf`` scores are allowed and compare as usual; NaN is an error.

How it is computed, in one sort of each query row plus binary searches of its golds (O(c log c) per row of c
candidates, with numpy's vectorised sort): the number of candidates above a gold's score (and at or above it)
is found in the sorted row, the number of golds above it in the row's sorted gold scores, and the difference
is the non-gold count. The same counts give each gold's place in the row's unfiltered top-k list (stable
ties: the lower candidate column first), so recall@k and precision@k come from the same pass; only golds tied
with a non-gold near the top of the list need a direct count of the tied non-golds before them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "GoldCells",
    "GoldRanks",
    "filtered_rank_bounds",
    "filtered_realistic_ranks",
    "gold_rank_statistics",
]

# Work is done in blocks of at most this many (row x candidate) cells, so that the temporary arrays stay
# bounded (about 20 bytes per cell) whatever the size of the caller's chunk.
_MAX_BLOCK_CELLS = 1 << 22


@dataclass(frozen=True)
class GoldRanks:
    """One entry per gold cell, ordered by query row then candidate column, and top-k counts per row."""

    query_idx: np.ndarray  # int64 row of each gold cell
    gold_col: np.ndarray  # int64 candidate column of each gold cell
    optimistic: np.ndarray  # int64 filtered optimistic rank
    pessimistic: np.ndarray  # int64 filtered pessimistic rank
    top_k_hits: dict[int, np.ndarray]  # k -> int64 (q,): golds among the k top-scored candidates (unfiltered)

    @property
    def realistic(self) -> np.ndarray:
        return 0.5 * (self.optimistic + self.pessimistic).astype(np.float64)


@dataclass(frozen=True)
class GoldCells:
    """The gold cells of a (q, c) boolean mask, located once per block of rows, so that many score matrices
    can be ranked against the same gold (weight and vote tuning) without searching the mask each time."""

    mask: np.ndarray  # bool (q, c)
    # per block of rows holding a gold: (start, stop, rows, cols, golds per row, place of each in its row)
    blocks: tuple[tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]

    @classmethod
    def of(cls, gold: np.ndarray) -> GoldCells:
        gold = np.asarray(gold)
        if gold.ndim != 2:
            raise ValueError(f"gold must be a 2-D array, got shape {gold.shape}")
        if gold.dtype != np.bool_:
            raise ValueError(f"gold must be a boolean mask, got dtype {gold.dtype}")
        gold = np.ascontiguousarray(gold)
        q, c = gold.shape
        rows_per_block = max(1, _MAX_BLOCK_CELLS // max(c, 1))
        blocks = []
        for start in range(0, q, rows_per_block):
            stop = min(q, start + rows_per_block)
            rows, cols = np.nonzero(gold[start:stop])  # row-major: by row, then column
            if not len(rows):
                continue
            n_gold = np.bincount(rows, minlength=stop - start)
            slot = np.arange(len(rows)) - np.repeat(np.cumsum(n_gold) - n_gold, n_gold)
            blocks.append((start, stop, rows, cols, n_gold, slot))
        return cls(gold, tuple(blocks))


def _check(scores: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape != shape:
        raise ValueError(f"scores and gold must be 2-D arrays of one shape; got {scores.shape} and {shape}")
    if scores.dtype not in (np.float32, np.float64):
        scores = scores.astype(np.float64)
    if np.isnan(scores).any():
        rows = np.unique(np.nonzero(np.isnan(scores))[0])
        raise ValueError(f"scores contain NaN in {len(rows)} query row(s), first rows {rows[:5].tolist()}")
    return np.ascontiguousarray(scores)


def _block(s: np.ndarray, g: np.ndarray, rows, cols, n_gold, slot, ks: Sequence[int]):
    q, c = s.shape
    v = s[rows, cols]
    n = len(rows)
    sorted_rows = np.sort(s, axis=1)
    golds = np.full((q, int(n_gold.max())), np.inf, dtype=s.dtype)  # each row's gold scores, +inf padding
    golds[rows, slot] = v
    golds_t, sorted_t = torch.from_numpy(golds), torch.from_numpy(sorted_rows)
    sorted_golds = torch.sort(golds_t, dim=1).values

    def count(sequence: torch.Tensor, right: bool) -> np.ndarray:
        # one batched binary search of every row's golds in that row's sorted sequence
        return torch.searchsorted(sequence, golds_t, right=right).numpy()[rows, slot].astype(np.int64)

    all_greater = c - count(sorted_t, right=True)  # candidates (gold or not) scoring above the gold
    all_at_least = c - count(sorted_t, right=False)
    mine = n_gold[rows]  # the padding is +inf: capped, it never counts as a gold below or at a score
    gold_greater = mine - np.minimum(count(sorted_golds, right=True), mine)
    gold_at_least = mine - count(sorted_golds, right=False)
    del sorted_rows, sorted_t
    greater = all_greater - gold_greater  # non-golds above
    at_least = all_at_least - gold_at_least  # non-golds at or above

    hits: dict[int, np.ndarray] = {}
    if ks:
        # place in the unfiltered, stably tied top-k list = every candidate above + tied golds at a lower
        # column + tied non-golds at a lower column (the last counted only where it can matter)
        order = np.lexsort((cols, v, rows))
        r_o, v_o = rows[order], v[order]
        new_group = np.ones(n, dtype=bool)
        new_group[1:] = (r_o[1:] != r_o[:-1]) | (v_o[1:] != v_o[:-1])
        position = np.arange(n)
        tied_golds_before = np.empty(n, dtype=np.int64)
        tied_golds_before[order] = position - np.maximum.accumulate(np.where(new_group, position, 0))
        place = all_greater + tied_golds_before
        need = np.flatnonzero((at_least > greater) & (place < max(ks)))
        if len(need):
            step = max(1, _MAX_BLOCK_CELLS // max(c, 1))
            columns = np.arange(c)
            for lo in range(0, len(need), step):
                i = need[lo : lo + step]
                r, col = rows[i], cols[i]
                tied = (s[r] == v[i][:, None]) & ~g[r] & (columns[None, :] < col[:, None])
                place[i] += tied.sum(axis=1)
        for k in ks:
            hits[k] = np.bincount(rows[place < k], minlength=q).astype(np.int64)
    return rows, cols, greater + 1, at_least + 1, hits


def gold_rank_statistics(
    scores: np.ndarray, gold: np.ndarray | GoldCells, ks: Sequence[int] = ()
) -> GoldRanks:
    """Filtered optimistic / pessimistic ranks of every gold cell and, for each k in ``ks``, the number of
    golds among each row's k top-scored candidates (ties stable by candidate column, not filtered).

    ``scores``: float array (q, c), higher is better. ``gold``: bool array (q, c), or its ``GoldCells`` when
    the same gold is ranked many times. Raises ``ValueError`` on NaN scores or mismatched shapes. Memory
    bounded by blocks of rows."""
    cells = gold if isinstance(gold, GoldCells) else GoldCells.of(gold)
    scores = _check(scores, cells.mask.shape)
    if any(k < 1 for k in ks):
        raise ValueError(f"k must be >= 1, got {list(ks)}")
    q = scores.shape[0]
    parts = []
    hits = {k: np.zeros(q, dtype=np.int64) for k in ks}
    for start, stop, gold_rows, gold_cols, n_gold, slot in cells.blocks:
        g = cells.mask[start:stop]
        rows, cols, opt, pess, block_hits = _block(
            scores[start:stop], g, gold_rows, gold_cols, n_gold, slot, ks
        )
        parts.append((rows.astype(np.int64) + start, cols.astype(np.int64), opt, pess))
        for k in ks:
            hits[k][start:stop] = block_hits[k]
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return GoldRanks(empty, empty.copy(), empty.copy(), empty.copy(), hits)
    cat = [np.concatenate(x) for x in zip(*parts, strict=True)]
    return GoldRanks(*cat, top_k_hits=hits)


def filtered_rank_bounds(scores: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimistic and pessimistic filtered ranks of every (query, gold) pair.

    Returns ``(query_idx int64, optimistic int64, pessimistic int64)``, one entry per ``True`` cell of
    ``gold``, ordered by query row then candidate column.
    """
    r = gold_rank_statistics(scores, gold)
    return r.query_idx, r.optimistic, r.pessimistic


def filtered_realistic_ranks(
    scores: np.ndarray, gold: np.ndarray | GoldCells
) -> tuple[np.ndarray, np.ndarray]:
    """Filtered realistic rank of every (query, gold) pair.

    ``scores``: float array (q, c), higher is better. ``gold``: bool array (q, c) or its ``GoldCells``.
    Returns ``(query_idx int64, rank float64)``, one entry per gold cell, ordered by query then candidate.
    Raises ``ValueError`` on NaN scores or mismatched shapes.
    """
    r = gold_rank_statistics(scores, gold)
    return r.query_idx, r.realistic
