"""The trained bridge as an evaluation scorer: cosine(transform(query), project(candidate))."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from biobridge.bridge.embedding_table import EmbeddingTable
from biobridge.bridge.model import BridgeModel
from biobridge.evaluation.scorer import QueryItems


class BridgeScorer:
    def __init__(self, model: BridgeModel, table: EmbeddingTable, name: str = "biobridge"):
        self.model = model.eval()
        self.table = table
        self.name = name
        self._candidate_cache: dict[bytes, torch.Tensor] = {}

    def _candidates(self, nodes: np.ndarray) -> torch.Tensor:
        key = np.ascontiguousarray(nodes, dtype=np.int64).tobytes()
        if key not in self._candidate_cache:
            self._candidate_cache.clear()  # one pool at a time keeps memory bounded
            self._candidate_cache[key] = F.normalize(self.table.project(self.model, nodes), dim=1)
        return self._candidate_cache[key]

    def score(self, task, query_nodes: np.ndarray, candidate_nodes: np.ndarray) -> np.ndarray:
        return self._scores(task, self.table.raw(task.head_type, query_nodes), candidate_nodes)

    def score_items(self, task, items: QueryItems, candidate_nodes: np.ndarray) -> np.ndarray:
        return self._scores(task, torch.as_tensor(items.embeddings, dtype=torch.float32), candidate_nodes)

    def _scores(self, task, raw: torch.Tensor, candidate_nodes: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = F.normalize(
                self.model.transform_named(raw, task.head_type, task.relation, task.tail_type), dim=1
            )
            return (out @ self._candidates(candidate_nodes).T).numpy()
