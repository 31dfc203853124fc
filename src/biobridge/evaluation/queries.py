"""Queries, gold tails and candidates of a task under a split.

* queries: distinct heads of the task's TEST triples (``split.triple_part == 1``);
* gold tails of a query: all tails of that head under the task's relation and tail type in the FULL KG;
* candidates: nodes of the tail type that take part in the relation (policy ``"relation"``: as head or tail of
  the relation or of its reverse) or all nodes of the tail type (policy ``"all"``).

An optional ``scorable`` mask (one bool per node: the node has an embedding) removes queries and
candidates; every removal is counted in ``TaskQueries.counts``, as are gold tails that are not candidates
and queries left without any gold candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from biobridge.evaluation.tasks import Task
from biobridge.kg.graph import KnowledgeGraph

__all__ = ["CANDIDATE_POLICY_NAMES", "KGIndex", "SplitLike", "TaskQueries", "build_task_queries"]

CANDIDATE_POLICY_NAMES = ("relation", "all")

TEST_PART = 1
TRAIN_PART = 0


class SplitLike(Protocol):
    """What evaluation needs from ``biobridge.kg.split.Split``."""

    protocol: str
    seed: int
    triple_part: np.ndarray  # int8 per kg.triples row: 0 train, 1 test, 2 excluded

    def content_hash(self) -> str: ...


def split_parts(kg: KnowledgeGraph, split: SplitLike) -> np.ndarray:
    part = np.asarray(split.triple_part)
    if part.shape != (len(kg.triples),):
        raise ValueError(
            f"split.triple_part has shape {part.shape} but the KG has {len(kg.triples)} triples: "
            "the split was made for another KG"
        )
    return part


class KGIndex:
    """Integer views of the triple table, computed once and shared by every task of an evaluation."""

    def __init__(self, kg: KnowledgeGraph) -> None:
        self.kg = kg
        triples = kg.triples
        self.head = triples["head"].to_numpy(np.int64)
        self.tail = triples["tail"].to_numpy(np.int64)
        # pandas' hash-based factorize, sorted: the codes np.unique(..., return_inverse=True) gives, faster
        relation_code, relation_names = pd.factorize(triples["relation"], sort=True)
        self.relation_names = [str(x) for x in relation_names]
        self.relation_code = relation_code.astype(np.int32)
        node_type_code, type_names = pd.factorize(kg.nodes["node_type"], sort=True)
        self.type_names = [str(x) for x in type_names]
        self.node_type_code = node_type_code.astype(np.int32)

    def relation_id(self, relation: str) -> int:
        try:
            return self.relation_names.index(relation)
        except ValueError:
            return -1

    def type_id(self, node_type: str) -> int:
        try:
            return self.type_names.index(node_type)
        except ValueError:
            return -1

    def task_mask(self, task: Task) -> np.ndarray:
        rel, ht, tt = (
            self.relation_id(task.relation),
            self.type_id(task.head_type),
            self.type_id(task.tail_type),
        )
        if min(rel, ht, tt) < 0:
            return np.zeros(len(self.head), dtype=bool)
        return (
            (self.relation_code == rel)
            & (self.node_type_code[self.head] == ht)
            & (self.node_type_code[self.tail] == tt)
        )


@dataclass(frozen=True)
class TaskQueries:
    """Queries, candidates and gold of one task. Gold is stored as CSR over candidate positions."""

    task: Task
    candidate_policy: str
    query_nodes: np.ndarray  # int64 (n_queries,), sorted
    candidate_nodes: np.ndarray  # int64 (n_candidates,), sorted
    gold_indptr: np.ndarray  # int64 (n_queries + 1,)
    gold_positions: np.ndarray  # int64 positions into candidate_nodes, sorted within each query
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def n_queries(self) -> int:
        return len(self.query_nodes)

    @property
    def n_candidates(self) -> int:
        return len(self.candidate_nodes)

    @property
    def n_gold_pairs(self) -> int:
        return len(self.gold_positions)

    def gold_mask(self, start: int, stop: int) -> np.ndarray:
        """Dense bool gold mask of queries ``start:stop`` x all candidates, shape (stop - start, n_cand)."""
        stop = min(stop, self.n_queries)
        mask = np.zeros((stop - start, self.n_candidates), dtype=bool)
        lo, hi = self.gold_indptr[start], self.gold_indptr[stop]
        rows = np.repeat(np.arange(stop - start), np.diff(self.gold_indptr[start : stop + 1]))
        mask[rows, self.gold_positions[lo:hi]] = True
        return mask

    def gold_tails(self, i: int) -> np.ndarray:
        """Node indices of the gold candidates of query ``i``."""
        return self.candidate_nodes[self.gold_positions[self.gold_indptr[i] : self.gold_indptr[i + 1]]]


def _check_scorable(kg: KnowledgeGraph, scorable: np.ndarray | None) -> np.ndarray | None:
    if scorable is None:
        return None
    scorable = np.asarray(scorable)
    if scorable.dtype != np.bool_ or scorable.shape != (kg.num_nodes,):
        raise ValueError(f"scorable must be a bool array of length {kg.num_nodes} (one per node)")
    return scorable


def _check_candidate_policy(candidate_policy: str) -> None:
    if candidate_policy not in CANDIDATE_POLICY_NAMES:
        raise ValueError(
            f"candidate_policy must be one of {CANDIDATE_POLICY_NAMES}, got {candidate_policy!r}"
        )


def _policy_candidates(kg: KnowledgeGraph, task: Task, candidate_policy: str) -> np.ndarray:
    """Candidates of ``task`` under the policy, before the ``scorable`` mask."""
    if task.tail_type not in kg.modalities:
        return np.zeros(0, dtype=np.int64)
    if candidate_policy == "all":
        return kg.nodes_of_type(task.tail_type)
    return kg.nodes_in_relation(task.tail_type, task.relation)


def _keep_scorable(nodes: np.ndarray, scorable: np.ndarray | None) -> np.ndarray:
    return nodes[scorable[nodes]] if scorable is not None else nodes


def _gold_pairs(index: KGIndex, in_task: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Distinct (head, tail) pairs, shape (n, 2) sorted, of the task's triples in the full KG whose head is
    one of ``queries``."""
    heads, tails = index.head[in_task], index.tail[in_task]
    keep = np.isin(heads, queries)
    pairs = np.unique(np.stack([heads[keep], tails[keep]], axis=1), axis=0)  # dedupe repeated triples
    if len(pairs) == 0:
        pairs = np.zeros((0, 2), dtype=np.int64)
    return pairs


