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
        q = torch.as_tensor(queries, dtype=torch.float32)
        if q.shape[0] == 1:
            return self._search_one(q[0].numpy(), k)
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
        and a partial selection in numpy; ties broken by candidate order."""
        norm = float(np.sqrt(query @ query))
        scores = self.vectors.numpy() @ (query / max(norm, 1e-12))
        if k < len(scores):
            kth = scores[np.argpartition(scores, len(scores) - k)[len(scores) - k]]
            above = np.flatnonzero(scores > kth)
            top = np.concatenate([above, np.flatnonzero(scores == kth)[: k - len(above)]])
        else:
            top = np.arange(len(scores))
        top = top[np.lexsort((top, -scores[top]))]
        return scores[top][None], self.node_index[top][None]
