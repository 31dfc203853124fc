"""Graph-context transfer: the tails of the training heads whose *known training edges* look most like the
query's (item-based collaborative filtering on the knowledge graph).

For a task ``(head_type, relation, tail_type)`` the context of a node is the set of its TRAIN-graph
neighbours (the node as head or as tail of a training triple) over every relation except the task's relation
and its reverse, each neighbour weighted by
``log(1 + n_nodes / degree)`` (rare neighbours say more than hubs), the vector L2-normalised. The similarity
of a query and a training head is the cosine of their contexts, and the score is the vote of
``biobridge.baselines.neighbour_vote``.

A query needs training edges of other relations to have a context: under the ``inductive`` protocol held-out
nodes have none and every score is 0 (ties), under ``transductive`` they keep their other tasks' edges, and
under ``paper`` they keep the reverse edges the protocol leaks. The method is transductive: a new node can
only be scored once it has edges in the graph. Excluding the task's relation (both directions) keeps the
query's test edges out of its own context.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from biobridge.baselines.neighbour_vote import NeighbourVoteScorer, TaskIndex
from biobridge.evaluation.scorer import QueryItems
from biobridge.evaluation.tasks import Task

__all__ = ["GraphContextScorer"]


class GraphContextScorer(NeighbourVoteScorer):
    """Similarity-weighted vote of the ``k`` training heads with the most similar graph context."""

    name = "graph-context"
    similarity = (
        "cosine of IDF-weighted training-graph neighbourhoods (both edge directions), task relation excluded"
    )
    _context_key: tuple | None = None  # the relations the cached context leaves out
    _context: sp.csr_matrix | None = None

    def context(self, task: Task) -> sp.csr_matrix:
        """``(n_nodes, n_nodes)`` L2-normalised context rows for ``task`` (cached for the last relation)."""
        relations = (task.relation, self.kg.reverse_relations.get(task.relation, task.relation))
        if self._context_key != relations:
            ix = self._index
            excluded = [ix.relation_id(r) for r in relations]
            keep = self._train & ~np.isin(ix.relation_code, excluded)
            # both directions: a node's context is every training edge it takes part in, as head or as tail
            heads = np.concatenate([ix.head[keep], ix.tail[keep]])
            tails = np.concatenate([ix.tail[keep], ix.head[keep]])
            n = self._num_nodes
            adjacency = sp.csr_matrix((np.ones(len(heads), np.float32), (heads, tails)), shape=(n, n))
            adjacency.sum_duplicates()
            adjacency.data[:] = 1.0
            degree = np.asarray(adjacency.sum(axis=0)).ravel()
            idf = np.log1p(n / np.maximum(degree, 1.0)).astype(np.float32)
            weighted = (adjacency @ sp.diags(idf)).tocsr()
            norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
            inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0).astype(np.float32)
            self._context = (sp.diags(inv) @ weighted).tocsr()
            self._context_key = relations
        return self._context

    def _features(self, task: Task, heads: np.ndarray) -> sp.csr_matrix:
        return self.context(task)[heads].T.tocsr()  # (n_nodes, n_heads)

    def _similarities(self, task: Task, index: TaskIndex, query_nodes: np.ndarray) -> torch.Tensor:
        sims = (self.context(task)[query_nodes] @ index.features).toarray()
        return torch.from_numpy(sims.astype(np.float32, copy=False))

    def _item_similarities(self, task: Task, index: TaskIndex, items: QueryItems) -> torch.Tensor:
        """A KG node keeps its context; a new item has none (every vote 0: popularity breaks the ties)."""
        nodes = np.asarray(items.nodes, dtype=np.int64)
        sims = torch.zeros((len(nodes), len(index.heads)), dtype=torch.float32)
        known = np.flatnonzero(nodes >= 0)
        if len(known):
            sims[torch.from_numpy(known)] = self._similarities(task, index, nodes[known])
        return sims
