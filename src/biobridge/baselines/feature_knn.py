"""Feature-kNN transfer: the tails of a query's nearest training heads, by cosine on the frozen embeddings.

The vote is ``biobridge.baselines.neighbour_vote``'s with ``sim(q, h) = cos(e_q, e_h)`` on the raw (frozen)
encoder embeddings. Only embeddings and training triples are used, so the method is inductive: any embedded
node (or a new sequence/SMILES/text once encoded) can be a query. Training heads without an embedding are
skipped.
"""

from __future__ import annotations

import numpy as np
import torch

from biobridge.baselines.neighbour_vote import NeighbourVoteScorer, TaskIndex
from biobridge.evaluation.scorer import QueryItems
from biobridge.evaluation.tasks import Task

__all__ = ["FeatureKNNScorer"]


def _normalise(x) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.as_tensor(x).to(torch.float32), dim=1)


class FeatureKNNScorer(NeighbourVoteScorer):
    """Similarity-weighted vote of the ``k`` nearest training heads by embedding cosine.

    ``table`` is a ``biobridge.bridge.embedding_table.EmbeddingTable`` (anything with ``raw(type, nodes)`` and
    ``has_embedding(nodes)``).
    """

    name = "feature-knn"
    similarity = "cosine on raw encoder embeddings, clipped at 0"

    def _features(self, task: Task, heads: np.ndarray) -> torch.Tensor:
        if self.table is None:
            raise ValueError("feature-kNN needs the embedding table")
        return _normalise(self.table.raw(task.head_type, heads))

    def _similarities(self, task: Task, index: TaskIndex, query_nodes: np.ndarray) -> torch.Tensor:
        return _normalise(self.table.raw(task.head_type, query_nodes)) @ index.features.T

    def _item_similarities(self, task: Task, index: TaskIndex, items: QueryItems) -> torch.Tensor:
        return _normalise(items.embeddings) @ index.features.T
