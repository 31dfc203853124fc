"""Exact cosine top-k over a candidate matrix, chunked so memory stays bounded."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


class CandidateIndex:
    """L2-normalised candidate vectors with the node indices they stand for."""

    def __init__(self, vectors: torch.Tensor | np.ndarray, node_index: np.ndarray):
        vectors = torch.as_tensor(vectors, dtype=torch.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(node_index):
            raise ValueError("vectors must be (n_candidates, dim) aligned with node_index")
        self.vectors = F.normalize(vectors, dim=1).contiguous()
        self.node_index = np.asarray(node_index, dtype=np.int64)
        self._columns: torch.Tensor | None = None  # vectors.T, contiguous, made by the first batch search

    def __len__(self) -> int:
        return len(self.node_index)

    def search(
        self, queries: torch.Tensor, k: int, chunk: int = 2048, tile: int = 4096
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, node indices) per query, exact, best first; ties broken by candidate order.
        ``chunk`` queries at a time against ``tile`` candidates at a time (see ``_search_block``)."""
        k = min(k, len(self))
        if len(queries) == 1:
            rows = queries.numpy() if isinstance(queries, torch.Tensor) else np.asarray(queries)
            return self._search_one(rows[0].astype(np.float32, copy=False), k)
        q = torch.as_tensor(queries, dtype=torch.float32)
        with torch.inference_mode():
            q = F.normalize(q, dim=1)
            if self._columns is None:  # (dim, n): one tile of candidates is a slice of contiguous rows
                self._columns = self.vectors.T.contiguous()
            tile = max(tile, k + 1)  # the first tile holds the k + 1 best so far
            buffer = torch.empty(min(chunk, len(q)), min(tile, len(self)))
            blocks = [self._search_block(q[i : i + chunk], k, tile, buffer) for i in range(0, len(q), chunk)]
        scores = torch.cat([b[0] for b in blocks]).numpy()
        pos = torch.cat([b[1] for b in blocks]).numpy()
        return scores, self.node_index[pos]

    def _search_block(self, q: torch.Tensor, k: int, tile: int, buffer: torch.Tensor):
        """Exact top-k of a block of normalised queries, with the scores of one tile of candidates at a time
        in ``buffer`` (sized to stay in cache, reused): the first tile's best ``k + 1`` per query set a
        threshold, later tiles only hand over the candidates strictly above it, so the k + 1 best scores are
        exact; then ties are put in candidate order."""
        m, n = len(q), len(self)
        keep = min(k + 1, n)
        width = min(tile, n)
        scores = buffer[:m, :width]
        torch.mm(q, self._columns[:, :width], out=scores)
        best, best_pos = torch.topk(scores, keep, dim=1, sorted=False)
        for start in range(width, n, tile):
            width = min(tile, n - start)
            scores = buffer[:m, :width]
            torch.mm(q, self._columns[:, start : start + width], out=scores)
            best, best_pos = _merge_above(best, best_pos, scores, start, keep)
        best, order = torch.sort(best, dim=1, descending=True)
        best_pos = torch.gather(best_pos, 1, order)
        # equal scores (candidates with equal vectors) go in candidate order: where they straddle the k-th
        # place, which are kept is decided from all the row's scores (few rows); then the rows with ties
        # are ordered by score, ties by candidate position
        straddle = torch.zeros(m, dtype=torch.bool)
        if keep > k:
            straddle = best[:, k] == best[:, k - 1]
            if straddle.any():
                rows = torch.nonzero(straddle).flatten()
                best[rows, :k], best_pos[rows, :k] = _first_k(torch.mm(q[rows], self._columns), k)
            best, best_pos = best[:, :k], best_pos[:, :k]
        inner = torch.nonzero(straddle | (best[:, 1:] == best[:, :-1]).any(dim=1)).flatten()
        if len(inner):
            pos, order = torch.sort(best_pos[inner], dim=1)
            values, order = torch.sort(
                torch.gather(best[inner], 1, order), dim=1, descending=True, stable=True
            )
            best[inner], best_pos[inner] = values, torch.gather(pos, 1, order)
        return best, best_pos

    def _search_one(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """One query without torch's per-call overhead (it dominates small pools): a matrix-vector product
        with the unnormalised query, the k-th largest score by partition, one comparison pass, and only the
        k kept scores divided by the query's norm; ties broken by candidate order."""
        scores = self.vectors.numpy() @ query
        n = len(scores)
        if k < n:
            kth = np.partition(scores, n - k)[n - k]
            top = np.flatnonzero(scores >= kth)
            if len(top) > k:  # ties at the k-th score: the first ones in candidate order
                above, tied = top[scores[top] > kth], top[scores[top] == kth]
                top = np.union1d(above, tied[: k - len(above)])
        else:
            top = np.arange(n)
        top = top[np.argsort(-scores[top], kind="stable")]
        norm = max(float(np.sqrt(query @ query)), 1e-12)
        return (scores[top] / norm)[None], self.node_index[top][None]


def _first_k(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's k best scores and their positions, ties at the k-th score to the first positions (the
    order among the k is left to the caller): every score above the k-th, then the first of those equal to
    it, picked by one top-k over a key unique per position."""
    kth = torch.topk(scores, k, dim=1).values[:, -1:]
    level = (scores > kth).double() + (scores >= kth).double()  # 2 above, 1 tied, 0 below
    key = level * (scores.shape[1] + 1) - torch.arange(scores.shape[1], dtype=torch.float64)
    pos = torch.topk(key, k, dim=1).indices
    return torch.gather(scores, 1, pos), pos


def _merge_above(best, best_pos, scores, offset: int, keep: int):
    """``best`` / ``best_pos`` (m, keep): each row's best scores so far and their candidate positions; merge
    in the entries of ``scores`` (a tile of candidates from position ``offset``) strictly above the row's
    lowest kept score, keeping the ``keep`` best (exact as a set of scores)."""
    threshold = best.min(dim=1).values
    rows, cols = torch.nonzero(scores > threshold[:, None], as_tuple=True)
    if not len(rows):
        return best, best_pos
    counts = torch.bincount(rows, minlength=len(best))
    touched = torch.nonzero(counts).flatten()
    place = torch.zeros(len(best), dtype=torch.long)
    place[touched] = torch.arange(len(touched))
    slot = torch.arange(len(rows)) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    new = torch.full((len(touched), int(counts.max())), -float("inf"))
    new_pos = torch.zeros(new.shape, dtype=torch.long)
    new[place[rows], slot] = scores[rows, cols]
    new_pos[place[rows], slot] = cols + offset
    merged = torch.cat([best[touched], new], dim=1)
    merged_pos = torch.cat([best_pos[touched], new_pos], dim=1)
    top, which = torch.topk(merged, keep, dim=1, sorted=False)
    best[touched] = top
    best_pos[touched] = torch.gather(merged_pos, 1, which)
    return best, best_pos
