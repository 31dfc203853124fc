"""Homology transfer, the biologist's first try (CAFA's BLAST baseline, DeepGOPlus's DiamondScore).

Protein queries: the tails of the query's best sequence hits among the training proteins. The vote is
``biobridge.baselines.neighbour_vote``'s with ``sim(q, h)`` = the MMseqs2 bit score of the alignment of
``q`` against ``h`` (0 without a hit below the E-value threshold), the neighbours being the ``k`` best hits
among all training proteins (not only those with the task's edges, as a search of the training set finds
them): the summed bit scores (relative to the query's best hit, raised to the vote's sharpness) of those of
the ``k`` best hits that carry the edge, popularity breaking the ties of queries without any hit.

Protein candidates of another type's query (Drug2Prot, Disease2Prot): the query type's own first try
(Tanimoto-kNN for molecules, feature-kNN otherwise), its scores then spread to each candidate's homologs:
``s'(q, c) = s(q, c) + smoothing * sum_c' h(c, c') s(q, c')`` with ``h(c, c')`` the bit score of ``c``
against ``c'`` relative to ``c``'s best hit (paralogs tend to share ligands and phenotypes). Tasks with
neither end a protein are not applicable.

``hits`` is a ``biobridge.encoders.homology.ProteinHits`` tied to KG nodes: the all-against-all search of
the KG's proteins (self hits excluded), the same search a new sequence would run against them.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from biobridge.baselines.feature_knn import FeatureKNNScorer
from biobridge.baselines.neighbour_vote import NeighbourVoteScorer, TaskIndex
from biobridge.baselines.tanimoto_knn import TanimotoKNNScorer
from biobridge.evaluation.scorer import NotApplicableError, QueryItems
from biobridge.evaluation.tasks import Task

__all__ = ["HomologyKNNScorer"]


class HomologyKNNScorer(NeighbourVoteScorer):
    """See the module docstring. ``node_type``: the type the hits are of."""

    name = "homology-knn"
    similarity = "MMseqs2 bit score of the query against the training head (0 without a hit)"

    def __init__(
        self,
        kg,
        split,
        hits,
        table=None,
        k: int = 20,
        node_type: str = "protein",
        smoothing: float = 0.5,
        tail_k: int = 50,
        **kwargs,
    ) -> None:
        super().__init__(kg, split, table=table, k=k, **kwargs)
        self.hits = hits
        self.node_type = node_type
        self.smoothing = float(smoothing)
        self._matrix = hits.node_matrix(kg.num_nodes)  # csr (num_nodes, num_nodes) bit scores
        self._relative = _relative_to_best_hit(self._matrix)
        self._last_search: tuple[tuple[str, ...], sp.csr_matrix] | None = None
        self._training_nodes: np.ndarray | None = None  # nodes in some TRAIN triple, sorted
        self._last_spread: tuple[bytes, sp.csr_matrix] | None = None  # (candidate pool, its homology)
        self._tanimoto = TanimotoKNNScorer(kg, split, table=table, k=tail_k)
        self._feature = FeatureKNNScorer(kg, split, table=table, k=tail_k) if table is not None else None
        for inner in (self._tanimoto, self._feature):
            if inner is not None:  # a protein-tail task's (k, sharpness) is its query-type vote's
                inner.per_task = self.per_task

    @property
    def settings(self) -> dict:
        return {
            **super().settings,
            "search": self.hits.settings,
            "tail_smoothing": self.smoothing,
            "tail_queries": {"molecule": self._tanimoto.settings, "other": "feature-knn"},
        }

    def score(self, task: Task, query_nodes: np.ndarray, candidate_nodes: np.ndarray) -> np.ndarray:
        if task.head_type == self.node_type:
            return super().score(task, query_nodes, candidate_nodes)
        if task.tail_type != self.node_type:
            raise NotApplicableError(f"{self.name}: neither end of {task.name} is a {self.node_type}")
        base = self._query_type_scorer(task).score(task, query_nodes, candidate_nodes)
        return self._spread(base, candidate_nodes)

    def _spread(self, base: np.ndarray, candidate_nodes: np.ndarray) -> np.ndarray:
        key = np.ascontiguousarray(candidate_nodes).tobytes()
        last = self._last_spread  # the evaluator asks for the same pool chunk after chunk
        if last is None or last[0] != key:
            last = (key, self._relative[candidate_nodes][:, candidate_nodes])  # (C, C) homology among them
            self._last_spread = last
        spread = last[1]
        return (base + self.smoothing * np.asarray(spread @ base.T).T).astype(np.float32)

    def _query_type_scorer(self, task: Task) -> NeighbourVoteScorer:
        if self.kg.modalities.get(task.head_type) == "molecule":
            return self._tanimoto
        if self._feature is None:
            raise NotApplicableError(f"{self.name}: {task.name} needs the embedding table for its queries")
        return self._feature

    def _neighbour_pool(self, task: Task, heads: np.ndarray) -> np.ndarray:
        """Every training protein (a node of the type in some TRAIN triple), as a search against the training
        proteins finds them: the ``k`` best hits vote, those without the task's edges for nothing."""
        ix = self._index
        if self._training_nodes is None:  # the same for every task
            self._training_nodes = np.unique(np.concatenate([ix.head[self._train], ix.tail[self._train]]))
        ends = self._training_nodes
        pool = ends[ix.node_type_code[ends] == ix.type_id(task.head_type)]
        return np.union1d(pool, heads)

    def _features(self, task: Task, heads: np.ndarray):
        return self._matrix[:, heads].tocsr()  # (num_nodes, n_heads)

    def _similarities(self, task: Task, index: TaskIndex, query_nodes: np.ndarray) -> torch.Tensor:
        sims = index.features[np.asarray(query_nodes, dtype=np.int64)].toarray()
        return torch.from_numpy(sims.astype(np.float32, copy=False))

    def _item_similarities(self, task: Task, index: TaskIndex, items: QueryItems) -> torch.Tensor:
        """A KG protein's hits from the all-against-all search; new sequences searched against the proteins."""
        nodes = np.asarray(items.nodes, dtype=np.int64)
        sims = torch.zeros((len(nodes), len(index.heads)), dtype=torch.float32)
        known, new = np.flatnonzero(nodes >= 0), np.flatnonzero(nodes < 0)
        if len(known):
            sims[torch.from_numpy(known)] = self._similarities(task, index, nodes[known])
        if len(new):
            rows = self._search([items.features[i] for i in new])
            found = rows[:, index.heads].toarray()
            sims[torch.from_numpy(new)] = torch.from_numpy(found.astype(np.float32))
        return sims

    def _search(self, sequences: list[str]):
        """The new sequences' hits against the KG's proteins; the last search is kept, so a fusion asking
        for the score and whether the vote is silent searches once."""
        key = tuple(sequences)
        last = self._last_search
        if last is None or last[0] != key:
            last = (key, self.hits.search_nodes(sequences, self.kg.num_nodes))
            self._last_search = last
        return last[1]

    def silent(self, task: Task, query_nodes: np.ndarray) -> np.ndarray:
        self._require_protein_head(task)
        return super().silent(task, query_nodes)

    def silent_items(self, task: Task, items: QueryItems) -> np.ndarray:
        self._require_protein_head(task)
        return super().silent_items(task, items)

    def _require_protein_head(self, task: Task) -> None:
        if task.head_type != self.node_type:
            raise NotApplicableError(f"{self.name}: {task.name}'s queries are not {self.node_type}s")

    def score_items(self, task: Task, items: QueryItems, candidate_nodes: np.ndarray) -> np.ndarray:
        if task.head_type == self.node_type:
            return super().score_items(task, items, candidate_nodes)
        if task.tail_type != self.node_type:
            raise NotApplicableError(f"{self.name}: neither end of {task.name} is a {self.node_type}")
        base = self._query_type_scorer(task).score_items(task, items, candidate_nodes)
        return self._spread(base, candidate_nodes)


def _relative_to_best_hit(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Each row divided by its maximum (rows without hits stay empty)."""
    best = np.asarray(matrix.max(axis=1).todense()).ravel()
    scale = np.divide(1.0, best, out=np.zeros_like(best, dtype=np.float64), where=best > 0)
    return (sp.diags(scale.astype(np.float32)) @ matrix).tocsr()
