"""Filtered ranks of gold candidates, with PyKEEN's tie conventions.

For one query with candidate scores ``s`` and gold set ``G``, the rank of a gold candidate ``g`` is computed
against the *non-gold* candidates only (the other golds are filtered out, as in filtered KG-completion
evaluation):

* optimistic rank  = 1 + #{c not in G : s[c] >  s[g]}
* pessimistic rank = 1 + #{c not in G : s[c] >= s[g]}
* realistic rank   = (optimistic + pessimistic) / 2, the expected rank under a uniformly random order of ties.

Higher scores are better. ``+inf`` / ``-inf`` scores are allowed and compare as usual; NaN is an error.
"""

from __future__ import annotations

import numpy as np

__all__ = ["filtered_rank_bounds", "filtered_realistic_ranks"]

# Work is done in blocks of at most this many (row x candidate) cells, so that the temporary arrays stay
# bounded (a few tens of bytes per cell) whatever the size of the caller's chunk.
_MAX_BLOCK_CELLS = 1 << 22
# Rows with few gold candidates are ranked by direct comparison (O(#gold x c)); rows with many by sorting
# (O(c log c)). Both give identical results; this only picks the cheaper one per block of rows.
_COMPARE_MAX_GOLD_PER_ROW = 20


def _check(scores: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores)
    gold = np.asarray(gold)
    if scores.ndim != 2 or gold.shape != scores.shape:
        raise ValueError(
            f"scores and gold must be 2-D arrays of one shape; got {scores.shape} and {gold.shape}"
        )
    if gold.dtype != np.bool_:
        raise ValueError(f"gold must be a boolean mask, got dtype {gold.dtype}")
    if not np.issubdtype(scores.dtype, np.floating):
        scores = scores.astype(np.float64)
    if np.isnan(scores).any():
        rows = np.unique(np.nonzero(np.isnan(scores))[0])
        raise ValueError(f"scores contain NaN in {len(rows)} query row(s), first rows {rows[:5].tolist()}")
    return scores, gold


def _bounds_by_comparison(
    scores: np.ndarray, gold: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Optimistic / pessimistic rank of the gold cells (rows, cols) by comparing each with its whole row."""
    c = scores.shape[1]
    optimistic = np.empty(len(rows), dtype=np.int64)
    pessimistic = np.empty(len(rows), dtype=np.int64)
    step = max(1, _MAX_BLOCK_CELLS // max(c, 1))
    for lo in range(0, len(rows), step):
        r, k = rows[lo : lo + step], cols[lo : lo + step]
        row_scores = scores[r]
        value = scores[r, k][:, None]
        non_gold = ~gold[r]
        optimistic[lo : lo + step] = 1 + ((row_scores > value) & non_gold).sum(axis=1)
        pessimistic[lo : lo + step] = 1 + ((row_scores >= value) & non_gold).sum(axis=1)
    return optimistic, pessimistic


def _bounds_by_sorting(scores: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row sort; returns (rows, cols, optimistic, pessimistic) of the gold cells in (row, col) order."""
    q, c = scores.shape
    order = np.argsort(scores, axis=1)  # ascending; tie order is irrelevant (whole tie groups are used)
    s = np.take_along_axis(scores, order, axis=1)
    gold_sorted = np.take_along_axis(gold, order, axis=1)
    non_gold = ~gold_sorted
    cum_incl = np.cumsum(non_gold, axis=1, dtype=np.int32)  # non-gold at sorted positions <= j
    n_non_gold = cum_incl[:, -1]

    pos = np.arange(c, dtype=np.int32)
    starts_group = np.ones((q, c), dtype=bool)
    starts_group[:, 1:] = s[:, 1:] != s[:, :-1]
    ends_group = np.ones((q, c), dtype=bool)
    ends_group[:, :-1] = starts_group[:, 1:]
    # first / last sorted position of the tie group of each position
    group_start = np.maximum.accumulate(np.where(starts_group, pos, 0), axis=1)
    group_end = np.minimum.accumulate(np.where(ends_group, pos, c - 1)[:, ::-1], axis=1)[:, ::-1]

    rows, sorted_pos = np.nonzero(gold_sorted)
    start, end = group_start[rows, sorted_pos], group_end[rows, sorted_pos]
    below = cum_incl[rows, start] - non_gold[rows, start]  # non-gold with a lower score
    below_or_equal = cum_incl[rows, end]  # non-gold with a lower or equal score
    optimistic = 1 + n_non_gold[rows] - below_or_equal
    pessimistic = 1 + n_non_gold[rows] - below
    cols = order[rows, sorted_pos]
    back = np.lexsort((cols, rows))
    return rows[back], cols[back], optimistic[back].astype(np.int64), pessimistic[back].astype(np.int64)


def filtered_rank_bounds(scores: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimistic and pessimistic filtered ranks of every (query, gold) pair.

    Returns ``(query_idx int64, optimistic int64, pessimistic int64)``, one entry per ``True`` cell of
    ``gold``, ordered by query row then candidate column.
    """
    scores, gold = _check(scores, gold)
    q, c = scores.shape
    query_parts, opt_parts, pess_parts = [], [], []
    rows_per_block = max(1, _MAX_BLOCK_CELLS // max(c, 1))
    for start in range(0, q, rows_per_block):
        stop = min(q, start + rows_per_block)
        g = gold[start:stop]
        rows, cols = np.nonzero(g)
        if len(rows) == 0:
            continue
        if len(rows) <= _COMPARE_MAX_GOLD_PER_ROW * (stop - start):
            optimistic, pessimistic = _bounds_by_comparison(scores[start:stop], g, rows, cols)
        else:
            rows, cols, optimistic, pessimistic = _bounds_by_sorting(scores[start:stop], g)
        query_parts.append(rows.astype(np.int64) + start)
        opt_parts.append(optimistic)
        pess_parts.append(pessimistic)
    if not query_parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    return np.concatenate(query_parts), np.concatenate(opt_parts), np.concatenate(pess_parts)


def filtered_realistic_ranks(scores: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Filtered realistic rank of every (query, gold) pair.

    ``scores``: float array (q, c), higher is better. ``gold``: bool array (q, c).
    Returns ``(query_idx int64, rank float64)``, one entry per gold cell, ordered by query then candidate.
    Raises ``ValueError`` on NaN scores or mismatched shapes. Cost O(q c log c); memory bounded by blocks.
    """
    query_idx, optimistic, pessimistic = filtered_rank_bounds(scores, gold)
    return query_idx, 0.5 * (optimistic + pessimistic).astype(np.float64)