def _candidate_positions(candidates: np.ndarray, tails: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each tail in the sorted ``candidates``, and whether the tail is a candidate at all."""
    pos = np.searchsorted(candidates, tails)
    pos_clipped = np.minimum(pos, max(len(candidates) - 1, 0))
    is_candidate = (candidates[pos_clipped] == tails) if len(candidates) else np.zeros(len(tails), dtype=bool)
    return pos, is_candidate


def _gold_csr(
    queries: np.ndarray, gold_heads: np.ndarray, gold_pos: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop the queries without a gold candidate; return them with the gold as CSR (indptr, positions)."""
    queries = queries[np.isin(queries, gold_heads)]
    query_row = np.searchsorted(queries, gold_heads)
    order = np.lexsort((gold_pos, query_row))
    gold_positions = gold_pos[order].astype(np.int64)
    gold_indptr = np.zeros(len(queries) + 1, dtype=np.int64)
    np.cumsum(np.bincount(query_row, minlength=len(queries)), out=gold_indptr[1:])
    return queries, gold_indptr, gold_positions


def _counts(
    *,
    n_test_triples: int,
    test_heads: np.ndarray,
    scorable_heads: np.ndarray,
    queries: np.ndarray,
    policy_candidates: np.ndarray,
    candidates: np.ndarray,
    pairs: np.ndarray,
    is_candidate: np.ndarray,
    scorable: np.ndarray | None,
    n_gold_pairs: int,
) -> dict[str, Any]:
    """``TaskQueries.counts``: every removal of a query, candidate or gold pair, counted."""
    return {
        "n_test_triples": n_test_triples,
        "n_test_heads": len(test_heads),
        "n_queries_not_scorable": len(test_heads) - len(scorable_heads),
        "n_queries_without_gold_candidate": len(scorable_heads) - len(queries),
        "n_queries": len(queries),
        "n_candidates_by_policy": len(policy_candidates),
        "n_candidates_not_scorable": len(policy_candidates) - len(candidates),
        "n_candidates": len(candidates),
        "n_gold_pairs_full_kg": len(pairs),
        "n_gold_not_candidate": int((~is_candidate).sum()),
        "n_gold_not_candidate_not_scorable": int((~scorable[pairs[:, 1]]).sum())
        if scorable is not None
        else 0,
        "n_gold_pairs": n_gold_pairs,
    }


def build_task_queries(
    kg: KnowledgeGraph,
    split: SplitLike,
    task: Task,
    candidate_policy: str = "relation",
    scorable: np.ndarray | None = None,
    *,
    index: KGIndex | None = None,
) -> TaskQueries:
    """Build the queries, gold and candidates of ``task`` (see the module docstring for the definitions)."""
    _check_candidate_policy(candidate_policy)
    index = index or KGIndex(kg)
    part = split_parts(kg, split)
    scorable = _check_scorable(kg, scorable)

    in_task = index.task_mask(task)
    test_in_task = in_task & (part == TEST_PART)
    test_heads = np.unique(index.head[test_in_task])
    policy_candidates = _policy_candidates(kg, task, candidate_policy)
    candidates = _keep_scorable(policy_candidates, scorable)
    scorable_heads = _keep_scorable(test_heads, scorable)
    pairs = _gold_pairs(index, in_task, scorable_heads)
    pos, is_candidate = _candidate_positions(candidates, pairs[:, 1])
    queries, gold_indptr, gold_positions = _gold_csr(
        scorable_heads, pairs[is_candidate, 0], pos[is_candidate]
    )
    counts = _counts(
        n_test_triples=int(test_in_task.sum()),
        test_heads=test_heads,
        scorable_heads=scorable_heads,
        queries=queries,
        policy_candidates=policy_candidates,
        candidates=candidates,
        pairs=pairs,
        is_candidate=is_candidate,
        scorable=scorable,
        n_gold_pairs=len(gold_positions),
    )
    return TaskQueries(
        task=task,
        candidate_policy=candidate_policy,
        query_nodes=queries.astype(np.int64),
        candidate_nodes=candidates.astype(np.int64),
        gold_indptr=gold_indptr,
        gold_positions=gold_positions,
        counts=counts,
    )
