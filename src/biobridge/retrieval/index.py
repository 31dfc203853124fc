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

    def __len__(self) -> int:
        return len(self.node_index)

    def search(self, queries: torch.Tensor, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, node indices) per query, exact, best first; ties broken by candidate order."""
        k = min(k, len(self))
        if len(queries) == 1:
            rows = queries.numpy() if isinstance(queries, torch.Tensor) else np.asarray(queries)
            return self._search_one(rows[0].astype(np.float32, copy=False), k)
        q = torch.as_tensor(queries, dtype=torch.float32)
        with torch.inference_mode():
            q = F.normalize(q, dim=1)
            top_scores, top_pos = [], []
            for start in range(0, q.shape[0], chunk):
                s = q[start : start + chunk] @ self.vectors.T
                vals, pos = torch.topk(s, k, dim=1, largest=True, sorted=True)
                top_scores.append(vals)
                top_pos.append(pos)
        scores = torch.cat(top_scores).numpy()
        pos = torch.cat(top_pos).numpy()
        return scores, self.node_index[pos]

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
