"""Baselines that need no model: popularity (training in-degree per relation)."""

from __future__ import annotations

import numpy as np

from biobridge.evaluation.queries import TRAIN_PART, KGIndex, SplitLike, split_parts
from biobridge.evaluation.scorer import QueryItems
from biobridge.evaluation.tasks import Task
from biobridge.kg.graph import KnowledgeGraph

__all__ = ["PopularityScorer"]


class PopularityScorer:
    """Score of a candidate = its number of TRAIN triples with the task's relation in which it is the tail.

    The same ranking for every query; ties are resolved by the evaluator's realistic rank (and stably by
    candidate order in top-k lists). Uses only training triples, so it never sees the test edges.
    """

    name = "popularity"

    def __init__(self, kg: KnowledgeGraph, split: SplitLike, name: str = "popularity") -> None:
        self.name = name
        index = KGIndex(kg)
        train = split_parts(kg, split) == TRAIN_PART
        self._num_nodes = kg.num_nodes
        self._degree: dict[str, np.ndarray] = {}
        for code, relation in enumerate(index.relation_names):
            tails = index.tail[train & (index.relation_code == code)]
            self._degree[relation] = np.bincount(tails, minlength=kg.num_nodes).astype(np.float32)

    def train_in_degree(self, relation: str) -> np.ndarray:
        """float32 count per node of TRAIN triples ``(*, relation, node)``; zeros for an unknown relation."""
        return self._degree.get(relation, np.zeros(self._num_nodes, dtype=np.float32))

    def score(self, task: Task, query_nodes: np.ndarray, candidate_nodes: np.ndarray) -> np.ndarray:
        row = self.train_in_degree(task.relation)[np.asarray(candidate_nodes, dtype=np.int64)]
        return np.broadcast_to(row, (len(query_nodes), len(row))).copy()

    def score_items(self, task: Task, items: QueryItems, candidate_nodes: np.ndarray) -> np.ndarray:
        return self.score(task, np.asarray(items.nodes), candidate_nodes)
