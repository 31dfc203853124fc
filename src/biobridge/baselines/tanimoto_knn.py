"""Chemical-similarity transfer for drug queries: the tails of the training drugs whose Morgan fingerprints
(radius 2, 2048 bits, RDKit) are most similar to the query's by Tanimoto coefficient, the medicinal chemist's
first try ("similar molecules hit similar targets").

The vote is ``biobridge.baselines.neighbour_vote``'s with ``sim(q, h) = |a & b| / |a | b|`` over the bits of
the two fingerprints. Fingerprints are computed from the KG's SMILES, whatever encoder made the drug
embeddings, so the baseline is the same for every drug encoder. Tasks whose head type is not a molecule type
are not applicable.
"""

from __future__ import annotations

import numpy as np
import torch

from biobridge.baselines.neighbour_vote import NeighbourVoteScorer, TaskIndex
from biobridge.encoders.morgan import MorganEncoder
from biobridge.evaluation.scorer import NotApplicableError, QueryItems
from biobridge.evaluation.tasks import Task

__all__ = ["TanimotoKNNScorer", "tanimoto"]


def tanimoto(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Tanimoto coefficients of binary rows: (len(a), len(b)); 0 where both are empty."""
    inter = a @ b.T
    union = a.sum(1, keepdim=True) + b.sum(1)[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-9), torch.zeros_like(inter))


class TanimotoKNNScorer(NeighbourVoteScorer):
    """Tanimoto-weighted vote of the ``k`` most similar training drugs."""

    name = "tanimoto-knn"
    similarity = "Tanimoto of Morgan fingerprints (r=2, 2048 bits) computed from the KG's SMILES"

    def __init__(self, kg, split, table=None, k: int = 50, **kwargs) -> None:
        super().__init__(kg, split, table=table, k=k, **kwargs)
        self._morgan = MorganEncoder()
        self._fingerprints: dict[str, tuple[np.ndarray, torch.Tensor]] = {}

    def score(self, task: Task, query_nodes: np.ndarray, candidate_nodes: np.ndarray) -> np.ndarray:
        if self.kg.modalities.get(task.head_type) != "molecule":
            raise NotApplicableError(f"{self.name}: the queries ({task.head_type}) are not molecules")
        return super().score(task, query_nodes, candidate_nodes)

    def _fingerprints_of(self, node_type: str, nodes: np.ndarray) -> torch.Tensor:
        if node_type not in self._fingerprints:
            all_nodes = self.kg.nodes_of_type(node_type)
            bits, _ = self._morgan.fingerprints(self.kg.nodes.loc[all_nodes, "feature"].tolist())
            self._fingerprints[node_type] = (all_nodes, torch.from_numpy(bits))  # unparsable: zero rows
        all_nodes, bits = self._fingerprints[node_type]
        return bits[torch.from_numpy(np.searchsorted(all_nodes, nodes))]

    def _features(self, task: Task, heads: np.ndarray) -> torch.Tensor:
        return self._fingerprints_of(task.head_type, heads)

    def _similarities(self, task: Task, index: TaskIndex, query_nodes: np.ndarray) -> torch.Tensor:
        return tanimoto(self._fingerprints_of(task.head_type, query_nodes), index.features)

    def _item_similarities(self, task: Task, index: TaskIndex, items: QueryItems) -> torch.Tensor:
        return tanimoto(torch.from_numpy(self._morgan.encode(items.features)), index.features)

    def score_items(self, task: Task, items: QueryItems, candidate_nodes: np.ndarray) -> np.ndarray:
        if self.kg.modalities.get(task.head_type) != "molecule":
            raise NotApplicableError(f"{self.name}: the queries ({task.head_type}) are not molecules")
        return super().score_items(task, items, candidate_nodes)
