"""The trained bridge as an evaluation scorer: cosine(transform(query), project(candidate))."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from biobridge.bridge.embedding_table import EmbeddingTable
from biobridge.bridge.model import BridgeModel
from biobridge.bridge.neighbour_context import NeighbourContext
from biobridge.evaluation.scorer import QueryItems


class BridgeScorer:
    """``context``: the neighbour context a retrieval-augmented bridge reads
    (``NeighbourContext.for_model``); required for such a model, refused for any other."""

    def __init__(
        self,
        model: BridgeModel,
        table: EmbeddingTable,
        name: str = "biobridge",
        context: NeighbourContext | None = None,
    ):
        if model.reads_context != (context is not None):
            raise ValueError(
                "a retrieval-augmented bridge needs its neighbour context (NeighbourContext.for_model)"
                if context is None
                else "this bridge reads no neighbour context"
            )
        self.model = model.eval()
        self.table = table
        self.name = name
        self.context = context
        self._candidate_cache: dict[bytes, torch.Tensor] = {}

    @classmethod
    def of(
        cls, model: BridgeModel, kg, split, table: EmbeddingTable, name: str = "biobridge"
    ) -> BridgeScorer:
        """The scorer of ``model`` trained on ``split``: with its neighbour context rebuilt from the split's
        training triples when it reads one."""
        return cls(model, table, name=name, context=NeighbourContext.for_model(model, kg, split, table))

    def _candidates(self, nodes: np.ndarray) -> torch.Tensor:
        key = np.ascontiguousarray(nodes, dtype=np.int64).tobytes()
        if key not in self._candidate_cache:
            self._candidate_cache.clear()  # one pool at a time keeps memory bounded
            self._candidate_cache[key] = F.normalize(self.table.project(self.model, nodes), dim=1)
        return self._candidate_cache[key]

    def score(self, task, query_nodes: np.ndarray, candidate_nodes: np.ndarray) -> np.ndarray:
        return self._scores(task, self.table.raw(task.head_type, query_nodes), query_nodes, candidate_nodes)

    def score_items(self, task, items: QueryItems, candidate_nodes: np.ndarray) -> np.ndarray:
        raw = torch.as_tensor(items.embeddings, dtype=torch.float32)
        return self._scores(task, raw, items.nodes, candidate_nodes)

    def _scores(self, task, raw: torch.Tensor, nodes: np.ndarray, candidate_nodes: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            pattern = (task.head_type, task.relation, task.tail_type)
            out = F.normalize(transform(self.model, self.context, raw, *pattern, nodes), dim=1)
            return (out @ self._candidates(candidate_nodes).T).numpy()


def transform(
    model: BridgeModel,
    context: NeighbourContext | None,
    raw: torch.Tensor,
    head_type: str,
    relation: str,
    tail_type: str,
    nodes: np.ndarray | None = None,
) -> torch.Tensor:
    """``model.transform_named`` of raw head embeddings, with their neighbour contexts when the model reads
    one (``nodes``: the KG node of each row, -1 for a new item; None: all new)."""
    ctx = None
    if context is not None:
        ctx = context.of_embeddings(head_type, relation, tail_type, raw, nodes)
    return model.transform_named(raw, head_type, relation, tail_type, ctx)
