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
        q = F.normalize(torch.as_tensor(queries, dtype=torch.float32), dim=1)
        top_scores, top_pos = [], []
        with torch.inference_mode():
            for start in range(0, q.shape[0], chunk):
                s = q[start : start + chunk] @ self.vectors.T
                vals, pos = torch.topk(s, k, dim=1, largest=True, sorted=True)
                top_scores.append(vals)
                top_pos.append(pos)
        scores = torch.cat(top_scores).numpy()
        pos = torch.cat(top_pos).numpy()
        return scores, self.node_index[pos]
