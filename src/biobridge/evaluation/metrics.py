"""Rank-based and set-based retrieval metrics, and the written definitions stored with every result."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = [
    "CANDIDATE_POLICIES",
    "DEFINITIONS",
    "per_query_recall_precision_at_k",
    "precision_at_k",
    "rank_metrics",
    "recall_precision_from_hits",
    "recall_at_k",
    "top_k_gold_hits",
    "top_k_indices",
]

DEFAULT_KS: tuple[int, ...] = (1, 3, 10)

DEFINITIONS: dict[str, str] = {
    "filtered_realistic_rank": (
        "For a query (held-out head) and one of its gold tails g, the filtered rank counts only non-gold "
        "candidates (all other gold tails of the query are removed): optimistic = 1 + #non-gold "
        "candidates with "
        "score > score(g); pessimistic = 1 + #non-gold candidates with score >= score(g); the "
        "reported rank is the "
        "realistic rank = (optimistic + pessimistic) / 2, the expected rank under a random order of ties "
        "(PyKEEN's 'realistic' rank). Higher scores are better."
    ),
    "mrr": (
        "Mean reciprocal rank = mean of 1 / realistic filtered rank over all (query, gold tail) pairs (the "
        "KG-completion convention; equal to PyKEEN's tail-side realistic inverse_harmonic_mean_rank "
        "on the same "
        "scores). Queries with many gold tails weigh more than queries with few."
    ),
    "hits@k": "Fraction of (query, gold tail) pairs whose realistic filtered rank is <= k.",
    "recall@k": (
        "Per query: |gold tails among the k top-scored candidates| / |gold tails among the "
        "candidates|, then the "
        "mean over queries (each query weighs the same). Not filtered."
    ),
    "precision@k": (
        "Per query: |gold tails among the k top-scored candidates| / k (k, not min(k, #gold)), then "
        "the mean over "
        "queries. Not filtered."
    ),
    "tie_policy": (
        "Ranks (MRR, hits@k): ties are resolved with the realistic rank (mean of optimistic and "
        "pessimistic). "
        "Top-k lists (recall@k, precision@k): stable by candidate order, i.e. among equal scores the "
        "candidate "
        "with the lower node_index comes first. NaN scores are an error."
    ),
    "queries_and_gold": (
        "A task is (head type, relation, tail type). Queries = distinct heads of the task's TEST "
        "triples in the "
        "split. Gold tails of a query = all tails of that head under the task's relation with the "
        "task's tail "
        "type in the FULL knowledge graph (train, test and excluded triples), restricted to the candidates. "
        "Queries or candidates without an embedding (not scorable), gold tails that are not candidates, and "
        "queries left without any gold candidate are removed and counted in the result, never silently."
    ),
}

CANDIDATE_POLICIES: dict[str, str] = {
    "relation": (
        "Candidates = every node of the task's tail type that takes part in the task's relation "
        "anywhere in the "
        "full knowledge graph (as head or tail of the relation or of its reverse)."
    ),
    "all": "Candidates = every node of the task's tail type in the knowledge graph.",
}


def rank_metrics(ranks: np.ndarray, ks: Iterable[int] = DEFAULT_KS) -> dict[str, float]:
    """MRR and hits@k over realistic ranks, one rank per (query, gold) pair.

    Returns ``{"mrr": ..., "hits@1": ..., "hits@3": ..., "hits@10": ...}`` (keys follow ``ks``).
    With no ranks, every value is NaN.
    """
    ranks = np.asarray(ranks, dtype=np.float64).ravel()
    if len(ranks) and (np.isnan(ranks).any() or ranks.min() < 1):
        raise ValueError("ranks must be >= 1 and not NaN")
    out: dict[str, float] = {}
    if len(ranks) == 0:
        out["mrr"] = float("nan")
        out.update({f"hits@{k}": float("nan") for k in ks})
        return out
    out["mrr"] = float(np.mean(1.0 / ranks))
    for k in ks:
        out[f"hits@{k}"] = float(np.mean(ranks <= k))
    return out


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k best scores per row, best first, shape (q, min(k, c)).

    Ties are stable by column order (the lower column first)."""
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D, got shape {scores.shape}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    k = min(k, scores.shape[1])
    # stable sort of the negated scores: descending, ties broken by ascending column
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def top_k_gold_hits(scores: np.ndarray, gold: np.ndarray, k: int) -> np.ndarray:
    """Number of gold candidates among the k top-scored ones per row (int64, length q).

    Same tie policy as :func:`top_k_indices` (stable by candidate order) but O(c) per row: candidates
    scoring above the k-th best score are all in; those tied with it fill the remaining places in
    candidate order.
    """
    scores = np.asarray(scores)
    gold = np.asarray(gold)
    if scores.ndim != 2 or gold.dtype != np.bool_ or gold.shape != scores.shape:
        raise ValueError("gold must be a boolean mask of the same 2-D shape as scores")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    q, c = scores.shape
    if c <= k:
        return gold.sum(axis=1).astype(np.int64)
    kth = np.partition(scores, c - k, axis=1)[:, c - k : c - k + 1]  # k-th best score per row, (q, 1)
    above = scores > kth
    hits = (above & gold).sum(axis=1).astype(np.int64)
    tied = scores == kth
    free_places = k - above.sum(axis=1)  # >= 1
    n_tied = tied.sum(axis=1)
    all_ties_fit = n_tied <= free_places
    hits[all_ties_fit] += (tied[all_ties_fit] & gold[all_ties_fit]).sum(axis=1)
    split_rows = np.flatnonzero(~all_ties_fit)  # more ties than places: take them in candidate order
    if len(split_rows):
        t = tied[split_rows]
        taken = t & (np.cumsum(t, axis=1) <= free_places[split_rows, None])
        hits[split_rows] += (taken & gold[split_rows]).sum(axis=1)
    return hits


