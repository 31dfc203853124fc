"""Feature-kNN transfer: the tails of a query's nearest training heads, by cosine on the frozen embeddings.

The vote is ``biobridge.evaluation.neighbour_vote``'s with ``sim(q, h) = cos(e_q, e_h)`` on the raw (frozen)
encoder embeddings. Only embeddings and training triples are used, so the method is inductive: any embedded
node (or a new sequence/SMILES/text once encoded) can be a query. Training heads without an embedding are
skipped.
"""

from __future__ import annotations

import numpy as np
import torch

from biobridge.evaluation.neighbour_vote import NeighbourVoteScorer, TaskIndex
from biobridge.evaluation.queries import SplitLike
from biobridge.evaluation.tasks import Task
from biobridge.kg.graph import KnowledgeGraph

__all__ = ["FeatureKNNScorer"]


def _normalise(x) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.as_tensor(x).to(torch.float32), dim=1)


class FeatureKNNScorer(NeighbourVoteScorer):
    """Similarity-weighted vote of the ``k`` nearest training heads by embedding cosine.

    ``table`` is a ``biobridge.bridge.embedding_table.EmbeddingTable`` (anything with ``raw(type, nodes)`` and
    ``has_embedding(nodes)``).
    """

    def __init__(
        self,
        kg: KnowledgeGraph,
        split: SplitLike,
        table,
        k: int = 50,
        popularity_weight: float = 1e-6,
        name: str = "feature-knn",
    ) -> None:
        super().__init__(kg, split, table, k=k, popularity_weight=popularity_weight)
        self.name = name

    @property
    def settings(self) -> dict:
        return {
            "k": self.k,
            "similarity": "cosine on raw encoder embeddings, clipped at 0",
            "popularity_weight": self.popularity_weight,
        }

    def _features(self, task: Task, heads: np.ndarray) -> torch.Tensor:
        return _normalise(self.table.raw(task.head_type, heads))

    def _similarities(self, task: Task, index: TaskIndex, query_nodes: np.ndarray) -> torch.Tensor:
        return _normalise(self.table.raw(task.head_type, query_nodes)) @ index.features.T
