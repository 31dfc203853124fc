"""The vote shared by the neighbourhood methods: a query's score for a candidate tail is the
similarity-weighted count of its ``k`` most similar *training heads* that link to that tail.

For a task ``(head_type, relation, tail_type)``, the training heads are the nodes that head at least one TRAIN
triple ``(h, relation, t)`` with ``t`` of ``tail_type``. For a query ``q``:

    score(q, c) = sum over the k training heads h most similar to q of
                      w(q, h) * [(h, relation, c) is a TRAIN triple]
                  + popularity_weight * min_h w(q, h) * train_in_degree(c) / max_in_degree
    w(q, h) = (max(sim(q, h), 0) / max_h' max(sim(q, h'), 0)) ** sharpness

``sharpness`` 1 weighs neighbours by their similarity; larger values let the nearest neighbours dominate (a
neighbour at half the best similarity weighs 2**-sharpness of it). The weights are relative to the query's best
neighbour, so the ranking does not depend on the scale of the similarity (cosine or bit score). ``k`` and
``sharpness`` may be set per task (``per_task``; ``biobridge.baselines.vote_tuning`` chooses them on validation
heads). The popularity term (default ``1e-6``, relative to the query's smallest neighbour weight) only breaks
ties among candidates no neighbour links to (it is smaller than any vote); 0 gives the pure vote. The query is
never its own neighbour. Subclasses say what the similarity is (``feature_knn``: cosine of frozen embeddings;
``graph_context``: cosine of training-graph neighbourhoods) by implementing ``_features`` and ``_similarities``.

Vectorised: one ``(queries x training heads)`` similarity block per call, ``torch.topk``, then a sparse
``(queries x heads) @ (heads x candidates)`` product (scipy.sparse). The last similarity block is kept (per task
and query set), so scoring the same queries with several ``(k, sharpness)`` settings, as the vote tuning does,
computes the similarities once; the top-k of the same block is the same whichever call asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from biobridge.evaluation.queries import TRAIN_PART, KGIndex, SplitLike, split_parts
from biobridge.evaluation.scorer import NotApplicableError, QueryItems
from biobridge.evaluation.tasks import Task
from biobridge.kg.graph import KnowledgeGraph

__all__ = ["NeighbourVoteScorer"]


@dataclass
class TaskIndex:
    heads: np.ndarray  # int64 training heads, sorted
    features: Any  # what ``_similarities`` compares queries with, one row per training head
    adjacency: sp.csr_matrix  # (n_heads, num_nodes) float32, 1 per training edge (head, tail)
    in_degree: np.ndarray  # float32 (num_nodes,), training in-degree under the relation, scaled to max 1


class NeighbourVoteScorer:
    """Base class: see the module docstring. ``table`` (optional) restricts training heads and tails to
    nodes with an embedding, so every method votes with the same training edges."""

    name = "neighbour-vote"  # subclasses: their default name ...
    similarity = ""  # ... and what their similarity is, for ``settings``

    def __init__(
        self,
        kg: KnowledgeGraph,
        split: SplitLike,
        table=None,
        k: int = 50,
        popularity_weight: float = 1e-6,
        name: str | None = None,
        sharpness: float = 1.0,
        per_task: dict[str, dict[str, float]] | None = None,
    ) -> None:
        if name:
            self.name = name
        self.k, self.sharpness = _vote_setting(k, sharpness)
        self.per_task = {}
        for task_name, chosen in (per_task or {}).items():
            self.set_vote(task_name, chosen["k"], chosen["sharpness"])
        self.popularity_weight = float(popularity_weight)
        self.table = table
        self.kg = kg
        self._num_nodes = kg.num_nodes
        self._index = KGIndex(kg)
        self._train = split_parts(kg, split) == TRAIN_PART
        self._cache: dict[tuple[str, str, str], TaskIndex | None] = {}
        self._columns_key: tuple | None = None
        self._columns: sp.csr_matrix | None = None
        self._last_similarities: tuple[tuple, torch.Tensor] | None = None  # (task, queries) -> masked block

    @property
    def settings(self) -> dict:
        out = {
            "k": self.k,
            "sharpness": self.sharpness,
            "similarity": self.similarity,
            "popularity_weight": self.popularity_weight,
        }
        if self.per_task:
            out["per_task"] = self.per_task
        return out

    def vote_setting(self, task: Task) -> tuple[int, float]:
        """``(k, sharpness)`` of ``task``'s vote: its own when set, otherwise the scorer's."""
        chosen = self.per_task.get(task.name)
        return (chosen["k"], chosen["sharpness"]) if chosen else (self.k, self.sharpness)

    def set_vote(self, task_name: str, k: int, sharpness: float) -> None:
        """Use ``k`` neighbours and ``sharpness`` for the task named ``task_name``."""
        k, sharpness = _vote_setting(k, sharpness)
        self.per_task[task_name] = {"k": k, "sharpness": sharpness}

    # ---- what subclasses define ---------------------------------------------------------------
    def _features(self, task: Task, heads: np.ndarray) -> Any:
        raise NotImplementedError

    def _similarities(self, task: Task, index: TaskIndex, query_nodes: np.ndarray) -> torch.Tensor:
        """float32 ``(len(query_nodes), len(index.heads))`` similarities."""
        raise NotImplementedError

    # ---- shared ------------------------------------------------------------------------------
    def _task_index(self, task: Task) -> TaskIndex | None:
        if task.key in self._cache:
            return self._cache[task.key]
        ix = self._index
        mask = ix.task_mask(task) & self._train
        heads, tails = ix.head[mask], ix.tail[mask]
        if self.table is not None:
            has = self.table.has_embedding(heads) & self.table.has_embedding(tails)
            heads, tails = heads[has], tails[has]
        result = None
        if len(heads):
            unique_heads = self._neighbour_pool(task, heads)
            row = np.searchsorted(unique_heads, heads)
            adjacency = sp.csr_matrix(
                (np.ones(len(row), dtype=np.float32), (row, tails)),
                shape=(len(unique_heads), self._num_nodes),
            )
            adjacency.sum_duplicates()
            adjacency.data[:] = 1.0  # repeated triples count once
            degree = np.bincount(tails, minlength=self._num_nodes).astype(np.float32)
            degree /= max(float(degree.max()), 1.0)
            result = TaskIndex(unique_heads, self._features(task, unique_heads), adjacency, degree)
        self._cache[task.key] = result
        return result

    def _neighbour_pool(self, task: Task, heads: np.ndarray) -> np.ndarray:
        """Sorted nodes that may be a query's neighbours; by default the task's training heads ``heads``.
        A pool node that is not a head votes for nothing but still takes one of the ``k`` places."""
        return np.unique(heads)

    def _adjacency_columns(self, task: Task, index: TaskIndex, candidate_nodes: np.ndarray) -> sp.csr_matrix:
        """``adjacency[:, candidate_nodes]``, cached for the last (task, candidate pool): the evaluator asks
        for the same pool chunk after chunk."""
        key = (task.key, np.ascontiguousarray(candidate_nodes).tobytes())
        if self._columns_key != key:
            self._columns = index.adjacency[:, candidate_nodes].tocsr()
            self._columns_key = key
        return self._columns

    def _item_similarities(self, task: Task, index: TaskIndex, items: QueryItems) -> torch.Tensor:
        """float32 ``(len(items), len(index.heads))`` similarities of queries given by their inputs."""
        raise NotApplicableError(f"{self.name} cannot score queries given by their inputs")

    def neighbours(self, task: Task, query_nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(similarities (q, k'), training-head node indices (q, k')) of each query's nearest training heads,
        best first; ``k' = min(k, number of training heads other than the query)``."""
        index = self._task_index(task)
        query_nodes = np.asarray(query_nodes, dtype=np.int64)
        if index is None:
            return np.zeros((len(query_nodes), 0), np.float32), np.zeros((len(query_nodes), 0), np.int64)
        key = (task.key, query_nodes.tobytes())
        last = self._last_similarities  # one tuple, read and replaced whole: safe across threads
        with torch.inference_mode():
            if last is None or last[0] != key:
                sims = self._similarities(task, index, query_nodes)
                last = (key, (sims, self._exclude_self(index, sims, query_nodes)))
                self._last_similarities = last
            return self._nearest(task, index, *last[1], len(query_nodes))

    @staticmethod
    def _exclude_self(index: TaskIndex, sims: torch.Tensor, query_nodes: np.ndarray) -> bool:
        """Set each query's similarity to itself to -inf (a query is never its own neighbour); whether any
        query is a pool node."""
        pos = np.minimum(np.searchsorted(index.heads, query_nodes), len(index.heads) - 1)
        is_head = index.heads[pos] == query_nodes
        if is_head.any():
            rows = torch.from_numpy(np.flatnonzero(is_head))
            sims[rows, torch.from_numpy(pos[is_head])] = -float("inf")
        return bool(is_head.any())

    def _nearest(self, task: Task, index: TaskIndex, sims: torch.Tensor, has_self: bool, n_queries: int):
        """Top-k of ``sims`` (self-similarities already excluded) over the pool, best first."""
        k = min(self.vote_setting(task)[0], len(index.heads) - (1 if has_self else 0))
        if k <= 0:
            return np.zeros((n_queries, 0), np.float32), np.zeros((n_queries, 0), np.int64)
        vals, idx = torch.topk(sims, k, dim=1, largest=True, sorted=True)
        return vals.numpy(), index.heads[idx.numpy()]

    def silent(self, task: Task, query_nodes: np.ndarray) -> np.ndarray:
        """bool per query: no neighbour of positive similarity, so the vote is the popularity tie-break alone
        (for homology-kNN: a protein without any sequence hit among the training proteins)."""
        return _silent(self.neighbours(task, query_nodes)[0], len(query_nodes))

    def silent_items(self, task: Task, items: QueryItems) -> np.ndarray:
        """``silent`` for queries given by their inputs (``QueryItems``)."""
        return _silent(self._item_neighbours(task, self._task_index(task), items)[0], len(items.nodes))

    def score(self, task: Task, query_nodes: np.ndarray, candidate_nodes: np.ndarray) -> np.ndarray:
        query_nodes = np.asarray(query_nodes, dtype=np.int64)
        index = self._task_index(task)
        if index is None:
            return np.zeros((len(query_nodes), len(candidate_nodes)), dtype=np.float32)
        return self._vote(task, index, self.neighbours(task, query_nodes), candidate_nodes)

    def score_items(self, task: Task, items: QueryItems, candidate_nodes: np.ndarray) -> np.ndarray:
        """``score`` for queries given by their inputs (``QueryItems``), with the same vote."""
        index = self._task_index(task)
        if index is None:
            return np.zeros((len(items.nodes), len(candidate_nodes)), dtype=np.float32)
        return self._vote(task, index, self._item_neighbours(task, index, items), candidate_nodes)

    def _item_neighbours(self, task: Task, index: TaskIndex | None, items: QueryItems):
        """``neighbours`` for queries given by their inputs."""
        nodes = np.asarray(items.nodes, np.int64)
        if index is None:
            return np.zeros((len(nodes), 0), np.float32), np.zeros((len(nodes), 0), np.int64)
        with torch.inference_mode():
            sims = self._item_similarities(task, index, items)
            return self._nearest(task, index, sims, self._exclude_self(index, sims, nodes), len(nodes))

    def _vote(self, task: Task, index: TaskIndex, nearest, candidate_nodes: np.ndarray) -> np.ndarray:
        candidate_nodes = np.asarray(candidate_nodes, dtype=np.int64)
        sims, neigh = nearest
        n_q = len(sims)
        weights = np.maximum(sims, 0.0, dtype=np.float32)
        weights[~np.isfinite(weights)] = 0.0
        weights, smallest = _relative_weights(weights, self.vote_setting(task)[1])
        rows = np.searchsorted(index.heads, neigh)  # neighbours are pool nodes: exact positions
        kk = weights.shape[1]
        w = sp.csr_matrix(
            (weights.ravel(), rows.ravel(), np.arange(n_q + 1, dtype=np.int64) * kk),
            shape=(n_q, len(index.heads)),
        )
        votes = (w @ self._adjacency_columns(task, index, candidate_nodes)).toarray()
        votes = votes.astype(np.float32, copy=False)
        if self.popularity_weight:
            votes += (self.popularity_weight * smallest)[:, None] * index.in_degree[candidate_nodes][None, :]
        return votes


def _silent(sims: np.ndarray, n_queries: int) -> np.ndarray:
    if sims.shape[1] == 0:
        return np.ones(n_queries, dtype=bool)
    return ~np.any(np.isfinite(sims) & (sims > 0), axis=1)


def _vote_setting(k, sharpness) -> tuple[int, float]:
    if int(k) != k or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if not np.isfinite(sharpness) or sharpness <= 0:
        raise ValueError(f"sharpness must be a positive number, got {sharpness!r}")
    return int(k), float(sharpness)


def _relative_weights(weights: np.ndarray, sharpness: float) -> tuple[np.ndarray, np.ndarray]:
    """``(w / row max) ** sharpness`` and each row's smallest positive result (1 for rows without any)."""
    best = weights.max(axis=1, keepdims=True) if weights.size else np.zeros((len(weights), 1), np.float32)
    relative = np.divide(weights, best, out=np.zeros_like(weights), where=best > 0)
    if sharpness != 1.0:
        relative **= np.float32(sharpness)
    positive = np.where(relative > 0, relative, np.inf)
    smallest = positive.min(axis=1) if relative.shape[1] else np.full(len(relative), np.inf, np.float32)
    return relative, np.where(np.isfinite(smallest), smallest, 1.0).astype(np.float32)