def per_query_recall_precision_at_k(
    scores: np.ndarray, gold: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-query recall@k and precision@k (float64 arrays of length q).

    recall = |gold in top-k| / |gold| (NaN for a query without gold); precision = |gold in top-k| / k.
    """
    return recall_precision_from_hits(top_k_gold_hits(scores, gold, k), np.asarray(gold).sum(axis=1), k)


def recall_precision_from_hits(hits: np.ndarray, n_gold: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-query recall@k (NaN without gold) and precision@k from the count of golds in each top-k list."""
    hits = np.asarray(hits, dtype=np.float64)
    recall = np.full(len(hits), np.nan)
    np.divide(hits, n_gold, out=recall, where=n_gold > 0)
    return recall, hits / k


def recall_at_k(scores: np.ndarray, gold: np.ndarray, k: int) -> float:
    """Mean over queries with at least one gold candidate of |gold in top-k| / |gold|."""
    recall, _ = per_query_recall_precision_at_k(scores, gold, k)
    recall = recall[~np.isnan(recall)]
    return float(recall.mean()) if len(recall) else float("nan")


def precision_at_k(scores: np.ndarray, gold: np.ndarray, k: int) -> float:
    """Mean over queries with at least one gold candidate of |gold in top-k| / k."""
    _, precision = per_query_recall_precision_at_k(scores, gold, k)
    has_gold = np.asarray(gold).any(axis=1)
    precision = precision[has_gold]
    return float(precision.mean()) if len(precision) else float("nan")


def mrr_by_group(query_nodes: np.ndarray, ranks: np.ndarray, group_of: dict[int, str]) -> dict[str, dict]:
    """MRR over the (query, gold) pairs of each group of queries: ``group_of`` maps a query node to its group
    (queries without one are left out). Returns group -> {"mrr", "n_queries", "n_pairs"}, groups in first-seen
    order of ``group_of``'s values."""
    groups = np.array([group_of.get(int(q), "") for q in query_nodes], dtype=object)
    out: dict[str, dict] = {}
    for name in dict.fromkeys(group_of.values()):
        sel = groups == name
        out[name] = {
            "mrr": float(np.mean(1.0 / ranks[sel])) if sel.any() else None,
            "n_queries": int(len(np.unique(query_nodes[sel]))),
            "n_pairs": int(sel.sum()),
        }
    return out
